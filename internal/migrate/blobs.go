package migrate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/blob"
)

// uploadPrefix starts the ids of the destination uploads a migration
// writes blobs through; a run removes those an interrupted run left.
const uploadPrefix = "wharf-migrate-"

// sourceError marks a problem of one source item (a blob missing from the
// source store or not matching its digest): it is reported and the
// migration goes on with the rest. Every other error stops it.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func sourceErrorf(format string, args ...any) error {
	return &sourceError{fmt.Errorf(format, args...)}
}

func newHash(digest string) (hash.Hash, error) {
	alg, _, err := blob.CheckDigest(digest)
	if err != nil {
		return nil, err
	}
	switch alg {
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported digest algorithm %q", alg)
}

func digestOf(h hash.Hash, digest string) string {
	alg, _, _ := strings.Cut(digest, ":")
	return alg + ":" + hex.EncodeToString(h.Sum(nil))
}

// blobCopier copies blobs once per run, whichever repositories link them.
type blobCopier struct {
	c    *Copier
	rep  *Report
	mu   sync.Mutex
	done map[string]error // digest -> outcome (nil: on the destination, verified)
}

// ensure makes the blobs (digest -> size) present and verified on the
// destination, running up to Options.Workers copies at once. It returns
// the outcome per digest: nil, or a *sourceError for a source problem; any
// other error stops it and is returned.
func (b *blobCopier) ensure(ctx context.Context, blobs []blobRef) (map[string]error, error) {
	out := make(map[string]error, len(blobs))
	var todo []blobRef
	b.mu.Lock()
	for _, r := range blobs {
		if err, ok := b.done[r.digest]; ok {
			out[r.digest] = err
			continue
		}
		if _, dup := out[r.digest]; dup {
			continue
		}
		out[r.digest] = nil // placeholder, so a repeated digest is queued once
		todo = append(todo, r)
	}
	b.mu.Unlock()
	if len(todo) == 0 {
		return out, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan blobRef)
	type result struct {
		digest string
		err    error
	}
	results := make(chan result, len(todo))
	workers := min(b.c.Options.workers(), len(todo))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for r := range work {
				results <- result{r.digest, b.copyOne(ctx, r)}
			}
		})
	}
	go func() {
		defer close(work)
		for _, r := range todo {
			select {
			case work <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	var fatal error
	for res := range results {
		var se *sourceError
		switch {
		case res.err == nil || errors.As(res.err, &se):
			out[res.digest] = res.err
			b.mu.Lock()
			b.done[res.digest] = res.err
			b.mu.Unlock()
			if res.err != nil {
				b.rep.fail("blob %s: %v", res.digest, res.err)
			}
		case fatal == nil:
			fatal = res.err
			cancel()
		}
	}
	if fatal == nil {
		fatal = ctx.Err()
	}
	if fatal != nil {
		return nil, fatal
	}
	return out, nil
}

type blobRef struct {
	digest string
	size   int64 // from the source metadata
}

// copyOne makes one blob present and verified on the destination.
func (b *blobCopier) copyOne(ctx context.Context, r blobRef) error {
	c := b.c
	err := b.place(ctx, r)
	if err == nil && c.Options.OnBlob != nil {
		c.Options.OnBlob(r.digest)
	}
	return err
}

func (b *blobCopier) place(ctx context.Context, r blobRef) error {
	c := b.c
	size, err := c.DstBlobs.Stat(ctx, r.digest)
	switch {
	case err == nil && size == r.size:
		if c.Options.TrustExisting {
			b.rep.skipped(KindBlobs, 1)
			return nil
		}
		verr := b.verify(ctx, r)
		if verr == nil {
			b.rep.skipped(KindBlobs, 1)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log().Warn("blob on the destination does not match its digest; copying it again", "digest", r.digest, "err", verr)
		fallthrough
	case err == nil:
		// Wrong size or content: an earlier copy went wrong. Commit
		// would keep the existing object, so delete it first.
		if err := c.DstBlobs.Delete(ctx, r.digest); err != nil {
			return fmt.Errorf("deleting damaged blob %s on the destination: %w", r.digest, err)
		}
		b.rep.add(func(r *Report) { r.BlobsReplaced++ })
	case !errors.Is(err, blob.ErrNotFound):
		return fmt.Errorf("destination: stat blob %s: %w", r.digest, err)
	}
	if err := b.copy(ctx, r); err != nil {
		return err
	}
	if err := b.verify(ctx, r); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("blob %s copied but the destination returns other bytes: %w", r.digest, err)
	}
	return nil
}

// copy streams the blob from the source into a destination upload,
// hashing it on the way: bytes that do not match the digest are never
// committed.
func (b *blobCopier) copy(ctx context.Context, r blobRef) (err error) {
	c := b.c
	h, err := newHash(r.digest)
	if err != nil {
		return sourceErrorf("%v", err)
	}
	src, size, err := c.SrcBlobs.Open(ctx, r.digest)
	if errors.Is(err, blob.ErrNotFound) {
		return sourceErrorf("missing from the source blob store")
	}
	if err != nil {
		return fmt.Errorf("source: open blob %s: %w", r.digest, err)
	}
	defer src.Close()
	if size != r.size {
		return sourceErrorf("source blob store holds %d bytes, metadata says %d", size, r.size)
	}

	id := newUploadID()
	defer func() {
		// Whatever happened, the upload goes: its data is in the blob
		// now, or useless. Not bound to ctx, which may be cancelled.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if aerr := c.DstBlobs.Abort(actx, id); aerr != nil && err == nil {
			err = fmt.Errorf("destination: removing upload %s: %w", id, aerr)
		}
	}()
	sr := &sourceReader{r: src}
	n, err := c.DstBlobs.Append(ctx, id, 0, io.TeeReader(sr, h))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if sr.err != nil {
			return sourceErrorf("reading the source: %v", sr.err)
		}
		return fmt.Errorf("destination: write blob %s: %w", r.digest, err)
	}
	if n != r.size {
		return sourceErrorf("source blob store returned %d bytes, want %d", n, r.size)
	}
	if got := digestOf(h, r.digest); got != r.digest {
		return sourceErrorf("source blob content hashes to %s: corrupt, not copied", got)
	}
	if err := c.DstBlobs.Commit(ctx, id, r.digest); err != nil {
		return fmt.Errorf("destination: commit blob %s: %w", r.digest, err)
	}
	b.rep.add(func(rep *Report) {
		rep.Counts[KindBlobs].Copied++
		rep.BytesCopied += n
	})
	c.log().Debug("blob copied", "digest", r.digest, "bytes", n)
	return nil
}

