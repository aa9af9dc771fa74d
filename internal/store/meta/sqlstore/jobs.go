package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// The job queue (table jobs, migration 0005).
//
// Every method is a single statement in autocommit (on PostgreSQL at the
// server's default level, READ COMMITTED): the queue's rows take no part in
// the serializable reasoning of GC, and a claim must not fail with a
// serialization failure because another worker claimed a neighbouring job.
// Claim picks and leases a job in one UPDATE whose subquery, on
// PostgreSQL, locks the row it picks with FOR UPDATE SKIP LOCKED, so
// concurrent claimers take different jobs without waiting for each other;
// on SQLite the single writer connection runs the statements one at a time.

const jobCols = `id, kind, job_key, payload, run_at, keep_until, attempts, last_error, leased_by, lease_until, created_at`

func scanJob(sc interface{ Scan(...any) error }) (meta.Job, error) {
	var j meta.Job
	var key sql.NullString
	var runAt, keep, lease, created int64
	err := sc.Scan(&j.ID, &j.Kind, &key, &j.Payload, &runAt, &keep, &j.Attempts, &j.LastError, &j.LeasedBy, &lease, &created)
	j.Key = key.String
	j.RunAt, j.KeepUntil, j.LeaseUntil, j.CreatedAt = fromNanos(runAt), fromNanos(keep), fromNanos(lease), fromNanos(created)
	return j, err
}

// skipLocked is the locking clause of Claim's pick: FOR UPDATE SKIP LOCKED
// on engines with row locks, nothing on SQLite (one writer at a time).
func (s *Store) skipLocked() string {
	if s.d.forUpdate == "" {
		return ""
	}
	return s.d.forUpdate + " SKIP LOCKED"
}

// Enqueue adds the job unless its key is taken; see meta.JobStore.
func (s *Store) Enqueue(ctx context.Context, j meta.Job) (out meta.Job, created bool, err error) {
	defer catch("enqueue job", &err)
	if j.Kind == "" {
		return meta.Job{}, false, errors.New("sqlstore: enqueue job: empty kind")
	}
	now := s.now().UnixNano()
	// Completed jobs whose key reservation ran out go first, so that
	// their keys may be enqueued again.
	if _, err := s.exec(ctx, s.w, `DELETE FROM jobs WHERE done_at <> 0 AND keep_until <= ?`, now); err != nil {
		return meta.Job{}, false, s.wrap("enqueue job", err)
	}
	var key sql.NullString
	if j.Key != "" {
		key = sql.NullString{String: j.Key, Valid: true}
	}
	payload := j.Payload
	if payload == nil {
		payload = []byte{}
	}
	out, err = scanJob(s.row(ctx, s.w, `INSERT INTO jobs (kind, job_key, payload, run_at, keep_until, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (job_key) DO NOTHING RETURNING `+jobCols,
		j.Kind, key, payload, s.nanosOrNow(j.RunAt), nanos(j.KeepUntil), now))
	if err == nil {
		return out, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return meta.Job{}, false, s.wrap("enqueue job", err)
	}
	// The key is taken: return the job holding it (unless it went in the
	// meantime, which still means this call was deduplicated).
	out, err = scanJob(s.row(ctx, s.w, `SELECT `+jobCols+` FROM jobs WHERE job_key = ?`, j.Key))
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Job{Kind: j.Kind, Key: j.Key}, false, nil
	}
	if err != nil {
		return meta.Job{}, false, s.wrap("enqueue job", err)
	}
	return out, false, nil
}

