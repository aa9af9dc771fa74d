// Package sbomsvc produces the SBOM of an image held by the registry and
// attaches it to the image as an OCI referrer: it finds the image's
// inventory (stored by the scanner, or extracted from the layers when none
// is), writes the document with internal/scan/sbom, and pushes it through
// the registry core as an artifact manifest whose subject is the image, so
// the referrers API (`oras discover`, `regctl artifact tree`) lists it.
package sbomsvc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/sbom"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// InventorySource reads stored inventories (the scanner's).
type InventorySource interface {
	// ImageInventory returns the stored inventory of a platform manifest;
	// ok is false when none is stored (or it is from an older cataloguer).
	ImageInventory(ctx context.Context, account, repository, digest string) (inv *inventory.Inventory, ok bool, err error)
}

// Service makes and attaches SBOMs.
type Service struct {
	Registry *registry.Service
	// Inventories is the scanner's store (nil: always extract).
	Inventories InventorySource
	// Extract catalogues layers (default inventory.Extract).
	Extract func(ctx context.Context, layers []inventory.Layer, opts inventory.Options) (*inventory.Inventory, error)
	// ToolVersion names Wharf's version in the documents.
	ToolVersion string
	Now         func() time.Time
}

// Errors callers map to their protocol's.
var (
	// ErrIndex: the image is an index and no platform was chosen.
	ErrIndex = errors.New("sbomsvc: image is a multi-platform index")
	// ErrNotImage: the manifest is not a container image (an artifact).
	ErrNotImage = errors.New("sbomsvc: manifest is not a container image")
)

// Document is an SBOM of one platform image.
type Document struct {
	Format    sbom.Format
	MediaType string
	Content   []byte
	// Subject is the platform image manifest the document describes;
	// Platform its os/arch[/variant].
	Subject  meta.Manifest
	Platform string
	// InventoryDigest identifies the inventory the document was made
	// from (so attaching the same SBOM twice pushes nothing new).
	InventoryDigest string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Image config and artifact media types.
const (
	ociConfig    = "application/vnd.oci.image.config.v1+json"
	dockerConfig = "application/vnd.docker.container.image.v1+json"
	maxConfig    = 8 << 20
)

// Platform picks the platform manifest of m: m itself for an image
// manifest; for an index the child with the given platform (os/arch or
// os/arch/variant), or its only real platform when platform is "".
func (s *Service) Platform(ctx context.Context, repo meta.Repository, m meta.Manifest, platform string) (meta.Manifest, error) {
	p, err := manifest.Parse(m.MediaType, m.Content)
	if err != nil {
		return meta.Manifest{}, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if !p.IsIndex() {
		return m, nil
	}
	var names []string
	var match []manifest.Descriptor
	for _, d := range p.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		pl := d.Platform.OS + "/" + d.Platform.Architecture
		full := pl
		if d.Platform.Variant != "" {
			full += "/" + d.Platform.Variant
		}
		names = append(names, full+" "+string(d.Digest))
		if platform == "" || platform == full || platform == pl {
			match = append(match, d)
		}
	}
	if len(match) != 1 {
		return meta.Manifest{}, fmt.Errorf("%w: choose a platform (%s)", ErrIndex, strings.Join(names, ", "))
	}
	return s.Registry.GetManifest(ctx, repo, refOf(match[0].Digest))
}

func refOf(d digest.Digest) names.Reference { return names.Reference{Digest: d} }

// Inventory returns the inventory of a platform image: the stored one, or
// one extracted from its layers.
func (s *Service) Inventory(ctx context.Context, repo meta.Repository, m meta.Manifest) (*inventory.Inventory, error) {
	p, err := manifest.Parse(m.MediaType, m.Content)
	if err != nil || p.IsIndex() || p.Config == nil || (p.Config.MediaType != ociConfig && p.Config.MediaType != dockerConfig) {
		return nil, ErrNotImage
	}
	if s.Inventories != nil {
		inv, ok, err := s.Inventories.ImageInventory(ctx, repo.AccountID, repo.Name, m.Digest)
		if err != nil {
			return nil, err
		}
		if ok {
			return inv, nil
		}
	}
	platform, err := s.platformOf(ctx, repo, p.Config.Digest)
	if err != nil {
		return nil, err
	}
	layers := make([]inventory.Layer, 0, len(p.Layers))
	for _, l := range p.Layers {
		d := l.Digest
		layers = append(layers, inventory.Layer{Digest: string(d), MediaType: l.MediaType,
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				rd, _, err := s.Registry.OpenBlob(ctx, repo, d)
				return rd, err
			}})
	}
	extract := s.Extract
	if extract == nil {
		extract = inventory.Extract
	}
	return extract(ctx, layers, inventory.Options{Platform: platform})
}

