package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// GC races under load, on both engines: many pairs at once rather than the
// contract's one pair per round, so that PostgreSQL's serialization
// failures and retries actually happen. (Run against PostgreSQL without
// SERIALIZABLE, both fail within a few runs.)

func engines(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openTemp(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres(t)) })
}

// TestLinkVsMarkStress races LinkBlob against MarkBlobDeleting (the GC
// re-check) on many unlinked blobs at once: each ends up either linked and
// live, or marked deleting with the link refused, never both.
func TestLinkVsMarkStress(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		r, err := s.CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: "app"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 64
		digests := make([]string, n)
		for i := range digests {
			digests[i] = fmt.Sprintf("sha256:%064x", i)
			if err := s.LinkBlob(ctx, r.ID, meta.Blob{Digest: digests[i], Size: 1}); err != nil {
				t.Fatal(err)
			}
			if err := s.UnlinkBlob(ctx, r.ID, digests[i]); err != nil {
				t.Fatal(err)
			}
		}
		linkErrs, markErrs := make([]error, n), make([]error, n)
		marked := make([]bool, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, d := range digests {
			wg.Go(func() { <-start; linkErrs[i] = s.LinkBlob(ctx, r.ID, meta.Blob{Digest: d, Size: 1}) })
			wg.Go(func() { <-start; marked[i], markErrs[i] = s.MarkBlobDeleting(ctx, d, time.Now().Add(time.Hour)) })
		}
		close(start)
		wg.Wait()
		var nMarked int
		for i, d := range digests {
			if markErrs[i] != nil {
				t.Fatalf("blob %d: mark: %v", i, markErrs[i])
			}
			_, getErr := s.GetBlob(ctx, r.ID, d)
			switch {
			case marked[i] && linkErrs[i] == nil:
				t.Fatalf("blob %d: both linked and marked deleting", i)
			case marked[i]:
				nMarked++
				if !errors.Is(linkErrs[i], meta.ErrBlobDeleting) {
					t.Fatalf("blob %d: link after mark: %v", i, linkErrs[i])
				}
				if !errors.Is(getErr, meta.ErrNotFound) {
					t.Fatalf("blob %d: marked but readable: %v", i, getErr)
				}
			default:
				if linkErrs[i] != nil || getErr != nil {
					t.Fatalf("blob %d: kept but link %v, get %v", i, linkErrs[i], getErr)
				}
			}
		}
		t.Logf("%d of %d blobs marked deleting first, %d linked first", nMarked, n, n-nMarked)
	})
}

// jitter spreads the racers over a few milliseconds, so that both sides
// win some of the races.
func jitter() { time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond) }

// TestPutManifestVsGCStress races pushes of manifests against garbage
// collection of their blobs: a manifest that was written never references
// a blob marked deleting, and a push that lost the race fails with
// meta.ErrBlobsMissing. The link goes away either through a GC pass
// (UnlinkStale, global) or through a client's blob DELETE (UnlinkBlob, per
// blob), each followed by MarkBlobDeleting.
func TestPutManifestVsGCStress(t *testing.T) {
	for _, unlink := range []struct {
		name string
		fn   func(s *Store, ctx context.Context, repoID int64, digest string, cutoff time.Time) error
	}{
		{"UnlinkStale", func(s *Store, ctx context.Context, _ int64, _ string, cutoff time.Time) error {
			_, err := s.UnlinkStale(ctx, cutoff)
			return err
		}},
		{"UnlinkBlob", func(s *Store, ctx context.Context, repoID int64, digest string, _ time.Time) error {
			err := s.UnlinkBlob(ctx, repoID, digest)
			if errors.Is(err, meta.ErrNotFound) {
				return nil
			}
			return err
		}},
	} {
		t.Run(unlink.name, func(t *testing.T) {
			engines(t, func(t *testing.T, s *Store) { putVsGC(t, s, unlink.fn) })
		})
	}
}

