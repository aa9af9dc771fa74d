package meta

import (
	"context"
	"time"
)

// This file holds what running lifecycle policies needs from the store (the
// runner is internal/lifecycle/runner): which repositories have a policy,
// and a durable plan per repository, so that a run that dies half way is
// resumed by the next one and acts on, and audits, every image once.

// States of a LifecyclePlanAction.
const (
	PlanPending = "pending"
	PlanDone    = "done"
	PlanSkipped = "skipped"
)

// LifecyclePlan is what one run of a repository's lifecycle policy decided.
type LifecyclePlan struct {
	RepoID int64
	// ID is assigned by the store, increasing across all plans.
	ID int64
	// PolicyText is the policy evaluated; AsOf the time it was evaluated
	// at.
	PolicyText string
	AsOf       time.Time
	CreatedAt  time.Time // zero on input: now
	// Actions in the order the run takes them.
	Actions []LifecyclePlanAction
}

// LifecyclePlanAction is one image the plan acts on.
type LifecyclePlanAction struct {
	Digest string
	// Action is EXPIRE or TRANSITION (lifecycle.ActionExpire, ...).
	Action       string
	RulePriority int
	// Tags and Status the image had when the plan was made: the run acts
	// only on an image still as the plan saw it.
	Tags   []string
	Status string
	// State is PlanPending until the run has acted (PlanDone) or found it
	// must not (PlanSkipped).
	State string
}

// LifecycleRunStore keeps lifecycle plans. A plan goes with its
// repository.
type LifecycleRunStore interface {
	// ListLifecycleRepositories returns up to limit repositories, of any
	// account, that have a lifecycle policy, with ids greater than
	// afterID, by id.
	ListLifecycleRepositories(ctx context.Context, afterID int64, limit int) ([]Repository, error)
	// StartLifecyclePlan stores p (its actions pending) as the
	// repository's plan, unless the repository has one already: then that
	// one is returned, with its actions, and created is false. ErrNotFound
	// when the repository does not exist.
	StartLifecyclePlan(ctx context.Context, p LifecyclePlan) (plan LifecyclePlan, created bool, err error)
	// GetLifecyclePlan returns the repository's plan (ErrNotFound).
	GetLifecyclePlan(ctx context.Context, repoID int64) (LifecyclePlan, error)
	// FinishLifecycleAction moves the pending action on digest of plan
	// planID to state (PlanDone or PlanSkipped) and, when ev is not nil,
	// appends ev to the audit trail in the same transaction. moved is
	// false, and nothing is written, when the action is not pending (an
	// earlier or concurrent run took it) or the plan is gone.
	FinishLifecycleAction(ctx context.Context, planID int64, digest, state string, ev *AuditEvent) (moved bool, err error)
	// EndLifecyclePlan removes plan planID of the repository and, when
	// evaluatedAt is not zero and the repository has a policy, records it
	// as the policy's LastEvaluatedAt, in one transaction. ErrNotFound when
	// the repository's plan is not planID.
	EndLifecyclePlan(ctx context.Context, repoID, planID int64, evaluatedAt time.Time) error
}
