package vulndb

import (
	"slices"
	"testing"

	"github.com/wharfhq/wharf/internal/scan/inventory"
)

func TestEcosystemFor(t *testing.T) {
	os := func(eco string) inventory.Package {
		return inventory.Package{Name: "x", Version: "1", Ecosystem: eco, Kind: inventory.KindOS}
	}
	for _, tc := range []struct {
		d    inventory.Distro
		p    inventory.Package
		want string
	}{
		{inventory.Distro{ID: "debian", VersionID: "12"}, os("Debian"), "Debian:12"},
		{inventory.Distro{ID: "debian", VersionCodename: "trixie"}, os("Debian"), "Debian:13"},
		{inventory.Distro{ID: "debian", VersionCodename: "sid"}, os("Debian"), "Debian"},
		{inventory.Distro{ID: "ubuntu", VersionID: "22.04"}, os("Ubuntu"), "Ubuntu:22.04:LTS"},
		{inventory.Distro{ID: "ubuntu", VersionID: "24.04"}, os("Ubuntu"), "Ubuntu:24.04:LTS"},
		{inventory.Distro{ID: "ubuntu", VersionID: "23.04"}, os("Ubuntu"), "Ubuntu:23.04"},
		{inventory.Distro{ID: "ubuntu", VersionID: "24.10"}, os("Ubuntu"), "Ubuntu:24.10"},
		{inventory.Distro{ID: "ubuntu", VersionID: "22.04", Version: "22.04.4 LTS (Jammy Jellyfish)"}, os("Ubuntu"), "Ubuntu:22.04:LTS"},
		{inventory.Distro{ID: "ubuntu", VersionID: "24.04", PrettyName: "Ubuntu Noble Numbat (development branch)"}, os("Ubuntu"), "Ubuntu:24.04"},
		{inventory.Distro{ID: "rhel", VersionID: "9.2", CPEName: "cpe:/o:redhat:rhel_eus:9.2::baseos"}, os("Red Hat"), "Red Hat:rhel_eus:9.2::baseos"},
		{inventory.Distro{ID: "rhel", VersionID: "9.4", CPEName: "cpe:/o:redhat:enterprise_linux:9::baseos"}, os("Red Hat"), "Red Hat:9"},
		{inventory.Distro{ID: "alpine", VersionID: "3.19.1"}, os("Alpine"), "Alpine:v3.19"},
		{inventory.Distro{ID: "alpine", VersionID: "3.21_alpha20240807"}, os("Alpine"), "Alpine:v3.21"},
		{inventory.Distro{ID: "alpine"}, os("Alpine"), "Alpine"},
		{inventory.Distro{ID: "rocky", VersionID: "9.3"}, os("Rocky Linux"), "Rocky Linux:9"},
		{inventory.Distro{ID: "almalinux", VersionID: "8.10"}, os("AlmaLinux"), "AlmaLinux:8"},
		{inventory.Distro{ID: "rhel", VersionID: "9.4"}, os("Red Hat"), "Red Hat:9"},
		{inventory.Distro{ID: "wolfi", VersionID: "20230201"}, os("Wolfi"), "Wolfi"},
		{inventory.Distro{ID: "rhel", VersionID: "7.9", CPEName: "cpe:/o:redhat:enterprise_linux:7.9:GA:server"}, os("Red Hat"), "Red Hat:7"},
		{inventory.Distro{ID: "sles", VersionID: "15.5", PrettyName: "SUSE Linux Enterprise Server 15 SP5"}, os("SUSE"), "SUSE:Linux Enterprise Server 15 SP5"},
		{inventory.Distro{ID: "sle-micro", VersionID: "5.5", PrettyName: "SUSE Linux Enterprise Micro 5.5"}, os("SUSE"), "SUSE:Linux Enterprise Micro 5.5"},
		{inventory.Distro{ID: "opensuse-leap", VersionID: "15.5", PrettyName: "openSUSE Leap 15.5"}, os("openSUSE"), "openSUSE:Leap 15.5"},
		{inventory.Distro{ID: "opensuse-tumbleweed", VersionID: "20240101", PrettyName: "openSUSE Tumbleweed"}, os("openSUSE"), "openSUSE:Tumbleweed"},
		{inventory.Distro{ID: "opensuse-leap", VersionID: "15.5"}, inventory.Package{Name: "x", Kind: inventory.KindOS}, "openSUSE"},
		// No OSV ecosystem: nothing to match.
		{inventory.Distro{ID: "amzn", VersionID: "2"}, inventory.Package{Name: "x", Kind: inventory.KindOS}, ""},
		{inventory.Distro{}, os("Debian:11"), "Debian:11"},
		// The package's ecosystem missing: the distro's.
		{inventory.Distro{ID: "debian", VersionID: "11"}, inventory.Package{Name: "x", Kind: inventory.KindOS}, "Debian:11"},
		{inventory.Distro{ID: "plan9"}, inventory.Package{Name: "x", Kind: inventory.KindOS}, ""},
		// Language packages ignore the distro.
		{inventory.Distro{ID: "debian", VersionID: "12"}, inventory.Package{Name: "x", Ecosystem: "PyPI", Kind: inventory.KindLanguage}, "PyPI"},
		{inventory.Distro{}, inventory.Package{Name: "x", Ecosystem: "Maven:https://maven.google.com"}, "Maven"},
	} {
		if got := EcosystemFor(tc.d, tc.p); got != tc.want {
			t.Errorf("EcosystemFor(%+v, %s) = %q, want %q", tc.d, tc.p.Ecosystem, got, tc.want)
		}
	}
}

