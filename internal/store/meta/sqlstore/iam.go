package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// CreateUser inserts u (zero CreatedAt means now); meta.ErrExists if the
// account already has a user of that name. The empty name is refused: it
// stands for the account's root principal.
func (s *Store) CreateUser(ctx context.Context, u meta.User) (err error) {
	defer catch("create user", &err)
	if u.Name == "" {
		return errors.New("sqlstore: create user: empty user name")
	}
	n, err := s.exec(ctx, s.w, `INSERT INTO users (account_id, name, created_at) VALUES (?, ?, ?)
ON CONFLICT (account_id, name) DO NOTHING`, u.AccountID, u.Name, s.nanosOrNow(u.CreatedAt))
	if err != nil {
		return s.wrap("create user", err)
	}
	if n == 0 {
		return fmt.Errorf("user %s/%s: %w", u.AccountID, u.Name, meta.ErrExists)
	}
	return nil
}

// GetUser returns the account's user of that name.
func (s *Store) GetUser(ctx context.Context, accountID, name string) (u meta.User, err error) {
	defer catch("get user", &err)
	var at int64
	err = s.row(ctx, s.r, `SELECT account_id, name, created_at FROM users WHERE account_id = ? AND name = ?`,
		accountID, name).Scan(&u.AccountID, &u.Name, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.User{}, notFound("user %s/%s", accountID, name)
	}
	if err != nil {
		return meta.User{}, s.wrap("get user", err)
	}
	u.CreatedAt = fromNanos(at)
	return u, nil
}

// ListUsers returns the users of the account in byte order of name.
func (s *Store) ListUsers(ctx context.Context, accountID string) (out []meta.User, err error) {
	defer catch("list users", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT account_id, name, created_at FROM users
WHERE account_id = ? ORDER BY name`), accountID)
	if err != nil {
		return nil, s.wrap("list users", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u meta.User
		var at int64
		if err := rows.Scan(&u.AccountID, &u.Name, &at); err != nil {
			return nil, s.wrap("list users", err)
		}
		u.CreatedAt = fromNanos(at)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list users", err)
	}
	return out, nil
}

// DeleteUser deletes the user with its access keys and inline policies.
func (s *Store) DeleteUser(ctx context.Context, accountID, name string) (err error) {
	defer catch("delete user", &err)
	return s.write(ctx, "delete user", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM users WHERE account_id = ? AND name = ?`+s.d.forUpdate, accountID, name)
		if err != nil {
			return err
		}
		// Users never have the empty name, so the root's keys (user_name
		// '') cannot be reached from here.
		if !ok {
			return notFound("user %s/%s", accountID, name)
		}
		for _, q := range []string{
			`DELETE FROM access_keys WHERE account_id = ? AND user_name = ?`,
			`DELETE FROM user_policies WHERE account_id = ? AND user_name = ?`,
			`DELETE FROM users WHERE account_id = ? AND name = ?`,
		} {
			if _, err := s.exec(ctx, tx, q, accountID, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListAccessKeys returns the keys of the account's user (the root's for
// userName ""), ordered by key id.
func (s *Store) ListAccessKeys(ctx context.Context, accountID, userName string) (out []meta.AccessKey, err error) {
	defer catch("list access keys", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT access_key_id, secret, account_id, user_name, active, created_at
FROM access_keys WHERE account_id = ? AND user_name = ? ORDER BY access_key_id`), accountID, userName)
	if err != nil {
		return nil, s.wrap("list access keys", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k meta.AccessKey
		var at int64
		if err := rows.Scan(&k.AccessKeyID, &k.Secret, &k.AccountID, &k.UserName, &k.Active, &at); err != nil {
			return nil, s.wrap("list access keys", err)
		}
		k.CreatedAt = fromNanos(at)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list access keys", err)
	}
	return out, nil
}

// DeleteAccessKey deletes the key with the id.
func (s *Store) DeleteAccessKey(ctx context.Context, id string) (err error) {
	defer catch("delete access key", &err)
	n, err := s.exec(ctx, s.w, `DELETE FROM access_keys WHERE access_key_id = ?`, id)
	if err != nil {
		return s.wrap("delete access key", err)
	}
	if n == 0 {
		return notFound("access key %s", id)
	}
	return nil
}

// PutUserPolicy creates or replaces the user's inline policy of that name;
// meta.ErrNotFound if the user does not exist.
func (s *Store) PutUserPolicy(ctx context.Context, p meta.UserPolicy) (err error) {
	defer catch("put user policy", &err)
	return s.write(ctx, "put user policy", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM users WHERE account_id = ? AND name = ?`+s.d.forUpdate, p.AccountID, p.UserName)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("user %s/%s", p.AccountID, p.UserName)
		}
		_, err = s.exec(ctx, tx, `INSERT INTO user_policies (account_id, user_name, name, document) VALUES (?, ?, ?, ?)
ON CONFLICT (account_id, user_name, name) DO UPDATE SET document = excluded.document`,
			p.AccountID, p.UserName, p.Name, p.Document)
		return err
	})
}

// DeleteUserPolicy deletes the user's inline policy of that name.
func (s *Store) DeleteUserPolicy(ctx context.Context, accountID, userName, name string) (err error) {
	defer catch("delete user policy", &err)
	n, err := s.exec(ctx, s.w, `DELETE FROM user_policies WHERE account_id = ? AND user_name = ? AND name = ?`,
		accountID, userName, name)
	if err != nil {
		return s.wrap("delete user policy", err)
	}
	if n == 0 {
		return notFound("policy %s of user %s/%s", name, accountID, userName)
	}
	return nil
}

// ListUserPolicies returns the user's inline policies in byte order of
// name (none for an unknown user).
func (s *Store) ListUserPolicies(ctx context.Context, accountID, userName string) (out []meta.UserPolicy, err error) {
	defer catch("list user policies", &err)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT account_id, user_name, name, document FROM user_policies
WHERE account_id = ? AND user_name = ? ORDER BY name`), accountID, userName)
	if err != nil {
		return nil, s.wrap("list user policies", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p meta.UserPolicy
		if err := rows.Scan(&p.AccountID, &p.UserName, &p.Name, &p.Document); err != nil {
			return nil, s.wrap("list user policies", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list user policies", err)
	}
	return out, nil
}
