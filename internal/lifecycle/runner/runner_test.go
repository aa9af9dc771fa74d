package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/lifecycle"
	"github.com/wharfhq/wharf/internal/lifecycle/runner"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

const account = "123456789012"

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// clock is the time every component of a fixture sees.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	t    testing.TB
	m    meta.Store
	reg  *registry.Service
	run  *runner.Runner
	repo meta.Repository
	clk  *clock
}

func setup(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	m, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.set(t0)
	if err := m.CreateAccount(ctx, meta.Account{ID: account, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(m, b, registry.Options{CreateOnPush: true, Clock: clk.now})
	repo, err := reg.Repository(ctx, account, "team/app", true)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &fixture{t: t, m: m, reg: reg, repo: repo, clk: clk, run: &runner.Runner{Registry: reg, Clock: clk.now, Logger: quiet}}
}

func sha(b []byte) string { return string(digest.FromBytes(b)) }

// push stores an image (its blobs linked, not uploaded: lifecycle never
// reads them) at the fixture's current time, tagged when tag is not "".
func (f *fixture) push(seed, tag string) string {
	f.t.Helper()
	ctx := context.Background()
	cfg, layer := []byte(`{"os":"linux","seed":"`+seed+`"}`), []byte("layer "+seed)
	for _, b := range [][]byte{cfg, layer} {
		if err := f.m.LinkBlob(ctx, f.repo.ID, meta.Blob{Digest: sha(b), Size: int64(len(b))}); err != nil {
			f.t.Fatal(err)
		}
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`, sha(cfg), len(cfg), sha(layer), len(layer)))
	return f.putManifest(tag, "application/vnd.oci.image.manifest.v1+json", m)
}

func (f *fixture) putManifest(tag, mediaType string, body []byte) string {
	f.t.Helper()
	ref := names.Reference{Tag: tag}
	if tag == "" {
		ref = names.Reference{Digest: digest.FromBytes(body)}
	}
	res, err := f.reg.PutManifest(context.Background(), f.repo, ref, mediaType, body, registry.Actor{Principal: "tester", Via: "test"})
	if err != nil {
		f.t.Fatal(err)
	}
	return string(res.Digest)
}

// index pushes an OCI index of children with tag.
func (f *fixture) index(tag string, children ...string) string {
	f.t.Helper()
	var descs []string
	for _, c := range children {
		m, err := f.m.GetManifest(context.Background(), f.repo.ID, c)
		if err != nil {
			f.t.Fatal(err)
		}
		descs = append(descs, fmt.Sprintf(`{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"amd%d"}}`,
			m.MediaType, c, m.Size, len(descs)))
	}
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.Join(descs, ",") + `]}`)
	return f.putManifest(tag, "application/vnd.oci.image.index.v1+json", body)
}

func (f *fixture) policy(text string) {
	f.t.Helper()
	if _, err := lifecycle.Parse([]byte(text)); err != nil {
		f.t.Fatal(err)
	}
	if err := f.m.PutLifecyclePolicy(context.Background(), meta.LifecyclePolicy{RepoID: f.repo.ID, Text: text}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) runNow() runner.Report {
	f.t.Helper()
	rep, err := f.run.RunRepository(context.Background(), f.repo, false)
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

// digests lists the repository's images by status.
func (f *fixture) digests(status string) []string {
	f.t.Helper()
	ims, err := f.m.ListImages(context.Background(), f.repo.ID, "", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, im := range ims {
		if registry.StatusOf(im.Manifest) == status {
			out = append(out, im.Digest)
		}
	}
	return out
}

func (f *fixture) audit(action string) []meta.AuditEvent {
	f.t.Helper()
	evs, err := f.m.ListAudit(context.Background(), meta.AuditFilter{Action: action})
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func eventDigests(evs []meta.AuditEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Digest)
	}
	return sorted(out...)
}

const pushedOver14Days = `{"rules":[{"rulePriority":3,"description":"two weeks",
 "selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`

// TestExpiresImagesOlderThanNDays: images pushed 25, 15 and 5 days before
// the run under a 14-day rule: the first two go, through the core's
// delete path (tags and tag history follow), one audit event each, and the
// policy's lastEvaluatedAt is the run's time. A second run does nothing.
func TestExpiresImagesOlderThanNDays(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.push("a", "v1")
	f.clk.advance(10 * day)
	b := f.push("b", "")
	f.clk.advance(10 * day)
	c := f.push("c", "v3")
	f.policy(pushedOver14Days)
	f.clk.advance(5 * day)
	runAt := f.clk.now()

	rep := f.runNow()
	if got := rep.Count(lifecycle.ActionExpire, meta.PlanDone); got != 2 {
		t.Fatalf("expired %d, want 2: %+v", got, rep)
	}
	if got, want := f.digests(meta.ImageActive), []string{c}; !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	if _, err := f.m.ResolveTag(ctx, f.repo.ID, "v1"); err == nil {
		t.Fatal("tag v1 of an expired image still resolves")
	}
	hist, err := f.m.TagHistory(ctx, f.repo.ID, "v1", 1)
	if err != nil || len(hist) != 1 || hist[0].Actor != runner.Actor || hist[0].Via != "lifecycle" || hist[0].From != a {
		t.Fatalf("tag history of v1: %+v %v", hist, err)
	}
	evs := f.audit(runner.AuditExpire)
	if got, want := eventDigests(evs), sorted(a, b); !slices.Equal(got, want) {
		t.Fatalf("audited %v, want %v", got, want)
	}
	for _, e := range evs {
		var d struct {
			RulePriority int      `json:"rulePriority"`
			Tags         []string `json:"tags"`
		}
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatal(err)
		}
		wantTags := []string{}
		if e.Digest == a {
			wantTags = []string{"v1"}
		}
		if e.Actor != runner.Actor || e.AccountID != account || e.Repository != "team/app" || d.RulePriority != 3 ||
			!slices.Equal(d.Tags, wantTags) || d.Tags == nil {
			t.Fatalf("audit event %+v detail %s", e, e.Detail)
		}
		if (e.Digest == a) != (e.Tag == "v1") {
			t.Fatalf("audit event tag %q for %s", e.Tag, e.Digest)
		}
	}
	p, err := f.m.GetLifecyclePolicy(ctx, f.repo.ID)
	if err != nil || !p.LastEvaluatedAt.Equal(runAt) {
		t.Fatalf("lastEvaluatedAt %v, want %v (%v)", p.LastEvaluatedAt, runAt, err)
	}
	if _, err := f.m.GetLifecyclePlan(ctx, f.repo.ID); err == nil {
		t.Fatal("plan left after the run")
	}

	// Idempotent: the next run acts on nothing and audits nothing.
	f.clk.advance(time.Hour)
	rep = f.runNow()
	if len(rep.Outcomes) != 0 {
		t.Fatalf("second run: %+v", rep.Outcomes)
	}
	if n := len(f.audit("lifecycle.")); n != 2 {
		t.Fatalf("%d audit events after two runs, want 2", n)
	}
	// Exactly 14 days is not older than 14 days.
	f.clk.set(runAt.Add(-5 * day).Add(14 * day))
	if rep := f.runNow(); len(rep.Outcomes) != 0 {
		t.Fatalf("image exactly 14 days old expired: %+v", rep.Outcomes)
	}
	f.clk.advance(time.Nanosecond)
	if rep := f.runNow(); rep.Count(lifecycle.ActionExpire, meta.PlanDone) != 1 {
		t.Fatalf("image just over 14 days old: %+v", rep.Outcomes)
	}
}

// TestCountAndDryRun: twelve v images, keep ten: a dry run reports the two
// oldest and changes nothing (not even lastEvaluatedAt); the run expires
// exactly those two.
func TestCountAndDryRun(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var ds []string
	for i := 1; i <= 12; i++ {
		ds = append(ds, f.push(fmt.Sprint(i), fmt.Sprintf("v%d", i)))
		f.clk.advance(time.Hour)
	}
	f.push("untagged", "")
	f.policy(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}`)

	dry, err := f.run.RunRepository(ctx, f.repo, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range dry.Outcomes {
		got = append(got, o.Digest)
	}
	if !slices.Equal(sorted(got...), sorted(ds[0], ds[1])) || !dry.DryRun {
		t.Fatalf("dry run: %+v", dry)
	}
	if n := len(f.digests(meta.ImageActive)); n != 13 {
		t.Fatalf("dry run deleted images: %d left", n)
	}
	if p, _ := f.m.GetLifecyclePolicy(ctx, f.repo.ID); !p.LastEvaluatedAt.IsZero() || len(f.audit("")) != 0 {
		t.Fatal("dry run recorded something")
	}

	rep := f.runNow()
	if rep.Count(lifecycle.ActionExpire, meta.PlanDone) != 2 || len(f.digests(meta.ImageActive)) != 11 {
		t.Fatalf("run: %+v", rep.Outcomes)
	}
	if got := eventDigests(f.audit(runner.AuditExpire)); !slices.Equal(got, sorted(ds[0], ds[1])) {
		t.Fatalf("audited %v", got)
	}
}

const archiveThenExpire = `{"rules":[
 {"rulePriority":1,"description":"archive what nobody pulled for 30 days",
  "selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},
  "action":{"type":"transition","targetStorageClass":"archive"}},
 {"rulePriority":2,"description":"expire after 90 days in archive",
  "selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},
  "action":{"type":"expire"}}]}`

// TestTransitionThenExpireArchived: the transition action archives images
// not pulled for 30 days (pull times count, not push times); archived
// images cannot be pulled; 90 days after their archive, counted from
// lastArchivedAt, they expire.
func TestTransitionThenExpireArchived(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	stale := f.push("stale", "old")
	pulled := f.push("pulled", "hot")
	f.policy(archiveThenExpire)
	f.clk.advance(20 * day)
	if err := f.m.TouchPull(ctx, f.repo.ID, pulled, f.clk.now()); err != nil {
		t.Fatal(err)
	}
	f.clk.advance(20 * day) // stale: 40 days unpulled; pulled: 20
	archivedAt := f.clk.now()

	rep := f.runNow()
	if rep.Count(lifecycle.ActionTransition, meta.PlanDone) != 1 || len(rep.Outcomes) != 1 || rep.Outcomes[0].Digest != stale {
		t.Fatalf("first run: %+v", rep.Outcomes)
	}
	m, err := f.m.GetManifest(ctx, f.repo.ID, stale)
	if err != nil || m.Status != meta.ImageArchived || !m.ArchivedAt.Equal(archivedAt) {
		t.Fatalf("archived image: %+v %v", m, err)
	}
	_, err = f.reg.PullManifest(ctx, f.repo, names.Reference{Tag: "old"})
	if registry.CodeOf(err) != registry.CodeImageArchived || !strings.Contains(err.Error(), "update-image-storage-class") {
		t.Fatalf("pull of an archived image: %v", err)
	}
	if _, err := f.reg.PullManifest(ctx, f.repo, names.Reference{Tag: "hot"}); err != nil {
		t.Fatalf("pull of an active image: %v", err)
	}
	evs := f.audit(runner.AuditTransition)
	if len(evs) != 1 || evs[0].Digest != stale || !strings.Contains(string(evs[0].Detail), `"targetStorageClass":"ARCHIVE"`) {
		t.Fatalf("transition audit: %+v", evs)
	}

	// 89 days in archive: kept (and never archived twice); 91: expired.
	f.clk.set(archivedAt.Add(89 * day))
	rep = f.runNow()
	for _, o := range rep.Outcomes {
		if o.Digest == stale {
			t.Fatalf("archived image acted on after 89 days: %+v", o)
		}
	}
	f.clk.set(archivedAt.Add(91 * day))
	rep = f.runNow()
	if rep.Count(lifecycle.ActionExpire, meta.PlanDone) != 1 {
		t.Fatalf("after 91 days in archive: %+v", rep.Outcomes)
	}
	if _, err := f.m.GetManifest(ctx, f.repo.ID, stale); err == nil {
		t.Fatal("archived image not expired")
	}
	if got := eventDigests(f.audit(runner.AuditExpire)); !slices.Equal(got, []string{stale}) {
		t.Fatalf("expire audit %v", got)
	}
	if n := len(f.audit(runner.AuditTransition)); n != 2 { // "pulled" went to archive on the way
		t.Fatalf("%d transition events, want 2", n)
	}
}

// TestResumesAfterCrash: a run died after its plan was stored and its
// first image deleted, before recording it. The next run recognises the
// deletion (audited once), finishes the plan but skips an image whose tags
// changed since the plan, then evaluates afresh: that image, still over 14
// days old, expires under the new evaluation, audited with its new tags.
func TestResumesAfterCrash(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, s := range []string{"a", "b", "c"} {
		f.push(s, s+"1")
	}
	f.clk.advance(20 * day)
	young := f.push("d", "d1")
	f.policy(pushedOver14Days)

	// The dead run: its evaluation, its plan, its first delete.
	actions, ims, err := runner.Evaluate(ctx, f.reg, f.repo, mustParse(t, pushedOver14Days), f.clk.now())
	if err != nil || len(actions) != 3 {
		t.Fatalf("evaluation: %+v %v", actions, err)
	}
	plan := meta.LifecyclePlan{RepoID: f.repo.ID, PolicyText: pushedOver14Days, AsOf: f.clk.now(), CreatedAt: f.clk.now()}
	for _, x := range actions {
		plan.Actions = append(plan.Actions, meta.LifecyclePlanAction{Digest: x.Digest, Action: x.Type, RulePriority: x.RulePriority,
			Tags: x.Tags, Status: ims.ByDigest[x.Digest].Status})
	}
	stored, created, err := f.m.StartLifecyclePlan(ctx, plan)
	if err != nil || !created {
		t.Fatal(err)
	}
	first, second, last := stored.Actions[0].Digest, stored.Actions[1].Digest, stored.Actions[2].Digest
	if err := f.reg.DeleteManifest(ctx, f.repo, names.Reference{Digest: digest.Digest(first)}, registry.Actor{Principal: runner.Actor}); err != nil {
		t.Fatal(err)
	}
	// Meanwhile someone tags the last planned image.
	m, err := f.m.GetManifest(ctx, f.repo.ID, last)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.PutManifest(ctx, f.repo, names.Reference{Tag: "keep-me"}, m.MediaType, m.Content, registry.Actor{}); err != nil {
		t.Fatal(err)
	}

	f.clk.advance(time.Minute)
	rep := f.runNow()
	if rep.Resumed != 1 {
		t.Fatalf("resumed %d plans", rep.Resumed)
	}
	var got []string
	for _, o := range rep.Outcomes {
		got = append(got, fmt.Sprintf("%s %v %s", o.Digest, o.Tags, o.State))
	}
	lastTags := []string{stored.Actions[2].Tags[0], "keep-me"}
	slices.Sort(lastTags)
	want := []string{
		fmt.Sprintf("%s %v done", first, stored.Actions[0].Tags),
		fmt.Sprintf("%s %v done", second, stored.Actions[1].Tags),
		fmt.Sprintf("%s %v skipped", last, stored.Actions[2].Tags),
		fmt.Sprintf("%s %v done", last, lastTags),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("outcomes\n got  %q\n want %q", got, want)
	}
	evs := f.audit(runner.AuditExpire)
	if got := eventDigests(evs); !slices.Equal(got, sorted(first, second, last)) {
		t.Fatalf("audited %v", got)
	}
	for _, e := range evs {
		if e.Digest == last && !strings.Contains(string(e.Detail), `"tags":["`+lastTags[0]+`","`+lastTags[1]+`"]`) {
			t.Fatalf("audit of the re-tagged image: %s", e.Detail)
		}
	}
	if got := f.digests(meta.ImageActive); !slices.Equal(got, []string{young}) {
		t.Fatalf("left %v", got)
	}
}

func mustParse(t *testing.T, s string) *lifecycle.Policy {
	t.Helper()
	p, err := lifecycle.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestIndexExpiresWithChildren: an expired index takes its untagged
// children with it; the children, listed by the index, can only be deleted
// after it, whatever the plan's order.
func TestIndexExpiresWithChildren(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c1, c2 := f.push("amd64", ""), f.push("arm64", "")
	idx := f.index("multi", c1, c2)
	f.clk.advance(20 * day)
	keep := f.push("new", "new")
	f.policy(pushedOver14Days)
	rep := f.runNow()
	if rep.Count(lifecycle.ActionExpire, meta.PlanDone) != 3 {
		t.Fatalf("outcomes %+v", rep.Outcomes)
	}
	if got := f.digests(meta.ImageActive); !slices.Equal(got, []string{keep}) {
		t.Fatalf("left %v", got)
	}
	if got := eventDigests(f.audit(runner.AuditExpire)); !slices.Equal(got, sorted(idx, c1, c2)) {
		t.Fatalf("audited %v", got)
	}
	for _, d := range []string{idx, c1, c2} {
		if _, err := f.m.GetManifest(ctx, f.repo.ID, d); err == nil {
			t.Fatalf("%s not deleted", d)
		}
	}
}

// TestConcurrentRunsActOnce: four runners on one repository at once (two
// nodes, or a node and `wharf lifecycle run`): every image is expired and
// audited exactly once.
func TestConcurrentRunsActOnce(t *testing.T) {
	f := setup(t)
	var old []string
	for i := 0; i < 30; i++ {
		old = append(old, f.push(fmt.Sprint("old", i), fmt.Sprint("t", i)))
	}
	f.clk.advance(20 * day)
	f.push("new", "new")
	f.policy(pushedOver14Days)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Go(func() {
			if _, err := f.run.RunRepository(context.Background(), f.repo, false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := eventDigests(f.audit(runner.AuditExpire)); !slices.Equal(got, sorted(old...)) {
		t.Fatalf("audited %d events for %d images", len(got), len(old))
	}
	if n := len(f.digests(meta.ImageActive)); n != 1 {
		t.Fatalf("%d images left", n)
	}
}

// TestScheduleAndRunJob: the periodic job queues one job per repository
// with a policy, once per run key; the job runs its repository.
func TestScheduleAndRunJob(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.push("a", "a")
	f.clk.advance(20 * day)
	f.policy(pushedOver14Days)
	if _, err := f.reg.Repository(ctx, account, "team/nopolicy", true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		n, err := f.run.Schedule(ctx, "lifecycle:7")
		if err != nil || n != 1-i {
			t.Fatalf("schedule %d: queued %d, %v", i, n, err)
		}
	}
	js, err := f.m.ListJobs(ctx, runner.KindLifecycleRepo)
	if err != nil || len(js) != 1 {
		t.Fatalf("jobs %+v %v", js, err)
	}
	rep, err := f.run.RunJob(ctx, js[0].Payload)
	if err != nil || rep.Count(lifecycle.ActionExpire, meta.PlanDone) != 1 {
		t.Fatalf("job run: %+v %v", rep, err)
	}
	// A repository deleted and created again under the same name is not
	// the job's.
	if err := f.reg.DeleteRepository(ctx, f.repo, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Repository(ctx, account, "team/app", true); err != nil {
		t.Fatal(err)
	}
	rep, err = f.run.RunJob(ctx, js[0].Payload)
	if err != nil || !rep.NoPolicy || len(rep.Outcomes) != 0 {
		t.Fatalf("job of a recreated repository: %+v %v", rep, err)
	}
}
