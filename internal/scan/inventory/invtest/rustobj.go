package invtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Triples of the object files RustAuditableObject assembles.
const (
	TripleMacAMD64 = "x86_64-apple-macosx11.0"
	TripleMacARM64 = "arm64-apple-macosx11.0"
	TripleWasm     = "wasm32-unknown-unknown"
)

// RustAuditableObject assembles, with LLVM's assembler, an object file
// for triple (Mach-O or WebAssembly) whose cargo-auditable section holds
// deps zlib-compressed: rustc here has no standard library for those
// targets, and the readers only look at the section. Mach-O gets
// __DATA,<section>; WebAssembly a custom section of that name.
func RustAuditableObject(t testing.TB, triple, section, deps string) []byte {
	t.Helper()
	mc := llvmTool(t, "llvm-mc")
	dir := t.TempDir()
	z := writeDeps(t, dir, deps)
	directive := `.section __DATA,` + section
	if strings.HasPrefix(triple, "wasm") {
		directive = `.section ".custom_section.` + section + `","",@`
	}
	if err := os.WriteFile(filepath.Join(dir, "deps.s"), []byte(directive+"\n.incbin \"deps.z\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "deps.o")
	cmd := exec.Command(mc, "-triple", triple, "-filetype=obj", "-o", out, "deps.s")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("llvm-mc: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, z) {
		t.Fatal("llvm-mc left the compressed list out")
	}
	return b
}

// Universal joins Mach-O objects of different architectures into a
// universal (fat) binary with llvm-lipo.
func Universal(t testing.TB, objs ...[]byte) []byte {
	t.Helper()
	lipo := llvmTool(t, "llvm-lipo")
	dir := t.TempDir()
	args := []string{"-create", "-output", filepath.Join(dir, "fat")}
	for i, o := range objs {
		p := filepath.Join(dir, "obj"+string(rune('a'+i)))
		if err := os.WriteFile(p, o, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	if b, err := exec.Command(lipo, args...).CombinedOutput(); err != nil {
		t.Fatalf("llvm-lipo: %v\n%s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(dir, "fat"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// llvmTool finds an LLVM tool on PATH or in llvm-config's bin directory
// (Debian puts only some of them on PATH unversioned).
func llvmTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	NeedTool(t, "llvm-config")
	out, err := exec.Command("llvm-config", "--bindir").Output()
	if err != nil {
		t.Fatalf("llvm-config --bindir: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), name)
	if _, err := os.Stat(p); err != nil {
		NeedTool(t, name) // skips or fails with the install hint
	}
	return p
}
