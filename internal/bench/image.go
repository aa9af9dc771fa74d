package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Layer is a layer of a synthetic image: either Data in memory (tiny
// layers) or Size pseudo-random bytes from Seed (large ones).
type Layer struct {
	Data []byte
	Seed uint64
	Size int64
}

func (l Layer) size() int64 {
	if l.Data != nil {
		return int64(len(l.Data))
	}
	return l.Size
}

func (l Layer) digest() string {
	if l.Data != nil {
		return DigestBytes(l.Data)
	}
	return Digest(l.Seed, l.Size)
}

func (l Layer) reader() io.Reader {
	if l.Data != nil {
		return &sliceReader{b: l.Data}
	}
	return NewRandReader(l.Seed, l.Size)
}

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// Image is a synthetic image: uncompressed tar layers (the registry never
// looks inside), a config whose diff_ids match them, and the manifest.
type Image struct {
	Layers       []Layer
	LayerDescs   []Descriptor
	Config       []byte
	ConfigDesc   Descriptor
	Manifest     []byte
	ManifestDesc Descriptor
}

// NewImage builds the config and manifest of an image made of layers.
// label makes the config (hence the manifest) unique.
func NewImage(label string, layers []Layer) *Image {
	img := &Image{Layers: layers}
	diffIDs := make([]string, len(layers))
	for i, l := range layers {
		d := l.digest()
		diffIDs[i] = d
		img.LayerDescs = append(img.LayerDescs, Descriptor{
			MediaType: "application/vnd.oci.image.layer.v1.tar",
			Digest:    d,
			Size:      l.size(),
		})
	}
	cfg := map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Labels": map[string]string{"wharf-bench": label}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	img.Config, _ = json.Marshal(cfg)
	img.ConfigDesc = Descriptor{MediaType: MediaTypeOCIConfig, Digest: DigestBytes(img.Config), Size: int64(len(img.Config))}
	m := Manifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest, Config: img.ConfigDesc, Layers: img.LayerDescs}
	img.Manifest, _ = json.Marshal(m)
	img.ManifestDesc = Descriptor{MediaType: MediaTypeOCIManifest, Digest: DigestBytes(img.Manifest), Size: int64(len(img.Manifest))}
	return img
}

// TotalSize returns the bytes of config and layers.
func (img *Image) TotalSize() int64 {
	n := img.ConfigDesc.Size
	for _, d := range img.LayerDescs {
		n += d.Size
	}
	return n
}

// PushOptions tune Client.PushImage.
type PushOptions struct {
	HeadFirst bool  // HEAD each blob and skip those present (as docker does)
	Chunk     int64 // chunk size for layers, 0 = monolithic
}

// PushImage uploads the layers, config and manifest of img under tag.
func (c *Client) PushImage(ctx context.Context, repo, tag string, img *Image, o PushOptions) error {
	push := func(d Descriptor, r io.Reader, chunk int64) error {
		if o.HeadFirst {
			ok, _, err := c.HeadBlob(ctx, repo, d.Digest)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
		return c.PushBlob(ctx, repo, d.Digest, d.Size, r, chunk)
	}
	for i, l := range img.Layers {
		if err := push(img.LayerDescs[i], l.reader(), o.Chunk); err != nil {
			return fmt.Errorf("push layer %d: %w", i, err)
		}
	}
	if err := push(img.ConfigDesc, &sliceReader{b: img.Config}, 0); err != nil {
		return fmt.Errorf("push config: %w", err)
	}
	if _, err := c.PutManifest(ctx, repo, tag, MediaTypeOCIManifest, img.Manifest); err != nil {
		return fmt.Errorf("push manifest: %w", err)
	}
	return nil
}
