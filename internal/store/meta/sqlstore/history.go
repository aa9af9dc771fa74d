package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Tag history paging, rollback moves, the recycle bin and the platform
// guard (meta.HistoryStore; tables of migration 0008).
//
// A deleted image moves, in the transaction that deletes it, from
// manifests/manifest_refs to bin_images/bin_refs; restoring moves it back.
// GC treats bin_refs like manifest_refs (see unreferenced and UnlinkStale),
// so a binned image's blobs and links stay until the bin lets it go.

// TagEvents returns the repository's tag events matching q, newest first.
func (s *Store) TagEvents(ctx context.Context, repoID int64, q meta.TagEventQuery) (out []meta.TagEvent, err error) {
	defer catch("tag events", &err)
	query := `SELECT id, repo_id, tag, from_digest, to_digest, at, actor, via FROM tag_events WHERE repo_id = ?`
	args := []any{repoID}
	if q.Tag != "" {
		query += ` AND tag = ?`
		args = append(args, q.Tag)
	}
	if q.BeforeID > 0 {
		query += ` AND id < ?`
		args = append(args, q.BeforeID)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, lim(q.Limit))
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(query), args...)
	if err != nil {
		return nil, s.wrap("tag events", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e meta.TagEvent
		var at int64
		if err := rows.Scan(&e.ID, &e.RepoID, &e.Tag, &e.From, &e.To, &at, &e.Actor, &e.Via); err != nil {
			return nil, s.wrap("tag events", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, s.wrap("tag events", rows.Err())
}

// LastTagged returns, per digest, the time of the newest tag event that
// moved a tag to it.
func (s *Store) LastTagged(ctx context.Context, repoID int64) (out map[string]time.Time, err error) {
	defer catch("last tagged", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT to_digest, MAX(at) FROM tag_events
WHERE repo_id = ? AND to_digest <> '' GROUP BY to_digest`), repoID)
	if err != nil {
		return nil, s.wrap("last tagged", err)
	}
	defer rows.Close()
	out = map[string]time.Time{}
	for rows.Next() {
		var d string
		var at int64
		if err := rows.Scan(&d, &at); err != nil {
			return nil, s.wrap("last tagged", err)
		}
		out[d] = fromNanos(at)
	}
	return out, s.wrap("last tagged", rows.Err())
}

// MoveTag points a tag at a manifest already in the repository, if it
// still points at m.Expect.
func (s *Store) MoveTag(ctx context.Context, m meta.MoveTag) (err error) {
	defer catch("move tag", &err)
	return s.write(ctx, "move tag", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`+s.d.forUpdate, m.RepoID, m.Digest)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("manifest %s in repository %d", m.Digest, m.RepoID)
		}
		cur, err := s.tagTarget(ctx, tx, m.RepoID, m.Tag)
		if err != nil {
			return err
		}
		if cur != m.Expect {
			return fmt.Errorf("tag %s points at %q, not %q: %w", m.Tag, cur, m.Expect, meta.ErrConflict)
		}
		return s.pointTag(ctx, tx, m.RepoID, m.Tag, cur, m.Digest, m.AllowTagMove, m.Actor, m.Via)
	})
}

