package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/metatest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestSQLiteContract(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store { return openTemp(t) })
}

func TestSQLitePragmas(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	for _, tc := range []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "10000"},
	} {
		for _, pool := range []struct {
			name string
			q    querier
		}{{"writer", s.w}, {"reader", s.r}} {
			var got string
			if err := pool.q.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", pool.name, tc.pragma, got, tc.want)
			}
		}
	}
	if _, err := s.r.ExecContext(ctx, `INSERT INTO accounts (id, name, created_at) VALUES ('1', 'x', 0)`); err == nil {
		t.Error("reader pool accepted a write")
	}
	if n := s.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool allows %d connections, want 1", n)
	}
}

func TestReopenKeepsDataAndMigrations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "meta.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	applied := func(s *Store) string {
		t.Helper()
		rows, err := s.w.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var v, at int64
			var name string
			if err := rows.Scan(&v, &name, &at); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d %s %d\n", v, name, at)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	first := applied(s)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(first, "\n"); got != len(ms) {
		t.Fatalf("%d migrations recorded, want %d:\n%s", got, len(ms), first)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if again := applied(s); again != first {
		t.Fatalf("migrations re-applied:\nbefore %s\nafter %s", first, again)
	}
	got, err := s.GetRepository(ctx, "123456789012", "app")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != r.ID {
		t.Fatalf("repository id %d, want %d", got.ID, r.ID)
	}
	// A database migrated by a newer binary is refused.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenSQLite(ctx, path); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// TestUpgradeFrom0001 opens a database created by a binary that knew only
// the first migration: the pending ones apply and existing rows read back
// with the new columns' defaults.
func TestUpgradeFrom0001(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].version != 1 || len(ms) < 2 {
		t.Fatalf("migrations %d..%d", ms[0].version, ms[len(ms)-1].version)
	}
	db, err := sql.Open("sqlite", sqliteDSN(path, true, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append([]string{`CREATE TABLE schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)`, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '` + ms[0].name + `', 1)`,
	}, ms[0].stmts...) {
		if _, err := db.ExecContext(ctx, SQLite.schema(q)); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO repositories (account_id, name, created_at, tag_mutability) VALUES ('123456789012', 'old', 5, 'IMMUTABLE')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.GetRepository(ctx, "123456789012", "old")
	if err != nil {
		t.Fatal(err)
	}
	if r.TagMutability != "IMMUTABLE" || r.Policy != "" || r.ScanFilter != "" {
		t.Fatalf("old repository after upgrade: %+v", r)
	}
	r.Policy, r.ScanFilter = `{"v":1}`, `[]`
	if err := s.UpdateRepository(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRepository(ctx, "123456789012", "old"); err != nil || got.Policy != `{"v":1}` || got.ScanFilter != `[]` {
		t.Fatalf("after update: %+v, %v", got, err)
	}
	var newest int64
	if err := s.w.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest); err != nil {
		t.Fatal(err)
	}
	if newest != ms[len(ms)-1].version {
		t.Fatalf("schema version %d, want %d", newest, ms[len(ms)-1].version)
	}
}

func TestPostgresDialect(t *testing.T) {
	d := Postgres
	got := d.Rebind(`SELECT a FROM t WHERE x = ? AND y = '?' AND z IN (?, ?)`)
	want := `SELECT a FROM t WHERE x = $1 AND y = '?' AND z IN ($2, $3)`
	if got != want {
		t.Fatalf("Rebind:\n got %s\nwant %s", got, want)
	}
	if q := SQLite.Rebind("a = ?"); q != "a = ?" {
		t.Fatalf("sqlite Rebind changed the query: %s", q)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, st := range m.stmts {
			for _, dd := range []Dialect{SQLite, Postgres} {
				if q := dd.schema(st); strings.Contains(q, "{{") {
					t.Fatalf("%s: unsubstituted token in %s", dd.Name, q)
				}
			}
			if strings.Contains(Postgres.schema(st), "AUTOINCREMENT") || strings.Contains(Postgres.schema(st), "BLOB") {
				t.Fatalf("sqlite type leaked into postgres schema: %s", st)
			}
		}
	}
}

func benchStore(b *testing.B) (*Store, int64, []string, []string) {
	return fillBench(b, openTemp(b))
}

// fillBench puts 1,000 tagged manifests of about 1.5 KiB into a new
// repository of s.
func fillBench(b *testing.B, s *Store) (*Store, int64, []string, []string) {
	ctx := b.Context()
	r, err := s.CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	const n = 1000
	var tags, digests []string
	for i := range n {
		content := []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 1500)))
		d := fmt.Sprintf("sha256:%064x", i)
		tag := fmt.Sprintf("v1.%d", i)
		err := s.PutManifest(ctx, meta.PutManifest{
			Manifest: meta.Manifest{RepoID: r.ID, Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(content)), Content: content},
			Tag:      tag,
		})
		if err != nil {
			b.Fatal(err)
		}
		tags, digests = append(tags, tag), append(digests, d)
	}
	return s, r.ID, tags, digests
}

func BenchmarkResolveTag(b *testing.B) {
	s, repoID, tags, _ := benchStore(b)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if _, err := s.ResolveTag(ctx, repoID, tags[i%len(tags)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetManifest(b *testing.B) {
	s, repoID, _, digests := benchStore(b)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if _, err := s.GetManifest(ctx, repoID, digests[i%len(digests)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkResolveTagParallel(b *testing.B) {
	s, repoID, tags, _ := benchStore(b)
	ctx := b.Context()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.ResolveTag(ctx, repoID, tags[i%len(tags)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkListImages1000 lists a repository of 1,000 images with two tags
// each in one call: the listing costs two statements, not one per image.
func BenchmarkListImages1000(b *testing.B) {
	s, repoID, _, digests := benchStore(b)
	ctx := b.Context()
	for i, d := range digests {
		m, err := s.GetManifest(ctx, repoID, d)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.PutManifest(ctx, meta.PutManifest{Manifest: m, Tag: fmt.Sprintf("build-%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		ims, err := s.ListImages(ctx, repoID, "", 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(ims) != len(digests) || len(ims[0].Tags) != 2 || len(ims[len(ims)-1].Tags) != 2 {
			b.Fatalf("listed %d images, first with tags %v", len(ims), ims[0].Tags)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
}
