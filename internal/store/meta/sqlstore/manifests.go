package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

const (
	qResolveTag = `SELECT digest FROM tags WHERE repo_id = ? AND name = ?`
	// manifestCols are the columns scanManifest reads.
	manifestCols = `repo_id, digest, media_type, artifact_type, subject, config_digest, size, content, annotations, pushed_at, last_pull_at,
    image_status, archived_at, activated_at`
	qGetManifest = `SELECT ` + manifestCols + ` FROM manifests WHERE repo_id = ? AND digest = ?`
)

// scanManifest reads a row of manifestCols.
func scanManifest(sc interface{ Scan(...any) error }, m *meta.Manifest) error {
	var pushed, pulled, archived, activated int64
	if err := sc.Scan(&m.RepoID, &m.Digest, &m.MediaType, &m.ArtifactType, &m.Subject, &m.ConfigDigest, &m.Size,
		&m.Content, &m.Annotations, &pushed, &pulled, &m.Status, &archived, &activated); err != nil {
		return err
	}
	m.PushedAt, m.LastPullAt = fromNanos(pushed), fromNanos(pulled)
	m.ArchivedAt, m.ActivatedAt = fromNanos(archived), fromNanos(activated)
	return nil
}

// PutManifest writes the manifest and its references and optionally moves a
// tag, in one transaction:
//   - every p.Refs.Blobs digest must be linked in the repository, else a
//     *meta.MissingError of kind meta.ErrBlobsMissing;
//   - every p.Refs.Manifests digest must be a manifest of the repository,
//     else a *meta.MissingError of kind meta.ErrChildMissing;
//   - a manifest already present keeps its content and push time (the put
//     is idempotent); its references are rewritten; if it was archived (or
//     being restored) it is active again, restored now, as ECR restores an
//     archived image pushed again;
//   - with p.Tag, p.AllowTagMove (if set) sees the tag's current digest and
//     its error aborts everything and is returned unchanged; a tag that
//     moves gets a tag_events row.
//
// Manifest.PushedAt defaults to now; Manifest.LastPullAt is ignored.
func (s *Store) PutManifest(ctx context.Context, p meta.PutManifest) (err error) {
	defer catch("put manifest", &err)
	m := p.Manifest
	return s.write(ctx, "put manifest", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM repositories WHERE id = ?`, m.RepoID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("repository %d", m.RepoID)
		}
		blobs := dedup(p.Refs.Blobs)
		missing, err := s.missing(ctx, tx, `SELECT 1 FROM repo_blobs WHERE repo_id = ? AND digest = ?`, m.RepoID, blobs)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return &meta.MissingError{Kind: meta.ErrBlobsMissing, Digests: missing}
		}
		children := dedup(p.Refs.Manifests)
		missing, err = s.missing(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`, m.RepoID, children)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return &meta.MissingError{Kind: meta.ErrChildMissing, Digests: missing}
		}

		if _, err := s.exec(ctx, tx, `INSERT INTO manifests (repo_id, digest, media_type, artifact_type, subject, config_digest, size, content, annotations, pushed_at, last_pull_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
ON CONFLICT (repo_id, digest) DO NOTHING`,
			m.RepoID, m.Digest, m.MediaType, m.ArtifactType, m.Subject, m.ConfigDigest, m.Size, m.Content, m.Annotations,
			s.nanosOrNow(m.PushedAt)); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `UPDATE manifests SET image_status = ?, activated_at = ?
WHERE repo_id = ? AND digest = ? AND image_status <> ?`,
			meta.ImageActive, s.now().UnixNano(), m.RepoID, m.Digest, meta.ImageActive); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM manifest_refs WHERE repo_id = ? AND manifest_digest = ?`, m.RepoID, m.Digest); err != nil {
			return err
		}
		// Pushing an image that is in the recycle bin recreates it: the
		// bin lets it go.
		if err := s.unbin(ctx, tx, m.RepoID, m.Digest); err != nil {
			return err
		}
		const insRef = `INSERT INTO manifest_refs (repo_id, manifest_digest, ref_digest, kind) VALUES (?, ?, ?, ?)
