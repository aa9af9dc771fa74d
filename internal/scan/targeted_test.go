package scan_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// debLayer is a Debian 12 layer whose dpkg status lists the packages
// (name -> version), in order.
func debLayer(t testing.TB, pkgs ...string) []byte {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(pkgs); i += 2 {
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: %s\nDescription: test package\n\n", pkgs[i], pkgs[i+1])
	}
	return tarGz(t, map[string][]byte{"etc/os-release": []byte(benchOSRelease), "var/lib/dpkg/status": []byte(b.String())})
}

// continuousEnv is an account under continuous scanning of prod/*.
func continuousEnv(t *testing.T) (*env, meta.Repository) {
	t.Helper()
	e := newEnv(t)
	r := e.repo(t, "prod/app", false)
	if _, err := e.svc.SetConfig(context.Background(), testAccount, scan.Config{ScanType: scan.TypeEnhanced, Rules: []scan.Rule{
		{ScanFrequency: scan.ContinuousScan, RepositoryFilters: []scan.Filter{{Filter: "prod/*", FilterType: scan.FilterWildcard}}}}}); err != nil {
		t.Fatal(err)
	}
	e.runJobs(t, scan.KindRescan)
	return e, r
}

func deb(id, pkg string, at time.Time) advisory {
	return advisory{ID: id, Ecosystem: "Debian:12", Package: pkg, Fixed: "1.3-1", Vector: cvssHigh, Modified: at}
}

