package fs

import (
	"bytes"
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/blob/blobtest"
)

var ctx = context.Background()

func open(t testing.TB, root string) *Store {
	t.Helper()
	s, err := New(root)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return open(t, t.TempDir())
	})
}

// TestContractCopy runs the suite with hard links disabled, as on a
// filesystem without them.
func TestContractCopy(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s := open(t, t.TempDir())
		s.link = false
		return s
	})
}

func appendAt(t *testing.T, s *Store, id string, off int64, data []byte) {
	t.Helper()
	if n, err := s.Append(ctx, id, off, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("Append(%q, %d) = %d, %v", id, off, n, err)
	}
}

func commit(t *testing.T, s *Store, id string, data []byte) string {
	t.Helper()
	d := blobtest.Digest("sha256", data)
	if err := s.Commit(ctx, id, d); err != nil {
		t.Fatalf("Commit(%q): %v", id, err)
	}
	return d
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func blobFile(root, digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(root, "blobs", alg, hex[:2], hex)
}

func TestLayout(t *testing.T) {
	for _, link := range []bool{true, false} {
		root := t.TempDir()
		s := open(t, root)
		s.link = link && hardLinks
		data := []byte("layout")
		appendAt(t, s, "u-1", 0, data)
		if got := readFile(t, filepath.Join(root, "uploads", "u-1")); !bytes.Equal(got, data) {
			t.Fatalf("uploads/u-1 = %q", got)
		}
		d := commit(t, s, "u-1", data)
		final := blobFile(root, d)
		if got := readFile(t, final); !bytes.Equal(got, data) {
			t.Fatalf("%s = %q", final, got)
		}
		up, err1 := os.Stat(filepath.Join(root, "uploads", "u-1"))
		bl, err2 := os.Stat(final)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if same := os.SameFile(up, bl); same != s.link {
			t.Errorf("link=%v: upload and blob are the same file: %v", s.link, same)
		}
		rd, _, err := s.Open(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rd.(*os.File); !ok {
			t.Errorf("Open returned a %T, want *os.File (for sendfile)", rd)
		}
		rd.Close()
	}
}

// snapshot maps every path under dir to its content ("<dir>" or
// "-> target" for directories and symlinks).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&iofs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			m[p] = "-> " + target
			return err
		case d.IsDir():
			m[p] = "<dir>"
		default:
			b, err := os.ReadFile(p)
			m[p] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, v := range after {
		if w, ok := before[p]; !ok || w != v {
			t.Errorf("%s: %s changed or appeared: %q", what, p, v)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: %s disappeared", what, p)
		}
	}
}

func TestNoFileEscapesRoot(t *testing.T) {
	for _, link := range []bool{true, false} {
		t.Run(map[bool]string{true: "link", false: "copy"}[link], func(t *testing.T) {
			testNoFileEscapesRoot(t, link)
		})
	}
}

func testNoFileEscapesRoot(t *testing.T, link bool) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	outside := filepath.Join(parent, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, root)
	s.link = link && hardLinks
	before := snapshot(t, outside)

	// Path-like names never reach the filesystem.
	for _, id := range []string{"../outside/victim", "../../outside", "/" + victim, ".."} {
		if _, err := s.Append(ctx, id, 0, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalid) {
			t.Errorf("Append(%q): %v", id, err)
		}
		if err := s.Abort(ctx, id); !errors.Is(err, blob.ErrInvalid) {
			t.Errorf("Abort(%q): %v", id, err)
		}
	}
	for _, d := range []string{"sha256:../../../outside/victim", "../outside:abcd", "sha256:" + victim} {
		if err := s.Delete(ctx, d); !errors.Is(err, blob.ErrInvalid) {
			t.Errorf("Delete(%q): %v", d, err)
		}
	}

	// Symbolic links planted inside the root (by someone with access to the
	// disk) are not followed out of it, absolute or relative.
	data := []byte("some layer")
	appendAt(t, s, "u", 0, data)
	d := blobtest.Digest("sha256", data)
	prefixDir := filepath.Dir(blobFile(root, d))
	for _, target := range []string{outside, filepath.Join("..", "..", "..", "..", "outside")} {
		os.Remove(prefixDir)
		if err := os.Symlink(target, prefixDir); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, "u", d); err == nil {
			t.Errorf("Commit through a symlink to %s succeeded", target)
		} else {
			t.Logf("Commit through a symlink to %s: %v", target, err)
		}
		if _, err := s.Stat(ctx, d); err == nil {
			t.Errorf("Stat through a symlink to %s succeeded", target)
		}
	}
	os.Remove(prefixDir)

	// A blob or an upload that is a symlink to a file outside.
	other := blobtest.Digest("sha256", []byte("other"))
	os.MkdirAll(filepath.Dir(blobFile(root, other)), 0o755)
	if err := os.Symlink(victim, blobFile(root, other)); err != nil {
		t.Fatal(err)
	}
	if rd, _, err := s.Open(ctx, other); err == nil {
		rd.Close()
		t.Error("Open of a blob symlinked outside succeeded")
	}
	if err := os.Symlink(victim, filepath.Join(root, "uploads", "evil")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "evil", 0, strings.NewReader("overwritten")); err == nil {
		t.Error("Append to an upload symlinked outside succeeded")
	} else {
		t.Logf("Append to an upload symlinked outside: %v", err)
	}
	if _, err := s.Append(ctx, "evil", 8, strings.NewReader("more")); err == nil {
		t.Error("Append to an upload symlinked outside succeeded")
	}
	if rc, err := s.ReadUpload(ctx, "evil"); err == nil {
		rc.Close()
		t.Error("ReadUpload of an upload symlinked outside succeeded")
	}
	if err := s.Commit(ctx, "evil", blobtest.Digest("sha256", []byte("precious"))); err == nil {
		t.Error("Commit of an upload symlinked outside succeeded")
	}
	s.Abort(ctx, "evil") // removes the link, not its target
	s.Delete(ctx, other) // likewise
	s.Walk(ctx, func(string, int64) error { return nil })

	sameSnapshot(t, "outside", before, snapshot(t, outside))
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"outside", "root"}) {
		t.Errorf("parent of root holds %q", names)
	}
}

