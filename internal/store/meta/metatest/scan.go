package metatest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Image scanning: inventories and scans (meta.ScanStore).

func scanJob(repoID int64, d string) meta.Job {
	return meta.Job{Kind: "scan", Key: fmt.Sprintf("scan:%d:%s", repoID, d), Payload: []byte(d)}
}

func queue(t *testing.T, s meta.Store, r meta.ScanRequest) bool {
	t.Helper()
	if r.Job.Kind == "" {
		r.Job = scanJob(r.RepoID, r.Digest)
	}
	ok, err := s.QueueScan(ctx(t), r)
	must(t, err)
	return ok
}

func testInventories(t *testing.T, s meta.Store) {
	c := ctx(t)
	_, err := s.GetInventory(c, dg("none"))
	wantErr(t, err, meta.ErrNotFound)

	must(t, s.PutInventory(c, meta.Inventory{Digest: dg("a"), Version: "v1", Data: []byte("one"), CreatedAt: fixed}))
	inv, err := s.GetInventory(c, dg("a"))
	must(t, err)
	if inv.Digest != dg("a") || inv.Version != "v1" || string(inv.Data) != "one" || !inv.CreatedAt.Equal(fixed) {
		t.Fatalf("got %+v", inv)
	}
	// Replace.
	must(t, s.PutInventory(c, meta.Inventory{Digest: dg("a"), Version: "v2", Data: []byte("two")}))
	inv, err = s.GetInventory(c, dg("a"))
	must(t, err)
	if inv.Version != "v2" || string(inv.Data) != "two" || inv.CreatedAt.Equal(fixed) {
		t.Fatalf("after replace got %+v", inv)
	}

	// Pruning keeps inventories a scan uses and recent ones.
	r := repo(t, s, "prune")
	m := push(t, s, r.ID, "used", "")
	must(t, s.PutInventory(c, meta.Inventory{Digest: m.Digest, Version: "v1", Data: []byte("used"), CreatedAt: fixed}))
	queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest})
	must(t, s.PutInventory(c, meta.Inventory{Digest: dg("orphan"), Version: "v1", Data: []byte("x"), CreatedAt: fixed}))
	must(t, s.PutInventory(c, meta.Inventory{Digest: dg("recent"), Version: "v1", Data: []byte("x"), CreatedAt: fixed.Add(2 * time.Hour)}))
	n, err := s.PruneInventories(c, fixed.Add(time.Hour), 0)
	must(t, err)
	equal(t, "pruned", n, int64(1))
	for d, want := range map[string]bool{m.Digest: true, dg("orphan"): false, dg("recent"): true} {
		_, err := s.GetInventory(c, d)
		if (err == nil) != want {
			t.Fatalf("inventory %s: err %v, want kept=%v", short(d), err, want)
		}
	}
	// Once the image goes, so does its scan, and its inventory is an orphan.
	must(t, s.DeleteManifest(c, r.ID, m.Digest, "tester", "test"))
	n, err = s.PruneInventories(c, fixed.Add(time.Hour), 0)
	must(t, err)
	equal(t, "pruned after delete", n, int64(1))
}

