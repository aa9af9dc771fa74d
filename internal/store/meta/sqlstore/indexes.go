package sqlstore

import "context"

// ListIndexesOf lists the indexes of a repository listing a manifest
// (manifest_refs, by its repo_id, ref_digest, kind index).
func (s *Store) ListIndexesOf(ctx context.Context, repoID int64, digest string) (out []string, err error) {
	defer catch("list indexes", &err)
	out, err = s.texts(ctx, s.r, `SELECT manifest_digest FROM manifest_refs
WHERE repo_id = ? AND ref_digest = ? AND kind = 'manifest' AND manifest_digest <> ? ORDER BY manifest_digest`, repoID, digest, digest)
	return out, s.wrap("list indexes", err)
}
