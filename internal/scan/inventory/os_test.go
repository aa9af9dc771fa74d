package inventory

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/scan/inventory/invtest"
)

// dpkgQuery lists this machine's installed packages with dpkg's own tool,
// the oracle for the status file.
func dpkgQuery(t *testing.T) map[string]Package {
	t.Helper()
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("dpkg-query is not installed (the test reads this machine's dpkg database)")
	}
	out, err := exec.Command("dpkg-query", "-W", "-f",
		`${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n`).Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	want := map[string]Package{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 6 || f[0] != "installed" {
			continue
		}
		p := Package{Name: f[1], Version: f[2], Arch: f[3], Ecosystem: "Debian", Kind: KindOS}
		if f[4] != f[1] {
			p.SourceName = f[4]
		}
		if f[5] != f[2] {
			p.SourceVersion = f[5]
		}
		want[p.Name+":"+p.Arch] = p
	}
	return want
}

func TestDpkgRealStatusAndStatusD(t *testing.T) {
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skipf("no dpkg status file on this machine: %v", err)
	}
	want := dpkgQuery(t)
	if len(want) == 0 {
		t.Fatal("dpkg-query lists no installed package")
	}
	// A distroless image's status.d file: no Status field; Source with a
	// version of its own.
	// (A name this machine has not installed.)
	want["libdistroless3:amd64"] = Package{Name: "libdistroless3", Version: "3.0.11-1~deb12u2+b1", Arch: "amd64",
		SourceName: "distroless", SourceVersion: "3.0.11-1~deb12u2", Ecosystem: "Debian", Kind: KindOS}
	statusD := "Package: libdistroless3\nVersion: 3.0.11-1~deb12u2+b1\nArchitecture: amd64\nSource: distroless (3.0.11-1~deb12u2)\n" +
		"Maintainer: Nobody\nDescription: a distroless package\n"

	for _, c := range []compression{plain, gzipped, zstded} {
		t.Run(c.String(), func(t *testing.T) {
			inv := extract(t, layers(t, c,
				[]entry{dir("etc"), file("etc/os-release", debianOSRelease)},
				[]entry{binFile("var/lib/dpkg/status", status, 0o644), file("var/lib/dpkg/status.d/libdistroless3", statusD),
					file("var/lib/dpkg/status.d/libdistroless3.md5sums", "d41d8cd98f00b204e9800998ecf8427e  usr/lib/x\n")},
			))
			if inv.Distro.ID != "debian" || inv.Distro.VersionID != "12" || inv.Distro.VersionCodename != "bookworm" {
				t.Errorf("distro = %+v", inv.Distro)
			}
			got := map[string]Package{}
			for _, p := range inv.Packages {
				k := p.Name + ":" + p.Arch
				if _, dup := got[k]; dup {
					t.Errorf("package %s listed twice", k)
				}
				if !strings.HasPrefix(p.PURL, "pkg:deb/debian/"+strings.ReplaceAll(p.Name, "+", "%2B")+"@") || !strings.Contains(p.PURL, "arch="+p.Arch) ||
					!strings.Contains(p.PURL, "distro=bookworm") {
					t.Errorf("%s: purl %q", k, p.PURL)
				}
				wantLoc := "/var/lib/dpkg/status"
				if p.Name == "libdistroless3" {
					wantLoc = "/var/lib/dpkg/status.d/libdistroless3"
				}
				if !reflect.DeepEqual(p.Locations, []string{wantLoc}) {
					t.Errorf("%s: locations %v", k, p.Locations)
				}
				p.PURL, p.Locations = "", nil
				got[k] = p
			}
			if len(got) != len(want) {
				t.Errorf("%d packages, want %d", len(got), len(want))
			}
			for k, w := range want {
				if g, ok := got[k]; !ok {
					t.Errorf("missing %s", k)
				} else if !reflect.DeepEqual(g, w) {
					t.Errorf("%s:\n got %+v\nwant %+v", k, g, w)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected %s", k)
				}
			}
		})
	}
}

const apkInstalled = `C:Q1Z0Jd0vfpRZ6bqjT9y3aMChYRgAs=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407447
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1705334207
c:ca7f2ab5e88794e4e654b40776f8a92256f50639

C:Q1mIoGtHrtR0zxM5NZDrY1a0bIXe8=
P:libcrypto3
V:3.1.4-r5
A:x86_64
S:1709946
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>

C:Q1KA7A1ONfOGfQyfw4w5OV0jJ9xJY=
P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
`

