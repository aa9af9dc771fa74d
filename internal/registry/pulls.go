package registry

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// pullRecorder batches pull times in memory and writes them periodically,
// so a manifest GET never waits for a database write. ECR itself records
// lastRecordedPullTime approximately, not per request.
type pullRecorder struct {
	mu      sync.Mutex
	pending map[manifestKey]time.Time
}

// NotePull remembers that a manifest was pulled now.
func (s *Service) NotePull(r meta.Repository, digest string) {
	s.pulls.mu.Lock()
	if s.pulls.pending == nil {
		s.pulls.pending = map[manifestKey]time.Time{}
	}
	s.pulls.pending[manifestKey{r.ID, digest}] = s.now()
	s.pulls.mu.Unlock()
}

// FlushPulls writes the pull times noted since the last flush.
func (s *Service) FlushPulls(ctx context.Context) error {
	s.pulls.mu.Lock()
	batch := s.pulls.pending
	s.pulls.pending = nil
	s.pulls.mu.Unlock()
	var first error
	for k, at := range batch {
		if err := s.meta.TouchPull(ctx, k.repo, k.digest, at); err != nil && !errors.Is(err, meta.ErrNotFound) && first == nil {
			first = err
		}
	}
	return first
}

// RunPullRecorder flushes pull times every interval until ctx ends, then
// once more.
func (s *Service) RunPullRecorder(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.FlushPulls(context.WithoutCancel(ctx)); err != nil {
				log.Warn("recording pull times", "err", err)
			}
			return
		case <-t.C:
			if err := s.FlushPulls(ctx); err != nil {
				log.Warn("recording pull times", "err", err)
			}
		}
	}
}
