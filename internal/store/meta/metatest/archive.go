package metatest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Image statuses, pull-time update exclusions and lifecycle plans.

func status(t *testing.T, s meta.Store, repoID int64, d string) meta.Manifest {
	t.Helper()
	m, err := s.GetManifest(ctx(t), repoID, d)
	must(t, err)
	return m
}

func testImageStatus(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	m := push(t, s, r.ID, "one", "v1")
	sig := meta.Manifest{RepoID: r.ID, Digest: dg("sig"), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Subject: m.Digest, Size: 3, Content: []byte("sig")}
	must(t, s.PutManifest(c, meta.PutManifest{Manifest: sig}))

	got := status(t, s, r.ID, m.Digest)
	first := got
	equal(t, "new image status", got.Status, meta.ImageActive)
	if !got.ArchivedAt.IsZero() || !got.ActivatedAt.IsZero() {
		t.Fatalf("new image: archived %v, activated %v", got.ArchivedAt, got.ActivatedAt)
	}

	active := []string{meta.ImageActive}
	archived := []string{meta.ImageArchived}
	must(t, s.SetImageStatus(c, r.ID, m.Digest, active, meta.ImageArchived, fixed))
	got = status(t, s, r.ID, m.Digest)
	equal(t, "archived status", got.Status, meta.ImageArchived)
	equalTime(t, "archived at", got.ArchivedAt, fixed)

	// A move from a status the image is not in is refused with its status.
	err := s.SetImageStatus(c, r.ID, m.Digest, active, meta.ImageArchived, fixed.Add(time.Hour))
	wantErr(t, err, meta.ErrConflict)
	var se *meta.StatusError
	if !errors.As(err, &se) || se.Status != meta.ImageArchived {
		t.Fatalf("conflict error %v, want a StatusError of %s", err, meta.ImageArchived)
	}
	equalTime(t, "archived at unchanged", status(t, s, r.ID, m.Digest).ArchivedAt, fixed)
	wantErr(t, s.SetImageStatus(c, r.ID, dg("none"), active, meta.ImageArchived, fixed), meta.ErrNotFound)
	if err := s.SetImageStatus(c, r.ID, m.Digest, archived, "FROZEN", fixed); err == nil {
		t.Fatal("unknown status accepted")
	}

	// Listings carry the status; the image keeps its tags and references.
	ims, err := s.ListImages(c, r.ID, "", 0)
	must(t, err)
	for _, im := range ims {
		if im.Digest == m.Digest && (im.Status != meta.ImageArchived || !im.ArchivedAt.Equal(fixed) || len(im.Tags) != 1) {
			t.Fatalf("listed archived image: %+v", im.Manifest)
		}
	}
	im, err := s.GetImage(c, r.ID, m.Digest)
	must(t, err)
	equal(t, "GetImage status", im.Status, meta.ImageArchived)
	equal(t, "tag kept", resolve(t, s, r.ID, "v1"), m.Digest)

	// Restore: ACTIVATING, then ACTIVE with the activation time; the
	// archive time stays (the last archive).
	must(t, s.SetImageStatus(c, r.ID, m.Digest, archived, meta.ImageActivating, fixed.Add(time.Minute)))
	got = status(t, s, r.ID, m.Digest)
	equal(t, "activating", got.Status, meta.ImageActivating)
	if !got.ActivatedAt.IsZero() {
		t.Fatalf("activated at %v while activating", got.ActivatedAt)
	}
	restored := fixed.Add(2 * time.Minute)
	must(t, s.SetImageStatus(c, r.ID, m.Digest, []string{meta.ImageActivating}, meta.ImageActive, restored))
	got = status(t, s, r.ID, m.Digest)
	equal(t, "restored", got.Status, meta.ImageActive)
	equalTime(t, "activated at", got.ActivatedAt, restored)
	equalTime(t, "last archived at", got.ArchivedAt, fixed)

	// Referrers report their own status.
	must(t, s.SetImageStatus(c, r.ID, sig.Digest, active, meta.ImageArchived, fixed))
	refs, err := s.ListReferrers(c, r.ID, m.Digest)
	must(t, err)
	if len(refs) != 1 || refs[0].Status != meta.ImageArchived {
		t.Fatalf("referrers: %+v", refs)
	}

	// Pushing an archived image again restores it at once.
	must(t, s.SetImageStatus(c, r.ID, m.Digest, active, meta.ImageArchived, fixed.Add(time.Hour)))
	before := time.Now().Add(-time.Minute)
	push(t, s, r.ID, "one", "")
	got = status(t, s, r.ID, m.Digest)
	equal(t, "re-pushed", got.Status, meta.ImageActive)
	if got.ActivatedAt.Before(before) {
		t.Fatalf("re-push activated at %v, want about now", got.ActivatedAt)
	}
	equalTime(t, "re-push keeps push time", got.PushedAt, first.PushedAt)

	// A copy between stores writes the state as it is.
	must(t, s.RestoreImageState(c, r.ID, m.Digest, meta.ImageActivating, fixed, fixed.Add(time.Second)))
	got = status(t, s, r.ID, m.Digest)
	if got.Status != meta.ImageActivating || !got.ArchivedAt.Equal(fixed) || !got.ActivatedAt.Equal(fixed.Add(time.Second)) {
		t.Fatalf("restored state: %s %v %v", got.Status, got.ArchivedAt, got.ActivatedAt)
	}
	must(t, s.RestoreImageState(c, r.ID, m.Digest, meta.ImageActive, time.Time{}, time.Time{}))
	got = status(t, s, r.ID, m.Digest)
	if got.Status != meta.ImageActive || !got.ArchivedAt.IsZero() || !got.ActivatedAt.IsZero() {
		t.Fatalf("restored state: %s %v %v", got.Status, got.ArchivedAt, got.ActivatedAt)
	}
	wantErr(t, s.RestoreImageState(c, r.ID, dg("none"), meta.ImageActive, time.Time{}, time.Time{}), meta.ErrNotFound)

	// Concurrent archives of one image: exactly one wins.
	other := push(t, s, r.ID, "two", "")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Go(func() {
			err := s.SetImageStatus(c, r.ID, other.Digest, active, meta.ImageArchived, fixed)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, meta.ErrConflict):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	equal(t, "archives won", wins.Load(), int32(1))
}

func testPullTimeExclusions(t *testing.T, s meta.Store) {
	c := ctx(t)
	arn := func(i int) string { return fmt.Sprintf("arn:aws:iam::%s:role/ci-%02d", account, i) }
	e, err := s.PutPullTimeExclusion(c, meta.PullTimeExclusion{AccountID: account, PrincipalARN: arn(1), CreatedAt: fixed}, 3)
	must(t, err)
	equalTime(t, "created at", e.CreatedAt, fixed)
	_, err = s.PutPullTimeExclusion(c, meta.PullTimeExclusion{AccountID: account, PrincipalARN: arn(1)}, 3)
	wantErr(t, err, meta.ErrExists)
	for _, i := range []int{3, 2} {
		e, err := s.PutPullTimeExclusion(c, meta.PullTimeExclusion{AccountID: account, PrincipalARN: arn(i)}, 3)
		must(t, err)
		if e.CreatedAt.IsZero() {
			t.Fatal("zero CreatedAt not set to now")
		}
	}
	_, err = s.PutPullTimeExclusion(c, meta.PullTimeExclusion{AccountID: account, PrincipalARN: arn(4)}, 3)
	wantErr(t, err, meta.ErrLimitExceeded)
	// Per account.
	_, err = s.PutPullTimeExclusion(c, meta.PullTimeExclusion{AccountID: "210987654321", PrincipalARN: arn(4)}, 3)
	must(t, err)

	list := func(after string, limit int) []string {
		es, err := s.ListPullTimeExclusions(c, account, after, limit)
		must(t, err)
		var out []string
		for _, e := range es {
			equal(t, "listed account", e.AccountID, account)
			out = append(out, e.PrincipalARN)
		}
		return out
	}
	equalSlice(t, "all", list("", 0), []string{arn(1), arn(2), arn(3)})
	equalSlice(t, "page 1", list("", 2), []string{arn(1), arn(2)})
	equalSlice(t, "page 2", list(arn(2), 2), []string{arn(3)})

	must(t, s.DeletePullTimeExclusion(c, account, arn(2)))
	wantErr(t, s.DeletePullTimeExclusion(c, account, arn(2)), meta.ErrNotFound)
	wantErr(t, s.DeletePullTimeExclusion(c, account, arn(4)), meta.ErrNotFound)
	equalSlice(t, "after delete", list("", 0), []string{arn(1), arn(3)})
	_, err = s.PutPullTimeExclusion(c, meta.PullTimeExclusion{AccountID: account, PrincipalARN: arn(4)}, 3)
	must(t, err)
}

func testLifecyclePlans(t *testing.T, s meta.Store) {
	c := ctx(t)
	r := repo(t, s, "app")
	doc := `{"rules":[]}`
	must(t, s.PutLifecyclePolicy(c, meta.LifecyclePolicy{RepoID: r.ID, Text: doc}))

	_, err := s.GetLifecyclePlan(c, r.ID)
	wantErr(t, err, meta.ErrNotFound)
	plan := meta.LifecyclePlan{RepoID: r.ID, PolicyText: doc, AsOf: fixed, Actions: []meta.LifecyclePlanAction{
		{Digest: dg("b"), Action: "EXPIRE", RulePriority: 2, Tags: []string{"v1", "latest"}, Status: meta.ImageArchived},
		{Digest: dg("a"), Action: "TRANSITION", RulePriority: 1, Status: meta.ImageActive},
	}}
	got, created, err := s.StartLifecyclePlan(c, plan)
	must(t, err)
	if !created || got.ID == 0 || !got.AsOf.Equal(fixed) || len(got.Actions) != 2 || got.CreatedAt.IsZero() {
		t.Fatalf("started plan %+v (created %v)", got, created)
	}
	// A second start returns the plan in progress, actions in order.
	again, created, err := s.StartLifecyclePlan(c, meta.LifecyclePlan{RepoID: r.ID, PolicyText: "other", Actions: plan.Actions[:1]})
	must(t, err)
	if created || again.ID != got.ID || again.PolicyText != doc {
		t.Fatalf("second start: %+v (created %v)", again, created)
	}
	stored, err := s.GetLifecyclePlan(c, r.ID)
	must(t, err)
	equal(t, "stored id", stored.ID, got.ID)
	if len(stored.Actions) != 2 {
		t.Fatalf("stored actions %+v", stored.Actions)
	}
	a0, a1 := stored.Actions[0], stored.Actions[1]
	if a0.Digest != dg("b") || a0.Action != "EXPIRE" || a0.RulePriority != 2 || fmt.Sprint(a0.Tags) != "[v1 latest]" || a0.State != meta.PlanPending ||
		a0.Status != meta.ImageArchived ||
		a1.Digest != dg("a") || a1.Action != "TRANSITION" || len(a1.Tags) != 0 || a1.State != meta.PlanPending || a1.Status != meta.ImageActive {
		t.Fatalf("stored actions %+v", stored.Actions)
	}

	// An action finishes once, its audit event with it; concurrent
	// finishers record one event.
	ev := &meta.AuditEvent{AccountID: account, Repository: "app", Action: "lifecycle.expire", Actor: "system:lifecycle", Digest: dg("b")}
	var moved atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Go(func() {
			ok, err := s.FinishLifecycleAction(c, got.ID, dg("b"), meta.PlanDone, ev)
			if err != nil {
				t.Error(err)
			}
			if ok {
				moved.Add(1)
			}
		})
	}
	wg.Wait()
	equal(t, "finishers that moved the action", moved.Load(), int32(1))
	evs, err := s.ListAudit(c, meta.AuditFilter{Action: "lifecycle.expire"})
	must(t, err)
	equal(t, "audit events", len(evs), 1)
	equal(t, "audit digest", evs[0].Digest, dg("b"))

	ok, err := s.FinishLifecycleAction(c, got.ID, dg("a"), meta.PlanSkipped, nil)
	must(t, err)
	equal(t, "skipped", ok, true)
	ok, err = s.FinishLifecycleAction(c, got.ID, dg("a"), meta.PlanDone, ev)
	must(t, err)
	equal(t, "finish a finished action", ok, false)
	ok, err = s.FinishLifecycleAction(c, got.ID, dg("nothing"), meta.PlanDone, ev)
	must(t, err)
	equal(t, "finish an unknown action", ok, false)
	if _, err := s.FinishLifecycleAction(c, got.ID, dg("a"), meta.PlanPending, nil); err == nil {
		t.Fatal("finishing to pending accepted")
	}
	evs, err = s.ListAudit(c, meta.AuditFilter{})
	must(t, err)
	equal(t, "audit events after skips", len(evs), 1)
	stored, err = s.GetLifecyclePlan(c, r.ID)
	must(t, err)
	equal(t, "state b", stored.Actions[0].State, meta.PlanDone)
	equal(t, "state a", stored.Actions[1].State, meta.PlanSkipped)

	// Ending the plan records the evaluation; a stale plan id is refused.
	wantErr(t, s.EndLifecyclePlan(c, r.ID, got.ID+100, fixed), meta.ErrNotFound)
	evaluated := fixed.Add(time.Hour)
	must(t, s.EndLifecyclePlan(c, r.ID, got.ID, evaluated))
	_, err = s.GetLifecyclePlan(c, r.ID)
	wantErr(t, err, meta.ErrNotFound)
	p, err := s.GetLifecyclePolicy(c, r.ID)
	must(t, err)
	equalTime(t, "last evaluated", p.LastEvaluatedAt, evaluated)
	wantErr(t, s.EndLifecyclePlan(c, r.ID, got.ID, evaluated), meta.ErrNotFound)
	ok, err = s.FinishLifecycleAction(c, got.ID, dg("b"), meta.PlanDone, ev)
	must(t, err)
	equal(t, "finish in an ended plan", ok, false)

	// The next plan has a larger id; ending without a time leaves the
	// evaluation time alone.
	next, created, err := s.StartLifecyclePlan(c, plan)
	must(t, err)
	if !created || next.ID <= got.ID {
		t.Fatalf("next plan %d (created %v) after %d", next.ID, created, got.ID)
	}
	must(t, s.EndLifecyclePlan(c, r.ID, next.ID, time.Time{}))
	p, err = s.GetLifecyclePolicy(c, r.ID)
	must(t, err)
	equalTime(t, "last evaluated kept", p.LastEvaluatedAt, evaluated)

	// Missing repository; the plan goes with its repository.
	_, _, err = s.StartLifecyclePlan(c, meta.LifecyclePlan{RepoID: r.ID + 1000, PolicyText: doc})
	wantErr(t, err, meta.ErrNotFound)
	_, _, err = s.StartLifecyclePlan(c, plan)
	must(t, err)
	must(t, s.DeleteRepository(c, r.ID, true))
	_, err = s.GetLifecyclePlan(c, r.ID)
	wantErr(t, err, meta.ErrNotFound)
}