func testScanQueueFinish(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "scans")
	m := push(t, s, r.ID, "img", "v1")

	_, err := s.GetScan(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.QueueScan(c, meta.ScanRequest{RepoID: r.ID, Digest: dg("missing"), Job: scanJob(r.ID, dg("missing"))})
	wantErr(t, err, meta.ErrNotFound)
	if jobs := pendingJobs(t, s, "scan"); len(jobs) != 0 {
		t.Fatalf("a scan of a missing image enqueued %v", jobs)
	}

	t0 := fixed
	if !queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, At: t0}) {
		t.Fatal("first scan not queued")
	}
	sc, err := s.GetScan(c, r.ID, m.Digest)
	must(t, err)
	if sc.Status != meta.ScanInProgress || !sc.RequestedAt.Equal(t0) || !sc.CompletedAt.IsZero() || sc.Counts != nil || sc.Findings != nil {
		t.Fatalf("queued scan %+v", sc)
	}
	jobs := pendingJobs(t, s, "scan")
	if len(jobs) != 1 || jobs[0].Key != scanJob(r.ID, m.Digest).Key || string(jobs[0].Payload) != m.Digest {
		t.Fatalf("jobs %+v", jobs)
	}
	// A second request while the job is pending collapses into it.
	queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, At: t0.Add(time.Second)})
	equal(t, "jobs after a duplicate", len(pendingJobs(t, s, "scan")), 1)

	// Only the known severities are counted.
	err = s.FinishScan(c, meta.ScanResult{RepoID: r.ID, Digest: m.Digest, Status: meta.ScanComplete, Counts: map[string]int{"SEVERE": 1}})
	if err == nil {
		t.Fatal("an unknown severity was accepted")
	}
	err = s.FinishScan(c, meta.ScanResult{RepoID: r.ID, Digest: m.Digest, Status: meta.ScanInProgress})
	if err == nil {
		t.Fatal("IN_PROGRESS was accepted as an outcome")
	}
	done := t0.Add(time.Minute)
	src := t0.Add(-time.Hour)
	must(t, s.FinishScan(c, meta.ScanResult{RepoID: r.ID, Digest: m.Digest, Status: meta.ScanComplete, CompletedAt: done,
		SourceUpdatedAt: src, Counts: map[string]int{"CRITICAL": 2, "LOW": 1}, FindingsHash: "h1", Findings: []byte("f1")}))
	sc, err = s.GetScan(c, r.ID, m.Digest)
	must(t, err)
	if sc.Status != meta.ScanComplete || !sc.CompletedAt.Equal(done) || !sc.SourceUpdatedAt.Equal(src) ||
		!sc.RequestedAt.Equal(t0.Add(time.Second)) || sc.FindingsHash != "h1" || string(sc.Findings) != "f1" ||
		len(sc.Counts) != 2 || sc.Counts["CRITICAL"] != 2 || sc.Counts["LOW"] != 1 {
		t.Fatalf("finished scan %+v", sc)
	}

	// IfUnscanned: a scanned image is not queued again, a failed one is.
	if queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, IfUnscanned: true, At: t0.Add(time.Hour)}) {
		t.Fatal("IfUnscanned queued a scanned image")
	}
	sc, err = s.GetScan(c, r.ID, m.Digest)
	must(t, err)
	equal(t, "status kept", sc.Status, meta.ScanComplete)

	// LimitSince refuses a request within the window, and changes nothing.
	_, err = s.QueueScan(c, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, At: t0.Add(2 * time.Hour),
		LimitSince: t0.Add(time.Second), Job: meta.Job{Kind: "scan", Key: "other"}})
	wantErr(t, err, meta.ErrScanLimit)
	for _, j := range pendingJobs(t, s, "scan") {
		if j.Key == "other" {
			t.Fatal("a refused request enqueued its job")
		}
	}
	if !queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, At: t0.Add(2 * time.Hour), LimitSince: t0.Add(2 * time.Second)}) {
		t.Fatal("a request after the window was not queued")
	}
	sc, err = s.GetScan(c, r.ID, m.Digest)
	must(t, err)
	// Re-queued: in progress, previous results kept until the new ones.
	if sc.Status != meta.ScanInProgress || !sc.RequestedAt.Equal(t0.Add(2*time.Hour)) || sc.FindingsHash != "h1" || sc.Counts["CRITICAL"] != 2 {
		t.Fatalf("re-queued scan %+v", sc)
	}
	must(t, s.FinishScan(c, meta.ScanResult{RepoID: r.ID, Digest: m.Digest, Status: meta.ScanFailed, Description: "broken layer"}))
	sc, err = s.GetScan(c, r.ID, m.Digest)
	must(t, err)
	if sc.Status != meta.ScanFailed || sc.Description != "broken layer" || sc.Counts != nil || sc.Findings != nil {
		t.Fatalf("failed scan %+v", sc)
	}
	if !queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, IfUnscanned: true}) {
		t.Fatal("IfUnscanned did not queue a failed image")
	}
	sc, err = s.GetScan(c, r.ID, m.Digest)
	must(t, err)
	if sc.Status != meta.ScanInProgress || sc.Description != "" {
		t.Fatalf("re-queued failed scan %+v", sc)
	}

	// The scan goes with its image; finishing it then is ErrNotFound.
	must(t, s.DeleteManifest(c, r.ID, m.Digest, "tester", "test"))
	_, err = s.GetScan(c, r.ID, m.Digest)
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.FinishScan(c, meta.ScanResult{RepoID: r.ID, Digest: m.Digest, Status: meta.ScanComplete}), meta.ErrNotFound)

	// And with its repository.
	m2 := push(t, s, r.ID, "img2", "")
	queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m2.Digest})
	must(t, s.DeleteRepository(c, r.ID, true))
	got, err := s.GetScans(c, r.ID, []string{m2.Digest})
	must(t, err)
	equal(t, "scans of a deleted repository", len(got), 0)
}

