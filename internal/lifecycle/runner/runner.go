package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/lifecycle"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Actor is the principal lifecycle runs act as (tag history, audit trail).
const Actor = "system:lifecycle"

// Audit actions of a run: one event per image.
const (
	AuditExpire     = "lifecycle.expire"
	AuditTransition = "lifecycle.transition"
)

// Job kinds: KindLifecycle is the periodic run, which queues one
// KindLifecycleRepo job per repository with a policy.
const (
	KindLifecycle     = "lifecycle"
	KindLifecycleRepo = "lifecycle-repo"
)

// RepoJob is the payload of a KindLifecycleRepo job.
type RepoJob struct {
	RepoID  int64  `json:"repo"`
	Account string `json:"account"`
	Name    string `json:"name"`
}

// Runner runs lifecycle policies.
type Runner struct {
	Registry *registry.Service
	// Clock returns the current time (tests inject one; default
	// time.Now).
	Clock  func() time.Time
	Logger *slog.Logger
}

func (rn *Runner) now() time.Time {
	if rn.Clock != nil {
		return rn.Clock()
	}
	return time.Now()
}

func (rn *Runner) log() *slog.Logger {
	if rn.Logger != nil {
		return rn.Logger
	}
	return slog.Default()
}

// Outcome is what a run did (or, dry, would do) to one image.
type Outcome struct {
	Digest       string   `json:"digest"`
	Tags         []string `json:"tags,omitempty"`
	Action       string   `json:"action"` // EXPIRE or TRANSITION
	RulePriority int      `json:"rulePriority"`
	// State is meta.PlanDone or meta.PlanSkipped ("" in a dry run).
	State string `json:"state,omitempty"`
	// Reason says why an action was skipped.
	Reason string `json:"reason,omitempty"`
}

// Report is the result of one repository's run.
type Report struct {
	Account     string    `json:"account"`
	Repository  string    `json:"repository"`
	DryRun      bool      `json:"dryRun,omitempty"`
	EvaluatedAt time.Time `json:"evaluatedAt"`
	// Resumed counts the plans of earlier runs this run finished.
	Resumed  int       `json:"resumed,omitempty"`
	Outcomes []Outcome `json:"outcomes"`
	// NoPolicy is set when the repository has no lifecycle policy.
	NoPolicy bool `json:"noPolicy,omitempty"`
}

// Count returns how many outcomes have the action and state ("" matches
// any state).
func (rep Report) Count(action, state string) int {
	n := 0
	for _, o := range rep.Outcomes {
		if o.Action == action && (state == "" || o.State == state) {
			n++
		}
	}
	return n
}

// Evaluate returns what the repository's policy text decides at asOf
// without acting, with the images it read.
func Evaluate(ctx context.Context, reg *registry.Service, r meta.Repository, policy *lifecycle.Policy, asOf time.Time) ([]lifecycle.Action, *Images, error) {
	ims, err := Load(ctx, reg, r)
	if err != nil {
		return nil, nil, err
	}
	return lifecycle.Evaluate(policy, ims.Entries, asOf), ims, nil
}

