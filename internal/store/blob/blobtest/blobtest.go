// Package blobtest is the contract suite every blob.Store implementation
// passes: call Run from a test of the implementation's package.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/blob"
)

// Run runs the contract suite against the stores open returns. open is
// called once per subtest and must return a new, empty store; it registers
// any cleanup with t.Cleanup. One subtest measures allocations, so call Run
// from a test that is not parallel.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"AppendCommitRead", testAppendCommitRead},
		{"EmptyBlob", testEmptyBlob},
		{"ResumeDiscardsTail", testResumeDiscardsTail},
		{"AppendBeyondSize", testAppendBeyondSize},
		{"AppendReaderFails", testAppendReaderFails},
		{"AppendCanceled", testAppendCanceled},
		{"CommitTwice", testCommitTwice},
		{"CommitMissingUpload", testCommitMissingUpload},
		{"CommitThenAbort", testCommitThenAbort},
		{"AppendAfterCommit", testAppendAfterCommit},
		{"Delete", testDelete},
		{"OpenMissing", testOpenMissing},
		{"Walk", testWalk},
		{"ListUploads", testListUploads},
		{"SeekAndRanges", testSeekAndRanges},
		{"Large64MiB", testLarge},
		{"SHA512", testSHA512},
		{"ConcurrentAppends", testConcurrentAppends},
		{"HostileNames", testHostileNames},
		{"LongestID", testLongestID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// Digest returns the digest of data with algorithm alg ("sha256" or
// "sha512") in "alg:hex" form.
func Digest(alg string, data []byte) string {
	h := newHash(alg)
	h.Write(data)
	return alg + ":" + hex.EncodeToString(h.Sum(nil))
}

func newHash(alg string) hash.Hash {
	switch alg {
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	panic("blobtest: unknown algorithm " + alg)
}

// Generate returns a reader of n pseudo-random bytes determined by seed,
// whatever the sizes of the reads. It holds no data in memory.
func Generate(seed uint64, n int64) io.Reader {
	return &genReader{state: seed*0x9E3779B97F4A7C15 + 1, left: n}
}

type genReader struct {
	state uint64
	left  int64
	pend  [8]byte
	npend int // bytes of pend not yet returned (the last npend)
}

func (g *genReader) next() uint64 {
	// xorshift64*
	g.state ^= g.state >> 12
	g.state ^= g.state << 25
	g.state ^= g.state >> 27
	return g.state * 0x2545F4914F6CDD1D
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for n < len(p) && g.npend > 0 {
		p[n] = g.pend[8-g.npend]
		g.npend--
		n++
	}
	for len(p)-n >= 8 {
		binary.LittleEndian.PutUint64(p[n:], g.next())
		n += 8
	}
	if n < len(p) {
		binary.LittleEndian.PutUint64(g.pend[:], g.next())
		g.npend = 8
		for n < len(p) {
			p[n] = g.pend[8-g.npend]
			g.npend--
			n++
		}
	}
	g.left -= int64(n)
	return n, nil
}

func gen(seed uint64, n int) []byte {
	b, err := io.ReadAll(Generate(seed, int64(n)))
	if err != nil {
		panic(err)
	}
	return b
}

var ctx = context.Background()

func appendAt(t *testing.T, s blob.Store, id string, off int64, data []byte) {
	t.Helper()
	n, err := s.Append(ctx, id, off, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Append(%q, %d, %d bytes): %v", id, off, len(data), err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Append(%q, %d, %d bytes) = %d", id, off, len(data), n)
	}
}

// upload appends data in one call and commits it; it returns the digest.
func upload(t *testing.T, s blob.Store, id, alg string, data []byte) string {
	t.Helper()
	appendAt(t, s, id, 0, data)
	d := Digest(alg, data)
	if err := s.Commit(ctx, id, d); err != nil {
		t.Fatalf("Commit(%q, %s): %v", id, d, err)
	}
	return d
}

func readBlob(t *testing.T, s blob.Store, digest string) []byte {
	t.Helper()
	rd, size, err := s.Open(ctx, digest)
	if err != nil {
		t.Fatalf("Open(%s): %v", digest, err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("read %s: %v", digest, err)
	}
	if size != int64(len(b)) {
		t.Fatalf("Open(%s) size %d, read %d bytes", digest, size, len(b))
	}
	return b
}

func checkBlob(t *testing.T, s blob.Store, digest string, want []byte) {
	t.Helper()
	if got := readBlob(t, s, digest); !bytes.Equal(got, want) {
		t.Fatalf("blob %s: read %d bytes, differing from the %d written", digest, len(got), len(want))
	}
	size, err := s.Stat(ctx, digest)
	if err != nil {
		t.Fatalf("Stat(%s): %v", digest, err)
	}
	if size != int64(len(want)) {
		t.Fatalf("Stat(%s) = %d, want %d", digest, size, len(want))
	}
}

func readUpload(t *testing.T, s blob.Store, id string) []byte {
	t.Helper()
	rc, err := s.ReadUpload(ctx, id)
	if err != nil {
		t.Fatalf("ReadUpload(%q): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("ReadUpload(%q): read: %v", id, err)
	}
	return b
}

func checkUpload(t *testing.T, s blob.Store, id string, want []byte) {
	t.Helper()
	if got := readUpload(t, s, id); !bytes.Equal(got, want) {
		t.Fatalf("upload %q holds %q, want %q", id, abbrev(got), abbrev(want))
	}
}

func abbrev(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%s...(%d bytes)", b[:64], len(b))
	}
	return string(b)
}

func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("%s: got %v, want ErrNotFound", what, err)
	}
}

