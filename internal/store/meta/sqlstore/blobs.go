package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// LinkBlob records the blob if it is new (state live, created now) and
// links it into the repository, refreshing the link time. It fails with
// meta.ErrBlobDeleting, writing nothing, while GC is removing the blob, and
// with meta.ErrNotFound if the repository does not exist.
func (s *Store) LinkBlob(ctx context.Context, repoID int64, b meta.Blob) (err error) {
	defer catch("link blob", &err)
	return s.write(ctx, "link blob", func(tx *sql.Tx) error {
		now := s.now().UnixNano()
		// Locking the blob row orders this against MarkBlobDeleting.
		var state string
		err := s.row(ctx, tx, `SELECT state FROM blobs WHERE digest = ?`+s.d.forUpdate, b.Digest).Scan(&state)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// A concurrent LinkBlob of the same new digest may insert it
			// first: on PostgreSQL the conflict with a row this snapshot
			// cannot see is a serialization failure (retried, and the
			// retry finds the row) rather than a unique violation.
			n, err := s.exec(ctx, tx, `INSERT INTO blobs (digest, size, created_at, state) VALUES (?, ?, ?, 'live')
ON CONFLICT (digest) DO NOTHING`, b.Digest, b.Size, now)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("blob %s: inserted concurrently: %w", b.Digest, meta.ErrConflict)
			}
		case err != nil:
			return err
		case state != "live":
			return fmt.Errorf("blob %s: %w", b.Digest, meta.ErrBlobDeleting)
		}
		_, err = s.exec(ctx, tx, `INSERT INTO repo_blobs (repo_id, digest, linked_at) VALUES (?, ?, ?)
ON CONFLICT (repo_id, digest) DO UPDATE SET linked_at = excluded.linked_at`, repoID, b.Digest, now)
		return err
	})
}

// GetBlob returns a live blob linked in the repository.
func (s *Store) GetBlob(ctx context.Context, repoID int64, digest string) (b meta.Blob, err error) {
	defer catch("get blob", &err)
	var at int64
	err = s.row(ctx, s.r, `SELECT b.digest, b.size, b.created_at FROM repo_blobs rb
JOIN blobs b ON b.digest = rb.digest
WHERE rb.repo_id = ? AND rb.digest = ? AND b.state = 'live'`, repoID, digest).Scan(&b.Digest, &b.Size, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Blob{}, notFound("blob %s in repository %d", digest, repoID)
	}
	if err != nil {
		return meta.Blob{}, s.wrap("get blob", err)
	}
	b.CreatedAt = fromNanos(at)
	return b, nil
}

// StatBlob returns a live blob whatever its links.
func (s *Store) StatBlob(ctx context.Context, digest string) (b meta.Blob, err error) {
	defer catch("stat blob", &err)
	var at int64
	err = s.row(ctx, s.r, `SELECT digest, size, created_at FROM blobs WHERE digest = ? AND state = 'live'`, digest).
		Scan(&b.Digest, &b.Size, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Blob{}, notFound("blob %s", digest)
	}
	if err != nil {
		return meta.Blob{}, s.wrap("stat blob", err)
	}
	b.CreatedAt = fromNanos(at)
	return b, nil
}

// UnlinkBlob removes the blob's link from the repository.
//
// It is a write transaction although it is one statement: on PostgreSQL it
// must run SERIALIZABLE like PutManifest and MarkBlobDeleting. Otherwise a
// PutManifest that has seen the link, this delete and a GC's
// MarkBlobDeleting that cannot yet see the manifest's references would all
// commit, leaving a manifest whose blob is being deleted: serializable
// checking only tracks serializable writers.
func (s *Store) UnlinkBlob(ctx context.Context, repoID int64, digest string) (err error) {
	defer catch("unlink blob", &err)
	return s.write(ctx, "unlink blob", func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `DELETE FROM repo_blobs WHERE repo_id = ? AND digest = ?`, repoID, digest)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("blob %s in repository %d", digest, repoID)
		}
		return nil
	})
}

