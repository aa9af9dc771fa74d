package suppress

import (
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func finding(id, pkg string, aliases ...string) vulndb.Finding {
	return vulndb.Finding{ID: id, Aliases: aliases, Severity: vulndb.SeverityHigh,
		Package: inventory.Package{Name: pkg, SourceName: pkg + "-src", Version: "1"}}
}

func ids(fs []vulndb.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+"/"+f.Package.Name)
	}
	return strings.Join(out, ",")
}

func TestApply(t *testing.T) {
	const img, other = "sha256:aaaa", "sha256:bbbb"
	findings := []vulndb.Finding{
		finding("CVE-1", "openssl"),
		finding("CVE-1", "curl"),
		finding("DLA-9", "zlib", "CVE-9"),
		finding("CVE-2", "glibc"),
		finding("CVE-3", "bash"),
		finding("CVE-4", "tar"),
	}
	sups := []meta.Suppression{
		{FindingID: "CVE-1", Package: "openssl", Justification: "j", ExpiresAt: now.Add(time.Hour)},
		{FindingID: "cve-9", Justification: "alias, any case", ExpiresAt: now.Add(time.Hour)},
		{FindingID: "CVE-2", Justification: "expired", ExpiresAt: now},
		{FindingID: "CVE-3", Digest: other, Justification: "another image", ExpiresAt: now.Add(time.Hour)},
		{FindingID: "CVE-4", Package: "tar-src", Digest: img, Justification: "source package, this image", ExpiresAt: now.Add(time.Hour)},
	}
	active, suppressed := Apply(findings, sups, img, now)
	if got := ids(active); got != "CVE-1/curl,CVE-2/glibc,CVE-3/bash" {
		t.Errorf("active %s", got)
	}
	var sids []string
	for _, s := range suppressed {
		sids = append(sids, s.Finding.ID+"="+s.Suppression.Justification)
	}
	if got := strings.Join(sids, ","); got != "CVE-1=j,DLA-9=alias, any case,CVE-4=source package, this image" {
		t.Errorf("suppressed %s", got)
	}
	// The expired one applies a moment earlier.
	active, _ = Apply(findings, sups, img, now.Add(-time.Nanosecond))
	if got := ids(active); got != "CVE-1/curl,CVE-3/bash" {
		t.Errorf("active before expiry %s", got)
	}
	// No suppressions: the input, unchanged.
	if a, s := Apply(findings, nil, img, now); len(a) != len(findings) || s != nil {
		t.Error("no suppressions changed the findings")
	}
	// A suppression without expiry (from VEX) applies.
	if a, _ := Apply(findings[:1], []meta.Suppression{{FindingID: "CVE-1", Justification: "vex"}}, img, now); len(a) != 0 {
		t.Error("expiry-less suppression did not apply")
	}
	if !Matches(sups[0], findings[0], img) || Matches(sups[0], findings[1], img) {
		t.Error("Matches")
	}
}

func TestValidate(t *testing.T) {
	ok := meta.Suppression{FindingID: "CVE-2024-1234", Justification: "not reachable: feature disabled", ExpiresAt: now.Add(30 * 24 * time.Hour)}
	if err := Validate(ok, now); err != nil {
		t.Fatalf("valid: %v", err)
	}
	cases := map[string]func(*meta.Suppression){
		"required":        func(s *meta.Suppression) { s.FindingID = "" },
		"invalid finding": func(s *meta.Suppression) { s.FindingID = "CVE 1" },
		"justification":   func(s *meta.Suppression) { s.Justification = "  " },
		"at most":         func(s *meta.Suppression) { s.Justification = strings.Repeat("x", MaxJustification+1) },
		"expiry time is":  func(s *meta.Suppression) { s.ExpiresAt = time.Time{} },
		"not in the":      func(s *meta.Suppression) { s.ExpiresAt = now },
		"a year ahead":    func(s *meta.Suppression) { s.ExpiresAt = now.Add(MaxLifetime + time.Second) },
		"package":         func(s *meta.Suppression) { s.Package = "a\nb" },
	}
	for want, mod := range cases {
		s := ok
		mod(&s)
		err := Validate(s, now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	s := ok
	s.ExpiresAt = now.Add(MaxLifetime)
	if err := Validate(s, now); err != nil {
		t.Errorf("exactly a year: %v", err)
	}
}

func TestPackageURLScope(t *testing.T) {
	f := finding("CVE-7", "openssl")
	f.Package.PURL = "pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12"
	for p, want := range map[string]bool{
		"pkg:deb/debian/openssl":              true,
		"pkg:deb/debian/openssl@3.0.0":        true, // version aside: the suppression is scoped by image
		"pkg:deb/debian/openssl?arch=arm64":   true,
		"pkg:deb/ubuntu/openssl":              false,
		"pkg:deb/debian/openssl-dev@3.0.11-1": false,
		"pkg:golang/golang.org/x/net@v0.17.0": false,
		"openssl":                             true,
		"openssl-src":                         true,
	} {
		s := meta.Suppression{FindingID: "CVE-7", Package: p, Justification: "j"}
		if got := Matches(s, f, ""); got != want {
			t.Errorf("package %q: %v, want %v", p, got, want)
		}
	}
}