func walk(t *testing.T, s blob.Store) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.Walk(ctx, func(d string, size int64) error {
		if _, dup := got[d]; dup {
			t.Errorf("Walk: %s seen twice", d)
		}
		got[d] = size
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

func uploads(t *testing.T, s blob.Store) []string {
	t.Helper()
	ids, err := s.ListUploads(ctx)
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	slices.Sort(ids)
	return ids
}

func testAppendCommitRead(t *testing.T, s blob.Store) {
	chunks := [][]byte{[]byte("hello, "), gen(1, 3<<20+17), nil, []byte("chunked "), gen(2, 1), []byte("world")}
	var all []byte
	for _, c := range chunks {
		appendAt(t, s, "u1", int64(len(all)), c)
		all = append(all, c...)
	}
	checkUpload(t, s, "u1", all)
	d := Digest("sha256", all)
	if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat before Commit: got %v, want ErrNotFound", err)
	}
	if err := s.Commit(ctx, "u1", d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, d, all)
}

func testEmptyBlob(t *testing.T, s blob.Store) {
	n, err := s.Append(ctx, "empty", 0, bytes.NewReader(nil))
	if err != nil || n != 0 {
		t.Fatalf("Append of nothing = %d, %v", n, err)
	}
	if ids := uploads(t, s); !slices.Equal(ids, []string{"empty"}) {
		t.Fatalf("ListUploads = %q, want [empty]", ids)
	}
	checkUpload(t, s, "empty", nil)
	d := Digest("sha256", nil)
	if err := s.Commit(ctx, "empty", d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, d, nil)
}

func testResumeDiscardsTail(t *testing.T, s blob.Store) {
	appendAt(t, s, "u", 0, []byte("0123456789"))
	// The client saw offset 4 acknowledged; bytes 4-9 are an unacknowledged tail.
	appendAt(t, s, "u", 4, []byte("XY"))
	checkUpload(t, s, "u", []byte("0123XY"))
	appendAt(t, s, "u", 6, []byte("Z"))
	checkUpload(t, s, "u", []byte("0123XYZ"))
	// Restart from scratch.
	appendAt(t, s, "u", 0, []byte("ab"))
	checkUpload(t, s, "u", []byte("ab"))
	// Resending the exact tail is a no-op rewrite.
	appendAt(t, s, "u", 2, nil)
	checkUpload(t, s, "u", []byte("ab"))
	d := Digest("sha256", []byte("ab"))
	if err := s.Commit(ctx, "u", d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, d, []byte("ab"))
}

func testAppendBeyondSize(t *testing.T, s blob.Store) {
	appendAt(t, s, "u", 0, []byte("12345"))
	n, err := s.Append(ctx, "u", 6, strings.NewReader("x"))
	if !errors.Is(err, blob.ErrShortUpload) {
		t.Fatalf("Append beyond size = %d, %v; want ErrShortUpload", n, err)
	}
	if n != 0 {
		t.Fatalf("Append beyond size wrote %d bytes", n)
	}
	checkUpload(t, s, "u", []byte("12345"))

	n, err = s.Append(ctx, "missing", 3, strings.NewReader("x"))
	if !errors.Is(err, blob.ErrShortUpload) || n != 0 {
		t.Fatalf("Append to a missing upload at offset 3 = %d, %v; want ErrShortUpload", n, err)
	}
	if _, err := s.ReadUpload(ctx, "missing"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a failed Append created the upload (ReadUpload: %v)", err)
	}

	n, err = s.Append(ctx, "u", -1, strings.NewReader("x"))
	if !errors.Is(err, blob.ErrInvalid) || n != 0 {
		t.Fatalf("Append at offset -1 = %d, %v; want ErrInvalid", n, err)
	}
	checkUpload(t, s, "u", []byte("12345"))
	if ids := uploads(t, s); !slices.Equal(ids, []string{"u"}) {
		t.Fatalf("ListUploads = %q, want [u]", ids)
	}
}

var errBoom = errors.New("blobtest: reader failed")

type failReader struct{ err error }

func (r failReader) Read([]byte) (int, error) { return 0, r.err }

func testAppendReaderFails(t *testing.T, s blob.Store) {
	// io.ErrUnexpectedEOF is what a truncated HTTP request body returns: it
	// must not pass for the end of the data.
	for i, fail := range []error{errBoom, io.ErrUnexpectedEOF} {
		id := fmt.Sprint("u", i)
		data := gen(uint64(10+i), 3<<20+5)
		appendAt(t, s, id, 0, data[:1000])
		cut := 1000 + 2<<20 + 3
		r := io.MultiReader(bytes.NewReader(data[1000:cut]), failReader{fail})
		n, err := s.Append(ctx, id, 1000, r)
		if !errors.Is(err, fail) {
			t.Fatalf("Append from a failing reader = %d, %v; want %v", n, err, fail)
		}
		if n < 0 || n > int64(cut-1000) {
			t.Fatalf("Append from a failing reader reported %d bytes, only %d were read", n, cut-1000)
		}
		// The caller records 1000+n and the client resumes from there.
		off := 1000 + n
		appendAt(t, s, id, off, data[off:])
		checkUpload(t, s, id, data)
		d := Digest("sha256", data)
		if err := s.Commit(ctx, id, d); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		checkBlob(t, s, d, data)
	}
}

func testAppendCanceled(t *testing.T, s blob.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	n, err := s.Append(c, "u", 0, strings.NewReader("data"))
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("Append with a canceled context = %d, %v; want context.Canceled", n, err)
	}
}

