package inventory

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/scan/inventory/invtest"
	"time"
)

// OS releases of images whose rpm database is Berkeley DB (RHEL 8 family,
// Amazon Linux 2, RHEL 7) or NDB (SUSE).
const (
	almaLinux8OSRelease = `NAME="AlmaLinux"
VERSION="8.9 (Midnight Oncilla)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="8.9"
PLATFORM_ID="platform:el8"
PRETTY_NAME="AlmaLinux 8.9 (Midnight Oncilla)"
CPE_NAME="cpe:/o:almalinux:almalinux:8::baseos"
`
	rocky8OSRelease = `NAME="Rocky Linux"
VERSION="8.9 (Green Obsidian)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="8.9"
PLATFORM_ID="platform:el8"
PRETTY_NAME="Rocky Linux 8.9 (Green Obsidian)"
CPE_NAME="cpe:/o:rocky:rocky:8:GA"
`
	rhel7OSRelease = `NAME="Red Hat Enterprise Linux Server"
VERSION="7.9 (Maipo)"
ID="rhel"
ID_LIKE="fedora"
VARIANT="Server"
VARIANT_ID="server"
VERSION_ID="7.9"
PRETTY_NAME="Red Hat Enterprise Linux Server 7.9 (Maipo)"
CPE_NAME="cpe:/o:redhat:enterprise_linux:7.9:GA:server"
`
	amazonLinux2OSRelease = `NAME="Amazon Linux"
VERSION="2"
ID="amzn"
ID_LIKE="centos rhel fedora"
VERSION_ID="2"
PRETTY_NAME="Amazon Linux 2"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"
`
	centos7OSRelease = `NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
CPE_NAME="cpe:/o:centos:centos:7"
`
	leap155OSRelease = `NAME="openSUSE Leap"
VERSION="15.5"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.5"
PRETTY_NAME="openSUSE Leap 15.5"
CPE_NAME="cpe:/o:opensuse:leap:15.5"
`
	tumbleweedOSRelease = `NAME="openSUSE Tumbleweed"
ID="opensuse-tumbleweed"
ID_LIKE="opensuse suse"
VERSION_ID="20240101"
PRETTY_NAME="openSUSE Tumbleweed"
CPE_NAME="cpe:/o:opensuse:tumbleweed:20240101"
`
	sles155OSRelease = `NAME="SLES"
VERSION="15-SP5"
VERSION_ID="15.5"
PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"
ID="sles"
ID_LIKE="suse"
CPE_NAME="cpe:/o:suse:sles:15:sp5"
`
)

// el8Packages and susePackages are what the databases hold: an epoch, a
// binary package of another source, packages without an epoch.
var (
	el8Packages = []invtest.RPMPkg{
		{Name: "openssl-libs", Version: "1.1.1k", Release: "9.el8_7", Epoch: 1, License: "OpenSSL and ASL 2.0", Source: "openssl"},
		{Name: "bash", Version: "4.4.20", Release: "4.el8_6", License: "GPLv3+"},
		{Name: "zlib", Version: "1.2.11", Release: "25.el8", License: "zlib and Boost"},
	}
	susePackages = []invtest.RPMPkg{
		{Name: "libopenssl1_1", Version: "1.1.1l", Release: "150500.17.25.1", License: "OpenSSL", Source: "openssl-1_1"},
		{Name: "bash", Version: "4.4", Release: "150400.27.3.2", License: "GPL-3.0-or-later"},
		{Name: "libz1", Version: "1.2.13", Release: "150500.4.3.1", Epoch: 3, License: "Zlib", Source: "zlib"},
	}
)