// Claim leases the oldest due job; see meta.JobStore.
func (s *Store) Claim(ctx context.Context, kinds []string, worker string, lease time.Duration) (j meta.Job, ok bool, err error) {
	defer catch("claim job", &err)
	if worker == "" || lease <= 0 {
		return meta.Job{}, false, errors.New("sqlstore: claim job: empty worker or non-positive lease")
	}
	now := s.now().UnixNano()
	args := []any{worker, now + int64(lease), now, now, now}
	var kindCond string
	if len(kinds) > 0 {
		kindCond = ` AND kind IN (?` + strings.Repeat(`, ?`, len(kinds)-1) + `)`
		for _, k := range kinds {
			args = append(args, k)
		}
	}
	// The outer WHERE repeats the lease check so that the pick is safe on
	// PostgreSQL even if the row changed between the subquery's snapshot
	// and its lock.
	q := `UPDATE jobs SET leased_by = ?, lease_until = ?
WHERE done_at = 0 AND lease_until <= ? AND id = (
  SELECT id FROM jobs WHERE done_at = 0 AND run_at <= ? AND lease_until <= ?` + kindCond + `
  ORDER BY run_at, id LIMIT 1` + s.skipLocked() + `)
RETURNING ` + jobCols
	j, err = scanJob(s.row(ctx, s.w, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Job{}, false, nil
	}
	if err != nil {
		return meta.Job{}, false, s.wrap("claim job", err)
	}
	return j, true, nil
}

// leased runs a single-statement change of a job leased to worker;
// meta.ErrLeaseLost when it changed nothing.
func (s *Store) leased(ctx context.Context, op, q string, args ...any) error {
	n, err := s.exec(ctx, s.w, q, args...)
	if err != nil {
		return s.wrap(op, err)
	}
	if n == 0 {
		return errors.Join(meta.ErrLeaseLost, errors.New("sqlstore: "+op))
	}
	return nil
}

// Extend renews a lease; see meta.JobStore.
func (s *Store) Extend(ctx context.Context, id int64, worker string, lease time.Duration) (err error) {
	defer catch("extend job lease", &err)
	return s.leased(ctx, "extend job lease", `UPDATE jobs SET lease_until = ? WHERE id = ? AND leased_by = ? AND done_at = 0`,
		s.now().Add(lease).UnixNano(), id, worker)
}

// Complete removes (or keeps as a key reservation) a job; see
// meta.JobStore.
func (s *Store) Complete(ctx context.Context, id int64, worker string) (err error) {
	defer catch("complete job", &err)
	now := s.now().UnixNano()
	n, err := s.exec(ctx, s.w, `DELETE FROM jobs WHERE id = ? AND leased_by = ? AND done_at = 0 AND keep_until <= ?`, id, worker, now)
	if err != nil {
		return s.wrap("complete job", err)
	}
	if n == 1 {
		return nil
	}
	return s.leased(ctx, "complete job", `UPDATE jobs SET done_at = ?, leased_by = '', lease_until = 0
WHERE id = ? AND leased_by = ? AND done_at = 0`, now, id, worker)
}

// Fail releases a job for a retry; see meta.JobStore.
func (s *Store) Fail(ctx context.Context, id int64, worker, errMsg string, retryAt time.Time) (err error) {
	defer catch("fail job", &err)
	return s.leased(ctx, "fail job", `UPDATE jobs SET attempts = attempts + 1, last_error = ?, run_at = ?, leased_by = '', lease_until = 0
WHERE id = ? AND leased_by = ? AND done_at = 0`, errMsg, s.nanosOrNow(retryAt), id, worker)
}

// ListJobs lists pending jobs; see meta.JobStore.
func (s *Store) ListJobs(ctx context.Context, kind string) (out []meta.Job, err error) {
	defer catch("list jobs", &err)
	q, args := `SELECT `+jobCols+` FROM jobs WHERE done_at = 0 ORDER BY id`, []any(nil)
	if kind != "" {
		q, args = `SELECT `+jobCols+` FROM jobs WHERE done_at = 0 AND kind = ? ORDER BY id`, []any{kind}
	}
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(q), args...)
	if err != nil {
		return nil, s.wrap("list jobs", err)
	}
	defer rows.Close()
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, s.wrap("list jobs", err)
		}
		out = append(out, j)
	}
	return out, s.wrap("list jobs", rows.Err())
}
