package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Image config media types: a manifest whose config is one of these is a
// container image; any other config makes it an artifact (a Helm chart, a
// signature, an SBOM...), which has no filesystem to catalogue.
const (
	dockerImageConfig = "application/vnd.docker.container.image.v1+json"
	ociImageConfig    = manifest.OCIImageConfig
)

// attestationRef is the annotation buildx puts on the attestation manifests
// of an index (their platform is unknown/unknown).
const attestationRef = "vnd.docker.reference.type"

// ErrUnsupported marks a manifest that cannot be scanned: an artifact, or
// an index with no image child to scan.
var ErrUnsupported = errors.New("the image is of a type that cannot be scanned")

// isImageConfig reports whether a config media type is a container image's.
func isImageConfig(mt string) bool { return mt == ociImageConfig || mt == dockerImageConfig }

// Scannable reports whether a manifest can be scanned: an image manifest
// with an image config, or an index with at least one child that may be
// one (see scanChildren). It reads nothing but the manifest.
func Scannable(m meta.Manifest) bool {
	switch m.MediaType {
	case manifest.OCIManifest, manifest.DockerManifest:
		// The registry records an image manifest's artifactType, or its
		// config media type when it has none.
		return isImageConfig(m.ArtifactType)
	case manifest.OCIIndex, manifest.DockerManifestList:
		p, err := manifest.Parse(m.MediaType, m.Content)
		return err == nil && len(scanChildren(p)) > 0
	}
	return false
}

// scanChildren are the children of an index that are scanned, each on its
// own: image manifests, but not buildx attestation manifests nor children
// whose platform is unknown/unknown.
func scanChildren(p *manifest.Parsed) []manifest.Descriptor {
	var out []manifest.Descriptor
	for _, c := range p.Manifests {
		if c.MediaType != manifest.OCIManifest && c.MediaType != manifest.DockerManifest {
			continue
		}
		if c.Annotations[attestationRef] == "attestation-manifest" {
			continue
		}
		if c.Platform != nil && c.Platform.OS == "unknown" && c.Platform.Architecture == "unknown" {
			continue
		}
		out = append(out, c)
	}
	return out
}

// contentError marks a failure caused by the image's content (a layer
// that is not a tar, a config that is not JSON): the scan fails with it
// rather than being retried.
type contentError struct{ err error }

func (e *contentError) Error() string { return e.err.Error() }
func (e *contentError) Unwrap() error { return e.err }

func contentErrorf(format string, args ...any) error {
	return &contentError{fmt.Errorf(format, args...)}
}

// maxConfigBytes bounds an image config read.
const maxConfigBytes = 8 << 20

// imageConfig is what the scan reads from an image config.
type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
}

func (c imageConfig) platform() string {
	if c.OS == "" && c.Architecture == "" {
		return ""
	}
	p := c.OS + "/" + c.Architecture
	if c.Variant != "" {
		p += "/" + c.Variant
	}
	return p
}

// readConfig reads and parses an image config blob.
func readConfig(ctx context.Context, blobs blob.Store, d string) (imageConfig, error) {
	r, _, err := blobs.Open(ctx, d)
	if errors.Is(err, blob.ErrNotFound) {
		return imageConfig{}, contentErrorf("image config %s is missing from the blob store", d)
	}
	if err != nil {
		return imageConfig{}, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return imageConfig{}, err
	}
	if len(b) > maxConfigBytes {
		return imageConfig{}, contentErrorf("image config %s is larger than %d bytes", d, maxConfigBytes)
	}
	var c imageConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return imageConfig{}, contentErrorf("image config %s is not valid JSON: %v", d, err)
	}
	return c, nil
}

// foreign reports whether a layer may live outside the registry
// (non-distributable layers, which carry URLs): such a layer is catalogued
// only if the registry happens to hold it.
func foreign(l manifest.Descriptor) bool {
	return strings.Contains(l.MediaType, ".nondistributable.") || strings.Contains(l.MediaType, ".foreign.") || len(l.URLs) > 0
}

// layers returns the layers of an image for the cataloguer, reading each
// from the blob store when it opens it.
func layers(ctx context.Context, blobs blob.Store, p *manifest.Parsed) ([]inventory.Layer, error) {
	out := make([]inventory.Layer, 0, len(p.Layers))
	for _, l := range p.Layers {
		d := string(l.Digest)
		if foreign(l) {
			if _, err := blobs.Stat(ctx, d); errors.Is(err, blob.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
		}
		out = append(out, inventory.Layer{
			Digest:    d,
			MediaType: l.MediaType,
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				r, _, err := blobs.Open(ctx, d)
				if errors.Is(err, blob.ErrNotFound) {
					return nil, contentErrorf("layer %s is missing from the blob store", d)
				}
				return r, err
			},
		})
	}
	return out, nil
}

// imageInventory is the inventory of one image manifest (a platform).
type imageInventory struct {
	// Digest is the image manifest's.
	Digest    string               `json:"digest"`
	Inventory *inventory.Inventory `json:"inventory"`
}

// storedInventory is the encoding of meta.Inventory.Data: the inventory of
// an image manifest is one entry; that of an index, one per child scanned.
type storedInventory struct {
	V      int              `json:"v"`
	Images []imageInventory `json:"images"`
}

func encodeInventory(images []imageInventory) ([]byte, error) {
	return encodeStored(storedInventory{V: 1, Images: images})
}

func decodeInventory(b []byte) ([]imageInventory, error) {
	var si storedInventory
	if err := decodeStored(b, &si); err != nil {
		return nil, fmt.Errorf("scan: stored inventory: %w", err)
	}
	for _, im := range si.Images {
		if im.Inventory == nil {
			return nil, errors.New("scan: stored inventory: an image without inventory")
		}
	}
	return si.Images, nil
}
