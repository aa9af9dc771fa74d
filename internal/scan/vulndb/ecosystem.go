package vulndb

import (
	"slices"
	"strings"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// PackageKey is what an advisory is indexed and looked up by: the OSV
// ecosystem, with its release for OS ecosystems ("Debian:12",
// "Ubuntu:22.04:LTS", "Alpine:v3.19"), and the package name, both
// normalised (see EcosystemFor and PackageKeys). Import reports the keys
// it touched; PackageKeys gives an inventory's, so that only the images
// concerned by an import need matching again.
type PackageKey = meta.VulnPackage

// osEcosystems are the OSV ecosystems of distributions, whose advisories
// are scoped to a release by a ":<release>" suffix.
var osEcosystems = map[string]bool{
	"Debian": true, "Ubuntu": true, "Alpine": true, "Red Hat": true,
	"AlmaLinux": true, "Rocky Linux": true, "Wolfi": true, "Chainguard": true,
	"SUSE": true, "openSUSE": true, "Photon OS": true, "Mageia": true,
	"openEuler": true, "Alpaquita": true, "MinimOS": true,
}

// distroEcosystems maps os-release IDs to OSV ecosystems.
var distroEcosystems = map[string]string{
	"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine", "rhel": "Red Hat",
	"almalinux": "AlmaLinux", "rocky": "Rocky Linux", "wolfi": "Wolfi", "chainguard": "Chainguard",
	"sles": "SUSE", "sled": "SUSE", "sle-micro": "SUSE", "opensuse": "openSUSE", "opensuse-leap": "openSUSE",
	"opensuse-tumbleweed": "openSUSE", "opensuse-leap-micro": "openSUSE",
}

// rpmEcosystems are the OSV ecosystems of rpm distributions, whose
// advisories may name binary packages.
var rpmEcosystems = map[string]bool{
	"Red Hat": true, "AlmaLinux": true, "Rocky Linux": true, "SUSE": true, "openSUSE": true,
}

// debianReleases maps codenames to the numbers OSV uses, for images whose
// os-release has no VERSION_ID (testing).
var debianReleases = map[string]string{
	"stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}

// baseEcosystem is an ecosystem without its ":" suffix.
func baseEcosystem(eco string) string {
	b, _, _ := strings.Cut(eco, ":")
	return b
}

// normEcosystem normalises an advisory's ecosystem for the index: OS
// ecosystems keep their release ("Debian:12"); Red Hat's CPE-scoped streams
// of RHEL proper ("Red Hat:enterprise_linux:9::appstream") become
// "Red Hat:9"; language ecosystems drop a repository suffix
// ("Maven:https://maven.google.com" is "Maven").
func normEcosystem(eco string) string {
	eco = strings.TrimSpace(eco)
	base, rest, ok := strings.Cut(eco, ":")
	if !ok {
		return eco
	}
	if !osEcosystems[base] {
		return base
	}
	if base == "Red Hat" {
		if r, ok := strings.CutPrefix(rest, "enterprise_linux:"); ok {
			major, _, _ := strings.Cut(r, ":")
			major, _, _ = strings.Cut(major, ".")
			if major != "" {
				return "Red Hat:" + major
			}
		}
	}
	return eco
}

// normName normalises a package name the way its ecosystem compares them.
func normName(base, name string) string {
	name = strings.TrimSpace(name)
	switch base {
	case "PyPI":
		return pep503(name)
	case "crates.io", "Packagist", "NuGet", "Hex", "Pub":
		// Case-insensitive registries.
		return strings.ToLower(name)
	}
	return name
}

// pep503 normalises a Python project name: lower case, runs of "-", "_"
// and "." as one "-".
func pep503(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// advisoryKey is the index key of an affected package.
func advisoryKey(p osvPackage) (PackageKey, bool) {
	eco := normEcosystem(p.Ecosystem)
	name := normName(baseEcosystem(eco), p.Name)
	if eco == "" || name == "" {
		return PackageKey{}, false
	}
	return PackageKey{Ecosystem: eco, Name: name}, true
}

// isOS tells whether p is a distribution package.
func isOS(p inventory.Package) bool {
	return p.Kind == inventory.KindOS || osEcosystems[baseEcosystem(p.Ecosystem)]
}

// EcosystemFor returns the OSV ecosystem whose advisories apply to pkg in
// an image of distro d: for a language package its own ecosystem
// ("PyPI"); for a distribution package the release-scoped one, following
// OSV's conventions:
//
//	Debian 12 (VERSION_ID 12, or codename bookworm)  Debian:12
//	Ubuntu 22.04, 24.04 (LTS per os-release)         Ubuntu:22.04:LTS
//	Ubuntu 23.10                                     Ubuntu:23.10
//	Alpine 3.19.1                                    Alpine:v3.19
//	AlmaLinux / Rocky Linux 9.3                      AlmaLinux:9 / Rocky Linux:9
//	RHEL 9.3 (CPE_NAME's stream, else VERSION_ID)    Red Hat:9 (RHEL's enterprise_linux:9 streams)
//	SLES 15 SP5 (PRETTY_NAME less "SUSE ")           SUSE:Linux Enterprise Server 15 SP5
//	openSUSE Leap 15.5 (PRETTY_NAME less "openSUSE ") openSUSE:Leap 15.5, openSUSE:Tumbleweed
//	Wolfi, Chainguard                                Wolfi, Chainguard (rolling, no release)
//
// With no release known it returns the bare ecosystem ("Debian"), which
// only release-less advisories use. Ubuntu Pro (ESM) streams are not
// matched: an image gets them only with a Pro subscription attached.
func EcosystemFor(d inventory.Distro, pkg inventory.Package) string {
	if !isOS(pkg) || strings.Contains(pkg.Ecosystem, ":") {
		// A language ecosystem, or a release the package already names.
		return normEcosystem(pkg.Ecosystem)
	}
	base := baseEcosystem(pkg.Ecosystem)
	if base == "" {
		base = distroEcosystems[strings.ToLower(d.ID)]
	}
	if base == "" {
		return ""
	}
	if rel := release(base, d); rel != "" {
		return base + ":" + rel
	}
	return base
}

// release is the OSV release suffix of distro d in ecosystem base.
func release(base string, d inventory.Distro) string {
	v := strings.TrimSpace(d.VersionID)
	major, minor := splitVersion(v)
	switch base {
	case "Debian":
		if major != "" {
			return major
		}
		return debianReleases[strings.ToLower(d.VersionCodename)]
	case "Ubuntu":
		if major == "" || minor == "" {
			return ""
		}
		rel := major + "." + minor
		if ubuntuLTS(d, major, minor) {
			rel += ":LTS"
		}
		return rel
	case "Alpine":
		if major == "" || minor == "" {
			return ""
		}
		return "v" + major + "." + minor
	case "Red Hat":
		// CPE_NAME names the product stream ("cpe:/o:redhat:enterprise_linux:9::baseos").
		if _, stream, ok := strings.Cut(d.CPEName, ":redhat:"); ok && stream != "" {
			_, rel, _ := strings.Cut(normEcosystem("Red Hat:"+stream), ":")
			return rel
		}
		return major
	case "AlmaLinux", "Rocky Linux":
		return major
	case "SUSE", "openSUSE":
		// SUSE names its products' releases as PRETTY_NAME does, without
		// the vendor word ("Linux Enterprise Server 15 SP5", "Leap 15.5",
		// "Tumbleweed").
		if rel, ok := strings.CutPrefix(strings.TrimSpace(d.PrettyName), base+" "); ok {
			return strings.TrimSpace(rel)
		}
	}
	return ""
}

// ubuntuLTS tells an LTS release: os-release says so in VERSION or
// PRETTY_NAME ("22.04.4 LTS (Jammy Jellyfish)"); without either, LTS
// releases are the April ones of even years.
func ubuntuLTS(d inventory.Distro, major, minor string) bool {
	if d.Version != "" || d.PrettyName != "" {
		return strings.Contains(d.Version, "LTS") || strings.Contains(d.PrettyName, "LTS")
	}
	return minor == "04" && len(major) == 2 && (major[1]-'0')%2 == 0
}

// splitVersion returns the leading numeric major and minor parts of a
// VERSION_ID ("3.20.1" → "3", "20"; "3.20_alpha2024" → "3", "20").
func splitVersion(v string) (major, minor string) {
	digits := func(s string) string {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return s[:i]
	}
	major = digits(v)
	if major == "" {
		return "", ""
	}
	rest := v[len(major):]
	if strings.HasPrefix(rest, ".") {
		minor = digits(rest[1:])
	}
	return major, minor
}

// lookup is one index key a package is matched under, with the version
// to compare for it.
type lookup struct {
	key     PackageKey
	version string
}

// lookups lists the keys pkg is matched under. Distribution advisories
// name source packages (Debian, Ubuntu: the dpkg Source; Alpine: the apk
// origin), compared with the source version; a package without a source
// name is looked up by its own name and version. RPM distributions
// (Red Hat, AlmaLinux, Rocky Linux) name binary packages as often as
// source ones, and SUSE's name binary packages, so both are tried there.
// Release-less advisories of the distribution ("Debian") apply to every
// release.
func lookups(d inventory.Distro, pkg inventory.Package) []lookup {
	var l lookuper
	return l.lookups(nil, d, &pkg)
}

// lookuper computes lookups, remembering the release-scoped ecosystem of
// each distribution ecosystem: it is the same for every package of an
// inventory.
type lookuper struct {
	base, eco string
}

func (l *lookuper) lookups(out []lookup, d inventory.Distro, pkg *inventory.Package) []lookup {
	if !isOS(*pkg) {
		eco := normEcosystem(pkg.Ecosystem)
		name := normName(eco, pkg.Name)
		if eco == "" || name == "" {
			return out
		}
		v := pkg.Version
		if eco == "Go" && (name == "stdlib" || name == "toolchain") {
			v = strings.TrimPrefix(v, "go") // "go1.22.1" is OSV's "1.22.1"
		}
		return append(out, lookup{PackageKey{Ecosystem: eco, Name: name}, v})
	}
	if l.eco == "" || l.base != pkg.Ecosystem {
		l.base, l.eco = pkg.Ecosystem, EcosystemFor(d, *pkg)
	}
	eco := l.eco
	if eco == "" {
		return out
	}
	base := baseEcosystem(eco)
	add := func(name, version string) {
		if name == "" {
			return
		}
		out = append(out, lookup{PackageKey{Ecosystem: eco, Name: name}, version})
		if base != eco {
			out = append(out, lookup{PackageKey{Ecosystem: base, Name: name}, version})
		}
	}
	if pkg.SourceName == "" {
		add(pkg.Name, pkg.Version)
		return out
	}
	v := pkg.SourceVersion
	if v == "" {
		v = pkg.Version
	}
	add(pkg.SourceName, v)
	if rpmEcosystems[base] && pkg.Name != pkg.SourceName {
		add(pkg.Name, pkg.Version)
	}
	return out
}

// PackageKeys lists, sorted and without repeats, the keys Match looks the
// inventory's packages up by: intersect them with an ImportReport's
// Touched to know whether the inventory needs matching again.
func PackageKeys(inv *inventory.Inventory) []PackageKey {
	seen := map[PackageKey]bool{}
	var out []PackageKey
	for _, p := range inv.Packages {
		for _, l := range lookups(inv.Distro, p) {
			if !seen[l.key] {
				seen[l.key] = true
				out = append(out, l.key)
			}
		}
	}
	sortKeys(out)
	return out
}

func sortKeys(ks []PackageKey) {
	slices.SortFunc(ks, func(a, b PackageKey) int {
		if c := strings.Compare(a.Ecosystem, b.Ecosystem); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}
