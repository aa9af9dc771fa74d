package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/php/composerlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargolock"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	scalibrinv "github.com/google/osv-scalibr/inventory"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
)

// The cataloguers: osv-scalibr's filesystem extractors for the ecosystems
// Wharf scans, each imported on its own (the library's full plugin list
// would bring container runtimes, gRPC and cloud clients into the binary),
// plus javaArchives (see java.go).
type cataloguers struct {
	plain  []filesystem.Extractor // want a file by its path
	binary []filesystem.Extractor // want executables: kept only with build info
}

type want uint8

const (
	wantNone want = iota
	wantPlain
	wantBinary
)

// osReleasePaths are kept for the distribution (and the OS extractors,
// which read it through the filesystem).
var osReleasePaths = []string{"etc/os-release", "usr/lib/os-release"}

func newCataloguers(tempDir string) (*cataloguers, error) {
	// Size limits are the squasher's (Options); the extractors get none.
	cfg := &cpb.PluginConfig{}
	c := &cataloguers{}
	add := func(dst *[]filesystem.Extractor, mk func(*cpb.PluginConfig) (filesystem.Extractor, error), keep func(string) bool) error {
		e, err := mk(cfg)
		if err != nil {
			return err
		}
		if keep != nil {
			e = filtered{Extractor: e, keep: keep}
		}
		*dst = append(*dst, e)
		return nil
	}
	for _, x := range []struct {
		mk   func(*cpb.PluginConfig) (filesystem.Extractor, error)
		keep func(string) bool
	}{
		{dpkg.New, nil},
		{apk.New, nil},
		{func(cfg *cpb.PluginConfig) (filesystem.Extractor, error) {
			e, err := rpm.New(cfg)
			return rpmDB{Extractor: e, tempDir: tempDir}, err
		}, nil},
		{packagelockjson.New, nil},
		{packagejson.New, installedNodeModule},
		{wheelegg.New, notWheel},
		{gemspec.New, installedGemspec},
		{cargolock.New, nil},
		{composerlock.New, nil},
	} {
		if err := add(&c.plain, x.mk, x.keep); err != nil {
			return nil, err
		}
	}
	c.plain = append(c.plain, javaArchives{tempDir: tempDir})
	for _, mk := range []func(*cpb.PluginConfig) (filesystem.Extractor, error){gobinary.New, newRustAuditable} {
		if err := add(&c.binary, mk, nil); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// filtered narrows an extractor's FileRequired to what is installed in an
// image, where osv-scalibr's own rules (made for source trees as much as
// for images) would report files that are no installed package.
type filtered struct {
	filesystem.Extractor
	keep func(path string) bool
}

func (f filtered) FileRequired(api filesystem.FileAPI) bool {
	return f.keep(api.Path()) && f.Extractor.FileRequired(api)
}

// installedNodeModule is the manifest of an installed npm package,
// node_modules/<name>/package.json or node_modules/@scope/<name>/package.json:
// not an application's own package.json (no npm package, or a private one)
// nor the test fixtures packages ship.
func installedNodeModule(p string) bool {
	dir := path.Dir(p)
	parent := path.Dir(dir)
	if path.Base(parent) == "node_modules" {
		return true
	}
	return strings.HasPrefix(path.Base(parent), "@") && path.Base(path.Dir(parent)) == "node_modules"
}

// notWheel: a .whl file is a package not installed (pip's cache, a build
// artefact); installed ones have .dist-info/.egg-info metadata.
func notWheel(p string) bool { return !strings.HasSuffix(p, ".whl") }

// installedGemspec is an installed gem's specification,
// <gem home>/specifications/<name>-<version>.gemspec, not the gemspec a
// gem's source tree carries.
func installedGemspec(p string) bool { return path.Base(path.Dir(p)) == "specifications" }

// rpmDirs are where rpm keeps its database (as the rpm extractor knows).
var rpmDirs = []string{"usr/lib/sysimage/rpm", "var/lib/rpm", "usr/share/rpm"}

// isRPMWAL is an SQLite rpm database's write-ahead log, whose commits
// are part of the database until checkpointed.
func isRPMWAL(p string) bool {
	return path.Base(p) == "rpmdb.sqlite-wal" && slices.Contains(rpmDirs, path.Dir(p))
}

// rpmDB runs the rpm extractor, which opens its database by a real path
// (SQLite, Berkeley DB and NDB readers want files), on a copy of the
// database in the scan's temporary directory, next to its write-ahead log
// when there is one.
type rpmDB struct {
	filesystem.Extractor
	tempDir string
}

func (r rpmDB) Extract(ctx context.Context, in *filesystem.ScanInput) (scalibrinv.Inventory, error) {
	root, err := os.MkdirTemp(r.tempDir, "wharf-rpmdb-*")
	if err != nil {
		return scalibrinv.Inventory{}, err
	}
	defer os.RemoveAll(root)
	files := []string{in.Path}
	if path.Base(in.Path) == "rpmdb.sqlite" {
		files = append(files, in.Path+"-wal")
	}
	for _, p := range files {
		if err := copyOut(in.FS, p, filepath.Join(root, filepath.FromSlash(p))); err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != in.Path {
				continue
			}
			return scalibrinv.Inventory{}, err
		}
	}
	if err := checkRPMDB(filepath.Join(root, filepath.FromSlash(in.Path))); err != nil {
		return scalibrinv.Inventory{}, err
	}
	cp := *in
	cp.Root = root
	inv, err := r.Extractor.Extract(ctx, &cp)
	if err != nil {
		// The copy's directory means nothing to the image's owner.
		err = errors.New(strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "/"))
	}
	return inv, err
}

