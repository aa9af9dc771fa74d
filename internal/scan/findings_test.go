package scan

import (
	"slices"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

func vf(id, pkg, version, sev string) vulndb.Finding {
	return vulndb.Finding{ID: id, Severity: sev, Summary: id + " summary",
		Package: inventory.Package{Name: pkg, Version: version, Ecosystem: "Debian", Kind: inventory.KindOS}}
}

func keysOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+"/"+f.Package.Name+"/"+f.Status)
	}
	return out
}

func TestMergeHistory(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	t1, t2, t3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)

	// First scan: everything new; the new CRITICAL is reported once.
	ms := newMatchSet([]string{"linux/amd64"}, [][]vulndb.Finding{{
		vf("CVE-1", "openssl", "3.0.1", vulndb.SeverityCritical),
		vf("CVE-2", "zlib", "1.2", vulndb.SeverityLow),
		vf("CVE-1", "libssl3", "3.0.1", vulndb.SeverityCritical),
	}})
	m0 := merge(nil, ms, t0)
	if !m0.changed || !slices.Equal(m0.newCritical, []string{"CVE-1"}) {
		t.Fatalf("first merge: changed=%v newCritical=%v", m0.changed, m0.newCritical)
	}
	if got := keysOf(m0.findings); !slices.Equal(got, []string{"CVE-1/libssl3/ACTIVE", "CVE-1/openssl/ACTIVE", "CVE-2/zlib/ACTIVE"}) {
		t.Fatalf("order %v", got)
	}
	for _, f := range m0.findings {
		if !f.FirstObservedAt.Equal(t0) || !f.UpdatedAt.Equal(t0) || !slices.Equal(f.Platforms, []string{"linux/amd64"}) {
			t.Fatalf("first finding %+v", f)
		}
	}
	if c := ms.counts(); c[vulndb.SeverityCritical] != 2 || c[vulndb.SeverityLow] != 1 || len(c) != 2 {
		t.Fatalf("counts %v", c)
	}

	// The same match again: nothing changes but the observation.
	ms1 := newMatchSet([]string{"linux/amd64"}, [][]vulndb.Finding{{
		vf("CVE-2", "zlib", "1.2", vulndb.SeverityLow),
		vf("CVE-1", "libssl3", "3.0.1", vulndb.SeverityCritical),
		vf("CVE-1", "openssl", "3.0.1", vulndb.SeverityCritical),
	}})
	if ms1.hash() != ms.hash() {
		t.Fatal("the same findings in another order hash differently")
	}
	m1 := merge(m0.findings, ms1, t1)
	if m1.changed || len(m1.newCritical) != 0 {
		t.Fatalf("unchanged merge: changed=%v newCritical=%v", m1.changed, m1.newCritical)
	}
	for _, f := range m1.findings {
		if !f.FirstObservedAt.Equal(t0) || !f.UpdatedAt.Equal(t0) || !f.LastObservedAt.Equal(t1) {
			t.Fatalf("unchanged finding %+v", f)
		}
	}

	// zlib fixed, CVE-2 re-rated HIGH on nothing (gone), a new HIGH and a
	// severity change of CVE-1 on openssl.
	up := vf("CVE-1", "openssl", "3.0.1", vulndb.SeverityCritical)
	up.Summary = "corrected"
	ms2 := newMatchSet([]string{"linux/amd64"}, [][]vulndb.Finding{{
		up,
		vf("CVE-1", "libssl3", "3.0.1", vulndb.SeverityCritical),
		vf("CVE-3", "curl", "8.0", vulndb.SeverityHigh),
	}})
	if ms2.hash() == ms1.hash() {
		t.Fatal("different findings hash the same")
	}
	m2 := merge(m1.findings, ms2, t2)
	if !m2.changed || len(m2.newCritical) != 0 {
		t.Fatalf("second merge: changed=%v newCritical=%v", m2.changed, m2.newCritical)
	}
	if got := keysOf(m2.findings); !slices.Equal(got, []string{"CVE-1/libssl3/ACTIVE", "CVE-1/openssl/ACTIVE", "CVE-3/curl/ACTIVE", "CVE-2/zlib/CLOSED"}) {
		t.Fatalf("after change %v", got)
	}
	byKey := map[string]Finding{}
	for _, f := range m2.findings {
		byKey[f.ID+"/"+f.Package.Name] = f
	}
	if f := byKey["CVE-1/openssl"]; !f.FirstObservedAt.Equal(t0) || !f.UpdatedAt.Equal(t2) || f.Summary != "corrected" {
		t.Fatalf("updated finding %+v", f)
	}
	if f := byKey["CVE-1/libssl3"]; !f.UpdatedAt.Equal(t0) {
		t.Fatalf("untouched finding %+v", f)
	}
	if f := byKey["CVE-2/zlib"]; f.Status != StatusClosed || !f.LastObservedAt.Equal(t1) || !f.UpdatedAt.Equal(t2) || !f.FirstObservedAt.Equal(t0) {
		t.Fatalf("closed finding %+v", f)
	}
	if f := byKey["CVE-3/curl"]; !f.FirstObservedAt.Equal(t2) {
		t.Fatalf("new finding %+v", f)
	}

	// zlib comes back: reopened with its first observation, not new.
	ms3 := newMatchSet([]string{"linux/amd64"}, [][]vulndb.Finding{{vf("CVE-2", "zlib", "1.2", vulndb.SeverityCritical)}})
	m3 := merge(m2.findings, ms3, t3)
	if f := m3.findings[0]; f.ID != "CVE-2" || f.Status != StatusActive || !f.FirstObservedAt.Equal(t0) || !f.UpdatedAt.Equal(t3) {
		t.Fatalf("reopened %+v", f)
	}
	if len(m3.newCritical) != 0 {
		t.Fatalf("a reopened finding counted as new: %v", m3.newCritical)
	}

	// CLOSED findings are forgotten after the retention.
	m4 := merge(m3.findings, newMatchSet(nil, nil), t3.Add(time.Minute))
	m5 := merge(m4.findings, newMatchSet(nil, nil), t3.Add(closedRetention+2*time.Minute))
	if len(m4.findings) != 4 || len(m5.findings) != 0 {
		t.Fatalf("retention: %d then %d findings", len(m4.findings), len(m5.findings))
	}
}

