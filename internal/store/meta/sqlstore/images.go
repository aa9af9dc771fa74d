package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// ListImages returns up to limit manifests of the repository whose digests
// sort after "after", ordered by digest, each with its tags in byte order
// (nil when untagged). Content is included: image sizes are computed from
// the manifests, and manifests are small (at most a few MiB, usually ~1 KiB).
//
// Two statements in one read snapshot, whatever the page size: one for the
// page of manifests, one for the tags of the digest range the page spans.
func (s *Store) ListImages(ctx context.Context, repoID int64, after string, limit int) (out []meta.Image, err error) {
	defer catch("list images", &err)
	err = s.read(ctx, "list images", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT `+manifestCols+`
FROM manifests WHERE repo_id = ? AND digest > ? ORDER BY digest LIMIT ?`), repoID, after, lim(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var im meta.Image
			if err := scanManifest(rows, &im.Manifest); err != nil {
				return err
			}
			out = append(out, im)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(out) == 0 {
			return nil
		}

		// The page holds every manifest in (after, last], so the tags of
		// that range are exactly the tags of the page.
		at := make(map[string]int, len(out))
		for i := range out {
			at[out[i].Digest] = i
		}
		tags, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT digest, name FROM tags
WHERE repo_id = ? AND digest > ? AND digest <= ? ORDER BY digest, name`), repoID, after, out[len(out)-1].Digest)
		if err != nil {
			return err
		}
		defer tags.Close()
		for tags.Next() {
			var d, name string
			if err := tags.Scan(&d, &name); err != nil {
				return err
			}
			if i, ok := at[d]; ok {
				out[i].Tags = append(out[i].Tags, name)
			}
		}
		return tags.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetImage returns the manifest of the repository with the digest, content
// included, and its tags in byte order.
func (s *Store) GetImage(ctx context.Context, repoID int64, digest string) (im meta.Image, err error) {
	defer catch("get image", &err)
	err = s.read(ctx, "get image", func(tx *sql.Tx) error {
		err := scanManifest(s.row(ctx, tx, qGetManifest, repoID, digest), &im.Manifest)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("manifest %s in repository %d", digest, repoID)
		}
		if err != nil {
			return err
		}
		im.Tags, err = s.texts(ctx, tx, `SELECT name FROM tags WHERE repo_id = ? AND digest = ? ORDER BY name`, repoID, digest)
		return err
	})
	if err != nil {
		return meta.Image{}, err
	}
	return im, nil
}
