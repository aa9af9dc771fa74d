package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/wharfhq/wharf/internal/store/blob"
)

// state is the persisted state of an upload (uploads/<id>/state.json).
// Its bytes, in order, are the parts of the multipart upload, then the tail
// segments; or, once Sealed, the completed data object.
//
// Three shapes:
//   - small: no Data; all bytes are tail segments (fewer than a part).
//   - multipart: Data and MPU set; Parts (full parts) then Tail.
//   - sealed: Data set, Sealed; the data object holds all Size bytes.
type state struct {
	Version int       `json:"v"`
	Size    int64     `json:"size"`
	Data    string    `json:"data,omitempty"` // data directory, "<id>.<rand>"
	MPU     string    `json:"mpu,omitempty"`  // multipart upload id of the data object
	Sealed  bool      `json:"sealed,omitempty"`
	Parts   []part    `json:"parts,omitempty"`
	Tail    []segment `json:"tail,omitempty"`

	// etag is the ETag of the state object this state was read from or
	// saved as; "" for an upload not yet saved.
	etag string
}

type part struct {
	N    int32  `json:"n"`
	Size int64  `json:"size"`
	ETag string `json:"etag"`
}

type segment struct {
	Name string `json:"name"` // dat-<rand> (data/<id>.<rand>/data) or seg-<rand> (uploads/<id>/)
	Size int64  `json:"size"`
}

// names reports whether st references data directory dir of upload id, as
// its data object or as a tail segment.
func (st *state) names(id, dir string) bool {
	if st.Data == dir {
		return true
	}
	for _, sg := range st.Tail {
		if d, ok := segDataDir(id, sg.Name); ok && d == dir {
			return true
		}
	}
	return false
}

const stateVersion = 1

// errCorrupt marks a state object that cannot be used; Abort still removes
// the upload.
var errCorrupt = errors.New("corrupt upload state")

func (st *state) partsSize() int64 {
	var n int64
	for _, p := range st.Parts {
		n += p.Size
	}
	return n
}

func (st *state) tailSize() int64 {
	var n int64
	for _, sg := range st.Tail {
		n += sg.Size
	}
	return n
}

func (st *state) clone() *state {
	c := *st
	c.Parts = slices.Clone(st.Parts)
	c.Tail = slices.Clone(st.Tail)
	return &c
}

// check validates a state read from the bucket, so that no name in it can
// point outside the upload's own objects.
func (st *state) check(id string) error {
	bad := func(what string) error { return fmt.Errorf("s3: upload %s: %w: %s", id, errCorrupt, what) }
	if st.Version != stateVersion {
		return bad("version " + strconv.Itoa(st.Version))
	}
	if st.Data != "" {
		if owner, ok := dataDirOwner(st.Data); !ok || owner != id {
			return bad("data directory")
		}
	}
	switch {
	case st.Sealed:
		if st.Data == "" || st.MPU != "" || len(st.Parts) > 0 || len(st.Tail) > 0 || st.Size <= 0 {
			return bad("sealed upload with parts")
		}
		return nil
	case st.Data == "":
		if st.MPU != "" || len(st.Parts) > 0 {
			return bad("parts without a data object")
		}
	case st.MPU == "":
		return bad("data object without a multipart upload")
	}
	last := int32(0)
	for _, p := range st.Parts {
		if p.N <= last || p.N > maxParts || p.Size < MinPartSize || p.ETag == "" {
			return bad("part list")
		}
		last = p.N
	}
	for _, sg := range st.Tail {
		if !isSegName(sg.Name) || sg.Size <= 0 {
			return bad("tail segment")
		}
	}
	if st.tailSize() >= MaxPartSize || st.Size != st.partsSize()+st.tailSize() {
		return bad("sizes")
	}
	return nil
}

