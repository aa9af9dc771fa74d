package meta

import (
	"context"
	"errors"
	"time"
)

// This file holds the durable job queue (see ARCHITECTURE.md, "Jobs"):
// jobs live in the metadata store so that a crash loses none and every node
// of a deployment shares them. A worker claims a due job with a lease,
// runs it, then completes it (the job goes) or fails it (the job is retried
// at a later time, its attempts counted). A worker that dies simply lets
// its lease expire: the job becomes claimable again.

// ErrLeaseLost is returned by Complete, Fail and Extend when the job is not
// (or no longer) leased to the worker: it was completed, or its lease
// expired and another worker claimed it.
var ErrLeaseLost = errors.New("meta: job lease lost")

// Job is a queued unit of background work.
type Job struct {
	// ID is assigned by the store.
	ID int64
	// Kind selects the handler ("gc", ...).
	Kind string
	// Key deduplicates: while a job with this key is pending, enqueuing
	// another one with the same key does nothing. "" never deduplicates.
	Key string
	// Payload is opaque to the store.
	Payload []byte
	// RunAt is when the job becomes due (zero on input: now).
	RunAt time.Time
	// KeepUntil, when after the completion time, keeps a completed job's
	// key reserved until then: enqueuing the key again does nothing, so a
	// periodic job completed early in its period is not enqueued twice by
	// nodes that come late. Zero: Complete removes the job at once.
	KeepUntil time.Time

	// Set by the store.
	Attempts   int    // failures so far
	LastError  string // of the latest failure
	LeasedBy   string // worker holding the lease ("" when none)
	LeaseUntil time.Time
	CreatedAt  time.Time
}

// JobStore is the job queue. Each method is one transaction (or one
// statement).
type JobStore interface {
	// Enqueue adds a job unless one with the same non-empty Key is pending
	// (or completed and kept, see Job.KeepUntil). It returns the job stored
	// under the key and whether it was created by this call.
	Enqueue(ctx context.Context, j Job) (Job, bool, error)
	// Claim leases to worker, for lease, the oldest due job (RunAt <= now,
	// not leased or its lease expired) of one of kinds (all kinds when
	// kinds is empty). ok is false when none is due. Concurrent claims
	// never return the same job while its lease lasts.
	Claim(ctx context.Context, kinds []string, worker string, lease time.Duration) (j Job, ok bool, err error)
	// Extend renews the worker's lease of a running job to now+lease.
	Extend(ctx context.Context, id int64, worker string, lease time.Duration) error
	// Complete removes a job leased to worker (or keeps its key reserved
	// until its KeepUntil).
	Complete(ctx context.Context, id int64, worker string) error
	// Fail releases a job leased to worker for a retry at retryAt,
	// counting the attempt and recording errMsg.
	Fail(ctx context.Context, id int64, worker, errMsg string, retryAt time.Time) error
	// ListJobs returns the pending (not completed) jobs of kind, all kinds
	// when kind is "", by id.
	ListJobs(ctx context.Context, kind string) ([]Job, error)
}
