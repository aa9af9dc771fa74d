package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Periodic is a job to run once per Interval across all nodes.
type Periodic struct {
	Kind     string
	Interval time.Duration
	Payload  []byte
}

// Scheduler enqueues periodic jobs. Every node runs one; they all enqueue
// the same jobs, which the store deduplicates by key.
//
// Time is cut in buckets of Interval since the Unix epoch. While in bucket
// n a scheduler enqueues the job of bucket n+1 with key "<kind>:<n+1>",
// due at the start of bucket n+1: the job is pending all through bucket n,
// so every node's enqueue of it is deduplicated. Once run, it is completed
// with its key kept reserved (Job.KeepUntil) for two more intervals, so that
// a node whose clock lags, or whose enqueue raced the bucket boundary,
// cannot enqueue it again. Hence one run per interval, whatever the number
// of nodes; the first run comes at the first bucket boundary after start.
type Scheduler struct {
	Store meta.JobStore
	Jobs  []Periodic
	// Poll is how often the jobs are (re-)enqueued (default: a tenth of
	// the shortest interval, at most 1 min).
	Poll   time.Duration
	Clock  func() time.Time
	Logger *slog.Logger

	// last is the bucket each kind was last enqueued for: a node enqueues
	// a bucket's job once, not at every poll.
	last map[string]int64
}

// Key returns the key of the periodic job of kind for the bucket holding t.
func Key(kind string, interval time.Duration, t time.Time) string {
	return fmt.Sprintf("%s:%d", kind, bucket(interval, t))
}

func bucket(interval time.Duration, t time.Time) int64 {
	return t.UnixNano() / int64(interval)
}

func (s *Scheduler) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// Tick enqueues the next run of every periodic job (deduplicated). It is
// not safe for concurrent use.
func (s *Scheduler) Tick(ctx context.Context) error {
	now := s.now()
	if s.last == nil {
		s.last = map[string]int64{}
	}
	for _, p := range s.Jobs {
		if p.Interval <= 0 {
			continue
		}
		next := bucket(p.Interval, now) + 1
		if last, ok := s.last[p.Kind]; ok && last == next {
			continue
		}
		runAt := time.Unix(0, next*int64(p.Interval))
		_, _, err := s.Store.Enqueue(ctx, meta.Job{
			Kind:      p.Kind,
			Key:       fmt.Sprintf("%s:%d", p.Kind, next),
			Payload:   p.Payload,
			RunAt:     runAt,
			KeepUntil: runAt.Add(2 * p.Interval),
		})
		if err != nil {
			return fmt.Errorf("jobs: schedule %s: %w", p.Kind, err)
		}
		s.last[p.Kind] = next
	}
	return nil
}

// Run calls Tick every Poll until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	poll := s.Poll
	if poll <= 0 {
		poll = time.Minute
		for _, p := range s.Jobs {
			if p.Interval > 0 {
				poll = min(poll, p.Interval/10)
			}
		}
		poll = max(poll, 10*time.Millisecond)
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			log := s.Logger
			if log == nil {
				log = slog.Default()
			}
			log.Error("job scheduler", "err", err)
		}
		t.Reset(poll)
	}
}
