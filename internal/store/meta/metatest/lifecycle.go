package metatest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Lifecycle policies and previews.

func equalTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func testLifecyclePolicy(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	other := repo(t, s, "other")

	_, err := s.GetLifecyclePolicy(c, r.ID)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.DeleteLifecyclePolicy(c, r.ID)
	wantErr(t, err, meta.ErrNotFound)
	wantErr(t, s.SetLifecycleEvaluated(c, r.ID, fixed), meta.ErrNotFound)

	doc := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`
	must(t, s.PutLifecyclePolicy(c, meta.LifecyclePolicy{RepoID: r.ID, Text: doc, UpdatedAt: fixed}))
	p, err := s.GetLifecyclePolicy(c, r.ID)
	must(t, err)
	equal(t, "repo", p.RepoID, r.ID)
	equal(t, "text", p.Text, doc)
	equalTime(t, "updated at", p.UpdatedAt, fixed)
	if !p.LastEvaluatedAt.IsZero() {
		t.Fatalf("last evaluated %v, want zero", p.LastEvaluatedAt)
	}
	// Other repositories are unaffected.
	_, err = s.GetLifecyclePolicy(c, other.ID)
	wantErr(t, err, meta.ErrNotFound)

	evaluated := fixed.Add(time.Hour)
	must(t, s.SetLifecycleEvaluated(c, r.ID, evaluated))
	p, err = s.GetLifecyclePolicy(c, r.ID)
	must(t, err)
	equalTime(t, "last evaluated", p.LastEvaluatedAt, evaluated)

	// Replacing the text resets the evaluation time; a zero UpdatedAt is
	// now.
	doc2 := doc + " "
	must(t, s.PutLifecyclePolicy(c, meta.LifecyclePolicy{RepoID: r.ID, Text: doc2}))
	p, err = s.GetLifecyclePolicy(c, r.ID)
	must(t, err)
	equal(t, "replaced text", p.Text, doc2)
	if p.UpdatedAt.IsZero() || !p.LastEvaluatedAt.IsZero() {
		t.Fatalf("after replace: updated %v, last evaluated %v", p.UpdatedAt, p.LastEvaluatedAt)
	}
	must(t, s.SetLifecycleEvaluated(c, r.ID, evaluated))

	// Delete returns what it removed.
	del, err := s.DeleteLifecyclePolicy(c, r.ID)
	must(t, err)
	equal(t, "deleted text", del.Text, doc2)
	equalTime(t, "deleted last evaluated", del.LastEvaluatedAt, evaluated)
	_, err = s.GetLifecyclePolicy(c, r.ID)
	wantErr(t, err, meta.ErrNotFound)
	_, err = s.DeleteLifecyclePolicy(c, r.ID)
	wantErr(t, err, meta.ErrNotFound)

	// A missing repository.
	wantErr(t, s.PutLifecyclePolicy(c, meta.LifecyclePolicy{RepoID: r.ID + other.ID + 1000, Text: doc}), meta.ErrNotFound)

	// The policy goes with its repository.
	must(t, s.PutLifecyclePolicy(c, meta.LifecyclePolicy{RepoID: other.ID, Text: doc}))
	must(t, s.DeleteRepository(c, other.ID, false))
	again := repo(t, s, "other")
	_, err = s.GetLifecyclePolicy(c, again.ID)
	wantErr(t, err, meta.ErrNotFound)
}

func testLifecyclePreview(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	other := repo(t, s, "other")
	_, err := s.GetLifecyclePreview(c, r.ID)
	wantErr(t, err, meta.ErrNotFound)

	asOf := fixed.Add(30 * 24 * time.Hour)
	p1, err := s.CreateLifecyclePreview(c, meta.LifecyclePreview{RepoID: r.ID, PolicyText: "doc1", AsOf: asOf, StartedAt: fixed}, time.Time{})
	must(t, err)
	if p1.ID <= 0 {
		t.Fatalf("preview id %d", p1.ID)
	}
	equal(t, "status", p1.Status, meta.PreviewInProgress)
	equalTime(t, "as of", p1.AsOf, asOf)
	equalTime(t, "started", p1.StartedAt, fixed)
	got, err := s.GetLifecyclePreview(c, r.ID)
	must(t, err)
	equal(t, "id", got.ID, p1.ID)
	equal(t, "repo", got.RepoID, r.ID)
	equal(t, "text", got.PolicyText, "doc1")
	equal(t, "status", got.Status, meta.PreviewInProgress)
	equalTime(t, "as of", got.AsOf, asOf)
	equalTime(t, "started", got.StartedAt, fixed)
	if !got.FinishedAt.IsZero() || got.Results != nil {
		t.Fatalf("in progress preview finished at %v with results %q", got.FinishedAt, got.Results)
	}

	// Another start while this one runs is refused, unless it is
	// abandoned (started before abandonedBefore).
	_, err = s.CreateLifecyclePreview(c, meta.LifecyclePreview{RepoID: r.ID, PolicyText: "doc2"}, time.Time{})
	wantErr(t, err, meta.ErrPreviewInProgress)
	_, err = s.CreateLifecyclePreview(c, meta.LifecyclePreview{RepoID: r.ID, PolicyText: "doc2"}, fixed)
	wantErr(t, err, meta.ErrPreviewInProgress)
	// Other repositories are independent.
	po, err := s.CreateLifecyclePreview(c, meta.LifecyclePreview{RepoID: other.ID, PolicyText: "other"}, time.Time{})
	must(t, err)

	p2, err := s.CreateLifecyclePreview(c, meta.LifecyclePreview{RepoID: r.ID, PolicyText: "doc2", StartedAt: fixed.Add(time.Hour)}, fixed.Add(time.Minute))
	must(t, err)
	if p2.ID <= p1.ID {
		t.Fatalf("new preview id %d, previous %d", p2.ID, p1.ID)
	}
	equalTime(t, "as of defaults to start", p2.AsOf, fixed.Add(time.Hour))

	// The replaced run cannot write its results any more.
	wantErr(t, s.SetLifecyclePreviewResult(c, meta.LifecyclePreview{RepoID: r.ID, ID: p1.ID, Status: meta.PreviewComplete}), meta.ErrNotFound)
	if err := s.SetLifecyclePreviewResult(c, meta.LifecyclePreview{RepoID: r.ID, ID: p2.ID, Status: meta.PreviewInProgress}); err == nil {
		t.Fatal("finished a preview with status IN_PROGRESS")
	}

	results := []byte(`[{"digest":"sha256:aa"}]`)
	finished := fixed.Add(2 * time.Hour)
	must(t, s.SetLifecyclePreviewResult(c, meta.LifecyclePreview{RepoID: r.ID, ID: p2.ID, Status: meta.PreviewComplete,
		FinishedAt: finished, Results: results, ExpiringCount: 3, TransitioningCount: 2, BytesFreed: 12345}))
	got, err = s.GetLifecyclePreview(c, r.ID)
	must(t, err)
	equal(t, "id", got.ID, p2.ID)
	equal(t, "status", got.Status, meta.PreviewComplete)
	equal(t, "text", got.PolicyText, "doc2")
	equal(t, "results", string(got.Results), string(results))
	equal(t, "expiring", got.ExpiringCount, 3)
	equal(t, "transitioning", got.TransitioningCount, 2)
	equal(t, "bytes freed", got.BytesFreed, 12345)
	equalTime(t, "finished", got.FinishedAt, finished)
	// Finished: it cannot be finished again.
	wantErr(t, s.SetLifecyclePreviewResult(c, meta.LifecyclePreview{RepoID: r.ID, ID: p2.ID, Status: meta.PreviewFailed}), meta.ErrNotFound)

	// A finished preview is replaced by the next start, results cleared.
	p3, err := s.CreateLifecyclePreview(c, meta.LifecyclePreview{RepoID: r.ID, PolicyText: "doc3"}, time.Time{})
	must(t, err)
	if p3.ID <= p2.ID || p3.StartedAt.IsZero() {
		t.Fatalf("third preview %+v", p3)
	}
	got, err = s.GetLifecyclePreview(c, r.ID)
	must(t, err)
	if got.Status != meta.PreviewInProgress || got.Results != nil || got.ExpiringCount != 0 || got.BytesFreed != 0 || !got.FinishedAt.IsZero() {
		t.Fatalf("restarted preview %+v", got)
	}
	must(t, s.SetLifecyclePreviewResult(c, meta.LifecyclePreview{RepoID: r.ID, ID: p3.ID, Status: meta.PreviewFailed, Reason: "boom"}))
	got, err = s.GetLifecyclePreview(c, r.ID)
	must(t, err)
	equal(t, "status", got.Status, meta.PreviewFailed)
	equal(t, "reason", got.Reason, "boom")
	if got.FinishedAt.IsZero() {
		t.Fatal("zero FinishedAt was not defaulted to now")
	}

	// The other repository's preview was untouched.
	got, err = s.GetLifecyclePreview(c, other.ID)
	must(t, err)
	equal(t, "other id", got.ID, po.ID)
	equal(t, "other status", got.Status, meta.PreviewInProgress)

	// A missing repository; previews go with their repository.
	_, err = s.CreateLifecyclePreview(c, meta.LifecyclePreview{RepoID: r.ID + other.ID + 1000, PolicyText: "x"}, time.Time{})
	wantErr(t, err, meta.ErrNotFound)
	must(t, s.DeleteRepository(c, other.ID, false))
	again := repo(t, s, "other")
	_, err = s.GetLifecyclePreview(c, again.ID)
	wantErr(t, err, meta.ErrNotFound)
}

// testLifecyclePreviewConcurrentStart: of concurrent starts on one
// repository exactly one wins; the others see ErrPreviewInProgress.
func testLifecyclePreviewConcurrentStart(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateLifecyclePreview(c, meta.LifecyclePreview{RepoID: r.ID, PolicyText: fmt.Sprint("doc", i)}, time.Time{})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, meta.ErrPreviewInProgress):
			t.Fatalf("concurrent start: %v", err)
		}
	}
	equal(t, "winners", won, 1)
	got, err := s.GetLifecyclePreview(c, r.ID)
	must(t, err)
	equal(t, "status", got.Status, meta.PreviewInProgress)
}
