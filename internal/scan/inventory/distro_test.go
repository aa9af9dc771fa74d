package inventory

import (
	"testing"
)

func TestOSVEcosystem(t *testing.T) {
	for _, c := range []struct {
		d       Distro
		eco     string // Distro.Ecosystem
		pkgEco  string
		want    string
		comment string
	}{
		{Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm"}, "Debian", "Debian", "Debian:12", ""},
		{Distro{ID: "debian", VersionCodename: "trixie", PrettyName: "Debian GNU/Linux trixie/sid"}, "Debian", "Debian", "Debian", "testing has no VERSION_ID"},
		{Distro{ID: "ubuntu", VersionID: "22.04", Version: "22.04.4 LTS (Jammy Jellyfish)"}, "Ubuntu", "Ubuntu", "Ubuntu:22.04:LTS", ""},
		{Distro{ID: "ubuntu", VersionID: "24.04", PrettyName: "Ubuntu 24.04 LTS"}, "Ubuntu", "Ubuntu", "Ubuntu:24.04:LTS", "LTS in PRETTY_NAME only"},
		{Distro{ID: "ubuntu", VersionID: "23.10", Version: "23.10 (Mantic Minotaur)"}, "Ubuntu", "Ubuntu", "Ubuntu:23.10", ""},
		{Distro{ID: "alpine", VersionID: "3.19.1"}, "Alpine", "Alpine", "Alpine:v3.19", ""},
		{Distro{ID: "alpine", VersionID: "3.21.0_alpha20240807"}, "Alpine", "Alpine", "Alpine:v3.21", "edge"},
		{Distro{ID: "alpine"}, "Alpine", "Alpine", "Alpine", ""},
		{Distro{ID: "rhel", VersionID: "9.3", CPEName: "cpe:/o:redhat:enterprise_linux:9::baseos"}, "Red Hat", "Red Hat", "Red Hat:enterprise_linux:9::baseos", ""},
		{Distro{ID: "rhel", VersionID: "8.9"}, "Red Hat", "Red Hat", "Red Hat:enterprise_linux:8::baseos", "no CPE_NAME"},
		{Distro{ID: "rhel", VersionID: "7.9", CPEName: "cpe:/o:redhat:enterprise_linux:7.9:GA:server"}, "Red Hat", "Red Hat", "Red Hat:enterprise_linux:7::server", "RHEL 7's CPE"},
		{Distro{ID: "rhel", VersionID: "9.2", CPEName: "cpe:/o:redhat:rhel_eus:9.2::baseos"}, "Red Hat", "Red Hat", "Red Hat:rhel_eus:9.2::baseos", "EUS is its own release"},
		{Distro{ID: "almalinux", VersionID: "9.3"}, "AlmaLinux", "AlmaLinux", "AlmaLinux:9", ""},
		{Distro{ID: "rocky", VersionID: "8.9"}, "Rocky Linux", "Rocky Linux", "Rocky Linux:8", ""},
		{Distro{ID: "sles", VersionID: "15.5", PrettyName: "SUSE Linux Enterprise Server 15 SP5"}, "SUSE", "SUSE", "SUSE:Linux Enterprise Server 15 SP5", ""},
		{Distro{ID: "opensuse-leap", VersionID: "15.5", PrettyName: "openSUSE Leap 15.5"}, "openSUSE", "openSUSE", "openSUSE:Leap 15.5", ""},
		{Distro{ID: "opensuse-tumbleweed", VersionID: "20240101", PrettyName: "openSUSE Tumbleweed"}, "openSUSE", "openSUSE", "openSUSE:Tumbleweed", "rolling"},
		{Distro{ID: "opensuse-leap-micro", VersionID: "5.5", PrettyName: "openSUSE Leap Micro 5.5"}, "openSUSE", "openSUSE", "openSUSE:Leap Micro 5.5", ""},
		{Distro{ID: "sle-micro", VersionID: "5.5", PrettyName: "SUSE Linux Enterprise Micro 5.5"}, "SUSE", "SUSE", "SUSE:Linux Enterprise Micro 5.5", ""},
		{Distro{ID: "amzn", VersionID: "2", PrettyName: "Amazon Linux 2"}, "", "", "", "no OSV ecosystem"},
		{Distro{ID: "centos", VersionID: "7"}, "", "", "", "no OSV ecosystem"},
		{Distro{ID: "photon", VersionID: "5.0"}, "Photon OS", "Photon OS", "Photon OS:5.0", ""},
		{Distro{ID: "wolfi", VersionID: "20230201"}, "Wolfi", "Wolfi", "Wolfi", "rolling"},
		{Distro{ID: "fedora", VersionID: "39"}, "", "", "", "no OSV ecosystem"},
		{Distro{ID: "linuxmint", VersionID: "21.3"}, "", "", "", "derivative"},
		{Distro{ID: "debian", VersionID: "12"}, "Debian", "npm", "npm", "language packages are not per distribution"},
		{Distro{}, "", "PyPI", "PyPI", ""},
	} {
		if got := c.d.Ecosystem(); got != c.eco {
			t.Errorf("%+v.Ecosystem() = %q, want %q", c.d, got, c.eco)
		}
		if got := c.d.OSVEcosystem(c.pkgEco); got != c.want {
			t.Errorf("%+v.OSVEcosystem(%q) = %q, want %q (%s)", c.d, c.pkgEco, got, c.want, c.comment)
		}
	}
}

func TestDistroFromOSRelease(t *testing.T) {
	// No /etc/os-release: the /usr/lib one (/etc must exist: a Linux root).
	inv := extract(t, layers(t, plain, []entry{dir("etc"), file("usr/lib/os-release", rhelOSRelease)}))
	want := Distro{ID: "rhel", VersionID: "9.3", PrettyName: "Red Hat Enterprise Linux 9.3 (Plow)",
		Version: "9.3 (Plow)", CPEName: "cpe:/o:redhat:enterprise_linux:9::baseos"}
	if inv.Distro != want {
		t.Errorf("distro %+v, want %+v", inv.Distro, want)
	}
}

func TestParseSourceRPM(t *testing.T) {
	for in, want := range map[string][2]string{
		"openssl-3.0.7-27.el9.src.rpm":      {"openssl", "3.0.7-27.el9"},
		"python3.11-3.11.5-1.el9_3.src.rpm": {"python3.11", "3.11.5-1.el9_3"},
		"foo-bar-1-2.nosrc.rpm":             {"foo-bar", "1-2"},
	} {
		n, v, ok := parseSourceRPM(in)
		if !ok || n != want[0] || v != want[1] {
			t.Errorf("parseSourceRPM(%q) = %q, %q, %v", in, n, v, ok)
		}
	}
	for _, bad := range []string{"", "foo.src.rpm", "foo-1.src.rpm", "-1-2.src.rpm"} {
		if _, _, ok := parseSourceRPM(bad); ok {
			t.Errorf("parseSourceRPM(%q) ok", bad)
		}
	}
}