ON CONFLICT DO NOTHING`
		for _, refs := range []struct {
			kind    string
			digests []string
		}{{"blob", blobs}, {"blob", p.Refs.Optional}, {"manifest", children}} {
			for _, d := range refs.digests {
				if _, err := s.exec(ctx, tx, insRef, m.RepoID, m.Digest, d, refs.kind); err != nil {
					return err
				}
			}
		}

		if p.Tag == "" {
			return nil
		}
		cur, err := s.tagTarget(ctx, tx, m.RepoID, p.Tag)
		if err != nil {
			return err
		}
		return s.pointTag(ctx, tx, m.RepoID, p.Tag, cur, m.Digest, p.AllowTagMove, p.Actor, p.Via)
	})
}

func (s *Store) tagEvent(ctx context.Context, tx *sql.Tx, repoID int64, tag, from, to string, at int64, actor, via string) error {
	_, err := s.exec(ctx, tx, `INSERT INTO tag_events (repo_id, tag, from_digest, to_digest, at, actor, via)
VALUES (?, ?, ?, ?, ?, ?, ?)`, repoID, tag, from, to, at, actor, via)
	return err
}

// missing returns the digests for which query (taking repoID and a digest)
// finds no row.
func (s *Store) missing(ctx context.Context, tx *sql.Tx, query string, repoID int64, digests []string) ([]string, error) {
	if len(digests) == 0 {
		return nil, nil
	}
	st, err := tx.PrepareContext(ctx, s.d.Rebind(query))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []string
	for _, d := range digests {
		var one int
		err := st.QueryRowContext(ctx, repoID, d).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out = append(out, d)
		case err != nil:
			return nil, err
		}
	}
	return out, nil
}

// dedup drops repeated strings, keeping the first occurrence.
func dedup(in []string) []string {
	if len(in) < 2 {
		return in
	}
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// GetManifest returns the manifest of the repository with the digest.
func (s *Store) GetManifest(ctx context.Context, repoID int64, digest string) (m meta.Manifest, err error) {
	defer catch("get manifest", &err)
	err = scanManifest(s.stGetManifest.QueryRowContext(ctx, repoID, digest), &m)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Manifest{}, notFound("manifest %s in repository %d", digest, repoID)
	}
	if err != nil {
		return meta.Manifest{}, s.wrap("get manifest", err)
	}
	return m, nil
}

// ResolveTag returns the digest the tag points at.
func (s *Store) ResolveTag(ctx context.Context, repoID int64, tag string) (digest string, err error) {
	defer catch("resolve tag", &err)
	err = s.stResolveTag.QueryRowContext(ctx, repoID, tag).Scan(&digest)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("tag %s in repository %d", tag, repoID)
	}
	if err != nil {
		return "", s.wrap("resolve tag", err)
	}
	return digest, nil
}

// DeleteManifest deletes the manifest, its references and the tags
// pointing at it (each recorded in the tag history), for good (DeleteImage
// can keep it in the recycle bin). It fails with a *meta.ReferencedError
// while another manifest of the repository lists it as a child.
func (s *Store) DeleteManifest(ctx context.Context, repoID int64, digest, actor, via string) (err error) {
	defer catch("delete manifest", &err)
	return s.write(ctx, "delete manifest", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`+s.d.forUpdate, repoID, digest)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("manifest %s in repository %d", digest, repoID)
		}
		parent, err := s.listingIndex(ctx, tx, repoID, digest)
		if err != nil {
			return err
		}
		if parent != "" {
			return &meta.ReferencedError{Digest: digest, Index: parent}
		}
		tags, err := s.texts(ctx, tx, `SELECT name FROM tags WHERE repo_id = ? AND digest = ? ORDER BY name`, repoID, digest)
		if err != nil {
			return err
		}
		now := s.now().UnixNano()
		for _, t := range tags {
			if err := s.tagEvent(ctx, tx, repoID, t, digest, "", now, actor, via); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DELETE FROM tags WHERE repo_id = ? AND digest = ?`,
			`DELETE FROM manifest_refs WHERE repo_id = ? AND manifest_digest = ?`,
			`DELETE FROM manifests WHERE repo_id = ? AND digest = ?`,
		} {
			if _, err := s.exec(ctx, tx, q, repoID, digest); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteTag deletes the tag and records it in the tag history.
func (s *Store) DeleteTag(ctx context.Context, repoID int64, tag, actor, via string) (err error) {
	defer catch("delete tag", &err)
	return s.write(ctx, "delete tag", func(tx *sql.Tx) error {
		var cur string
		err := s.row(ctx, tx, `DELETE FROM tags WHERE repo_id = ? AND name = ? RETURNING digest`, repoID, tag).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("tag %s in repository %d", tag, repoID)
		}
		if err != nil {
			return err
		}
		return s.tagEvent(ctx, tx, repoID, tag, cur, "", s.now().UnixNano(), actor, via)
	})
}

// ListTags returns up to limit tags of the repository sorting after
// "after", in byte order.
func (s *Store) ListTags(ctx context.Context, repoID int64, after string, limit int) (tags []string, err error) {
	defer catch("list tags", &err)
	tags, err = s.texts(ctx, s.r, `SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?`,
		repoID, after, lim(limit))
	return tags, s.wrap("list tags", err)
}

// ListTagsOf returns the tags pointing at digest, in byte order.
func (s *Store) ListTagsOf(ctx context.Context, repoID int64, digest string) (tags []string, err error) {
	defer catch("list tags of", &err)
	tags, err = s.texts(ctx, s.r, `SELECT name FROM tags WHERE repo_id = ? AND digest = ? ORDER BY name`, repoID, digest)
	return tags, s.wrap("list tags of", err)
}

// ListReferrers returns the manifests of the repository whose subject is
// the digest, ordered by digest.
func (s *Store) ListReferrers(ctx context.Context, repoID int64, subject string) (out []meta.Referrer, err error) {
	defer catch("list referrers", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT digest, media_type, artifact_type, size, annotations, image_status
FROM manifests WHERE repo_id = ? AND subject = ? ORDER BY digest`), repoID, subject)
	if err != nil {
		return nil, s.wrap("list referrers", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r meta.Referrer
		if err := rows.Scan(&r.Digest, &r.MediaType, &r.ArtifactType, &r.Size, &r.Annotations, &r.Status); err != nil {
			return nil, s.wrap("list referrers", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list referrers", err)
	}
	return out, nil
}

// TagHistory returns up to limit moves of the tag, newest first.
func (s *Store) TagHistory(ctx context.Context, repoID int64, tag string, limit int) (out []meta.TagEvent, err error) {
	defer catch("tag history", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT repo_id, tag, from_digest, to_digest, at, actor, via
FROM tag_events WHERE repo_id = ? AND tag = ? ORDER BY id DESC LIMIT ?`), repoID, tag, lim(limit))
	if err != nil {
		return nil, s.wrap("tag history", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e meta.TagEvent
		var at int64
		if err := rows.Scan(&e.RepoID, &e.Tag, &e.From, &e.To, &at, &e.Actor, &e.Via); err != nil {
			return nil, s.wrap("tag history", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("tag history", err)
	}
	return out, nil
}

// TouchPull records a pull of the manifest at "at"; the pull time never
// moves backwards.
func (s *Store) TouchPull(ctx context.Context, repoID int64, digest string, at time.Time) (err error) {
	defer catch("touch pull", &err)
	t := s.nanosOrNow(at)
	n, err := s.exec(ctx, s.w, `UPDATE manifests SET last_pull_at = CASE WHEN last_pull_at < ? THEN ? ELSE last_pull_at END
WHERE repo_id = ? AND digest = ?`, t, t, repoID, digest)
	if err != nil {
		return s.wrap("touch pull", err)
	}
	if n == 0 {
		return notFound("manifest %s in repository %d", digest, repoID)
	}
	return nil
}