// platformOf reads os/arch[/variant] from an image config.
func (s *Service) platformOf(ctx context.Context, repo meta.Repository, d digest.Digest) (string, error) {
	rd, _, err := s.Registry.OpenBlob(ctx, repo, d)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxConfig+1))
	if err != nil {
		return "", err
	}
	var c struct{ OS, Architecture, Variant string }
	if len(b) > maxConfig || json.Unmarshal(b, &c) != nil || c.OS == "" {
		return "", nil // unknown platform: the SBOM says none
	}
	p := c.OS + "/" + c.Architecture
	if c.Variant != "" {
		p += "/" + c.Variant
	}
	return p, nil
}

// Generate writes the SBOM of a platform image (see Platform) in format f;
// host is the registry address clients pull from (for the image's purl).
func (s *Service) Generate(ctx context.Context, repo meta.Repository, m meta.Manifest, f sbom.Format, host string) (Document, error) {
	if f.MediaType() == "" {
		return Document{}, fmt.Errorf("sbomsvc: unknown format %q", f)
	}
	inv, err := s.Inventory(ctx, repo, m)
	if err != nil {
		return Document{}, err
	}
	subject := sbom.Subject{Registry: host, Repository: repo.Name, Digest: m.Digest, Platform: inv.Platform,
		Created: s.now(), ToolVersion: s.ToolVersion}
	b, err := sbom.Generate(f, inv, subject)
	if err != nil {
		return Document{}, err
	}
	canon, err := json.Marshal(inv)
	if err != nil {
		return Document{}, err
	}
	sum := sha256.Sum256(append(canon, []byte("\x00"+string(f)+"\x00"+host)...))
	return Document{Format: f, MediaType: f.MediaType(), Content: b, Subject: m, Platform: inv.Platform,
		InventoryDigest: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// Annotations of an attached SBOM.
const (
	AnnotationFormat    = "dev.wharf.sbom.format"
	AnnotationInventory = "dev.wharf.sbom.inventory"
	annotationCreated   = "org.opencontainers.image.created"
	annotationTitle     = "org.opencontainers.image.title"
)

// emptyConfig is the OCI empty descriptor's content.
var emptyConfig = []byte("{}")

// Attached is the outcome of Attach.
type Attached struct {
	// Digest is the referrer manifest's digest.
	Digest string
	// Existing is true when the same SBOM (same inventory, format and
	// host) was attached before and nothing was pushed.
	Existing bool
}

// Attach pushes doc as an OCI artifact manifest whose subject is the
// document's image: artifactType the document's media type, an empty
// config, the document as its one layer. An identical SBOM attached
// before is found (by the inventory annotation) and not pushed again.
func (s *Service) Attach(ctx context.Context, repo meta.Repository, doc Document, who registry.Actor) (Attached, error) {
	refs, err := s.Registry.Meta().ListReferrers(ctx, repo.ID, doc.Subject.Digest)
	if err != nil {
		return Attached{}, err
	}
	for _, r := range refs {
		if r.ArtifactType != doc.MediaType || len(r.Annotations) == 0 {
			continue
		}
		var ann map[string]string
		if json.Unmarshal(r.Annotations, &ann) == nil && ann[AnnotationInventory] == doc.InventoryDigest {
			return Attached{Digest: r.Digest, Existing: true}, nil
		}
	}
	put := func(b []byte) (digest.Digest, error) {
		d := digest.FromBytes(b)
		_, err := s.Registry.PutBlob(ctx, repo, d, int64(len(b)), bytes.NewReader(b))
		return d, err
	}
	cfg, err := put(emptyConfig)
	if err != nil {
		return Attached{}, err
	}
	layer, err := put(doc.Content)
	if err != nil {
		return Attached{}, err
	}
	title := "sbom.cdx.json"
	if doc.Format == sbom.SPDX23 {
		title = "sbom.spdx.json"
	}
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Data        []byte            `json:"data,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	m := struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        desc              `json:"config"`
		Layers        []desc            `json:"layers"`
		Subject       desc              `json:"subject"`
		Annotations   map[string]string `json:"annotations"`
	}{
		SchemaVersion: 2,
		MediaType:     manifest.OCIManifest,
		ArtifactType:  doc.MediaType,
		Config:        desc{MediaType: manifest.OCIEmptyJSON, Digest: string(cfg), Size: int64(len(emptyConfig)), Data: emptyConfig},
		Layers: []desc{{MediaType: doc.MediaType, Digest: string(layer), Size: int64(len(doc.Content)),
			Annotations: map[string]string{annotationTitle: title}}},
		Subject: desc{MediaType: doc.Subject.MediaType, Digest: doc.Subject.Digest, Size: doc.Subject.Size},
		Annotations: map[string]string{
			annotationCreated:   s.now().UTC().Format(time.RFC3339),
			AnnotationFormat:    string(doc.Format),
			AnnotationInventory: doc.InventoryDigest,
		},
	}
	body, err := json.Marshal(m)
	if err != nil {
		return Attached{}, err
	}
	d := digest.FromBytes(body)
	if _, err := s.Registry.PutManifest(ctx, repo, refOf(d), manifest.OCIManifest, body, who); err != nil {
		return Attached{}, err
	}
	return Attached{Digest: string(d)}, nil
}

// BuildVersion is the module version of the running binary ("dev" when
// built from a work tree), for ToolVersion.
func BuildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
