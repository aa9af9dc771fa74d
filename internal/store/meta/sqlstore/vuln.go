package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Vulnerability data (tables vuln_advisories, vuln_packages, vuln_sources,
// migration 0009).

// vulnChunk bounds the placeholders of one IN list or multi-row INSERT, well
// under SQLite's and PostgreSQL's limits.
const vulnChunk = 300

// PutVulnAdvisories adds new advisories and replaces those stored with an
// earlier modification time, in one transaction.
func (s *Store) PutVulnAdvisories(ctx context.Context, advs []meta.VulnAdvisory) (out []meta.VulnPutResult, err error) {
	defer catch("put vuln advisories", &err)
	for _, a := range advs {
		if a.ID == "" {
			return nil, errors.New("sqlstore: put vuln advisories: empty id")
		}
	}
	err = s.write(ctx, "put vuln advisories", func(tx *sql.Tx) error {
		out = make([]meta.VulnPutResult, len(advs))
		// What is stored already, read (and locked) in a few queries
		// rather than one per advisory.
		stored := map[string]int64{}
		ids := make([]string, 0, len(advs))
		for _, a := range advs {
			ids = append(ids, a.ID)
		}
		for c := range slices.Chunk(ids, vulnChunk) {
			q := `SELECT id, modified FROM vuln_advisories WHERE id IN (` + vulnMarks(len(c)) + `)` + s.d.forUpdate
			rows, err := tx.QueryContext(ctx, s.d.Rebind(q), vulnArgs(c)...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				var mod int64
				if err := rows.Scan(&id, &mod); err != nil {
					rows.Close()
					return err
				}
				stored[id] = mod
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		for i, a := range advs {
			mod := nanos(a.Modified)
			old, exists := stored[a.ID]
			switch {
			case !exists:
				if _, err := s.exec(ctx, tx, `INSERT INTO vuln_advisories (id, modified, withdrawn, source, imported_at, data)
VALUES (?, ?, ?, ?, ?, ?)`, a.ID, mod, nanos(a.Withdrawn), a.Source, s.nanosOrNow(a.ImportedAt), vulnBytes(a.Data)); err != nil {
					return err
				}
				out[i].Outcome = meta.VulnAdded
			case old < mod:
				prev, err := s.vulnPackagesOf(ctx, tx, []string{a.ID})
				if err != nil {
					return err
				}
				out[i].Outcome, out[i].Previous = meta.VulnUpdated, prev[a.ID]
				if _, err := s.exec(ctx, tx, `UPDATE vuln_advisories SET modified = ?, withdrawn = ?, source = ?, imported_at = ?, data = ?
WHERE id = ?`, mod, nanos(a.Withdrawn), a.Source, s.nanosOrNow(a.ImportedAt), vulnBytes(a.Data), a.ID); err != nil {
					return err
				}
				if _, err := s.exec(ctx, tx, `DELETE FROM vuln_packages WHERE advisory_id = ?`, a.ID); err != nil {
					return err
				}
			case old == mod:
				out[i].Outcome = meta.VulnUnchanged
				continue
			default:
				out[i].Outcome = meta.VulnOlder
				continue
			}
			stored[a.ID] = mod
			if err := s.insertVulnPackages(ctx, tx, a.ID, a.Packages); err != nil {
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

func (s *Store) insertVulnPackages(ctx context.Context, tx *sql.Tx, id string, pkgs []meta.VulnPackage) error {
	pkgs = dedupVulnPackages(pkgs)
	for c := range slices.Chunk(pkgs, vulnChunk/3) {
		var b strings.Builder
		b.WriteString(`INSERT INTO vuln_packages (ecosystem, name, advisory_id) VALUES `)
		args := make([]any, 0, 3*len(c))
		for j, p := range c {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, p.Ecosystem, p.Name, id)
		}
		if _, err := s.exec(ctx, tx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func dedupVulnPackages(pkgs []meta.VulnPackage) []meta.VulnPackage {
	out := slices.Clone(pkgs)
	slices.SortFunc(out, cmpVulnPackage)
	return slices.Compact(out)
}

func cmpVulnPackage(a, b meta.VulnPackage) int {
	if c := strings.Compare(a.Ecosystem, b.Ecosystem); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// vulnPackagesOf returns the package keys of the advisories, sorted.
func (s *Store) vulnPackagesOf(ctx context.Context, q querier, ids []string) (map[string][]meta.VulnPackage, error) {
	out := map[string][]meta.VulnPackage{}
	for c := range slices.Chunk(ids, vulnChunk) {
		rows, err := q.QueryContext(ctx, s.d.Rebind(`SELECT advisory_id, ecosystem, name FROM vuln_packages
WHERE advisory_id IN (`+vulnMarks(len(c))+`) ORDER BY advisory_id, ecosystem, name`), vulnArgs(c)...)
		if err != nil {
			return nil, err
		}
		if err := scanVulnPackages(rows, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func scanVulnPackages(rows *sql.Rows, out map[string][]meta.VulnPackage) error {
	defer rows.Close()
	for rows.Next() {
		var id string
		var p meta.VulnPackage
		if err := rows.Scan(&id, &p.Ecosystem, &p.Name); err != nil {
			return err
		}
		out[id] = append(out[id], p)
	}
	return rows.Err()
}

const vulnColumns = `id, modified, withdrawn, source, imported_at`

func scanVulnAdvisories(rows *sql.Rows, withData bool) ([]meta.VulnAdvisory, error) {
	defer rows.Close()
	var out []meta.VulnAdvisory
	for rows.Next() {
		var a meta.VulnAdvisory
		var mod, wd, imp int64
		dest := []any{&a.ID, &mod, &wd, &a.Source, &imp}
		if withData {
			dest = append(dest, &a.Data)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		a.Modified, a.Withdrawn, a.ImportedAt = fromNanos(mod), fromNanos(wd), fromNanos(imp)
		out = append(out, a)
	}
	return out, rows.Err()
}

// ListVulnAdvisories returns advisories by increasing id, one snapshot.
func (s *Store) ListVulnAdvisories(ctx context.Context, q meta.VulnQuery) (out []meta.VulnAdvisory, err error) {
	defer catch("list vuln advisories", &err)
	cols := vulnColumns
	if !q.WithoutData {
		cols += ", data"
	}
	query := `SELECT ` + cols + ` FROM vuln_advisories WHERE id > ?`
	if !q.IncludeWithdrawn {
		query += ` AND withdrawn = 0`
	}
	query += ` ORDER BY id LIMIT ?`
	err = s.read(ctx, "list vuln advisories", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.d.Rebind(query), q.AfterID, lim(q.Limit))
		if err != nil {
			return err
		}
		if out, err = scanVulnAdvisories(rows, !q.WithoutData); err != nil || len(out) == 0 {
			return err
		}
		// The keys of the page, in one range query rather than a list of
		// ids.
		rows, err = tx.QueryContext(ctx, s.d.Rebind(`SELECT advisory_id, ecosystem, name FROM vuln_packages
WHERE advisory_id > ? AND advisory_id <= ? ORDER BY advisory_id, ecosystem, name`), q.AfterID, out[len(out)-1].ID)
		if err != nil {
			return err
		}
		pkgs := map[string][]meta.VulnPackage{}
		if err := scanVulnPackages(rows, pkgs); err != nil {
			return err
		}
		for i := range out {
			out[i].Packages = pkgs[out[i].ID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// VulnAdvisoriesFor returns the advisories not withdrawn that affect any
// of the packages.
func (s *Store) VulnAdvisoriesFor(ctx context.Context, pkgs []meta.VulnPackage) (out []meta.VulnAdvisory, err error) {
	defer catch("vuln advisories for", &err)
	pkgs = dedupVulnPackages(pkgs)
	if len(pkgs) == 0 {
		return nil, nil
	}
	err = s.read(ctx, "vuln advisories for", func(tx *sql.Tx) error {
		idSet := map[string]bool{}
		for c := range slices.Chunk(pkgs, vulnChunk/2) {
			conds := make([]string, len(c))
			args := make([]any, 0, 2*len(c))
			for i, p := range c {
				conds[i] = `(ecosystem = ? AND name = ?)`
				args = append(args, p.Ecosystem, p.Name)
			}
			ids, err := s.texts(ctx, tx, `SELECT DISTINCT advisory_id FROM vuln_packages WHERE `+strings.Join(conds, " OR "), args...)
			if err != nil {
				return err
			}
			for _, id := range ids {
				idSet[id] = true
			}
		}
		ids := make([]string, 0, len(idSet))
		for id := range idSet {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for c := range slices.Chunk(ids, vulnChunk) {
			rows, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT `+vulnColumns+`, data FROM vuln_advisories
WHERE withdrawn = 0 AND id IN (`+vulnMarks(len(c))+`) ORDER BY id`), vulnArgs(c)...)
			if err != nil {
				return err
			}
			page, err := scanVulnAdvisories(rows, true)
			if err != nil {
				return err
			}
			out = append(out, page...)
		}
		have := make([]string, len(out))
		for i, a := range out {
			have[i] = a.ID
		}
		keys, err := s.vulnPackagesOf(ctx, tx, have)
		if err != nil {
			return err
		}
		for i := range out {
			out[i].Packages = keys[out[i].ID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CountVulnAdvisories counts the advisories not withdrawn, in all and per
// ecosystem.
func (s *Store) CountVulnAdvisories(ctx context.Context) (total int64, per []meta.VulnEcosystemCount, err error) {
	defer catch("count vuln advisories", &err)
	err = s.read(ctx, "count vuln advisories", func(tx *sql.Tx) error {
		if err := s.row(ctx, tx, `SELECT COUNT(*) FROM vuln_advisories WHERE withdrawn = 0`).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT p.ecosystem, COUNT(DISTINCT p.advisory_id) FROM vuln_packages p
JOIN vuln_advisories a ON a.id = p.advisory_id WHERE a.withdrawn = 0 GROUP BY p.ecosystem ORDER BY p.ecosystem`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c meta.VulnEcosystemCount
			if err := rows.Scan(&c.Ecosystem, &c.Advisories); err != nil {
				return err
			}
			per = append(per, c)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, err
	}
	return total, per, nil
}

// PutVulnSource records an import; updated_at only moves forward.
func (s *Store) PutVulnSource(ctx context.Context, src meta.VulnSource) (err error) {
	defer catch("put vuln source", &err)
	if src.Name == "" {
		return errors.New("sqlstore: put vuln source: empty name")
	}
	return s.write(ctx, "put vuln source", func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO vuln_sources (name, path, imported_at, updated_at, added, updated, unchanged, older, invalid)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    path = excluded.path, imported_at = excluded.imported_at,
    updated_at = CASE WHEN excluded.updated_at > vuln_sources.updated_at THEN excluded.updated_at ELSE vuln_sources.updated_at END,
    added = excluded.added, updated = excluded.updated, unchanged = excluded.unchanged,
    older = excluded.older, invalid = excluded.invalid`,
			src.Name, src.Path, s.nanosOrNow(src.ImportedAt), nanos(src.UpdatedAt),
			src.Added, src.Updated, src.Unchanged, src.Older, src.Invalid)
		return err
	})
}

// ListVulnSources lists the sources by name with their advisory counts.
func (s *Store) ListVulnSources(ctx context.Context) (out []meta.VulnSource, err error) {
	defer catch("list vuln sources", &err)
	rows, err := s.r.QueryContext(ctx, `SELECT s.name, s.path, s.imported_at, s.updated_at, s.added, s.updated, s.unchanged, s.older, s.invalid,
    (SELECT COUNT(*) FROM vuln_advisories a WHERE a.source = s.name AND a.withdrawn = 0)
FROM vuln_sources s ORDER BY s.name`)
	if err != nil {
		return nil, s.wrap("list vuln sources", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v meta.VulnSource
		var imp, upd int64
		if err := rows.Scan(&v.Name, &v.Path, &imp, &upd, &v.Added, &v.Updated, &v.Unchanged, &v.Older, &v.Invalid, &v.Advisories); err != nil {
			return nil, s.wrap("list vuln sources", err)
		}
		v.ImportedAt, v.UpdatedAt = fromNanos(imp), fromNanos(upd)
		out = append(out, v)
	}
	return out, s.wrap("list vuln sources", rows.Err())
}

// vulnMarks returns n comma-separated placeholders.
func vulnMarks(n int) string {
	if n <= 0 {
		return ""
	}
	return "?" + strings.Repeat(", ?", n-1)
}

func vulnArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// vulnBytes keeps a NOT NULL bytes column from receiving NULL.
func vulnBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
