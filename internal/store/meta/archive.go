package meta

import (
	"context"
	"errors"
	"time"
)

// This file holds what ECR's archive storage class and pull-time update
// exclusions need from the store: the status of each image (Manifest.Status,
// ArchivedAt, ActivatedAt) and, per registry, the principals whose pulls do
// not update lastRecordedPullTime. Which moves between statuses are allowed
// is the registry core's business; the store applies them atomically.

// Image statuses, spelled as ECR's ImageStatus. An empty Manifest.Status
// reads as ImageActive.
const (
	ImageActive     = "ACTIVE"
	ImageArchived   = "ARCHIVED"
	ImageActivating = "ACTIVATING"
)

// ErrLimitExceeded is returned when a write would pass a quota given by the
// caller.
var ErrLimitExceeded = errors.New("meta: limit exceeded")

// StatusError is the error of SetImageStatus when the image is not in one
// of the statuses the move starts from. It matches ErrConflict.
type StatusError struct {
	// Status is the image's current status.
	Status string
}

func (e *StatusError) Error() string { return "meta: image is " + e.Status }

func (e *StatusError) Unwrap() error { return ErrConflict }

// PullTimeExclusion is a principal whose pulls of the account's images do
// not update their pull time.
type PullTimeExclusion struct {
	AccountID    string
	PrincipalARN string
	CreatedAt    time.Time // zero on input: now
}

// ArchiveStore keeps image statuses and pull-time update exclusions.
type ArchiveStore interface {
	// SetImageStatus moves the image (repoID, digest) to status to, in
	// one transaction, provided its current status is one of from; a
	// move to ImageArchived records at as ArchivedAt, a move to
	// ImageActive records it as ActivatedAt. ErrNotFound when there is
	// no such image; a *StatusError (ErrConflict) when its status is not
	// in from.
	SetImageStatus(ctx context.Context, repoID int64, digest string, from []string, to string, at time.Time) error
	// RestoreImageState sets the image's status, ArchivedAt and
	// ActivatedAt as given, whatever they were (copying a registry between
	// stores); ErrNotFound when there is no such image.
	RestoreImageState(ctx context.Context, repoID int64, digest, status string, archivedAt, activatedAt time.Time) error

	// PutPullTimeExclusion adds an exclusion and returns it as stored;
	// ErrExists when the account has it already, ErrLimitExceeded when
	// the account has max exclusions already (max <= 0: no limit).
	PutPullTimeExclusion(ctx context.Context, e PullTimeExclusion, max int) (PullTimeExclusion, error)
	// DeletePullTimeExclusion removes an exclusion (ErrNotFound).
	DeletePullTimeExclusion(ctx context.Context, accountID, principalARN string) error
	// ListPullTimeExclusions returns up to limit exclusions of the
	// account whose ARNs sort after "after", in byte order.
	ListPullTimeExclusions(ctx context.Context, accountID, after string, limit int) ([]PullTimeExclusion, error)
}
