package scan_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/store/meta"
)

func TestEligibilityValidate(t *testing.T) {
	for _, c := range []struct {
		e  scan.Eligibility
		ok bool
	}{
		{scan.Eligibility{}, true},
		{scan.Eligibility{RescanDuration: "DAYS_14", PullDateRescanDuration: "DAYS_90"}, true},
		{scan.Eligibility{RescanDuration: "DAYS_7"}, false},
		{scan.Eligibility{RescanDuration: "LIFETIME", PullDateRescanDuration: "LIFETIME"}, false},
	} {
		err := c.e.Validate()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, scan.ErrInvalidEligibility)) {
			t.Errorf("%+v: %v", c.e, err)
		}
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if a := scan.DefaultEligibility().Active(now); !a.Pushed.IsZero() {
		t.Fatalf("lifetime limits: %+v", a)
	}
	a := scan.Eligibility{RescanDuration: "DAYS_30", PullDateRescanDuration: "DAYS_14"}.Active(now)
	if !a.Pushed.Equal(now.Add(-30*24*time.Hour)) || !a.Pulled.Equal(now.Add(-14*24*time.Hour)) {
		t.Fatalf("cutoffs %+v", a)
	}
}

// TestScanEligibilityExpiry runs a fake clock from the real time (the store
// stamps tags with it) over weeks of rescans.
func TestScanEligibilityExpiry(t *testing.T) {
	e, r := continuousEnv(t)
	ctx := context.Background()
	day := 24 * time.Hour
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	e.now = t0
	c, err := e.svc.Config(ctx, testAccount)
	if err != nil {
		t.Fatal(err)
	}
	status := func(d string) string {
		t.Helper()
		scans, err := scan.GetSummaries(ctx, e.meta, r.ID, []string{d})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := scan.Status(scans[d], c, r)
		return st
	}

	e.importAdvisories(t, "one", deb("DEB-X1", "pkg-x", t0.Add(-time.Hour)), deb("DEB-Y1", "pkg-y", t0.Add(-time.Hour)))
	dx := string(digest.FromBytes(e.putImage(t, r, "x", "linux/amd64", debLayer(t, "pkg-x", "1.1-1"))))
	dy := string(digest.FromBytes(e.putImage(t, r, "y", "linux/amd64", debLayer(t, "pkg-y", "1.1-1"))))
	e.runJobs(t, scan.KindScan)

	// The default (lifetime) never expires anything.
	e.now = t0.Add(400 * day)
	st, err := e.svc.Rescan(ctx, testAccount)
	if err != nil || st.Expired != 0 || st.Images != 2 {
		t.Fatalf("lifetime rescan %+v %v", st, err)
	}
	if status(dx) != "ACTIVE" {
		t.Fatalf("status %s", status(dx))
	}

	// 14 days after push, 30 after pull; the setting queues a rescan
	// that applies it. y was pulled 10 days before.
	e.now = t0.Add(15 * day)
	if err := e.meta.TouchPull(ctx, r.ID, dy, t0.Add(5*day)); err != nil {
		t.Fatal(err)
	}
	if _, err := scan.SaveEligibility(ctx, e.meta, testAccount, scan.Eligibility{RescanDuration: "DAYS_14", PullDateRescanDuration: "DAYS_30"}, e.now, "tester"); err != nil {
		t.Fatal(err)
	}
	if ev, err := e.meta.ListAudit(ctx, meta.AuditFilter{AccountID: testAccount, Action: "scan.eligibility"}); err != nil || len(ev) != 1 ||
		ev[0].Actor != "tester" || !strings.Contains(string(ev[0].Detail), `"DAYS_14"`) {
		t.Fatalf("audit: %+v, %v", ev, err)
	}
	if n := e.runJobs(t, scan.KindRescan); n != 1 {
		t.Fatalf("ran %d rescans", n)
	}
	if status(dx) != scan.StatusExpired || status(dy) != "ACTIVE" {
		t.Fatalf("after the setting: x %s, y %s", status(dx), status(dy))
	}
	x := e.report(t, r, dx)
	if !x.ExpiredAt.Equal(e.now) {
		t.Fatalf("x expired at %v", x.ExpiredAt)
	}
	if got, _ := scan.LoadEligibility(ctx, e.meta, testAccount); got.RescanDuration != "DAYS_14" || !got.UpdatedAt.Equal(e.now) {
		t.Fatalf("stored eligibility %+v", got)
	}

	// New data for both: y's findings update, x's stay as they were
	// (kept, not closed), and the rescan does not mark x again.
	e.now = t0.Add(16 * day)
	rep := e.importAdvisories(t, "two", deb("DEB-X2", "pkg-x", e.now.Add(-time.Minute)), deb("DEB-Y2", "pkg-y", e.now.Add(-time.Minute)))
	st, err = e.svc.RescanTouched(ctx, testAccount, rep.Touched)
	if err != nil || st.Images != 1 || st.Expired != 0 {
		t.Fatalf("rescan %+v %v", st, err)
	}
	wantLines(t, "y", e.report(t, r, dy).Findings, "DEB-Y1 pkg-y 1.1-1 HIGH 1.3-1 ACTIVE", "DEB-Y2 pkg-y 1.1-1 HIGH 1.3-1 ACTIVE")
	x = e.report(t, r, dx)
	wantLines(t, "expired x", x.Findings, "DEB-X1 pkg-x 1.1-1 HIGH 1.3-1 ACTIVE")
	if !x.CompletedAt.Equal(t0.Add(400*day)) || x.ExpiredAt.IsZero() {
		t.Fatalf("expired x moved: %+v", x)
	}
	// A full rescan leaves it alone too.
	if st, err = e.svc.Rescan(ctx, testAccount); err != nil || st.Images != 1 {
		t.Fatalf("full rescan %+v %v", st, err)
	}

	// A pull makes x eligible: the next rescan, even one touching none of
	// its packages, brings it back with the data it missed.
	e.now = t0.Add(17 * day)
	if err := e.meta.TouchPull(ctx, r.ID, dx, e.now); err != nil {
		t.Fatal(err)
	}
	st, err = e.svc.RescanTouched(ctx, testAccount, nil)
	if err != nil || st.Images != 1 || st.Skipped != 1 {
		t.Fatalf("rescan after the pull %+v %v", st, err)
	}
	x = e.report(t, r, dx)
	wantLines(t, "x back", x.Findings, "DEB-X1 pkg-x 1.1-1 HIGH 1.3-1 ACTIVE", "DEB-X2 pkg-x 1.1-1 HIGH 1.3-1 ACTIVE")
	if !x.ExpiredAt.IsZero() || status(dx) != "ACTIVE" || !x.CompletedAt.Equal(e.now) {
		t.Fatalf("x after the pull: %s %+v", status(dx), x)
	}

	// 31 days after its pull, x lapses again; y (pulled 43 days ago) too:
	// the periodic eligibility job marks them without any import.
	e.now = t0.Add(48 * day)
	if err := e.svc.HandleEligibility(ctx, meta.Job{}); err != nil {
		t.Fatal(err)
	}
	if status(dx) != scan.StatusExpired || status(dy) != scan.StatusExpired {
		t.Fatalf("after the eligibility job: x %s, y %s", status(dx), status(dy))
	}
	wantLines(t, "x lapsed again", e.report(t, r, dx).Findings, "DEB-X1 pkg-x 1.1-1 HIGH 1.3-1 ACTIVE", "DEB-X2 pkg-x 1.1-1 HIGH 1.3-1 ACTIVE")
	// An explicit scan (StartImageScan's) brings it back and counts as
	// activity for the push duration.
	if _, err := e.svc.Queue(ctx, r, dx, scan.Request{}); err != nil {
		t.Fatal(err)
	}
	e.runJobs(t, scan.KindScan)
	if status(dx) != "ACTIVE" || status(dy) != scan.StatusExpired {
		t.Fatalf("after the scan: x %s, y %s", status(dx), status(dy))
	}
	e.now = t0.Add(50 * day)
	if st, err = e.svc.Rescan(ctx, testAccount); err != nil || st.Expired != 0 || st.Images != 1 {
		t.Fatalf("rescan after the scan %+v %v", st, err)
	}

	// Only continuous scanning lapses: under scan on push the scan reads
	// COMPLETE whatever the mark.
	basic := scan.Config{ScanType: scan.TypeEnhanced, Rules: []scan.Rule{{ScanFrequency: scan.ScanOnPush,
		RepositoryFilters: []scan.Filter{{Filter: "*", FilterType: scan.FilterWildcard}}}}}
	if got, _ := scan.Status(meta.ImageScan{Status: meta.ScanComplete, ExpiredAt: e.now}, basic, r); got != meta.ScanComplete {
		t.Fatalf("scan-on-push status %s", got)
	}
}
