// Package invtest makes the package databases and binaries the image
// inventory's tests (and the scanner's) catalogue, at test time with the
// real tools where there are some: rpmbuild and rpm (rpm headers, SQLite
// databases), Berkeley DB's db_load (rpm's Berkeley DB), rustc (a
// cargo-auditable binary), LLVM's llvm-mc and llvm-lipo (Mach-O and
// WebAssembly ones); NDB with a writer of its own.
package invtest

import (
	"bytes"
	"compress/zlib"
	"database/sql"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/adler32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // rpm's SQLite databases
)

// NeedTool skips the test when an external tool is missing, or fails it
// when WHARF_REQUIRE_TOOLS is set (CI, where scripts/install-tools.sh ran).
func NeedTool(t testing.TB, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		where := "scripts/install-tools.sh installs it"
		if tool == "rustc" {
			where = "the machine's Rust toolchain"
		}
		if os.Getenv("WHARF_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is not on PATH and WHARF_REQUIRE_TOOLS is set (%s)", tool, where)
		}
		t.Skipf("%s is not on PATH (%s)", tool, where)
	}
}

// RPMPkg is a package for rpmbuild.
type RPMPkg struct {
	Name, Version, Release string
	Epoch                  int // 0: no Epoch tag
	License                string
	Source                 string // the source package's name: Name when ""
}

// RPMHeaders builds the packages with rpmbuild, installs them (database
// only) into a new SQLite rpm database and returns their header blobs as
// rpm stored them (the Packages table, by install order): the same blobs
// rpm keeps in its Berkeley DB and NDB databases.
func RPMHeaders(t testing.TB, pkgs ...RPMPkg) [][]byte {
	_, h := RPMBuild(t, pkgs...)
	return h
}

// RPMSQLite is RPMBuild's SQLite database.
func RPMSQLite(t testing.TB, pkgs ...RPMPkg) []byte {
	db, _ := RPMBuild(t, pkgs...)
	return db
}