func (s *Store) loadState(ctx context.Context, id string) (*state, error) {
	key := s.stateKey(id)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, wrap(err, "get", key)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("s3: get %s: %w", key, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("s3: upload %s: %w: %w", id, errCorrupt, err)
	}
	if err := st.check(id); err != nil {
		return nil, err
	}
	st.etag = aws.ToString(out.ETag)
	if st.etag == "" {
		return nil, fmt.Errorf("s3: get %s: no ETag", key)
	}
	return &st, nil
}

// ErrConflict is returned (wrapped) when the state of an upload changed
// between the moment a call read it and the moment it saved its own: another
// call, on this node or another, wrote to the upload concurrently. The upload
// holds what the other call stored; the caller may reread it and retry.
var ErrConflict = blob.ErrConflict

// saveState writes st as the state of upload id in place of prev, the state
// the caller read (or, with no etag, none): the PUT is conditional, and fails
// with ErrConflict if the state object is no longer prev. On success st
// records the new ETag.
func (s *Store) saveState(ctx context.Context, id string, prev, st *state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	key := s.stateKey(id)
	in := &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		ContentType: aws.String("application/json"),
	}
	in.ServerSideEncryption, in.SSEKMSKeyId = s.sseParams()
	if prev.etag != "" {
		in.IfMatch = aws.String(prev.etag)
	} else {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		if isPreconditionFailed(err) {
			return fmt.Errorf("s3: upload %s: %w", id, ErrConflict)
		}
		return wrap(err, "put", key)
	}
	st.etag = aws.ToString(out.ETag)
	if st.etag == "" {
		// Without it the next save cannot be conditional: read it back.
		cur, err := s.loadState(ctx, id)
		if err != nil {
			return err
		}
		st.etag = cur.etag
	}
	return nil
}

// put writes a whole object.
func (s *Store) put(ctx context.Context, key string, b []byte, contentType string) error {
	sse, kms := s.sseParams()
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		ContentType: aws.String(contentType), ServerSideEncryption: sse, SSEKMSKeyId: kms,
	})
	if err != nil {
		return wrap(err, "put", key)
	}
	return nil
}

// getRange reads len(dst) bytes of key from off into dst.
func (s *Store) getRange(ctx context.Context, key string, off int64, dst []byte) error {
	if len(dst) == 0 {
		return nil
	}
	rng := fmt.Sprintf("bytes=%d-%d", off, off+int64(len(dst))-1)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key, Range: &rng})
	if err != nil {
		return wrap(err, "get", key)
	}
	defer out.Body.Close()
	if _, err := io.ReadFull(out.Body, dst); err != nil {
		return fmt.Errorf("s3: get %s %s: %w", key, rng, err)
	}
	return nil
}

// readTail reads the tail segments of upload id into dst (of their size).
func (s *Store) readTail(ctx context.Context, id string, tail []segment, dst []byte) error {
	off := int64(0)
	for _, sg := range tail {
		if err := s.getRange(ctx, s.segKey(id, sg.Name), 0, dst[off:off+sg.Size]); err != nil {
			return err
		}
		off += sg.Size
	}
	return nil
}

// putSegment writes b as a new tail segment of upload id.
func (s *Store) putSegment(ctx context.Context, id string, b []byte) (segment, error) {
	sg := segment{Name: newSegName(), Size: int64(len(b))}
	return sg, s.put(ctx, s.segKey(id, sg.Name), b, "application/octet-stream")
}

// getBuf returns a buffer of at least n bytes: a pooled part buffer, or a
// bigger one for a tail written by a node with a larger part size.
func (s *Store) getBuf(n int64) *[]byte {
	if n > s.partSize {
		b := make([]byte, n)
		return &b
	}
	select {
	case b := <-s.bufs:
		return b
	default:
		b := make([]byte, s.partSize)
		return &b
	}
}

func (s *Store) putBuf(b *[]byte) {
	if int64(len(*b)) != s.partSize {
		return
	}
	select {
	case s.bufs <- b:
	default: // the free list is full: let this one go
	}
}

