package inventory

import (
	"bytes"
	"debug/elf"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/scan/inventory/invtest"
)

func TestRustAuditableBinary(t *testing.T) {
	bin := invtest.RustAuditable(t, invtest.AuditableDeps)
	// Binaries are found wherever they are, by their executable bit.
	locs := []string{"usr/local/bin/hello", "opt/app/libexec/deep/er/hello-worker", "app", "home/user/.cargo/bin/hello"}
	var es []entry
	for _, l := range locs {
		es = append(es, binFile(l, bin, 0o755))
	}
	// Not executable and no executable's name: not looked at.
	es = append(es, binFile("srv/data/hello", bin, 0o644))
	inv := extract(t, layers(t, gzipped, []entry{file("etc/os-release", debianOSRelease)}, es))
	wantLocs := []string{"/app", "/home/user/.cargo/bin/hello", "/opt/app/libexec/deep/er/hello-worker", "/usr/local/bin/hello"}
	// Only crates.io runtime crates: not the root nor the path
	// dependency (local), not the git one, not the build-only cc.
	want := []Package{
		{Name: "itoa", Version: "1.0.10", Ecosystem: "crates.io", Kind: KindLanguage, PURL: "pkg:cargo/itoa@1.0.10", Locations: wantLocs},
		{Name: "smallvec", Version: "1.6.0", Ecosystem: "crates.io", Kind: KindLanguage, PURL: "pkg:cargo/smallvec@1.6.0", Locations: wantLocs},
	}
	checkPackages(t, inv, want)
}

// A binary without the section, and one whose section is not zlib: none
// reported, the second with a warning.
func TestRustBinaryWithoutDeps(t *testing.T) {
	bin := invtest.RustAuditable(t, `{"packages":[]}`)
	broken := bytes.Clone(bin)
	f, _ := elf.NewFile(bytes.NewReader(broken))
	s := f.Section(".dep-v0")
	copy(broken[s.Offset:], bytes.Repeat([]byte{0xff}, int(s.Size)))
	inv := extract(t, layers(t, plain, []entry{binFile("bin/empty", bin, 0o755), binFile("bin/broken", broken, 0o755)}))
	if len(inv.Packages) != 0 {
		t.Errorf("packages %+v", inv.Packages)
	}
	if len(inv.Warnings) != 1 || !bytes.HasPrefix([]byte(inv.Warnings[0]), []byte("/bin/broken: rust/cargoauditable: ")) {
		t.Errorf("warnings %q", inv.Warnings)
	}
}

// A dependency list that inflates past maxDepInfo (a zlib bomb of a few
// KiB) is refused, not read into memory.
func TestRustAuditableZlibBomb(t *testing.T) {
	deps := `{"packages":[{"name":"smallvec","version":"1.6.0","source":"crates.io"}]` +
		strings.Repeat(" ", maxDepInfo) + `}`
	bin := invtest.RustAuditable(t, deps)
	inv := extract(t, layers(t, plain, []entry{binFile("bin/bomb", bin, 0o755)}))
	if len(inv.Packages) != 0 {
		t.Errorf("packages %+v", inv.Packages)
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], "over 8388608 bytes decompressed") {
		t.Errorf("warnings %q", inv.Warnings)
	}
	// Just under the limit, it is read.
	deps = `{"packages":[{"name":"smallvec","version":"1.6.0","source":"crates.io"}]` +
		strings.Repeat(" ", maxDepInfo-200) + `}`
	inv = extract(t, layers(t, plain, []entry{binFile("bin/big", invtest.RustAuditable(t, deps), 0o755)}))
	if len(inv.Packages) != 1 || inv.Packages[0].Name != "smallvec" || len(inv.Warnings) != 0 {
		t.Errorf("packages %+v warnings %q", inv.Packages, inv.Warnings)
	}
}