// pointTag points a tag, which points at cur ("" = a new tag), at digest,
// and records the move in the tag history; allow (when set) may refuse
// the move first. Pointing a tag where it already points changes nothing.
func (s *Store) pointTag(ctx context.Context, tx *sql.Tx, repoID int64, tag, cur, digest string, allow func(string) error, actor, via string) error {
	if allow != nil {
		if err := allow(cur); err != nil {
			return &callbackError{err}
		}
	}
	if cur == digest {
		return nil
	}
	now := s.now().UnixNano()
	if _, err := s.exec(ctx, tx, `INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
		repoID, tag, digest, now); err != nil {
		return err
	}
	return s.tagEvent(ctx, tx, repoID, tag, cur, digest, now, actor, via)
}

// tagTarget is the digest a tag points at ("" when it does not exist),
// locked for the transaction.
func (s *Store) tagTarget(ctx context.Context, tx *sql.Tx, repoID int64, tag string) (string, error) {
	var cur string
	err := s.row(ctx, tx, qResolveTag+s.d.forUpdate, repoID, tag).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return cur, err
}

// listingIndex returns an index of the repository that lists the manifest
// ("" when none).
func (s *Store) listingIndex(ctx context.Context, tx *sql.Tx, repoID int64, digest string) (string, error) {
	var parent string
	err := s.row(ctx, tx, `SELECT manifest_digest FROM manifest_refs
WHERE repo_id = ? AND ref_digest = ? AND kind = 'manifest' AND manifest_digest <> ?
ORDER BY manifest_digest LIMIT 1`, repoID, digest, digest).Scan(&parent)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return parent, err
}

// DeleteImage deletes an image (by digest) or a tag (and the image it
// leaves untagged, with DeleteUntagged), into the bin when BinUntil is set.
func (s *Store) DeleteImage(ctx context.Context, d meta.ImageDelete) (res meta.ImageDeleteResult, err error) {
	defer catch("delete image", &err)
	err = s.write(ctx, "delete image", func(tx *sql.Tx) error {
		res = meta.ImageDeleteResult{}
		now := s.now().UnixNano()
		digest := d.Digest
		if d.Tag != "" {
			cur, err := s.tagTarget(ctx, tx, d.RepoID, d.Tag)
			if err != nil {
				return err
			}
			if cur == "" {
				return notFound("tag %s in repository %d", d.Tag, d.RepoID)
			}
			if digest != "" && cur != digest {
				return fmt.Errorf("tag %s points at %s, not %s: %w", d.Tag, cur, digest, meta.ErrConflict)
			}
			digest = cur
			if _, err := s.exec(ctx, tx, `DELETE FROM tags WHERE repo_id = ? AND name = ?`, d.RepoID, d.Tag); err != nil {
				return err
			}
			if err := s.tagEvent(ctx, tx, d.RepoID, d.Tag, cur, "", now, d.Actor, d.Via); err != nil {
				return err
			}
			res.Digest, res.Tags = cur, []string{d.Tag}
			if !d.DeleteUntagged {
				return nil
			}
			// The image stays while another tag points at it or an index
			// lists it: untagging never deletes another tag's image.
			tagged, err := s.exists(ctx, tx, `SELECT 1 FROM tags WHERE repo_id = ? AND digest = ?`, d.RepoID, digest)
			if err != nil || tagged {
				return err
			}
			parent, err := s.listingIndex(ctx, tx, d.RepoID, digest)
			if err != nil || parent != "" {
				return err
			}
		} else {
			ok, err := s.exists(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`+s.d.forUpdate, d.RepoID, digest)
			if err != nil {
				return err
			}
			if !ok {
				return notFound("manifest %s in repository %d", digest, d.RepoID)
			}
			parent, err := s.listingIndex(ctx, tx, d.RepoID, digest)
			if err != nil {
				return err
			}
			if parent != "" {
				return &meta.ReferencedError{Digest: digest, Index: parent}
			}
			tags, err := s.texts(ctx, tx, `SELECT name FROM tags WHERE repo_id = ? AND digest = ? ORDER BY name`, d.RepoID, digest)
			if err != nil {
				return err
			}
			for _, t := range tags {
				if err := s.tagEvent(ctx, tx, d.RepoID, t, digest, "", now, d.Actor, d.Via); err != nil {
					return err
				}
			}
			if _, err := s.exec(ctx, tx, `DELETE FROM tags WHERE repo_id = ? AND digest = ?`, d.RepoID, digest); err != nil {
				return err
			}
			res.Digest, res.Tags = digest, tags
		}
		if !d.BinUntil.IsZero() {
			if err := s.binManifest(ctx, tx, d, digest, res.Tags, now); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DELETE FROM manifest_refs WHERE repo_id = ? AND manifest_digest = ?`,
			`DELETE FROM manifests WHERE repo_id = ? AND digest = ?`,
		} {
			if _, err := s.exec(ctx, tx, q, d.RepoID, digest); err != nil {
				return err
			}
		}
		res.Deleted = true
		return nil
	})
	if err != nil {
		return meta.ImageDeleteResult{}, err
	}
	return res, nil
}

// binManifest copies a manifest row and its references into the bin (a
// stale entry of the same digest is replaced).
func (s *Store) binManifest(ctx context.Context, tx *sql.Tx, d meta.ImageDelete, digest string, tags []string, now int64) error {
	var m meta.Manifest
	if err := scanManifest(s.row(ctx, tx, qGetManifest, d.RepoID, digest), &m); err != nil {
		return err
	}
	if tags == nil {
		tags = []string{}
	}
	tagJSON, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	if err := s.unbin(ctx, tx, d.RepoID, digest); err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO bin_images (repo_id, digest, media_type, artifact_type, subject, config_digest, size, content, annotations,
pushed_at, last_pull_at, image_status, archived_at, activated_at, tags, deleted_at, expires_at, deleted_by, via)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.RepoID, digest, m.MediaType, m.ArtifactType, m.Subject, m.ConfigDigest, m.Size, m.Content, m.Annotations,
		nanos(m.PushedAt), nanos(m.LastPullAt), m.Status, nanos(m.ArchivedAt), nanos(m.ActivatedAt),
		string(tagJSON), now, d.BinUntil.UnixNano(), d.Actor, d.Via); err != nil {
		return err
	}
	_, err = s.exec(ctx, tx, `INSERT INTO bin_refs (repo_id, manifest_digest, ref_digest, kind)
SELECT repo_id, manifest_digest, ref_digest, kind FROM manifest_refs WHERE repo_id = ? AND manifest_digest = ?`, d.RepoID, digest)
	return err
}

// unbin drops the bin entry of a digest (if any).
func (s *Store) unbin(ctx context.Context, tx *sql.Tx, repoID int64, digest string) error {
	for _, q := range []string{
		`DELETE FROM bin_refs WHERE repo_id = ? AND manifest_digest = ?`,
		`DELETE FROM bin_images WHERE repo_id = ? AND digest = ?`,
	} {
		if _, err := s.exec(ctx, tx, q, repoID, digest); err != nil {
			return err
		}
	}
	return nil
}

const binColumns = `b.repo_id, r.account_id, r.name, b.digest, b.media_type, b.artifact_type, b.subject, b.config_digest, b.size,
b.content, b.annotations, b.pushed_at, b.last_pull_at, b.image_status, b.archived_at, b.activated_at, b.tags, b.deleted_at, b.expires_at, b.deleted_by, b.via
FROM bin_images b JOIN repositories r ON r.id = b.repo_id`

func scanBin(sc interface{ Scan(...any) error }) (meta.BinEntry, error) {
	var e meta.BinEntry
	m := &e.Manifest
	var pushed, pulled, archived, activated, deleted, expires int64
	var tags string
	if err := sc.Scan(&m.RepoID, &e.AccountID, &e.Repository, &m.Digest, &m.MediaType, &m.ArtifactType, &m.Subject,
		&m.ConfigDigest, &m.Size, &m.Content, &m.Annotations, &pushed, &pulled, &m.Status, &archived, &activated,
		&tags, &deleted, &expires, &e.DeletedBy, &e.Via); err != nil {
		return e, err
	}
	m.PushedAt, m.LastPullAt = fromNanos(pushed), fromNanos(pulled)
	m.ArchivedAt, m.ActivatedAt = fromNanos(archived), fromNanos(activated)
	e.DeletedAt, e.ExpiresAt = fromNanos(deleted), fromNanos(expires)
	if err := json.Unmarshal([]byte(tags), &e.Tags); err != nil {
		return e, fmt.Errorf("bin entry %s: tags: %w", m.Digest, err)
	}
	if len(e.Tags) == 0 {
		e.Tags = nil
	}
	return e, nil
}

// ListBin returns bin entries, newest deletion first.
func (s *Store) ListBin(ctx context.Context, q meta.BinQuery) (out []meta.BinEntry, err error) {
	defer catch("list bin", &err)
	query := `SELECT ` + binColumns + ` WHERE 1 = 1`
	var args []any
	if q.AccountID != "" {
		query += ` AND r.account_id = ?`
		args = append(args, q.AccountID)
	}
	if q.RepoID != 0 {
		query += ` AND b.repo_id = ?`
		args = append(args, q.RepoID)
	}
	if !q.Now.IsZero() {
		query += ` AND b.expires_at > ?`
		args = append(args, q.Now.UnixNano())
	}
	if a := q.After; !a.DeletedAt.IsZero() {
		t := a.DeletedAt.UnixNano()
		query += ` AND (b.deleted_at < ? OR (b.deleted_at = ? AND (b.repo_id > ? OR (b.repo_id = ? AND b.digest > ?))))`
		args = append(args, t, t, a.RepoID, a.RepoID, a.Digest)
	}
	query += ` ORDER BY b.deleted_at DESC, b.repo_id, b.digest LIMIT ?`
	args = append(args, lim(q.Limit))
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(query), args...)
	if err != nil {
		return nil, s.wrap("list bin", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanBin(rows)
		if err != nil {
			return nil, s.wrap("list bin", err)
		}
		out = append(out, e)
	}
	return out, s.wrap("list bin", rows.Err())
}

// GetBinEntry returns the bin entry of a digest, expired or not.
func (s *Store) GetBinEntry(ctx context.Context, repoID int64, digest string) (e meta.BinEntry, err error) {
	defer catch("get bin entry", &err)
	e, err = scanBin(s.row(ctx, s.r, `SELECT `+binColumns+` WHERE b.repo_id = ? AND b.digest = ?`, repoID, digest))
	if errors.Is(err, sql.ErrNoRows) {
		return meta.BinEntry{}, notFound("image %s in the recycle bin of repository %d", digest, repoID)
	}
	if err != nil {
		return meta.BinEntry{}, s.wrap("get bin entry", err)
	}
	return e, nil
}

// RestoreImages moves images back from the bin, in order, in one
// transaction.
func (s *Store) RestoreImages(ctx context.Context, repoID int64, images []meta.ImageRestore, now time.Time, actor, via string) (out []meta.RestoredImage, err error) {
	defer catch("restore images", &err)
	err = s.write(ctx, "restore images", func(tx *sql.Tx) error {
		out = out[:0]
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM repositories WHERE id = ?`, repoID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("repository %d", repoID)
		}
		at := s.now().UnixNano()
		for _, im := range images {
			live, err := s.exists(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`, repoID, im.Digest)
			if err != nil {
				return err
			}
			if live {
				out = append(out, meta.RestoredImage{Digest: im.Digest})
				continue
			}
			var m meta.Manifest
			var pushed, pulled, archived, activated int64
			var status, tagJSON string
			err = s.row(ctx, tx, `SELECT media_type, artifact_type, subject, config_digest, size, content, annotations, pushed_at, last_pull_at,
    image_status, archived_at, activated_at, tags
FROM bin_images WHERE repo_id = ? AND digest = ? AND expires_at > ?`+s.d.forUpdate, repoID, im.Digest, now.UnixNano()).Scan(
				&m.MediaType, &m.ArtifactType, &m.Subject, &m.ConfigDigest, &m.Size, &m.Content, &m.Annotations, &pushed, &pulled,
				&status, &archived, &activated, &tagJSON)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("image %s in the recycle bin of repository %d", im.Digest, repoID)
			}
			if err != nil {
				return err
			}
			missing, err := s.missing(ctx, tx, `SELECT 1 FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest
WHERE rb.repo_id = ? AND rb.digest = ? AND b.state = 'live'`, repoID, dedup(im.Refs.Blobs))
			if err != nil {
				return err
			}
			if len(missing) > 0 {
				return &meta.MissingError{Kind: meta.ErrBlobsMissing, Digests: missing}
			}
			missing, err = s.missing(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`, repoID, dedup(im.Refs.Manifests))
			if err != nil {
				return err
			}
			if len(missing) > 0 {
				return &meta.MissingError{Kind: meta.ErrChildMissing, Digests: missing}
			}
			// An archived image comes back archived; one that was being
			// restored comes back active (its restore job found nothing
			// to finish while it was in the bin).
			if status == meta.ImageActivating {
				status, activated = meta.ImageActive, at
			}
			if _, err := s.exec(ctx, tx, `INSERT INTO manifests (repo_id, digest, media_type, artifact_type, subject, config_digest, size, content, annotations,
    pushed_at, last_pull_at, image_status, archived_at, activated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, repoID, im.Digest, m.MediaType, m.ArtifactType, m.Subject, m.ConfigDigest, m.Size,
				m.Content, m.Annotations, pushed, pulled, status, archived, activated); err != nil {
				return err
			}
			if _, err := s.exec(ctx, tx, `INSERT INTO manifest_refs (repo_id, manifest_digest, ref_digest, kind)
SELECT repo_id, manifest_digest, ref_digest, kind FROM bin_refs WHERE repo_id = ? AND manifest_digest = ?`, repoID, im.Digest); err != nil {
				return err
			}
			if err := s.unbin(ctx, tx, repoID, im.Digest); err != nil {
				return err
			}
			var tags []string
			if err := json.Unmarshal([]byte(tagJSON), &tags); err != nil {
				return fmt.Errorf("bin entry %s: tags: %w", im.Digest, err)
			}
			ri := meta.RestoredImage{Digest: im.Digest}
			for _, t := range tags {
				cur, err := s.tagTarget(ctx, tx, repoID, t)
				if err != nil {
					return err
				}
				if cur != "" {
					// Moved meanwhile: not stolen back.
					if ri.Skipped == nil {
						ri.Skipped = map[string]string{}
					}
					ri.Skipped[t] = cur
					continue
				}
				if _, err := s.exec(ctx, tx, `INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)`,
					repoID, t, im.Digest, at); err != nil {
					return err
				}
				if err := s.tagEvent(ctx, tx, repoID, t, "", im.Digest, at, actor, via); err != nil {
					return err
				}
				ri.Tags = append(ri.Tags, t)
			}
			out = append(out, ri)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PurgeBin drops entries that expired at or before "before".
func (s *Store) PurgeBin(ctx context.Context, before time.Time, limit int) (n int64, err error) {
	defer catch("purge bin", &err)
	err = s.write(ctx, "purge bin", func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT repo_id, digest FROM bin_images WHERE expires_at <= ?
ORDER BY expires_at, repo_id, digest LIMIT ?`), before.UnixNano(), lim(limit))
		if err != nil {
			return err
		}
		type key struct {
			repo   int64
			digest string
		}
		var keys []key
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.repo, &k.digest); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			if err := s.unbin(ctx, tx, k.repo, k.digest); err != nil {
				return err
			}
		}
		n = int64(len(keys))
		return nil
	})
	return n, err
}

