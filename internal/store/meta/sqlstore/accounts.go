package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// CreateAccount inserts a; meta.ErrExists if the id is taken.
func (s *Store) CreateAccount(ctx context.Context, a meta.Account) (err error) {
	defer catch("create account", &err)
	n, err := s.exec(ctx, s.w, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO NOTHING`, a.ID, a.Name, s.nanosOrNow(a.CreatedAt))
	if err != nil {
		return s.wrap("create account", err)
	}
	if n == 0 {
		return fmt.Errorf("account %s: %w", a.ID, meta.ErrExists)
	}
	return nil
}

// GetAccount returns the account with the id.
func (s *Store) GetAccount(ctx context.Context, id string) (a meta.Account, err error) {
	defer catch("get account", &err)
	var at int64
	err = s.row(ctx, s.r, `SELECT id, name, created_at FROM accounts WHERE id = ?`, id).Scan(&a.ID, &a.Name, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Account{}, notFound("account %s", id)
	}
	if err != nil {
		return meta.Account{}, s.wrap("get account", err)
	}
	a.CreatedAt = fromNanos(at)
	return a, nil
}

// ListAccounts returns every account ordered by id.
func (s *Store) ListAccounts(ctx context.Context) (out []meta.Account, err error) {
	defer catch("list accounts", &err)
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, created_at FROM accounts ORDER BY id`)
	if err != nil {
		return nil, s.wrap("list accounts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a meta.Account
		var at int64
		if err := rows.Scan(&a.ID, &a.Name, &at); err != nil {
			return nil, s.wrap("list accounts", err)
		}
		a.CreatedAt = fromNanos(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list accounts", err)
	}
	return out, nil
}

// PutAccessKey inserts or replaces the key; the creation time of an
// existing key is kept.
func (s *Store) PutAccessKey(ctx context.Context, k meta.AccessKey) (err error) {
	defer catch("put access key", &err)
	_, err = s.exec(ctx, s.w, `INSERT INTO access_keys (access_key_id, secret, account_id, user_name, active, created_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (access_key_id) DO UPDATE SET
    secret = excluded.secret, account_id = excluded.account_id,
    user_name = excluded.user_name, active = excluded.active`,
		k.AccessKeyID, k.Secret, k.AccountID, k.UserName, k.Active, s.nanosOrNow(k.CreatedAt))
	return s.wrap("put access key", err)
}

// GetAccessKey returns the key with the id.
func (s *Store) GetAccessKey(ctx context.Context, id string) (k meta.AccessKey, err error) {
	defer catch("get access key", &err)
	var at int64
	err = s.row(ctx, s.r, `SELECT access_key_id, secret, account_id, user_name, active, created_at
FROM access_keys WHERE access_key_id = ?`, id).Scan(&k.AccessKeyID, &k.Secret, &k.AccountID, &k.UserName, &k.Active, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.AccessKey{}, notFound("access key %s", id)
	}
	if err != nil {
		return meta.AccessKey{}, s.wrap("get access key", err)
	}
	k.CreatedAt = fromNanos(at)
	return k, nil
}
