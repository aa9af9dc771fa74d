// Package inventory lists the packages in an image: it reads the layers as
// a container runtime would see the final filesystem (whiteouts, opaque
// directories) and catalogues OS and language packages with osv-scalibr's
// extractors. It does no vulnerability matching (see internal/scan/vulndb)
// and no I/O but reading the layers it is given.
package inventory

import (
	"context"
	"io"
)

// Kinds of package.
const (
	KindOS       = "os"       // dpkg, apk, rpm
	KindLanguage = "language" // Go, npm, PyPI, Maven, crates.io, RubyGems, Packagist
)

// Package is one installed package.
type Package struct {
	// Name is as the package declares it: Maven "group:artifact", Go
	// module path ("stdlib" for Go's standard library, as OSV names it),
	// PyPI's name as written in METADATA (match it PEP 503-normalised).
	Name    string `json:"name"`
	Version string `json:"version"`
	// Ecosystem is the OSV ecosystem without a release suffix: "Debian",
	// "Ubuntu", "Alpine", "Red Hat", "AlmaLinux", "Rocky Linux", "Go",
	// "npm", "PyPI", "Maven", "crates.io", "RubyGems", "Packagist".
	// Distro.OSVEcosystem gives the suffixed form OS advisories use.
	Ecosystem string `json:"ecosystem"`
	Kind      string `json:"kind"` // KindOS or KindLanguage
	// SourceName and SourceVersion are an OS package's source package
	// (dpkg Source:, apk origin, rpm source RPM); OS advisories name
	// source packages. Empty when the same as Name/Version.
	SourceName    string `json:"sourceName,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	// Arch is an OS package's architecture, when known.
	Arch string `json:"arch,omitempty"`
	// PURL is the package URL (package-url spec).
	PURL string `json:"purl,omitempty"`
	// Locations are the paths (in the image) it was found at.
	Locations []string `json:"locations,omitempty"`
	Licenses  []string `json:"licenses,omitempty"`
}

// Source returns the source package's name and version: SourceName and
// SourceVersion, each defaulting to Name and Version when empty.
func (p Package) Source() (name, version string) {
	name, version = p.SourceName, p.SourceVersion
	if name == "" {
		name = p.Name
	}
	if version == "" {
		version = p.Version
	}
	return name, version
}

// Distro is the image's operating system, from /etc/os-release.
type Distro struct {
	ID              string `json:"id,omitempty"` // debian, ubuntu, alpine, rhel, ...
	VersionID       string `json:"versionId,omitempty"`
	VersionCodename string `json:"versionCodename,omitempty"`
	PrettyName      string `json:"prettyName,omitempty"`
	// Version is os-release's VERSION ("22.04.4 LTS (Jammy Jellyfish)"):
	// it tells an Ubuntu LTS release. CPEName is CPE_NAME, which names a
	// Red Hat product stream.
	Version string `json:"version,omitempty"`
	CPEName string `json:"cpeName,omitempty"`
}

// Inventory is what one image (one platform) contains.
type Inventory struct {
	// Platform is os/arch[/variant] from the image config ("" unknown).
	Platform string    `json:"platform,omitempty"`
	Distro   Distro    `json:"distro"`
	Packages []Package `json:"packages"`
	// Cataloguer names the code that produced the inventory (Cataloguer at
	// the time): a stored inventory from an older one may be re-extracted.
	Cataloguer string `json:"cataloguer,omitempty"`
	// Warnings are what was not catalogued and why (a file over the size
	// limit, a package database that did not parse), at most maxWarnings.
	Warnings []string `json:"warnings,omitempty"`
}

// Layer is one layer of an image, in order from the base up.
type Layer struct {
	Digest    string
	MediaType string
	// Open returns the layer's blob as stored (compressed or not: the
	// format is told by its magic bytes, not trusted from MediaType).
	Open func(ctx context.Context) (io.ReadCloser, error)
}
