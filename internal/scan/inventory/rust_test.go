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