func TestApk(t *testing.T) {
	inv := extract(t, layers(t, gzipped, []entry{
		file("etc/os-release", alpineOSRelease),
		file("lib/apk/db/installed", apkInstalled),
	}))
	want := []Package{
		{Name: "busybox", Version: "1.36.1-r15", Ecosystem: "Alpine", Kind: KindOS, Arch: "x86_64",
			PURL:      "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=3.19.1&origin=busybox",
			Locations: []string{"/lib/apk/db/installed"}, Licenses: []string{"GPL-2.0-only"}},
		{Name: "libcrypto3", Version: "3.1.4-r5", Ecosystem: "Alpine", Kind: KindOS, Arch: "x86_64", SourceName: "openssl",
			PURL:      "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=3.19.1&origin=openssl",
			Locations: []string{"/lib/apk/db/installed"}, Licenses: []string{"Apache-2.0"}},
		{Name: "musl", Version: "1.2.4_git20230717-r4", Ecosystem: "Alpine", Kind: KindOS, Arch: "x86_64",
			PURL:      "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=3.19.1&origin=musl",
			Locations: []string{"/lib/apk/db/installed"}, Licenses: []string{"MIT"}},
	}
	if !reflect.DeepEqual(inv.Packages, want) {
		t.Errorf("packages:\n got %+v\nwant %+v", inv.Packages, want)
	}
	if got := inv.Distro.OSVEcosystem("Alpine"); got != "Alpine:v3.19" {
		t.Errorf("OSVEcosystem = %q", got)
	}
	if inv.Platform != "" || inv.Cataloguer != Cataloguer {
		t.Errorf("platform %q cataloguer %q", inv.Platform, inv.Cataloguer)
	}
}

const rhelOSRelease = `NAME="Red Hat Enterprise Linux"
VERSION="9.3 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
`

// rpmDatabase builds two packages from one source package with rpmbuild
// and installs them (database only) into a fresh SQLite rpm database, as
// rpm 4.16+ (Fedora 33+, RHEL 9) keeps it; it returns the database file.
func rpmDatabase(t *testing.T) []byte {
	t.Helper()
	invtest.NeedTool(t, "rpm")
	invtest.NeedTool(t, "rpmbuild")
	dir := t.TempDir()
	spec := `Name: foo
Version: 1.2.3
Release: 4.el9
Epoch: 2
Summary: test package
License: MIT
BuildArch: noarch

%description
test

%package -n libfoo
Summary: test library
License: BSD-3-Clause
%description -n libfoo
library

%files
%files -n libfoo
`
	if err := os.WriteFile(filepath.Join(dir, "foo.spec"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("rpmbuild", "-bb", "--quiet", "--define", "_topdir "+filepath.Join(dir, "top"), "foo.spec")
	root := filepath.Join(dir, "root")
	db := []string{"--root", root, "--define", "_dbpath /var/lib/rpm", "--define", "_db_backend sqlite"}
	run("rpm", append(db, "--initdb")...)
	rpms, _ := filepath.Glob(filepath.Join(dir, "top", "RPMS", "noarch", "*.rpm"))
	if len(rpms) != 2 {
		t.Fatalf("rpmbuild made %v", rpms)
	}
	run("rpm", append(append(db, "-i", "--justdb", "--nodeps", "--noscripts", "--notriggers"), rpms...)...)
	b, err := os.ReadFile(filepath.Join(root, "var", "lib", "rpm", "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRPMSQLite(t *testing.T) {
	db := rpmDatabase(t)
	inv := extract(t, layers(t, gzipped,
		[]entry{file("usr/lib/os-release", rhelOSRelease), symlink("etc/os-release", "../usr/lib/os-release")},
		[]entry{binFile("var/lib/rpm/rpmdb.sqlite", db, 0o644)},
	))
	want := []Package{
		{Name: "foo", Version: "2:1.2.3-4.el9", Ecosystem: "Red Hat", Kind: KindOS, Arch: "noarch",
			PURL:      "pkg:rpm/rhel/foo@1.2.3-4.el9?arch=noarch&distro=rhel-9.3&epoch=2&sourcerpm=foo-1.2.3-4.el9.src.rpm",
			Locations: []string{"/var/lib/rpm/rpmdb.sqlite"}, Licenses: []string{"MIT"}},
		{Name: "libfoo", Version: "2:1.2.3-4.el9", Ecosystem: "Red Hat", Kind: KindOS, Arch: "noarch", SourceName: "foo",
			PURL:      "pkg:rpm/rhel/libfoo@1.2.3-4.el9?arch=noarch&distro=rhel-9.3&epoch=2&sourcerpm=foo-1.2.3-4.el9.src.rpm",
			Locations: []string{"/var/lib/rpm/rpmdb.sqlite"}, Licenses: []string{"BSD-3-Clause"}},
	}
	if !reflect.DeepEqual(inv.Packages, want) {
		t.Errorf("packages:\n got %+v\nwant %+v", inv.Packages, want)
	}
	if got := inv.Distro.OSVEcosystem("Red Hat"); got != "Red Hat:enterprise_linux:9::baseos" {
		t.Errorf("OSVEcosystem = %q", got)
	}
	if len(inv.Warnings) != 0 {
		t.Errorf("warnings %q", inv.Warnings)
	}
}
