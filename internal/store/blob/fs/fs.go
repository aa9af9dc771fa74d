// Package fs is the filesystem implementation of blob.Store.
//
// Layout under the root directory:
//
//	blobs/<alg>/<first 2 hex>/<hex>   committed blobs (alg is sha256 or sha512)
//	uploads/<id>                      data of in-progress uploads
//	.blobstore.lock                   held (flock) by every open Store
//
// Every file name is built from a digest or upload id checked by
// blob.CheckDigest or blob.CheckUploadID, and every file is reached through
// an os.Root, so no operation touches anything outside the root, not even
// through a symbolic link planted inside it.
//
// Append writes an upload in place and fsyncs it. Commit hard-links the
// upload file to the blob's path and fsyncs the directory, so finishing an
// upload costs no copy; where hard links are not available it copies to a
// temporary file in the blob's directory, fsyncs it and renames it. An upload
// that shares its file with a blob is copied before it is written again, so a
// committed blob never changes. Temporary files are named ".tmp-*" (a name no
// digest or upload id can have); New removes those left by a crash.
package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/store/blob"
)

const (
	blobsDir   = "blobs"
	uploadsDir = "uploads"
	lockName   = ".blobstore.lock"
	tempPrefix = ".tmp-"

	// bufSize is the size of the buffers Append streams through: small enough
	// that reading, hashing and writing a buffer stay in the CPU cache (1 MiB
	// buffers halved upload throughput here), large enough to keep syscalls few.
	bufSize = 128 << 10

	// staleTempAge is how old a temporary file must be before New removes it
	// while another Store (another process) has the same root open; with no
	// other Store open, New removes every temporary file.
	staleTempAge = time.Hour

	fileMode = 0o644
	dirMode  = 0o755
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Store is a blob.Store on a local filesystem. Its methods are safe for
// concurrent use; operations on one upload id are serialised.
type Store struct {
	root *os.Root
	lock *os.File

	// link is false when hard links must not be used (platforms without a
	// link count, and tests of the copying path).
	link bool

	mu    sync.Mutex
	locks map[string]*idLock // by upload id, while in use

	// noSync skips fsync of data and directories: writes then survive a
	// crash of the process (the page cache keeps them) but not of the
	// machine. See Options.
	noSync bool

	// dirsSynced records the blob directories whose entries this Store has
	// made durable, so that each costs one directory sync per process.
	dirsSynced sync.Map
}

var _ blob.Store = (*Store)(nil)

// Options tune a Store.
type Options struct {
	// NoSync skips fsync: acknowledged writes survive kill -9 (they are in
	// the page cache, and renames and links are atomic) but not a power
	// loss. It trades machine-crash durability for write bandwidth, as the
	// CNCF distribution registry and zot do by default.
	NoSync bool
}

// New opens (creating it if needed) a store rooted at the directory root and
// removes temporary files left behind by a crash. Every write is fsynced.
func New(root string) (*Store, error) {
	return NewWithOptions(root, Options{})
}

// NewWithOptions is New with options.
func NewWithOptions(root string, opts Options) (*Store, error) {
	if root == "" {
		return nil, errors.New("fs: empty root directory")
	}
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("fs: create root: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("fs: open root: %w", err)
	}
	s := &Store{root: r, link: hardLinks, locks: map[string]*idLock{}, noSync: opts.NoSync}
	if err := s.init(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	dirs := []string{".", blobsDir}
	for _, alg := range blob.Algorithms() {
		dirs = append(dirs, path.Join(blobsDir, alg))
	}
	dirs = append(dirs, uploadsDir)
	for _, d := range dirs {
		if err := s.root.MkdirAll(d, dirMode); err != nil {
			return fmt.Errorf("fs: create %s: %w", d, err)
		}
	}
	// Make the directories durable: each one's entry lives in its parent.
	for _, d := range dirs {
		if err := s.syncDir(d); err != nil {
			return err
		}
	}

	f, err := s.root.OpenFile(lockName, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("fs: open lock file: %w", err)
	}
	s.lock = f
	// Every open Store holds a shared lock. Without another Store open on
	// the root (the exclusive lock is free), every temporary file is left
	// over from a crash; with one, only old ones are surely stale.
	alone, err := tryLockExclusive(f)
	if err != nil {
		return fmt.Errorf("fs: lock root: %w", err)
	}
	if alone {
		err = s.removeTemp(time.Time{})
	}
	if lerr := lockShared(f); lerr != nil {
		return errors.Join(err, fmt.Errorf("fs: lock root: %w", lerr))
	}
	if err != nil || alone {
		return err
	}
	return s.removeTemp(time.Now().Add(-staleTempAge))
}

// Close releases the store. Readers it returned stay usable.
func (s *Store) Close() error {
	var err error
	if s.lock != nil {
		err = s.lock.Close()
	}
	return errors.Join(err, s.root.Close())
}

// removeTemp removes temporary files last modified before cutoff (all of
// them when cutoff is zero) from every directory that may hold one.
func (s *Store) removeTemp(cutoff time.Time) error {
	dirs := []string{uploadsDir}
	for _, alg := range blob.Algorithms() {
		algDir := path.Join(blobsDir, alg)
		dirs = append(dirs, algDir)
		ents, err := s.readDir(algDir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.IsDir() && isPrefixDir(e.Name()) {
				dirs = append(dirs, path.Join(algDir, e.Name()))
			}
		}
	}
	for _, d := range dirs {
		ents, err := s.readDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), tempPrefix) || !e.Type().IsRegular() {
				continue
			}
			if !cutoff.IsZero() {
				fi, err := e.Info()
				if err != nil || fi.ModTime().After(cutoff) {
					continue
				}
			}
			err := s.root.Remove(path.Join(d, e.Name()))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("fs: remove stale temporary file: %w", err)
			}
		}
	}
	return nil
}