// Mach-O (thin and universal) and WebAssembly binaries are read like ELF
// ones, through the same bounded path, legacy section names included.
func TestRustAuditableMachOAndWasm(t *testing.T) {
	mac := invtest.RustAuditableObject(t, invtest.TripleMacAMD64, ".dep-v0", invtest.AuditableDeps)
	legacy := invtest.RustAuditableObject(t, invtest.TripleMacAMD64, "rust-deps-v0", invtest.AuditableDeps)
	arm := invtest.RustAuditableObject(t, invtest.TripleMacARM64, ".dep-v0", invtest.AuditableDeps)
	fat := invtest.Universal(t, mac, arm)
	wasm := invtest.RustAuditableObject(t, invtest.TripleWasm, ".dep-v0", invtest.AuditableDeps)
	for name, bin := range map[string][]byte{"macho": mac, "macho-legacy": legacy, "universal": fat, "wasm": wasm} {
		t.Run(name, func(t *testing.T) {
			inv := extract(t, layers(t, plain, []entry{binFile("usr/bin/"+name, bin, 0o755)}))
			locs := []string{"/usr/bin/" + name}
			checkPackages(t, inv, []Package{
				{Name: "itoa", Version: "1.0.10", Ecosystem: "crates.io", Kind: KindLanguage, PURL: "pkg:cargo/itoa@1.0.10", Locations: locs},
				{Name: "smallvec", Version: "1.6.0", Ecosystem: "crates.io", Kind: KindLanguage, PURL: "pkg:cargo/smallvec@1.6.0", Locations: locs},
			})
			if len(inv.Warnings) != 0 {
				t.Errorf("warnings %q", inv.Warnings)
			}
		})
	}
}

// The zlib bomb of TestRustAuditableZlibBomb, in the formats go-rustaudit
// would have inflated without a limit.
func TestRustAuditableBombOtherFormats(t *testing.T) {
	deps := `{"packages":[{"name":"smallvec","version":"1.6.0","source":"crates.io"}]` +
		strings.Repeat(" ", maxDepInfo) + `}`
	mac := invtest.RustAuditableObject(t, invtest.TripleMacAMD64, ".dep-v0", deps)
	for name, bin := range map[string][]byte{
		"macho":     mac,
		"universal": invtest.Universal(t, mac, invtest.RustAuditableObject(t, invtest.TripleMacARM64, ".dep-v0", deps)),
		"wasm":      invtest.RustAuditableObject(t, invtest.TripleWasm, ".dep-v0", deps),
	} {
		inv := extract(t, layers(t, plain, []entry{binFile("bin/"+name, bin, 0o755)}))
		if len(inv.Packages) != 0 {
			t.Errorf("%s: packages %+v", name, inv.Packages)
		}
		if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], "over 8388608 bytes decompressed") {
			t.Errorf("%s: warnings %q", name, inv.Warnings)
		}
	}
}

// Crafted WebAssembly headers: sizes past the end, over-long LEB128s and
// sections claiming gigabytes end in an error or "no list", never in a
// large allocation or a loop.
func TestWasmDepSectionBounds(t *testing.T) {
	magic := "\x00asm\x01\x00\x00\x00"
	for name, tc := range map[string]struct {
		b    string
		want string // substring of the error
	}{
		"no sections":           {magic, "rust dependency information not found"},
		"section past the end":  {magic + "\x01\x7f", "rust dependency information not found"},
		"truncated size":        {magic + "\x00\x80", "truncated"},
		"over-long LEB128":      {magic + "\x00\x80\x80\x80\x80\x80\x01", "over-long"},
		"size over 32 bits":     {magic + "\x00\xff\xff\xff\xff\x7f", "over 32 bits"},
		"4 GiB .dep-v0":         {magic + "\x00\xff\xff\xff\xff\x0f\x07.dep-v0", "over 8388608"},
		"short .dep-v0":         {magic + "\x00\x20\x07.dep-v0x\x9c", "EOF"},
		"other custom sections": {magic + "\x00\x05\x04name\x00\x02\x01\x00", "rust dependency information not found"},
		"many empty sections":   {magic + strings.Repeat("\x01\x00", maxWasmSections+1), "over 10000 wasm sections"},
	} {
		_, err := dependencyInfo(strings.NewReader(tc.b))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}
