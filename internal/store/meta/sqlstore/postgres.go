package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenPostgres connects to the PostgreSQL database at url (a
// postgres://user:password@host:port/dbname?sslmode=... URL or a libpq
// key=value string) through pgx's database/sql driver and applies pending
// migrations. Several processes may open the same database at once: they
// migrate one after the other.
//
// One pool serves reads and writes. Write transactions run SERIALIZABLE
// and are retried on serialization failures and deadlocks; multi-statement
// reads run REPEATABLE READ, READ ONLY (one snapshot). Text columns that are
// ordered or compared (names, tags) are COLLATE "C", so listings are in byte
// order whatever the database's locale.
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	return OpenPostgresWith(ctx, url, PostgresOptions{})
}

// PostgresOptions tune the PostgreSQL pool. Zero values take the defaults.
type PostgresOptions struct {
	// MaxConns bounds the pool's open connections (default
	// 4 × GOMAXPROCS, at least 8). Every node of a deployment has its own
	// pool: N nodes need N × MaxConns below the server's max_connections
	// (100 by default).
	MaxConns int
	// MaxIdleConns is how many idle connections are kept (default
	// MaxConns).
	MaxIdleConns int
	// ConnMaxLifetime recycles connections (default 30 minutes), so that a
	// failover or a load balancer in front of the server is followed.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes connections idle that long (default 5
	// minutes).
	ConnMaxIdleTime time.Duration
}

// OpenPostgresWith is OpenPostgres with options.
func OpenPostgresWith(ctx context.Context, url string, opts PostgresOptions) (*Store, error) {
	if url == "" {
		return nil, errors.New("sqlstore: empty postgres url")
	}
	// pgx's parse errors redact the password.
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres: %w", err)
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "wharf"
	}

	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = max(8, 4*runtime.GOMAXPROCS(0))
	}
	// Migrations hold one connection (the advisory lock) while working on
	// it; two leave room for the rest of the process.
	maxConns = max(maxConns, 2)
	idle := opts.MaxIdleConns
	if idle <= 0 || idle > maxConns {
		idle = maxConns
	}
	lifetime := opts.ConnMaxLifetime
	if lifetime <= 0 {
		lifetime = 30 * time.Minute
	}
	idleTime := opts.ConnMaxIdleTime
	if idleTime <= 0 {
		idleTime = 5 * time.Minute
	}

	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(idle)
	db.SetConnMaxLifetime(lifetime)
	db.SetConnMaxIdleTime(idleTime)
	where := fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: postgres %s: %w", where, err)
	}
	s, err := New(ctx, Postgres, db, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (postgres %s)", err, where)
	}
	return s, nil
}