func (s *Store) readDir(name string) ([]os.DirEntry, error) {
	d, err := s.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("fs: read %s: %w", name, err)
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("fs: read %s: %w", name, err)
	}
	slices.SortFunc(ents, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// fsync makes a file's data durable, unless the store is NoSync.
func (s *Store) fsync(f *os.File) error {
	if s.noSync {
		return nil
	}
	return f.Sync()
}

// syncDir makes the entries of directory name durable.
func (s *Store) syncDir(name string) error {
	if !syncDirs || s.noSync {
		return nil
	}
	d, err := s.root.Open(name)
	if err != nil {
		return fmt.Errorf("fs: sync %s: %w", name, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fs: sync %s: %w", name, err)
	}
	return nil
}

type idLock struct {
	mu   sync.Mutex
	refs int // guarded by Store.mu
}

// lockID serialises the operations on one upload id (and on no other: an
// Append may stream for minutes). It returns the unlock function.
func (s *Store) lockID(id string) func() {
	s.mu.Lock()
	l := s.locks[id]
	if l == nil {
		l = &idLock{}
		s.locks[id] = l
	}
	l.refs++
	s.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, id)
		}
		s.mu.Unlock()
	}
}

func blobPath(digest string) (dir, file string, err error) {
	alg, hex, err := blob.CheckDigest(digest)
	if err != nil {
		return "", "", err
	}
	dir = path.Join(blobsDir, alg, hex[:2])
	return dir, path.Join(dir, hex), nil
}

func uploadPath(id string) (string, error) {
	if err := blob.CheckUploadID(id); err != nil {
		return "", err
	}
	return path.Join(uploadsDir, id), nil
}

func isPrefixDir(name string) bool {
	return len(name) == 2 && isLowerHex(name)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func notFound(what string) error { return fmt.Errorf("%w: %s", blob.ErrNotFound, what) }

// Stat returns the size of a committed blob.
func (s *Store) Stat(ctx context.Context, digest string) (int64, error) {
	_, name, err := blobPath(digest)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fi, err := s.root.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, notFound(digest)
	}
	if err != nil {
		return 0, fmt.Errorf("fs: stat blob: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("fs: blob %s is not a regular file", digest)
	}
	return fi.Size(), nil
}

// Open opens a committed blob. The reader is an *os.File.
func (s *Store) Open(ctx context.Context, digest string) (blob.Reader, int64, error) {
	_, name, err := blobPath(digest)
	if err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := s.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, notFound(digest)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fs: open blob: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("fs: open blob %s: %w", digest, err)
	}
	return f, fi.Size(), nil
}

