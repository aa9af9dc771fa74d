package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/wharfhq/wharf/internal/lifecycle"
	"github.com/wharfhq/wharf/internal/lifecycle/runner"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// LifecycleHandler runs the periodic lifecycle job: it queues one
// runner.KindLifecycleRepo job per repository with a policy, keyed by the
// periodic job's key, so that the repositories are run in parallel by every
// node's runner and each once per period.
func LifecycleHandler(rn *runner.Runner, logger *slog.Logger) Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, j meta.Job) error {
		run := j.Key
		if run == "" {
			run = fmt.Sprint("job", j.ID)
		}
		n, err := rn.Schedule(ctx, run)
		if err != nil {
			return err
		}
		logger.Info("lifecycle run scheduled", "job", j.ID, "run", run, "repositories", n)
		return nil
	}
}

// LifecycleRepoHandler runs one repository's lifecycle policy.
func LifecycleRepoHandler(rn *runner.Runner, logger *slog.Logger) Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, j meta.Job) error {
		rep, err := rn.RunJob(ctx, j.Payload)
		if err != nil {
			return err
		}
		if !rep.NoPolicy {
			logger.Info("lifecycle policy applied", "job", j.ID, "account", rep.Account, "repository", rep.Repository,
				"expired", rep.Count(lifecycle.ActionExpire, meta.PlanDone), "transitioned", rep.Count(lifecycle.ActionTransition, meta.PlanDone),
				"skipped", rep.Count(lifecycle.ActionExpire, meta.PlanSkipped)+rep.Count(lifecycle.ActionTransition, meta.PlanSkipped),
				"resumed", rep.Resumed)
		}
		return nil
	}
}

// RestoreHandler completes the restore of an archived image
// (registry.KindRestore).
func RestoreHandler(reg *registry.Service) Handler {
	return func(ctx context.Context, j meta.Job) error {
		var rj registry.RestoreJob
		if err := json.Unmarshal(j.Payload, &rj); err != nil {
			return fmt.Errorf("restore job payload: %w", err)
		}
		return reg.FinishRestore(ctx, rj)
	}
}