func testCommitTwice(t *testing.T, s blob.Store) {
	data := gen(3, 100_000)
	d := upload(t, s, "u1", "sha256", data)
	if err := s.Commit(ctx, "u1", d); err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	// Another upload of content that already exists.
	appendAt(t, s, "u2", 0, data)
	if err := s.Commit(ctx, "u2", d); err != nil {
		t.Fatalf("Commit of existing content: %v", err)
	}
	checkBlob(t, s, d, data)
	if got := walk(t, s); !maps.Equal(got, map[string]int64{d: int64(len(data))}) {
		t.Fatalf("Walk = %v, want only %s", got, d)
	}
	// Both uploads keep their data until aborted.
	checkUpload(t, s, "u1", data)
	checkUpload(t, s, "u2", data)
	for _, id := range []string{"u1", "u2"} {
		if err := s.Abort(ctx, id); err != nil {
			t.Fatalf("Abort(%s): %v", id, err)
		}
	}
	checkBlob(t, s, d, data)
}

func testCommitMissingUpload(t *testing.T, s blob.Store) {
	d := Digest("sha256", []byte("x"))
	notFound(t, "Commit of a missing upload", s.Commit(ctx, "nope", d))
	_, err := s.Stat(ctx, d)
	notFound(t, "Stat after a failed Commit", err)
}

func testCommitThenAbort(t *testing.T, s blob.Store) {
	data := gen(4, 70_000)
	d := upload(t, s, "u", "sha256", data)
	if err := s.Abort(ctx, "u"); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	checkBlob(t, s, d, data)
	_, err := s.ReadUpload(ctx, "u")
	notFound(t, "ReadUpload after Abort", err)
	if ids := uploads(t, s); len(ids) != 0 {
		t.Fatalf("ListUploads after Abort = %q", ids)
	}
	if err := s.Abort(ctx, "u"); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if err := s.Abort(ctx, "never"); err != nil {
		t.Fatalf("Abort of a missing upload: %v", err)
	}
	notFound(t, "Commit after Abort", s.Commit(ctx, "u", d))
}

