package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Lifecycle policies (table lifecycle_policies) and the latest lifecycle
// policy preview of each repository (lifecycle_previews), migration 0003.

// PutLifecyclePolicy sets the repository's lifecycle policy, resetting
// its last evaluation time; meta.ErrNotFound (through the foreign key)
// when the repository does not exist.
func (s *Store) PutLifecyclePolicy(ctx context.Context, p meta.LifecyclePolicy) (err error) {
	defer catch("put lifecycle policy", &err)
	_, err = s.exec(ctx, s.w, `INSERT INTO lifecycle_policies (repo_id, policy_text, updated_at, last_evaluated_at) VALUES (?, ?, ?, 0)
ON CONFLICT (repo_id) DO UPDATE SET policy_text = excluded.policy_text, updated_at = excluded.updated_at, last_evaluated_at = 0`,
		p.RepoID, p.Text, s.nanosOrNow(p.UpdatedAt))
	return s.wrap("put lifecycle policy", err)
}

// GetLifecyclePolicy returns the repository's lifecycle policy;
// meta.ErrNotFound when it has none.
func (s *Store) GetLifecyclePolicy(ctx context.Context, repoID int64) (p meta.LifecyclePolicy, err error) {
	defer catch("get lifecycle policy", &err)
	var updated, evaluated int64
	err = s.row(ctx, s.r, `SELECT policy_text, updated_at, last_evaluated_at FROM lifecycle_policies WHERE repo_id = ?`, repoID).
		Scan(&p.Text, &updated, &evaluated)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.LifecyclePolicy{}, notFound("lifecycle policy of repository %d", repoID)
	}
	if err != nil {
		return meta.LifecyclePolicy{}, s.wrap("get lifecycle policy", err)
	}
	p.RepoID, p.UpdatedAt, p.LastEvaluatedAt = repoID, fromNanos(updated), fromNanos(evaluated)
	return p, nil
}

// DeleteLifecyclePolicy removes the repository's lifecycle policy and
// returns it, in one statement; meta.ErrNotFound when it has none.
func (s *Store) DeleteLifecyclePolicy(ctx context.Context, repoID int64) (p meta.LifecyclePolicy, err error) {
	defer catch("delete lifecycle policy", &err)
	var updated, evaluated int64
	err = s.row(ctx, s.w, `DELETE FROM lifecycle_policies WHERE repo_id = ?
RETURNING policy_text, updated_at, last_evaluated_at`, repoID).Scan(&p.Text, &updated, &evaluated)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.LifecyclePolicy{}, notFound("lifecycle policy of repository %d", repoID)
	}
	if err != nil {
		return meta.LifecyclePolicy{}, s.wrap("delete lifecycle policy", err)
	}
	p.RepoID, p.UpdatedAt, p.LastEvaluatedAt = repoID, fromNanos(updated), fromNanos(evaluated)
	return p, nil
}

// SetLifecycleEvaluated records when the repository's policy last ran;
// meta.ErrNotFound when it has none.
func (s *Store) SetLifecycleEvaluated(ctx context.Context, repoID int64, at time.Time) (err error) {
	defer catch("set lifecycle evaluated", &err)
	n, err := s.exec(ctx, s.w, `UPDATE lifecycle_policies SET last_evaluated_at = ? WHERE repo_id = ?`, s.nanosOrNow(at), repoID)
	if err != nil {
		return s.wrap("set lifecycle evaluated", err)
	}
	if n == 0 {
		return notFound("lifecycle policy of repository %d", repoID)
	}
	return nil
}

