package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Finding suppressions (table finding_suppressions, migration 0011).

const suppressionCols = `account_id, repository, finding_id, package_name, image_digest, justification, expires_at, created_by, created_at`

func scanSuppression(sc interface{ Scan(...any) error }) (meta.Suppression, error) {
	var s meta.Suppression
	var exp, created int64
	err := sc.Scan(&s.AccountID, &s.Repository, &s.FindingID, &s.Package, &s.Digest, &s.Justification, &exp, &s.CreatedBy, &created)
	s.ExpiresAt, s.CreatedAt = fromNanos(exp), fromNanos(created)
	return s, err
}

func checkSuppressionKey(k meta.Suppression) error {
	if k.AccountID == "" || k.Repository == "" || k.FindingID == "" {
		return errors.New("sqlstore: suppression needs an account, a repository and a finding id")
	}
	return nil
}

const qSuppressionByKey = `SELECT ` + suppressionCols + ` FROM finding_suppressions
WHERE account_id = ? AND repository = ? AND finding_id = ? AND package_name = ? AND image_digest = ?`

// PutSuppression creates or replaces a suppression.
func (s *Store) PutSuppression(ctx context.Context, in meta.Suppression) (old meta.Suppression, replaced bool, err error) {
	defer catch("put suppression", &err)
	if err := checkSuppressionKey(in); err != nil {
		return meta.Suppression{}, false, err
	}
	created := s.nanosOrNow(in.CreatedAt)
	err = s.write(ctx, "put suppression", func(tx *sql.Tx) error {
		o, err := scanSuppression(s.row(ctx, tx, qSuppressionByKey+s.d.forUpdate, in.AccountID, in.Repository, in.FindingID, in.Package, in.Digest))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			old, replaced = meta.Suppression{}, false
		case err != nil:
			return err
		default:
			old, replaced = o, true
		}
		_, err = s.exec(ctx, tx, `INSERT INTO finding_suppressions (`+suppressionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account_id, repository, finding_id, package_name, image_digest) DO UPDATE SET
justification = excluded.justification, expires_at = excluded.expires_at, created_by = excluded.created_by, created_at = excluded.created_at`,
			in.AccountID, in.Repository, in.FindingID, in.Package, in.Digest, in.Justification, nanos(in.ExpiresAt), in.CreatedBy, created)
		return err
	})
	return old, replaced, err
}

// DeleteSuppression deletes a suppression by key.
func (s *Store) DeleteSuppression(ctx context.Context, k meta.Suppression) (out meta.Suppression, err error) {
	defer catch("delete suppression", &err)
	if err := checkSuppressionKey(k); err != nil {
		return meta.Suppression{}, err
	}
	err = s.write(ctx, "delete suppression", func(tx *sql.Tx) error {
		o, err := scanSuppression(s.row(ctx, tx, qSuppressionByKey+s.d.forUpdate, k.AccountID, k.Repository, k.FindingID, k.Package, k.Digest))
		if errors.Is(err, sql.ErrNoRows) {
			return &callbackError{notFound("suppression of %s in %s", k.FindingID, k.Repository)}
		}
		if err != nil {
			return err
		}
		out = o
		_, err = s.exec(ctx, tx, `DELETE FROM finding_suppressions
WHERE account_id = ? AND repository = ? AND finding_id = ? AND package_name = ? AND image_digest = ?`,
			k.AccountID, k.Repository, k.FindingID, k.Package, k.Digest)
		return err
	})
	return out, err
}

// ListSuppressions lists suppressions matching f.
func (s *Store) ListSuppressions(ctx context.Context, f meta.SuppressionFilter) (out []meta.Suppression, err error) {
	defer catch("list suppressions", &err)
	where := []string{"1 = 1"}
	var args []any
	if f.AccountID != "" {
		where = append(where, "account_id = ?")
		args = append(args, f.AccountID)
	}
	if f.Repository != "" {
		if f.IncludeRegistryWide && f.Repository != meta.RegistryWide {
			where = append(where, "repository IN (?, ?)")
			args = append(args, f.Repository, meta.RegistryWide)
		} else {
			where = append(where, "repository = ?")
			args = append(args, f.Repository)
		}
	}
	if f.FindingID != "" {
		where = append(where, "finding_id = ?")
		args = append(args, f.FindingID)
	}
	if !f.ActiveAt.IsZero() {
		where = append(where, "expires_at > ?")
		args = append(args, f.ActiveAt.UnixNano())
	}
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+suppressionCols+` FROM finding_suppressions WHERE `+
		strings.Join(where, " AND ")+` ORDER BY repository, finding_id, package_name, image_digest, account_id`), args...)
	if err != nil {
		return nil, s.wrap("list suppressions", err)
	}
	defer rows.Close()
	for rows.Next() {
		sup, err := scanSuppression(rows)
		if err != nil {
			return nil, s.wrap("list suppressions", err)
		}
		out = append(out, sup)
	}
	return out, s.wrap("list suppressions", rows.Err())
}
