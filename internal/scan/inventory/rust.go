package inventory

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
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
// could otherwise inflate to gigabytes. The compressed section is held to
// the same bound before it is read.
const maxDepInfo = 8 << 20

// depSection is cargo-auditable's section name in every format; the older
// rust-audit names differ by format (as go-rustaudit reads them).
const depSection = ".dep-v0"

// dependencyInfo reads the list from an ELF, PE, Mach-O (thin or
// universal) or WebAssembly binary, every format within maxDepInfo.
// go-rustaudit itself is used only for its types: it inflates the section
// without a limit.
func dependencyInfo(r io.ReaderAt) (rustaudit.VersionInfo, error) {
	var info rustaudit.VersionInfo
	section, err := depSectionData(r)
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

// binSection is a section of any of the formats: its size as the file
// claims it, and its bytes (read only once the size is known to be sane).
type binSection struct {
	size uint64
	data func() ([]byte, error)
}

// depSectionData finds the list's section and reads it. A file of no
// known format is rustaudit.ErrUnknownFileFormat, a binary without the
// section rustaudit.ErrNoRustDepInfo.
func depSectionData(r io.ReaderAt) ([]byte, error) {
	head := make([]byte, 8)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	var sec *binSection
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		f, err := elf.NewFile(r)
		if err != nil {
			return nil, rustaudit.ErrUnknownFileFormat
		}
		sec = firstSection(".rust-deps-v0", func(name string) *binSection {
			if s := f.Section(name); s != nil {
				return &binSection{s.Size, s.Data}
			}
			return nil
		})
	case bytes.HasPrefix(head, []byte("MZ")):
		f, err := pe.NewFile(r)
		if err != nil {
			return nil, rustaudit.ErrUnknownFileFormat
		}
		sec = firstSection("rdep-v0", func(name string) *binSection {
			if s := f.Section(name); s != nil {
				return &binSection{uint64(s.Size), s.Data}
			}
			return nil
		})
	case isMachO(head):
		f, err := macho.NewFile(r)
		if err != nil {
			return nil, rustaudit.ErrUnknownFileFormat
		}
		sec = machoSection(f)
	case bytes.HasPrefix(head, []byte{0xca, 0xfe, 0xba, 0xbe}):
		// A universal binary, or a Java class file (same magic): the
		// latter does not parse as the former.
		ff, err := macho.NewFatFile(r)
		if err != nil {
			return nil, rustaudit.ErrUnknownFileFormat
		}
		for _, a := range ff.Arches {
			if sec = machoSection(a.File); sec != nil {
				break
			}
		}
	case bytes.Equal(head, wasmMagic):
		return wasmDepSection(r)
	default:
		return nil, rustaudit.ErrUnknownFileFormat
	}
	if sec == nil {
		return nil, rustaudit.ErrNoRustDepInfo
	}
	if sec.size > maxDepInfo {
		return nil, fmt.Errorf("section of %d bytes, over %d", sec.size, maxDepInfo)
	}
	return sec.data()
}

// firstSection looks the list's section up by its name, then by the
// format's legacy one.
func firstSection(legacy string, lookup func(string) *binSection) *binSection {
	if s := lookup(depSection); s != nil {
		return s
	}
	return lookup(legacy)
}

func machoSection(f *macho.File) *binSection {
	return firstSection("rust-deps-v0", func(name string) *binSection {
		if s := f.Section(name); s != nil {
			return &binSection{s.Size, s.Data}
		}
		return nil
	})
}

// isMachO reports a thin Mach-O header, 32 or 64 bits, either byte order.
func isMachO(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	switch binary.BigEndian.Uint32(head) {
	case 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe:
		return true
	}
	return false
}

// wasmMagic is the WebAssembly binary magic and version 1.
var wasmMagic = []byte("\x00asm\x01\x00\x00\x00")

// maxWasmSections bounds the sections looked at: a module has one of each
// known kind and a few custom ones, while empty sections cost two bytes
// each.
const maxWasmSections = 10000

// wasmDepSection finds the custom section named .dep-v0 of a module
// (sections: an id byte and a LEB128 size; a custom section, id 0, starts
// with its LEB128-prefixed name).
func wasmDepSection(r io.ReaderAt) ([]byte, error) {
	off := int64(len(wasmMagic))
	for i := 0; i < maxWasmSections; i++ {
		var id [1]byte
		if _, err := r.ReadAt(id[:], off); err == io.EOF {
			return nil, rustaudit.ErrNoRustDepInfo
		} else if err != nil {
			return nil, err
		}
		size, n, err := readULEB32(r, off+1)
		if err != nil {
			return nil, err
		}
		body, end := off+1+n, off+1+n+int64(size)
		if id[0] == 0 {
			nameLen, k, err := readULEB32(r, body)
			if err != nil {
				return nil, err
			}
			if int64(nameLen) == int64(len(depSection)) && k+int64(nameLen) <= int64(size) {
				name := make([]byte, nameLen)
				if _, err := r.ReadAt(name, body+k); err != nil {
					return nil, fmt.Errorf("wasm section name: %w", err)
				}
				if string(name) == depSection {
					dataLen := int64(size) - k - int64(nameLen)
					if dataLen > maxDepInfo {
						return nil, fmt.Errorf("section of %d bytes, over %d", dataLen, maxDepInfo)
					}
					data := make([]byte, dataLen)
					if _, err := r.ReadAt(data, body+k+int64(nameLen)); err != nil {
						return nil, fmt.Errorf("wasm section .dep-v0: %w", err)
					}
					return data, nil
				}
			}
		}
		off = end
	}
	return nil, fmt.Errorf("over %d wasm sections", maxWasmSections)
}

// readULEB32 reads an unsigned LEB128 number of at most 32 bits (5 bytes)
// at off, returning it and its length.
func readULEB32(r io.ReaderAt, off int64) (uint32, int64, error) {
	var b [5]byte
	n, err := r.ReadAt(b[:], off)
	if n == 0 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, fmt.Errorf("wasm: %w", err)
	}
	var v uint64
	for i := 0; i < n; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if v > 1<<32-1 {
				return 0, 0, errors.New("wasm: LEB128 over 32 bits")
			}
			return uint32(v), int64(i + 1), nil
		}
	}
	return 0, 0, errors.New("wasm: truncated or over-long LEB128")
}