func (s *Store) createMPU(ctx context.Context, dir string) (string, error) {
	key := s.dataKey(dir)
	sse, kms := s.sseParams()
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, ContentType: aws.String("application/octet-stream"),
		ServerSideEncryption: sse, SSEKMSKeyId: kms,
	})
	if err != nil {
		return "", wrap(err, "create multipart upload", key)
	}
	return aws.ToString(out.UploadId), nil
}

func (s *Store) uploadPart(ctx context.Context, dir, mpu string, n int32, b []byte) (part, error) {
	key := s.dataKey(dir)
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &key, UploadId: &mpu, PartNumber: aws.Int32(n),
		Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
	})
	if err != nil {
		return part{}, wrap(err, "upload part "+strconv.Itoa(int(n))+" of", key)
	}
	return part{N: n, Size: int64(len(b)), ETag: aws.ToString(out.ETag)}, nil
}

func (s *Store) abortMPU(ctx context.Context, dir, mpu string) error {
	key := s.dataKey(dir)
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &mpu})
	if err != nil && !isNoSuchUpload(err) && !isNotFound(err) {
		return wrap(err, "abort multipart upload", key)
	}
	return nil
}

func (s *Store) copySource(key string) string {
	return (&url.URL{Path: s.bucket + "/" + key}).EscapedPath()
}

// Append writes r to upload id from offset; see blob.Store.
func (s *Store) Append(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	if err := blob.CheckUploadID(id); err != nil {
		return 0, err
	}
	if offset < 0 {
		return 0, fmt.Errorf("%w: negative offset %d", blob.ErrInvalid, offset)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	old, err := s.loadState(ctx, id)
	fresh := errors.Is(err, blob.ErrNotFound)
	switch {
	case fresh && offset > 0:
		return 0, fmt.Errorf("s3: upload %s does not exist, offset %d: %w", id, offset, blob.ErrShortUpload)
	case fresh:
		old = &state{Version: stateVersion}
	case err != nil:
		return 0, err
	case offset > old.Size:
		return 0, fmt.Errorf("s3: upload %s holds %d bytes, offset %d: %w", id, old.Size, offset, blob.ErrShortUpload)
	}

	// Appending nothing at the end changes nothing (but creates the upload).
	if offset == old.Size {
		var first [1]byte
		n, rerr := io.ReadFull(r, first[:])
		if n == 0 {
			if rerr == io.EOF {
				rerr = nil
			}
			if fresh {
				if err := s.saveState(ctx, id, old, old); err != nil {
					return 0, errors.Join(err, rerr)
				}
			}
			return 0, rerr
		}
		r = io.MultiReader(bytes.NewReader(first[:n]), r)
	}

	a := &appender{s: s, id: id}
	st, err := a.truncate(ctx, old, offset)
	if err != nil {
		a.discard(ctx, old)
		return 0, err
	}
	st, rerr, serr := a.stream(ctx, st, r)

	// Record what is stored, even if the caller has gone: a client resumes
	// from there.
	sctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
	}
	if err := s.saveState(sctx, id, old, st); err != nil {
		a.discard(sctx, old)
		return 0, errors.Join(serr, err, rerr)
	}
	s.release(sctx, id, old, st)
	n := st.Size - offset
	if n < 0 {
		n = 0
	}
	if serr != nil {
		return n, errors.Join(serr, rerr)
	}
	return n, rerr
}

// appender carries one Append. created and mpus list what it wrote, to be
// removed if its state is never saved.
type appender struct {
	s       *Store
	id      string
	created []segment
	mpus    [][2]string // data dir, multipart upload id
}

func (a *appender) newSegment(ctx context.Context, b []byte) (segment, error) {
	sg, err := a.s.putSegment(ctx, a.id, b)
	a.created = append(a.created, sg)
	return sg, err
}