// wantRPM is the inventory's view of pkgs found at loc on distro
// (purlDistro as osv-scalibr writes it: ID-VERSION_ID) with ecosystem eco.
// osv-scalibr's purl namespace is the os-release ID, "suse" for SLES.
func wantRPM(pkgs []invtest.RPMPkg, eco, purlDistro, loc string) []Package {
	ns, _, _ := strings.Cut(purlDistro, "-")
	switch {
	case ns == "sles":
		ns = "suse"
	case strings.HasPrefix(purlDistro, "opensuse-"):
		ns = purlDistro[:strings.LastIndexByte(purlDistro, '-')]
	}
	var out []Package
	for _, p := range pkgs {
		src := p.Name
		if p.Source != "" {
			src = p.Source
		}
		purl := "pkg:rpm/" + ns + "/" + p.Name + "@" + p.Version + "-" + p.Release +
			"?arch=noarch&distro=" + purlDistro
		if p.Epoch > 0 {
			purl += "&epoch=" + p.EVR()[:strings.IndexByte(p.EVR(), ':')]
		}
		purl += "&sourcerpm=" + src + "-" + p.Version + "-" + p.Release + ".src.rpm"
		w := Package{Name: p.Name, Version: p.EVR(), Ecosystem: eco, Kind: KindOS, Arch: "noarch",
			PURL: purl, Locations: []string{"/" + loc}, Licenses: []string{p.License}}
		if src != p.Name {
			w.SourceName = src
		}
		out = append(out, w)
	}
	// convert's order: by name.
	sortPackages(out)
	return out
}