func testListLifecycleRepositories(t *testing.T, s meta.Store) {
	c := ctx(t)
	doc := `{"rules":[]}`
	var withPolicy []int64
	for i := 0; i < 5; i++ {
		r := repo(t, s, fmt.Sprintf("app%d", i))
		if i%2 == 0 {
			must(t, s.PutLifecyclePolicy(c, meta.LifecyclePolicy{RepoID: r.ID, Text: doc}))
			withPolicy = append(withPolicy, r.ID)
		}
	}
	o, err := s.CreateRepository(c, meta.Repository{AccountID: "210987654321", Name: "app0", TagMutability: "MUTABLE"})
	must(t, err)
	must(t, s.PutLifecyclePolicy(c, meta.LifecyclePolicy{RepoID: o.ID, Text: doc}))
	withPolicy = append(withPolicy, o.ID)

	ids := func(after int64, limit int) []int64 {
		rs, err := s.ListLifecycleRepositories(c, after, limit)
		must(t, err)
		var out []int64
		for _, r := range rs {
			if r.Name == "" || r.AccountID == "" {
				t.Fatalf("incomplete repository %+v", r)
			}
			out = append(out, r.ID)
		}
		return out
	}
	equalSlice(t, "all", ids(0, 0), withPolicy)
	equalSlice(t, "page", ids(withPolicy[0], 2), withPolicy[1:3])
	_, err = s.DeleteLifecyclePolicy(c, withPolicy[1])
	must(t, err)
	equalSlice(t, "after delete", ids(0, 0), []int64{withPolicy[0], withPolicy[2], withPolicy[3]})
}
