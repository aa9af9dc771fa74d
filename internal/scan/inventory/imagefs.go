package inventory

import (
	"errors"
	"io"
	"io/fs"
	"sort"
)

// imageFS is the squashed filesystem as osv-scalibr's extractors read it
// (scalibrfs.FS: fs.FS, fs.ReadDirFS, fs.StatFS; open files are
// io.ReaderAt and io.Seeker). Paths resolve through symlinks within the
// image, never outside it. Only the kept files have content: a path that
// was not kept does not exist here.
type imageFS struct {
	t  *tree
	sp *spool
}

func (f *imageFS) lookup(op, name string) (*node, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	var parts []string
	if name != "." {
		parts = splitPath(name)
	}
	r, ok, err := f.t.resolve(parts, true, false, 0)
	if err != nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	if !ok {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	base := "."
	if len(r.parts) > 0 {
		base = r.parts[len(r.parts)-1]
	}
	return r.node(), base, nil
}

func (f *imageFS) Open(name string) (fs.File, error) {
	n, base, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	info := n.info(base)
	if n.kind == kindDir {
		return &dirFile{info: info, entries: dirEntries(n)}, nil
	}
	return &openFile{SectionReader: f.sp.section(n.off, n.size), info: info}, nil
}

func (f *imageFS) Stat(name string) (fs.FileInfo, error) {
	n, base, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return n.info(base), nil
}

func (f *imageFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, _, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.kind != kindDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return dirEntries(n), nil
}

func (n *node) info(name string) fileInfo {
	fi := fileInfo{name: name, size: n.size, mode: n.mode}
	switch n.kind {
	case kindDir:
		fi.mode |= fs.ModeDir
		fi.size = 0
	case kindSymlink:
		fi.mode |= fs.ModeSymlink
		fi.size = int64(len(n.target))
	}
	return fi
}

func dirEntries(n *node) []fs.DirEntry {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]fs.DirEntry, len(names))
	for i, name := range names {
		out[i] = fs.FileInfoToDirEntry(n.children[name].info(name))
	}
	return out
}

// openFile is an open kept file.
type openFile struct {
	*io.SectionReader
	info fileInfo
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *openFile) Close() error               { return nil }

// dirFile is an open directory.
type dirFile struct {
	info    fileInfo
	entries []fs.DirEntry
	pos     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.pos += n
	return rest[:n], nil
}
