// Package sbom writes software bills of materials for an image from its
// inventory (internal/scan/inventory): CycloneDX 1.6 JSON and SPDX 2.3 JSON.
// It is pure: the caller passes the inventory and the subject (repository,
// digest, platform, creation time), and the same input always gives
// byte-identical output: components are sorted, and the CycloneDX serial
// number and the SPDX document namespace are derived from the subject, never
// random. That makes a document attached to an image as a referrer
// reproducible: re-attaching the same SBOM pushes the same manifest.
package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wharfhq/wharf/internal/scan/inventory"
)

// Format is a document format, spelled as the API's enum.
type Format string

// Formats.
const (
	CycloneDX16 Format = "CYCLONEDX_1_6"
	SPDX23      Format = "SPDX_2_3"
)

// Media types of the documents, used as the artifactType of the referrer
// artifact an SBOM is attached as (the IANA-registered types).
const (
	MediaTypeCycloneDX = "application/vnd.cyclonedx+json"
	MediaTypeSPDX      = "application/spdx+json"
)

// MediaType returns the format's media type ("" for an unknown format).
func (f Format) MediaType() string {
	switch f {
	case CycloneDX16:
		return MediaTypeCycloneDX
	case SPDX23:
		return MediaTypeSPDX
	}
	return ""
}

// ParseFormat accepts the API enum and the CLI's short names
// ("cyclonedx", "spdx"), case-insensitively.
func ParseFormat(s string) (Format, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CYCLONEDX_1_6", "CYCLONEDX", "CDX":
		return CycloneDX16, true
	case "SPDX_2_3", "SPDX":
		return SPDX23, true
	}
	return "", false
}

// Generate writes the document of format f.
func Generate(f Format, inv *inventory.Inventory, subject Subject) ([]byte, error) {
	switch f {
	case CycloneDX16:
		return CycloneDX(inv, subject)
	case SPDX23:
		return SPDX(inv, subject)
	}
	return nil, fmt.Errorf("sbom: unknown format %q", f)
}

// Subject is the image a document describes.
type Subject struct {
	// Registry is the host[:port] the image is pulled from; it goes into
	// the image's package URL and the SPDX namespace. Optional.
	Registry   string
	Repository string
	// Digest is the image manifest's digest (sha256:...).
	Digest string
	// Platform is os/arch[/variant]; the inventory's platform when empty.
	Platform string
	// Created is the document's creation time (passed in so output is
	// deterministic).
	Created time.Time
	// ToolVersion is Wharf's version, named as the generating tool.
	ToolVersion string
}

func (s Subject) validate() error {
	if s.Repository == "" {
		return fmt.Errorf("sbom: subject has no repository")
	}
	alg, hexd, ok := strings.Cut(s.Digest, ":")
	if !ok || alg == "" || hexd == "" {
		return fmt.Errorf("sbom: subject digest %q is not a digest", s.Digest)
	}
	return nil
}

func (s Subject) platform(inv *inventory.Inventory) string {
	if s.Platform != "" {
		return s.Platform
	}
	return inv.Platform
}

// name is "repository@digest", how documents name the image.
func (s Subject) name() string { return s.Repository + "@" + s.Digest }

// imagePURL is the image's package URL (pkg:oci): the name is the last
// element of the repository, the version the digest, and repository_url
// the full repository address.
func (s Subject) imagePURL(platform string) string {
	name := s.Repository
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	var q []string
	if _, arch, ok := strings.Cut(platform, "/"); ok {
		if a, _, _ := strings.Cut(arch, "/"); a != "" {
			q = append(q, "arch="+url.QueryEscape(a))
		}
	}
	repoURL := s.Repository
	if s.Registry != "" {
		repoURL = s.Registry + "/" + s.Repository
	}
	q = append(q, "repository_url="+purlEscape(repoURL))
	return "pkg:oci/" + purlEscape(strings.ToLower(name)) + "@" + purlEscape(s.Digest) + "?" + strings.Join(q, "&")
}

// purlEscape percent-encodes what the package-url spec reserves, keeping
// '/' (a path separator inside qualifier values such as repository_url).
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~/", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// documentID derives a stable UUID (version 5) for one document of the
// subject, so repeated generation gives the same serial/namespace.
func (s Subject) documentID(kind, platform string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("wharf:sbom:"+kind+":"+s.Repository+"@"+s.Digest+"#"+platform))
}

// pkg is one package of the document, deduplicated and in output order.
type pkg struct {
	inventory.Package
	ref string // CycloneDX bom-ref / basis of the SPDX id; unique
}

// packages returns the inventory's packages sorted and merged: the same
// package (name, version, ecosystem, purl) found at several locations is
// one component with all its locations.
func packages(inv *inventory.Inventory) []pkg {
	type key struct{ eco, name, version, purl, arch string }
	idx := map[key]int{}
	var out []pkg
	for _, p := range inv.Packages {
		if p.Name == "" {
			continue
		}
		k := key{p.Ecosystem, p.Name, p.Version, p.PURL, p.Arch}
		if i, ok := idx[k]; ok {
			out[i].Locations = append(out[i].Locations, p.Locations...)
			out[i].Licenses = append(out[i].Licenses, p.Licenses...)
			continue
		}
		idx[k] = len(out)
		p.Locations = slices.Clone(p.Locations)
		p.Licenses = slices.Clone(p.Licenses)
		out = append(out, pkg{Package: p})
	}
	for i := range out {
		out[i].Locations = sortedUnique(out[i].Locations)
		out[i].Licenses = sortedUnique(out[i].Licenses)
	}
	// OS packages first (the base), then language packages.
	rank := func(kind string) int {
		if kind == inventory.KindOS {
			return 0
		}
		return 1
	}
	slices.SortFunc(out, func(a, b pkg) int {
		if r := rank(a.Kind) - rank(b.Kind); r != 0 {
			return r
		}
		for _, c := range [][2]string{{a.Kind, b.Kind}, {a.Ecosystem, b.Ecosystem}, {a.Name, b.Name}, {a.Version, b.Version}, {a.Arch, b.Arch}, {a.PURL, b.PURL}} {
			if r := strings.Compare(c[0], c[1]); r != 0 {
				return r
			}
		}
		return 0
	})
	seen := map[string]bool{}
	for i := range out {
		ref := out[i].PURL
		if ref == "" {
			ref = "pkg:" + strings.ToLower(out[i].Ecosystem) + "/" + out[i].Name + "@" + out[i].Version
		}
		for n := 2; seen[ref]; n++ {
			ref = fmt.Sprintf("%s#%d", strings.Split(ref, "#")[0], n)
		}
		seen[ref] = true
		out[i].ref = ref
	}
	return out
}

func sortedUnique(s []string) []string {
	s = slices.DeleteFunc(s, func(x string) bool { return strings.TrimSpace(x) == "" })
	slices.Sort(s)
	return slices.Compact(s)
}

// shortHash is a stable short identifier for a string.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// timestamp formats a time as both formats want it: UTC, seconds.
func timestamp(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
