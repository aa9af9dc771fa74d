package e2e

// Scale-out end-to-end tests: three real `wharf serve` processes share one
// fresh PostgreSQL database and one fresh S3 bucket (cluster_helpers_test.go).
// They are skipped unless WHARF_TEST_POSTGRES_URL and WHARF_TEST_S3_ENDPOINT
// are set, which scripts/test.sh does.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// visibleWithin is how soon a change made through one node must be seen
// through another.
const visibleWithin = time.Second

// TestClusterChunkedPushAcrossNodes: a 20 MiB layer is pushed in four
// chunks, two through node 1 and two (the last with the closing PUT) through
// node 2, so that its bytes span several S3 multipart parts written by
// different processes; the manifest goes through node 2 and the image is
// pulled byte-exact through node 3. Then tag moves through node 1 are seen
// through node 3 within a second.
func TestClusterChunkedPushAcrossNodes(t *testing.T) {
	eng := newClusterEngines(t)
	nodes := eng.startNodes(t, []string{"node1", "node2", "node3"}, nil)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	cl := newRegClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rng := newRNG(t, "chunked")
	const repo = "cluster/chunked"
	const mib = 1 << 20

	layer := randomBytes(rng, 20*mib)
	layerDigest := sha256Digest(layer)
	resp, _, err := cl.do(ctx, n1, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil, http.StatusAccepted)
	if err != nil {
		t.Fatalf("node 1: starting the upload: %v", err)
	}
	loc := resp.Header.Get("Location")
	// 8 MiB parts: node 1 fills the first part, node 2 the second and
	// leaves a tail that the PUT completes.
	steps := []struct {
		node       *wharfServer
		name       string
		start, end int
	}{
		{n1, "node 1", 0, 3 * mib},
		{n1, "node 1", 3 * mib, 9 * mib},
		{n2, "node 2", 9 * mib, 17 * mib},
	}
	for i, st := range steps {
		if i > 0 && st.node != steps[i-1].node {
			// The new node sees where the upload stands.
			resp, _, err := cl.do(ctx, st.node, http.MethodGet, loc, nil, nil, http.StatusNoContent)
			if err != nil {
				t.Fatalf("%s: upload status: %v", st.name, err)
			}
			if got, want := resp.Header.Get("Range"), fmt.Sprintf("0-%d", st.start-1); got != want {
				t.Fatalf("%s: upload status Range %q, want %q", st.name, got, want)
			}
		}
		resp, _, err := cl.do(ctx, st.node, http.MethodPatch, loc, layer[st.start:st.end],
			octetStream(fmt.Sprintf("%d-%d", st.start, st.end-1)), http.StatusAccepted)
		if err != nil {
			t.Fatalf("%s: chunk %d: %v", st.name, i+1, err)
		}
		if got, want := resp.Header.Get("Range"), fmt.Sprintf("0-%d", st.end-1); got != want {
			t.Fatalf("%s: chunk %d: Range %q, want %q", st.name, i+1, got, want)
		}
		loc = resp.Header.Get("Location")
	}
	last := steps[len(steps)-1].end
	resp, _, err = cl.do(ctx, n2, http.MethodPut, withQuery(loc, "digest="+layerDigest), layer[last:],
		octetStream(fmt.Sprintf("%d-%d", last, len(layer)-1)), http.StatusCreated)
	if err != nil {
		t.Fatalf("node 2: closing PUT with the last chunk: %v", err)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != layerDigest {
		t.Fatalf("node 2: closing PUT: Docker-Content-Digest %q, want %s", got, layerDigest)
	}

	small := randomBytes(rng, 64<<10)
	config := imageConfig("chunked-v1")
	for _, b := range [][]byte{small, config} {
		if err := cl.pushBlob(ctx, n2, repo, b); err != nil {
			t.Fatalf("node 2: %v", err)
		}
	}
	img1 := newClusterImage(repo, "v1", config, layer, small)
	if err := cl.putManifest(ctx, n2, repo, "v1", img1.manifest); err != nil {
		t.Fatalf("node 2: %v", err)
	}

	// Node 3 serves all of it, byte-exact, and ranges across the part
	// boundary.
	if err := cl.verifyImage(ctx, n3, img1, true); err != nil {
		t.Fatalf("pull through node 3: %v", err)
	}
	rng1 := http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", 8*mib-100, 8*mib+99)}}
	if _, body, err := cl.do(ctx, n3, http.MethodGet, "/v2/"+repo+"/blobs/"+layerDigest, nil, rng1, http.StatusPartialContent); err != nil {
		t.Errorf("node 3: ranged read across the first part boundary: %v", err)
	} else if string(body) != string(layer[8*mib-100:8*mib+100]) {
		t.Errorf("node 3: ranged read across the first part boundary: wrong bytes")
	}

	// A second image, pushed through node 1 (the big layer is already there).
	config2 := imageConfig("chunked-v2")
	if err := cl.pushBlob(ctx, n1, repo, config2); err != nil {
		t.Fatalf("node 1: %v", err)
	}
	img2 := newClusterImage(repo, "v2", config2, layer)
	if err := cl.putManifest(ctx, n1, repo, "v2", img2.manifest); err != nil {
		t.Fatalf("node 1: %v", err)
	}

	// Tag moves through node 1, seen through node 3 (whose caches are warm:
	// it has just served v1).
	for _, move := range []struct {
		to   clusterImage
		name string
	}{{img2, "v1 -> v2's image"}, {img1, "v1 -> back to v1's image"}} {
		if _, err := cl.manifestDigest(ctx, n3, repo, "v1"); err != nil { // warm node 3
			t.Fatal(err)
		}
		if err := cl.putManifest(ctx, n1, repo, "v1", move.to.manifest); err != nil {
			t.Fatalf("node 1: moving tag %s: %v", move.name, err)
		}
		moved := time.Now()
		waitVisible(ctx, t, fmt.Sprintf("tag move %s through node 3", move.name), moved, func() (bool, string, error) {
			d, err := cl.manifestDigest(ctx, n3, repo, "v1")
			return d == move.to.digest(), "v1 resolves to " + d, err
		})
	}

	// Both images are still whole through node 3.
	for _, img := range []clusterImage{img1, img2} {
		if err := cl.verifyImage(ctx, n3, img, true); err != nil {
			t.Errorf("after the tag moves, through node 3: %v", err)
		}
	}
}

// TestClusterDeleteSeenAcrossNodes: a tag deleted and an image deleted (by
// digest) through node 1 stop being served through node 3 within a second,
// although node 3 has just served them (its caches are warm).
func TestClusterDeleteSeenAcrossNodes(t *testing.T) {
	eng := newClusterEngines(t)
	nodes := eng.startNodes(t, []string{"node1", "node2", "node3"}, nil)
	n1, n3 := nodes[0], nodes[2]
	cl := newRegClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rng := newRNG(t, "delete")
	const repo = "cluster/delete"
	layer := randomBytes(rng, 32<<10)
	imgA := newClusterImage(repo, "a", imageConfig("delete-a"), layer)
	imgB := newClusterImage(repo, "b", imageConfig("delete-b"), layer)
	for _, img := range []clusterImage{imgA, imgB} {
		if err := cl.pushImage(ctx, n1, img, pushOptions{}); err != nil {
			t.Fatalf("node 1: %v", err)
		}
	}
	warm := func(img clusterImage) {
		t.Helper()
		for _, ref := range []string{img.tag, img.digest()} {
			if d, err := cl.manifestDigest(ctx, n3, repo, ref); err != nil || d != img.digest() {
				t.Fatalf("node 3: %s:%s before the delete: %q, %v", repo, ref, d, err)
			}
		}
	}

	// Deleting tag a (only the tag): a by digest stays.
	warm(imgA)
	if _, _, err := cl.do(ctx, n1, http.MethodDelete, "/v2/"+repo+"/manifests/a", nil, nil, http.StatusAccepted); err != nil {
		t.Fatalf("node 1: deleting tag a: %v", err)
	}
	waitVisible(ctx, t, "delete of tag a seen through node 3", time.Now(), func() (bool, string, error) {
		d, err := cl.manifestDigest(ctx, n3, repo, "a")
		return d == "", "a still resolves to " + d, err
	})
	if err := cl.verifyImage(ctx, n3, imgA, false); err != nil {
		t.Errorf("image a by digest after its tag was deleted: %v", err)
	}

	// Deleting image b by digest: neither its tag nor its digest is served.
	warm(imgB)
	if _, _, err := cl.do(ctx, n1, http.MethodDelete, "/v2/"+repo+"/manifests/"+imgB.digest(), nil, nil, http.StatusAccepted); err != nil {
		t.Fatalf("node 1: deleting %s: %v", imgB, err)
	}
	deleted := time.Now()
	for _, ref := range []string{"b", imgB.digest()} {
		waitVisible(ctx, t, fmt.Sprintf("delete of %s seen through node 3 (GET by %s)", imgB, ref), deleted, func() (bool, string, error) {
			d, err := cl.manifestDigest(ctx, n3, repo, ref)
			return d == "", "still served: " + d, err
		})
	}
}

// waitVisible polls check (bounded by 5 s) until it reports done, and fails
// the test if that took longer than visibleWithin after since.
func waitVisible(ctx context.Context, t *testing.T, what string, since time.Time, check func() (done bool, state string, err error)) {
	t.Helper()
	deadline := since.Add(5 * time.Second)
	var state string
	for polls := 0; polls < 1000; polls++ {
		done, st, err := check()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		state = st
		if done {
			took := time.Since(since)
			if took > visibleWithin {
				t.Errorf("%s: took %s, more than %s", what, took.Round(time.Millisecond), visibleWithin)
			} else {
				t.Logf("%s: after %s", what, took.Round(time.Millisecond))
			}
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%s: not seen %s later (limit %s); last state: %s", what, time.Since(since).Round(time.Millisecond), visibleWithin, state)
}

// TestClusterNodeKilledMidPush: workers push images concurrently through
// node 1, which is killed with SIGKILL mid-flight; each worker then pushes
// the image that failed again, from scratch, through node 2. Every image
// acknowledged before the kill, and every retried one, is whole through
// node 3, and so is every tag the cluster lists.
func TestClusterNodeKilledMidPush(t *testing.T) {
	eng := newClusterEngines(t)
	nodes := eng.startNodes(t, []string{"node1", "node2", "node3"}, nil)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	cl := newRegClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const workers = 4
	const maxImages = 100 // per worker
	var (
		mu       sync.Mutex
		acked    []clusterImage
		retried  []clusterImage
		failures []error
		killed   atomic.Bool
		wg       sync.WaitGroup
	)
	pushCtx, stopPushing := context.WithTimeout(ctx, 45*time.Second)
	defer stopPushing()
	for w := range workers {
		rng := newRNG(t, fmt.Sprintf("worker %d", w))
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo := fmt.Sprintf("cluster/kill/w%d", w)
			for i := 0; i < maxImages && pushCtx.Err() == nil; i++ {
				tag := fmt.Sprintf("t%d", i)
				// Worker 0's big layer spans two S3 parts; the others
				// stay below one part (tail segments only).
				size := 256<<10 + int(rng.Uint64()%(1<<20))
				if w == 0 {
					size = 9<<20 + int(rng.Uint64()%(1<<20))
				}
				img := newClusterImage(repo, tag, imageConfig(repo+":"+tag), randomBytes(rng, size), randomBytes(rng, 1024+int(rng.Uint64()%4096)))
				opts := pushOptions{chunk: 512 << 10}
				if w == 0 {
					opts.chunk = 3 << 20
				}
				err := cl.pushImage(pushCtx, n1, img, opts)
				if err == nil {
					mu.Lock()
					acked = append(acked, img)
					mu.Unlock()
					continue
				}
				if !killed.Load() {
					mu.Lock()
					failures = append(failures, fmt.Errorf("worker %d: %s through node 1 before the kill: %w", w, img, err))
					mu.Unlock()
					return
				}
				// Node 1 is gone: start this image over on node 2.
				t.Logf("worker %d: %s failed on node 1 (%v); retrying on node 2", w, img, err)
				if err := cl.pushImage(ctx, n2, img, opts); err != nil {
					mu.Lock()
					failures = append(failures, fmt.Errorf("worker %d: retrying %s through node 2: %w", w, img, err))
					mu.Unlock()
					return
				}
				mu.Lock()
				retried = append(retried, img)
				mu.Unlock()
				return
			}
		}()
	}

	// Let every worker get a couple of images through, then kill node 1.
	waitStart := time.Now()
	for time.Since(waitStart) < 30*time.Second {
		mu.Lock()
		n, nf := len(acked), len(failures)
		mu.Unlock()
		if n >= 2*workers || nf > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond)
	killed.Store(true)
	n1.kill(t)
	mu.Lock()
	t.Logf("node 1 killed (SIGKILL) after %d acknowledged pushes", len(acked))
	mu.Unlock()
	wg.Wait()
	if err := errors.Join(failures...); err != nil {
		t.Fatal(err)
	}
	if len(acked) < workers {
		t.Fatalf("only %d images acknowledged before the kill; the test needs at least %d", len(acked), workers)
	}
	if len(retried) != workers {
		t.Errorf("%d images retried on node 2, want one per worker (%d): the kill did not land mid-flight", len(retried), workers)
	}
	t.Logf("%d images acknowledged through node 1 before the kill, %d retried through node 2", len(acked), len(retried))

	errs := cl.verifyImages(ctx, n3, append(append([]clusterImage(nil), acked...), retried...), true)
	total := 0
	for w := range workers {
		n, err := cl.verifyListedTags(ctx, n3, fmt.Sprintf("cluster/kill/w%d", w))
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		t.Fatalf("through node 3 after node 1 was killed:\n%v", firstErrors(errs, 20))
	}
	t.Logf("%d images and %d listed tags whole through node 3", len(acked)+len(retried), total)
}

// TestClusterGCWhilePushing: node 3 collects garbage every second with no
// grace period while nodes 1 and 2 push images that share layers (HEAD
// first, skipping the blobs already there, as docker does) and delete some
// of them again, so that shared layers keep becoming garbage while other
// pushes reuse them; `wharf gc` also runs in a loop as a separate process.
// With no grace, a push may fail cleanly with MANIFEST_BLOB_UNKNOWN (a layer
// it uploaded or skipped was collected before its manifest came) and is then
// pushed once more (an image failing twice is given up, not acknowledged);
// every acknowledged image that was not deleted must stay whole.
func TestClusterGCWhilePushing(t *testing.T) {
	eng := newClusterEngines(t)
	// gc_grace must be positive: 1ns is "no grace".
	const grace = "1ns"
	// Without the recycle bin, a deleted image's blobs are garbage at once
	// (the bin would keep them for its retention).
	nodes := eng.startNodes(t, []string{"node1", "node2", "node3"}, func(i int) []string {
		if i == 2 {
			return []string{"--gc-interval", "1s", "--gc-grace", grace, "--recycle-bin-retention", "0"}
		}
		return []string{"--recycle-bin-retention", "0"}
	})
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	cl := newRegClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The shared layers.
	poolRNG := newRNG(t, "layer pool")
	var pool [][]byte
	for _, size := range []int{16 << 10, 48 << 10, 128 << 10, 256 << 10, 512 << 10, 1536 << 10} {
		pool = append(pool, randomBytes(poolRNG, size))
	}

	const (
		workers     = 4 // two through node 1, two through node 2
		pushFor     = 6 * time.Second
		maxImages   = 200 // per worker
		maxAttempts = 2   // a push failing with MANIFEST_BLOB_UNKNOWN is retried once
		gcPause     = 500 * time.Millisecond
	)
	type result struct {
		live            []clusterImage // acknowledged and not deleted
		deleted         int
		pushes, retries int
		unluckyImages   int // failed with MANIFEST_BLOB_UNKNOWN again when retried
		errs            []error
	}
	results := make([]result, workers)
	pushCtx, stopPushing := context.WithTimeout(ctx, pushFor)
	defer stopPushing()
	var wg sync.WaitGroup
	for w := range workers {
		rng := newRNG(t, fmt.Sprintf("gc worker %d", w))
		via, other := n1, n2
		if w%2 == 1 {
			via, other = n2, n1
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[w]
			repo := fmt.Sprintf("cluster/gc/r%d", w/2) // each repository is pushed to through both nodes
			for i := 0; i < maxImages && pushCtx.Err() == nil; i++ {
				tag := fmt.Sprintf("w%d-%d", w, i)
				a, b := rng.Uint64()%uint64(len(pool)), rng.Uint64()%uint64(len(pool))
				layers := [][]byte{pool[a]}
				if b != a {
					layers = append(layers, pool[b])
				}
				layers = append(layers, randomBytes(rng, 2048)) // one layer of its own
				img := newClusterImage(repo, tag, imageConfig(repo+":"+tag), layers...)
				var err error
				for attempt := 1; attempt <= maxAttempts; attempt++ {
					res.pushes++
					// ctx, not pushCtx: a started push is finished.
					err = cl.pushImage(ctx, via, img, pushOptions{chunk: 512 << 10, skipExisting: true})
					if !hasCode(err, "MANIFEST_BLOB_UNKNOWN") {
						break
					}
					if attempt < maxAttempts {
						res.retries++
					}
				}
				switch {
				case hasCode(err, "MANIFEST_BLOB_UNKNOWN"):
					res.unluckyImages++
					continue
				case err != nil:
					res.errs = append(res.errs, fmt.Errorf("worker %d: %s: %w", w, img, err))
					return
				}
				res.live = append(res.live, img)
				// Every third image, delete an earlier one of ours through
				// the other node: its layers become garbage unless
				// something else uses them.
				if i%3 == 2 && len(res.live) >= 2 {
					victim := res.live[0]
					res.live = res.live[1:]
					if _, _, err := cl.do(ctx, other, http.MethodDelete, "/v2/"+victim.repo+"/manifests/"+victim.digest(), nil, nil, http.StatusAccepted); err != nil {
						res.errs = append(res.errs, fmt.Errorf("worker %d: deleting %s: %w", w, victim, err))
						return
					}
					res.deleted++
				}
			}
		}()
	}
	// `wharf gc` as a separate process, in a loop while the pushes run.
	var gcRuns, gcDeleted int
	var gcErrs []error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 30 && pushCtx.Err() == nil; i++ {
			n, _, err := eng.runGC(ctx, grace)
			if err != nil {
				gcErrs = append(gcErrs, err)
				continue
			}
			gcRuns++
			gcDeleted += n
			select {
			case <-pushCtx.Done():
			case <-time.After(gcPause):
			}
		}
	}()
	wg.Wait()
	// Give node 3's collector two more runs on the final state.
	time.Sleep(2500 * time.Millisecond)

	var live []clusterImage
	var errs []error
	var pushes, retries, unlucky, deletedImages int
	for _, r := range results {
		live = append(live, r.live...)
		errs = append(errs, r.errs...)
		pushes += r.pushes
		retries += r.retries
		unlucky += r.unluckyImages
		deletedImages += r.deleted
	}
	if len(errs) > 0 {
		t.Fatalf("pushes failed other than cleanly with MANIFEST_BLOB_UNKNOWN:\n%v", firstErrors(errs, 20))
	}
	// GC is a queued job: any node may run a bucket's collection.
	var runs, deleted int
	var failed []string
	for _, n := range nodes {
		r, d, f := gcLogStats(n)
		runs, deleted, failed = runs+r, deleted+d, append(failed, f...)
	}
	t.Logf("%d images acknowledged (%d deleted again, %d live) in %d pushes; %d retries after MANIFEST_BLOB_UNKNOWN, "+
		"%d images given up after %d attempts; the nodes collected %d times deleting %d blobs, `wharf gc` ran %d times deleting %d blobs",
		len(live)+deletedImages, deletedImages, len(live), pushes, retries, unlucky, maxAttempts, runs, deleted, gcRuns, gcDeleted)
	if len(gcErrs) > 0 {
		t.Errorf("`wharf gc` failed while pushes ran:\n%v", firstErrors(gcErrs, 5))
	}
	if len(failed) > 0 {
		t.Errorf("the nodes' collectors failed %d times:\n%s", len(failed), strings.Join(failed[:min(len(failed), 5)], "\n"))
	}
	if len(live) < workers {
		t.Fatalf("only %d live images acknowledged: the test did not exercise much", len(live))
	}
	if runs < 3 {
		t.Errorf("the nodes' collectors ran %d times (want at least 3 in the test's %s)", runs, pushFor)
	}
	if deleted+gcDeleted == 0 {
		t.Errorf("the collectors deleted nothing although %d images were deleted: the test did not exercise GC", deletedImages)
	}

	for _, s := range []*wharfServer{n3, n1} {
		errs = append(errs, cl.verifyImages(ctx, s, live, true)...)
		for r := range workers / 2 {
			if _, err := cl.verifyListedTags(ctx, s, fmt.Sprintf("cluster/gc/r%d", r)); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			t.Fatalf("acknowledged images not whole through %s after GC:\n%v", s.Addr, firstErrors(errs, 20))
		}
	}
}

// TestClusterConformance runs both OCI conformance suites (as
// conformance_test.go does) against node 2 of a three-node cluster.
func TestClusterConformance(t *testing.T) {
	eng := newClusterEngines(t)
	nodes := eng.startNodes(t, []string{"node1", "node2", "node3"}, nil)
	s := nodes[1]
	t.Run("V111", func(t *testing.T) { conformanceV111(t, s) })
	t.Run("Next", func(t *testing.T) { conformanceNext(t, s) })
}