func sortPackages(ps []Package) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Name < ps[j-1].Name; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func checkPackages(t *testing.T, inv *Inventory, want []Package) {
	t.Helper()
	if len(inv.Warnings) != 0 {
		t.Errorf("warnings %q", inv.Warnings)
	}
	if len(inv.Packages) != len(want) {
		t.Errorf("%d packages, want %d", len(inv.Packages), len(want))
	}
	for i := range max(len(want), len(inv.Packages)) {
		var g, w Package
		if i < len(inv.Packages) {
			g = inv.Packages[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("package %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestRPMBerkeleyDB reads a Berkeley DB rpm database that Berkeley DB's
// own db_load wrote from real rpm headers, at the paths and on the
// distributions that keep one.
func TestRPMBerkeleyDB(t *testing.T) {
	headers := invtest.RPMHeaders(t, el8Packages...)
	db := invtest.BerkeleyDB(t, headers)
	// The file is what rpm's Berkeley DB backend reads: a hash database
	// (magic 0x061561 at offset 12) whose header blobs, bigger than a
	// quarter page, are on overflow pages as in real databases.
	if len(db) < 512 || binary.LittleEndian.Uint32(db[12:]) != 0x061561 {
		t.Fatalf("db_load wrote no hash database (%d bytes)", len(db))
	}
	for _, h := range headers {
		if len(h) <= 1024 {
			t.Fatalf("a %d-byte header would be stored on its page", len(h))
		}
	}
	for _, c := range []struct {
		name, osRelease, loc, eco, purlDistro, osvEco string
	}{
		{"almalinux 8", almaLinux8OSRelease, "var/lib/rpm/Packages", "AlmaLinux", "almalinux-8.9", "AlmaLinux:8"},
		{"rocky 8", rocky8OSRelease, "var/lib/rpm/Packages", "Rocky Linux", "rocky-8.9", "Rocky Linux:8"},
		{"rhel 7", rhel7OSRelease, "var/lib/rpm/Packages", "Red Hat", "rhel-7.9", "Red Hat:enterprise_linux:7::server"},
		// No OSV ecosystem: packages listed, matched against nothing.
		{"amazon linux 2", amazonLinux2OSRelease, "var/lib/rpm/Packages", "", "amzn-2", ""},
		{"centos 7", centos7OSRelease, "var/lib/rpm/Packages", "", "centos-7", ""},
		// SLES 12 and 15 before SP3 keep Berkeley DB under /usr/lib/sysimage (15) or /var/lib (12).
		{"sles 15 sp2", sles155OSRelease, "usr/lib/sysimage/rpm/Packages", "SUSE", "sles-15.5", "SUSE:Linux Enterprise Server 15 SP5"},
		{"usr/share/rpm", rhel7OSRelease, "usr/share/rpm/Packages", "Red Hat", "rhel-7.9", "Red Hat:enterprise_linux:7::server"},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := extract(t, layers(t, gzipped,
				[]entry{file("etc/os-release", c.osRelease)},
				[]entry{binFile(c.loc, db, 0o644)},
			))
			checkPackages(t, inv, wantRPM(el8Packages, c.eco, c.purlDistro, c.loc))
			if got := inv.Distro.OSVEcosystem(c.eco); got != c.osvEco {
				t.Errorf("OSVEcosystem = %q, want %q", got, c.osvEco)
			}
		})
	}
}

// TestRPMNDB reads NDB databases of the tests' own writer (invtest.NDB: no
// tool on this machine writes NDB) holding real rpm headers.
func TestRPMNDB(t *testing.T) {
	headers := invtest.RPMHeaders(t, susePackages...)
	for _, c := range []struct {
		name, osRelease, loc, eco, purlDistro, osvEco string
		w                                             invtest.NDB
		pkgs                                          []invtest.RPMPkg
	}{
		{"leap 15.5", leap155OSRelease, "usr/lib/sysimage/rpm/Packages.db", "openSUSE", "opensuse-leap-15.5", "openSUSE:Leap 15.5",
			invtest.NDB{}, susePackages},
		{"tumbleweed", tumbleweedOSRelease, "usr/lib/sysimage/rpm/Packages.db", "openSUSE", "opensuse-tumbleweed-20240101", "openSUSE:Tumbleweed",
			invtest.NDB{SlotPages: 2}, susePackages},
		// An erased package: a free slot and zeroed blocks between the others.
		{"sles 15 sp5, one package erased", sles155OSRelease, "var/lib/rpm/Packages.db", "SUSE", "sles-15.5", "SUSE:Linux Enterprise Server 15 SP5",
			invtest.NDB{Erased: map[uint32]bool{2: true}}, []invtest.RPMPkg{susePackages[0], susePackages[2]}},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := extract(t, layers(t, zstded,
				[]entry{file("usr/lib/os-release", c.osRelease), symlink("etc/os-release", "../usr/lib/os-release")},
				[]entry{binFile(c.loc, c.w.Write(headers), 0o644)},
			))
			checkPackages(t, inv, wantRPM(c.pkgs, c.eco, c.purlDistro, c.loc))
			if got := inv.Distro.OSVEcosystem(c.eco); got != c.osvEco {
				t.Errorf("OSVEcosystem = %q, want %q", got, c.osvEco)
			}
		})
	}
}

// TestRPMDatabasePaths: each format is found where rpm keeps it, and only
// there.
func TestRPMDatabasePaths(t *testing.T) {
	headers := invtest.RPMHeaders(t, el8Packages...)
	bdb, ndb := invtest.BerkeleyDB(t, headers), invtest.NDB{}.Write(headers)
	sqlite := invtest.RPMSQLite(t, el8Packages...)
	for _, c := range []struct {
		loc  string
		db   []byte
		want bool
	}{
		{"var/lib/rpm/Packages", bdb, true},
		{"usr/lib/sysimage/rpm/Packages", bdb, true},
		{"usr/share/rpm/Packages", bdb, true},
		{"usr/lib/sysimage/rpm/Packages.db", ndb, true},
		{"var/lib/rpm/Packages.db", ndb, true},
		{"usr/lib/sysimage/rpm/rpmdb.sqlite", sqlite, true},
		{"var/lib/rpm/rpmdb.sqlite", sqlite, true},
		// Not a database rpm reads: a backup, a copy elsewhere.
		{"var/lib/rpm/backup/Packages", bdb, false},
		{"root/Packages.db", ndb, false},
		{"var/lib/rpmrebuilddb.123/rpmdb.sqlite", sqlite, false},
	} {
		t.Run(c.loc, func(t *testing.T) {
			inv := extract(t, layers(t, plain, []entry{file("etc/os-release", almaLinux8OSRelease), binFile(c.loc, c.db, 0o644)}))
			var want []Package
			if c.want {
				want = wantRPM(el8Packages, "AlmaLinux", "almalinux-8.9", c.loc)
			}
			checkPackages(t, inv, want)
		})
	}
}

// Damaged NDB databases are refused before osv-scalibr's reader sees them
// (it would leak a goroutine on each), with a warning naming the image's
// path, not the scan's copy.
func TestRPMNDBDamaged(t *testing.T) {
	headers := invtest.RPMHeaders(t, susePackages...)
	good := invtest.NDB{}.Write(headers)
	le := binary.LittleEndian
	for _, c := range []struct {
		name string
		edit func(b []byte) []byte
		want string
	}{
		{"blob magic", func(b []byte) []byte { b[4096] = 'X'; return b }, "NDB database: bad blob of package 1"},
		{"blob of another package", func(b []byte) []byte { le.PutUint32(b[4096+4:], 7); return b }, "NDB database: bad blob of package 1"},
		{"blob length", func(b []byte) []byte { le.PutUint32(b[4096+12:], 1<<20); return b }, "NDB database: bad blob of package 1"},
		{"slot magic", func(b []byte) []byte { b[32+16*5] = 'X'; return b }, "NDB database: bad slot"},
		{"slot past the end", func(b []byte) []byte { le.PutUint32(b[32+8:], 1<<30); return b }, "NDB database: bad slot"},
		{"slot in the slot pages", func(b []byte) []byte { le.PutUint32(b[32+8:], 3); return b }, "NDB database: bad slot"},
		{"truncated", func(b []byte) []byte { return b[:4096+100] }, "NDB database: bad slot"},
		{"slot pages past the end", func(b []byte) []byte { le.PutUint32(b[12:], 2000); return b }, "NDB database: bad header"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			db := c.edit(bytes.Clone(good))
			inv := extract(t, layers(t, plain, []entry{file("etc/os-release", leap155OSRelease), binFile("usr/lib/sysimage/rpm/Packages.db", db, 0o644)}))
			if len(inv.Packages) != 0 {
				t.Errorf("packages %+v", inv.Packages)
			}
			want := "/usr/lib/sysimage/rpm/Packages.db: os/rpm: " + c.want
			if len(inv.Warnings) != 1 || inv.Warnings[0] != want {
				t.Errorf("warnings %q, want %q", inv.Warnings, want)
			}
			waitGoroutines(t, before)
		})
	}
	// A Berkeley DB that is no such thing: the reader's error, with the
	// image's path.
	inv := extract(t, layers(t, plain, []entry{binFile("var/lib/rpm/Packages", bytes.Repeat([]byte{7}, 8192), 0o644)}))
	if len(inv.Warnings) != 1 || !strings.HasPrefix(inv.Warnings[0], "/var/lib/rpm/Packages: os/rpm: ParseRPMDB(/var/lib/rpm/Packages): ") {
		t.Errorf("warnings %q", inv.Warnings)
	}
}