func testAppendAfterCommit(t *testing.T, s blob.Store) {
	data := []byte("committed content")
	d := upload(t, s, "u", "sha256", data)
	// A late or replayed chunk must not touch the committed blob, whether it
	// rewrites the tail or extends the upload.
	appendAt(t, s, "u", 3, []byte("XYZ"))
	checkBlob(t, s, d, data)
	checkUpload(t, s, "u", []byte("comXYZ"))
	appendAt(t, s, "u", 6, []byte("!"))
	checkBlob(t, s, d, data)

	d2 := upload(t, s, "v", "sha256", []byte("second"))
	appendAt(t, s, "v", 6, []byte(" and more"))
	checkBlob(t, s, d2, []byte("second"))
	checkUpload(t, s, "v", []byte("second and more"))
	d3 := Digest("sha256", []byte("second and more"))
	if err := s.Commit(ctx, "v", d3); err != nil {
		t.Fatalf("Commit of the extended upload: %v", err)
	}
	checkBlob(t, s, d3, []byte("second and more"))
	checkBlob(t, s, d2, []byte("second"))
}

func testDelete(t *testing.T, s blob.Store) {
	data := gen(5, 5000)
	d := upload(t, s, "u", "sha256", data)
	if err := s.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Stat(ctx, d)
	notFound(t, "Stat after Delete", err)
	_, _, err = s.Open(ctx, d)
	notFound(t, "Open after Delete", err)
	if err := s.Delete(ctx, d); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := s.Delete(ctx, Digest("sha512", []byte("never"))); err != nil {
		t.Fatalf("Delete of a missing blob: %v", err)
	}
	if got := walk(t, s); len(got) != 0 {
		t.Fatalf("Walk after Delete = %v", got)
	}
	// A push that lost a race with garbage collection commits again.
	checkUpload(t, s, "u", data)
	if err := s.Commit(ctx, "u", d); err != nil {
		t.Fatalf("Commit after Delete: %v", err)
	}
	checkBlob(t, s, d, data)
}

func testOpenMissing(t *testing.T, s blob.Store) {
	for _, alg := range blob.Algorithms() {
		d := Digest(alg, []byte("missing"))
		_, _, err := s.Open(ctx, d)
		notFound(t, "Open "+d, err)
		_, err = s.Stat(ctx, d)
		notFound(t, "Stat "+d, err)
	}
	_, err := s.ReadUpload(ctx, "missing")
	notFound(t, "ReadUpload of a missing upload", err)
}

func testWalk(t *testing.T, s blob.Store) {
	if got := walk(t, s); len(got) != 0 {
		t.Fatalf("Walk of an empty store = %v", got)
	}
	want := map[string]int64{}
	for i, alg := range []string{"sha256", "sha256", "sha512", "sha256"} {
		data := gen(uint64(20+i), 1000*(i+1))
		want[upload(t, s, fmt.Sprint("u", i), alg, data)] = int64(len(data))
	}
	appendAt(t, s, "pending", 0, []byte("not committed"))
	gone := upload(t, s, "gone", "sha256", []byte("deleted"))
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := walk(t, s); !maps.Equal(got, want) {
		t.Fatalf("Walk = %v, want %v", got, want)
	}

	errStop := errors.New("stop")
	calls := 0
	err := s.Walk(ctx, func(string, int64) error { calls++; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Fatalf("Walk with fn failing: %v after %d calls, want errStop after 1", err, calls)
	}

	// fn may delete the blob it is given (garbage collection does).
	err = s.Walk(ctx, func(d string, _ int64) error { return s.Delete(ctx, d) })
	if err != nil {
		t.Fatalf("Walk deleting: %v", err)
	}
	if got := walk(t, s); len(got) != 0 {
		t.Fatalf("Walk after deleting everything = %v", got)
	}
}

func testListUploads(t *testing.T, s blob.Store) {
	if ids := uploads(t, s); len(ids) != 0 {
		t.Fatalf("ListUploads of an empty store = %q", ids)
	}
	for _, id := range []string{"c", "a", "b-1_X"} {
		appendAt(t, s, id, 0, []byte(id))
	}
	upload(t, s, "d", "sha256", []byte("d"))
	if err := s.Abort(ctx, "a"); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	want := []string{"b-1_X", "c", "d"}
	if ids := uploads(t, s); !slices.Equal(ids, want) {
		t.Fatalf("ListUploads = %q, want %q", ids, want)
	}
}

func testSeekAndRanges(t *testing.T, s blob.Store) {
	data := gen(6, 1<<20+333)
	d := upload(t, s, "u", "sha256", data)
	rd, size, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rd.Close()
	if size != int64(len(data)) {
		t.Fatalf("Open size = %d, want %d", size, len(data))
	}
	readAt := func(off int64, whence int, n int, wantPos int64) {
		t.Helper()
		pos, err := rd.Seek(off, whence)
		if err != nil || pos != wantPos {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", off, whence, pos, err, wantPos)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(rd, buf); err != nil {
			t.Fatalf("read %d bytes at %d: %v", n, pos, err)
		}
		if !bytes.Equal(buf, data[pos:pos+int64(n)]) {
			t.Fatalf("bytes %d-%d differ", pos, pos+int64(n))
		}
	}
	readAt(100, io.SeekStart, 50, 100)
	readAt(1000, io.SeekCurrent, 10, 1150)
	readAt(-10, io.SeekEnd, 10, size-10)
	if n, err := rd.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read at end = %d, %v; want io.EOF", n, err)
	}
	readAt(0, io.SeekStart, len(data), 0)

	// Ranged GETs as the registry serves them.
	for _, rg := range []struct {
		header     string
		start, end int // inclusive
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=1000-1999", 1000, 1999},
		{"bytes=-5", len(data) - 5, len(data) - 1},
		{fmt.Sprintf("bytes=%d-", len(data)-700), len(data) - 700, len(data) - 1},
	} {
		rd, _, err := s.Open(ctx, d)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		req := httptest.NewRequest(http.MethodGet, "/blob", nil)
		req.Header.Set("Range", rg.header)
		rec := httptest.NewRecorder()
		http.ServeContent(rec, req, "", time.Time{}, rd)
		rd.Close()
		if rec.Code != http.StatusPartialContent {
			t.Fatalf("Range %s: status %d", rg.header, rec.Code)
		}
		if !bytes.Equal(rec.Body.Bytes(), data[rg.start:rg.end+1]) {
			t.Fatalf("Range %s: body differs", rg.header)
		}
	}
}

