package inventory

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// The squashed filesystem is a tree of the paths that matter: directories,
// symlinks and the regular files kept for cataloguing. Other regular files
// are not tracked at all (so a whiteout of one is a no-op), which keeps
// memory proportional to what is catalogued, not to the image.

type nodeKind uint8

const (
	kindDir nodeKind = iota + 1
	kindFile
	kindSymlink
)

// Limits of names, as Linux has them: longer paths cannot exist in a
// container's filesystem, so entries beyond them are invalid.
const (
	maxPathLen    = 4096
	maxComponents = 512
	// maxSymlinkHops bounds symlink resolution (Linux gives up after 40;
	// a little slack for images built on other systems).
	maxSymlinkHops = 255
)

var errSymlinkLoop = errors.New("too many levels of symbolic links")

type node struct {
	kind nodeKind
	mode fs.FileMode // permission bits
	// touched is the index of the highest layer that wrote this node or
	// anything under it: whiteouts and opaque directories hide only what
	// lower layers wrote.
	touched int
	// size and off locate a kept file's content in the spool.
	size, off int64
	target    string // a symlink's target, as written
	children  map[string]*node
}

func newDir(layer int) *node {
	return &node{kind: kindDir, mode: 0o755, touched: layer, children: map[string]*node{}}
}

// tree counts its nodes to bound memory on hostile layers.
type tree struct {
	root       *node
	nodes      int
	maxEntries int
}

func newTree(maxEntries int) *tree {
	return &tree{root: newDir(-1), nodes: 1, maxEntries: maxEntries}
}

// errTooManyEntries is wrapped into ErrLimit by the caller.
var errTooManyEntries = errors.New("too many paths")

func (t *tree) count(n int) error {
	t.nodes += n
	if t.nodes > t.maxEntries {
		return errTooManyEntries
	}
	return nil
}

// subtreeSize counts n and its descendants.
func subtreeSize(n *node) int {
	c := 1
	for _, ch := range n.children {
		c += subtreeSize(ch)
	}
	return c
}

func (t *tree) remove(parent *node, name string) {
	if ch, ok := parent.children[name]; ok {
		t.nodes -= subtreeSize(ch)
		delete(parent.children, name)
	}
}

// splitPath cleans a slash-separated path into its components, as seen
// from the image root: "/", "." and ".." never lead outside it.
func splitPath(p string) []string {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// resolved is where a path lands in the tree.
type resolved struct {
	parts []string // real path components (symlinks resolved)
	stack []*node  // nodes from the root to the last component
}

func (r *resolved) node() *node { return r.stack[len(r.stack)-1] }

func (r *resolved) path() string { return strings.Join(r.parts, "/") }

// resolve walks p from the root, following symlinks in every component
// but the last unless followLast, never leaving the root: an absolute
// target restarts at the image root and ".." stops there, as a container
// runtime does when it applies a layer. With create, missing or
// non-directory components become directories (written by layer), the
// last one included: resolve with create is for a directory's path. Without
// create, a missing component yields ok == false.
func (t *tree) resolve(p []string, followLast, create bool, layer int) (r resolved, ok bool, err error) {
	r.stack = []*node{t.root}
	todo := append([]string(nil), p...)
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(r.parts) > 0 {
				r.parts = r.parts[:len(r.parts)-1]
				r.stack = r.stack[:len(r.stack)-1]
			}
			continue
		}
		cur := r.stack[len(r.stack)-1]
		last := len(todo) == 0
		ch := cur.children[c]
		if ch == nil {
			if !create {
				return r, false, nil
			}
			if err := t.count(1); err != nil {
				return r, false, err
			}
			ch = newDir(layer)
			cur.children[c] = ch
		}
		if ch.kind == kindSymlink && (!last || followLast) {
			hops++
			if hops > maxSymlinkHops {
				return r, false, errSymlinkLoop
			}
			tgt := ch.target
			if tgt == "" {
				return r, false, nil // Linux answers ENOENT
			}
			if strings.HasPrefix(tgt, "/") {
				r.parts = r.parts[:0]
				r.stack = r.stack[:1]
			}
			var tp []string
			for _, c := range strings.Split(tgt, "/") {
				if c != "" && c != "." {
					tp = append(tp, c)
				}
			}
			todo = append(tp, todo...)
			if len(todo) > maxComponents*4 {
				return r, false, errSymlinkLoop
			}
			continue
		}
		if !last && ch.kind != kindDir {
			if !create {
				return r, false, nil
			}
			// A layer writing under a path a lower layer made a file: the
			// file gives way to a directory.
			t.remove(cur, c)
			if err := t.count(1); err != nil {
				return r, false, err
			}
			ch = newDir(layer)
			cur.children[c] = ch
		}
		r.parts = append(r.parts, c)
		r.stack = append(r.stack, ch)
	}
	return r, true, nil
}

// touch marks every node of r as written by layer.
func (r *resolved) touch(layer int) {
	for _, n := range r.stack {
		if n.touched < layer {
			n.touched = layer
		}
	}
}

// prune removes what layers below layer wrote under dir (an opaque
// directory), keeping what layer itself wrote.
func (t *tree) prune(dir *node, layer int) {
	for name, ch := range dir.children {
		switch {
		case ch.touched < layer:
			t.remove(dir, name)
		case ch.kind == kindDir:
			t.prune(ch, layer)
		}
	}
}

// walkFiles calls fn for every kept regular file, in path order.
func (t *tree) walkFiles(fn func(p string, n *node) error) error {
	var walk func(prefix string, dir *node) error
	walk = func(prefix string, dir *node) error {
		names := make([]string, 0, len(dir.children))
		for name := range dir.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			ch := dir.children[name]
			p := name
			if prefix != "" {
				p = prefix + "/" + name
			}
			switch ch.kind {
			case kindDir:
				if err := walk(p, ch); err != nil {
					return err
				}
			case kindFile:
				if err := fn(p, ch); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("", t.root)
}
