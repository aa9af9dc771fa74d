package inventory

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
	scalibrinv "github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/purl"
	"github.com/rust-secure-code/go-rustaudit"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
)

// rustAuditable reads the dependency list cargo-auditable embeds in a Rust
// binary, as osv-scalibr's cargoauditable does (same files, same name),
// but keeps only the crates that come from crates.io: osv-scalibr also
// reports the workspace's own crates (source "local", the binary's root
// among them) and git or other-registry ones as crates.io packages, which
// crates.io advisories of a same-named crate would then match. Build-only
// dependencies (build scripts, proc-macros: not in the binary) are left
// out, as osv-scalibr does by default.
type rustAuditable struct {
	filesystem.Extractor // FileRequired, Name, Version, Requirements
}

func newRustAuditable(cfg *cpb.PluginConfig) (filesystem.Extractor, error) {
	e, err := cargoauditable.New(cfg)
	if err != nil {
		return nil, err
	}
	return rustAuditable{Extractor: e}, nil
}

func (r rustAuditable) Extract(_ context.Context, in *filesystem.ScanInput) (scalibrinv.Inventory, error) {
	ra, ok := in.Reader.(io.ReaderAt)
	if !ok {
		return scalibrinv.Inventory{}, errors.New("input is not a ReaderAt")
	}
	info, err := dependencyInfo(ra)
	if err != nil {
		if errors.Is(err, rustaudit.ErrUnknownFileFormat) || errors.Is(err, rustaudit.ErrNoRustDepInfo) {
			return scalibrinv.Inventory{}, nil // not a cargo-auditable binary
		}
		return scalibrinv.Inventory{}, fmt.Errorf("cargo-auditable dependency list: %w", err)
	}
	var inv scalibrinv.Inventory
	for _, d := range info.Packages {
		if d.Kind != rustaudit.Runtime || d.Source != "crates.io" {
			continue
		}
		inv.Packages = append(inv.Packages, &extractor.Package{
			Name:     d.Name,
			Version:  d.Version,
			PURLType: purl.TypeCargo,
			Location: extractor.LocationFromPath(in.Path),
		})
	}
	return inv, nil
}

// maxDepInfo bounds the decompressed dependency list (rust-audit-info's
// default limit): the section is zlib, and a crafted one of a few KiB
// could otherwise inflate to gigabytes.
const maxDepInfo = 8 << 20

// dependencyInfo reads the list from an ELF or PE binary's .dep-v0
// section, within maxDepInfo; other formats (Mach-O, WebAssembly: not
// what Linux or Windows images run) go to go-rustaudit as they are.
func dependencyInfo(r io.ReaderAt) (rustaudit.VersionInfo, error) {
	var info rustaudit.VersionInfo
	head := make([]byte, 4)
	if _, err := r.ReadAt(head, 0); err != nil {
		return info, rustaudit.ErrUnknownFileFormat
	}
	// Both formats' sections read the same way.
	var sec interface{ Data() ([]byte, error) }
	switch {
	case bytes.Equal(head, []byte("\x7fELF")):
		f, err := elf.NewFile(r)
		if err != nil {
			return info, rustaudit.ErrUnknownFileFormat
		}
		if s := f.Section(".dep-v0"); s != nil {
			sec = s
		}
	case bytes.Equal(head[:2], []byte("MZ")):
		f, err := pe.NewFile(r)
		if err != nil {
			return info, rustaudit.ErrUnknownFileFormat
		}
		if s := f.Section(".dep-v0"); s != nil {
			sec = s
		}
	default:
		return rustaudit.GetDependencyInfo(r)
	}
	if sec == nil {
		return info, rustaudit.ErrNoRustDepInfo
	}
	section, err := sec.Data()
	if err != nil {
		return info, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(section))
	if err != nil {
		return info, fmt.Errorf("section not zlib: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxDepInfo+1))
	if err != nil {
		return info, fmt.Errorf("decompressing: %w", err)
	}
	if len(b) > maxDepInfo {
		return info, fmt.Errorf("over %d bytes decompressed", maxDepInfo)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("JSON: %w", err)
	}
	return info, nil
}