// Delete removes a committed blob. An upload it was committed from keeps its
// data.
func (s *Store) Delete(ctx context.Context, digest string) error {
	_, name, err := blobPath(digest)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fs: delete blob: %w", err)
	}
	return nil
}

// Walk calls fn for every committed blob, in order of algorithm and hex.
func (s *Store) Walk(ctx context.Context, fn func(digest string, size int64) error) error {
	for _, alg := range blob.Algorithms() {
		algDir := path.Join(blobsDir, alg)
		prefixes, err := s.readDir(algDir)
		if err != nil {
			return err
		}
		for _, p := range prefixes {
			if !p.IsDir() || !isPrefixDir(p.Name()) {
				continue
			}
			dir := path.Join(algDir, p.Name())
			ents, err := s.readDir(dir)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if err := ctx.Err(); err != nil {
					return err
				}
				digest := alg + ":" + e.Name()
				if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), p.Name()) {
					continue
				}
				if _, _, err := blob.CheckDigest(digest); err != nil {
					continue // temporary or foreign file
				}
				fi, err := e.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted meanwhile
				}
				if err != nil {
					return fmt.Errorf("fs: walk: %w", err)
				}
				if err := fn(digest, fi.Size()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Append writes r to upload id from offset; see blob.Store.
func (s *Store) Append(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	name, err := uploadPath(id)
	if err != nil {
		return 0, err
	}
	if offset < 0 {
		return 0, fmt.Errorf("%w: negative offset %d", blob.ErrInvalid, offset)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	defer s.lockID(id)()

	f, err := s.root.OpenFile(name, os.O_RDWR, 0)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		if offset > 0 {
			return 0, fmt.Errorf("%w: upload %s has no data, offset %d", blob.ErrShortUpload, id, offset)
		}
		f, err = s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
		created = err == nil
		if errors.Is(err, fs.ErrExist) { // created by another process meanwhile
			f, err = s.root.OpenFile(name, os.O_RDWR, 0)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("fs: open upload: %w", err)
	}
	defer func() { f.Close() }()

	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("fs: stat upload: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("fs: upload %s is not a regular file", id)
	}
	if fi.Size() < offset {
		return 0, fmt.Errorf("%w: upload %s holds %d bytes, offset %d", blob.ErrShortUpload, id, fi.Size(), offset)
	}

	if linkCount(fi) > 1 {
		// The file is also a committed blob: write to a copy of its head.
		nf, err := s.detach(name, f, offset)
		if err != nil {
			return 0, err
		}
		f.Close()
		f = nf
	} else if fi.Size() > offset {
		if err := f.Truncate(offset); err != nil {
			return 0, fmt.Errorf("fs: truncate upload: %w", err)
		}
	}

	n, err := writeAt(ctx, f, offset, r, !s.noSync)
	if err != nil {
		return n, err
	}
	if err := s.fsync(f); err != nil {
		return 0, fmt.Errorf("fs: sync upload: %w", err)
	}
	if created {
		if err := s.syncDir(uploadsDir); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// writebackWindow is how much written data is handed to the kernel's
// writeback at a time during an upload.
const writebackWindow = 8 << 20

// writeAt copies r to f from offset in writes of up to bufSize bytes and
// returns the bytes written. With more than one CPU the reads (which hash:
// r is the service's digesting reader) and the writes (the copy into the
// page cache, as costly as the hash) run on two goroutines, so a single
// push uses two cores; on one CPU the handoff would only cost.
func writeAt(ctx context.Context, f *os.File, offset int64, r io.Reader, writeback bool) (int64, error) {
	if runtime.GOMAXPROCS(0) < 2 {
		return writeAtSerial(ctx, f, offset, r, writeback)
	}
	return writeAtPipelined(ctx, f, offset, r, writeback)
}

// fileWriter writes consecutive buffers to f from an offset, handing each
// writebackWindow to the kernel's writeback when asked to.
type fileWriter struct {
	f          *os.File
	offset     int64
	writeback  bool
	n, flushed int64
}

func (w *fileWriter) write(b []byte) error {
	m, err := w.f.WriteAt(b, w.offset+w.n)
	w.n += int64(m)
	if err != nil {
		return fmt.Errorf("fs: write upload: %w", err)
	}
	if w.writeback && w.n-w.flushed >= writebackWindow {
		startWriteback(w.f, w.offset+w.flushed, w.n-w.flushed)
		w.flushed = w.n
	}
	return nil
}

func writeAtSerial(ctx context.Context, f *os.File, offset int64, r io.Reader, writeback bool) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	w := fileWriter{f: f, offset: offset, writeback: writeback}
	for {
		if err := ctx.Err(); err != nil {
			return w.n, err
		}
		m, rerr := fill(r, buf)
		if m > 0 {
			if err := w.write(buf[:m]); err != nil {
				return w.n, err
			}
		}
		if rerr == io.EOF {
			return w.n, nil
		}
		if rerr != nil {
			return w.n, rerr
		}
	}
}

// pipelineDepth is how many buffers circulate between the reading and the
// writing goroutine of writeAtPipelined.
const pipelineDepth = 3

func writeAtPipelined(ctx context.Context, f *os.File, offset int64, r io.Reader, writeback bool) (int64, error) {
	type chunk struct {
		bp *[]byte
		n  int
	}
	free := make(chan *[]byte, pipelineDepth)
	for range pipelineDepth {
		free <- bufPool.Get().(*[]byte)
	}
	full := make(chan chunk, pipelineDepth)
	failed := make(chan struct{}) // closed when a write fails
	w := fileWriter{f: f, offset: offset, writeback: writeback}
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range full {
			if werr == nil {
				if werr = w.write((*c.bp)[:c.n]); werr != nil {
					close(failed)
				}
			}
			free <- c.bp
		}
	}()
	var rerr error
	for rerr == nil {
		if err := ctx.Err(); err != nil {
			rerr = err
			break
		}
		var bp *[]byte
		select {
		case bp = <-free:
		case <-failed:
		}
		if bp == nil {
			break
		}
		var m int
		m, rerr = fill(r, *bp)
		if m > 0 {
			full <- chunk{bp, m}
		} else {
			free <- bp
		}
	}
	close(full)
	<-done
	for range pipelineDepth {
		bufPool.Put(<-free)
	}
	switch {
	case werr != nil:
		return w.n, werr
	case rerr == io.EOF:
		return w.n, nil
	default:
		return w.n, rerr
	}
}

// fill reads from r until buf is full or r returns an error (io.EOF
// included), unlike io.ReadFull, which turns a reader's own
// io.ErrUnexpectedEOF (a truncated request body) into a clean end.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// detach replaces upload file name, open as f and shared with a committed
// blob, by a new file holding its first size bytes, and returns the new file
// open for writing. The blob keeps the old file.
func (s *Store) detach(name string, f *os.File, size int64) (*os.File, error) {
	tmp, nf, err := s.createTemp(uploadsDir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			nf.Close()
			s.root.Remove(tmp)
		}
	}()
	// f is at position 0; a LimitedReader of an *os.File lets the copy use
	// copy_file_range.
	n, err := io.Copy(nf, io.LimitReader(f, size))
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("fs: copy upload (%d of %d bytes): %w", n, size, err)
	}
	if err := s.fsync(nf); err != nil {
		return nil, fmt.Errorf("fs: sync upload: %w", err)
	}
	if err := s.root.Rename(tmp, name); err != nil {
		return nil, fmt.Errorf("fs: replace upload: %w", err)
	}
	ok = true
	if err := s.syncDir(uploadsDir); err != nil {
		nf.Close()
		return nil, err
	}
	return nf, nil
}

