package inventory

import (
	"strings"
)

// distroFromOSRelease reads the fields of os-release(5) Distro keeps.
func distroFromOSRelease(m map[string]string) Distro {
	return Distro{
		ID:              strings.ToLower(m["ID"]),
		VersionID:       m["VERSION_ID"],
		VersionCodename: m["VERSION_CODENAME"],
		PrettyName:      m["PRETTY_NAME"],
		Version:         m["VERSION"],
		CPEName:         m["CPE_NAME"],
	}
}

// Ecosystem is the OSV ecosystem (without a release suffix) of the
// distribution's own packages: "Debian", "Ubuntu", "Alpine", "Red Hat",
// ...; "" for a distribution OSV has no advisories for (Fedora, Amazon
// Linux, Oracle Linux, CentOS, derivatives such as Linux Mint or Kali:
// their packages are named after the derivative's releases, so borrowing
// their parent's advisories via ID_LIKE would match the wrong versions).
func (d Distro) Ecosystem() string {
	switch d.ID {
	case "debian":
		return "Debian"
	case "ubuntu":
		return "Ubuntu"
	case "alpine":
		return "Alpine"
	case "rhel":
		return "Red Hat"
	case "almalinux":
		return "AlmaLinux"
	case "rocky":
		return "Rocky Linux"
	case "wolfi":
		return "Wolfi"
	case "chainguard":
		return "Chainguard"
	case "sles", "sled", "sle-micro":
		return "SUSE"
	case "opensuse-leap", "opensuse-tumbleweed", "opensuse-leap-micro", "opensuse":
		return "openSUSE"
	case "mageia":
		return "Mageia"
	case "photon":
		return "Photon OS"
	case "azurelinux", "mariner":
		return "Azure Linux"
	}
	return ""
}

// OSVEcosystem is the ecosystem string OSV advisories use for a package of
// ecosystem pkgEcosystem (a Package.Ecosystem) installed on this
// distribution: the distribution's release-scoped ecosystem for its own
// packages, pkgEcosystem unchanged for language packages (whose
// advisories are not per distribution). The suffixes follow the OSV
// schema's list of ecosystems:
//
//   - Debian: VERSION_ID, the major release ("Debian:12"); none on testing
//     and unstable, which have no VERSION_ID.
//   - Ubuntu: VERSION_ID plus ":LTS" when the release is one
//     ("Ubuntu:22.04:LTS", "Ubuntu:23.10"). Ubuntu Pro (ESM) fixes are
//     published as "Ubuntu:Pro:<release>:LTS", which this cannot tell from
//     the image; a matcher wanting them asks for that form too.
//   - Alpine: "v" and major.minor of VERSION_ID ("Alpine:v3.19").
//   - Red Hat: CPE_NAME without "cpe:/o:redhat:"
//     ("Red Hat:enterprise_linux:9::baseos"; RHEL 7's "7.9:GA:server" is
//     written "7::server", as Red Hat's advisories name it). Red Hat splits
//     a release into product streams (baseos, appstream, ...) while an
//     image names one; a matcher should accept every stream of the release
//     ("Red Hat:enterprise_linux:9::*"). Without CPE_NAME:
//     "Red Hat:enterprise_linux:<major>::baseos".
//   - AlmaLinux, Rocky Linux: the major release ("AlmaLinux:9").
//   - SUSE, openSUSE: PRETTY_NAME without the vendor word, as the schema
//     says ("SUSE:Linux Enterprise Server 15 SP5", "openSUSE:Leap 15.5").
//   - Mageia, Photon OS, Azure Linux: VERSION_ID ("Photon OS:5.0").
//   - Wolfi, Chainguard: rolling, no suffix.
//
// It returns "" for an OS package whose distribution has no OSV ecosystem.
func (d Distro) OSVEcosystem(pkgEcosystem string) string {
	if pkgEcosystem == "" {
		return ""
	}
	if !isOSEcosystem(pkgEcosystem) {
		return pkgEcosystem
	}
	major, _, _ := strings.Cut(d.VersionID, ".")
	withSuffix := func(s string) string {
		if s == "" {
			return pkgEcosystem
		}
		return pkgEcosystem + ":" + s
	}
	switch pkgEcosystem {
	case "Debian":
		return withSuffix(major)
	case "Ubuntu":
		if d.VersionID == "" {
			return pkgEcosystem
		}
		if strings.Contains(d.Version, "LTS") || strings.Contains(d.PrettyName, "LTS") {
			return pkgEcosystem + ":" + d.VersionID + ":LTS"
		}
		return withSuffix(d.VersionID)
	case "Alpine":
		v := d.VersionID
		// "3.19.1" and "3.20.0_alpha20240329" (edge) are release branch
		// v3.19 and v3.20.
		v, _, _ = strings.Cut(v, "_")
		parts := strings.SplitN(v, ".", 3)
		if len(parts) < 2 || parts[0] == "" {
			return withSuffix("")
		}
		return withSuffix("v" + parts[0] + "." + parts[1])
	case "Red Hat":
		if _, rest, ok := strings.Cut(d.CPEName, ":redhat:"); ok && rest != "" {
			return withSuffix(redHatStream(rest))
		}
		if major != "" {
			return withSuffix("enterprise_linux:" + major + "::baseos")
		}
		return pkgEcosystem
	case "AlmaLinux", "Rocky Linux":
		return withSuffix(major)
	case "SUSE":
		return withSuffix(strings.TrimPrefix(d.PrettyName, "SUSE "))
	case "openSUSE":
		return withSuffix(strings.TrimPrefix(d.PrettyName, "openSUSE "))
	case "Mageia", "Photon OS", "Azure Linux":
		return withSuffix(d.VersionID)
	}
	return pkgEcosystem
}

// redHatStream is the product stream OSV's Red Hat advisories name for an
// image's CPE_NAME product part: RHEL 7's "enterprise_linux:7.9:GA:server"
// is stream "enterprise_linux:7::server", as RHEL 8 and 9 images already
// write it ("enterprise_linux:9::baseos"); other products (rhel_eus:9.2)
// are releases of their own and stay as written.
func redHatStream(cpe string) string {
	f := strings.Split(cpe, ":")
	if len(f) < 2 || f[0] != "enterprise_linux" {
		return cpe
	}
	f[1], _, _ = strings.Cut(f[1], ".")
	if len(f) > 2 {
		f[2] = ""
	}
	return strings.Join(f, ":")
}

func isOSEcosystem(e string) bool {
	switch e {
	case "Debian", "Ubuntu", "Alpine", "Red Hat", "AlmaLinux", "Rocky Linux", "Wolfi",
		"Chainguard", "SUSE", "openSUSE", "Mageia", "Photon OS", "Azure Linux":
		return true
	}
	return false
}
