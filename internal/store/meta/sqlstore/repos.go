package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/wharfhq/wharf/internal/store/meta"
)

const repoCols = `id, account_id, name, created_at, tag_mutability, mutability_rule, scan_on_push, encryption_type, kms_key, policy, scan_filter`

func scanRepo(sc interface{ Scan(...any) error }) (meta.Repository, error) {
	var r meta.Repository
	var at int64
	err := sc.Scan(&r.ID, &r.AccountID, &r.Name, &at, &r.TagMutability, &r.MutabilityRule, &r.ScanOnPush, &r.EncryptionType, &r.KMSKey,
		&r.Policy, &r.ScanFilter)
	r.CreatedAt = fromNanos(at)
	return r, err
}

// CreateRepository inserts r and returns it with ID and CreatedAt set;
// meta.ErrExists if the account already has a repository of that name.
func (s *Store) CreateRepository(ctx context.Context, r meta.Repository) (out meta.Repository, err error) {
	defer catch("create repository", &err)
	at := s.nanosOrNow(r.CreatedAt)
	err = s.row(ctx, s.w, `INSERT INTO repositories (account_id, name, created_at, tag_mutability, mutability_rule, scan_on_push, encryption_type, kms_key, policy, scan_filter)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account_id, name) DO NOTHING
RETURNING id`, r.AccountID, r.Name, at, r.TagMutability, r.MutabilityRule, r.ScanOnPush, r.EncryptionType, r.KMSKey,
		r.Policy, r.ScanFilter).Scan(&r.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Repository{}, fmt.Errorf("repository %s/%s: %w", r.AccountID, r.Name, meta.ErrExists)
	}
	if err != nil {
		return meta.Repository{}, s.wrap("create repository", err)
	}
	r.CreatedAt = fromNanos(at)
	return r, nil
}

// GetRepository returns the account's repository of that name.
func (s *Store) GetRepository(ctx context.Context, accountID, name string) (r meta.Repository, err error) {
	defer catch("get repository", &err)
	r, err = scanRepo(s.row(ctx, s.r, `SELECT `+repoCols+` FROM repositories WHERE account_id = ? AND name = ?`, accountID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Repository{}, notFound("repository %s/%s", accountID, name)
	}
	if err != nil {
		return meta.Repository{}, s.wrap("get repository", err)
	}
	return r, nil
}

// ListRepositories returns up to limit repositories of the account named
// after "after", in byte order.
func (s *Store) ListRepositories(ctx context.Context, accountID, after string, limit int) (out []meta.Repository, err error) {
	defer catch("list repositories", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+repoCols+` FROM repositories
WHERE account_id = ? AND name > ? ORDER BY name LIMIT ?`), accountID, after, lim(limit))
	if err != nil {
		return nil, s.wrap("list repositories", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRepo(rows)
		if err != nil {
			return nil, s.wrap("list repositories", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list repositories", err)
	}
	return out, nil
}

// DeleteRepository deletes the repository with everything in it (links,
// manifests, tags, tag history, uploads). Without force it fails with
// meta.ErrNotEmpty while the repository holds manifests. Its resource tags
// stay: they are keyed by ARN, which the store does not know, so the caller
// removes them with DeleteResourceTags.
func (s *Store) DeleteRepository(ctx context.Context, id int64, force bool) (err error) {
	defer catch("delete repository", &err)
	return s.write(ctx, "delete repository", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM repositories WHERE id = ?`+s.d.forUpdate, id)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("repository %d", id)
		}
		if !force {
			busy, err := s.exists(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? LIMIT 1`, id)
			if err != nil {
				return err
			}
			if busy {
				return fmt.Errorf("repository %d: %w", id, meta.ErrNotEmpty)
			}
		}
		// Children first: the foreign keys cascade anyway, but explicit
		// deletes do not depend on them being enforced.
		for _, q := range []string{
			`DELETE FROM tags WHERE repo_id = ?`,
			`DELETE FROM tag_events WHERE repo_id = ?`,
			`DELETE FROM manifest_refs WHERE repo_id = ?`,
			`DELETE FROM manifests WHERE repo_id = ?`,
			`DELETE FROM repo_blobs WHERE repo_id = ?`,
			`DELETE FROM uploads WHERE repo_id = ?`,
			`DELETE FROM bin_refs WHERE repo_id = ?`,
			`DELETE FROM bin_images WHERE repo_id = ?`,
			`DELETE FROM platform_guards WHERE repo_id = ?`,
			`DELETE FROM repositories WHERE id = ?`,
		} {
			if _, err := s.exec(ctx, tx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReposLinking lists repositories of the account that link the live blob.
func (s *Store) ReposLinking(ctx context.Context, accountID, digest string, limit int) (out []meta.Repository, err error) {
	defer catch("repos linking", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+prefixed("r.", repoCols)+` FROM repositories r
JOIN repo_blobs rb ON rb.repo_id = r.id
JOIN blobs b ON b.digest = rb.digest
WHERE r.account_id = ? AND rb.digest = ? AND b.state = 'live' ORDER BY r.name LIMIT ?`), accountID, digest, lim(limit))
	if err != nil {
		return nil, s.wrap("repos linking", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRepo(rows)
		if err != nil {
			return nil, s.wrap("repos linking", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("repos linking", err)
	}
	return out, nil
}

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
