package inventory

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// OCI whiteouts (image-spec layer.md): ".wh.<name>" deletes <name> from
// the layers below; ".wh..wh..opq" makes its directory opaque (hides
// everything lower layers put in it). Other ".wh..wh." names are aufs
// bookkeeping and mean nothing to the final filesystem.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// squasher applies layers in order to the tree, keeping the content of the
// files the cataloguers want.
type squasher struct {
	opts    Options
	t       *tree
	sp      *spool
	cat     *cataloguers
	budget  int64 // uncompressed bytes left to read
	warn    func(format string, args ...any)
	scratch []byte
}

// rawReader remembers the errors of the blob itself, so that they are
// told apart from a layer that does not parse.
type rawReader struct {
	r   io.Reader
	err error
}

func (r *rawReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}

func (s *squasher) layer(ctx context.Context, idx int, l Layer) error {
	rc, err := l.Open(ctx)
	if err != nil {
		return fmt.Errorf("inventory: open layer %s: %w", l.Digest, err)
	}
	defer rc.Close()
	raw := &rawReader{r: rc}
	fail := func(err error) error {
		switch {
		case raw.err != nil:
			return fmt.Errorf("inventory: read layer %s: %w", l.Digest, raw.err)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errReadBudget):
			return fmt.Errorf("%w: %v (%d bytes)", ErrLimit, err, s.opts.MaxReadBytes)
		case errors.Is(err, errSpoolFull):
			return fmt.Errorf("%w: %v (%d bytes)", ErrLimit, err, s.opts.MaxKeptBytes)
		case errors.Is(err, errTooManyEntries):
			return fmt.Errorf("%w: %v (%d)", ErrLimit, err, s.opts.MaxEntries)
		case errors.Is(err, ErrInvalidLayer), errors.Is(err, ErrLimit):
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		return fmt.Errorf("%w: layer %s: %v", ErrInvalidLayer, l.Digest, err)
	}
	dr, err := decompress(raw)
	if err != nil {
		return fail(err)
	}
	defer dr.close()
	tr := tar.NewReader(&countingReader{r: dr, budget: &s.budget})
	for i := 0; ; i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fail(err)
		}
		if err := s.entry(idx, hdr, tr); err != nil {
			return fail(err)
		}
	}
}

// entry applies one tar entry.
func (s *squasher) entry(layer int, hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink, tar.TypeCont:
		return nil // metadata the tar reader has applied already
	}
	if len(hdr.Name) > maxPathLen || len(hdr.Linkname) > maxPathLen {
		s.warn("%.100s...: name longer than %d bytes, ignored", hdr.Name, maxPathLen)
		return nil
	}
	parts := splitPath(hdr.Name)
	if len(parts) > maxComponents {
		s.warn("%.100s...: more than %d path components, ignored", hdr.Name, maxComponents)
		return nil
	}
	if len(parts) == 0 {
		return nil // the root itself
	}
	base := parts[len(parts)-1]
	parent, _, err := s.t.resolve(parts[:len(parts)-1], true, true, layer)
	if err != nil {
		if errors.Is(err, errSymlinkLoop) {
			s.warn("/%s: %v, ignored", hdr.Name, err)
			return nil
		}
		return err
	}
	dir := parent.node()

	if strings.HasPrefix(base, whiteoutPrefix) {
		switch {
		case base == whiteoutOpaque:
			s.t.prune(dir, layer)
		case strings.HasPrefix(base, whiteoutMeta):
		default:
			name := base[len(whiteoutPrefix):]
			if ch, ok := dir.children[name]; ok && ch.touched < layer {
				s.t.remove(dir, name)
			}
		}
		return nil
	}
	parent.touch(layer)

	switch hdr.Typeflag {
	case tar.TypeDir:
		if ch, ok := dir.children[base]; ok && ch.kind == kindDir {
			ch.mode = hdr.FileInfo().Mode().Perm()
			ch.touched = layer
			return nil
		}
		s.t.remove(dir, base)
		d := newDir(layer)
		d.mode = hdr.FileInfo().Mode().Perm()
		dir.children[base] = d
		return s.t.count(1)

	case tar.TypeSymlink:
		s.t.remove(dir, base)
		dir.children[base] = &node{kind: kindSymlink, mode: fs.ModePerm, touched: layer, target: hdr.Linkname}
		return s.t.count(1)

	case tar.TypeLink:
		// The target is a path in the image (resolved like the entry's own
		// parent, its last component not followed); the link shares its
		// content as it is now.
		s.t.remove(dir, base)
		tp := splitPath(hdr.Linkname)
		if len(tp) == 0 {
			return nil
		}
		tgt, ok, err := s.t.resolve(tp, false, false, layer)
		if err != nil || !ok {
			return nil //nolint:nilerr // a dangling or looping link is no file
		}
		n := tgt.node()
		if n.kind != kindFile {
			return nil // not kept, or a directory (hard links to those do not exist)
		}
		p := joinPath(parent.path(), base)
		info := fileInfo{name: base, size: n.size, mode: n.mode}
		if s.cat.wanted(p, info) == wantNone {
			return nil
		}
		cp := *n
		cp.touched = layer
		dir.children[base] = &cp
		return s.t.count(1)

	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		s.t.remove(dir, base)
		p := joinPath(parent.path(), base)
		info := fileInfo{name: base, size: hdr.Size, mode: hdr.FileInfo().Mode().Perm()}
		w := s.cat.wanted(p, info)
		if w == wantNone {
			return nil
		}
		limit := s.opts.MaxFileBytes
		if w == wantBinary {
			limit = s.opts.MaxBinaryBytes
		}
		if hdr.Size > limit {
			s.warn("/%s: %d bytes, over the limit of %d for a catalogued file: not catalogued", p, hdr.Size, limit)
			return nil
		}
		keep, err := s.spoolFile(r, w == wantBinary)
		if err != nil || !keep {
			return err
		}
		off, size, err := s.sp.commit()
		if err != nil {
			return err
		}
		dir.children[base] = &node{kind: kindFile, mode: info.mode, touched: layer, off: off, size: size}
		return s.t.count(1)

	default:
		// Devices and FIFOs: nothing to catalogue, but they replace what
		// was at the path.
		s.t.remove(dir, base)
		return nil
	}
}