func testLarge(t *testing.T, s blob.Store) {
	const size = 64 << 20
	h := sha256.New()
	src := io.TeeReader(Generate(7, size), h)
	// Two appends, the second resuming at an odd offset.
	const first = 20<<20 + 12345
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n1, err := s.Append(ctx, "big", 0, io.LimitReader(src, first))
	if err != nil || n1 != first {
		t.Fatalf("Append = %d, %v", n1, err)
	}
	n2, err := s.Append(ctx, "big", first, src)
	if err != nil || n2 != size-first {
		t.Fatalf("Append = %d, %v", n2, err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB appending %d MiB", alloc>>10, size>>20)
	if alloc >= size {
		t.Errorf("appending %d MiB allocated %d MiB: the upload is not streamed", size>>20, alloc>>20)
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if err := s.Commit(ctx, "big", d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got, err := s.Stat(ctx, d); err != nil || got != size {
		t.Fatalf("Stat = %d, %v; want %d", got, err, size)
	}
	rd, got, err := s.Open(ctx, d)
	if err != nil || got != size {
		t.Fatalf("Open = %d, %v", got, err)
	}
	defer rd.Close()
	h.Reset()
	if n, err := io.Copy(h, rd); err != nil || n != size {
		t.Fatalf("read back %d bytes: %v", n, err)
	}
	if back := "sha256:" + hex.EncodeToString(h.Sum(nil)); back != d {
		t.Fatalf("read back %s, want %s", back, d)
	}
	if err := s.Abort(ctx, "big"); err != nil {
		t.Fatalf("Abort: %v", err)
	}
}

func testSHA512(t *testing.T, s blob.Store) {
	data := gen(8, 12345)
	appendAt(t, s, "u", 0, data[:100])
	appendAt(t, s, "u", 100, data[100:])
	d := Digest("sha512", data)
	if err := s.Commit(ctx, "u", d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, d, data)
	// The same content under both algorithms is two blobs.
	d256 := Digest("sha256", data)
	if err := s.Commit(ctx, "u", d256); err != nil {
		t.Fatalf("Commit sha256: %v", err)
	}
	want := map[string]int64{d: int64(len(data)), d256: int64(len(data))}
	if got := walk(t, s); !maps.Equal(got, want) {
		t.Fatalf("Walk = %v, want %v", got, want)
	}
	if err := s.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkBlob(t, s, d256, data)
	_, err := s.Stat(ctx, d)
	notFound(t, "Stat after Delete", err)
}

func testConcurrentAppends(t *testing.T, s blob.Store) {
	const uploads, chunks, chunkSize = 8, 4, 300_000
	var wg sync.WaitGroup
	errs := make(chan error, uploads)
	for u := range uploads {
		wg.Go(func() {
			id := fmt.Sprint("up", u)
			data := gen(uint64(100+u), chunks*chunkSize)
			for c := range chunks {
				part := data[c*chunkSize : (c+1)*chunkSize]
				n, err := s.Append(ctx, id, int64(c*chunkSize), bytes.NewReader(part))
				if err != nil || n != chunkSize {
					errs <- fmt.Errorf("Append(%s, chunk %d) = %d, %v", id, c, n, err)
					return
				}
			}
			if err := s.Commit(ctx, id, Digest("sha256", data)); err != nil {
				errs <- fmt.Errorf("Commit(%s): %v", id, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for u := range uploads {
		data := gen(uint64(100+u), chunks*chunkSize)
		checkBlob(t, s, Digest("sha256", data), data)
	}
}

func testHostileNames(t *testing.T, s blob.Store) {
	appendAt(t, s, "ok", 0, []byte("data"))
	valid := Digest("sha256", []byte("data"))
	hex256 := valid[len("sha256:"):]
	hex512 := Digest("sha512", []byte("data"))[len("sha512:"):]

	ids := []string{
		"", ".", "..", "../x", "../../etc/passwd", "a/b", "/abs", `a\b`, ".tmp-1", ".hidden",
		"a b", "a.b", "ä", "a\x00b", "a\n", "ok/", "ok/../ok", "%2e%2e", strings.Repeat("a", blob.MaxUploadIDLen+1),
	}
	for _, id := range ids {
		invalid := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, blob.ErrInvalid) {
				t.Errorf("%s(%q): got %v, want ErrInvalid", op, id, err)
			}
		}
		_, err := s.Append(ctx, id, 0, strings.NewReader("x"))
		invalid("Append", err)
		rc, err := s.ReadUpload(ctx, id)
		if err == nil {
			rc.Close()
		}
		invalid("ReadUpload", err)
		invalid("Commit", s.Commit(ctx, id, valid))
		invalid("Abort", s.Abort(ctx, id))
	}

	digests := []string{
		"", ":", "sha256", "sha256:", hex256, ":" + hex256,
		"sha256:" + hex256[:63], "sha256:" + hex256 + "0", "sha256:" + strings.ToUpper(hex256),
		"SHA256:" + hex256, " sha256:" + hex256, "sha256:" + hex256 + "\n", "sha256:" + hex256 + "\x00",
		"sha256:" + hex256 + "/", "sha256:" + hex256[:60] + "/../", "sha256:../../../../../../etc/passwd",
		"../sha256:" + hex256, "sha256/../sha256:" + hex256, "sha256:" + hex256[:62] + "zz",
		"md5:" + hex256[:32], "sha384:" + hex512[:96], "sha512:" + hex256, "sha256:" + hex512,
		"sha256+b64:" + hex256, "sha256::" + hex256,
	}
	for _, d := range digests {
		invalid := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, blob.ErrInvalid) {
				t.Errorf("%s(%q): got %v, want ErrInvalid", op, d, err)
			}
		}
		_, err := s.Stat(ctx, d)
		invalid("Stat", err)
		rd, _, err := s.Open(ctx, d)
		if err == nil {
			rd.Close()
		}
		invalid("Open", err)
		invalid("Delete", s.Delete(ctx, d))
		invalid("Commit", s.Commit(ctx, "ok", d))
	}

	if got := walk(t, s); len(got) != 0 {
		t.Errorf("Walk after hostile calls = %v, want nothing", got)
	}
	if got := uploads(t, s); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("ListUploads after hostile calls = %q, want [ok]", got)
	}
	checkUpload(t, s, "ok", []byte("data"))
}

func testLongestID(t *testing.T, s blob.Store) {
	id := strings.Repeat("aZ9_-", blob.MaxUploadIDLen/5) + "xyz"
	if len(id) != blob.MaxUploadIDLen {
		t.Fatalf("test id has %d characters", len(id))
	}
	data := []byte("longest id")
	d := upload(t, s, id, "sha256", data)
	checkBlob(t, s, d, data)
	if got := uploads(t, s); !slices.Equal(got, []string{id}) {
		t.Fatalf("ListUploads = %q", got)
	}
	if err := s.Abort(ctx, id); err != nil {
		t.Fatalf("Abort: %v", err)
	}
}