// discard removes what the Append wrote when its state was not saved (best
// effort: Abort sweeps what is left).
func (a *appender) discard(ctx context.Context, old *state) {
	for _, sg := range a.created {
		a.s.deleteObject(ctx, a.s.segKey(a.id, sg.Name))
	}
	for _, m := range a.mpus {
		if m[0] != old.Data {
			a.s.abortMPU(ctx, m[0], m[1])
		}
	}
}

// truncate returns the state of the upload cut to offset bytes; it writes
// what the cut state needs that old does not hold (a shortened segment, a new
// multipart upload holding a prefix of a completed data object).
func (a *appender) truncate(ctx context.Context, old *state, offset int64) (*state, error) {
	s := a.s
	if offset == old.Size && !old.Sealed {
		return old.clone(), nil
	}
	if offset == 0 {
		return &state{Version: stateVersion}, nil
	}
	if old.Data != "" && !old.Sealed {
		ps := old.partsSize()
		if offset >= ps {
			st := old.clone()
			return a.cutTail(ctx, st, offset-ps)
		}
		// Keep the parts wholly below offset; cut inside a part needs its
		// bytes, which S3 serves only once the multipart upload completes.
		var end int64
		for i, p := range old.Parts {
			end += p.Size
			if end == offset {
				st := old.clone()
				st.Parts = st.Parts[:i+1]
				st.Tail = nil
				st.Size = offset
				return st, nil
			}
			if end > offset {
				break
			}
		}
		sealed, err := s.seal(ctx, a.id, old) // old has parts: sealed.Sealed
		if err != nil {
			return nil, err
		}
		*old = *sealed // the caller releases what sealed replaced
		return a.rebase(ctx, sealed, offset)
	}
	if old.Sealed {
		return a.rebase(ctx, old, offset)
	}
	return a.cutTail(ctx, old.clone(), offset)
}

// cutTail cuts the tail of st to keep bytes.
func (a *appender) cutTail(ctx context.Context, st *state, keep int64) (*state, error) {
	var off int64
	for i, sg := range st.Tail {
		if off+sg.Size <= keep {
			off += sg.Size
			continue
		}
		st.Tail = st.Tail[:i]
		if cut := keep - off; cut > 0 {
			buf := make([]byte, cut)
			if err := a.s.getRange(ctx, a.s.segKey(a.id, sg.Name), 0, buf); err != nil {
				return nil, err
			}
			nsg, err := a.newSegment(ctx, buf)
			if err != nil {
				return nil, err
			}
			st.Tail = append(st.Tail, nsg)
		}
		break
	}
	st.Size = st.partsSize() + st.tailSize()
	return st, nil
}

// rebase returns a state holding the first keep bytes of the completed data
// object of old: whole parts copied server-side into a new multipart
// upload, the rest as a tail segment.
func (a *appender) rebase(ctx context.Context, old *state, keep int64) (*state, error) {
	s := a.s
	st := &state{Version: stateVersion, Size: keep}
	src := s.copySource(s.dataKey(old.Data))
	full := keep / s.partSize
	if full > 0 {
		st.Data = newDataDir(a.id)
		mpu, err := s.createMPU(ctx, st.Data)
		if err != nil {
			return nil, err
		}
		st.MPU = mpu
		a.mpus = append(a.mpus, [2]string{st.Data, mpu})
		key := s.dataKey(st.Data)
		for i := range full {
			n := int32(i + 1)
			rng := fmt.Sprintf("bytes=%d-%d", i*s.partSize, (i+1)*s.partSize-1)
			out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket: &s.bucket, Key: &key, UploadId: &mpu, PartNumber: aws.Int32(n),
				CopySource: &src, CopySourceRange: &rng,
			})
			if err != nil {
				return nil, wrap(err, "upload part copy to", key)
			}
			etag := ""
			if out.CopyPartResult != nil {
				etag = aws.ToString(out.CopyPartResult.ETag)
			}
			st.Parts = append(st.Parts, part{N: n, Size: s.partSize, ETag: etag})
		}
	}
	if rest := keep - full*s.partSize; rest > 0 {
		bp := s.getBuf(rest)
		defer s.putBuf(bp)
		buf := (*bp)[:rest]
		if err := s.getRange(ctx, s.dataKey(old.Data), full*s.partSize, buf); err != nil {
			return nil, err
		}
		sg, err := a.newSegment(ctx, buf)
		if err != nil {
			return nil, err
		}
		st.Tail = []segment{sg}
	}
	return st, nil
}