func TestMatchSetUnionOfPlatforms(t *testing.T) {
	ms := newMatchSet([]string{"linux/amd64", "linux/arm64"}, [][]vulndb.Finding{
		{vf("CVE-1", "openssl", "3.0.1", vulndb.SeverityHigh), vf("CVE-2", "zlib", "1.2", "MODERATE")},
		{vf("CVE-1", "openssl", "3.0.1", vulndb.SeverityHigh), vf("CVE-1", "openssl", "3.0.2", vulndb.SeverityHigh)},
	})
	if len(ms.keys) != 3 {
		t.Fatalf("keys %q", ms.keys)
	}
	for _, k := range ms.keys {
		f := ms.byKey[k]
		switch {
		case f.Package.Version == "3.0.1":
			if !slices.Equal(f.Platforms, []string{"linux/amd64", "linux/arm64"}) {
				t.Fatalf("union platforms %v", f.Platforms)
			}
		case f.Package.Version == "3.0.2":
			if !slices.Equal(f.Platforms, []string{"linux/arm64"}) {
				t.Fatalf("arm64-only platforms %v", f.Platforms)
			}
		case f.ID == "CVE-2":
			if f.Severity != vulndb.SeverityUndefined {
				t.Fatalf("a severity outside ECR's set kept: %q", f.Severity)
			}
		}
	}
}

func TestFindingsEncoding(t *testing.T) {
	m := merge(nil, newMatchSet([]string{"linux/amd64"}, [][]vulndb.Finding{{vf("CVE-1", "openssl", "3", vulndb.SeverityHigh)}}), time.Unix(100, 0).UTC())
	b, err := encodeFindings(m.findings)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeFindings(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "CVE-1" || got[0].Package.Name != "openssl" || !got[0].FirstObservedAt.Equal(time.Unix(100, 0)) || got[0].Status != StatusActive {
		t.Fatalf("round trip %+v", got)
	}
	if _, err := decodeFindings([]byte("not gzip")); err == nil {
		t.Fatal("garbage decoded")
	}
	if fs, err := decodeFindings(nil); err != nil || fs != nil {
		t.Fatal("no findings")
	}
}
