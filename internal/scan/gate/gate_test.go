package gate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

const acct = "111122223333"

type fakeScans struct {
	scans map[string]Scan
	calls atomic.Int64
}

func (f *fakeScans) ImageScan(_ context.Context, account, repo, d string) (Scan, error) {
	f.calls.Add(1)
	if s, ok := f.scans[account+"/"+repo+"@"+d]; ok {
		return s, nil
	}
	return Scan{Status: StatusNone}, nil
}

type fakeSups struct {
	list  []meta.Suppression
	calls atomic.Int64
}

func (f *fakeSups) ListSuppressions(_ context.Context, flt meta.SuppressionFilter) ([]meta.Suppression, error) {
	f.calls.Add(1)
	var out []meta.Suppression
	for _, s := range f.list {
		if s.AccountID == flt.AccountID && (s.Repository == flt.Repository || flt.IncludeRegistryWide && s.Repository == meta.RegistryWide) &&
			(flt.ActiveAt.IsZero() || s.ExpiresAt.After(flt.ActiveAt)) {
			out = append(out, s)
		}
	}
	return out, nil
}

func dg(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestGateFactsSuppressionsAndCache(t *testing.T) {
	ctx := context.Background()
	img := dg("img")
	scans := &fakeScans{scans: map[string]Scan{
		acct + "/team/app@" + img: {Status: StatusComplete, Scanned: true, Findings: []vulndb.Finding{
			fnd("CVE-1", vulndb.SeverityCritical, 9.8), fnd("CVE-2", vulndb.SeverityHigh, 7), fnd("CVE-3", vulndb.SeverityLow, 2)}},
	}}
	clk := &clock{time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	sups := &fakeSups{list: []meta.Suppression{
		{AccountID: acct, Repository: "team/app", FindingID: "CVE-1", Justification: "not reachable", ExpiresAt: clk.t.Add(time.Hour)},
		{AccountID: acct, Repository: meta.RegistryWide, FindingID: "CVE-2", Justification: "registry-wide", ExpiresAt: clk.t.Add(2 * time.Hour)},
		{AccountID: "999999999999", Repository: "team/app", FindingID: "CVE-3", Justification: "other account", ExpiresAt: clk.t.Add(time.Hour)},
	}}
	g := &Gate{Scans: scans, Suppressions: sups, Now: clk.now}
	f, err := g.Facts(ctx, acct, "team/app", Manifest{Digest: img, MediaType: manifest.OCIManifest})
	if err != nil {
		t.Fatal(err)
	}
	if f.MaxSeverity() != "LOW" || len(f.Findings) != 1 || len(f.Suppressed) != 2 || f.Status != StatusComplete {
		t.Fatalf("facts %+v", f)
	}
	// Cached: no new lookups within the TTL.
	if _, err := g.Facts(ctx, acct, "team/app", Manifest{Digest: img, MediaType: manifest.OCIManifest}); err != nil {
		t.Fatal(err)
	}
	if scans.calls.Load() != 1 || sups.calls.Load() != 1 {
		t.Fatalf("lookups: %d scans, %d suppressions", scans.calls.Load(), sups.calls.Load())
	}
	// Forget drops the cache at once (a local change).
	g.Forget(acct, "team/app")
	if _, err := g.Facts(ctx, acct, "team/app", Manifest{Digest: img}); err != nil || scans.calls.Load() != 2 {
		t.Fatalf("after Forget: %v, %d scans", err, scans.calls.Load())
	}
	// The first suppression expires: CVE-1 counts again once the cache does.
	clk.t = clk.t.Add(time.Hour + 3*time.Second)
	f, err = g.Facts(ctx, acct, "team/app", Manifest{Digest: img})
	if err != nil {
		t.Fatal(err)
	}
	if f.MaxSeverity() != "CRITICAL" || len(f.Suppressed) != 1 {
		t.Fatalf("after expiry %+v", f)
	}
	// Apply (for finding lists and summaries) agrees.
	active, suppressed, err := g.Apply(ctx, acct, "team/app", img, scans.scans[acct+"/team/app@"+img].Findings)
	if err != nil || len(active) != 2 || len(suppressed) != 1 || suppressed[0].Finding.ID != "CVE-2" {
		t.Fatalf("Apply: %v %v %v", active, suppressed, err)
	}
	// An image never scanned.
	f, err = g.Facts(ctx, acct, "team/app", Manifest{Digest: dg("other")})
	if err != nil || f.Status != StatusNone || f.Scanned {
		t.Fatalf("unscanned %+v %v", f, err)
	}
}

func index(children ...string) []byte {
	var parts []string
	for i, c := range children {
		plat := `{"os":"linux","architecture":"amd64"}`
		if i == len(children)-1 {
			plat = `{"os":"unknown","architecture":"unknown"}` // a buildx attestation
		}
		parts = append(parts, `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+c+`","size":100,"platform":`+plat+`}`)
	}
	return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.Join(parts, ",") + `]}`)
}

func TestGateIndexAggregates(t *testing.T) {
	ctx := context.Background()
	amd, arm, att := dg("amd64"), dg("arm64"), dg("attestation")
	idx := dg("index")
	scans := &fakeScans{scans: map[string]Scan{
		acct + "/team/app@" + amd: {Status: StatusComplete, Scanned: true, Findings: []vulndb.Finding{fnd("CVE-1", vulndb.SeverityHigh, 7)}},
		acct + "/team/app@" + arm: {Status: StatusInProgress},
		acct + "/team/app@" + att: {Status: StatusFailed},
	}}
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	sups := &fakeSups{list: []meta.Suppression{
		// Scoped to the index digest: applies to its children.
		{AccountID: acct, Repository: "team/app", FindingID: "CVE-1", Digest: idx, Justification: "j", ExpiresAt: now.Add(time.Hour)},
	}}
	g := &Gate{Scans: scans, Now: func() time.Time { return now }}
	m := Manifest{Digest: idx, MediaType: manifest.OCIIndex, Content: index(amd, arm, att)}
	f, err := g.Facts(ctx, acct, "team/app", m)
	if err != nil {
		t.Fatal(err)
	}
	// The attestation's FAILED status does not count; arm64 is in progress.
	if f.Status != StatusInProgress || !f.Scanned || f.MaxSeverity() != "HIGH" || f.Digest != idx {
		t.Fatalf("index facts %+v", f)
	}
	g = &Gate{Scans: scans, Suppressions: sups, Now: func() time.Time { return now }}
	f, err = g.Facts(ctx, acct, "team/app", m)
	if err != nil || f.MaxSeverity() != "NONE" || len(f.Suppressed) != 1 {
		t.Fatalf("index-scoped suppression: %+v %v", f, err)
	}
}

// TestRegistryVEX attaches an OpenVEX document to an image as a referrer
// in a real registry core and reads it back as suppressions.
func TestRegistryVEX(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ms, err := sqlstore.OpenSQLiteWith(ctx, filepath.Join(dir, "meta.db"), sqlstore.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	if err := ms.CreateAccount(ctx, meta.Account{ID: acct, Name: "t"}); err != nil {
		t.Fatal(err)
	}
	bs, err := fs.NewWithOptions(dir, fs.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(ms, bs, registry.Options{CreateOnPush: true})
	repo, err := reg.Repository(ctx, acct, "team/app", true)
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) string {
		d := digest.FromBytes(b)
		if _, err := reg.PutBlob(ctx, repo, d, int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		return string(d)
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("layer")
	imgManifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		put(cfg), len(cfg), put(layer), len(layer)))
	res, err := reg.PutManifest(ctx, repo, names.Reference{Tag: "v1"}, manifest.OCIManifest, imgManifest, registry.Actor{Principal: "t", Via: "test"})
	if err != nil {
		t.Fatal(err)
	}
	img := string(res.Digest)
	vexDoc := []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"sec","timestamp":"2026-01-01T00:00:00Z","version":1,
"statements":[{"vulnerability":{"name":"CVE-2024-1"},"products":[{"@id":"pkg:oci/app@` + strings.Replace(img, ":", "%3A", 1) + `"}],"status":"not_affected","justification":"component_not_present"}]}`)
	junk := []byte(`{"not":"vex"}`)
	empty := []byte("{}")
	// As `oras attach` writes it: an artifact manifest with an empty config.
	attach := func(artifactType string, docs ...[]byte) {
		var layers []string
		for _, d := range docs {
			layers = append(layers, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, put(d), len(d)))
		}
		m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"%s","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[%s],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}}`,
			artifactType, put(empty), strings.Join(layers, ","), img, len(imgManifest)))
		d := digest.FromBytes(m)
		if _, err := reg.PutManifest(ctx, repo, names.Reference{Digest: d}, manifest.OCIManifest, m, registry.Actor{Principal: "t", Via: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	attach(sbomArtifactType, vexDoc) // not a VEX referrer: ignored
	attach("application/vnd.openvex+json", junk, vexDoc)
	v := &RegistryVEX{Registry: reg}
	sups, err := v.VEXSuppressions(ctx, acct, "team/app", img)
	if err != nil {
		t.Fatal(err)
	}
	if len(sups) != 1 || sups[0].FindingID != "CVE-2024-1" || sups[0].Digest != img || !strings.HasPrefix(sups[0].CreatedBy, "openvex:sha256:") {
		t.Fatalf("suppressions %+v", sups)
	}
	// Through the gate.
	scans := &fakeScans{scans: map[string]Scan{acct + "/team/app@" + img: {Status: StatusComplete, Scanned: true,
		Findings: []vulndb.Finding{fnd("CVE-2024-1", vulndb.SeverityCritical, 9)}}}}
	g := &Gate{Scans: scans, VEX: v}
	f, err := g.Facts(ctx, acct, "team/app", Manifest{Digest: img, MediaType: manifest.OCIManifest})
	if err != nil || f.MaxSeverity() != "NONE" || len(f.Suppressed) != 1 || !strings.Contains(f.Suppressed[0].Suppression.Justification, "component_not_present") {
		t.Fatalf("gate with VEX: %+v %v", f, err)
	}
	// Unknown repository: nothing, no error.
	if s, err := v.VEXSuppressions(ctx, acct, "team/none", img); err != nil || s != nil {
		t.Fatalf("unknown repository: %v %v", s, err)
	}
}

const sbomArtifactType = "application/vnd.cyclonedx+json"

func TestSummary(t *testing.T) {
	ctx := context.Background()
	img := dg("img")
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	findings := []vulndb.Finding{fnd("CVE-1", vulndb.SeverityCritical, 9.8), fnd("CVE-2", vulndb.SeverityHigh, 7), fnd("CVE-3", vulndb.SeverityHigh, 7)}
	loads := 0
	load := func(context.Context) ([]vulndb.Finding, error) { loads++; return findings, nil }
	counts := Counts(findings)
	if counts["CRITICAL"] != 1 || counts["HIGH"] != 2 || len(counts) != 2 {
		t.Fatalf("counts %v", counts)
	}
	// No suppressions: the stored counts, nothing decoded.
	g := &Gate{Suppressions: &fakeSups{}, Now: func() time.Time { return now }}
	got, err := g.Summary(ctx, acct, "team/app", img, counts, load)
	if err != nil || got["HIGH"] != 2 || loads != 0 {
		t.Fatalf("no suppressions: %v %v, %d loads", got, err, loads)
	}
	// No findings: nothing to suppress.
	g = &Gate{Suppressions: &fakeSups{list: []meta.Suppression{{AccountID: acct, Repository: "team/app", FindingID: "CVE-2", Justification: "j", ExpiresAt: now.Add(time.Hour)}}},
		Now: func() time.Time { return now }}
	if got, err := g.Summary(ctx, acct, "team/app", img, map[string]int{}, load); err != nil || len(got) != 0 || loads != 0 {
		t.Fatalf("no findings: %v %v %d", got, err, loads)
	}
	got, err = g.Summary(ctx, acct, "team/app", img, counts, load)
	if err != nil || got["HIGH"] != 1 || got["CRITICAL"] != 1 || loads != 1 {
		t.Fatalf("suppressed: %v %v, %d loads", got, err, loads)
	}
}

type fakeIndexes map[string][]Manifest

func (f fakeIndexes) IndexesOf(_ context.Context, _, _, d string) ([]Manifest, error) {
	return f[d], nil
}

// The scanner scans an index as a whole: its scan decides for the index,
// and covers each platform image (by the findings' platforms) when the
// image has no scan of its own.
func TestGateIndexScanCoversPlatforms(t *testing.T) {
	ctx := context.Background()
	amd, arm := dg("amd64"), dg("arm64")
	idx := dg("index")
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + amd + `","size":1,"platform":{"os":"linux","architecture":"amd64"}},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + arm + `","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}`)
	index := Manifest{Digest: idx, MediaType: manifest.OCIIndex, Content: body}
	scans := &fakeScans{scans: map[string]Scan{
		acct + "/team/app@" + idx: {Status: StatusComplete, Scanned: true,
			Findings:  []vulndb.Finding{fnd("CVE-1", vulndb.SeverityCritical, 9.8), fnd("CVE-2", vulndb.SeverityLow, 2), fnd("CVE-3", vulndb.SeverityHigh, 7)},
			Platforms: [][]string{{"linux/amd64"}, {"linux/amd64", "linux/arm64"}, nil}},
	}}
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	g := &Gate{Scans: scans, Indexes: fakeIndexes{amd: {index}, arm: {index}}, CacheTTL: -1, Now: func() time.Time { return now },
		Suppressions: &fakeSups{list: []meta.Suppression{{AccountID: acct, Repository: "team/app", FindingID: "CVE-3", Digest: arm, Justification: "arm64 only", ExpiresAt: now.Add(time.Hour)}}}}

	f, err := g.Facts(ctx, acct, "team/app", index)
	if err != nil || f.Status != StatusComplete || f.MaxSeverity() != "CRITICAL" || len(f.Findings) != 3 {
		t.Fatalf("index: %+v %v", f, err)
	}
	f, err = g.Facts(ctx, acct, "team/app", Manifest{Digest: amd, MediaType: manifest.OCIManifest})
	if err != nil || f.Status != StatusComplete || f.Digest != amd || len(f.Findings) != 3 || f.MaxSeverity() != "CRITICAL" {
		t.Fatalf("amd64: %+v %v", f, err)
	}
	// arm64: not CVE-1 (amd64 only); CVE-3 (platform unknown) counts but is
	// suppressed for this image.
	f, err = g.Facts(ctx, acct, "team/app", Manifest{Digest: arm, MediaType: manifest.OCIManifest})
	if err != nil || f.Status != StatusComplete || len(f.Findings) != 1 || f.Findings[0].ID != "CVE-2" || len(f.Suppressed) != 1 {
		t.Fatalf("arm64: %+v %v", f, err)
	}
	// An image in no scanned index stays unscanned.
	f, err = g.Facts(ctx, acct, "team/app", Manifest{Digest: dg("lone"), MediaType: manifest.OCIManifest})
	if err != nil || f.Status != StatusNone {
		t.Fatalf("lone: %+v %v", f, err)
	}
	if !onPlatform("linux/arm64", []string{"linux/arm64/v8"}) || onPlatform("linux/arm64/v7", []string{"linux/arm64/v8"}) || onPlatform("linux/amd64", []string{"linux/arm64"}) {
		t.Error("onPlatform")
	}
}