// stream appends r to st, uploading parts as they fill. It returns the
// state of what is stored, the reader's error and the storage's error.
func (a *appender) stream(ctx context.Context, st *state, r io.Reader) (_ *state, rerr, serr error) {
	s := a.s
	st = st.clone()
	t0 := int(st.tailSize()) // stored tail bytes: the head of the first part

	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type upload struct {
		p   part
		err error
	}
	var (
		ups    []*upload
		wg     sync.WaitGroup
		sem    = make(chan struct{}, s.concurrency)
		failed atomic.Bool
		once   sync.Once
		cause  error // the first part upload error (the others may be its cancellation)
	)
	next := int32(1)
	if len(st.Parts) > 0 {
		next = st.Parts[len(st.Parts)-1].N + 1
	}

	// The stored tail and the new bytes make the first part; a tail written
	// with a larger part size is a part by itself.
	bp := s.getBuf(int64(t0))
	buf := (*bp)[:max(int64(t0), s.partSize)]
	fill := t0
	first := true // no part started: buf[:t0] is still to be read from the tail
	for {
		eof := false
		for fill < len(buf) && !eof && rerr == nil {
			m, err := r.Read(buf[fill:])
			fill += m
			if err == io.EOF {
				eof = true
			} else if err != nil {
				rerr = err
			}
		}
		if fill < len(buf) {
			break
		}
		// A full part: upload it (even if the reader has just failed).
		if serr = ctx.Err(); serr != nil {
			break
		}
		if first && t0 > 0 {
			if serr = s.readTail(ctx, a.id, st.Tail, buf[:t0]); serr != nil {
				break
			}
		}
		if st.Data == "" {
			dir := newDataDir(a.id)
			mpu, err := s.createMPU(ctx, dir)
			if err != nil {
				serr = err
				break
			}
			st.Data, st.MPU = dir, mpu
			a.mpus = append(a.mpus, [2]string{dir, mpu})
		}
		if next > maxParts {
			serr = fmt.Errorf("s3: upload %s: more than %d parts of %d bytes; raise the part size", a.id, maxParts, s.partSize)
			break
		}
		sem <- struct{}{}
		if failed.Load() {
			<-sem
			break
		}
		up := &upload{}
		ups = append(ups, up)
		wg.Add(1)
		go func(dir, mpu string, n int32, bp *[]byte, b []byte) {
			defer func() { s.putBuf(bp); <-sem; wg.Done() }()
			up.p, up.err = s.uploadPart(uctx, dir, mpu, n, b)
			if up.err != nil {
				once.Do(func() { cause = up.err })
				failed.Store(true)
				cancel()
			}
		}(st.Data, st.MPU, next, bp, buf)
		next++
		first = false
		bp = s.getBuf(s.partSize)
		buf = (*bp)[:s.partSize]
		fill = 0
		if eof || rerr != nil {
			break
		}
	}
	wg.Wait()
	defer s.putBuf(bp)

	// Parts count up to the first failure; the first one holds the tail.
	for i, up := range ups {
		if up.err != nil {
			if serr == nil {
				serr = cause
			}
			break
		}
		if i == 0 {
			st.Tail = nil
		}
		st.Parts = append(st.Parts, up.p)
	}
	if serr == nil {
		// The bytes that did not fill a part become a tail segment.
		lo := 0
		if first {
			lo = t0
		}
		switch {
		case fill <= lo:
		case first && len(st.Tail) >= maxSegments:
			// Merge the stored tail and the new bytes into one segment.
			if serr = s.readTail(ctx, a.id, st.Tail, buf[:t0]); serr == nil {
				var sg segment
				if sg, serr = a.newSegment(ctx, buf[:fill]); serr == nil {
					st.Tail = []segment{sg}
				}
			}
		default:
			var sg segment
			if sg, serr = a.newSegment(ctx, buf[lo:fill]); serr == nil {
				st.Tail = append(st.Tail, sg)
			}
		}
	}
	st.Size = st.partsSize() + st.tailSize()
	return st, rerr, serr
}

