package scan_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/jobs"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// fixture is a Debian image built from this machine, with the advisories
// that concern it.
type fixture struct {
	release string
	// affected, fixedEq and later are lone packages of the status file:
	// the first has an advisory fixed above its version (reported), the
	// second one fixed at its version (not reported), the third gets an
	// advisory only in a later import.
	affected, fixedEq, later dpkgPackage
	goVersion                string
	rootfs, gobin            []byte // layers
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	osRelease := hostFile(t, "/etc/os-release")
	status := hostFile(t, "/var/lib/dpkg/status")
	f := fixture{release: debianRelease(t, osRelease)}
	lone := lonePackages(parseStatus(status))
	if len(lone) < 3 {
		t.Skipf("the dpkg status has only %d packages that are their own source", len(lone))
	}
	f.affected, f.fixedEq, f.later = lone[0], lone[1], lone[2]
	f.goVersion = goVersion(t)
	f.rootfs = tarGz(t, map[string][]byte{
		"etc/os-release":       osRelease,
		"var/lib/dpkg/status":  status,
		"usr/share/doc/README": []byte("an image built by the scan tests\n"),
	})
	f.gobin = tarGz(t, map[string][]byte{"usr/local/bin/hello": buildGoBinary(t)})
	return f
}

func (f fixture) eco() string { return "Debian:" + f.release }

// advisories are the first import: one advisory on each of affected
// (fixed above it: HIGH), fixedEq (fixed at it: not reported) and Go's
// standard library (fixed in a future release: CRITICAL).
func (f fixture) advisories(at time.Time) []advisory {
	return []advisory{
		{ID: "DEBIAN-CVE-2026-0001", Ecosystem: f.eco(), Package: f.affected.Name, Fixed: f.affected.Version + "+wharf1", Vector: cvssHigh, Modified: at},
		{ID: "DEBIAN-CVE-2026-0002", Ecosystem: f.eco(), Package: f.fixedEq.Name, Fixed: f.fixedEq.Version, Vector: cvssCritical, Modified: at},
		{ID: "GO-2026-0003", Ecosystem: "Go", Package: "stdlib", Fixed: "99.0.0", Vector: cvssCritical, Modified: at},
	}
}

// runJobs runs the due jobs of kinds with the scan handlers.
func (e *env) runJobs(t *testing.T, kinds ...string) int {
	t.Helper()
	r := &jobs.Runner{Store: e.meta, Worker: "test"}
	r.Handle(scan.KindScan, e.svc.HandleScan)
	r.Handle(scan.KindRescan, e.svc.HandleRescan)
	r.Handle(scan.KindPrune, e.svc.HandlePrune)
	n := 0
	for i := 0; i < 100; i++ {
		ran, err := r.RunOnce(context.Background(), kinds)
		if err != nil {
			t.Fatal(err)
		}
		if !ran {
			return n
		}
		n++
	}
	t.Fatal("jobs keep coming")
	return n
}

func (e *env) report(t *testing.T, r meta.Repository, d string) *scan.Report {
	t.Helper()
	rep, err := scan.GetReport(context.Background(), e.meta, r.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// lines renders findings as "ID package version severity fixed status".
func lines(fs []scan.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s %s %s %s", f.ID, f.Package.Name, f.Package.Version, f.Severity, f.FixedVersion, f.Status))
	}
	return out
}

func wantLines(t *testing.T, what string, got []scan.Finding, want ...string) {
	t.Helper()
	if g := lines(got); !slices.Equal(g, want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, g, want)
	}
}

