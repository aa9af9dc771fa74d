// Package gate turns what the scanner knows about an image into the
// condition keys of pull gates, so that repository, registry and identity
// policies can deny ecr:BatchGetImage (a pull, on /v2/ or the ECR API) of
// images with, say, a HIGH finding or no completed scan:
//
//	{"Effect": "Deny", "Principal": "*", "Action": "ecr:BatchGetImage",
//	 "Condition": {"StringEquals": {"wharf:ImageMaxSeverity": ["HIGH", "CRITICAL"]},
//	               "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/breakglass"}}}
//
// Keys (all computed from the active findings: suppressed ones never count):
//
//   - wharf:ScanStatus: COMPLETE, IN_PROGRESS, PENDING, FAILED,
//     UNSUPPORTED_IMAGE, ... (ECR's scan statuses) or NONE when the image
//     was never scanned. Present for every existing image.
//   - wharf:ImageMaxSeverity: the highest severity among the findings
//     (CRITICAL > HIGH > MEDIUM > LOW > INFORMATIONAL > UNDEFINED), NONE
//     when there are none.
//   - wharf:ImageSeverityScore: the highest CVSS base score (0 when none),
//     for Numeric operators.
//   - wharf:FindingIds: every finding id and alias (multi-valued: use
//     ForAnyValue:StringEquals / StringLike).
//   - wharf:FindingCount/<SEVERITY>: the number of findings of a severity.
//
// The severity keys exist only once a scan has completed (absent keys make
// positive operators false, as in IAM): gate unscanned images with
// wharf:ScanStatus. Facts are looked up only for pulls, and only when a
// policy that applies reads a wharf: key.
package gate

import (
	"slices"
	"strconv"
	"strings"

	"github.com/wharfhq/wharf/internal/policy"
	"github.com/wharfhq/wharf/internal/scan/suppress"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

// Condition keys.
const (
	KeyScanStatus         = "wharf:ScanStatus"
	KeyImageMaxSeverity   = "wharf:ImageMaxSeverity"
	KeyImageSeverityScore = "wharf:ImageSeverityScore"
	KeyFindingIDs         = "wharf:FindingIds"
	KeyFindingCount       = "wharf:FindingCount/" // + severity
)

// KeyService is the prefix of the gate's keys, as policy.UsesKeysOf takes it.
const KeyService = "wharf"

// Scan statuses: ECR's, and NONE for an image never scanned.
const (
	StatusNone       = "NONE"
	StatusComplete   = "COMPLETE"
	StatusInProgress = "IN_PROGRESS"
	StatusPending    = "PENDING"
	StatusFailed     = "FAILED"
)

// SeverityNone is wharf:ImageMaxSeverity of an image without findings.
const SeverityNone = "NONE"

// severities in rising order.
var severities = []string{SeverityNone, vulndb.SeverityUndefined, vulndb.SeverityInformational,
	vulndb.SeverityLow, vulndb.SeverityMedium, vulndb.SeverityHigh, vulndb.SeverityCritical}

// SeverityRank orders severities: NONE 0, UNDEFINED 1, INFORMATIONAL 2,
// LOW 3, MEDIUM 4, HIGH 5, CRITICAL 6; unknown spellings rank as
// UNDEFINED.
func SeverityRank(s string) int {
	if i := slices.Index(severities, strings.ToUpper(s)); i >= 0 {
		return i
	}
	return 1
}

// Facts are what a gate knows of one image.
type Facts struct {
	Digest string
	// Status is the scan status (StatusNone when never scanned).
	Status string
	// Scanned is true when findings of a completed scan are known (a
	// rescan in progress keeps the previous results).
	Scanned bool
	// Findings are the active findings (suppressions applied).
	Findings []vulndb.Finding
	// Suppressed are the findings suppressions took out.
	Suppressed []suppress.Suppressed
}

// MaxSeverity is the highest severity of the active findings (NONE when
// there are none).
func (f *Facts) MaxSeverity() string {
	best := 0
	for _, x := range f.Findings {
		if r := SeverityRank(x.Severity); r > best {
			best = r
		}
	}
	return severities[best]
}

// Keys returns the condition keys of the facts.
func (f *Facts) Keys() policy.Context {
	status := f.Status
	if status == "" {
		status = StatusNone
	}
	c := policy.Context{KeyScanStatus: {status}}
	if f.Scanned {
		keysOf(c, f.Findings)
	}
	return c
}

// keysOf sets the finding-derived keys.
func keysOf(c policy.Context, findings []vulndb.Finding) {
	var counts [7]int
	best, score := 0, 0.0
	var ids []string
	for _, x := range findings {
		r := SeverityRank(x.Severity)
		counts[r]++
		best = max(best, r)
		score = max(score, x.Score)
		ids = appendUnique(ids, x.ID)
		for _, a := range x.Aliases {
			ids = appendUnique(ids, a)
		}
	}
	c[KeyImageMaxSeverity] = []string{severities[best]}
	c[KeyImageSeverityScore] = []string{strconv.FormatFloat(score, 'f', -1, 64)}
	if len(ids) > 0 {
		c[KeyFindingIDs] = ids
	}
	for i, s := range severities[1:] {
		c[KeyFindingCount+s] = []string{strconv.Itoa(counts[i+1])}
	}
}

func appendUnique(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// maxListed bounds the finding ids named in one explanation.
const maxListed = 10

// Explain says why a denying statement blocks the image, for the caller:
// holds reports whether the statement's conditions hold for a variant of
// the keys. The findings named are those that alone would have the image
// blocked (their keys as if each were the image's only finding), grouped by
// severity, highest first; when no single finding does (a gate on the scan
// status, or on a count), the explanation states the facts instead.
func (f *Facts) Explain(holds func(policy.Context) bool) string {
	status := f.Status
	if status == "" {
		status = StatusNone
	}
	var blocking []vulndb.Finding
	if f.Scanned {
		for _, x := range f.Findings {
			c := policy.Context{KeyScanStatus: {status}}
			keysOf(c, []vulndb.Finding{x})
			if holds(c) {
				blocking = append(blocking, x)
			}
		}
	}
	img := "image " + f.Digest
	if len(blocking) == 0 {
		if !f.Scanned || status != StatusComplete {
			return img + " has no completed vulnerability scan (scan status " + status + ")"
		}
		n := len(f.Findings)
		return img + " does not pass the gate (max severity " + f.MaxSeverity() + ", " + strconv.Itoa(n) + " active finding" + plural(n) + ")"
	}
	slices.SortStableFunc(blocking, func(a, b vulndb.Finding) int { return SeverityRank(b.Severity) - SeverityRank(a.Severity) })
	var b strings.Builder
	b.WriteString(img + " has ")
	listed, sev := 0, ""
	var seen []string
	var group []string
	first := true
	flush := func() {
		if len(group) == 0 {
			return
		}
		if !first {
			b.WriteString("; ")
		}
		first = false
		b.WriteString(sev + " finding" + plural(len(group)) + " " + strings.Join(group, ", "))
		group = group[:0]
	}
	more := 0
	for _, x := range blocking {
		if slices.Contains(seen, x.ID) {
			continue
		}
		seen = append(seen, x.ID)
		if listed == maxListed {
			more++
			continue
		}
		s := strings.ToUpper(x.Severity)
		if s != sev {
			flush()
			sev = s
		}
		group = append(group, x.ID)
		listed++
	}
	flush()
	if more > 0 {
		b.WriteString(" and " + strconv.Itoa(more) + " more")
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
