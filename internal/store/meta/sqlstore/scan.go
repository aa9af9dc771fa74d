package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Image scanning (tables scan_inventories and image_scans, migration 0010;
// key sets and expiry marks, 0012).

// severityCols are the count columns of image_scans by ECR severity.
var severityCols = []struct{ sev, col string }{
	{"CRITICAL", "n_critical"},
	{"HIGH", "n_high"},
	{"MEDIUM", "n_medium"},
	{"LOW", "n_low"},
	{"INFORMATIONAL", "n_informational"},
	{"UNDEFINED", "n_undefined"},
}

// countArgs returns the count columns' values of a counts map, refusing
// severities that have no column.
func countArgs(counts map[string]int) ([]any, error) {
	out := make([]any, len(severityCols))
	known := 0
	for i, c := range severityCols {
		n := counts[c.sev]
		if n < 0 {
			return nil, fmt.Errorf("negative %s count", c.sev)
		}
		if _, ok := counts[c.sev]; ok {
			known++
		}
		out[i] = n
	}
	if known != len(counts) {
		return nil, fmt.Errorf("unknown severity in counts %v", counts)
	}
	return out, nil
}

const scanCols = `repo_id, digest, status, description, requested_at, completed_at, source_updated_at,
    n_critical, n_high, n_medium, n_low, n_informational, n_undefined, findings_hash, expired_at`

// scanScan reads scanCols (and, with findings, the findings column after
// them) into an ImageScan; extra receives further columns.
func scanScan(sc interface{ Scan(...any) error }, findings bool, extra ...any) (meta.ImageScan, error) {
	var s meta.ImageScan
	var req, done, src, expired int64
	n := make([]int, len(severityCols))
	dest := []any{&s.RepoID, &s.Digest, &s.Status, &s.Description, &req, &done, &src}
	for i := range n {
		dest = append(dest, &n[i])
	}
	dest = append(dest, &s.FindingsHash, &expired)
	if findings {
		dest = append(dest, &s.Findings)
	}
	dest = append(dest, extra...)
	if err := sc.Scan(dest...); err != nil {
		return meta.ImageScan{}, err
	}
	s.RequestedAt, s.CompletedAt, s.SourceUpdatedAt, s.ExpiredAt = fromNanos(req), fromNanos(done), fromNanos(src), fromNanos(expired)
	for i, c := range severityCols {
		if n[i] > 0 {
			if s.Counts == nil {
				s.Counts = map[string]int{}
			}
			s.Counts[c.sev] = n[i]
		}
	}
	return s, nil
}

// PutInventory stores or replaces the inventory of a manifest.
func (s *Store) PutInventory(ctx context.Context, inv meta.Inventory) (err error) {
	defer catch("put inventory", &err)
	if inv.Digest == "" || inv.Data == nil {
		return errors.New("sqlstore: put inventory: empty digest or data")
	}
	return s.write(ctx, "put inventory", func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO scan_inventories (digest, version, data, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (digest) DO UPDATE SET version = excluded.version, data = excluded.data, created_at = excluded.created_at`,
			inv.Digest, inv.Version, inv.Data, s.nanosOrNow(inv.CreatedAt)); err != nil {
			return err
		}
		return s.putKeySet(ctx, tx, inv.Digest, inv.KeySet)
	})
}

// putKeySet replaces the key set of a stored inventory (nil: unknown).
func (s *Store) putKeySet(ctx context.Context, tx *sql.Tx, digest string, ks []byte) error {
	if ks == nil {
		_, err := s.exec(ctx, tx, `DELETE FROM scan_key_sets WHERE digest = ?`, digest)
		return err
	}
	_, err := s.exec(ctx, tx, `INSERT INTO scan_key_sets (digest, key_set) SELECT digest, ? FROM scan_inventories WHERE digest = ?
ON CONFLICT (digest) DO UPDATE SET key_set = excluded.key_set`, ks, digest)
	return err
}

// GetInventory returns the inventory of a manifest.
func (s *Store) GetInventory(ctx context.Context, digest string) (inv meta.Inventory, err error) {
	defer catch("get inventory", &err)
	var created int64
	err = s.row(ctx, s.r, `SELECT i.version, i.data, k.key_set, i.created_at
FROM scan_inventories i LEFT JOIN scan_key_sets k ON k.digest = i.digest WHERE i.digest = ?`, digest).
		Scan(&inv.Version, &inv.Data, &inv.KeySet, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Inventory{}, notFound("inventory of %s", digest)
	}
	if err != nil {
		return meta.Inventory{}, s.wrap("get inventory", err)
	}
	inv.Digest, inv.CreatedAt = digest, fromNanos(created)
	return inv, nil
}

// PruneInventories deletes inventories no scan uses.
func (s *Store) PruneInventories(ctx context.Context, cutoff time.Time, limit int) (n int64, err error) {
	defer catch("prune inventories", &err)
	n, err = s.exec(ctx, s.w, `DELETE FROM scan_inventories WHERE digest IN (
  SELECT i.digest FROM scan_inventories i
  WHERE i.created_at < ? AND NOT EXISTS (SELECT 1 FROM image_scans x WHERE x.digest = i.digest)
  ORDER BY i.digest LIMIT ?)`, cutoff.UnixNano(), lim(limit))
	return n, s.wrap("prune inventories", err)
}

// QueueScan records a scan in progress and enqueues its job atomically, so
// that a crash never leaves a scan in progress with no job to finish it.
func (s *Store) QueueScan(ctx context.Context, r meta.ScanRequest) (queued bool, err error) {
	defer catch("queue scan", &err)
	if r.Job.Kind == "" {
		return false, errors.New("sqlstore: queue scan: job without kind")
	}
	at := s.nanosOrNow(r.At)
	err = s.write(ctx, "queue scan", func(tx *sql.Tx) error {
		ok, err := s.exists(ctx, tx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`, r.RepoID, r.Digest)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("manifest %s in repository %d", r.Digest, r.RepoID)
		}
		var status string
		var requested int64
		err = s.row(ctx, tx, `SELECT status, requested_at FROM image_scans WHERE repo_id = ? AND digest = ?`+s.d.forUpdate,
			r.RepoID, r.Digest).Scan(&status, &requested)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case r.IfUnscanned && status != meta.ScanFailed:
			return nil
		case !r.LimitSince.IsZero() && requested >= r.LimitSince.UnixNano():
			return &callbackError{fmt.Errorf("%s in repository %d: %w", r.Digest, r.RepoID, meta.ErrScanLimit)}
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO image_scans (repo_id, digest, status, description, requested_at) VALUES (?, ?, ?, '', ?)
ON CONFLICT (repo_id, digest) DO UPDATE SET status = excluded.status, description = '', requested_at = excluded.requested_at`,
			r.RepoID, r.Digest, meta.ScanInProgress, at); err != nil {
			return err
		}
		var key sql.NullString
		if r.Job.Key != "" {
			key = sql.NullString{String: r.Job.Key, Valid: true}
		}
		payload := r.Job.Payload
		if payload == nil {
			payload = []byte{}
		}
		now := s.now().UnixNano()
		if _, err := s.exec(ctx, tx, `INSERT INTO jobs (kind, job_key, payload, run_at, keep_until, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (job_key) DO NOTHING`, r.Job.Kind, key, payload, s.nanosOrNow(r.Job.RunAt), nanos(r.Job.KeepUntil), now); err != nil {
			return err
		}
		queued = true
		return nil
	})
	return queued, err
}

func checkResultStatus(st string) error {
	switch st {
	case meta.ScanComplete, meta.ScanFailed, meta.ScanUnsupportedImage:
		return nil
	}
	return fmt.Errorf("status %q is not a scan outcome", st)
}

// FinishScan writes the outcome of a scan.
func (s *Store) FinishScan(ctx context.Context, r meta.ScanResult) (err error) {
	defer catch("finish scan", &err)
	if err := checkResultStatus(r.Status); err != nil {
		return fmt.Errorf("sqlstore: finish scan: %w", err)
	}
	counts, err := countArgs(r.Counts)
	if err != nil {
		return fmt.Errorf("sqlstore: finish scan: %w", err)
	}
	args := []any{r.Status, r.Description, s.nanosOrNow(r.CompletedAt), nanos(r.SourceUpdatedAt)}
	args = append(args, counts...)
	args = append(args, r.FindingsHash, r.Findings, r.RepoID, r.Digest)
	n, err := s.exec(ctx, s.w, `UPDATE image_scans SET status = ?, description = ?, completed_at = ?, source_updated_at = ?,
    n_critical = ?, n_high = ?, n_medium = ?, n_low = ?, n_informational = ?, n_undefined = ?, findings_hash = ?, findings = ?, expired_at = 0
WHERE repo_id = ? AND digest = ?`, args...)
	if err != nil {
		return s.wrap("finish scan", err)
	}
	if n == 0 {
		return notFound("scan of %s in repository %d", r.Digest, r.RepoID)
	}
	return nil
}

// GetScan returns an image's scan with its findings.
func (s *Store) GetScan(ctx context.Context, repoID int64, digest string) (sc meta.ImageScan, err error) {
	defer catch("get scan", &err)
	sc, err = scanScan(s.row(ctx, s.r, `SELECT `+scanCols+`, findings FROM image_scans WHERE repo_id = ? AND digest = ?`, repoID, digest), true)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.ImageScan{}, notFound("scan of %s in repository %d", digest, repoID)
	}
	return sc, s.wrap("get scan", err)
}

// smallIN is the most digests GetScans looks up with an IN list; more are
// read as the range between the smallest and the largest. Preparing a
// statement costs in proportion to its placeholders (on SQLite, about
// 30 µs per hundred), while a listing page is a run of consecutive digests
// (DescribeImages pages by digest), which one range scan of the primary
// key reads exactly.
const smallIN = 32

// GetScans returns the scans of the given images, without findings.
func (s *Store) GetScans(ctx context.Context, repoID int64, digests []string) (out map[string]meta.ImageScan, err error) {
	defer catch("get scans", &err)
	out = make(map[string]meta.ImageScan, len(digests))
	if len(digests) == 0 {
		return out, nil
	}
	want := make(map[string]bool, len(digests))
	lo, hi := digests[0], digests[0]
	for _, d := range digests {
		want[d] = true
		lo, hi = min(lo, d), max(hi, d)
	}
	var rows *sql.Rows
	if len(want) <= smallIN {
		args := make([]any, 0, len(want)+1)
		args = append(args, repoID)
		for d := range want {
			args = append(args, d)
		}
		rows, err = s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+scanCols+` FROM image_scans WHERE repo_id = ? AND digest IN (?`+
			strings.Repeat(`, ?`, len(want)-1)+`)`), args...)
	} else {
		rows, err = s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+scanCols+` FROM image_scans WHERE repo_id = ? AND digest >= ? AND digest <= ?`), repoID, lo, hi)
	}
	if err != nil {
		return nil, s.wrap("get scans", err)
	}
	defer rows.Close()
	for rows.Next() {
		sc, err := scanScan(rows, false)
		if err != nil {
			return nil, s.wrap("get scans", err)
		}
		if want[sc.Digest] {
			out[sc.Digest] = sc
		}
	}
	return out, s.wrap("get scans", rows.Err())
}

// rematchWhere is the FROM and WHERE of what a RematchQuery selects, with
// its arguments: completed scans joined with their inventories (and
// manifests, to tell active images), a page by digest or the given
// digests.
func rematchWhere(q meta.RematchQuery) (string, []any) {
	cond, condArgs := activeCond(q.Active)
	w := `FROM image_scans s JOIN scan_inventories i ON i.digest = s.digest
LEFT JOIN scan_key_sets k ON k.digest = s.digest`
	if cond != "" {
		w += `
JOIN manifests m ON m.repo_id = s.repo_id AND m.digest = s.digest`
	}
	w += `
WHERE s.repo_id = ? AND s.status = ?`
	args := []any{q.RepoID, meta.ScanComplete}
	if q.Digests != nil {
		if len(q.Digests) == 0 {
			w += ` AND 1 = 0`
		} else {
			w += ` AND s.digest IN (?` + strings.Repeat(`, ?`, len(q.Digests)-1) + `)`
			for _, d := range q.Digests {
				args = append(args, d)
			}
		}
	} else {
		w += ` AND s.digest > ?`
		args = append(args, q.After)
	}
	w += cond
	args = append(args, condArgs...)
	w += ` ORDER BY s.digest`
	if q.Digests == nil {
		w += ` LIMIT ?`
		args = append(args, lim(q.Limit))
	}
	return w, args
}

// activeCond is the condition that image s (manifest m) is active since
// a: pushed, tagged or asked a scan of since a.Pushed, or pulled since
// a.Pulled. Tags count because a push of an existing manifest under a new
// tag does not move its pushed_at.
func activeCond(a meta.ActiveSince) (string, []any) {
	if a.Pushed.IsZero() {
		return "", nil
	}
	pushed, pulled := a.Pushed.UnixNano(), int64(math.MaxInt64)
	if !a.Pulled.IsZero() {
		pulled = a.Pulled.UnixNano()
	}
	return ` AND (m.pushed_at >= ? OR s.requested_at >= ? OR m.last_pull_at >= ?
  OR EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = s.repo_id AND t.digest = s.digest AND t.updated_at >= ?))`,
		[]any{pushed, pushed, pulled, pushed}
}

// ListRematch lists completed scans of a repository with their inventories.
func (s *Store) ListRematch(ctx context.Context, q meta.RematchQuery) (out []meta.RematchItem, err error) {
	defer catch("list rematch", &err)
	w, args := rematchWhere(q)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT `+prefixCols("s.", scanCols)+`, s.findings, i.version, i.data, k.key_set, i.created_at
`+w), args...)
	if err != nil {
		return nil, s.wrap("list rematch", err)
	}
	defer rows.Close()
	for rows.Next() {
		var it meta.RematchItem
		var created int64
		it.Scan, err = scanScan(rows, true, &it.Inventory.Version, &it.Inventory.Data, &it.Inventory.KeySet, &created)
		if err != nil {
			return nil, s.wrap("list rematch", err)
		}
		it.Inventory.Digest, it.Inventory.CreatedAt = it.Scan.Digest, fromNanos(created)
		out = append(out, it)
	}
	return out, s.wrap("list rematch", rows.Err())
}