func testScanConcurrentLimit(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "limit")
	m := push(t, s, r.ID, "img", "")
	// Of concurrent limited requests exactly one wins.
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.QueueScan(c, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, At: fixed,
				LimitSince: fixed.Add(-24 * time.Hour), Job: scanJob(r.ID, m.Digest)})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		default:
			wantErr(t, err, meta.ErrScanLimit)
		}
	}
	equal(t, "requests queued", ok, 1)
	equal(t, "jobs", len(pendingJobs(t, s, "scan")), 1)
}

func testGetScans(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "many")
	other := repo(t, s, "other")
	var digests []string
	// More than one IN list's worth.
	for i := 0; i < 1203; i++ {
		m := push(t, s, r.ID, fmt.Sprint("img", i), "")
		digests = append(digests, m.Digest)
		if i%2 == 0 {
			queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, At: fixed})
		}
	}
	om := push(t, s, other.ID, "img0", "")
	queue(t, s, meta.ScanRequest{RepoID: other.ID, Digest: om.Digest})
	must(t, s.FinishScan(c, meta.ScanResult{RepoID: r.ID, Digest: digests[0], Status: meta.ScanComplete,
		Counts: map[string]int{"HIGH": 3}, Findings: []byte("big")}))

	got, err := s.GetScans(c, r.ID, append(digests, dg("unknown")))
	must(t, err)
	equal(t, "scans", len(got), 602)
	if g := got[digests[0]]; g.Status != meta.ScanComplete || g.Counts["HIGH"] != 3 || g.Findings != nil || g.Digest != digests[0] || g.RepoID != r.ID {
		t.Fatalf("summary %+v", g)
	}
	if g, ok := got[digests[1202]]; !ok || g.Status != meta.ScanInProgress {
		t.Fatalf("last scan %+v %v", g, ok)
	}
	if _, ok := got[digests[1]]; ok {
		t.Fatal("an image never scanned has a scan")
	}
	// The same digest in another repository is that repository's.
	got, err = s.GetScans(c, other.ID, digests[:1])
	must(t, err)
	if g := got[digests[0]]; g.Status != meta.ScanInProgress || g.Counts != nil {
		t.Fatalf("other repository's scan %+v", g)
	}
	got, err = s.GetScans(c, r.ID, nil)
	must(t, err)
	equal(t, "no digests", len(got), 0)
}