// release removes what old referenced and st does not, after st was saved
// (best effort: Abort sweeps what is left).
func (s *Store) release(ctx context.Context, id string, old, st *state) {
	keep := map[string]bool{}
	for _, sg := range st.Tail {
		keep[sg.Name] = true
	}
	for _, sg := range old.Tail {
		if keep[sg.Name] {
			continue
		}
		if dir, ok := segDataDir(id, sg.Name); ok {
			// A pointer may name it (a commit of the small upload).
			s.collect(ctx, dir, false)
		} else {
			s.deleteObject(ctx, s.segKey(id, sg.Name))
		}
	}
	if old.Data != "" && old.Data != st.Data {
		if old.MPU != "" {
			s.abortMPU(ctx, old.Data, old.MPU)
		}
		if old.Sealed {
			s.collect(ctx, old.Data, false)
		}
	}
}

// seal completes the multipart upload of st (with its tail as the last
// part) and saves the sealed state, which it returns. An upload with no
// parts becomes a small one.
func (s *Store) seal(ctx context.Context, id string, st *state) (*state, error) {
	if st.Sealed || st.Data == "" {
		return st, nil
	}
	if len(st.Parts) == 0 {
		if err := s.abortMPU(ctx, st.Data, st.MPU); err != nil {
			return nil, err
		}
		small := st.clone()
		small.Data, small.MPU = "", ""
		if err := s.saveState(ctx, id, st, small); err != nil {
			return nil, err
		}
		return small, nil
	}
	parts := slices.Clone(st.Parts)
	if t := st.tailSize(); t > 0 {
		bp := s.getBuf(t)
		err := s.readTail(ctx, id, st.Tail, (*bp)[:t])
		var p part
		if err == nil {
			p, err = s.uploadPart(ctx, st.Data, st.MPU, parts[len(parts)-1].N+1, (*bp)[:t])
		}
		s.putBuf(bp)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	key := s.dataKey(st.Data)
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(p.N), ETag: aws.String(p.ETag)}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: &st.MPU,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil && isNoSuchUpload(err) {
		// Completed by a call that crashed before saving the state?
		out, herr := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
		if herr == nil && aws.ToInt64(out.ContentLength) == st.Size {
			err = nil
		}
	}
	if err != nil {
		return nil, wrap(err, "complete multipart upload", key)
	}
	sealed := &state{Version: stateVersion, Size: st.Size, Data: st.Data, Sealed: true}
	if err := s.saveState(ctx, id, st, sealed); err != nil {
		return nil, err
	}
	s.release(ctx, id, st, sealed)
	return sealed, nil
}

// Commit makes upload id readable as digest; see blob.Store.
func (s *Store) Commit(ctx context.Context, id, digest string) error {
	if err := blob.CheckUploadID(id); err != nil {
		return err
	}
	alg, hex, err := blob.CheckDigest(digest)
	if err != nil {
		return err
	}
	st, err := s.loadState(ctx, id)
	if err != nil {
		return err
	}
	key := s.blobKey(alg, hex)
	if _, err := s.headBlob(ctx, alg, hex); err == nil {
		return nil // the content is there already
	} else if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	if st, err = s.seal(ctx, id, st); err != nil {
		return err
	}
	if st.Sealed {
		return s.putPointer(ctx, st.Data, st.Size, alg, hex)
	}
	if len(st.Tail) == 1 {
		if dir, ok := segDataDir(id, st.Tail[0].Name); ok {
			return s.putPointer(ctx, dir, st.Size, alg, hex)
		}
	}
	return s.commitSmall(ctx, id, st, key)
}

