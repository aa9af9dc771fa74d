// Package suppress applies finding suppressions (meta.Suppression): a
// justified, expiring decision that a vulnerability finding does not apply.
// It is pure; the same Apply is used for finding lists, severity summaries
// and pull gates, so the three never disagree about what is suppressed.
package suppress

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// MaxLifetime bounds how far ahead a stored suppression may expire: a
// decision to ignore a vulnerability must be reviewed at least yearly.
const MaxLifetime = 366 * 24 * time.Hour

// Limits of the free-text fields.
const (
	MaxJustification = 2048
	MaxFindingID     = 128
	MaxPackage       = 256
)

// Suppressed is a finding with the suppression that applies to it.
type Suppressed struct {
	Finding     vulndb.Finding
	Suppression meta.Suppression
}

// Apply splits findings into those that count (active) and those a
// suppression applies to, in their original order. A suppression applies
// when it is not expired at now, and names the finding's id or one of its
// aliases (case-insensitively), and its package is empty or the finding's
// package (binary or source name, or package URL), and its digest is empty or digest (the
// image the findings are of; "" matches only digest-less suppressions).
// Account and repository scoping is the caller's: pass the suppressions of
// the image's repository and the registry-wide ones.
func Apply(findings []vulndb.Finding, sups []meta.Suppression, digest string, now time.Time) (active []vulndb.Finding, suppressed []Suppressed) {
	if len(sups) == 0 {
		return findings, nil
	}
	live := make([]*meta.Suppression, 0, len(sups))
	for i := range sups {
		if Active(sups[i], now) {
			live = append(live, &sups[i])
		}
	}
	active = make([]vulndb.Finding, 0, len(findings))
	for _, f := range findings {
		if s := match(f, live, digest); s != nil {
			suppressed = append(suppressed, Suppressed{Finding: f, Suppression: *s})
			continue
		}
		active = append(active, f)
	}
	return active, suppressed
}

// Active reports whether s applies at now: stored suppressions until they
// expire; one with no expiry (derived from an attached VEX document) for as
// long as it is given.
func Active(s meta.Suppression, now time.Time) bool {
	return s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt)
}

// Matches reports whether s applies to f of the image digest, ignoring
// expiry.
func Matches(s meta.Suppression, f vulndb.Finding, digest string) bool {
	return match(f, []*meta.Suppression{&s}, digest) != nil
}

func match(f vulndb.Finding, sups []*meta.Suppression, digest string) *meta.Suppression {
	for _, s := range sups {
		if s.Digest != "" && s.Digest != digest {
			continue
		}
		if s.Package != "" && !packageMatches(s.Package, f) {
			continue
		}
		if strings.EqualFold(s.FindingID, f.ID) {
			return s
		}
		for _, a := range f.Aliases {
			if strings.EqualFold(s.FindingID, a) {
				return s
			}
		}
	}
	return nil
}

// packageMatches: a package name (binary or source), or a package URL
// naming the finding's package (type, namespace and name; version and
// qualifiers aside).
func packageMatches(p string, f vulndb.Finding) bool {
	if p == f.Package.Name || p == f.Package.SourceName {
		return true
	}
	if !strings.HasPrefix(p, "pkg:") || f.Package.PURL == "" {
		return false
	}
	return purlBase(p) == purlBase(f.Package.PURL)
}

// purlBase is pkg:type/namespace/name without version, qualifiers and
// subpath.
func purlBase(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndexByte(p, '@'); i > strings.LastIndexByte(p, '/') {
		p = p[:i]
	}
	return strings.ToLower(p)
}

// Validate checks a suppression a user asks to store, at time now: a
// finding id, a justification, and an expiry in the future at most
// MaxLifetime ahead. Messages are fit for the caller.
func Validate(s meta.Suppression, now time.Time) error {
	switch {
	case strings.TrimSpace(s.FindingID) == "":
		return fmt.Errorf("a finding id (for example CVE-2024-1234) is required")
	case len(s.FindingID) > MaxFindingID || !printable(s.FindingID) || strings.ContainsAny(s.FindingID, " \t"):
		return fmt.Errorf("invalid finding id %q", s.FindingID)
	case strings.TrimSpace(s.Justification) == "":
		return fmt.Errorf("a justification is required")
	case len(s.Justification) > MaxJustification || !utf8.ValidString(s.Justification):
		return fmt.Errorf("the justification must be valid UTF-8 of at most %d bytes", MaxJustification)
	case len(s.Package) > MaxPackage || !printable(s.Package):
		return fmt.Errorf("invalid package name %q", s.Package)
	case s.ExpiresAt.IsZero():
		return fmt.Errorf("an expiry time is required")
	case !s.ExpiresAt.After(now):
		return fmt.Errorf("the expiry time %s is not in the future", s.ExpiresAt.UTC().Format(time.RFC3339))
	case s.ExpiresAt.After(now.Add(MaxLifetime)):
		return fmt.Errorf("the expiry time %s is more than a year ahead", s.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}
