package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

const uploadCols = `id, repo_id, upload_offset, hash_state, started_at, updated_at`

func scanUpload(sc interface{ Scan(...any) error }) (meta.Upload, error) {
	var u meta.Upload
	var started, updated int64
	err := sc.Scan(&u.ID, &u.RepoID, &u.Offset, &u.HashState, &started, &updated)
	u.StartedAt, u.UpdatedAt = fromNanos(started), fromNanos(updated)
	return u, err
}

// CreateUpload inserts u (zero times mean now): meta.ErrExists if the id is
// taken, meta.ErrNotFound if the repository does not exist.
func (s *Store) CreateUpload(ctx context.Context, u meta.Upload) (err error) {
	defer catch("create upload", &err)
	now := s.now()
	if u.StartedAt.IsZero() {
		u.StartedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.StartedAt
	}
	n, err := s.exec(ctx, s.w, `INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`, u.ID, u.RepoID, u.Offset, u.HashState, u.StartedAt.UnixNano(), u.UpdatedAt.UnixNano())
	if err != nil {
		return s.wrap("create upload", err)
	}
	if n == 0 {
		return fmt.Errorf("upload %s: %w", u.ID, meta.ErrExists)
	}
	return nil
}

// GetUpload returns the upload with the id.
func (s *Store) GetUpload(ctx context.Context, id string) (u meta.Upload, err error) {
	defer catch("get upload", &err)
	u, err = scanUpload(s.row(ctx, s.r, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Upload{}, notFound("upload %s", id)
	}
	if err != nil {
		return meta.Upload{}, s.wrap("get upload", err)
	}
	return u, nil
}

// AdvanceUpload moves the upload from offset "from" to u.Offset with
// u.HashState, setting updated_at to now (u.UpdatedAt is ignored). It fails
// with meta.ErrConflict when the upload is no longer at "from" and with
// meta.ErrNotFound when it does not exist.
func (s *Store) AdvanceUpload(ctx context.Context, u meta.Upload, from int64) (err error) {
	defer catch("advance upload", &err)
	return s.write(ctx, "advance upload", func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE uploads SET upload_offset = ?, hash_state = ?, updated_at = ?
WHERE id = ? AND upload_offset = ?`, u.Offset, u.HashState, s.now().UnixNano(), u.ID, from)
		if err != nil || n == 1 {
			return err
		}
		var cur int64
		err = s.row(ctx, tx, `SELECT upload_offset FROM uploads WHERE id = ?`, u.ID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("upload %s", u.ID)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("upload %s is at offset %d, not %d: %w", u.ID, cur, from, meta.ErrConflict)
	})
}

// DeleteUpload deletes the upload.
func (s *Store) DeleteUpload(ctx context.Context, id string) (err error) {
	defer catch("delete upload", &err)
	n, err := s.exec(ctx, s.w, `DELETE FROM uploads WHERE id = ?`, id)
	if err != nil {
		return s.wrap("delete upload", err)
	}
	if n == 0 {
		return notFound("upload %s", id)
	}
	return nil
}

// ListUploadsBefore lists uploads last updated before "before", oldest first.
func (s *Store) ListUploadsBefore(ctx context.Context, before time.Time, limit int) (out []meta.Upload, err error) {
	defer catch("list uploads", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+uploadCols+` FROM uploads
WHERE updated_at < ? ORDER BY updated_at, id LIMIT ?`), before.UnixNano(), lim(limit))
	if err != nil {
		return nil, s.wrap("list uploads", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, s.wrap("list uploads", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list uploads", err)
	}
	return out, nil
}

// CountUploads counts the uploads in progress.
func (s *Store) CountUploads(ctx context.Context) (n int64, err error) {
	defer catch("count uploads", &err)
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM uploads`).Scan(&n); err != nil {
		return 0, s.wrap("count uploads", err)
	}
	return n, nil
}
