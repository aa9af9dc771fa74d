// Package manifest parses and validates image manifests and indexes (OCI and
// Docker v2 schema 2) and extracts what the registry must check and index:
// referenced blobs, child manifests, subject, artifact type.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types the registry accepts as manifests.
const (
	OCIManifest        = v1.MediaTypeImageManifest
	OCIIndex           = v1.MediaTypeImageIndex
	DockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	OCIImageConfig     = v1.MediaTypeImageConfig
	OCIEmptyJSON       = "application/vnd.oci.empty.v1+json"
)

// ErrInvalid marks a manifest that fails validation (MANIFEST_INVALID).
var ErrInvalid = errors.New("manifest invalid")

// ErrUnsupported marks a manifest media type the registry does not store.
var ErrUnsupported = errors.New("unsupported manifest media type")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Descriptor is the subset of an OCI descriptor the registry uses.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *v1.Platform      `json:"platform,omitempty"`
}

// raw is the union of manifest and index fields.
type raw struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// Parsed is a validated manifest.
type Parsed struct {
	MediaType    string
	ArtifactType string // artifactType, or the config media type of an artifact
	Config       *Descriptor
	Layers       []Descriptor
	Manifests    []Descriptor // children of an index
	Subject      *Descriptor
	Annotations  map[string]string
}

// IsIndex reports whether the manifest is an index or manifest list.
func (p *Parsed) IsIndex() bool { return p.MediaType == OCIIndex || p.MediaType == DockerManifestList }

// RequiredBlobs lists blobs that must be present in the repository: the
// config and every distributable layer.
func (p *Parsed) RequiredBlobs() []string {
	var out []string
	if p.Config != nil {
		out = append(out, string(p.Config.Digest))
	}
	for _, l := range p.Layers {
		if !nonDistributable(l) {
			out = append(out, string(l.Digest))
		}
	}
	return dedup(out)
}

// OptionalBlobs lists layers that may live elsewhere (non-distributable or
// foreign layers, which carry URLs); they are recorded, not required.
func (p *Parsed) OptionalBlobs() []string {
	var out []string
	for _, l := range p.Layers {
		if nonDistributable(l) {
			out = append(out, string(l.Digest))
		}
	}
	return dedup(out)
}

// ChildManifests lists the manifests an index refers to.
func (p *Parsed) ChildManifests() []string {
	out := make([]string, 0, len(p.Manifests))
	for _, m := range p.Manifests {
		out = append(out, string(m.Digest))
	}
	return dedup(out)
}

func nonDistributable(d Descriptor) bool {
	return strings.Contains(d.MediaType, ".nondistributable.") ||
		strings.Contains(d.MediaType, ".foreign.") ||
		len(d.URLs) > 0
}

func dedup(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := in[:0]
	for _, s := range in {
		if _, ok := seen[s]; ok {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}

// Known reports whether mt is a manifest media type the registry stores.
func Known(mt string) bool {
	switch mt {
	case OCIManifest, OCIIndex, DockerManifest, DockerManifestList:
		return true
	}
	return false
}

// Parse validates body as a manifest. contentType is the Content-Type the
// client sent (may be empty); when both it and the body's mediaType are
// present they must agree.
func Parse(contentType string, body []byte) (*Parsed, error) {
	contentType = normalizeContentType(contentType)
	var r raw
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, invalid("not a JSON manifest: %v", err)
	}
	mt := r.MediaType
	switch {
	case mt != "" && contentType != "" && mt != contentType:
		return nil, invalid("mediaType %q does not match Content-Type %q", mt, contentType)
	case mt == "":
		mt = contentType
	}
	if mt == "" {
		// Neither says: infer as OCI does for manifests without mediaType.
		if r.Manifests != nil {
			mt = OCIIndex
		} else {
			mt = OCIManifest
		}
	}
	if !Known(mt) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, mt)
	}
	if r.SchemaVersion == nil || *r.SchemaVersion != 2 {
		return nil, invalid("schemaVersion must be 2")
	}
	p := &Parsed{MediaType: mt, ArtifactType: r.ArtifactType, Subject: r.Subject, Annotations: r.Annotations}
	if r.Subject != nil {
		if err := checkDescriptor("subject", *r.Subject); err != nil {
			return nil, err
		}
	}
	switch mt {
	case OCIManifest, DockerManifest:
		if r.Manifests != nil {
			return nil, invalid("an image manifest has no manifests field")
		}
		if r.Config == nil {
			return nil, invalid("config is required")
		}
		if err := checkDescriptor("config", *r.Config); err != nil {
			return nil, err
		}
		for i, l := range r.Layers {
			if err := checkDescriptor(fmt.Sprintf("layers[%d]", i), l); err != nil {
				return nil, err
			}
		}
		if mt == DockerManifest && r.Layers == nil {
			return nil, invalid("layers is required")
		}
		p.Config, p.Layers = r.Config, r.Layers
		// The referrers API reports an image manifest's artifactType, or
		// its config media type when it has none (distribution-spec).
		if p.ArtifactType == "" {
			p.ArtifactType = r.Config.MediaType
		}
	default:
		if r.Config != nil || r.Layers != nil {
			return nil, invalid("an index has no config or layers")
		}
		if r.Manifests == nil {
			return nil, invalid("manifests is required")
		}
		for i, m := range r.Manifests {
			if err := checkDescriptor(fmt.Sprintf("manifests[%d]", i), m); err != nil {
				return nil, err
			}
		}
		p.Manifests = r.Manifests
	}
	return p, nil
}

func checkDescriptor(where string, d Descriptor) error {
	if d.MediaType == "" {
		return invalid("%s: mediaType is required", where)
	}
	if err := d.Digest.Validate(); err != nil {
		return invalid("%s: digest %q: %v", where, d.Digest, err)
	}
	switch d.Digest.Algorithm() {
	case digest.SHA256, digest.SHA512:
	default:
		return invalid("%s: unsupported digest algorithm %q", where, d.Digest.Algorithm())
	}
	if d.Size < 0 {
		return invalid("%s: negative size", where)
	}
	return nil
}

// normalizeContentType drops parameters and treats generic types as absent.
func normalizeContentType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(strings.ToLower(ct))
	switch ct {
	case "application/json", "application/octet-stream", "text/plain":
		return ""
	}
	return ct
}