func TestStaleTempFilesRemoved(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	data := []byte("kept")
	appendAt(t, s, "u", 0, data)
	d := commit(t, s, "u", data)
	final := blobFile(root, d)

	temps := []string{
		filepath.Join(root, "uploads", ".tmp-1"),
		filepath.Join(root, "blobs", "sha256", ".tmp-2"),
		filepath.Join(filepath.Dir(final), ".tmp-3"),
		filepath.Join(root, "blobs", "sha512", ".tmp-4"),
	}
	for _, p := range temps {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// An open store ignores them.
	want := map[string]int64{d: int64(len(data))}
	got := map[string]int64{}
	if err := s.Walk(ctx, func(d string, n int64) error { got[d] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[d] != want[d] {
		t.Errorf("Walk = %v, want %v", got, want)
	}
	if ids, _ := s.ListUploads(ctx); !slices.Equal(ids, []string{"u"}) {
		t.Errorf("ListUploads = %q", ids)
	}
	s.Close()

	// With no other store open on the root, New removes every temporary file.
	s = open(t, root)
	for _, p := range temps {
		if _, err := os.Lstat(p); !errors.Is(err, iofs.ErrNotExist) {
			t.Errorf("%s survived New: %v", p, err)
		}
	}
	if got := readFile(t, final); !bytes.Equal(got, data) {
		t.Errorf("blob = %q", got)
	}
	if got := readFile(t, filepath.Join(root, "uploads", "u")); !bytes.Equal(got, data) {
		t.Errorf("upload = %q", got)
	}

	// With one open (another process, say), only old temporary files go:
	// a fresh one may be the other store's work in progress.
	fresh := filepath.Join(filepath.Dir(final), ".tmp-fresh")
	old := filepath.Join(root, "uploads", ".tmp-old")
	for _, p := range []string{fresh, old} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * staleTempAge)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, root)
	if _, err := os.Lstat(old); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("old temporary file survived New: %v", err)
	}
	if _, err := os.Lstat(fresh); err != nil {
		t.Errorf("fresh temporary file removed while another store is open: %v", err)
	}
	s.Close()
	s2.Close()
	open(t, root)
	if _, err := os.Lstat(fresh); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("temporary file survived New with no other store open: %v", err)
	}
}