// sourceReader remembers a read error of the source, so that it can be
// told from a failure of the destination when Append fails.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// verify reads the blob back from the destination and hashes it.
func (b *blobCopier) verify(ctx context.Context, r blobRef) error {
	h, err := newHash(r.digest)
	if err != nil {
		return err
	}
	rd, size, err := b.c.DstBlobs.Open(ctx, r.digest)
	if err != nil {
		return fmt.Errorf("destination: open blob: %w", err)
	}
	defer rd.Close()
	if size != r.size {
		return fmt.Errorf("destination holds %d bytes, want %d", size, r.size)
	}
	n, err := io.Copy(h, rd)
	if err != nil {
		return fmt.Errorf("destination: read blob: %w", err)
	}
	if n != r.size {
		return fmt.Errorf("destination returned %d bytes, want %d", n, r.size)
	}
	if got := digestOf(h, r.digest); got != r.digest {
		return fmt.Errorf("destination content hashes to %s", got)
	}
	b.rep.add(func(rep *Report) {
		rep.BlobsVerified++
		rep.BytesVerified += n
	})
	return nil
}

func newUploadID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return uploadPrefix + hex.EncodeToString(b[:])
}

// removeStaleUploads aborts the destination uploads an interrupted run
// left behind (killed before it could abort them).
func (c *Copier) removeStaleUploads(ctx context.Context, rep *Report) error {
	ids, err := c.DstBlobs.ListUploads(ctx)
	if err != nil {
		return fmt.Errorf("destination: list uploads: %w", err)
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, uploadPrefix) {
			continue
		}
		if err := c.DstBlobs.Abort(ctx, id); err != nil {
			return fmt.Errorf("destination: remove stale upload %s: %w", id, err)
		}
		rep.add(func(r *Report) { r.StaleUploads++ })
	}
	return nil
}