// putPointer makes blob alg:hex a pointer to the size bytes of data
// directory dir. Mark first, then point: a pointer always has its mark.
func (s *Store) putPointer(ctx context.Context, dir string, size int64, alg, hex string) error {
	if err := s.put(ctx, s.refKey(dir, alg, hex), nil, "application/octet-stream"); err != nil {
		return err
	}
	key := s.blobKey(alg, hex)
	sse, kms := s.sseParams()
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(nil), ContentLength: aws.Int64(0),
		ContentType: aws.String(pointerContentType), ServerSideEncryption: sse, SSEKMSKeyId: kms,
		Metadata: map[string]string{metaData: dir, metaSize: strconv.FormatInt(size, 10)},
	})
	if err != nil {
		return wrap(err, "put", key)
	}
	return nil
}

// commitSmall writes the tail of a small upload at key: an empty object, a
// copy of a segment written by an earlier version, or the segments merged.
func (s *Store) commitSmall(ctx context.Context, id string, st *state, key string) error {
	switch len(st.Tail) {
	case 0:
		return s.put(ctx, key, nil, "application/octet-stream")
	case 1:
		src := s.copySource(s.segKey(id, st.Tail[0].Name))
		sse, kms := s.sseParams()
		_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: &s.bucket, Key: &key, CopySource: &src,
			ServerSideEncryption: sse, SSEKMSKeyId: kms,
		})
		if err != nil {
			return wrap(err, "copy to", key)
		}
		return nil
	}
	bp := s.getBuf(st.tailSize())
	defer s.putBuf(bp)
	b := (*bp)[:st.tailSize()]
	if err := s.readTail(ctx, id, st.Tail, b); err != nil {
		return err
	}
	return s.put(ctx, key, b, "application/octet-stream")
}

// ReadUpload reads the data of upload id. An upload with parts is sealed
// first (S3 serves no part of an unfinished multipart upload).
func (s *Store) ReadUpload(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := blob.CheckUploadID(id); err != nil {
		return nil, err
	}
	st, err := s.loadState(ctx, id)
	if err != nil {
		return nil, err
	}
	if st, err = s.seal(ctx, id, st); err != nil {
		return nil, err
	}
	if st.Sealed {
		return &reader{ctx: ctx, s: s, key: s.dataKey(st.Data), size: st.Size}, nil
	}
	return &tailReader{ctx: ctx, s: s, id: id, tail: st.Tail}, nil
}

// tailReader reads the tail segments of an upload one after the other.
type tailReader struct {
	ctx  context.Context
	s    *Store
	id   string
	tail []segment
	cur  *reader
}

