package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/metatest"
)

// The PostgreSQL tests run against the server named by
// WHARF_TEST_POSTGRES_URL (scripts/test.sh starts one with
// scripts/postgres.sh and sets it) and skip without it. The URL names a
// server and a database to connect to as a user allowed to create
// databases; each test creates its own database, wharf_test_<random>, and
// drops it when it ends.
const pgEnv = "WHARF_TEST_POSTGRES_URL"

func pgServer(t testing.TB) string {
	t.Helper()
	u := os.Getenv(pgEnv)
	if u == "" {
		t.Skipf("%s is not set: PostgreSQL tests skipped (bash scripts/postgres.sh start prints a URL to set it to)", pgEnv)
	}
	return u
}

// pgAdmin connects to the server's own database for CREATE/DROP DATABASE.
func pgAdmin(t testing.TB, server string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		t.Fatalf("%s: %v", pgEnv, err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	return db
}

// freshDatabase creates an empty database and returns its URL; the
// database is dropped (connections still open to it are terminated) when
// the test ends.
//
// It uses ICU's en-US collation when the server has ICU (PostgreSQL 15+):
// there "B" sorts between "a" and "c" and punctuation is ignored at first,
// so the contract suite's byte-order checks prove that the store orders
// names in bytes whatever the database's locale.
func freshDatabase(t testing.TB) string {
	t.Helper()
	server := pgServer(t)
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL, got %q", pgEnv, redact(server))
	}
	admin := pgAdmin(t, server)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "wharf_test_" + hex.EncodeToString(b[:])
	_, err = admin.ExecContext(ctx, `CREATE DATABASE `+name+
		` TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`)
	if err != nil {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || !(pe.Code == "42601" || pe.Code == "0A000" || pe.Code == "22023" || pe.Code == "42704") {
			t.Fatalf("create database %s: %v", name, err)
		}
		// No ICU here (or PostgreSQL < 15): the server's default locale.
		t.Logf("database %s without ICU collation: %v", name, err)
		if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
			t.Fatalf("create database %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		admin := pgAdmin(t, server)
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// openPostgres opens a store on a fresh database, closed at cleanup
// (before the database is dropped).
func openPostgres(t testing.TB) *Store {
	t.Helper()
	dsn := freshDatabase(t)
	s, err := OpenPostgres(context.Background(), dsn)
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

func TestPostgresContract(t *testing.T) {
	pgServer(t)
	metatest.Run(t, func(t *testing.T) meta.Store { return openPostgres(t) })
}

// TestPostgresSchema checks what the contract cannot see: the column types
// PostgreSQL got and the isolation of the store's transactions.
func TestPostgresSchema(t *testing.T) {
	s := openPostgres(t)
	ctx := t.Context()
	for _, tc := range []struct{ table, column, typ, collation string }{
		{"repositories", "id", "bigint", ""},
		{"repositories", "name", "text", "C"},
		{"repositories", "scan_on_push", "boolean", ""},
		{"tags", "name", "text", "C"},
		{"tags", "digest", "text", "C"},
		{"manifests", "digest", "text", "C"},
		{"manifests", "content", "bytea", ""},
		{"uploads", "hash_state", "bytea", ""},
		{"tag_events", "id", "bigint", ""},
		{"creation_templates", "prefix", "text", "C"},
	} {
		var typ string
		var coll sql.NullString
		err := s.r.QueryRowContext(ctx, `SELECT data_type, collation_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`, tc.table, tc.column).Scan(&typ, &coll)
		if err != nil {
			t.Fatalf("%s.%s: %v", tc.table, tc.column, err)
		}
		if typ != tc.typ || coll.String != tc.collation {
			t.Errorf("%s.%s: %s collate %q, want %s collate %q", tc.table, tc.column, typ, coll.String, tc.typ, tc.collation)
		}
	}
	var identity string
	if err := s.r.QueryRowContext(ctx, `SELECT is_identity FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'repositories' AND column_name = 'id'`).Scan(&identity); err != nil {
		t.Fatal(err)
	}
	if identity != "YES" {
		t.Errorf("repositories.id is not an identity column")
	}
	var level string
	err := s.write(ctx, "isolation", func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SHOW transaction_isolation`).Scan(&level)
	})
	if err != nil || level != "serializable" {
		t.Errorf("write transactions run %q (%v), want serializable", level, err)
	}
	err = s.read(ctx, "isolation", func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SHOW transaction_isolation`).Scan(&level)
	})
	if err != nil || level != "repeatable read" {
		t.Errorf("read transactions run %q (%v), want repeatable read", level, err)
	}
}

// TestPostgresMigrations: nodes starting together on an empty database
// migrate it once; a reopened database keeps its data and migration rows;
// a database migrated by a newer binary is refused.
func TestPostgresMigrations(t *testing.T) {
	dsn := freshDatabase(t)
	ctx := t.Context()
	const nodes = 4
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(ctx, dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	ms, err := loadMigrations()
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
	first := applied(stores[0])
	if got := strings.Count(first, "\n"); got != len(ms) {
		t.Fatalf("%d migrations recorded, want %d:\n%s", got, len(ms), first)
	}
	r, err := stores[1].CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	s, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if again := applied(s); again != first {
		t.Fatalf("migrations re-applied:\nbefore %s\nafter %s", first, again)
	}
	if got, err := s.GetRepository(ctx, "123456789012", "app"); err != nil || got.ID != r.ID {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenPostgres(ctx, dsn); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer schema: %v", err)
	}
}

func BenchmarkPostgresResolveTag(b *testing.B) {
	s, repoID, tags, _ := fillBench(b, openPostgres(b))
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if _, err := s.ResolveTag(ctx, repoID, tags[i%len(tags)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkPostgresResolveTagParallel(b *testing.B) {
	s, repoID, tags, _ := fillBench(b, openPostgres(b))
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

func BenchmarkPostgresGetManifest(b *testing.B) {
	s, repoID, _, digests := fillBench(b, openPostgres(b))
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if _, err := s.GetManifest(ctx, repoID, digests[i%len(digests)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPostgresPutManifest is the write path: one serializable
// transaction per tagged push (links checked, manifest, refs, tag, event).
func BenchmarkPostgresPutManifest(b *testing.B) {
	s := openPostgres(b)
	ctx := b.Context()
	r, err := s.CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	layer := fmt.Sprintf("sha256:%064x", 1)
	if err := s.LinkBlob(ctx, r.ID, meta.Blob{Digest: layer, Size: 1}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		content := []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i))
		err := s.PutManifest(ctx, meta.PutManifest{
			Manifest: meta.Manifest{RepoID: r.ID, Digest: fmt.Sprintf("sha256:%064x", i+2), MediaType: "application/vnd.oci.image.manifest.v1+json",
				Size: int64(len(content)), Content: content},
			Refs: meta.Refs{Blobs: []string{layer}},
			Tag:  fmt.Sprintf("v%d", i%10),
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}
