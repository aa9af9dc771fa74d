package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Image statuses (manifests.image_status, archived_at, activated_at) and
// pull-time update exclusions (pull_time_exclusions), migration 0007.

// SetImageStatus moves an image between statuses if its status is one of
// from, recording the archive or activation time.
func (s *Store) SetImageStatus(ctx context.Context, repoID int64, digest string, from []string, to string, at time.Time) (err error) {
	defer catch("set image status", &err)
	switch to {
	case meta.ImageActive, meta.ImageArchived, meta.ImageActivating:
	default:
		return fmt.Errorf("sqlstore: set image status: unknown status %q", to)
	}
	t := s.nanosOrNow(at)
	return s.write(ctx, "set image status", func(tx *sql.Tx) error {
		var cur string
		err := s.row(ctx, tx, `SELECT image_status FROM manifests WHERE repo_id = ? AND digest = ?`+s.d.forUpdate, repoID, digest).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("manifest %s in repository %d", digest, repoID)
		}
		if err != nil {
			return err
		}
		if !slices.Contains(from, cur) {
			return &callbackError{&meta.StatusError{Status: cur}}
		}
		q := `UPDATE manifests SET image_status = ? WHERE repo_id = ? AND digest = ?`
		args := []any{to, repoID, digest}
		switch to {
		case meta.ImageArchived:
			q = `UPDATE manifests SET image_status = ?, archived_at = ? WHERE repo_id = ? AND digest = ?`
			args = []any{to, t, repoID, digest}
		case meta.ImageActive:
			q = `UPDATE manifests SET image_status = ?, activated_at = ? WHERE repo_id = ? AND digest = ?`
			args = []any{to, t, repoID, digest}
		}
		_, err = s.exec(ctx, tx, q, args...)
		return err
	})
}

// RestoreImageState writes an image's status and times as they are.
func (s *Store) RestoreImageState(ctx context.Context, repoID int64, digest, status string, archivedAt, activatedAt time.Time) (err error) {
	defer catch("restore image state", &err)
	switch status {
	case meta.ImageActive, meta.ImageArchived, meta.ImageActivating:
	default:
		return fmt.Errorf("sqlstore: restore image state: unknown status %q", status)
	}
	n, err := s.exec(ctx, s.w, `UPDATE manifests SET image_status = ?, archived_at = ?, activated_at = ? WHERE repo_id = ? AND digest = ?`,
		status, nanos(archivedAt), nanos(activatedAt), repoID, digest)
	if err != nil {
		return s.wrap("restore image state", err)
	}
	if n == 0 {
		return notFound("manifest %s in repository %d", digest, repoID)
	}
	return nil
}

// PutPullTimeExclusion adds an exclusion; the count check and the insert are
// one transaction, so concurrent adds cannot pass max.
func (s *Store) PutPullTimeExclusion(ctx context.Context, e meta.PullTimeExclusion, max int) (out meta.PullTimeExclusion, err error) {
	defer catch("put pull time exclusion", &err)
	at := s.nanosOrNow(e.CreatedAt)
	err = s.write(ctx, "put pull time exclusion", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM pull_time_exclusions WHERE account_id = ? AND principal_arn = ?`, e.AccountID, e.PrincipalARN)
		if err != nil {
			return err
		}
		if ok {
			return &callbackError{fmt.Errorf("pull time exclusion %s of %s: %w", e.PrincipalARN, e.AccountID, meta.ErrExists)}
		}
		if max > 0 {
			var n int
			if err := s.row(ctx, tx, `SELECT COUNT(*) FROM pull_time_exclusions WHERE account_id = ?`, e.AccountID).Scan(&n); err != nil {
				return err
			}
			if n >= max {
				return &callbackError{fmt.Errorf("account %s has %d pull time exclusions: %w", e.AccountID, n, meta.ErrLimitExceeded)}
			}
		}
		_, err = s.exec(ctx, tx, `INSERT INTO pull_time_exclusions (account_id, principal_arn, created_at) VALUES (?, ?, ?)`,
			e.AccountID, e.PrincipalARN, at)
		return err
	})
	if err != nil {
		return meta.PullTimeExclusion{}, err
	}
	e.CreatedAt = fromNanos(at)
	return e, nil
}

// DeletePullTimeExclusion removes an exclusion.
func (s *Store) DeletePullTimeExclusion(ctx context.Context, accountID, principalARN string) (err error) {
	defer catch("delete pull time exclusion", &err)
	n, err := s.exec(ctx, s.w, `DELETE FROM pull_time_exclusions WHERE account_id = ? AND principal_arn = ?`, accountID, principalARN)
	if err != nil {
		return s.wrap("delete pull time exclusion", err)
	}
	if n == 0 {
		return notFound("pull time exclusion %s of %s", principalARN, accountID)
	}
	return nil
}

// ListPullTimeExclusions lists an account's exclusions by ARN.
func (s *Store) ListPullTimeExclusions(ctx context.Context, accountID, after string, limit int) (out []meta.PullTimeExclusion, err error) {
	defer catch("list pull time exclusions", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT principal_arn, created_at FROM pull_time_exclusions
WHERE account_id = ? AND principal_arn > ? ORDER BY principal_arn LIMIT ?`), accountID, after, lim(limit))
	if err != nil {
		return nil, s.wrap("list pull time exclusions", err)
	}
	defer rows.Close()
	for rows.Next() {
		e := meta.PullTimeExclusion{AccountID: accountID}
		var at int64
		if err := rows.Scan(&e.PrincipalARN, &at); err != nil {
			return nil, s.wrap("list pull time exclusions", err)
		}
		e.CreatedAt = fromNanos(at)
		out = append(out, e)
	}
	return out, s.wrap("list pull time exclusions", rows.Err())
}
