package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// The audit trail (table audit_events, migration 0006).

// AppendAudit records the events in one transaction.
func (s *Store) AppendAudit(ctx context.Context, events ...meta.AuditEvent) (out []meta.AuditEvent, err error) {
	defer catch("append audit", &err)
	for _, e := range events {
		if e.Action == "" {
			return nil, errors.New("sqlstore: append audit: empty action")
		}
	}
	out = make([]meta.AuditEvent, len(events))
	err = s.write(ctx, "append audit", func(tx *sql.Tx) error {
		for i, e := range events {
			var err error
			if out[i], err = s.insertAudit(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// insertAudit appends one event in tx, returning it with ID and At set
// (also for writes that record their own event in their transaction).
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, e meta.AuditEvent) (meta.AuditEvent, error) {
	at := s.nanosOrNow(e.At)
	var id int64
	if err := s.row(ctx, tx, `INSERT INTO audit_events (at, account_id, repository, action, actor, digest, tag, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, at, e.AccountID, e.Repository, e.Action, e.Actor, e.Digest, e.Tag, e.Detail).Scan(&id); err != nil {
		return meta.AuditEvent{}, err
	}
	e.ID, e.At = id, fromNanos(at)
	return e, nil
}

// ListAudit returns the events matching f by increasing id.
func (s *Store) ListAudit(ctx context.Context, f meta.AuditFilter) (out []meta.AuditEvent, err error) {
	defer catch("list audit", &err)
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	add("id > ?", f.AfterID)
	if f.AccountID != "" {
		add("account_id = ?", f.AccountID)
	}
	if f.Repository != "" {
		add("repository = ?", f.Repository)
	}
	if a := f.Action; a != "" {
		if strings.HasSuffix(a, "*") || strings.HasSuffix(a, ".") {
			// Prefix match without LIKE, whose wildcards and case rules
			// differ between engines.
			p := strings.TrimSuffix(a, "*")
			add("substr(action, 1, ?) = ?", len(p))
			args = append(args, p)
		} else {
			add("action = ?", a)
		}
	}
	if f.Digest != "" {
		add("digest = ?", f.Digest)
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until.UnixNano())
	}
	q := `SELECT id, at, account_id, repository, action, actor, digest, tag, detail FROM audit_events WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY id LIMIT ?`
	args = append(args, lim(f.Limit))
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(q), args...)
	if err != nil {
		return nil, s.wrap("list audit", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e meta.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.AccountID, &e.Repository, &e.Action, &e.Actor, &e.Digest, &e.Tag, &e.Detail); err != nil {
			return nil, s.wrap("list audit", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, s.wrap("list audit", rows.Err())
}
