package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// The meta.TransferStore methods: listings and restoring writes for copying
// a registry between stores (internal/migrate).

// ListBlobLinks returns up to limit live blobs linked in the repository
// after the digest "after", in byte order.
func (s *Store) ListBlobLinks(ctx context.Context, repoID int64, after string, limit int) (out []meta.Blob, err error) {
	defer catch("list blob links", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT b.digest, b.size, b.created_at FROM repo_blobs rb
JOIN blobs b ON b.digest = rb.digest
WHERE rb.repo_id = ? AND rb.digest > ? AND b.state = 'live' ORDER BY rb.digest LIMIT ?`), repoID, after, lim(limit))
	if err != nil {
		return nil, s.wrap("list blob links", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b meta.Blob
		var at int64
		if err := rows.Scan(&b.Digest, &b.Size, &at); err != nil {
			return nil, s.wrap("list blob links", err)
		}
		b.CreatedAt = fromNanos(at)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list blob links", err)
	}
	return out, nil
}

// ManifestRefs returns the recorded references of the manifest: blob
// references (required and optional alike) in Blobs, index children in
// Manifests, each in byte order.
func (s *Store) ManifestRefs(ctx context.Context, repoID int64, digest string) (refs meta.Refs, err error) {
	defer catch("manifest refs", &err)
	err = s.read(ctx, "manifest refs", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`, repoID, digest)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("manifest %s in repository %d", digest, repoID)
		}
		rows, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT kind, ref_digest FROM manifest_refs
WHERE repo_id = ? AND manifest_digest = ? ORDER BY kind, ref_digest`), repoID, digest)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var kind, d string
			if err := rows.Scan(&kind, &d); err != nil {
				return err
			}
			if kind == "manifest" {
				refs.Manifests = append(refs.Manifests, d)
			} else {
				refs.Blobs = append(refs.Blobs, d)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return meta.Refs{}, err
	}
	return refs, nil
}

// ListTagInfos returns up to limit tags of the repository after "after",
// in byte order, with their targets and update times.
func (s *Store) ListTagInfos(ctx context.Context, repoID int64, after string, limit int) (out []meta.TagInfo, err error) {
	defer catch("list tag infos", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT name, digest, updated_at FROM tags
WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?`), repoID, after, lim(limit))
	if err != nil {
		return nil, s.wrap("list tag infos", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t meta.TagInfo
		var at int64
		if err := rows.Scan(&t.Name, &t.Digest, &at); err != nil {
			return nil, s.wrap("list tag infos", err)
		}
		t.UpdatedAt = fromNanos(at)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list tag infos", err)
	}
	return out, nil
}

// ListTagEvents returns up to limit tag events of the repository, oldest
// first (by insertion), skipping the first offset.
func (s *Store) ListTagEvents(ctx context.Context, repoID int64, offset, limit int) (out []meta.TagEvent, err error) {
	defer catch("list tag events", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT repo_id, tag, from_digest, to_digest, at, actor, via
FROM tag_events WHERE repo_id = ? ORDER BY id LIMIT ? OFFSET ?`), repoID, lim(limit), max(offset, 0))
	if err != nil {
		return nil, s.wrap("list tag events", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e meta.TagEvent
		var at int64
		if err := rows.Scan(&e.RepoID, &e.Tag, &e.From, &e.To, &at, &e.Actor, &e.Via); err != nil {
			return nil, s.wrap("list tag events", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list tag events", err)
	}
	return out, nil
}

// ListTaggedResources returns every ARN with resource tags, in byte order
// (sorted here: the column is not byte-ordered on every database).
func (s *Store) ListTaggedResources(ctx context.Context) (out []string, err error) {
	defer catch("list tagged resources", &err)
	out, err = s.texts(ctx, s.r, `SELECT DISTINCT arn FROM resource_tags`)
	if err != nil {
		return nil, s.wrap("list tagged resources", err)
	}
	slices.Sort(out)
	return out, nil
}

// ListAccountSettings returns the account's settings by name.
func (s *Store) ListAccountSettings(ctx context.Context, accountID string) (out map[string]string, err error) {
	defer catch("list account settings", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT name, value FROM account_settings WHERE account_id = ?`), accountID)
	if err != nil {
		return nil, s.wrap("list account settings", err)
	}
	defer rows.Close()
	out = map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, s.wrap("list account settings", err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list account settings", err)
	}
	return out, nil
}

// RestoreTag creates or moves the tag to t.Digest with update time
// t.UpdatedAt, without a tag event.
func (s *Store) RestoreTag(ctx context.Context, repoID int64, t meta.TagInfo) (err error) {
	defer catch("restore tag", &err)
	return s.write(ctx, "restore tag", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`+s.d.forUpdate, repoID, t.Digest)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("manifest %s in repository %d", t.Digest, repoID)
		}
		_, err = s.exec(ctx, tx, `INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
			repoID, t.Name, t.Digest, s.nanosOrNow(t.UpdatedAt))
		return err
	})
}

// AppendTagEvents appends the events to the repository's tag history in
// one transaction, keeping their order, times, actors and channels.
func (s *Store) AppendTagEvents(ctx context.Context, repoID int64, events []meta.TagEvent) (err error) {
	defer catch("append tag events", &err)
	return s.write(ctx, "append tag events", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM repositories WHERE id = ?`+s.d.forUpdate, repoID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("repository %d", repoID)
		}
		if len(events) == 0 {
			return nil
		}
		st, err := tx.PrepareContext(ctx, s.d.Rebind(`INSERT INTO tag_events (repo_id, tag, from_digest, to_digest, at, actor, via)
VALUES (?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range events {
			if e.Tag == "" {
				return errors.New("tag event without a tag")
			}
			if _, err := st.ExecContext(ctx, repoID, e.Tag, e.From, e.To, s.nanosOrNow(e.At), e.Actor, e.Via); err != nil {
				return err
			}
		}
		return nil
	})
}