// GetPlatformGuard returns the repository's platform guard setting.
func (s *Store) GetPlatformGuard(ctx context.Context, repoID int64) (g meta.PlatformGuard, err error) {
	defer catch("get platform guard", &err)
	var at int64
	err = s.row(ctx, s.r, `SELECT enabled, updated_at, updated_by FROM platform_guards WHERE repo_id = ?`, repoID).
		Scan(&g.Enabled, &at, &g.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.PlatformGuard{RepoID: repoID}, nil
	}
	if err != nil {
		return meta.PlatformGuard{}, s.wrap("get platform guard", err)
	}
	g.RepoID, g.UpdatedAt = repoID, fromNanos(at)
	return g, nil
}

// PutPlatformGuard writes the repository's platform guard setting.
func (s *Store) PutPlatformGuard(ctx context.Context, g meta.PlatformGuard) (err error) {
	defer catch("put platform guard", &err)
	return s.write(ctx, "put platform guard", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM repositories WHERE id = ?`, g.RepoID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("repository %d", g.RepoID)
		}
		_, err = s.exec(ctx, tx, `INSERT INTO platform_guards (repo_id, enabled, updated_at, updated_by) VALUES (?, ?, ?, ?)
ON CONFLICT (repo_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			g.RepoID, g.Enabled, s.nanosOrNow(g.UpdatedAt), g.UpdatedBy)
		return err
	})
}