func testRematch(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "rematch")
	var ms []meta.Manifest
	for i := 0; i < 5; i++ {
		m := push(t, s, r.ID, fmt.Sprint("img", i), "")
		ms = append(ms, m)
		queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: m.Digest, At: fixed})
		if i == 3 {
			continue // stays in progress
		}
		if i != 4 {
			must(t, s.PutInventory(c, meta.Inventory{Digest: m.Digest, Version: "v1", Data: []byte(fmt.Sprint("inv", i))}))
		}
		must(t, s.FinishScan(c, meta.ScanResult{RepoID: r.ID, Digest: m.Digest, Status: meta.ScanComplete, CompletedAt: fixed,
			FindingsHash: fmt.Sprint("h", i), Findings: []byte(fmt.Sprint("f", i)), Counts: map[string]int{"LOW": i + 1}}))
	}
	// Completed scans with an inventory (0, 1, 2: 3 is in progress and 4
	// has no inventory), by digest, paged.
	var items []meta.RematchItem
	after := ""
	for {
		page, err := s.ListRematch(c, meta.RematchQuery{RepoID: r.ID, After: after, Limit: 2})
		must(t, err)
		items = append(items, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Scan.Digest
	}
	byDigest := map[string]meta.RematchItem{}
	prev := ""
	for _, it := range items {
		if it.Scan.Digest <= prev {
			t.Fatalf("not in digest order: %s after %s", short(it.Scan.Digest), short(prev))
		}
		prev = it.Scan.Digest
		byDigest[it.Scan.Digest] = it
	}
	equal(t, "listed", len(items), 3)
	for i := 0; i < 3; i++ {
		it, ok := byDigest[ms[i].Digest]
		if !ok || string(it.Inventory.Data) != fmt.Sprint("inv", i) || it.Inventory.Version != "v1" || it.Inventory.Digest != ms[i].Digest ||
			string(it.Scan.Findings) != fmt.Sprint("f", i) || it.Scan.FindingsHash != fmt.Sprint("h", i) || !it.Scan.CompletedAt.Equal(fixed) {
			t.Fatalf("item %d: %+v", i, it)
		}
	}

	// Queue image 2 again meanwhile: its rematch result must not apply.
	queue(t, s, meta.ScanRequest{RepoID: r.ID, Digest: ms[2].Digest, At: fixed.Add(time.Minute)})
	later := fixed.Add(time.Hour)
	src := fixed.Add(30 * time.Minute)
	res := []meta.ScanResult{
		{RepoID: r.ID, Digest: ms[0].Digest, Unchanged: true, CompletedAt: later, SourceUpdatedAt: src, IfCompletedAt: fixed},
		{RepoID: r.ID, Digest: ms[1].Digest, Status: meta.ScanComplete, CompletedAt: later, SourceUpdatedAt: src, IfCompletedAt: fixed,
			FindingsHash: "h1b", Findings: []byte("f1b"), Counts: map[string]int{"CRITICAL": 1}},
		{RepoID: r.ID, Digest: ms[2].Digest, Unchanged: true, CompletedAt: later, IfCompletedAt: fixed},
		// A stale read: the scan completed at another time.
		{RepoID: r.ID, Digest: ms[4].Digest, Unchanged: true, CompletedAt: later, IfCompletedAt: fixed.Add(-time.Second)},
	}
	n, err := s.PutRematch(c, res)
	must(t, err)
	equal(t, "written", n, 2)

	sc, err := s.GetScan(c, r.ID, ms[0].Digest)
	must(t, err)
	if !sc.CompletedAt.Equal(later) || !sc.SourceUpdatedAt.Equal(src) || string(sc.Findings) != "f0" || sc.FindingsHash != "h0" || sc.Counts["LOW"] != 1 {
		t.Fatalf("unchanged rematch %+v", sc)
	}
	sc, err = s.GetScan(c, r.ID, ms[1].Digest)
	must(t, err)
	if !sc.CompletedAt.Equal(later) || string(sc.Findings) != "f1b" || sc.FindingsHash != "h1b" || sc.Counts["CRITICAL"] != 1 || sc.Counts["LOW"] != 0 {
		t.Fatalf("changed rematch %+v", sc)
	}
	sc, err = s.GetScan(c, r.ID, ms[2].Digest)
	must(t, err)
	if sc.Status != meta.ScanInProgress || !sc.CompletedAt.Equal(fixed) {
		t.Fatalf("rematch applied over a queued scan: %+v", sc)
	}
	sc, err = s.GetScan(c, r.ID, ms[4].Digest)
	must(t, err)
	if !sc.CompletedAt.Equal(fixed) {
		t.Fatalf("stale rematch applied: %+v", sc)
	}
	if _, err := s.PutRematch(c, []meta.ScanResult{{RepoID: r.ID, Digest: ms[0].Digest, Status: "DONE"}}); err == nil {
		t.Fatal("a bad status was accepted")
	}
	n, err = s.PutRematch(c, nil)
	must(t, err)
	equal(t, "empty rematch", n, 0)
}

func testReferredSubjects(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "referred")
	other := repo(t, s, "other")
	const vexType = "application/vnd.openvex+json"
	var subjects []string
	for i := 0; i < 60; i++ {
		subjects = append(subjects, push(t, s, r.ID, fmt.Sprint("img", i), "").Digest)
	}
	// A referrer of subjects[i]: an artifact manifest with that subject.
	refer := func(repoID int64, subject, artifactType, seed string) {
		t.Helper()
		m, refs := image(repoID, seed)
		m.Subject, m.ArtifactType = subject, artifactType
		link(t, s, repoID, refs.Blobs...)
		must(t, s.PutManifest(c, meta.PutManifest{Manifest: m, Refs: refs}))
	}
	refer(r.ID, subjects[3], vexType, "vex3")
	refer(r.ID, subjects[40], vexType, "vex40")
	refer(r.ID, subjects[7], "application/spdx+json", "sbom7")
	om := push(t, s, other.ID, "img5", "")
	refer(other.ID, om.Digest, vexType, "vex-other") // the same digest, another repository
	for _, n := range []int{2, 60} {                 // an IN list and a range
		got, err := s.ReferredSubjects(c, r.ID, subjects[:n], []string{vexType, "application/openvex+json"})
		must(t, err)
		want := map[string]bool{}
		for _, i := range []int{3, 40} {
			if i < n {
				want[subjects[i]] = true
			}
		}
		if len(got) != len(want) || (n == 60 && (!got[subjects[3]] || !got[subjects[40]])) {
			t.Fatalf("%d subjects: got %v, want %v", n, got, want)
		}
	}
	got, err := s.ReferredSubjects(c, r.ID, []string{subjects[5]}, []string{vexType})
	must(t, err)
	equal(t, "other repository's referrer", len(got), 0)
	got, err = s.ReferredSubjects(c, r.ID, nil, []string{vexType})
	must(t, err)
	equal(t, "no subjects", len(got), 0)
}