// createTemp creates a new temporary file in directory dir.
func (s *Store) createTemp(dir string) (string, *os.File, error) {
	var rnd [12]byte
	for range 10 {
		rand.Read(rnd[:])
		name := path.Join(dir, tempPrefix+hex.EncodeToString(rnd[:]))
		f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("fs: create temporary file: %w", err)
		}
		return name, f, nil
	}
	return "", nil, errors.New("fs: create temporary file: too many collisions")
}

// ReadUpload opens the data of upload id. The reader is an *os.File.
func (s *Store) ReadUpload(ctx context.Context, id string) (io.ReadCloser, error) {
	name, err := uploadPath(id)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound("upload " + id)
	}
	if err != nil {
		return nil, fmt.Errorf("fs: open upload: %w", err)
	}
	return f, nil
}

// Commit makes upload id readable as digest; see blob.Store.
func (s *Store) Commit(ctx context.Context, id, digest string) error {
	src, err := uploadPath(id)
	if err != nil {
		return err
	}
	dir, dst, err := blobPath(digest)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.lockID(id)()

	fi, err := s.root.Stat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return notFound("upload " + id)
	}
	if err != nil {
		return fmt.Errorf("fs: stat upload: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("fs: upload %s is not a regular file", id)
	}
	if err := s.mkdirDurable(dir); err != nil {
		return err
	}

	if s.link {
		err := s.root.Link(src, dst)
		switch {
		case err == nil:
			return s.syncDir(dir)
		case errors.Is(err, fs.ErrExist):
			if cur, err := s.root.Lstat(dst); err == nil && cur.Mode().IsRegular() && cur.Size() == fi.Size() {
				// Already there. Sync anyway: the entry may come from a
				// Commit that crashed before its own sync.
				return s.syncDir(dir)
			}
			// Something else is in the way (a damaged blob): replace it.
		case !linkUnsupported(err):
			return fmt.Errorf("fs: link blob: %w", err)
		}
	}
	return s.replace(ctx, src, dir, dst)
}