func TestTargetedRescan(t *testing.T) {
	e, r := continuousEnv(t)
	ctx := context.Background()
	t0 := e.now
	e.importAdvisories(t, "one", deb("DEB-A1", "pkg-a", t0.Add(-time.Hour)), deb("DEB-B1", "pkg-b", t0.Add(-time.Hour)))
	da := string(digest.FromBytes(e.putImage(t, r, "a", "linux/amd64", debLayer(t, "pkg-a", "1.1-1", "pkg-common", "1.1-1"))))
	db := string(digest.FromBytes(e.putImage(t, r, "b", "linux/amd64", debLayer(t, "pkg-b", "1.1-1", "pkg-common", "1.1-1"))))
	if n := e.runJobs(t, scan.KindScan); n != 2 {
		t.Fatalf("ran %d scans", n)
	}
	wantLines(t, "a scanned", e.report(t, r, da).Findings, "DEB-A1 pkg-a 1.1-1 HIGH 1.3-1 ACTIVE")
	before := e.report(t, r, db)
	wantLines(t, "b scanned", before.Findings, "DEB-B1 pkg-b 1.1-1 HIGH 1.3-1 ACTIVE")

	// An import touching pkg-a only: a new advisory, and DEB-A1 withdrawn.
	t1 := t0.Add(time.Hour)
	e.now = t1
	wd := deb("DEB-A1", "pkg-a", t1.Add(-time.Minute))
	wd.Withdrawn = true
	rep := e.importAdvisories(t, "two", deb("DEB-A2", "pkg-a", t1.Add(-time.Minute)), wd)
	if len(rep.Touched) != 1 || rep.Touched[0] != (vulndb.PackageKey{Ecosystem: "Debian:12", Name: "pkg-a"}) {
		t.Fatalf("touched %v", rep.Touched)
	}
	if err := scan.EnqueueTargetedRescan(ctx, e.meta, "", t1, rep.Touched); err != nil {
		t.Fatal(err)
	}
	if n := e.runJobs(t, scan.KindRescan); n != 1 {
		t.Fatalf("ran %d rescans", n)
	}
	a := e.report(t, r, da)
	wantLines(t, "a after targeted rescan", a.Findings, "DEB-A2 pkg-a 1.1-1 HIGH 1.3-1 ACTIVE", "DEB-A1 pkg-a 1.1-1 HIGH 1.3-1 CLOSED")
	if !a.CompletedAt.Equal(t1) {
		t.Fatalf("a not re-matched: %+v", a)
	}
	// b's packages were not touched: nothing of it moved.
	b := e.report(t, r, db)
	if !b.CompletedAt.Equal(t0) || !slices.Equal(lines(b.Findings), lines(before.Findings)) || !b.Findings[0].LastObservedAt.Equal(t0) ||
		!b.SourceUpdatedAt.Equal(before.SourceUpdatedAt) {
		t.Fatalf("untouched image changed: %+v", b)
	}

	// Direct call, for the counts: keys as advisories give them, here an
	// advisory of "Debian" without a release touches b (its key set holds
	// both "Debian:12" and "Debian").
	t2 := t1.Add(time.Hour)
	e.now = t2
	rep = e.importAdvisories(t, "three", advisory{ID: "DEB-B9", Ecosystem: "Debian", Package: "pkg-b", Fixed: "1.3-1", Vector: cvssCritical, Modified: t2.Add(-time.Minute)})
	st, err := e.svc.RescanTouched(ctx, testAccount, rep.Touched)
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != 1 || st.Skipped != 1 || st.Changed != 1 {
		t.Fatalf("stats %+v", st)
	}
	wantLines(t, "b after release-less advisory", e.report(t, r, db).Findings,
		"DEB-B9 pkg-b 1.1-1 CRITICAL 1.3-1 ACTIVE", "DEB-B1 pkg-b 1.1-1 HIGH 1.3-1 ACTIVE")
	if got := e.report(t, r, da); !got.CompletedAt.Equal(t1) {
		t.Fatalf("a re-matched for b's package: %+v", got)
	}
	// A package both have: both.
	st, err = e.svc.RescanTouched(ctx, testAccount, []vulndb.PackageKey{{Ecosystem: "Debian:12", Name: "pkg-common"}})
	if err != nil || st.Images != 2 || st.Skipped != 0 || st.Changed != 0 {
		t.Fatalf("common package: %+v %v", st, err)
	}
	// Nothing touched: nothing read.
	st, err = e.svc.RescanTouched(ctx, testAccount, []vulndb.PackageKey{})
	if err != nil || st.Images != 0 || st.Skipped != 2 {
		t.Fatalf("nothing touched: %+v %v", st, err)
	}

	// An inventory stored before key sets were kept is re-matched, and
	// gets its key set, so the next targeted rescan skips it.
	inv, err := e.meta.GetInventory(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	inv.KeySet = nil
	if err := e.meta.PutInventory(ctx, inv); err != nil {
		t.Fatal(err)
	}
	unrelated := []vulndb.PackageKey{{Ecosystem: "Debian:12", Name: "pkg-zzz"}}
	st, err = e.svc.RescanTouched(ctx, testAccount, unrelated)
	if err != nil || st.Images != 1 || st.Skipped != 1 {
		t.Fatalf("unknown key set: %+v %v", st, err)
	}
	if inv, err = e.meta.GetInventory(ctx, db); err != nil || inv.KeySet == nil {
		t.Fatalf("key set not backfilled: %v", err)
	}
	st, err = e.svc.RescanTouched(ctx, testAccount, unrelated)
	if err != nil || st.Images != 0 || st.Skipped != 2 {
		t.Fatalf("after backfill: %+v %v", st, err)
	}

	// Too many keys (or unknown ones) queue a full rescan.
	many := make([]vulndb.PackageKey, scan.MaxTargetedKeys+1)
	for i := range many {
		many[i] = vulndb.PackageKey{Ecosystem: "npm", Name: fmt.Sprint("p", i)}
	}
	e.now = t2.Add(time.Hour)
	if err := scan.EnqueueTargetedRescan(ctx, e.meta, "", e.now, many); err != nil {
		t.Fatal(err)
	}
	e.runJobs(t, scan.KindRescan)
	for _, d := range []string{da, db} {
		if got := e.report(t, r, d); !got.CompletedAt.Equal(e.now) {
			t.Fatalf("full rescan left %s at %v", d, got.CompletedAt)
		}
	}
}