func audit(t *testing.T, e *env, action, d string) []meta.AuditEvent {
	t.Helper()
	evs, err := e.meta.ListAudit(context.Background(), meta.AuditFilter{Action: action, Digest: d})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestScanOnPushFindings(t *testing.T) {
	f := newFixture(t)
	e := newEnv(t)
	ctx := context.Background()
	t0 := e.now
	e.importAdvisories(t, "one", f.advisories(t0.Add(-time.Hour))...)

	r := e.repo(t, "team/app", true)
	m := e.putImage(t, r, "v1", "linux/amd64", f.rootfs, f.gobin)
	d := string(digest.FromBytes(m))

	// The push queued the scan; nothing ran it yet.
	rep := e.report(t, r, d)
	if rep.Status != meta.ScanInProgress || !rep.CompletedAt.IsZero() || len(rep.Findings) != 0 {
		t.Fatalf("after push: %+v", rep)
	}
	if n := e.runJobs(t, scan.KindScan); n != 1 {
		t.Fatalf("ran %d scan jobs", n)
	}
	rep = e.report(t, r, d)
	if rep.Status != meta.ScanComplete || !rep.CompletedAt.Equal(t0) || rep.SourceUpdatedAt.IsZero() {
		t.Fatalf("after scan: %+v", rep)
	}
	// Exactly: the Go standard library (CRITICAL) and the Debian package
	// fixed above its version (HIGH); not the one fixed at its version.
	wantLines(t, "findings", rep.Findings,
		"GO-2026-0003 stdlib "+f.goVersion+" CRITICAL 99.0.0 ACTIVE",
		"DEBIAN-CVE-2026-0001 "+f.affected.Name+" "+f.affected.Version+" HIGH "+f.affected.Version+"+wharf1 ACTIVE")
	if len(rep.Counts) != 2 || rep.Counts["CRITICAL"] != 1 || rep.Counts["HIGH"] != 1 {
		t.Fatalf("counts %v", rep.Counts)
	}
	for _, fd := range rep.Findings {
		if !fd.FirstObservedAt.Equal(t0) || !fd.LastObservedAt.Equal(t0) || !slices.Equal(fd.Platforms, []string{"linux/amd64"}) {
			t.Fatalf("finding history %+v", fd)
		}
		if fd.ID == "DEBIAN-CVE-2026-0001" && (fd.Vector != cvssHigh || fd.Score != 7.5 || fd.URI == "") {
			t.Fatalf("finding details %+v", fd)
		}
	}

	// Events: the completion with its counts, and the new critical.
	evs := audit(t, e, scan.ActionComplete, d)
	if len(evs) != 1 || evs[0].Repository != "team/app" || evs[0].AccountID != testAccount || !strings.Contains(string(evs[0].Detail), `"CRITICAL":1`) {
		t.Fatalf("complete events %+v", evs)
	}
	evs = audit(t, e, scan.ActionNewCritical, d)
	if len(evs) != 1 || string(evs[0].Detail) != `{"ids":["GO-2026-0003"]}` {
		t.Fatalf("new critical events %+v", evs)
	}

	// The inventory is kept per manifest digest, compact.
	inv, err := e.meta.GetInventory(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Version == "" || len(inv.Data) > len(f.rootfs) {
		t.Fatalf("inventory version %q, %d bytes for a %d-byte layer", inv.Version, len(inv.Data), len(f.rootfs))
	}

	// A push of another tag of the same image queues nothing; a manual
	// scan is refused within 24 hours, allowed after.
	e.putManifest(t, r, "v1-again", manifest.OCIManifest, m)
	if n := e.runJobs(t, scan.KindScan); n != 0 {
		t.Fatalf("a re-tag ran %d scans", n)
	}
	if _, err := e.svc.Queue(ctx, r, d, scan.Request{Limited: true}); !errors.Is(err, meta.ErrScanLimit) {
		t.Fatalf("manual scan within 24 h: %v", err)
	}
	e.now = t0.Add(25 * time.Hour)
	if ok, err := e.svc.Queue(ctx, r, d, scan.Request{Limited: true}); err != nil || !ok {
		t.Fatalf("manual scan after 24 h: %v %v", ok, err)
	}
	e.runJobs(t, scan.KindScan)
	rep = e.report(t, r, d)
	for _, fd := range rep.Findings {
		if !fd.FirstObservedAt.Equal(t0) || !fd.LastObservedAt.Equal(e.now) {
			t.Fatalf("rescanned finding lost its first observation: %+v", fd)
		}
	}
	if evs := audit(t, e, scan.ActionNewCritical, d); len(evs) != 1 {
		t.Fatalf("the same critical reported again: %d events", len(evs))
	}
}

func TestContinuousRescan(t *testing.T) {
	f := newFixture(t)
	e := newEnv(t)
	ctx := context.Background()
	t0 := e.now
	e.importAdvisories(t, "one", f.advisories(t0.Add(-time.Hour))...)

	prod := e.repo(t, "prod/api", false)
	dev := e.repo(t, "dev/api", false)
	if _, err := e.svc.SetConfig(ctx, testAccount, scan.Config{ScanType: scan.TypeEnhanced, Rules: []scan.Rule{
		{ScanFrequency: scan.ContinuousScan, RepositoryFilters: []scan.Filter{{Filter: "prod/*", FilterType: scan.FilterWildcard}}},
		{ScanFrequency: scan.ScanOnPush, RepositoryFilters: []scan.Filter{{Filter: "*", FilterType: scan.FilterWildcard}}},
	}}); err != nil {
		t.Fatal(err)
	}
	e.runJobs(t, scan.KindRescan) // the rescan SetConfig queued finds nothing yet

	mp := e.putImage(t, prod, "v1", "linux/amd64", f.rootfs, f.gobin)
	md := e.putImage(t, dev, "v1", "linux/amd64", f.rootfs, f.gobin)
	dp, dd := string(digest.FromBytes(mp)), string(digest.FromBytes(md))
	if dp != dd {
		t.Fatal("the same image has two digests")
	}
	if n := e.runJobs(t, scan.KindScan); n != 2 {
		t.Fatalf("ran %d scans", n)
	}
	// The layers go: a rescan must not need them.
	for _, l := range [][]byte{f.rootfs, f.gobin} {
		if err := e.reg.Blobs().Delete(ctx, string(digest.FromBytes(l))); err != nil {
			t.Fatal(err)
		}
	}

	// A second import: the Go advisory is corrected (fixed at the
	// toolchain's version: no longer affected), a new CRITICAL advisory
	// appears for another package.
	t1 := t0.Add(48 * time.Hour)
	e.now = t1
	rep := e.importAdvisories(t, "two",
		advisory{ID: "GO-2026-0003", Ecosystem: "Go", Package: "stdlib", Fixed: f.goVersion, Vector: cvssCritical, Modified: t1.Add(-time.Minute)},
		advisory{ID: "DEBIAN-CVE-2026-0004", Ecosystem: f.eco(), Package: f.later.Name, Fixed: f.later.Version + "+wharf1", Vector: cvssCritical, Modified: t1.Add(-time.Minute)},
	)
	if len(rep.Touched) == 0 {
		t.Fatal("the import touched no package")
	}
	if err := scan.EnqueueRescan(ctx, e.meta, "", t1); err != nil {
		t.Fatal(err)
	}
	if n := e.runJobs(t, scan.KindRescan, scan.KindScan); n != 1 {
		t.Fatalf("ran %d jobs", n)
	}

	got := e.report(t, prod, dp)
	wantLines(t, "continuous findings", got.Findings,
		"DEBIAN-CVE-2026-0004 "+f.later.Name+" "+f.later.Version+" CRITICAL "+f.later.Version+"+wharf1 ACTIVE",
		"DEBIAN-CVE-2026-0001 "+f.affected.Name+" "+f.affected.Version+" HIGH "+f.affected.Version+"+wharf1 ACTIVE",
		"GO-2026-0003 stdlib "+f.goVersion+" CRITICAL 99.0.0 CLOSED")
	if !got.CompletedAt.Equal(t1) || got.Counts["CRITICAL"] != 1 || got.Counts["HIGH"] != 1 || !got.SourceUpdatedAt.After(t0) {
		t.Fatalf("continuous scan %+v", got)
	}
	for _, fd := range got.Findings {
		switch fd.ID {
		case "DEBIAN-CVE-2026-0001": // seen before, unchanged
			if !fd.FirstObservedAt.Equal(t0) || !fd.LastObservedAt.Equal(t1) || !fd.UpdatedAt.Equal(t0) {
				t.Fatalf("kept finding %+v", fd)
			}
		case "DEBIAN-CVE-2026-0004":
			if !fd.FirstObservedAt.Equal(t1) {
				t.Fatalf("new finding %+v", fd)
			}
		case "GO-2026-0003": // closed now, last seen at the scan
			if !fd.FirstObservedAt.Equal(t0) || !fd.LastObservedAt.Equal(t0) || !fd.UpdatedAt.Equal(t1) {
				t.Fatalf("closed finding %+v", fd)
			}
		}
	}
	var evs []meta.AuditEvent
	for _, ev := range audit(t, e, scan.ActionNewCritical, dp) {
		if ev.Repository == "prod/api" {
			evs = append(evs, ev)
		}
	}
	if len(evs) != 2 || string(evs[1].Detail) != `{"ids":["DEBIAN-CVE-2026-0004"]}` || !evs[1].At.Equal(t1) {
		t.Fatalf("new critical events %+v", evs)
	}

	// dev/api is scan on push only: untouched by the rescan.
	other := e.report(t, dev, dd)
	if !other.CompletedAt.Equal(t0) || len(other.Active()) != 2 || other.Active()[0].ID != "GO-2026-0003" {
		t.Fatalf("scan-on-push repository was rescanned: %+v", other)
	}

	// The same data again: nothing changes but the observation time.
	e.now = t1.Add(time.Hour)
	if err := scan.EnqueueRescan(ctx, e.meta, "", e.now); err != nil {
		t.Fatal(err)
	}
	e.runJobs(t, scan.KindRescan)
	again := e.report(t, prod, dp)
	if !again.CompletedAt.Equal(e.now) || !slices.Equal(lines(again.Findings), lines(got.Findings)) {
		t.Fatalf("unchanged rescan: %+v", again)
	}
	if evs := audit(t, e, scan.ActionComplete, dp); len(evs) != 3 { // prod's scan and rescan, dev's scan
		t.Fatalf("an unchanged rescan recorded an event: %d complete events", len(evs))
	}
}

func TestScanIndex(t *testing.T) {
	f := newFixture(t)
	e := newEnv(t)
	e.importAdvisories(t, "one", f.advisories(e.now.Add(-time.Hour))...)
	r := e.repo(t, "team/multi", false)

	amd := e.putImage(t, r, "", "linux/amd64", f.rootfs, f.gobin)
	// arm64 carries the Debian packages only.
	arm := e.putImage(t, r, "", "linux/arm64", f.rootfs)
	// A buildx attestation manifest (an in-toto config, platform
	// unknown/unknown) is not scanned.
	att := e.putImage(t, r, "", "unknown/unknown", tarGz(t, map[string][]byte{"statement.json": []byte("{}")}))
	desc := func(m []byte, platform, extra string) string {
		os, arch, _ := strings.Cut(platform, "/")
		return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":%q,"architecture":%q}%s}`,
			manifest.OCIManifest, digest.FromBytes(m), len(m), os, arch, extra)
	}
	idx := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[%s,%s,%s]}`, manifest.OCIIndex,
		desc(amd, "linux/amd64", ""), desc(arm, "linux/arm64", ""),
		desc(att, "unknown/unknown", `,"annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"`+string(digest.FromBytes(amd))+`"}`)))
	d := e.putManifest(t, r, "v1", manifest.OCIIndex, idx)
	im, err := e.meta.GetManifest(context.Background(), r.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	if !scan.Scannable(im) {
		t.Fatal("an index of images is not scannable")
	}
	if _, err := e.svc.Queue(context.Background(), r, d, scan.Request{}); err != nil {
		t.Fatal(err)
	}
	e.runJobs(t, scan.KindScan)
	rep := e.report(t, r, d)
	// The union: the Debian finding on both platforms, Go's on amd64.
	wantLines(t, "index findings", rep.Findings,
		"GO-2026-0003 stdlib "+f.goVersion+" CRITICAL 99.0.0 ACTIVE",
		"DEBIAN-CVE-2026-0001 "+f.affected.Name+" "+f.affected.Version+" HIGH "+f.affected.Version+"+wharf1 ACTIVE")
	for _, fd := range rep.Findings {
		want := []string{"linux/amd64", "linux/arm64"}
		if fd.ID == "GO-2026-0003" {
			want = want[:1]
		}
		if !slices.Equal(fd.Platforms, want) {
			t.Fatalf("%s platforms %v, want %v", fd.ID, fd.Platforms, want)
		}
	}
	// Its inventory holds the two platforms scanned, not the attestation.
	inv, err := e.meta.GetInventory(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := scan.InventoryDigests(inv.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{string(digest.FromBytes(amd)), string(digest.FromBytes(arm))}) {
		t.Fatalf("index inventory holds %v", got)
	}

	// Pull gates read the index's scan for the index, and for each
	// platform image (pulled by digest after the index) its findings on
	// that platform.
	g := &gate.Gate{Scans: gate.StoreScans{Meta: e.meta}, Indexes: gate.RegistryIndexes{Registry: e.reg}}
	for _, c := range []struct {
		m   []byte
		mt  string
		max string
	}{{idx, manifest.OCIIndex, "CRITICAL"}, {amd, manifest.OCIManifest, "CRITICAL"}, {arm, manifest.OCIManifest, "HIGH"}} {
		facts, err := g.Facts(context.Background(), testAccount, "team/multi", gate.Manifest{Digest: string(digest.FromBytes(c.m)), MediaType: c.mt, Content: c.m})
		if err != nil || facts.Status != meta.ScanComplete || !facts.Scanned || facts.MaxSeverity() != c.max {
			t.Fatalf("gate facts of %s: %+v %v (want %s)", c.mt, facts, err, c.max)
		}
	}
}

func TestScanUnsupportedAndFailed(t *testing.T) {
	f := newFixture(t)
	e := newEnv(t)
	ctx := context.Background()
	r := e.repo(t, "team/odd", true)

	// An artifact (Helm chart): not scanned on push, unsupported.
	cd := e.putBlob(t, r, "application/vnd.cncf.helm.config.v1+json", []byte(`{"name":"chart"}`))
	ld := e.putBlob(t, r, "application/vnd.cncf.helm.chart.content.v1.tar+gzip", []byte("chart"))
	art := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[%s]}`, manifest.OCIManifest, cd, ld))
	ad := e.putManifest(t, r, "chart", manifest.OCIManifest, art)
	am, _ := e.meta.GetManifest(ctx, r.ID, ad)
	if scan.Scannable(am) {
		t.Fatal("an artifact is scannable")
	}
	if _, err := scan.GetReport(ctx, e.meta, r.ID, ad); !errors.Is(err, scan.ErrNotScanned) {
		t.Fatalf("an artifact push queued a scan: %v", err)
	}

	// An image of nothing catalogable: UNSUPPORTED_IMAGE.
	empty := e.putImage(t, r, "empty", "linux/amd64", tarGz(t, map[string][]byte{"hello.txt": []byte("hi")}))
	// A layer that is no tar: FAILED, with why, and no retry.
	bad := e.putImage(t, r, "bad", "linux/amd64", []byte("this is not a tar archive at all"))
	// An image deleted before its scan runs: the job ends quietly.
	gone := e.putImage(t, r, "gone", "linux/amd64", f.rootfs)
	if err := e.meta.DeleteManifest(ctx, r.ID, string(digest.FromBytes(gone)), "tester", "test"); err != nil {
		t.Fatal(err)
	}
	if n := e.runJobs(t, scan.KindScan); n != 3 {
		t.Fatalf("ran %d scans", n)
	}
	if left, _ := e.meta.ListJobs(ctx, scan.KindScan); len(left) != 0 {
		t.Fatalf("jobs left for retry: %+v", left)
	}
	rep := e.report(t, r, string(digest.FromBytes(empty)))
	if rep.Status != meta.ScanUnsupportedImage || rep.Description != scan.DescUnsupported {
		t.Fatalf("empty image %+v", rep)
	}
	rep = e.report(t, r, string(digest.FromBytes(bad)))
	if rep.Status != meta.ScanFailed || !strings.HasPrefix(rep.Description, "ScanFailed: ") {
		t.Fatalf("bad layer %+v", rep)
	}
	if _, err := scan.GetReport(ctx, e.meta, r.ID, string(digest.FromBytes(gone))); !errors.Is(err, scan.ErrNotScanned) {
		t.Fatalf("deleted image: %v", err)
	}
	if evs := audit(t, e, scan.ActionComplete, string(digest.FromBytes(bad))); len(evs) != 1 || !strings.Contains(string(evs[0].Detail), `"FAILED"`) {
		t.Fatalf("failed scan events %+v", evs)
	}
}