func joinPath(dir, base string) string {
	if dir == "" {
		return base
	}
	return dir + "/" + base
}

// Executables are kept only when they carry what the binary cataloguers
// read: Go build information or cargo-auditable's dependency section.
// Most executables (and shared libraries, which FileRequired asks for
// too) have neither, and are not worth keeping.
var binaryMarkers = [][]byte{
	[]byte("\xff Go buildinf:"), // debug/buildinfo's magic
	[]byte(".dep-v0"),           // cargo-auditable's section name (every format)
	[]byte("rust-deps-v0"),      // rust-audit's, before it (ELF, Mach-O)
	[]byte("rdep-v0"),           // and its PE one
}

const maxMarkerLen = 14

// executable magic numbers debug/buildinfo reads: ELF, PE, Mach-O
// (32/64-bit, both byte orders, fat), XCOFF; and WebAssembly, which
// cargo-auditable also writes.
var execMagics = [][]byte{
	[]byte("\x00asm"),
	[]byte("\x7fELF"),
	[]byte("MZ"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf},
	{0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
	{0xca, 0xfe, 0xba, 0xbe},
	{0x01, 0xdf}, {0x01, 0xf7},
}

// spoolFile copies a file's content to the spool. A binary is kept only
// if it starts with an executable magic number and contains a marker.
func (s *squasher) spoolFile(r io.Reader, binary bool) (bool, error) {
	s.sp.begin()
	if !binary {
		_, err := io.CopyBuffer(s.sp, r, s.scratch)
		return err == nil, err
	}
	head := s.scratch[:8]
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	head = head[:n]
	isExec := false
	for _, m := range execMagics {
		if bytes.HasPrefix(head, m) {
			isExec = true
			break
		}
	}
	if !isExec {
		return false, nil // the tar reader skips the rest
	}
	if _, err := s.sp.Write(head); err != nil {
		return false, err
	}
	found := false
	carry := make([]byte, 0, 2*maxMarkerLen)
	carry = append(carry, head...)
	buf := s.scratch
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if _, werr := s.sp.Write(chunk); werr != nil {
				return false, werr
			}
			if !found {
				// Look across the chunk boundary, then in the chunk.
				k := min(n, maxMarkerLen-1)
				carry = append(carry, chunk[:k]...)
				found = containsMarker(carry) || containsMarker(chunk)
				tail := chunk[max(0, n-(maxMarkerLen-1)):]
				carry = append(carry[:0], tail...)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, err
		}
	}
	return found || containsMarker(carry), nil
}

func containsMarker(b []byte) bool {
	for _, m := range binaryMarkers {
		if bytes.Contains(b, m) {
			return true
		}
	}
	return false
}

// fileInfo is the fs.FileInfo of a tar entry or a tree node.
type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi fileInfo) ModTime() time.Time { return time.Time{} }
func (fi fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi fileInfo) Sys() any           { return nil }
