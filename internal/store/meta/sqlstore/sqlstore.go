// Package sqlstore implements meta.Store over database/sql. It runs on
// SQLite (modernc.org/sqlite, see OpenSQLite) and PostgreSQL (pgx, see
// OpenPostgres): every query uses SQL both engines accept and the Dialect
// rebinds placeholders, names types and classifies driver errors.
//
// Writes go through one *sql.DB (on SQLite a single connection running
// BEGIN IMMEDIATE transactions, so writers queue in Go instead of failing
// with SQLITE_BUSY); single-statement reads go through a second pool. On
// PostgreSQL one pool serves both and write transactions run SERIALIZABLE,
// retried on serialization failures.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// maxRetries bounds how often a write transaction is retried after a
// serialization failure or a deadlock (PostgreSQL only; SQLite never
// reports one). With the backoff of retryWait, 16 retries wait at most
// about 0.7 s in all (half that on average): enough for a burst of writers
// on one tag.
const maxRetries = 16

// Store is a meta.Store over database/sql.
type Store struct {
	d Dialect
	w *sql.DB // writes and read-modify-write transactions
	r *sql.DB // single-statement reads

	now func() time.Time

	// Prepared statements of the hot read paths (on r).
	stResolveTag  *sql.Stmt
	stGetManifest *sql.Stmt
}

var _ meta.Store = (*Store)(nil)

// New builds a Store over already opened pools and applies pending
// migrations. writeDB carries every write transaction; readDB (which may be
// nil or the same pool) serves single-statement reads and must observe
// writeDB's commits. The Store owns both pools: Close closes them.
func New(ctx context.Context, d Dialect, writeDB, readDB *sql.DB) (*Store, error) {
	if writeDB == nil {
		return nil, errors.New("sqlstore: nil write pool")
	}
	if readDB == nil {
		readDB = writeDB
	}
	s := &Store{d: d, w: writeDB, r: readDB, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	var err error
	if s.stResolveTag, err = s.r.PrepareContext(ctx, s.d.Rebind(qResolveTag)); err != nil {
		return nil, fmt.Errorf("sqlstore: prepare: %w", err)
	}
	if s.stGetManifest, err = s.r.PrepareContext(ctx, s.d.Rebind(qGetManifest)); err != nil {
		s.stResolveTag.Close()
		return nil, fmt.Errorf("sqlstore: prepare: %w", err)
	}
	return s, nil
}

// Close releases the prepared statements and closes both pools.
func (s *Store) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.stResolveTag, s.stGetManifest} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping writer: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping reader: %w", err)
	}
	return nil
}

// callbackError carries an error returned by a caller's callback through the
// transaction helper, which hands it back unchanged.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// write runs fn in a write transaction, retrying on serialization failures.
// Errors are wrapped with op; those of callbacks come back unchanged.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return s.writeOn(ctx, s.w, op, fn)
}

// beginner starts transactions: a pool or a connection taken from it.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// writeOn is write with transactions started on db.
func (s *Store) writeOn(ctx context.Context, db beginner, op string, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = s.writeOnce(ctx, db, fn)
		if err == nil || s.d.class(err) != errRetry || attempt == maxRetries || ctx.Err() != nil {
			break
		}
		if werr := retryWait(ctx, attempt); werr != nil {
			break // keep the serialization failure: it says what happened
		}
	}
	var ce *callbackError
	if errors.As(err, &ce) {
		return ce.err
	}
	return s.wrap(op, err)
}

// retryWait sleeps before retry number attempt+1 of a transaction that
// failed to serialize: a random time up to 1 ms doubled per attempt (at
// most 64 ms), so that the writers that collided do not collide again in
// lockstep. It returns early with the context's error.
func retryWait(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Store) writeOnce(ctx context.Context, db beginner, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: s.d.isolation})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in a read-only transaction on the reader pool, so that the
// statements of one method see one snapshot. Errors are wrapped with op.
func (s *Store) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{Isolation: s.d.snapshot, ReadOnly: true})
	if err != nil {
		return s.wrap(op, fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback() // read only: nothing to commit
	return s.wrap(op, fn(tx))
}

// wrap adds context to err and translates constraint violations: unique →
// meta.ErrExists, foreign key (a row of a missing repository) →
// meta.ErrNotFound.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	switch s.d.class(err) {
	case errUnique:
		return fmt.Errorf("sqlstore: %s: %w: %w", op, meta.ErrExists, err)
	case errForeignKey:
		return fmt.Errorf("sqlstore: %s: %w: %w", op, meta.ErrNotFound, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// catch turns a panic into an error; defer it in methods with a named error.
func catch(op string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("sqlstore: %s: panic: %v", op, r)
	}
}

// Query helpers over a pool or a transaction.

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, s.d.Rebind(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s *Store) row(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, s.d.Rebind(query), args...)
}

// exists reports whether query returns a row.
func (s *Store) exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := s.row(ctx, q, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// texts runs a query returning one text column.
func (s *Store) texts(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, s.d.Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// notFound wraps meta.ErrNotFound with what was looked for.
func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{meta.ErrNotFound}, args...)...)
}

// Time columns hold unix nanoseconds; 0 is the zero time.

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nanosOrNow is nanos(t), or now when t is zero.
func (s *Store) nanosOrNow(t time.Time) int64 {
	if t.IsZero() {
		return s.now().UnixNano()
	}
	return t.UnixNano()
}

// lim maps limit <= 0 ("no limit") to a LIMIT both engines accept.
func lim(limit int) int64 {
	if limit <= 0 {
		return math.MaxInt64
	}
	return int64(limit)
}
