package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int64
	name    string
	stmts   []string
}

// loadMigrations reads migrations/NNNN_name.sql in version order.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("bad migration file name %q", name)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, stmts: splitSQL(string(b))})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations embedded")
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("duplicate migration version %d", ms[i].version)
		}
	}
	return ms, nil
}

// splitSQL splits a migration into statements: "--" comment lines are
// dropped and a statement ends with a semicolon at the end of a line.
func splitSQL(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}

// migrate applies the pending migrations, each in its own transaction
// together with its schema_migrations row. The row is inserted first, so a
// concurrent migrator that gets past the lock anyway waits for it and then
// skips the version. On PostgreSQL, migrators of processes starting
// together queue on an advisory lock held, with everything the migration
// does, on one connection (CREATE TABLE IF NOT EXISTS alone is not safe
// against a concurrent twin there); on SQLite the immediate transactions
// of the single writer connection serialise them.
func (s *Store) migrate(ctx context.Context) (err error) {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	type conn interface {
		beginner
		querier
	}
	var db conn = s.w
	if s.d.lockMigrations != "" {
		c, err := s.w.Conn(ctx)
		if err != nil {
			return fmt.Errorf("sqlstore: migrations: %w", err)
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, s.d.Rebind(s.d.lockMigrations), migrationLockKey); err != nil {
			return fmt.Errorf("sqlstore: migrations: lock: %w", err)
		}
		defer func() {
			// Whatever the caller's context: a lock left held would
			// stall every other node until this connection closes.
			_, uerr := c.ExecContext(context.WithoutCancel(ctx), s.d.Rebind(s.d.unlockMigrations), migrationLockKey)
			if uerr != nil {
				// Drop the connection rather than return it to the pool
				// still holding the lock.
				_ = c.Raw(func(any) error { return driver.ErrBadConn })
				if err == nil {
					err = fmt.Errorf("sqlstore: migrations: unlock: %w", uerr)
				}
			}
		}()
		db = c
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)`); err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	var newest sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	if known := ms[len(ms)-1].version; newest.Valid && newest.Int64 > known {
		return fmt.Errorf("sqlstore: database schema version %d is newer than this binary's %d", newest.Int64, known)
	}
	for _, m := range ms {
		err := s.writeOn(ctx, db, "migrate "+m.name, func(tx *sql.Tx) error {
			n, err := s.exec(ctx, tx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)
ON CONFLICT (version) DO NOTHING`, m.version, m.name, s.now().UnixNano())
			if err != nil || n == 0 {
				return err // applied already
			}
			for _, st := range m.stmts {
				if _, err := tx.ExecContext(ctx, s.d.schema(st)); err != nil {
					return fmt.Errorf("%w\n%s", err, st)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