func (t *tailReader) Read(p []byte) (int, error) {
	for {
		if t.cur == nil {
			if len(t.tail) == 0 {
				return 0, io.EOF
			}
			t.cur = &reader{ctx: t.ctx, s: t.s, key: t.s.segKey(t.id, t.tail[0].Name), size: t.tail[0].Size}
			t.tail = t.tail[1:]
		}
		n, err := t.cur.Read(p)
		if err == io.EOF {
			t.cur.Close()
			t.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (t *tailReader) Close() error {
	if t.cur != nil {
		t.cur.Close()
		t.cur = nil
	}
	t.tail = nil
	return nil
}

// Abort removes upload id: its state, segments, multipart uploads, and its
// data objects that no pointer names.
func (s *Store) Abort(ctx context.Context, id string) error {
	if err := blob.CheckUploadID(id); err != nil {
		return err
	}
	st, err := s.loadState(ctx, id)
	if err != nil && !errors.Is(err, blob.ErrNotFound) && !errors.Is(err, errCorrupt) {
		return err
	}
	// The state first: from then on the upload's data objects are kept only
	// by pointers (see collect).
	if err := s.deleteObject(ctx, s.stateKey(id)); err != nil {
		return err
	}
	if err := s.deleteAll(ctx, s.uploadDir(id)); err != nil {
		return err
	}
	if st != nil && st.MPU != "" {
		if err := s.abortMPU(ctx, st.Data, st.MPU); err != nil {
			return err
		}
	}
	// Sweep what crashed calls may have left.
	mprefix := s.dataPrefix() + id + "."
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &mprefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap(err, "list multipart uploads", mprefix)
		}
		for _, u := range page.Uploads {
			rest := aws.ToString(u.Key)[len(s.dataPrefix()):]
			dir, name, _ := strings.Cut(rest, "/")
			if owner, ok := dataDirOwner(dir); !ok || owner != id || name != "data" {
				continue
			}
			if err := s.abortMPU(ctx, dir, aws.ToString(u.UploadId)); err != nil {
				return err
			}
		}
	}
	return s.collectOwned(ctx, id)
}

// collectOwned collects every data directory of upload id.
func (s *Store) collectOwned(ctx context.Context, id string) error {
	prefix := s.dataPrefix() + id + "."
	var dirs []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket, Prefix: &prefix, Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap(err, "list", prefix)
		}
		for _, cp := range page.CommonPrefixes {
			dir := aws.ToString(cp.Prefix)[len(s.dataPrefix()):]
			dir = dir[:len(dir)-1]
			if owner, ok := dataDirOwner(dir); ok && owner == id {
				dirs = append(dirs, dir)
			}
		}
	}
	for _, dir := range dirs {
		if err := s.collect(ctx, dir, false); err != nil {
			return err
		}
	}
	return nil
}

// collect deletes data directory dir unless its upload's state (when
// checkOwner) or a pointer still names it. Callers remove their own
// reference first.
func (s *Store) collect(ctx context.Context, dir string, checkOwner bool) error {
	owner, ok := dataDirOwner(dir)
	if !ok {
		return fmt.Errorf("s3: malformed data directory %q", dir)
	}
	if checkOwner {
		st, err := s.loadState(ctx, owner)
		if err == nil && st.names(owner, dir) || errors.Is(err, errCorrupt) {
			return nil // named (or perhaps named): Abort of the upload collects it
		}
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			return err
		}
	}
	refs := s.refsDir(dir)
	errKept := errors.New("kept")
	err := s.list(ctx, refs, func(objs []types.Object) error {
		for _, o := range objs {
			alg, hex, ok := strings.Cut(aws.ToString(o.Key)[len(refs):], "/")
			if !ok {
				continue
			}
			if _, _, err := blob.CheckDigest(alg + ":" + hex); err != nil {
				continue
			}
			b, err := s.headBlob(ctx, alg, hex)
			if err == nil && b.dataDir == dir {
				return errKept
			}
			if err != nil && !errors.Is(err, blob.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errKept) {
		return nil
	}
	if err != nil {
		return err
	}
	// The data object first, so that a crash leaves its marks to find it.
	if err := s.deleteObject(ctx, s.dataKey(dir)); err != nil {
		return err
	}
	return s.deleteAll(ctx, s.dataDir(dir))
}

// ListUploads returns the ids of the uploads in the bucket.
func (s *Store) ListUploads(ctx context.Context) ([]string, error) {
	dirs, err := s.listDirs(ctx, s.uploadsPrefix())
	if err != nil {
		return nil, err
	}
	ids := dirs[:0]
	for _, d := range dirs {
		if blob.CheckUploadID(d) == nil {
			ids = append(ids, d)
		}
	}
	return ids, nil
}