// RunRepository applies the repository's lifecycle policy now. It first
// finishes a plan an earlier run left (it died), then evaluates the policy
// and acts on the images it selects. dryRun only evaluates.
func (rn *Runner) RunRepository(ctx context.Context, r meta.Repository, dryRun bool) (Report, error) {
	m := rn.Registry.Meta()
	rep := Report{Account: r.AccountID, Repository: r.Name, DryRun: dryRun, EvaluatedAt: rn.now()}
	if !dryRun {
		if plan, err := m.GetLifecyclePlan(ctx, r.ID); err == nil {
			rn.log().InfoContext(ctx, "lifecycle: resuming an unfinished run", "repository", r.Name, "account", r.AccountID, "plan", plan.ID)
			if err := rn.execute(ctx, r, plan, &rep); err != nil {
				return rep, err
			}
			rep.Resumed++
		} else if !errors.Is(err, meta.ErrNotFound) {
			return rep, err
		}
	}

	pol, err := m.GetLifecyclePolicy(ctx, r.ID)
	if errors.Is(err, meta.ErrNotFound) {
		rep.NoPolicy = true
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	policy, err := lifecycle.Parse([]byte(pol.Text))
	if err != nil {
		// Validated when put: only a parser change gets here. Retrying
		// cannot help; say so and leave the repository alone.
		rn.log().WarnContext(ctx, "lifecycle: stored policy no longer parses; repository skipped", "repository", r.Name, "account", r.AccountID, "err", err)
		return rep, nil
	}
	asOf := rn.now()
	rep.EvaluatedAt = asOf
	actions, ims, err := Evaluate(ctx, rn.Registry, r, policy, asOf)
	if err != nil {
		return rep, err
	}
	if dryRun {
		for _, a := range actions {
			rep.Outcomes = append(rep.Outcomes, Outcome{Digest: a.Digest, Tags: a.Tags, Action: a.Type, RulePriority: a.RulePriority})
		}
		return rep, nil
	}
	plan := meta.LifecyclePlan{RepoID: r.ID, PolicyText: pol.Text, AsOf: asOf, CreatedAt: asOf}
	for _, a := range actions {
		plan.Actions = append(plan.Actions, meta.LifecyclePlanAction{Digest: a.Digest, Action: a.Type, RulePriority: a.RulePriority,
			Tags: a.Tags, Status: ims.ByDigest[a.Digest].Status})
	}
	stored, created, err := m.StartLifecyclePlan(ctx, plan)
	if errors.Is(err, meta.ErrNotFound) {
		return rep, nil // the repository went meanwhile
	}
	if err != nil {
		return rep, err
	}
	if !created {
		// Another run started one meantime: finish that one; its
		// evaluation is as recent as ours.
		rep.Resumed++
	}
	return rep, rn.execute(ctx, r, stored, &rep)
}

// errLater: the action must wait for others of the plan (an index that
// lists the image is deleted first).
var errLater = errors.New("lifecycle: retry after the other actions")

// execute acts on the pending actions of plan and ends it. Each action is
// recorded finished, with its audit event, in one transaction after it was
// taken; an action taken but not recorded (the run died in between) is
// recognised by the next run from the image's state, so nothing is done or
// audited twice.
func (rn *Runner) execute(ctx context.Context, r meta.Repository, plan meta.LifecyclePlan, rep *Report) error {
	m := rn.Registry.Meta()
	var pending []meta.LifecyclePlanAction
	for _, a := range plan.Actions {
		if a.State == meta.PlanPending {
			pending = append(pending, a)
		}
	}
	for len(pending) > 0 {
		var later []meta.LifecyclePlanAction
		for _, a := range pending {
			if err := ctx.Err(); err != nil {
				return err
			}
			state, reason, err := rn.act(ctx, r, plan, a)
			if errors.Is(err, errLater) {
				later = append(later, a)
				continue
			}
			if err != nil {
				return fmt.Errorf("lifecycle %s of %s in %s: %w", a.Action, a.Digest, r.Name, err)
			}
			if err := rn.finish(ctx, r, plan, a, state, reason, rep); err != nil {
				return err
			}
		}
		if len(later) == len(pending) {
			// No progress: what still lists these images is not part of
			// the plan (it was pushed since).
			for _, a := range later {
				if err := rn.finish(ctx, r, plan, a, meta.PlanSkipped, "referenced by an index that stays", rep); err != nil {
					return err
				}
			}
			break
		}
		pending = later
	}
	err := m.EndLifecyclePlan(ctx, r.ID, plan.ID, rn.now())
	if errors.Is(err, meta.ErrNotFound) {
		err = nil // a concurrent run of the same plan ended it
	}
	return err
}

// finish records an action's outcome, with its audit event when done.
func (rn *Runner) finish(ctx context.Context, r meta.Repository, plan meta.LifecyclePlan, a meta.LifecyclePlanAction, state, reason string, rep *Report) error {
	var ev *meta.AuditEvent
	if state == meta.PlanDone {
		detail := map[string]any{"rulePriority": a.RulePriority, "tags": nonNil(a.Tags), "evaluatedAt": plan.AsOf.UTC().Format(time.RFC3339Nano)}
		action := AuditExpire
		if a.Action == lifecycle.ActionTransition {
			action = AuditTransition
			detail["targetStorageClass"] = lifecycle.StorageClassArchive
		}
		b, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		ev = &meta.AuditEvent{AccountID: r.AccountID, Repository: r.Name, Action: action, Actor: Actor, Digest: a.Digest, Detail: b}
		if len(a.Tags) > 0 {
			ev.Tag = a.Tags[0]
		}
	}
	moved, err := rn.Registry.Meta().FinishLifecycleAction(ctx, plan.ID, a.Digest, state, ev)
	if err != nil {
		return err
	}
	if !moved {
		return nil // a concurrent run of the same plan recorded it
	}
	rep.Outcomes = append(rep.Outcomes, Outcome{Digest: a.Digest, Tags: a.Tags, Action: a.Action, RulePriority: a.RulePriority,
		State: state, Reason: reason})
	if state == meta.PlanDone {
		rn.log().InfoContext(ctx, "lifecycle: "+ev.Action, "repository", r.Name, "account", r.AccountID, "digest", a.Digest,
			"tags", a.Tags, "rule", a.RulePriority)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// act takes one action of the plan, returning its final state. The image
// must still be as the plan saw it (same tags and status; for a transition,
// not pulled since), else the action is skipped: a plan resumed later never
// acts on an image that changed meanwhile.
func (rn *Runner) act(ctx context.Context, r meta.Repository, plan meta.LifecyclePlan, a meta.LifecyclePlanAction) (state, reason string, err error) {
	im, err := rn.Registry.Meta().GetImage(ctx, r.ID, a.Digest)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		if a.Action == lifecycle.ActionExpire {
			// Deleted by this plan before its run died (or by someone
			// else meanwhile: the image is gone either way).
			return meta.PlanDone, "", nil
		}
		return meta.PlanSkipped, "image deleted", nil
	case err != nil:
		return "", "", err
	}
	status := registry.StatusOf(im.Manifest)
	if a.Action == lifecycle.ActionTransition && status == meta.ImageArchived && a.Status == meta.ImageActive &&
		!im.ArchivedAt.Before(plan.CreatedAt) {
		return meta.PlanDone, "", nil // archived by this plan before its run died
	}
	if a.Status != "" && status != a.Status {
		return meta.PlanSkipped, "image status is now " + status, nil
	}
	if !sameTags(im.Tags, a.Tags) {
		return meta.PlanSkipped, "image tags changed", nil
	}
	if a.Action == lifecycle.ActionTransition && im.LastPullAt.After(plan.AsOf) {
		return meta.PlanSkipped, "image pulled since the evaluation", nil
	}

	switch a.Action {
	case lifecycle.ActionExpire:
		err := rn.Registry.DeleteManifest(ctx, r, names.Reference{Digest: digest.Digest(a.Digest)}, registry.Actor{Principal: Actor, Via: "lifecycle"})
		switch registry.CodeOf(err) {
		case "":
			if err != nil {
				return "", "", err
			}
			return meta.PlanDone, "", nil
		case registry.CodeManifestUnknown:
			return meta.PlanDone, "", nil
		case registry.CodeManifestReferenced:
			return "", "", errLater
		}
		return "", "", err
	case lifecycle.ActionTransition:
		err := rn.Registry.Archive(ctx, r, a.Digest)
		var re *registry.Error
		switch {
		case err == nil:
			return meta.PlanDone, "", nil
		case registry.CodeOf(err) == registry.CodeManifestUnknown:
			return meta.PlanSkipped, "image deleted", nil
		case errors.As(err, &re) && re.Code == registry.CodeStorageClassUnsupported:
			return meta.PlanSkipped, re.Message, nil
		}
		return "", "", err
	}
	return meta.PlanSkipped, "unknown action " + strconv.Quote(a.Action), nil
}

func sameTags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// RunAll runs every repository that has a lifecycle policy (of account, or
// of all accounts when account is ""), one after the other, and returns
// their reports; the first error stops it.
func (rn *Runner) RunAll(ctx context.Context, account string, dryRun bool) ([]Report, error) {
	var reps []Report
	err := rn.eachRepository(ctx, func(r meta.Repository) error {
		if account != "" && r.AccountID != account {
			return nil
		}
		rep, err := rn.RunRepository(ctx, r, dryRun)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
		return nil
	})
	return reps, err
}

func (rn *Runner) eachRepository(ctx context.Context, fn func(meta.Repository) error) error {
	const page = 500
	for after := int64(0); ; {
		rs, err := rn.Registry.Meta().ListLifecycleRepositories(ctx, after, page)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(rs) < page {
			return nil
		}
		after = rs[len(rs)-1].ID
	}
}

// Schedule queues one KindLifecycleRepo job per repository with a policy,
// keyed by run (the periodic job's key), so that a retried or concurrent
// scheduling queues each repository once per run.
func (rn *Runner) Schedule(ctx context.Context, run string) (int, error) {
	n := 0
	err := rn.eachRepository(ctx, func(r meta.Repository) error {
		payload, err := json.Marshal(RepoJob{RepoID: r.ID, Account: r.AccountID, Name: r.Name})
		if err != nil {
			return err
		}
		_, created, err := rn.Registry.Meta().Enqueue(ctx, meta.Job{Kind: KindLifecycleRepo,
			Key: KindLifecycleRepo + ":" + run + ":" + strconv.FormatInt(r.ID, 10), Payload: payload})
		if created {
			n++
		}
		return err
	})
	return n, err
}

// RunJob runs the repository of a KindLifecycleRepo job; a repository that
// was deleted (or deleted and created again) is skipped.
func (rn *Runner) RunJob(ctx context.Context, payload []byte) (Report, error) {
	var j RepoJob
	if err := json.Unmarshal(payload, &j); err != nil {
		return Report{}, fmt.Errorf("lifecycle job payload: %w", err)
	}
	r, err := rn.Registry.Meta().GetRepository(ctx, j.Account, j.Name)
	if errors.Is(err, meta.ErrNotFound) || err == nil && r.ID != j.RepoID {
		return Report{Account: j.Account, Repository: j.Name, NoPolicy: true}, nil
	}
	if err != nil {
		return Report{}, err
	}
	return rn.RunRepository(ctx, r, false)
}
