package gate

import (
	"context"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan/vex"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// VEXArtifactTypes are the artifact types of referrers read as OpenVEX
// documents: the registered vnd type, and the unprefixed spelling some
// tools write.
var VEXArtifactTypes = []string{vex.ArtifactType, "application/openvex+json"}

// RegistryVEX reads the OpenVEX documents attached to images as OCI
// referrers (a manifest whose subject is the image and whose artifactType
// is one of VEXArtifactTypes; each layer holds a document, e.g. pushed
// with `oras attach --artifact-type application/vnd.openvex+json IMAGE
// vex.json`). A layer that is not an OpenVEX document, or is larger than
// vex.MaxDocumentBytes, is skipped: a bad attachment never blocks a pull.
// Parsed documents are cached by the referrer's digest (content addressed,
// so never stale).
type RegistryVEX struct {
	Registry *registry.Service

	mu    sync.Mutex
	cache map[vexKey][]meta.Suppression
}

type vexKey struct {
	repo              int64
	referrer, subject string
}

// VEXSuppressions implements VEXSource.
func (v *RegistryVEX) VEXSuppressions(ctx context.Context, account, repository, subject string) ([]meta.Suppression, error) {
	repo, err := v.Registry.Repository(ctx, account, repository, false)
	if registry.CodeOf(err) == registry.CodeNameUnknown {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	refs, err := v.Registry.Meta().ListReferrers(ctx, repo.ID, subject)
	if err != nil {
		return nil, err
	}
	var out []meta.Suppression
	for _, ref := range refs {
		if !isVEX(ref.ArtifactType) {
			continue
		}
		k := vexKey{repo.ID, ref.Digest, subject}
		v.mu.Lock()
		s, ok := v.cache[k]
		v.mu.Unlock()
		if !ok {
			if s, err = v.read(ctx, repo, ref.Digest, vex.Image{AccountID: account, Repository: repository, Digest: subject}); err != nil {
				return nil, err
			}
			v.mu.Lock()
			if v.cache == nil || len(v.cache) > ttlCacheMax {
				v.cache = map[vexKey][]meta.Suppression{}
			}
			v.cache[k] = s
			v.mu.Unlock()
		}
		out = append(out, s...)
	}
	return out, nil
}

func isVEX(t string) bool {
	for _, a := range VEXArtifactTypes {
		if t == a {
			return true
		}
	}
	return false
}

// read parses the documents of one referrer.
func (v *RegistryVEX) read(ctx context.Context, repo meta.Repository, ref string, img vex.Image) ([]meta.Suppression, error) {
	d, err := names.ParseDigest(ref)
	if err != nil {
		return nil, nil
	}
	m, err := v.Registry.GetManifest(ctx, repo, names.Reference{Digest: d})
	if registry.CodeOf(err) == registry.CodeManifestUnknown {
		return nil, nil // deleted meanwhile
	}
	if err != nil {
		return nil, err
	}
	p, err := manifest.Parse(m.MediaType, m.Content)
	if err != nil {
		return nil, nil
	}
	var out []meta.Suppression
	for _, l := range p.Layers {
		if l.Size > vex.MaxDocumentBytes {
			continue
		}
		b, err := v.readBlob(ctx, repo, l.Digest)
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		doc, err := vex.Parse(b)
		if err != nil {
			continue
		}
		out = append(out, doc.Suppressions(img, "openvex:"+ref)...)
	}
	return out, nil
}

// readBlob reads a small blob; nil when it is missing or too large.
func (v *RegistryVEX) readBlob(ctx context.Context, repo meta.Repository, d digest.Digest) ([]byte, error) {
	rd, _, err := v.Registry.OpenBlob(ctx, repo, d)
	if registry.CodeOf(err) == registry.CodeBlobUnknown {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, vex.MaxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > vex.MaxDocumentBytes {
		return nil, nil
	}
	return b, nil
}