// replace puts a copy (or a hard link) of src at dst through a temporary file
// in dst's directory dir, and syncs dir.
func (s *Store) replace(ctx context.Context, src, dir, dst string) error {
	tmp, err := s.placeTemp(ctx, src, dir)
	if err != nil {
		return err
	}
	if err := s.root.Rename(tmp, dst); err != nil {
		s.root.Remove(tmp)
		return fmt.Errorf("fs: rename blob: %w", err)
	}
	return s.syncDir(dir)
}

// placeTemp makes a temporary file in dir with the content of src, durable,
// and returns its name.
func (s *Store) placeTemp(ctx context.Context, src, dir string) (string, error) {
	if s.link {
		var rnd [12]byte
		rand.Read(rnd[:])
		tmp := path.Join(dir, tempPrefix+hex.EncodeToString(rnd[:]))
		err := s.root.Link(src, tmp)
		if err == nil {
			return tmp, nil // src was synced by Append
		}
		if !linkUnsupported(err) {
			return "", fmt.Errorf("fs: link blob: %w", err)
		}
	}
	in, err := s.root.Open(src)
	if err != nil {
		return "", fmt.Errorf("fs: open upload: %w", err)
	}
	defer in.Close()
	tmp, out, err := s.createTemp(dir)
	if err != nil {
		return "", err
	}
	err = copyCtx(ctx, out, in)
	if err == nil {
		err = s.fsync(out)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.root.Remove(tmp)
		return "", fmt.Errorf("fs: copy blob: %w", err)
	}
	return tmp, nil
}

// copyCtx copies in to out in large steps (copy_file_range where the system
// has it), checking ctx between steps.
func copyCtx(ctx context.Context, out, in *os.File) error {
	const step = 64 << 20
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := io.CopyN(out, in, step)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// mkdirDurable creates directory dir (blobs/<alg>/<xx>, whose parent exists)
// if needed, and makes its entry durable. An existing directory is synced
// too, once per Store: it may come from a process that crashed before its
// own sync.
func (s *Store) mkdirDurable(dir string) error {
	if _, ok := s.dirsSynced.Load(dir); ok {
		return nil
	}
	err := s.root.Mkdir(dir, dirMode)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("fs: create %s: %w", dir, err)
	}
	if err := s.syncDir(path.Dir(dir)); err != nil {
		return err
	}
	s.dirsSynced.Store(dir, struct{}{})
	return nil
}

// Abort removes the data of upload id.
func (s *Store) Abort(ctx context.Context, id string) error {
	name, err := uploadPath(id)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.lockID(id)()
	if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fs: abort upload: %w", err)
	}
	return nil
}

// ListUploads returns the ids of the uploads that have data, sorted.
func (s *Store) ListUploads(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := s.readDir(uploadsDir)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, e := range ents {
		if e.Type().IsRegular() && blob.CheckUploadID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}