func copyOut(fsys fs.FS, p, dst string) error {
	src, err := fsys.Open(p)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fileAPI is filesystem.FileAPI for a path and its tar header or node.
type fileAPI struct {
	path string
	info fs.FileInfo
}

func (a fileAPI) Path() string               { return a.path }
func (a fileAPI) Stat() (fs.FileInfo, error) { return a.info, nil }

// wanted tells whether a regular file is to be kept, and how.
func (c *cataloguers) wanted(p string, info fileInfo) want {
	if slices.Contains(osReleasePaths, p) || isRPMWAL(p) {
		return wantPlain
	}
	api := fileAPI{path: p, info: info}
	for _, e := range c.plain {
		if e.FileRequired(api) {
			return wantPlain
		}
	}
	for _, e := range c.binary {
		if e.FileRequired(api) {
			return wantBinary
		}
	}
	return wantNone
}

// run runs the extractors over every kept file of the squashed filesystem.
func (c *cataloguers) run(ctx context.Context, fsys *imageFS, warn func(string, ...any)) ([]*extractor.Package, error) {
	var out []*extractor.Package
	all := slices.Concat(c.plain, c.binary)
	err := fsys.t.walkFiles(func(p string, n *node) error {
		info := n.info(path.Base(p))
		api := fileAPI{path: p, info: info}
		for _, e := range all {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !e.FileRequired(api) {
				continue
			}
			inv, err := safeExtract(ctx, e, &filesystem.ScanInput{
				FS:     fsys,
				Path:   p,
				Info:   info,
				Reader: &openFile{SectionReader: fsys.sp.section(n.off, n.size), info: info},
			})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				warn("/%s: %s: %v", p, e.Name(), err)
			}
			for _, pkg := range inv.Packages {
				pkg.Plugins = append(pkg.Plugins, e.Name())
			}
			out = append(out, inv.Packages...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return out, nil
}

// safeExtract runs an extractor on content from the image, which may be
// crafted: a parser's panic is the file's error, not the process's end.
func safeExtract(ctx context.Context, e filesystem.Extractor, in *filesystem.ScanInput) (inv scalibrinv.Inventory, err error) {
	defer func() {
		if r := recover(); r != nil {
			inv, err = scalibrinv.Inventory{}, fmt.Errorf("extractor panicked: %v", r)
		}
	}()
	return e.Extract(ctx, in)
}
