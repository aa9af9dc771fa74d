// Package jobs runs the durable job queue of the metadata store
// (meta.JobStore): a Runner on every node claims due jobs and hands them to
// handlers by kind, and a Scheduler enqueues periodic jobs so that each runs
// once per period across all nodes.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Handler runs one job. Its context is canceled when the Runner stops or
// loses the job's lease. An error fails the job, which is retried later.
type Handler func(ctx context.Context, j meta.Job) error

// Runner claims and runs jobs until its context ends. Set the fields, then
// register handlers with Handle before Run.
type Runner struct {
	Store meta.JobStore
	// Worker identifies this runner in leases (default WorkerID()).
	Worker string
	// Poll is how often the queue is polled when it is empty (default 1s).
	Poll time.Duration
	// Lease is how long a claim lasts; the runner renews it every third of
	// it while the handler runs (default 1 min).
	Lease time.Duration
	// Backoff gives the delay before retry after the attempts-th failure
	// (default DefaultBackoff).
	Backoff func(attempts int) time.Duration
	Logger  *slog.Logger

	handlers map[string]Handler
}

// WorkerID returns a worker id unique across nodes and restarts:
// host, pid and a random suffix.
func WorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// DefaultBackoff doubles from 1 s per failure, up to 1 h.
func DefaultBackoff(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	return min(time.Second<<min(attempts-1, 12), time.Hour)
}

// Handle registers the handler of a kind.
func (r *Runner) Handle(kind string, h Handler) {
	if r.handlers == nil {
		r.handlers = map[string]Handler{}
	}
	r.handlers[kind] = h
}

func (r *Runner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Runner) defaults() {
	if r.Worker == "" {
		r.Worker = WorkerID()
	}
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
	if r.Lease <= 0 {
		r.Lease = time.Minute
	}
	if r.Backoff == nil {
		r.Backoff = DefaultBackoff
	}
}

func (r *Runner) kinds() []string {
	ks := make([]string, 0, len(r.handlers))
	for k := range r.handlers {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Run claims and runs due jobs, one at a time, until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	r.defaults()
	kinds := r.kinds()
	if len(kinds) == 0 {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Drain what is due, then wait for the next poll.
		for ctx.Err() == nil {
			ran, err := r.RunOnce(ctx, kinds)
			if err != nil {
				if ctx.Err() == nil {
					r.log().Error("job queue", "err", err)
				}
				break
			}
			if !ran {
				break
			}
		}
		t.Reset(r.Poll)
	}
}

// RunOnce claims one due job of kinds and runs it; ran is false when none
// was due.
func (r *Runner) RunOnce(ctx context.Context, kinds []string) (ran bool, err error) {
	r.defaults()
	j, ok, err := r.Store.Claim(ctx, kinds, r.Worker, r.Lease)
	if err != nil || !ok {
		return false, err
	}
	h := r.handlers[j.Kind]
	log := r.log().With("job", j.ID, "kind", j.Kind, "key", j.Key, "attempt", j.Attempts+1)
	if h == nil { // claimed a kind not handled (kinds from the caller)
		return true, r.Store.Fail(ctx, j.ID, r.Worker, "no handler", time.Now().Add(r.Backoff(j.Attempts+1)))
	}

	hctx, cancel := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() { // keep the lease while the handler runs
		defer close(renewed)
		t := time.NewTicker(r.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				if err := r.Store.Extend(hctx, j.ID, r.Worker, r.Lease); err != nil {
					if errors.Is(err, meta.ErrLeaseLost) {
						log.Warn("job lease lost")
						cancel()
						return
					}
					if hctx.Err() == nil {
						log.Warn("job lease renewal failed", "err", err)
					}
				}
			}
		}
	}()
	herr := runHandler(hctx, h, j)
	cancel()
	<-renewed

	if ctx.Err() != nil {
		// Stopping: the lease expires and another worker (or this one,
		// restarted) takes the job over.
		return true, nil
	}
	// The store calls below use a context that outlives a handler's
	// cancellation but not the runner's.
	if herr != nil {
		retry := time.Now().Add(r.Backoff(j.Attempts + 1))
		log.Warn("job failed", "err", herr, "retry_at", retry)
		if err := r.Store.Fail(ctx, j.ID, r.Worker, herr.Error(), retry); err != nil && !errors.Is(err, meta.ErrLeaseLost) {
			return true, err
		}
		return true, nil
	}
	if err := r.Store.Complete(ctx, j.ID, r.Worker); err != nil && !errors.Is(err, meta.ErrLeaseLost) {
		return true, err
	}
	return true, nil
}

// runHandler turns a handler's panic into a failure.
func runHandler(ctx context.Context, h Handler, j meta.Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h(ctx, j)
}
