// Package runner applies lifecycle policies to repositories: it loads a
// repository's images as the pure evaluator (internal/lifecycle) sees them,
// evaluates the policy, and acts on the result through the registry core
// (expire: its delete path; transition: its archive), recording one audit
// event per image acted on. A run is durable: its plan is stored before it
// acts, so a run that dies is resumed and acts on every image once.
//
// The loader is shared with lifecycle policy previews (the ECR API), so a
// preview shows exactly what a run would do.
package runner

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/lifecycle"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// listBatch is how many images the loader reads per store call.
const listBatch = 1000

// Info is what the loader keeps of each image besides the evaluator's view.
type Info struct {
	Tags     []string
	PushedAt time.Time
	// Status is the image status (meta.ImageActive, ...); StorageClass
	// STANDARD or ARCHIVE (registry.StorageClassOf).
	Status       string
	StorageClass string
	IsIndex      bool
}

// Images is a repository's images as the evaluator and the summary need
// them.
type Images struct {
	// Entries is the evaluator's input: one entry per image, and one per
	// (image, index listing it) for index children.
	Entries []lifecycle.Image
	// Blobs maps each image's digest to the blobs its manifest references
	// (lifecycle.Summarize).
	Blobs map[string][]lifecycle.Blob
	// ByDigest describes each image.
	ByDigest map[string]Info
}

// Load reads every image of the repository, reading manifests through the
// registry core (its cache) when the listing omits their content.
func Load(ctx context.Context, reg *registry.Service, r meta.Repository) (*Images, error) {
	type loaded struct {
		img      lifecycle.Image
		blobs    []lifecycle.Blob
		children []string
		info     Info
	}
	var all []loaded
	// When a tag was last moved to each image, from the tag history
	// (countType sinceImageTagged).
	tagged, err := reg.Meta().LastTagged(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	for after := ""; ; {
		page, err := reg.Meta().ListImages(ctx, r.ID, after, listBatch)
		if err != nil {
			return nil, err
		}
		for _, im := range page {
			l := loaded{
				img: lifecycle.Image{
					Digest:          im.Digest,
					Tags:            im.Tags,
					PushedAt:        im.PushedAt,
					LastPulledAt:    im.LastPullAt,
					TransitionedAt:  im.ArchivedAt,
					LastActivatedAt: im.ActivatedAt,
					LastTaggedAt:    tagged[im.Digest],
					StorageClass:    evaluatorClass(im.Manifest),
					Subject:         im.Subject,
				},
				info: Info{Tags: im.Tags, PushedAt: im.PushedAt, Status: registry.StatusOf(im.Manifest),
					StorageClass: registry.StorageClassOf(im.Manifest)},
			}
			content, mediaType := im.Content, im.MediaType
			if content == nil {
				m, err := reg.GetManifest(ctx, r, names.Reference{Digest: digest.Digest(im.Digest)})
				if registry.CodeOf(err) == registry.CodeManifestUnknown {
					continue // deleted meanwhile
				}
				if err != nil {
					return nil, err
				}
				content, mediaType = m.Content, m.MediaType
			}
			// Stored manifests were validated when pushed; one that no
			// longer parses is evaluated as an image without content.
			if p, err := manifest.Parse(mediaType, content); err == nil {
				size := map[string]int64{}
				if p.Config != nil {
					size[string(p.Config.Digest)] = p.Config.Size
					l.img.SizeBytes += p.Config.Size
				}
				for _, layer := range p.Layers {
					size[string(layer.Digest)] = max(size[string(layer.Digest)], layer.Size)
					l.img.SizeBytes += layer.Size
				}
				// Required blobs only: non-distributable layers are not
				// stored here.
				for _, d := range p.RequiredBlobs() {
					l.blobs = append(l.blobs, lifecycle.Blob{Digest: d, Size: size[d]})
				}
				if p.IsIndex() {
					l.info.IsIndex = true
					l.children = p.ChildManifests()
				}
			}
			all = append(all, l)
		}
		if len(page) < listBatch {
			break
		}
		after = page[len(page)-1].Digest
	}

	// An index's size is its largest child's, as DescribeImages reports.
	sizes := make(map[string]int64, len(all))
	for _, l := range all {
		sizes[l.img.Digest] = l.img.SizeBytes
	}
	parents := map[string][]string{}
	for i := range all {
		l := &all[i]
		for _, c := range l.children {
			parents[c] = append(parents[c], l.img.Digest)
			if l.info.IsIndex {
				l.img.SizeBytes = max(l.img.SizeBytes, sizes[c])
			}
		}
	}
	out := &Images{
		Entries:  make([]lifecycle.Image, 0, len(all)),
		Blobs:    make(map[string][]lifecycle.Blob, len(all)),
		ByDigest: make(map[string]Info, len(all)),
	}
	for _, l := range all {
		out.Blobs[l.img.Digest] = l.blobs
		out.ByDigest[l.img.Digest] = l.info
		ps := parents[l.img.Digest]
		if len(ps) == 0 {
			out.Entries = append(out.Entries, l.img)
			continue
		}
		// One entry per listing index (Evaluate merges them).
		for _, p := range ps {
			e := l.img
			e.ParentIndex = p
			out.Entries = append(out.Entries, e)
		}
	}
	return out, nil
}

// evaluatorClass is the storage class the evaluator sees: an image being
// restored is in neither class, so no rule selects (or counts) it until it
// is active again.
func evaluatorClass(m meta.Manifest) string {
	switch registry.StatusOf(m) {
	case meta.ImageActive:
		return lifecycle.StorageClassStandard
	case meta.ImageArchived:
		return lifecycle.StorageClassArchive
	}
	return m.Status
}