// TestReopenAfterCrash checks that what Append acknowledged is found by a
// new Store on the same root, without the first one being closed.
func TestReopenAfterCrash(t *testing.T) {
	root := t.TempDir()
	s1 := open(t, root)
	data := blobtestData(3 << 20)
	appendAt(t, s1, "u", 0, data[:1<<20])
	appendAt(t, s1, "u", 1<<20, data[1<<20:2<<20])

	// The crash left an unacknowledged tail behind the acknowledged 2 MiB.
	f, err := os.OpenFile(filepath.Join(root, "uploads", "u"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("garbage tail"))
	f.Close()

	s2 := open(t, root)
	ids, err := s2.ListUploads(ctx)
	if err != nil || !slices.Equal(ids, []string{"u"}) {
		t.Fatalf("ListUploads after reopen = %q, %v", ids, err)
	}
	rc, err := s2.ReadUpload(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.HasPrefix(got, data[:2<<20]) {
		t.Fatalf("acknowledged data lost after reopen")
	}
	appendAt(t, s2, "u", 2<<20, data[2<<20:])
	d := commit(t, s2, "u", data)
	if got := readFile(t, blobFile(root, d)); !bytes.Equal(got, data) {
		t.Fatalf("blob differs")
	}
	if n, err := s1.Stat(ctx, d); err != nil || n != int64(len(data)) {
		t.Fatalf("first store: Stat = %d, %v", n, err)
	}
}

func blobtestData(n int) []byte {
	b, _ := io.ReadAll(blobtest.Generate(42, int64(n)))
	return b
}

func TestWalkSkipsForeignFiles(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	data := []byte("real")
	appendAt(t, s, "u", 0, data)
	d := commit(t, s, "u", data)
	hex := d[len("sha256:"):]
	other := "ff" + hex[2:]
	if hex[:2] == "ff" {
		other = "00" + hex[2:]
	}
	plant := []string{
		filepath.Join("blobs", "sha256", hex[:2], ".tmp-abc"),
		filepath.Join("blobs", "sha256", hex[:2], other),     // wrong prefix dir
		filepath.Join("blobs", "sha256", hex[:2], hex[:63]),  // too short
		filepath.Join("blobs", "sha256", "zz", "zz"+hex[2:]), // not a prefix dir
		filepath.Join("blobs", "sha256", hex[:2]+"0", hex),   // likewise
		filepath.Join("blobs", "md5", hex[:2], hex[:32]),     // unknown algorithm
		filepath.Join("blobs", "sha512", hex[:2], hex),       // wrong length
		filepath.Join("blobs", "sha256", "README"),           // junk
		filepath.Join("uploads", "not an id"),                // junk
	}
	for _, p := range plant {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int64{}
	if err := s.Walk(ctx, func(d string, n int64) error { got[d] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[d] != int64(len(data)) {
		t.Errorf("Walk = %v, want only %s", got, d)
	}
	if ids, err := s.ListUploads(ctx); err != nil || !slices.Equal(ids, []string{"u"}) {
		t.Errorf("ListUploads = %q, %v", ids, err)
	}
}

// TestCommitReplacesDamagedBlob: a file of the wrong size at the blob's path
// (a damaged disk, a manual copy gone wrong) is replaced by Commit.
func TestCommitReplacesDamagedBlob(t *testing.T) {
	for _, link := range []bool{true, false} {
		root := t.TempDir()
		s := open(t, root)
		s.link = link && hardLinks
		data := []byte("the right content")
		appendAt(t, s, "u", 0, data)
		d := blobtest.Digest("sha256", data)
		final := blobFile(root, d)
		os.MkdirAll(filepath.Dir(final), 0o755)
		if err := os.WriteFile(final, []byte("trunc"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, "u", d); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got := readFile(t, final); !bytes.Equal(got, data) {
			t.Errorf("link=%v: blob = %q", s.link, got)
		}
		ents, _ := os.ReadDir(filepath.Dir(final))
		if len(ents) != 1 {
			t.Errorf("link=%v: blob directory holds %d entries", s.link, len(ents))
		}
	}
}

// BenchmarkAppend256MiB measures Append (with its fsync) of a 256 MiB upload
// streamed from a generator.
func BenchmarkAppend256MiB(b *testing.B) {
	const size = 256 << 20
	s := open(b, b.TempDir())
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		n, err := s.Append(ctx, "bench", 0, blobtest.Generate(1, size))
		if err != nil || n != size {
			b.Fatalf("Append = %d, %v", n, err)
		}
		b.StopTimer()
		if err := s.Abort(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

type gateReader struct {
	started chan struct{}
	gate    chan struct{}
}

func (r *gateReader) Read(p []byte) (int, error) {
	if r.started != nil {
		close(r.started)
		r.started = nil
	}
	<-r.gate
	return 0, io.EOF
}

// TestSlowAppendBlocksOnlyItsUpload: an Append streaming a slow request
// body holds up no operation on other uploads.
func TestSlowAppendBlocksOnlyItsUpload(t *testing.T) {
	s := open(t, t.TempDir())
	r := &gateReader{started: make(chan struct{}), gate: make(chan struct{})}
	started := r.started
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, "slow", 0, r)
		done <- err
	}()
	<-started
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := range 200 {
			id := "other" + strconv.Itoa(i)
			data := []byte(id)
			_, err := s.Append(ctx, id, 0, bytes.NewReader(data))
			if err == nil {
				err = s.Commit(ctx, id, blobtest.Digest("sha256", data))
			}
			if err == nil {
				err = s.Abort(ctx, id)
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		t.Error("operations on other uploads blocked behind a slow Append")
	}
	close(r.gate)
	if err := <-done; err != nil {
		t.Fatalf("slow Append: %v", err)
	}
	<-finished
}

// TestContractNoSync runs the suite on a store that skips fsync.
func TestContractNoSync(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := NewWithOptions(t.TempDir(), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
