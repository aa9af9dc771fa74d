package inventory

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// auditableDeps is a dependency list in cargo-auditable's format (its
// auditable-serde crate): the root package (the workspace's own, source
// "local"), crates.io dependencies, a build-only one, a path dependency
// and a git one; "kind" defaults to runtime.
const auditableDeps = `{"packages":[
{"name":"hello","version":"0.1.0","source":"local","dependencies":[1,2,3,4,5],"root":true},
{"name":"smallvec","version":"1.6.0","source":"crates.io"},
{"name":"itoa","version":"1.0.10","source":"crates.io","kind":"runtime"},
{"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"},
{"name":"hello-util","version":"0.2.0","source":"local","dependencies":[1]},
{"name":"serde","version":"1.0.0-fork","source":"git"}
]}`

// buildRustAuditable compiles a Rust program with rustc whose .dep-v0
// section holds deps zlib-compressed, the way cargo-auditable embeds it
// (a #[used] static in that link section).
func buildRustAuditable(t testing.TB, deps string) []byte {
	t.Helper()
	needTool(t, "rustc")
	dir := t.TempDir()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(deps))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "deps.z"), z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`#[used]
#[link_section = ".dep-v0"]
static AUDITABLE_VERSION_INFO: [u8; %d] = *include_bytes!("deps.z");

fn main() {
    println!("hello");
}
`, z.Len())
	if err := os.WriteFile(filepath.Join(dir, "main.rs"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command("rustc", "--edition", "2021", "-C", "opt-level=1", "-C", "strip=debuginfo", "-o", out, "main.rs")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rustc: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The linker kept the section as cargo-auditable's readers expect it.
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Section(".dep-v0")
	if s == nil {
		t.Fatal("no .dep-v0 section in the binary")
	}
	if data, err := s.Data(); err != nil || !bytes.Equal(data, z.Bytes()) {
		t.Fatalf(".dep-v0 holds %d bytes (%v), want the %d written", len(data), err, z.Len())
	}
	return b
}

func TestRustAuditableBinary(t *testing.T) {
	bin := buildRustAuditable(t, auditableDeps)
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
	bin := buildRustAuditable(t, `{"packages":[]}`)
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
	bin := buildRustAuditable(t, deps)
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
	inv = extract(t, layers(t, plain, []entry{binFile("bin/big", buildRustAuditable(t, deps), 0o755)}))
	if len(inv.Packages) != 1 || inv.Packages[0].Name != "smallvec" || len(inv.Warnings) != 0 {
		t.Errorf("packages %+v warnings %q", inv.Packages, inv.Warnings)
	}
}
