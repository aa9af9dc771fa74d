package gate

import (
	"context"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
)

// RegistryIndexes finds the indexes listing a manifest in the registry
// core (IndexSource).
type RegistryIndexes struct {
	Registry *registry.Service
}

// IndexesOf implements IndexSource.
func (x RegistryIndexes) IndexesOf(ctx context.Context, account, repository, digest string) ([]Manifest, error) {
	r, err := x.Registry.Repository(ctx, account, repository, false)
	if registry.CodeOf(err) == registry.CodeNameUnknown {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ds, err := x.Registry.Meta().ListIndexesOf(ctx, r.ID, digest)
	if err != nil {
		return nil, err
	}
	out := make([]Manifest, 0, len(ds))
	for _, d := range ds {
		pd, err := names.ParseDigest(d)
		if err != nil {
			continue
		}
		m, err := x.Registry.GetManifest(ctx, r, names.Reference{Digest: pd})
		if registry.CodeOf(err) == registry.CodeManifestUnknown {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Manifest{Digest: m.Digest, MediaType: m.MediaType, Content: m.Content})
	}
	return out, nil
}
