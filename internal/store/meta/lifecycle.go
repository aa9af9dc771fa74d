package meta

import (
	"context"
	"errors"
	"time"
)

// This file holds what ECR lifecycle policies need from the store: the
// policy text of each repository and the latest lifecycle policy preview
// (dry run) of each repository. The store keeps documents and results
// opaque: parsing and evaluating policies is internal/lifecycle's job.

// ErrPreviewInProgress is returned by CreateLifecyclePreview while the
// repository's latest preview is still running.
var ErrPreviewInProgress = errors.New("meta: lifecycle policy preview in progress")

// Values of LifecyclePreview.Status, spelled as ECR's
// LifecyclePolicyPreviewStatus.
const (
	PreviewInProgress = "IN_PROGRESS"
	PreviewComplete   = "COMPLETE"
	PreviewFailed     = "FAILED"
)

// LifecyclePolicy is the lifecycle policy of a repository.
type LifecyclePolicy struct {
	RepoID int64
	// Text is the policy document as the client sent it.
	Text string
	// UpdatedAt is when the text was last put (zero on input: now).
	UpdatedAt time.Time
	// LastEvaluatedAt is when the policy last ran (ECR's lastEvaluatedAt);
	// zero when it never did. Putting a new text resets it.
	LastEvaluatedAt time.Time
}

// LifecyclePreview is a lifecycle policy preview: the evaluation of a
// policy over a repository's images without acting on them. A repository
// keeps only its latest preview.
type LifecyclePreview struct {
	RepoID int64
	// ID numbers the previews of a repository, increasing; the store
	// assigns it.
	ID int64
	// PolicyText is the policy evaluated.
	PolicyText string
	// AsOf is the time the policy is evaluated at (zero on input: the
	// start time).
	AsOf time.Time
	// Status is PreviewInProgress, PreviewComplete or PreviewFailed.
	Status string
	// StartedAt and FinishedAt (zero on input: now; FinishedAt is zero
	// while in progress).
	StartedAt  time.Time
	FinishedAt time.Time
	// Results are the preview's outcome, opaque to the store (JSON); nil
	// while in progress.
	Results []byte
	// Summary of the results.
	ExpiringCount      int64
	TransitioningCount int64
	// BytesFreed is what expiring the images would free in the
	// repository's storage (Wharf extension).
	BytesFreed int64
	// Reason says why a preview failed.
	Reason string
}

// LifecycleStore keeps lifecycle policies and their previews. Rows of a
// repository go with it when it is deleted.
type LifecycleStore interface {
	// PutLifecyclePolicy sets the repository's lifecycle policy, replacing
	// any (and resetting LastEvaluatedAt); ErrNotFound if the repository
	// does not exist.
	PutLifecyclePolicy(ctx context.Context, p LifecyclePolicy) error
	// GetLifecyclePolicy returns the repository's policy; ErrNotFound when
	// it has none.
	GetLifecyclePolicy(ctx context.Context, repoID int64) (LifecyclePolicy, error)
	// DeleteLifecyclePolicy removes the repository's policy and returns
	// what was removed; ErrNotFound when it has none.
	DeleteLifecyclePolicy(ctx context.Context, repoID int64) (LifecyclePolicy, error)
	// SetLifecycleEvaluated records that the repository's policy ran at
	// "at"; ErrNotFound when it has none.
	SetLifecycleEvaluated(ctx context.Context, repoID int64, at time.Time) error

	// CreateLifecyclePreview records a new preview of p.RepoID in
	// progress, replacing the repository's latest preview, and returns it
	// with ID, Status, StartedAt and AsOf set. It fails with
	// ErrPreviewInProgress while the latest preview is in progress, unless
	// that one started before abandonedBefore (its process is taken to have
	// died; zero never abandons); ErrNotFound if the repository does not
	// exist.
	CreateLifecyclePreview(ctx context.Context, p LifecyclePreview, abandonedBefore time.Time) (LifecyclePreview, error)
	// SetLifecyclePreviewResult finishes the preview (p.RepoID, p.ID):
	// Status (PreviewComplete or PreviewFailed), FinishedAt, Results, the
	// counts, BytesFreed and Reason are written. ErrNotFound when that
	// preview is not the repository's latest or is not in progress any
	// more.
	SetLifecyclePreviewResult(ctx context.Context, p LifecyclePreview) error
	// GetLifecyclePreview returns the repository's latest preview;
	// ErrNotFound when there is none.
	GetLifecyclePreview(ctx context.Context, repoID int64) (LifecyclePreview, error)
}
