package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/osv-scalibr/extractor/filesystem/os/osrelease"
	scalibrlog "github.com/google/osv-scalibr/log"
)

// Cataloguer is Inventory.Cataloguer for inventories this code extracts.
// Bump the first part when a change would catalogue an image differently,
// so stored inventories can be told to be re-extracted (2: cargo-auditable
// binaries list crates.io crates only; 3: Mach-O and WebAssembly ones, and
// rust-audit's older section names, are read too).
const Cataloguer = "wharf-inventory/3 osv-scalibr/v0.5.3"

var (
	// ErrInvalidLayer: a layer is not a (gzip or zstd compressed) tar.
	ErrInvalidLayer = errors.New("inventory: invalid layer")
	// ErrLimit: the image exceeds one of Options' limits.
	ErrLimit = errors.New("inventory: image exceeds a scan limit")
)

// Options bound what Extract reads and keeps. Zero values take the defaults.
type Options struct {
	// Platform is copied to Inventory.Platform (os/arch[/variant]).
	Platform string
	// MaxFileBytes is the largest file parsed (package databases,
	// lockfiles, archives; default 64 MiB). A larger one is not catalogued
	// and gets a warning.
	MaxFileBytes int64
	// MaxBinaryBytes is the largest executable read for build information
	// (default 512 MiB): it is read by offset, never loaded whole.
	MaxBinaryBytes int64
	// MaxKeptBytes bounds the content kept on disk for cataloguing
	// (default 2 GiB); beyond it Extract fails with ErrLimit.
	MaxKeptBytes int64
	// MaxEntries bounds the paths tracked (directories, symlinks, kept
	// files; default 2^20); beyond it Extract fails with ErrLimit.
	MaxEntries int
	// MaxReadBytes bounds the uncompressed bytes read from all layers
	// (default 64 GiB): a decompression bomb fails with ErrLimit.
	MaxReadBytes int64
	// TempDir holds the kept content (an unlinked file; "" is os.TempDir).
	TempDir string
	// Logger gets debug messages (nil: slog.Default()).
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 64 << 20
	}
	if o.MaxBinaryBytes <= 0 {
		o.MaxBinaryBytes = 512 << 20
	}
	if o.MaxKeptBytes <= 0 {
		o.MaxKeptBytes = 2 << 30
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 1 << 20
	}
	if o.MaxReadBytes <= 0 {
		o.MaxReadBytes = 64 << 30
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// maxWarnings bounds Inventory.Warnings (a hostile image could earn one
// per entry).
const maxWarnings = 100

// Extract reads the layers in order and returns the inventory of the final
// filesystem: each layer's tar entries applied over the lower ones (a
// whiteout deletes, an opaque directory hides what is below, a later file
// replaces), keeping only the files a cataloguer wants, then osv-scalibr's
// extractors run over them. Layers are streamed, never held in memory.
//
// A layer that is no tar yields ErrInvalidLayer, an image beyond a limit
// ErrLimit; an error of Layer.Open or of reading a blob is returned
// wrapped. A package database that does not parse is no error: it is
// skipped with a warning in Inventory.Warnings.
func Extract(ctx context.Context, layers []Layer, opts Options) (*Inventory, error) {
	opts.defaults()
	quietScalibr()
	cat, err := newCataloguers(opts.TempDir)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	sp, err := newSpool(opts.TempDir, opts.MaxKeptBytes)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer sp.Close()

	inv := &Inventory{Platform: opts.Platform, Cataloguer: Cataloguer, Packages: []Package{}}
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		opts.Logger.Debug("inventory: "+msg, "platform", opts.Platform)
		if len(inv.Warnings) < maxWarnings {
			inv.Warnings = append(inv.Warnings, msg)
		}
	}
	s := &squasher{
		opts:    opts,
		t:       newTree(opts.MaxEntries),
		sp:      sp,
		cat:     cat,
		budget:  opts.MaxReadBytes,
		warn:    warn,
		scratch: make([]byte, 256<<10),
	}
	for i, l := range layers {
		if err := s.layer(ctx, i, l); err != nil {
			return nil, err
		}
	}

	fsys := &imageFS{t: s.t, sp: sp}
	if m, err := osrelease.GetOSRelease(fsys); err == nil {
		inv.Distro = distroFromOSRelease(m)
	}
	pkgs, err := cat.run(ctx, fsys, warn)
	if err != nil {
		return nil, err
	}
	inv.Packages = convert(pkgs, inv.Distro)
	return inv, nil
}

var quietOnce sync.Once

// quietScalibr sends osv-scalibr's log (global, to stderr by default) to
// slog at debug level: its messages are about single files ("package has
// no status field") and what matters reaches Inventory.Warnings.
func quietScalibr() {
	quietOnce.Do(func() { scalibrlog.SetLogger(scalibrLogger{}) })
}

type scalibrLogger struct{}

func (scalibrLogger) Errorf(format string, args ...any) { debugf(format, args...) }
func (scalibrLogger) Warnf(format string, args ...any)  { debugf(format, args...) }
func (scalibrLogger) Infof(format string, args ...any)  { debugf(format, args...) }
func (scalibrLogger) Debugf(format string, args ...any) { debugf(format, args...) }
func (scalibrLogger) Error(args ...any)                 { debugf("%s", fmt.Sprint(args...)) }
func (scalibrLogger) Warn(args ...any)                  { debugf("%s", fmt.Sprint(args...)) }
func (scalibrLogger) Info(args ...any)                  { debugf("%s", fmt.Sprint(args...)) }
func (scalibrLogger) Debug(args ...any)                 { debugf("%s", fmt.Sprint(args...)) }

func debugf(format string, args ...any) {
	if l := slog.Default(); l.Enabled(context.Background(), slog.LevelDebug) {
		l.Debug("osv-scalibr: " + fmt.Sprintf(format, args...))
	}
}