// UnlinkStale drops links older than cutoff whose digest no manifest of the
// same repository references, live or in the recycle bin (a restored image
// finds its links).
func (s *Store) UnlinkStale(ctx context.Context, cutoff time.Time) (n int64, err error) {
	defer catch("unlink stale", &err)
	err = s.write(ctx, "unlink stale", func(tx *sql.Tx) error {
		var err error
		n, err = s.exec(ctx, tx, `DELETE FROM repo_blobs WHERE linked_at < ? AND NOT EXISTS (
    SELECT 1 FROM manifest_refs mr WHERE mr.repo_id = repo_blobs.repo_id AND mr.ref_digest = repo_blobs.digest)
AND NOT EXISTS (
    SELECT 1 FROM bin_refs br WHERE br.repo_id = repo_blobs.repo_id AND br.ref_digest = repo_blobs.digest)`,
			cutoff.UnixNano())
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// unreferenced is the condition that makes the blob whose digest is the
// column col collectable, besides its age: no link and no reference of a
// manifest anywhere, live or in the recycle bin.
func unreferenced(col string) string {
	return `NOT EXISTS (SELECT 1 FROM repo_blobs rb WHERE rb.digest = ` + col + `)
AND NOT EXISTS (SELECT 1 FROM manifest_refs mr WHERE mr.ref_digest = ` + col + `)
AND NOT EXISTS (SELECT 1 FROM bin_refs br WHERE br.ref_digest = ` + col + `)`
}

func (s *Store) blobs(ctx context.Context, op, query string, args ...any) (out []meta.Blob, err error) {
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(query), args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b meta.Blob
		var at int64
		if err := rows.Scan(&b.Digest, &b.Size, &at); err != nil {
			return nil, s.wrap(op, err)
		}
		b.CreatedAt = fromNanos(at)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}

// GCCandidates lists live blobs created before cutoff that nothing links or
// references, oldest first.
func (s *Store) GCCandidates(ctx context.Context, cutoff time.Time, limit int) (out []meta.Blob, err error) {
	defer catch("gc candidates", &err)
	return s.blobs(ctx, "gc candidates", `SELECT b.digest, b.size, b.created_at FROM blobs b
WHERE b.state = 'live' AND b.created_at < ? AND `+unreferenced("b.digest")+`
ORDER BY b.created_at, b.digest LIMIT ?`, cutoff.UnixNano(), lim(limit))
}

// MarkBlobDeleting marks the blob deleting if it is still unreferenced and
// created before cutoff, returning true; false means it must be kept or
// that another collector marked it first; an unknown one meta.ErrNotFound.
func (s *Store) MarkBlobDeleting(ctx context.Context, digest string, cutoff time.Time) (ok bool, err error) {
	defer catch("mark blob deleting", &err)
	err = s.write(ctx, "mark blob deleting", func(tx *sql.Tx) error {
		var state string
		err := s.row(ctx, tx, `SELECT state FROM blobs WHERE digest = ?`+s.d.forUpdate, digest).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("blob %s", digest)
		}
		if err != nil {
			return err
		}
		if state == "deleting" {
			return nil // another collector owns it
		}
		n, err := s.exec(ctx, tx, `UPDATE blobs SET state = 'deleting', marked_at = ?
WHERE digest = ? AND state = 'live' AND created_at < ? AND `+unreferenced("blobs.digest"), s.now().UnixNano(), digest, cutoff.UnixNano())
		ok = n == 1
		return err
	})
	if err != nil {
		return false, err
	}
	return ok, nil
}

// ForgetBlob deletes a blob marked deleting: meta.ErrNotFound if there is
// no such blob, meta.ErrConflict if it is live.
func (s *Store) ForgetBlob(ctx context.Context, digest string) (err error) {
	defer catch("forget blob", &err)
	return s.write(ctx, "forget blob", func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `DELETE FROM blobs WHERE digest = ? AND state = 'deleting'`, digest)
		if err != nil || n == 1 {
			return err
		}
		live, err := s.exists(ctx, tx, `SELECT 1 FROM blobs WHERE digest = ?`, digest)
		if err != nil {
			return err
		}
		if live {
			return fmt.Errorf("blob %s is not marked deleting: %w", digest, meta.ErrConflict)
		}
		return notFound("blob %s", digest)
	})
}

// ListDeletingBlobs lists blobs marked deleting before markedBefore, by
// digest.
func (s *Store) ListDeletingBlobs(ctx context.Context, markedBefore time.Time, limit int) (out []meta.Blob, err error) {
	defer catch("list deleting blobs", &err)
	return s.blobs(ctx, "list deleting blobs", `SELECT digest, size, created_at FROM blobs
WHERE state = 'deleting' AND marked_at < ? ORDER BY digest LIMIT ?`, markedBefore.UnixNano(), lim(limit))
}

// ClaimDeletion renews a mark older than markedBefore, returning true when
// this caller took it over.
func (s *Store) ClaimDeletion(ctx context.Context, digest string, markedBefore time.Time) (ok bool, err error) {
	defer catch("claim deletion", &err)
	err = s.write(ctx, "claim deletion", func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE blobs SET marked_at = ? WHERE digest = ? AND state = 'deleting' AND marked_at < ?`,
			s.now().UnixNano(), digest, markedBefore.UnixNano())
		ok = n == 1
		return err
	})
	return ok, err
}

// GCPreview lists live blobs a collection with this cutoff would delete
// after dropping stale links: created before cutoff, referenced by no
// manifest (live or binned), linked nowhere since cutoff.
func (s *Store) GCPreview(ctx context.Context, cutoff time.Time, limit int) (out []meta.Blob, err error) {
	defer catch("gc preview", &err)
	c := cutoff.UnixNano()
	return s.blobs(ctx, "gc preview", `SELECT b.digest, b.size, b.created_at FROM blobs b
WHERE b.state = 'live' AND b.created_at < ?
AND NOT EXISTS (SELECT 1 FROM repo_blobs rb WHERE rb.digest = b.digest AND rb.linked_at >= ?)
AND NOT EXISTS (SELECT 1 FROM manifest_refs mr WHERE mr.ref_digest = b.digest)
AND NOT EXISTS (SELECT 1 FROM bin_refs br WHERE br.ref_digest = b.digest)
ORDER BY b.created_at, b.digest LIMIT ?`, c, c, lim(limit))
}
