package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/wharfhq/wharf/internal/gc"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

// engines opens, per engine, two stores on one database: two nodes.
var engines = []struct {
	name string
	open func(t *testing.T) (meta.Store, meta.Store)
}{
	{"sqlite", func(t *testing.T) (meta.Store, meta.Store) {
		path := filepath.Join(t.TempDir(), "meta.db")
		return openStore(t, func() (*sqlstore.Store, error) { return sqlstore.OpenSQLite(context.Background(), path) }),
			openStore(t, func() (*sqlstore.Store, error) { return sqlstore.OpenSQLite(context.Background(), path) })
	}},
	{"postgres", func(t *testing.T) (meta.Store, meta.Store) {
		dsn := freshPostgres(t)
		return openStore(t, func() (*sqlstore.Store, error) { return sqlstore.OpenPostgres(context.Background(), dsn) }),
			openStore(t, func() (*sqlstore.Store, error) { return sqlstore.OpenPostgres(context.Background(), dsn) })
	}},
}

func openStore(t *testing.T, open func() (*sqlstore.Store, error)) meta.Store {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// freshPostgres creates a database on the server of WHARF_TEST_POSTGRES_URL
// (skipping without it), dropped when the test ends.
func freshPostgres(t *testing.T) string {
	t.Helper()
	server := os.Getenv("WHARF_TEST_POSTGRES_URL")
	if server == "" {
		t.Skip("WHARF_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
	}
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		t.Fatal(err)
	}
	admin := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "wharf_jobs_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(t.Context(), `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestGCOncePerInterval runs two nodes (runner and scheduler each) on one
// store with a short GC interval: the GC job runs once per interval bucket.
func TestGCOncePerInterval(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s1, s2 := e.open(t)
			blobs, err := fs.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			const interval = 250 * time.Millisecond
			var mu sync.Mutex
			runs := map[string][]string{} // key -> workers
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			for i, s := range []meta.Store{s1, s2} {
				worker := fmt.Sprintf("node%d", i)
				h := GCHandler(&gc.Collector{Meta: s, Blobs: blobs, Grace: time.Hour, UploadTTL: time.Hour}, nil)
				r := &Runner{Store: s, Worker: worker, Poll: 10 * time.Millisecond, Lease: 5 * time.Second}
				r.Handle(KindGC, func(ctx context.Context, j meta.Job) error {
					mu.Lock()
					runs[j.Key] = append(runs[j.Key], worker)
					mu.Unlock()
					return h(ctx, j)
				})
				sc := &Scheduler{Store: s, Jobs: []Periodic{{Kind: KindGC, Interval: interval}}, Poll: 5 * time.Millisecond}
				wg.Go(func() { r.Run(ctx) })
				wg.Go(func() { sc.Run(ctx) })
			}
			time.Sleep(8*interval + interval/2)
			cancel()
			wg.Wait()

			mu.Lock()
			defer mu.Unlock()
			if len(runs) < 5 {
				t.Fatalf("%d GC runs in 8 intervals: %v", len(runs), runs)
			}
			for key, workers := range runs {
				if len(workers) != 1 {
					t.Errorf("bucket %s ran %d times: %v", key, len(workers), workers)
				}
			}
			t.Logf("runs: %v", runs)
		})
	}
}

// TestFailedJobRetried checks that a failing job is retried with backoff
// until it succeeds, and that another node may take it over.
func TestFailedJobRetried(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s1, s2 := e.open(t)
			if _, _, err := s1.Enqueue(t.Context(), meta.Job{Kind: "flaky", Key: "flaky:1"}); err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			var attempts sync.Map
			done := make(chan struct{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var wg sync.WaitGroup
			for i, s := range []meta.Store{s1, s2} {
				r := &Runner{Store: s, Worker: fmt.Sprintf("node%d", i), Poll: 10 * time.Millisecond,
					Backoff: func(n int) time.Duration { return time.Duration(n) * 20 * time.Millisecond }}
				r.Handle("flaky", func(ctx context.Context, j meta.Job) error {
					n := calls.Add(1)
					attempts.Store(n, j.Attempts)
					if n < 3 {
						return errors.New("transient")
					}
					close(done)
					return nil
				})
				wg.Go(func() { r.Run(ctx) })
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("job not retried to success")
			}
			// Let the runner complete it.
			deadline := time.Now().Add(5 * time.Second)
			for {
				js, err := s1.ListJobs(t.Context(), "")
				if err != nil {
					t.Fatal(err)
				}
				if len(js) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("job not completed: %+v", js)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			if n := calls.Load(); n != 3 {
				t.Fatalf("handler called %d times, want 3", n)
			}
			for n := int32(1); n <= 3; n++ {
				if a, _ := attempts.Load(n); a != int(n-1) {
					t.Errorf("call %d saw attempts %v, want %d", n, a, n-1)
				}
			}
		})
	}
}

// TestPanicFailsJob checks that a panicking handler fails its job.
func TestPanicFailsJob(t *testing.T) {
	s, _ := engines[0].open(t)
	if _, _, err := s.Enqueue(t.Context(), meta.Job{Kind: "bad"}); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Store: s, Backoff: func(int) time.Duration { return time.Hour }}
	r.Handle("bad", func(context.Context, meta.Job) error { panic("boom") })
	ran, err := r.RunOnce(t.Context(), []string{"bad"})
	if err != nil || !ran {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	js, err := s.ListJobs(t.Context(), "bad")
	if err != nil || len(js) != 1 || js[0].Attempts != 1 || js[0].LastError != "panic: boom" {
		t.Fatalf("after panic: %+v, %v", js, err)
	}
}

func TestKeyAndBackoff(t *testing.T) {
	at := time.Unix(3600*5+10, 0)
	if k := Key("gc", time.Hour, at); k != "gc:5" {
		t.Fatalf("key %q", k)
	}
	if d := DefaultBackoff(1); d != time.Second {
		t.Fatalf("backoff(1) = %v", d)
	}
	if d := DefaultBackoff(50); d != time.Hour {
		t.Fatalf("backoff(50) = %v", d)
	}
}
