package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// UpdateRepository writes the settings of the repository with id r.ID: tag
// mutability and its rule, scan on push, encryption, policy and scanning
// filter. ID, account, name and creation time are left as they are.
func (s *Store) UpdateRepository(ctx context.Context, r meta.Repository) (err error) {
	defer catch("update repository", &err)
	n, err := s.exec(ctx, s.w, `UPDATE repositories SET
    tag_mutability = ?, mutability_rule = ?, scan_on_push = ?, encryption_type = ?, kms_key = ?,
    policy = ?, scan_filter = ?
WHERE id = ?`, r.TagMutability, r.MutabilityRule, r.ScanOnPush, r.EncryptionType, r.KMSKey,
		r.Policy, r.ScanFilter, r.ID)
	if err != nil {
		return s.wrap("update repository", err)
	}
	if n == 0 {
		return notFound("repository %d", r.ID)
	}
	return nil
}

// Resource tags.

// PutResourceTags adds the tags to the resource, overwriting the values of
// keys it has already.
func (s *Store) PutResourceTags(ctx context.Context, arn string, tags map[string]string) (err error) {
	defer catch("put resource tags", &err)
	if len(tags) == 0 {
		return nil
	}
	// In key order, so that concurrent writers lock rows in the same order.
	keys := slices.Sorted(maps.Keys(tags))
	return s.write(ctx, "put resource tags", func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := s.exec(ctx, tx, `INSERT INTO resource_tags (arn, tag_key, tag_value) VALUES (?, ?, ?)
ON CONFLICT (arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value`, arn, k, tags[k]); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteResourceTags removes the keys from the resource; keys it does not
// have are ignored.
func (s *Store) DeleteResourceTags(ctx context.Context, arn string, keys []string) (err error) {
	defer catch("delete resource tags", &err)
	if len(keys) == 0 {
		return nil
	}
	return s.write(ctx, "delete resource tags", func(tx *sql.Tx) error {
		for _, k := range dedup(keys) {
			if _, err := s.exec(ctx, tx, `DELETE FROM resource_tags WHERE arn = ? AND tag_key = ?`, arn, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListResourceTags returns the tags of the resource, an empty map when it
// has none.
func (s *Store) ListResourceTags(ctx context.Context, arn string) (out map[string]string, err error) {
	defer catch("list resource tags", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT tag_key, tag_value FROM resource_tags WHERE arn = ?`), arn)
	if err != nil {
		return nil, s.wrap("list resource tags", err)
	}
	defer rows.Close()
	out = map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, s.wrap("list resource tags", err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list resource tags", err)
	}
	return out, nil
}

// Registry policies.

// PutRegistryPolicy sets the registry policy of the account.
func (s *Store) PutRegistryPolicy(ctx context.Context, accountID, doc string) (err error) {
	defer catch("put registry policy", &err)
	_, err = s.exec(ctx, s.w, `INSERT INTO registry_policies (account_id, document) VALUES (?, ?)
ON CONFLICT (account_id) DO UPDATE SET document = excluded.document`, accountID, doc)
	return s.wrap("put registry policy", err)
}

// GetRegistryPolicy returns the registry policy of the account;
// meta.ErrNotFound when it has none.
func (s *Store) GetRegistryPolicy(ctx context.Context, accountID string) (doc string, err error) {
	defer catch("get registry policy", &err)
	err = s.row(ctx, s.r, `SELECT document FROM registry_policies WHERE account_id = ?`, accountID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("registry policy of %s", accountID)
	}
	if err != nil {
		return "", s.wrap("get registry policy", err)
	}
	return doc, nil
}

// DeleteRegistryPolicy removes the registry policy of the account;
// meta.ErrNotFound when it has none.
func (s *Store) DeleteRegistryPolicy(ctx context.Context, accountID string) (err error) {
	defer catch("delete registry policy", &err)
	n, err := s.exec(ctx, s.w, `DELETE FROM registry_policies WHERE account_id = ?`, accountID)
	if err != nil {
		return s.wrap("delete registry policy", err)
	}
	if n == 0 {
		return notFound("registry policy of %s", accountID)
	}
	return nil
}

// Account settings.

// PutAccountSetting sets the account's setting of that name.
func (s *Store) PutAccountSetting(ctx context.Context, accountID, name, value string) (err error) {
	defer catch("put account setting", &err)
	_, err = s.exec(ctx, s.w, `INSERT INTO account_settings (account_id, name, value) VALUES (?, ?, ?)
ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value`, accountID, name, value)
	return s.wrap("put account setting", err)
}

// GetAccountSetting returns the account's setting of that name;
// meta.ErrNotFound when it was never set.
func (s *Store) GetAccountSetting(ctx context.Context, accountID, name string) (value string, err error) {
	defer catch("get account setting", &err)
	err = s.row(ctx, s.r, `SELECT value FROM account_settings WHERE account_id = ? AND name = ?`, accountID, name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("setting %s of %s", name, accountID)
	}
	if err != nil {
		return "", s.wrap("get account setting", err)
	}
	return value, nil
}

// Repository creation templates.

const templateCols = `account_id, prefix, body, created_at, updated_at`

func scanTemplate(sc interface{ Scan(...any) error }) (meta.CreationTemplate, error) {
	var t meta.CreationTemplate
	var created, updated int64
	err := sc.Scan(&t.AccountID, &t.Prefix, &t.Body, &created, &updated)
	t.CreatedAt, t.UpdatedAt = fromNanos(created), fromNanos(updated)
	return t, err
}

// CreateCreationTemplate inserts t (zero CreatedAt means now, zero
// UpdatedAt means CreatedAt); meta.ErrExists if the account has a template
// for that prefix already.
func (s *Store) CreateCreationTemplate(ctx context.Context, t meta.CreationTemplate) (err error) {
	defer catch("create creation template", &err)
	created := s.nanosOrNow(t.CreatedAt)
	updated := created
	if !t.UpdatedAt.IsZero() {
		updated = t.UpdatedAt.UnixNano()
	}
	n, err := s.exec(ctx, s.w, `INSERT INTO creation_templates (`+templateCols+`) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (account_id, prefix) DO NOTHING`, t.AccountID, t.Prefix, t.Body, created, updated)
	if err != nil {
		return s.wrap("create creation template", err)
	}
	if n == 0 {
		return fmt.Errorf("creation template %s/%s: %w", t.AccountID, t.Prefix, meta.ErrExists)
	}
	return nil
}

// UpdateCreationTemplate replaces the body of the account's template for
// t.Prefix and sets its update time (zero UpdatedAt means now); the
// creation time is kept.
func (s *Store) UpdateCreationTemplate(ctx context.Context, t meta.CreationTemplate) (err error) {
	defer catch("update creation template", &err)
	n, err := s.exec(ctx, s.w, `UPDATE creation_templates SET body = ?, updated_at = ? WHERE account_id = ? AND prefix = ?`,
		t.Body, s.nanosOrNow(t.UpdatedAt), t.AccountID, t.Prefix)
	if err != nil {
		return s.wrap("update creation template", err)
	}
	if n == 0 {
		return notFound("creation template %s/%s", t.AccountID, t.Prefix)
	}
	return nil
}

// GetCreationTemplate returns the account's template for the prefix.
func (s *Store) GetCreationTemplate(ctx context.Context, accountID, prefix string) (t meta.CreationTemplate, err error) {
	defer catch("get creation template", &err)
	t, err = scanTemplate(s.row(ctx, s.r, `SELECT `+templateCols+` FROM creation_templates WHERE account_id = ? AND prefix = ?`,
		accountID, prefix))
	if errors.Is(err, sql.ErrNoRows) {
		return meta.CreationTemplate{}, notFound("creation template %s/%s", accountID, prefix)
	}
	if err != nil {
		return meta.CreationTemplate{}, s.wrap("get creation template", err)
	}
	return t, nil
}

// ListCreationTemplates returns the account's templates in byte order of
// prefix.
func (s *Store) ListCreationTemplates(ctx context.Context, accountID string) (out []meta.CreationTemplate, err error) {
	defer catch("list creation templates", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+templateCols+` FROM creation_templates
WHERE account_id = ? ORDER BY prefix`), accountID)
	if err != nil {
		return nil, s.wrap("list creation templates", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, s.wrap("list creation templates", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list creation templates", err)
	}
	return out, nil
}

// DeleteCreationTemplate deletes the account's template for the prefix.
func (s *Store) DeleteCreationTemplate(ctx context.Context, accountID, prefix string) (err error) {
	defer catch("delete creation template", &err)
	n, err := s.exec(ctx, s.w, `DELETE FROM creation_templates WHERE account_id = ? AND prefix = ?`, accountID, prefix)
	if err != nil {
		return s.wrap("delete creation template", err)
	}
	if n == 0 {
		return notFound("creation template %s/%s", accountID, prefix)
	}
	return nil
}