func putVsGC(t *testing.T, s *Store, unlink func(s *Store, ctx context.Context, repoID int64, digest string, cutoff time.Time) error) {
	ctx := t.Context()
	r, err := s.CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 32
	blobs := make([]string, n)
	ms := make([]meta.Manifest, n)
	for i := range n {
		blobs[i] = fmt.Sprintf("sha256:%064x", i)
		if err := s.LinkBlob(ctx, r.ID, meta.Blob{Digest: blobs[i], Size: 1}); err != nil {
			t.Fatal(err)
		}
		content := []byte(fmt.Sprintf(`{"n":%d}`, i))
		ms[i] = meta.Manifest{RepoID: r.ID, Digest: fmt.Sprintf("sha256:%064x", 1000+i), MediaType: "x",
			Size: int64(len(content)), Content: content}
	}
	putErrs, gcErrs := make([]error, n), make([]error, n)
	marked := make([]bool, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			jitter()
			putErrs[i] = s.PutManifest(ctx, meta.PutManifest{Manifest: ms[i], Refs: meta.Refs{Blobs: []string{blobs[i]}}})
		})
		wg.Go(func() {
			<-start
			jitter()
			cutoff := time.Now().Add(time.Hour)
			if gcErrs[i] = unlink(s, ctx, r.ID, blobs[i], cutoff); gcErrs[i] != nil {
				return
			}
			marked[i], gcErrs[i] = s.MarkBlobDeleting(ctx, blobs[i], cutoff)
		})
	}
	close(start)
	wg.Wait()
	var pushed int
	for i := range n {
		if gcErrs[i] != nil {
			t.Fatalf("pair %d: gc: %v", i, gcErrs[i])
		}
		switch {
		case putErrs[i] == nil:
			pushed++
			if marked[i] {
				t.Fatalf("pair %d: manifest written and its blob marked deleting", i)
			}
			if _, err := s.StatBlob(ctx, blobs[i]); err != nil {
				t.Fatalf("pair %d: blob of a written manifest: %v", i, err)
			}
		case errors.Is(putErrs[i], meta.ErrBlobsMissing):
			if _, err := s.GetManifest(ctx, r.ID, ms[i].Digest); !errors.Is(err, meta.ErrNotFound) {
				t.Fatalf("pair %d: failed push left a manifest: %v", i, err)
			}
		default:
			t.Fatalf("pair %d: push: %v", i, putErrs[i])
		}
	}
	t.Logf("%d of %d pushes won against GC", pushed, n)
}

