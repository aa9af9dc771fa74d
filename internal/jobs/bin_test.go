package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/wharfhq/wharf/internal/store/meta"
)

type fakePurger struct {
	n     int64
	err   error
	calls int
}

func (f *fakePurger) PurgeBin(context.Context) (int64, error) { f.calls++; return f.n, f.err }

func TestBinPurgeHandler(t *testing.T) {
	ok := &fakePurger{n: 3}
	if err := BinPurgeHandler(ok, nil)(context.Background(), meta.Job{ID: 1}); err != nil || ok.calls != 1 {
		t.Fatalf("purge: %v after %d calls", err, ok.calls)
	}
	// A failure fails the job, so the queue retries it.
	boom := errors.New("store down")
	if err := BinPurgeHandler(&fakePurger{err: boom}, nil)(context.Background(), meta.Job{ID: 2}); !errors.Is(err, boom) {
		t.Fatalf("failure: %v", err)
	}
}