// waitGoroutines fails when the goroutine count stays above n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The writer's databases pass the check, erased slots and several slot
// pages included.
func TestCheckNDBAcceptsRPMLayout(t *testing.T) {
	for _, w := range []invtest.NDB{{}, {SlotPages: 3}, {Erased: map[uint32]bool{1: true, 3: true}}} {
		p := filepath.Join(t.TempDir(), "Packages.db")
		if err := os.WriteFile(p, w.Write([][]byte{header(1, 0), header(3, 5000), header(1, 7)}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := checkRPMDB(p); err != nil {
			t.Errorf("%+v: %v", w, err)
		}
	}
}

// A big-endian Berkeley DB (an s390x or ppc64 image's) reads the same.
func TestRPMBerkeleyDBBigEndian(t *testing.T) {
	db := invtest.BerkeleyDBOrder(t, invtest.RPMHeaders(t, el8Packages...), binary.BigEndian)
	if binary.BigEndian.Uint32(db[12:]) != 0x061561 {
		t.Fatalf("not a big-endian hash database: % x", db[12:16])
	}
	inv := extract(t, layers(t, gzipped, []entry{file("etc/os-release", rhel7OSRelease), binFile("var/lib/rpm/Packages", db, 0o644)}))
	checkPackages(t, inv, wantRPM(el8Packages, "Red Hat", "rhel-7.9", "var/lib/rpm/Packages"))
}

// An SQLite database's last transaction still in rpmdb.sqlite-wal is
// part of it, wherever rpm keeps its database.
func TestRPMSQLiteWAL(t *testing.T) {
	base, _ := invtest.RPMBuild(t, el8Packages[:2]...)
	extra := invtest.RPMHeaders(t, el8Packages[2])[0]
	db, wal := invtest.RPMSQLiteWAL(t, base, extra)
	for _, dir := range []string{"usr/lib/sysimage/rpm", "var/lib/rpm"} {
		loc := dir + "/rpmdb.sqlite"
		withWAL := extract(t, layers(t, gzipped, []entry{file("etc/os-release", almaLinux8OSRelease)},
			[]entry{binFile(loc, db, 0o644), binFile(loc+"-wal", wal, 0o644)}))
		checkPackages(t, withWAL, wantRPM(el8Packages, "AlmaLinux", "almalinux-8.9", loc))
		// The log is what adds the third package.
		without := extract(t, layers(t, gzipped, []entry{file("etc/os-release", almaLinux8OSRelease), binFile(loc, db, 0o644)}))
		checkPackages(t, without, wantRPM(el8Packages[:2], "AlmaLinux", "almalinux-8.9", loc))
	}
}

// Crafted Berkeley DB databases are refused before the reader, which would
// panic in its own goroutine (ending the process), spin, or grow memory
// until it runs out on them.
func TestRPMBerkeleyDBDamaged(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		good := invtest.BerkeleyDBOrder(t, invtest.RPMHeaders(t, el8Packages...), order.(binary.AppendByteOrder))
		const ps = 4096
		// Overflow pages, and the off-page value items of the hash pages
		// (the header blobs; key 0's value is on its page): each as its
		// page and the place of its offset in the page's index.
		type item struct{ page, at int }
		var items []item
		var hashPage, lastOverflow int
		for p := ps; p+ps <= len(good); p += ps {
			switch good[p+25] {
			case 13:
				n := int(order.Uint16(good[p+20:]))
				if n > 0 && hashPage == 0 {
					hashPage = p
				}
				for i := 1; i < n; i += 2 {
					at := p + 26 + 2*i
					if good[p+int(order.Uint16(good[at:]))] == 3 {
						items = append(items, item{p, at})
					}
				}
			case 7:
				if order.Uint32(good[p+16:]) == 0 && lastOverflow == 0 {
					lastOverflow = p
				}
			}
		}
		if len(items) != len(el8Packages) || hashPage == 0 || lastOverflow == 0 {
			t.Fatalf("%d off-page items, hash page %d, last overflow page %d", len(items), hashPage, lastOverflow)
		}
		put32 := func(b []byte, v uint32) {
			if order == binary.BigEndian {
				binary.BigEndian.PutUint32(b, v)
			} else {
				binary.LittleEndian.PutUint32(b, v)
			}
		}
		put16 := func(b []byte, v uint16) {
			if order == binary.BigEndian {
				binary.BigEndian.PutUint16(b, v)
			} else {
				binary.LittleEndian.PutUint16(b, v)
			}
		}
		// valueOff is where an item is in b.
		valueOff := func(b []byte, it item) int { return it.page + int(order.Uint16(b[it.at:])) }
		first, second := items[0], items[1]
		for _, c := range []struct {
			name string
			edit func(b []byte)
			want string
		}{
			{"overflow page pointing at itself", func(b []byte) {
				put32(b[lastOverflow+16:], uint32(lastOverflow/ps))
			}, "bad overflow chain"},
			{"overflow chain into a hash page", func(b []byte) {
				put32(b[valueOff(b, first)+4:], uint32(hashPage/ps))
			}, "bad overflow page"},
			{"overflow chain past the last page", func(b []byte) {
				put32(b[valueOff(b, first)+4:], 1<<20)
			}, "bad overflow chain"},
			{"two items sharing a chain", func(b []byte) {
				copy(b[valueOff(b, second)+4:][:4], b[valueOff(b, first)+4:][:4])
			}, "bad overflow chain"},
			{"item offset past the page", func(b []byte) { put16(b[first.at:], ps+10) }, "bad item on page"},
			{"last overflow page longer than a page", func(b []byte) { put16(b[lastOverflow+22:], ps) }, "bad overflow page"},
			{"odd item count", func(b []byte) { put16(b[hashPage+20:], 3) }, "bad hash page"},
			{"pages past the end", func(b []byte) { put32(b[32:], 1<<20) }, "truncated"},
		} {
			t.Run(fmt.Sprint(order, " ", c.name), func(t *testing.T) {
				db := bytes.Clone(good)
				c.edit(db)
				before := runtime.NumGoroutine()
				inv := extract(t, layers(t, plain, []entry{file("etc/os-release", rhel7OSRelease), binFile("var/lib/rpm/Packages", db, 0o644)}))
				if len(inv.Packages) != 0 {
					t.Errorf("packages %+v", inv.Packages)
				}
				want := "/var/lib/rpm/Packages: os/rpm: Berkeley DB database: " + c.want
				if len(inv.Warnings) != 1 || !strings.HasPrefix(inv.Warnings[0], want) {
					t.Errorf("warnings %q, want %q...", inv.Warnings, want)
				}
				waitGoroutines(t, before)
			})
		}
	}
}

// header is a header blob of il zero index entries and dl bytes of data:
// only its counts are looked at before the reader.
func header(il, dl int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(il))
	b = binary.BigEndian.AppendUint32(b, uint32(dl))
	return append(b, make([]byte, 16*il+dl)...)
}