// CreateLifecyclePreview replaces the repository's latest preview by a new
// one in progress, unless the latest is in progress and not abandoned
// (meta.ErrPreviewInProgress). The check and the write are one
// transaction, so of concurrent starts exactly one wins.
func (s *Store) CreateLifecyclePreview(ctx context.Context, p meta.LifecyclePreview, abandonedBefore time.Time) (out meta.LifecyclePreview, err error) {
	defer catch("create lifecycle preview", &err)
	started := s.nanosOrNow(p.StartedAt)
	asOf := nanos(p.AsOf)
	if asOf == 0 {
		asOf = started
	}
	var id int64
	err = s.write(ctx, "create lifecycle preview", func(tx *sql.Tx) error {
		var last, lastStarted int64
		var status string
		err := s.row(ctx, tx, `SELECT id, status, started_at FROM lifecycle_previews WHERE repo_id = ?`+s.d.forUpdate, p.RepoID).
			Scan(&last, &status, &lastStarted)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case status == meta.PreviewInProgress && (abandonedBefore.IsZero() || lastStarted >= abandonedBefore.UnixNano()):
			return &callbackError{fmt.Errorf("repository %d: %w", p.RepoID, meta.ErrPreviewInProgress)}
		}
		id = last + 1
		_, err = s.exec(ctx, tx, `INSERT INTO lifecycle_previews (repo_id, id, policy_text, as_of, status, started_at, finished_at, results,
    expiring_count, transitioning_count, bytes_freed, reason)
VALUES (?, ?, ?, ?, ?, ?, 0, NULL, 0, 0, 0, '')
ON CONFLICT (repo_id) DO UPDATE SET id = excluded.id, policy_text = excluded.policy_text, as_of = excluded.as_of,
    status = excluded.status, started_at = excluded.started_at, finished_at = 0, results = NULL,
    expiring_count = 0, transitioning_count = 0, bytes_freed = 0, reason = ''`,
			p.RepoID, id, p.PolicyText, asOf, meta.PreviewInProgress, started)
		return err
	})
	if err != nil {
		return meta.LifecyclePreview{}, err
	}
	return meta.LifecyclePreview{
		RepoID:     p.RepoID,
		ID:         id,
		PolicyText: p.PolicyText,
		AsOf:       fromNanos(asOf),
		Status:     meta.PreviewInProgress,
		StartedAt:  fromNanos(started),
	}, nil
}

// SetLifecyclePreviewResult finishes the preview (p.RepoID, p.ID) if it is
// still the repository's latest and in progress.
func (s *Store) SetLifecyclePreviewResult(ctx context.Context, p meta.LifecyclePreview) (err error) {
	defer catch("set lifecycle preview result", &err)
	if p.Status != meta.PreviewComplete && p.Status != meta.PreviewFailed {
		return fmt.Errorf("sqlstore: set lifecycle preview result: status %q is not %s or %s", p.Status, meta.PreviewComplete, meta.PreviewFailed)
	}
	n, err := s.exec(ctx, s.w, `UPDATE lifecycle_previews SET status = ?, finished_at = ?, results = ?,
    expiring_count = ?, transitioning_count = ?, bytes_freed = ?, reason = ?
WHERE repo_id = ? AND id = ? AND status = ?`,
		p.Status, s.nanosOrNow(p.FinishedAt), p.Results, p.ExpiringCount, p.TransitioningCount, p.BytesFreed, p.Reason,
		p.RepoID, p.ID, meta.PreviewInProgress)
	if err != nil {
		return s.wrap("set lifecycle preview result", err)
	}
	if n == 0 {
		return notFound("lifecycle preview %d of repository %d in progress", p.ID, p.RepoID)
	}
	return nil
}

// GetLifecyclePreview returns the repository's latest preview;
// meta.ErrNotFound when there is none.
func (s *Store) GetLifecyclePreview(ctx context.Context, repoID int64) (p meta.LifecyclePreview, err error) {
	defer catch("get lifecycle preview", &err)
	var asOf, started, finished int64
	err = s.row(ctx, s.r, `SELECT id, policy_text, as_of, status, started_at, finished_at, results,
    expiring_count, transitioning_count, bytes_freed, reason
FROM lifecycle_previews WHERE repo_id = ?`, repoID).Scan(&p.ID, &p.PolicyText, &asOf, &p.Status, &started, &finished, &p.Results,
		&p.ExpiringCount, &p.TransitioningCount, &p.BytesFreed, &p.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.LifecyclePreview{}, notFound("lifecycle preview of repository %d", repoID)
	}
	if err != nil {
		return meta.LifecyclePreview{}, s.wrap("get lifecycle preview", err)
	}
	p.RepoID = repoID
	p.AsOf, p.StartedAt, p.FinishedAt = fromNanos(asOf), fromNanos(started), fromNanos(finished)
	return p, nil
}
