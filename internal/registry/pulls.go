package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// pullRecorder batches pull times in memory and writes them periodically,
// so a manifest GET never waits for a database write. ECR itself records
// lastRecordedPullTime approximately, not per request.
//
// Pulls are noted with their principal and the pull-time update exclusions
// of the registry are applied when the batch is written, so the pull path
// never reads them either; they are cached for exclusionTTL (dropped at
// once when changed through this node).
type pullRecorder struct {
	mu      sync.Mutex
	pending map[pullKey]time.Time
}

type pullKey struct {
	account   string
	repo      int64
	digest    string
	principal string
}

const (
	// MaxPullTimeExclusions is ECR's quota of pull-time update exclusions
	// per registry (PullTimeUpdateExclusionList holds at most 100).
	MaxPullTimeExclusions = 100
	// exclusionTTL bounds how long another node's exclusion change takes
	// to apply here.
	exclusionTTL = 5 * time.Second
)

// NotePull remembers that principal (an ARN, or "anonymous") pulled a
// manifest now.
func (s *Service) NotePull(r meta.Repository, digest, principal string) {
	s.pulls.mu.Lock()
	if s.pulls.pending == nil {
		s.pulls.pending = map[pullKey]time.Time{}
	}
	s.pulls.pending[pullKey{r.AccountID, r.ID, digest, principal}] = s.now()
	s.pulls.mu.Unlock()
}

// FlushPulls writes the pull times noted since the last flush, except those
// of excluded principals.
func (s *Service) FlushPulls(ctx context.Context) error {
	s.pulls.mu.Lock()
	batch := s.pulls.pending
	s.pulls.pending = nil
	s.pulls.mu.Unlock()
	var first error
	excluded := map[string][]string{}
	latest := map[manifestKey]time.Time{}
	for k, at := range batch {
		ex, ok := excluded[k.account]
		if !ok {
			var err error
			if ex, err = s.pullTimeExclusions(ctx, k.account); err != nil {
				// Better a pull time too many than a lost one.
				if first == nil {
					first = err
				}
				ex = nil
			}
			excluded[k.account] = ex
		}
		if slices.Contains(ex, k.principal) {
			continue
		}
		mk := manifestKey{k.repo, k.digest}
		if at.After(latest[mk]) {
			latest[mk] = at
		}
	}
	for k, at := range latest {
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

func exclusionKey(account string) string { return "pull-exclusions\x00" + account }

// pullTimeExclusions returns the excluded principal ARNs of an account.
func (s *Service) pullTimeExclusions(ctx context.Context, account string) ([]string, error) {
	if arns, ok := s.exclusions.get(exclusionKey(account)); ok {
		return arns, nil
	}
	es, err := s.meta.ListPullTimeExclusions(ctx, account, "", 0)
	if err != nil {
		return nil, fmt.Errorf("pull time exclusions of %s: %w", account, err)
	}
	arns := make([]string, len(es))
	for i, e := range es {
		arns[i] = e.PrincipalARN
	}
	s.exclusions.put(exclusionKey(account), arns)
	return arns, nil
}

// RegisterPullTimeExclusion adds a principal to the account's pull-time
// update exclusions (meta.ErrExists, meta.ErrLimitExceeded past
// MaxPullTimeExclusions).
func (s *Service) RegisterPullTimeExclusion(ctx context.Context, account, arn string) (meta.PullTimeExclusion, error) {
	e, err := s.meta.PutPullTimeExclusion(ctx, meta.PullTimeExclusion{AccountID: account, PrincipalARN: arn, CreatedAt: s.now()}, MaxPullTimeExclusions)
	s.exclusions.drop(exclusionKey(account))
	return e, err
}

// DeregisterPullTimeExclusion removes a principal from the account's
// exclusions (meta.ErrNotFound).
func (s *Service) DeregisterPullTimeExclusion(ctx context.Context, account, arn string) error {
	err := s.meta.DeletePullTimeExclusion(ctx, account, arn)
	s.exclusions.drop(exclusionKey(account))
	return err
}
