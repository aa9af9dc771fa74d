package manifest

import (
	"encoding/json"
	"slices"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// This file derives the platforms an image runs on (os/arch[/variant]):
// an image manifest's from its config, an index's from its children, for
// the platform guard that refuses to move a tag across platforms.

// Image config media types that carry os and architecture.
const (
	DockerImageConfig = "application/vnd.docker.container.image.v1+json"
)

// Platforms is a set of platforms, "os/arch[/variant]", sorted and
// without duplicates. The empty set is an image that names no platform
// (an artifact).
type Platforms []string

// String lists the set for messages: "linux/amd64, linux/arm64", or
// "no platform".
func (p Platforms) String() string {
	if len(p) == 0 {
		return "no platform"
	}
	return strings.Join(p, ", ")
}

// Equal reports whether both sets hold the same platforms.
func (p Platforms) Equal(q Platforms) bool { return slices.Equal(p, q) }

// NewPlatforms builds a set from platform strings.
func NewPlatforms(ps ...string) Platforms {
	out := make(Platforms, 0, len(ps))
	for _, s := range ps {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FormatPlatform normalizes a platform as containerd does, so that the
// spellings of one platform compare equal: lower case, aarch64 -> arm64,
// x86_64 -> amd64, the default variants (arm64/v8, amd64/v1) dropped and
// arm without a variant taken as arm/v7. It returns "" when os or
// architecture is missing or "unknown", or a part holds a '/' or a blank.
func FormatPlatform(os, arch, variant string) string {
	os, arch, variant = strings.ToLower(strings.TrimSpace(os)), strings.ToLower(strings.TrimSpace(arch)), strings.ToLower(strings.TrimSpace(variant))
	if os == "" || arch == "" || os == "unknown" || arch == "unknown" {
		return ""
	}
	for _, part := range []string{os, arch, variant} {
		// A separator or blank inside a part would let two platforms
		// print the same: such a config names no valid platform.
		if strings.ContainsFunc(part, func(r rune) bool { return r == '/' || r <= ' ' || r == 0x7f }) {
			return ""
		}
	}
	switch arch {
	case "aarch64":
		arch = "arm64"
	case "x86_64", "x86-64":
		arch = "amd64"
	case "i386", "i686":
		arch = "386"
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	}
	switch {
	case arch == "arm64" && variant == "v8", arch == "amd64" && variant == "v1":
		variant = ""
	case arch == "arm" && variant == "":
		variant = "v7"
	case arch == "arm" && (variant == "7" || variant == "8" || variant == "6" || variant == "5"):
		variant = "v" + variant
	}
	if variant == "" {
		return os + "/" + arch
	}
	return os + "/" + arch + "/" + variant
}

// IsImageConfig reports whether a config media type carries a platform.
func IsImageConfig(mediaType string) bool {
	return mediaType == OCIImageConfig || mediaType == DockerImageConfig
}

// ConfigPlatform reads the platform of an image config blob ("" when it
// names none or does not parse).
func ConfigPlatform(config []byte) string {
	var c struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	}
	if json.Unmarshal(config, &c) != nil {
		return ""
	}
	return FormatPlatform(c.OS, c.Architecture, c.Variant)
}

// IsAttestation reports whether an index entry is an attestation (Docker
// BuildKit's provenance and SBOM manifests), which runs nowhere.
func IsAttestation(d Descriptor) bool {
	if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

// IndexPlatforms returns the platforms an index's entries declare, and the
// entries that declare none (whose platform is their own config's).
// Attestations and entries that are not image manifests are skipped.
func IndexPlatforms(p *Parsed) (known Platforms, undeclared []Descriptor) {
	var ps []string
	for _, d := range p.Manifests {
		if IsAttestation(d) {
			continue
		}
		if d.Platform != nil {
			if s := descriptorPlatform(d.Platform); s != "" {
				ps = append(ps, s)
				continue
			}
		}
		undeclared = append(undeclared, d)
	}
	return NewPlatforms(ps...), undeclared
}

func descriptorPlatform(p *v1.Platform) string {
	return FormatPlatform(p.OS, p.Architecture, p.Variant)
}