// TestBinVsGCStress races the recycle bin against garbage collection of
// the blobs its images reference, on both engines:
//   - deleting into the bin and restoring, against a blob DELETE and the
//     GC re-check: an image is live or binned throughout, so its blob is
//     never marked deleting;
//   - restoring an image against purging it and collecting its blob: a
//     restored image never references a blob marked deleting.
func TestBinVsGCStress(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		const n = 24
		expires := time.Now().Add(time.Hour)
		setup := func(name string, binned bool) (meta.Repository, []string, []meta.Manifest) {
			r, err := s.CreateRepository(ctx, meta.Repository{AccountID: "123456789012", Name: name})
			if err != nil {
				t.Fatal(err)
			}
			blobs := make([]string, n)
			ms := make([]meta.Manifest, n)
			for i := range n {
				blobs[i] = fmt.Sprintf("sha256:%s%060x", name[:4], i)
				if err := s.LinkBlob(ctx, r.ID, meta.Blob{Digest: blobs[i], Size: 1}); err != nil {
					t.Fatal(err)
				}
				content := []byte(fmt.Sprintf(`{"n":%d}`, i))
				ms[i] = meta.Manifest{RepoID: r.ID, Digest: fmt.Sprintf("sha256:%s%060x", name[:4], 1000+i), MediaType: "x",
					Size: int64(len(content)), Content: content}
				if err := s.PutManifest(ctx, meta.PutManifest{Manifest: ms[i], Refs: meta.Refs{Blobs: blobs[i : i+1]}, Tag: fmt.Sprintf("t%d", i)}); err != nil {
					t.Fatal(err)
				}
				if binned {
					if _, err := s.DeleteImage(ctx, meta.ImageDelete{RepoID: r.ID, Digest: ms[i].Digest, BinUntil: expires}); err != nil {
						t.Fatal(err)
					}
				}
			}
			return r, blobs, ms
		}

		t.Run("bin and restore vs collect", func(t *testing.T) {
			r, blobs, ms := setup("aaaa", false)
			binErrs, gcErrs := make([]error, n), make([]error, n)
			marked := make([]bool, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					jitter()
					if _, binErrs[i] = s.DeleteImage(ctx, meta.ImageDelete{RepoID: r.ID, Digest: ms[i].Digest, BinUntil: expires}); binErrs[i] != nil {
						return
					}
					jitter()
					_, err := s.RestoreImages(ctx, r.ID, []meta.ImageRestore{{Digest: ms[i].Digest, Refs: meta.Refs{Blobs: blobs[i : i+1]}}}, time.Now(), "", "")
					if err != nil && !errors.Is(err, meta.ErrBlobsMissing) {
						binErrs[i] = err // lost its link to the blob DELETE: stays binned
					}
				})
				wg.Go(func() {
					<-start
					jitter()
					if err := s.UnlinkBlob(ctx, r.ID, blobs[i]); err != nil && !errors.Is(err, meta.ErrNotFound) {
						gcErrs[i] = err
						return
					}
					marked[i], gcErrs[i] = s.MarkBlobDeleting(ctx, blobs[i], time.Now().Add(time.Hour))
				})
			}
			close(start)
			wg.Wait()
			for i := range n {
				if binErrs[i] != nil || gcErrs[i] != nil {
					t.Fatalf("pair %d: bin %v, gc %v", i, binErrs[i], gcErrs[i])
				}
				if marked[i] {
					t.Fatalf("pair %d: the blob of a live or binned image was marked deleting", i)
				}
				if _, err := s.StatBlob(ctx, blobs[i]); err != nil {
					t.Fatalf("pair %d: blob: %v", i, err)
				}
			}
		})

		t.Run("restore vs purge and collect", func(t *testing.T) {
			r, blobs, ms := setup("bbbb", true)
			restoreErrs, gcErrs := make([]error, n), make([]error, n)
			marked := make([]bool, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					jitter()
					_, restoreErrs[i] = s.RestoreImages(ctx, r.ID, []meta.ImageRestore{{Digest: ms[i].Digest, Refs: meta.Refs{Blobs: blobs[i : i+1]}}}, time.Now(), "", "")
				})
				wg.Go(func() {
					<-start
					jitter()
					// The purge job and a GC pass, as they run on a node.
					if _, gcErrs[i] = s.PurgeBin(ctx, expires, 1); gcErrs[i] != nil {
						return
					}
					if _, gcErrs[i] = s.UnlinkStale(ctx, time.Now().Add(time.Hour)); gcErrs[i] != nil {
						return
					}
					marked[i], gcErrs[i] = s.MarkBlobDeleting(ctx, blobs[i], time.Now().Add(time.Hour))
				})
			}
			close(start)
			wg.Wait()
			var restored int
			for i := range n {
				if gcErrs[i] != nil {
					t.Fatalf("pair %d: gc: %v", i, gcErrs[i])
				}
				_, getErr := s.GetManifest(ctx, r.ID, ms[i].Digest)
				switch {
				case restoreErrs[i] == nil:
					restored++
					if getErr != nil {
						t.Fatalf("pair %d: restored but %v", i, getErr)
					}
				case errors.Is(restoreErrs[i], meta.ErrNotFound), errors.Is(restoreErrs[i], meta.ErrBlobsMissing):
					if !errors.Is(getErr, meta.ErrNotFound) {
						t.Fatalf("pair %d: failed restore left a manifest: %v", i, getErr)
					}
				default:
					t.Fatalf("pair %d: restore: %v", i, restoreErrs[i])
				}
			}
			// Whatever the interleaving, no live manifest references a blob
			// marked deleting.
			for i := range n {
				if _, err := s.GetManifest(ctx, r.ID, ms[i].Digest); err == nil {
					if _, err := s.StatBlob(ctx, blobs[i]); err != nil {
						t.Fatalf("pair %d: live manifest, blob %v (marked %v)", i, err, marked[i])
					}
				}
			}
			t.Logf("%d of %d restores won against the purge", restored, n)
		})
	})
}
