package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// OpenSQLite opens (creating it and its directory if needed) the SQLite
// database at path and applies pending migrations.
//
// Two pools share the file:
//   - a writer with a single connection whose transactions start with
//     BEGIN IMMEDIATE, so the write lock is taken up front and a read
//     transaction never has to be upgraded (the SQLITE_BUSY upgrade deadlock
//     cannot happen); writers of this process queue on the pool instead;
//   - readers (query_only) for single-statement reads, which WAL lets run
//     alongside the writer.
//
// Every connection uses WAL, busy_timeout=10s, foreign_keys=ON and
// synchronous=NORMAL. With WAL, synchronous=NORMAL keeps the database
// consistent on any crash and loses no committed transaction when the
// process crashes (the WAL pages are in the OS page cache); an OS crash or
// power loss may roll back the last transactions committed since the last
// checkpoint's fsync, but cannot corrupt the file.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	return OpenSQLiteWith(ctx, path, SQLiteOptions{})
}

// SQLiteOptions tune the SQLite store.
type SQLiteOptions struct {
	// FullSync uses synchronous=FULL: every commit is fsynced, so it
	// survives a power loss too.
	FullSync bool
}

// OpenSQLiteWith is OpenSQLite with options.
func OpenSQLiteWith(ctx context.Context, path string, opts SQLiteOptions) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlstore: empty sqlite path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}

	w, err := sql.Open("sqlite", sqliteDSN(abs, true, opts.FullSync))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The first connection creates the file and switches it to WAL (the
	// journal mode is persistent), before any reader connects.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", abs, err)
	}

	r, err := sql.Open("sqlite", sqliteDSN(abs, false, opts.FullSync))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)

	s, err := New(ctx, SQLite, w, r)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return s, nil
}

// sqliteDSN builds the modernc.org/sqlite DSN of the file at abs. Pragmas
// run in order on every new connection.
func sqliteDSN(abs string, writer, fullSync bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	if fullSync {
		q.Add("_pragma", "synchronous(FULL)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	q.Add("_pragma", "foreign_keys(1)")
	if !writer {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()
}
