package inventory

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/scan/inventory/invtest"
)

// FuzzExtract feeds arbitrary bytes as layers: whatever they are, Extract
// returns an inventory or ErrInvalidLayer/ErrLimit, within its limits.
func FuzzExtract(f *testing.F) {
	for _, c := range []compression{plain, gzipped, zstded} {
		f.Add(tarBytes(f, c,
			file("etc/os-release", alpineOSRelease),
			file("lib/apk/db/installed", apkDB("musl@1", "busybox@2")),
			symlink("usr/lib/x", "../../lib"), hardlink("lib/apk/db/copy", "lib/apk/db/installed"),
			whiteout("lib", "gone"), opaque("usr"), symlink("a", "b"), symlink("b", "a"),
			file("a/x", "loop"), dir("var/lib/dpkg/status.d"),
			file("var/lib/dpkg/status", "Package: p\nStatus: install ok installed\nVersion: 1\n"),
			file("app/node_modules/x/package.json", `{"name":"x","version":"1.0.0"}`),
			binFile("bin/exe", []byte("\x7fELF\x02\x01\x01\x00\xff Go buildinf:\x08\x02"), 0o755),
			binFile("opt/a.jar", zipBytes(f, [2]string{"META-INF/maven/g/a/pom.properties", "groupId=g\nartifactId=a\nversion=1\n"}), 0o644),
		))
	}
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00})
	f.Add(bytes.Repeat([]byte{0}, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The same bytes as one layer, and split into two.
		half := len(b) / 2
		for _, ls := range [][]Layer{{blobLayer(b)}, {blobLayer(b[:half]), blobLayer(b[half:])}} {
			inv, err := Extract(context.Background(), ls, Options{
				TempDir:      t.TempDir(),
				MaxFileBytes: 1 << 20, MaxBinaryBytes: 1 << 20, MaxKeptBytes: 4 << 20,
				MaxEntries: 10000, MaxReadBytes: 32 << 20,
			})
			if err != nil {
				if !errors.Is(err, ErrInvalidLayer) && !errors.Is(err, ErrLimit) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				continue
			}
			if inv.Packages == nil || len(inv.Warnings) > maxWarnings {
				t.Fatalf("inventory %+v", inv)
			}
		}
	})
}

// FuzzRustDependencyInfo: whatever a binary's bytes, reading its
// cargo-auditable list returns packages or an error, within maxDepInfo.
func FuzzRustDependencyInfo(f *testing.F) {
	if _, err := exec.LookPath("rustc"); err == nil {
		f.Add(invtest.RustAuditable(f, invtest.AuditableDeps))
	}
	if _, err := exec.LookPath("llvm-mc"); err == nil {
		mac := invtest.RustAuditableObject(f, invtest.TripleMacAMD64, ".dep-v0", invtest.AuditableDeps)
		f.Add(mac)
		f.Add(invtest.RustAuditableObject(f, invtest.TripleWasm, ".dep-v0", invtest.AuditableDeps))
		if _, err := exec.LookPath("llvm-config"); err == nil {
			f.Add(invtest.Universal(f, mac, invtest.RustAuditableObject(f, invtest.TripleMacARM64, ".dep-v0", invtest.AuditableDeps)))
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x07\x06dep-v0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := dependencyInfo(bytes.NewReader(b))
		if err != nil && len(info.Packages) != 0 {
			t.Fatalf("packages with an error: %v", err)
		}
	})
}

// FuzzCheckNDB: checkNDB judges any file without panicking, and accepts
// what rpm's layout allows.
func FuzzCheckNDB(f *testing.F) {
	f.Add(invtest.NDB{}.Write([][]byte{[]byte("header one"), bytes.Repeat([]byte{1}, 300)}))
	f.Add(invtest.NDB{SlotPages: 2, Erased: map[uint32]bool{1: true}}.Write([][]byte{[]byte("a"), []byte("b")}))
	f.Add([]byte("RpmP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkNDBData(bytes.NewReader(b), int64(len(b)))
	})
}

// FuzzRPMDatabase feeds mutated rpm databases (Berkeley DB written by
// db_load, NDB, SQLite, when the tools are there) to the rpm extractor:
// the checks before go-rpmdb must leave it nothing to panic in its
// goroutine (which would end the process), to loop on or to allocate
// without bound for.
func FuzzRPMDatabase(f *testing.F) {
	_, errRPM := exec.LookPath("rpmbuild")
	_, errDB := exec.LookPath("db_load")
	if errRPM == nil && errDB == nil {
		db, h := invtest.RPMBuild(f, el8Packages[:2]...)
		f.Add(invtest.BerkeleyDB(f, h))
		f.Add(invtest.NDB{}.Write(h))
		f.Add(db)
	}
	f.Add(invtest.NDB{}.Write([][]byte{bytes.Repeat([]byte{0x8e}, 64)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, name := range []string{"var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages.db"} {
				_, _ = Extract(ctx, []Layer{blobLayer(tarBytes(t, plain, binFile(name, b, 0o644)))}, Options{TempDir: t.TempDir()})
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the rpm extractor did not return")
		}
	})
}

// FuzzCheckHeader: any blob is judged without panicking, in time linear
// in its size.
func FuzzCheckHeader(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00\x03\xe8\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x02a\x00b\x00"))
	f.Add([]byte("\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x3f\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x10"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = checkHeader(b) })
}
