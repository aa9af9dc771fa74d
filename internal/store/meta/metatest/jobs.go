package metatest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// The job queue.

func enqueue(t *testing.T, s meta.Store, j meta.Job) (meta.Job, bool) {
	t.Helper()
	out, created, err := s.Enqueue(ctx(t), j)
	must(t, err)
	return out, created
}

func pendingJobs(t *testing.T, s meta.Store, kind string) []meta.Job {
	t.Helper()
	js, err := s.ListJobs(ctx(t), kind)
	must(t, err)
	return js
}

func testJobsEnqueueDedup(t *testing.T, s meta.Store) {
	past := time.Now().Add(-time.Minute)
	a, created := enqueue(t, s, meta.Job{Kind: "scan", Key: "scan:1", Payload: []byte("p1"), RunAt: past})
	if !created || a.ID == 0 {
		t.Fatalf("first enqueue: created %v, id %d", created, a.ID)
	}
	equal(t, "payload", string(a.Payload), "p1")
	b, created := enqueue(t, s, meta.Job{Kind: "scan", Key: "scan:1", Payload: []byte("p2")})
	if created || b.ID != a.ID || string(b.Payload) != "p1" {
		t.Fatalf("second enqueue: created %v, id %d (want %d), payload %q", created, b.ID, a.ID, b.Payload)
	}
	// Empty keys never deduplicate.
	enqueue(t, s, meta.Job{Kind: "scan"})
	enqueue(t, s, meta.Job{Kind: "scan"})
	enqueue(t, s, meta.Job{Kind: "other", Key: "other:1"})
	equal(t, "scan jobs", len(pendingJobs(t, s, "scan")), 3)
	equal(t, "all jobs", len(pendingJobs(t, s, "")), 4)

	// Concurrent enqueues of one key create one job.
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdN := 0
	for range 8 {
		wg.Go(func() {
			_, c, err := s.Enqueue(ctx(t), meta.Job{Kind: "gc", Key: "gc:42"})
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				mu.Lock()
				createdN++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	equal(t, "concurrent creations", createdN, 1)
	equal(t, "gc jobs", len(pendingJobs(t, s, "gc")), 1)
}

func testJobsClaimOnce(t *testing.T, s meta.Store) {
	c := ctx(t)
	past := time.Now().Add(-time.Minute)
	const n = 30
	for i := range n {
		enqueue(t, s, meta.Job{Kind: "work", Key: fmt.Sprintf("work:%d", i), RunAt: past.Add(time.Duration(i) * time.Millisecond)})
	}
	future, _ := enqueue(t, s, meta.Job{Kind: "work", Key: "later", RunAt: time.Now().Add(time.Hour)})
	other, _ := enqueue(t, s, meta.Job{Kind: "other", RunAt: past})

	// Oldest first, kinds filtered.
	first, ok, err := s.Claim(c, []string{"work"}, "w0", time.Minute)
	must(t, err)
	if !ok || first.Key != "work:0" || first.LeasedBy != "w0" || !first.LeaseUntil.After(time.Now()) {
		t.Fatalf("first claim: ok %v, %+v", ok, first)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]string{first.ID: "w0"}
	for w := range 8 {
		worker := fmt.Sprintf("w%d", w+1)
		wg.Go(func() {
			for {
				j, ok, err := s.Claim(ctx(t), []string{"work", "nothing"}, worker, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				if prev, dup := seen[j.ID]; dup {
					t.Errorf("job %d claimed by %s and %s", j.ID, prev, worker)
				}
				seen[j.ID] = worker
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	equal(t, "claimed", len(seen), n)
	if _, ok := seen[future.ID]; ok {
		t.Fatal("a job not yet due was claimed")
	}
	if _, ok := seen[other.ID]; ok {
		t.Fatal("a job of another kind was claimed")
	}
	// No kinds: any kind.
	j, ok, err := s.Claim(c, nil, "w9", time.Minute)
	must(t, err)
	if !ok || j.ID != other.ID {
		t.Fatalf("claim of any kind: ok %v, %+v", ok, j)
	}
	_, ok, err = s.Claim(c, nil, "w9", time.Minute)
	must(t, err)
	if ok {
		t.Fatal("claimed with nothing due")
	}
}

func testJobsLeaseExpiry(t *testing.T, s meta.Store) {
	c := ctx(t)
	a, _ := enqueue(t, s, meta.Job{Kind: "k", Key: "k1"})
	const lease = 300 * time.Millisecond
	j, ok, err := s.Claim(c, []string{"k"}, "dead", lease)
	must(t, err)
	if !ok || j.ID != a.ID {
		t.Fatalf("claim: ok %v, %+v", ok, j)
	}
	if _, ok, _ := s.Claim(c, []string{"k"}, "alive", lease); ok {
		t.Fatal("a leased job was claimed again")
	}
	// Extending keeps it.
	must(t, s.Extend(c, a.ID, "dead", lease))
	wantErr(t, s.Extend(c, a.ID, "alive", lease), meta.ErrLeaseLost)
	time.Sleep(lease + 100*time.Millisecond)
	// The lease ran out (the worker died): the job is claimable again.
	j, ok, err = s.Claim(c, []string{"k"}, "alive", time.Minute)
	must(t, err)
	if !ok || j.ID != a.ID || j.LeasedBy != "alive" {
		t.Fatalf("claim after expiry: ok %v, %+v", ok, j)
	}
	// The first worker lost it.
	wantErr(t, s.Complete(c, a.ID, "dead"), meta.ErrLeaseLost)
	wantErr(t, s.Fail(c, a.ID, "dead", "x", time.Now()), meta.ErrLeaseLost)
	wantErr(t, s.Extend(c, a.ID, "dead", lease), meta.ErrLeaseLost)
	must(t, s.Complete(c, a.ID, "alive"))
	equal(t, "pending", len(pendingJobs(t, s, "")), 0)
}

func testJobsFailRetry(t *testing.T, s meta.Store) {
	c := ctx(t)
	a, _ := enqueue(t, s, meta.Job{Kind: "k", Key: "k1"})
	for attempt := 1; attempt <= 2; attempt++ {
		j, ok, err := s.Claim(c, []string{"k"}, "w", time.Minute)
		must(t, err)
		if !ok || j.ID != a.ID || j.Attempts != attempt-1 {
			t.Fatalf("claim %d: ok %v, %+v", attempt, ok, j)
		}
		wantErr(t, s.Fail(c, a.ID, "other", "boom", time.Now()), meta.ErrLeaseLost)
		retry := time.Now().Add(300 * time.Millisecond)
		must(t, s.Fail(c, a.ID, "w", fmt.Sprintf("boom %d", attempt), retry))
		js := pendingJobs(t, s, "k")
		if len(js) != 1 || js[0].Attempts != attempt || js[0].LastError != fmt.Sprintf("boom %d", attempt) ||
			js[0].LeasedBy != "" || !js[0].RunAt.Equal(time.Unix(0, retry.UnixNano()).UTC()) {
			t.Fatalf("after failure %d: %+v", attempt, js)
		}
		// Not before retryAt; the key stays taken meanwhile.
		if _, ok, _ := s.Claim(c, []string{"k"}, "w", time.Minute); ok {
			t.Fatal("a failed job was claimed before its retry time")
		}
		if _, created := enqueue(t, s, meta.Job{Kind: "k", Key: "k1"}); created {
			t.Fatal("key of a failed job was enqueued again")
		}
		time.Sleep(time.Until(retry) + 50*time.Millisecond)
	}
	j, ok, err := s.Claim(c, []string{"k"}, "w", time.Minute)
	must(t, err)
	if !ok || j.Attempts != 2 {
		t.Fatalf("final claim: ok %v, %+v", ok, j)
	}
	must(t, s.Complete(c, j.ID, "w"))
}

func testJobsComplete(t *testing.T, s meta.Store) {
	c := ctx(t)
	a, _ := enqueue(t, s, meta.Job{Kind: "k", Key: "k1"})
	wantErr(t, s.Complete(c, a.ID, "w"), meta.ErrLeaseLost) // not claimed
	j, ok, err := s.Claim(c, nil, "w", time.Minute)
	must(t, err)
	if !ok {
		t.Fatal("nothing claimed")
	}
	must(t, s.Complete(c, j.ID, "w"))
	wantErr(t, s.Complete(c, j.ID, "w"), meta.ErrLeaseLost)
	equal(t, "pending", len(pendingJobs(t, s, "")), 0)
	// The key is free again.
	if _, created := enqueue(t, s, meta.Job{Kind: "k", Key: "k1"}); !created {
		t.Fatal("key of a completed job not enqueued again")
	}
	j, _, err = s.Claim(c, nil, "w", time.Minute)
	must(t, err)
	must(t, s.Complete(c, j.ID, "w"))

	// KeepUntil keeps a completed job's key reserved until then.
	keep := time.Now().Add(300 * time.Millisecond)
	enqueue(t, s, meta.Job{Kind: "p", Key: "p:1", KeepUntil: keep})
	j, ok, err = s.Claim(c, nil, "w", time.Minute)
	must(t, err)
	if !ok || j.Key != "p:1" {
		t.Fatalf("claim kept job: ok %v, %+v", ok, j)
	}
	must(t, s.Complete(c, j.ID, "w"))
	equal(t, "pending after keep", len(pendingJobs(t, s, "")), 0)
	if _, ok, _ := s.Claim(c, nil, "w", time.Minute); ok {
		t.Fatal("a completed job was claimed")
	}
	if _, created := enqueue(t, s, meta.Job{Kind: "p", Key: "p:1"}); created {
		t.Fatal("kept key enqueued again")
	}
	time.Sleep(time.Until(keep) + 50*time.Millisecond)
	if _, created := enqueue(t, s, meta.Job{Kind: "p", Key: "p:1"}); !created {
		t.Fatal("key not enqueued again after its reservation ran out")
	}
}