func TestNormalisation(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Debian:12", "Debian:12"},
		{" Ubuntu:Pro:22.04:LTS", "Ubuntu:Pro:22.04:LTS"},
		{"Red Hat:enterprise_linux:9::appstream", "Red Hat:9"},
		{"Red Hat:enterprise_linux:8.6::baseos", "Red Hat:8"},
		{"Red Hat:rhel_eus:9.2::baseos", "Red Hat:rhel_eus:9.2::baseos"},
		{"Maven:https://repo.maven.apache.org/maven2", "Maven"},
		{"Packagist:https://packages.drupal.org/8", "Packagist"},
		{"npm", "npm"},
	} {
		if got := normEcosystem(tc.in); got != tc.want {
			t.Errorf("normEcosystem(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ eco, in, want string }{
		{"PyPI", "Zope.Interface", "zope-interface"},
		{"PyPI", "typing__extensions", "typing-extensions"},
		{"PyPI", "ruamel.yaml.clib", "ruamel-yaml-clib"},
		{"PyPI", "_private-", "private"},
		{"crates.io", "Serde", "serde"},
		{"Packagist", "Symfony/Http-Kernel", "symfony/http-kernel"},
		{"Maven", "org.Apache:Foo", "org.Apache:Foo"},
		{"Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"},
		{"npm", "@Scope/pkg", "@Scope/pkg"},
	} {
		if got := normName(tc.eco, tc.in); got != tc.want {
			t.Errorf("normName(%s, %q) = %q, want %q", tc.eco, tc.in, got, tc.want)
		}
	}
}

func TestLookupsRPM(t *testing.T) {
	k := func(eco, name string) PackageKey { return PackageKey{Ecosystem: eco, Name: name} }
	for _, tc := range []struct {
		d    inventory.Distro
		p    inventory.Package
		want []PackageKey
	}{
		{inventory.Distro{ID: "rocky", VersionID: "9.3"},
			inventory.Package{Name: "openssl-libs", Version: "1:3.0.7-24.el9", SourceName: "openssl", SourceVersion: "1:3.0.7-24.el9",
				Ecosystem: "Rocky Linux", Kind: inventory.KindOS},
			[]PackageKey{k("Rocky Linux:9", "openssl"), k("Rocky Linux", "openssl"), k("Rocky Linux:9", "openssl-libs"), k("Rocky Linux", "openssl-libs")}},
		// SUSE's advisories name binary packages (libopenssl1_1 of openssl-1_1).
		{inventory.Distro{ID: "sles", VersionID: "15.5", PrettyName: "SUSE Linux Enterprise Server 15 SP5"},
			inventory.Package{Name: "libopenssl1_1", Version: "1.1.1l-150500.17.25.1", SourceName: "openssl-1_1", Ecosystem: "SUSE", Kind: inventory.KindOS},
			[]PackageKey{k("SUSE:Linux Enterprise Server 15 SP5", "openssl-1_1"), k("SUSE", "openssl-1_1"),
				k("SUSE:Linux Enterprise Server 15 SP5", "libopenssl1_1"), k("SUSE", "libopenssl1_1")}},
		{inventory.Distro{ID: "opensuse-tumbleweed", PrettyName: "openSUSE Tumbleweed"},
			inventory.Package{Name: "libz1", Version: "1.3.1-1.1", SourceName: "zlib", Ecosystem: "openSUSE", Kind: inventory.KindOS},
			[]PackageKey{k("openSUSE:Tumbleweed", "zlib"), k("openSUSE", "zlib"), k("openSUSE:Tumbleweed", "libz1"), k("openSUSE", "libz1")}},
	} {
		got := lookups(tc.d, tc.p)
		var keys []PackageKey
		for _, l := range got {
			keys = append(keys, l.key)
		}
		if !slices.Equal(keys, tc.want) {
			t.Errorf("lookups(%s) %v, want %v", tc.p.Name, keys, tc.want)
		}
	}
}

// The inventory's own OSVEcosystem and EcosystemFor agree once normalised
// the way advisories are indexed.
func TestEcosystemForAgreesWithInventory(t *testing.T) {
	for _, tc := range []struct {
		d   inventory.Distro
		eco string
	}{
		{inventory.Distro{ID: "debian", VersionID: "12"}, "Debian"},
		{inventory.Distro{ID: "ubuntu", VersionID: "22.04", Version: "22.04.4 LTS (Jammy Jellyfish)"}, "Ubuntu"},
		{inventory.Distro{ID: "ubuntu", VersionID: "23.10", Version: "23.10 (Mantic Minotaur)"}, "Ubuntu"},
		{inventory.Distro{ID: "alpine", VersionID: "3.19.1"}, "Alpine"},
		{inventory.Distro{ID: "alpine", VersionID: "3.20.0_alpha20240329"}, "Alpine"},
		{inventory.Distro{ID: "rhel", VersionID: "9.4", CPEName: "cpe:/o:redhat:enterprise_linux:9::baseos"}, "Red Hat"},
		{inventory.Distro{ID: "rhel", VersionID: "8.9"}, "Red Hat"},
		{inventory.Distro{ID: "almalinux", VersionID: "9.3"}, "AlmaLinux"},
		{inventory.Distro{ID: "rocky", VersionID: "8.9"}, "Rocky Linux"},
		{inventory.Distro{ID: "rhel", VersionID: "7.9", CPEName: "cpe:/o:redhat:enterprise_linux:7.9:GA:server"}, "Red Hat"},
		{inventory.Distro{ID: "sles", VersionID: "15.5", PrettyName: "SUSE Linux Enterprise Server 15 SP5"}, "SUSE"},
		{inventory.Distro{ID: "opensuse-leap", VersionID: "15.5", PrettyName: "openSUSE Leap 15.5"}, "openSUSE"},
		{inventory.Distro{ID: "opensuse-tumbleweed", PrettyName: "openSUSE Tumbleweed"}, "openSUSE"},
	} {
		p := inventory.Package{Name: "x", Ecosystem: tc.eco, Kind: inventory.KindOS}
		if got, want := EcosystemFor(tc.d, p), normEcosystem(tc.d.OSVEcosystem(tc.eco)); got != want {
			t.Errorf("%+v: EcosystemFor %q, inventory %q", tc.d, got, want)
		}
	}
}
