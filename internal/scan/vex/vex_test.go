package vex

import (
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

const (
	digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	hexd   = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
)

var img = Image{AccountID: "111122223333", Repository: "team/app", Digest: digest}

// docV2 is a v0.2.0 document as vexctl writes it.
var docV2 = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "Security Team <sec@example.com>",
  "timestamp": "2026-01-10T10:00:00Z",
  "version": 1,
  "statements": [
    {"vulnerability": {"name": "CVE-2024-1", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
     "products": [{"@id": "pkg:oci/app@sha256%3A` + hexd + `?repository_url=registry.example.com/team/app"}],
     "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
     "impact_statement": "the TLS client is never used"},
    {"vulnerability": {"name": "CVE-2024-2"},
     "products": [{"@id": "pkg:oci/app@sha256%3A` + hexd + `",
       "subcomponents": [{"@id": "pkg:deb/debian/openssl@3.0.11-1?arch=amd64"}, {"@id": "zlib"}]}],
     "status": "fixed", "action_statement": "backported"},
    {"vulnerability": {"name": "CVE-2024-3"},
     "products": [{"@id": "pkg:oci/app@sha256%3A` + strings.Repeat("b", 64) + `"}],
     "status": "not_affected", "justification": "component_not_present"},
    {"vulnerability": {"name": "CVE-2024-4"}, "products": [{"@id": "` + digest + `"}], "status": "affected"},
    {"vulnerability": {"name": "CVE-2024-5"}, "products": [{"@id": "pkg:oci/app"}], "status": "not_affected",
     "justification": "inline_mitigations_already_exist", "timestamp": "2026-01-01T00:00:00Z"},
    {"vulnerability": {"name": "CVE-2024-5"}, "products": [{"@id": "pkg:oci/app"}], "status": "affected",
     "timestamp": "2026-01-05T00:00:00Z"},
    {"vulnerability": {"name": "CVE-2024-6"}, "products": [{"@id": "x", "hashes": {"sha-256": "` + strings.ToUpper(hexd) + `"}}],
     "status": "under_investigation"},
    {"vulnerability": {"name": "CVE-2024-7"}, "products": [{"@id": "x", "hashes": {"sha-256": "` + hexd + `"}}],
     "status": "not_affected", "justification": "component_not_present"},
    {"vulnerability": {"name": "CVE-2024-8"}, "products": [{"@id": "pkg:oci/other"}], "status": "not_affected"}
  ]
}`

func TestSuppressionsFromV2(t *testing.T) {
	d, err := Parse([]byte(docV2))
	if err != nil {
		t.Fatal(err)
	}
	sups := d.Suppressions(img, "openvex:sha256:feed")
	var got []string
	for _, s := range sups {
		got = append(got, s.FindingID+"|"+s.Package)
		if s.Digest != digest || s.AccountID != img.AccountID || s.Repository != img.Repository || !s.ExpiresAt.IsZero() {
			t.Errorf("scope of %+v", s)
		}
		if s.CreatedBy != "openvex:sha256:feed (Security Team <sec@example.com>)" {
			t.Errorf("created by %q", s.CreatedBy)
		}
	}
	want := []string{"CVE-2024-1|", "GHSA-aaaa-bbbb-cccc|", "CVE-2024-2|pkg:deb/debian/openssl@3.0.11-1?arch=amd64", "CVE-2024-2|zlib", "CVE-2024-7|"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("suppressions\n got %q\nwant %q", got, want)
	}
	if j := sups[0].Justification; j != "OpenVEX not_affected (vulnerable_code_not_in_execute_path): the TLS client is never used" {
		t.Errorf("justification %q", j)
	}
	if j := sups[2].Justification; j != "OpenVEX fixed: backported" {
		t.Errorf("justification %q", j)
	}
	if !sups[0].CreatedAt.Equal(time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("created at %v", sups[0].CreatedAt)
	}
}

func TestLaterStatementWins(t *testing.T) {
	// Same time: document order decides; not_affected after affected suppresses.
	d, err := Parse([]byte(`{"@context":"https://openvex.dev/ns/v0.2.0","timestamp":"2026-01-01T00:00:00Z","statements":[
		{"vulnerability":{"name":"CVE-1"},"products":["` + digest + `"],"status":"affected"},
		{"vulnerability":{"name":"cve-1"},"products":["` + digest + `"],"status":"not_affected","justification":"component_not_present"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Suppressions(img, "x"); len(s) != 1 || s[0].FindingID != "cve-1" {
		t.Fatalf("got %+v", s)
	}
}

func TestV001Form(t *testing.T) {
	// v0.0.1: vulnerability and products as strings.
	d, err := Parse([]byte(`{"@context":"https://openvex.dev/ns","@id":"x","author":"a","timestamp":"2023-01-01T00:00:00Z","version":"1",
		"statements":[{"vulnerability":"CVE-2023-9","products":["pkg:oci/app@` + digest + `"],"status":"fixed"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Suppressions(img, "x"); len(s) != 1 || s[0].FindingID != "CVE-2023-9" {
		t.Fatalf("got %+v", s)
	}
}

func TestParseErrors(t *testing.T) {
	for want, doc := range map[string]string{
		"not an OpenVEX":   `{"@context":"https://example.com","statements":[]}`,
		"no vulnerability": `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{},"products":["x"],"status":"fixed"}]}`,
		"no products":      `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","status":"fixed"}]}`,
		"unknown status":   `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","products":["x"],"status":"ok"}]}`,
		"vex:":             `{"@context":`,
		"exceeds":          `{"@context":"https://openvex.dev/ns","x":"` + strings.Repeat("a", MaxDocumentBytes) + `"}`,
		"cannot unmarshal": `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":7,"products":["x"],"status":"fixed"}]}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(docV2))
	f.Add([]byte(`{"@context":"https://openvex.dev/ns","statements":[{"vulnerability":"CVE-1","products":["pkg:oci/app"],"status":"fixed"}]}`))
	f.Add([]byte(`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"A","aliases":["B"]},"products":[{"@id":"pkg:oci/app@x","subcomponents":[{"@id":"pkg:"}]}],"status":"not_affected"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			return
		}
		for _, s := range d.Suppressions(img, "fuzz") {
			if s.FindingID == "" || s.Digest != digest || s.Justification == "" {
				t.Fatalf("bad suppression %+v", s)
			}
			var _ meta.Suppression = s
		}
	})
}