// ListRematchKeys lists what ListRematch would without the large columns.
func (s *Store) ListRematchKeys(ctx context.Context, q meta.RematchQuery) (out []meta.RematchKey, err error) {
	defer catch("list rematch keys", &err)
	w, args := rematchWhere(q)
	rows, err := s.r.QueryContext(ctx, s.d.Rebind(`SELECT s.digest, k.key_set, s.expired_at
`+w), args...)
	if err != nil {
		return nil, s.wrap("list rematch keys", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k meta.RematchKey
		var expired int64
		if err := rows.Scan(&k.Digest, &k.KeySet, &expired); err != nil {
			return nil, s.wrap("list rematch keys", err)
		}
		k.Expired = expired != 0
		out = append(out, k)
	}
	return out, s.wrap("list rematch keys", rows.Err())
}

// PutInventoryKeySets sets the key sets of stored inventories.
func (s *Store) PutInventoryKeySets(ctx context.Context, sets map[string][]byte) (err error) {
	defer catch("put inventory key sets", &err)
	if len(sets) == 0 {
		return nil
	}
	return s.write(ctx, "put inventory key sets", func(tx *sql.Tx) error {
		for d, ks := range sets {
			if err := s.putKeySet(ctx, tx, d, ks); err != nil {
				return err
			}
		}
		return nil
	})
}

// ExpireScans marks the completed scans of inactive images, in one
// statement (the tags_digest index serves the tag check).
func (s *Store) ExpireScans(ctx context.Context, repoID int64, active meta.ActiveSince, at time.Time) (n int64, err error) {
	defer catch("expire scans", &err)
	c, args := activeCond(active)
	if c == "" {
		return 0, nil
	}
	all := append([]any{s.nanosOrNow(at), repoID, meta.ScanComplete}, args...)
	n, err = s.exec(ctx, s.w, `UPDATE image_scans SET expired_at = ? WHERE repo_id = ? AND status = ? AND expired_at = 0
AND NOT EXISTS (SELECT 1 FROM manifests m, image_scans s WHERE s.repo_id = image_scans.repo_id AND s.digest = image_scans.digest
  AND m.repo_id = s.repo_id AND m.digest = s.digest`+c+`)`, all...)
	return n, s.wrap("expire scans", err)
}

// prefixCols qualifies a comma-separated column list with a table alias.
func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// PutRematch writes the outcomes of a rescan in one transaction. Each
// applies only while the scan is still the completed one the rescan read
// (same completion time), so a scan that finished or was queued meanwhile
// keeps its own, newer result.
func (s *Store) PutRematch(ctx context.Context, rs []meta.ScanResult) (written int, err error) {
	defer catch("put rematch", &err)
	for _, r := range rs {
		if !r.Unchanged {
			if err := checkResultStatus(r.Status); err != nil {
				return 0, fmt.Errorf("sqlstore: put rematch: %w", err)
			}
			if _, err := countArgs(r.Counts); err != nil {
				return 0, fmt.Errorf("sqlstore: put rematch: %w", err)
			}
		}
	}
	err = s.write(ctx, "put rematch", func(tx *sql.Tx) error {
		written = 0
		for _, r := range rs {
			var n int64
			var err error
			done := s.nanosOrNow(r.CompletedAt)
			if r.Unchanged {
				n, err = s.exec(ctx, tx, `UPDATE image_scans SET completed_at = ?, source_updated_at = ?, expired_at = 0
WHERE repo_id = ? AND digest = ? AND status = ? AND completed_at = ?`,
					done, nanos(r.SourceUpdatedAt), r.RepoID, r.Digest, meta.ScanComplete, nanos(r.IfCompletedAt))
			} else {
				counts, _ := countArgs(r.Counts)
				args := []any{r.Status, r.Description, done, nanos(r.SourceUpdatedAt)}
				args = append(args, counts...)
				args = append(args, r.FindingsHash, r.Findings, r.RepoID, r.Digest, meta.ScanComplete, nanos(r.IfCompletedAt))
				n, err = s.exec(ctx, tx, `UPDATE image_scans SET status = ?, description = ?, completed_at = ?, source_updated_at = ?,
    n_critical = ?, n_high = ?, n_medium = ?, n_low = ?, n_informational = ?, n_undefined = ?, findings_hash = ?, findings = ?, expired_at = 0
WHERE repo_id = ? AND digest = ? AND status = ? AND completed_at = ?`, args...)
			}
			if err != nil {
				return err
			}
			written += int(n)
		}
		return nil
	})
	return written, err
}

// ReferredSubjects finds which subjects have a referrer of the given
// artifact types: few subjects by an IN list, many as the key range of the
// manifests_subject index between the smallest and the largest (a page of
// a listing is a run of digests), filtered here.
func (s *Store) ReferredSubjects(ctx context.Context, repoID int64, subjects, artifactTypes []string) (out map[string]bool, err error) {
	defer catch("referred subjects", &err)
	out = map[string]bool{}
	if len(subjects) == 0 || len(artifactTypes) == 0 {
		return out, nil
	}
	want := make(map[string]bool, len(subjects))
	lo, hi := subjects[0], subjects[0]
	for _, d := range subjects {
		want[d] = true
		lo, hi = min(lo, d), max(hi, d)
	}
	args := []any{repoID}
	q := `SELECT DISTINCT subject FROM manifests WHERE repo_id = ? AND `
	if len(want) <= smallIN {
		q += `subject IN (?` + strings.Repeat(`, ?`, len(want)-1) + `)`
		for d := range want {
			args = append(args, d)
		}
	} else {
		q += `subject >= ? AND subject <= ?`
		args = append(args, lo, hi)
	}
	q += ` AND artifact_type IN (?` + strings.Repeat(`, ?`, len(artifactTypes)-1) + `)`
	for _, t := range artifactTypes {
		args = append(args, t)
	}
	ds, err := s.texts(ctx, s.r, q, args...)
	if err != nil {
		return nil, s.wrap("referred subjects", err)
	}
	for _, d := range ds {
		if want[d] {
			out[d] = true
		}
	}
	return out, nil
}