// A header blob claiming more index entries than it holds is refused in
// each format: the reader would allocate for all of them (0x7fffffff:
// 32 GiB, the process ends out of memory). An SQLite database the
// reader's query fails on is refused too (its goroutine would leak).
func TestRPMHeaderCounts(t *testing.T) {
	good := invtest.RPMHeaders(t, el8Packages[:1]...)[0]
	crafted := append(binary.BigEndian.AppendUint32(nil, 0x7fffffff), make([]byte, 2000)...)
	sqliteDB, _ := invtest.RPMBuild(t, el8Packages[:1]...)
	sqliteCrafted, wal := invtest.RPMSQLiteWAL(t, sqliteDB, crafted)
	noTable := func() []byte {
		p := filepath.Join(t.TempDir(), "x.sqlite")
		db, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("CREATE TABLE Other (blob BLOB)"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	// A string array of 0xffffffff strings in 100 bytes without a NUL:
	// the reader looked for all of them, for hours.
	spin := binary.BigEndian.AppendUint32(nil, 1)
	spin = binary.BigEndian.AppendUint32(spin, 100)
	for _, v := range []uint32{1000, 8, 0, 0xffffffff} {
		spin = binary.BigEndian.AppendUint32(spin, v)
	}
	spin = append(spin, bytes.Repeat([]byte("a"), 100)...)
	for _, c := range []struct {
		name  string
		files []entry
		want  string
	}{
		{"strings not there", []entry{binFile("usr/lib/sysimage/rpm/Packages.db", invtest.NDB{}.Write([][]byte{good, spin}), 0o644)},
			"/usr/lib/sysimage/rpm/Packages.db: os/rpm: NDB database: package 2: header entry 0: fewer than 4294967295 strings"},
		{"Berkeley DB", []entry{binFile("var/lib/rpm/Packages", invtest.BerkeleyDB(t, [][]byte{good, crafted}), 0o644)},
			"/var/lib/rpm/Packages: os/rpm: Berkeley DB database: item on page "},
		{"NDB", []entry{binFile("usr/lib/sysimage/rpm/Packages.db", invtest.NDB{}.Write([][]byte{good, crafted}), 0o644)},
			"/usr/lib/sysimage/rpm/Packages.db: os/rpm: NDB database: package 2: header of 2004 bytes claims 2147483647 entries"},
		{"SQLite, in its WAL", []entry{binFile("usr/lib/sysimage/rpm/rpmdb.sqlite", sqliteCrafted, 0o644),
			binFile("usr/lib/sysimage/rpm/rpmdb.sqlite-wal", wal, 0o644)},
			"/usr/lib/sysimage/rpm/rpmdb.sqlite: os/rpm: SQLite database: header of 2004 bytes claims 2147483647 entries"},
		{"SQLite without Packages", []entry{binFile("var/lib/rpm/rpmdb.sqlite", noTable, 0o644)},
			"/var/lib/rpm/rpmdb.sqlite: os/rpm: SQLite database: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			inv := extract(t, layers(t, plain, c.files))
			if len(inv.Packages) != 0 || len(inv.Warnings) != 1 || !strings.HasPrefix(inv.Warnings[0], c.want) {
				t.Errorf("packages %+v, warnings %q, want %q...", inv.Packages, inv.Warnings, c.want)
			}
			waitGoroutines(t, before)
		})
	}
}

func TestCheckHeader(t *testing.T) {
	entry := func(tag, typ, off, count uint32) []byte {
		var b []byte
		for _, v := range []uint32{tag, typ, off, count} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		return b
	}
	hdr := func(data string, entries ...[]byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(entries)))
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		for _, e := range entries {
			b = append(b, e...)
		}
		return append(b, data...)
	}
	for _, c := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"name and version", hdr("foo\x001.0\x00", entry(1000, 6, 0, 1), entry(1001, 6, 4, 1)), true},
		{"string array", hdr("a\x00b\x00c\x00", entry(1117, 8, 0, 3)), true},
		{"int32s", hdr("\x00\x00\x00\x01\x00\x00\x00\x02", entry(1003, 4, 0, 2)), true},
		{"a region entry first", hdr("x\x00", entry(63, 7, 0, 16), entry(1000, 6, 0, 1)), true},
		{"no entries", hdr(""), false},
		{"more entries than bytes", append(binary.BigEndian.AppendUint32(nil, 1000), 0, 0, 0, 0), false},
		{"data past the blob", append(hdr("ab", entry(1000, 7, 0, 2))[:8], make([]byte, 17)...), false},
		{"string without NUL", hdr("foo", entry(1000, 6, 0, 1)), false},
		{"string of two", hdr("a\x00b\x00", entry(1000, 6, 0, 2)), false},
		{"missing strings", hdr("a\x00b\x00", entry(1117, 8, 0, 3)), false},
		{"overlapping", hdr("foo\x00", entry(1000, 6, 0, 1), entry(1001, 6, 2, 1)), false},
		{"ints past the data", hdr("\x00\x00\x00\x01", entry(1003, 4, 0, 2)), false},
		{"offset past the data", hdr("a\x00", entry(1000, 7, 9, 0)), false},
		{"negative offset", hdr("a\x00", entry(1000, 7, 0xfffffff0, 1)), false},
		{"unknown type", hdr("a\x00", entry(1000, 12, 0, 1)), false},
	} {
		if err := checkHeader(c.b); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