// RPMBuild returns the SQLite database file and its header blobs.
func RPMBuild(t testing.TB, pkgs ...RPMPkg) ([]byte, [][]byte) {
	t.Helper()
	NeedTool(t, "rpm")
	NeedTool(t, "rpmbuild")
	dir := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	top := filepath.Join(dir, "top")
	var rpms []string
	for _, p := range pkgs {
		var spec strings.Builder
		src := p.Name
		if p.Source != "" {
			src = p.Source
		}
		// A source package of another name makes the binary a subpackage.
		fmt.Fprintf(&spec, "Name: %s\nVersion: %s\nRelease: %s\n", src, p.Version, p.Release)
		if p.Epoch > 0 {
			fmt.Fprintf(&spec, "Epoch: %d\n", p.Epoch)
		}
		fmt.Fprintf(&spec, "Summary: test\nLicense: %s\nBuildArch: noarch\n\n%%description\ntest\n", p.License)
		if src != p.Name {
			fmt.Fprintf(&spec, "\n%%package -n %s\nSummary: test\n%%description -n %s\ntest\n%%files -n %s\n", p.Name, p.Name, p.Name)
		} else {
			spec.WriteString("%files\n")
		}
		f := filepath.Join(dir, p.Name+".spec")
		if err := os.WriteFile(f, []byte(spec.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		run("rpmbuild", "-bb", "--quiet", "--define", "_topdir "+top, f)
		rpms = append(rpms, filepath.Join(top, "RPMS", "noarch", fmt.Sprintf("%s-%s-%s.noarch.rpm", p.Name, p.Version, p.Release)))
	}
	root := filepath.Join(dir, "root")
	db := []string{"--root", root, "--define", "_dbpath /var/lib/rpm", "--define", "_db_backend sqlite"}
	run("rpm", append(db, "--initdb")...)
	// One transaction per package: install order is the list's.
	for _, r := range rpms {
		run("rpm", append(db, "-i", "--justdb", "--nodeps", "--noscripts", "--notriggers", r)...)
	}
	dbFile := filepath.Join(root, "var", "lib", "rpm", "rpmdb.sqlite")
	file, err := os.ReadFile(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := sql.Open("sqlite", "file:"+dbFile+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	rows, err := sdb.Query("SELECT hnum, blob FROM Packages ORDER BY hnum")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var n int
		var b []byte
		if err := rows.Scan(&n, &b); err != nil {
			t.Fatal(err)
		}
		if n != len(out)+1 {
			t.Fatalf("header number %d, want %d", n, len(out)+1)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(pkgs) {
		t.Fatalf("%d headers for %d packages", len(out), len(pkgs))
	}
	return file, out
}

// BerkeleyDB loads the headers into a Berkeley DB hash database with
// db_load, as rpm before 4.16 keeps Packages (CentOS/RHEL 7 and 8, Amazon
// Linux 2, SLES 12/15 before SP3): key the header instance (a native
// endian uint32, from 1), value the header blob; key 0 holds the last
// instance allocated, as rpm's "join key".
func BerkeleyDB(t testing.TB, headers [][]byte) []byte {
	return BerkeleyDBOrder(t, headers, binary.LittleEndian)
}

// BerkeleyDBOrder is BerkeleyDB written in a byte order: big endian is a
// database of an s390x or ppc64 image (rpm's keys and Berkeley DB's own
// pages both in the host's order).
func BerkeleyDBOrder(t testing.TB, headers [][]byte, order binary.AppendByteOrder) []byte {
	t.Helper()
	NeedTool(t, "db_load")
	lorder := 1234
	if order == binary.BigEndian {
		lorder = 4321
	}
	var in bytes.Buffer
	// db_dump's format; rpm's databases have 4 KiB pages.
	fmt.Fprintf(&in, "VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\ndb_lorder=%d\nHEADER=END\n", lorder)
	rec := func(k uint32, v []byte) {
		key := order.AppendUint32(nil, k)
		fmt.Fprintf(&in, " %s\n %s\n", hex.EncodeToString(key), hex.EncodeToString(v))
	}
	rec(0, order.AppendUint32(nil, uint32(len(headers))))
	for i, h := range headers {
		rec(uint32(i+1), h)
	}
	in.WriteString("DATA=END\n")
	dir := t.TempDir()
	out := filepath.Join(dir, "Packages")
	cmd := exec.Command("db_load", "-t", "hash", out)
	cmd.Dir = dir
	cmd.Stdin = &in
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("db_load: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// NDB writes rpm's NDB Packages.db (rpm 4.16+'s "ndb" backend, SUSE's
// default since SLE 15 SP3 / Leap 15.3), laid out as rpm's
// lib/backend/ndb/rpmpkg.c does; the tests' own writer, as no tool here
// writes NDB. Little endian throughout:
//
//   - header, 32 bytes: "RpmP", version 0, generation, slot page count,
//     next package index;
//   - slot pages of 4 KiB, the first starting after the header: 16-byte
//     slots "Slot", package index, block offset, block count (all 0 for a
//     free slot);
//   - after the slot pages, blobs in 16-byte blocks: a head "BlbS",
//     package index, timestamp, length; the header blob; zero padding;
//     a tail of the Adler-32 of head, blob and padding, the length, "BlbE".
type NDB struct {
	SlotPages int
	// Erased are package indexes whose slot and blob were erased (as
	// rpm -e leaves them: a free slot and zeroed blocks).
	Erased map[uint32]bool
}

const (
	ndbBlk      = 16
	ndbPage     = 4096
	ndbHeadSize = 32
)

func le32(b []byte, v ...uint32) {
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
}

func (w NDB) Write(headers [][]byte) []byte {
	pages := max(w.SlotPages, 1)
	slotsEnd := pages * ndbPage
	var blobs []byte
	type slot struct{ idx, off, cnt uint32 }
	var slots []slot
	for i, h := range headers {
		idx := uint32(i + 1)
		cnt := (16 + len(h) + 12 + ndbBlk - 1) / ndbBlk
		off := (slotsEnd + len(blobs)) / ndbBlk
		blk := make([]byte, cnt*ndbBlk)
		le32(blk, 'B'|'l'<<8|'b'<<16|'S'<<24, idx, 1700000000+idx, uint32(len(h)))
		copy(blk[16:], h)
		tail := blk[len(blk)-12:]
		le32(tail, adler32.Checksum(blk[:len(blk)-12]), uint32(len(h)), 'B'|'l'<<8|'b'<<16|'E'<<24)
		if w.Erased[idx] {
			clear(blk)
			slots = append(slots, slot{})
		} else {
			slots = append(slots, slot{idx, uint32(off), uint32(cnt)})
		}
		blobs = append(blobs, blk...)
	}
	f := make([]byte, slotsEnd, slotsEnd+len(blobs))
	le32(f, 'R'|'p'<<8|'m'<<16|'P'<<24, 0, uint32(2*len(headers)+1), uint32(pages), uint32(len(headers)+1))
	// Every slot carries the magic, free ones too.
	for o := ndbHeadSize; o < slotsEnd; o += 16 {
		le32(f[o:], 'S'|'l'<<8|'o'<<16|'t'<<24)
	}
	for i, s := range slots {
		le32(f[ndbHeadSize+16*i+4:], s.idx, s.off, s.cnt)
	}
	return append(f, blobs...)
}

// EVR is an rpm package's version as Packages carry it.
func (p RPMPkg) EVR() string {
	v := p.Version + "-" + p.Release
	if p.Epoch > 0 {
		v = strconv.Itoa(p.Epoch) + ":" + v
	}
	return v
}

// AuditableDeps is a dependency list in cargo-auditable's format (its
// auditable-serde crate): the root package (the workspace's own, source
// "local"), crates.io dependencies, a build-only one, a path dependency
// and a git one; "kind" defaults to runtime.
const AuditableDeps = `{"packages":[
{"name":"hello","version":"0.1.0","source":"local","dependencies":[1,2,3,4,5],"root":true},
{"name":"smallvec","version":"1.6.0","source":"crates.io"},
{"name":"itoa","version":"1.0.10","source":"crates.io","kind":"runtime"},
{"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"},
{"name":"hello-util","version":"0.2.0","source":"local","dependencies":[1]},
{"name":"serde","version":"1.0.0-fork","source":"git"}
]}`

// RustAuditable compiles a Rust program with rustc whose .dep-v0
// section holds deps zlib-compressed, the way cargo-auditable embeds it
// (a #[used] static in that link section).
func RustAuditable(t testing.TB, deps string) []byte {
	t.Helper()
	NeedTool(t, "rustc")
	dir := t.TempDir()
	z := writeDeps(t, dir, deps)
	src := fmt.Sprintf(`#[used]
#[link_section = ".dep-v0"]
static AUDITABLE_VERSION_INFO: [u8; %d] = *include_bytes!("deps.z");

fn main() {
    println!("hello");
}
`, len(z))
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
	if data, err := s.Data(); err != nil || !bytes.Equal(data, z) {
		t.Fatalf(".dep-v0 holds %d bytes (%v), want the %d written", len(data), err, len(z))
	}
	return b
}

// writeDeps writes deps zlib-compressed, as cargo-auditable stores the
// list, to dir/deps.z and returns the compressed bytes.
func writeDeps(t testing.TB, dir, deps string) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(deps))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "deps.z"), z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// RPMSQLiteWAL is an SQLite rpm database whose last transaction, the
// extra header, is still in its write-ahead log (as an image can ship
// rpmdb.sqlite-wal): the database file and the log.
func RPMSQLiteWAL(t testing.TB, db, extra []byte) (file, wal []byte) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "rpmdb.sqlite")
	if err := os.WriteFile(p, db, 0o600); err != nil {
		t.Fatal(err)
	}
	sdb, err := sql.Open("sqlite", "file:"+p)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	sdb.SetMaxOpenConns(1)
	for _, q := range []string{"PRAGMA journal_mode=WAL", "PRAGMA wal_autocheckpoint=0"} {
		if _, err := sdb.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := sdb.Exec("INSERT INTO Packages (blob) VALUES (?)", extra); err != nil {
		t.Fatal(err)
	}
	// Copied while the connection is open: closing would checkpoint.
	file, err = os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if wal, err = os.ReadFile(p + "-wal"); err != nil || len(wal) == 0 {
		t.Fatalf("no write-ahead log (%d bytes): %v", len(wal), err)
	}
	return file, wal
}
