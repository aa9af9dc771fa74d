package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// PutManifestResult tells what a manifest push stored.
type PutManifestResult struct {
	Digest  digest.Digest
	Subject digest.Digest
}

// Actor names who does a write, for the tag history.
type Actor struct {
	Principal string
	Via       string // "oci", "ecr", ...
}

// MaxManifestBytes is the configured manifest size limit.
func (s *Service) MaxManifestBytes() int64 { return s.opts.MaxManifestBytes }

// PutOptions modify a manifest push.
type PutOptions struct {
	// PlatformOverride lets a tag move to an image of other platforms
	// although the repository's platform guard is on (audited).
	PlatformOverride bool
}

// PutManifest validates and stores a manifest, moving ref when it is a tag.
func (s *Service) PutManifest(ctx context.Context, r meta.Repository, ref names.Reference, contentType string, body []byte, who Actor) (PutManifestResult, error) {
	return s.PutManifestWith(ctx, r, ref, contentType, body, who, PutOptions{})
}

// guardRetries bounds how often a guarded push re-checks platforms when
// the tag keeps moving under it.
const guardRetries = 3

// PutManifestWith is PutManifest with options.
func (s *Service) PutManifestWith(ctx context.Context, r meta.Repository, ref names.Reference, contentType string, body []byte, who Actor, opts PutOptions) (PutManifestResult, error) {
	if int64(len(body)) > s.opts.MaxManifestBytes {
		return PutManifestResult{}, errorf(CodeManifestTooLarge, "manifest of %d bytes exceeds the limit of %d", len(body), s.opts.MaxManifestBytes)
	}
	p, err := manifest.Parse(contentType, body)
	if err != nil {
		// Unsupported media types are MANIFEST_INVALID too, as the spec and
		// distribution answer them.
		return PutManifestResult{}, errorf(CodeManifestInvalid, "%v", err)
	}
	d := digest.SHA256.FromBytes(body)
	if ref.IsDigest() {
		if got := ref.Digest.Algorithm().FromBytes(body); got != ref.Digest {
			return PutManifestResult{}, errorf(CodeDigestInvalid, "manifest digest %s does not match content (%s)", ref.Digest, got)
		}
		d = ref.Digest
	}
	m := meta.Manifest{
		RepoID:       r.ID,
		Digest:       string(d),
		MediaType:    p.MediaType,
		ArtifactType: p.ArtifactType,
		Size:         int64(len(body)),
		Content:      body,
		PushedAt:     s.now(),
	}
	if p.Config != nil {
		m.ConfigDigest = string(p.Config.Digest)
	}
	var res PutManifestResult
	res.Digest = d
	if p.Subject != nil {
		m.Subject = string(p.Subject.Digest)
		res.Subject = p.Subject.Digest
	}
	if len(p.Annotations) > 0 {
		m.Annotations, _ = json.Marshal(p.Annotations)
	}
	put := meta.PutManifest{
		Manifest: m,
		Refs:     meta.Refs{Blobs: p.RequiredBlobs(), Manifests: p.ChildManifests(), Optional: p.OptionalBlobs()},
		Tag:      ref.Tag,
		Actor:    who.Principal,
		Via:      who.Via,
	}
	guarded := false
	if ref.Tag != "" {
		var err error
		if guarded, err = s.guardOn(ctx, r); err != nil {
			return res, err
		}
	}
	for attempt := 0; ; attempt++ {
		// With the guard on, the platforms are compared before the write
		// (reading blobs inside the transaction would hold it open); the
		// transaction then checks that the tag still points where it did.
		checked, mismatch := "", (*PlatformMismatch)(nil)
		if guarded {
			cur, err := s.meta.ResolveTag(ctx, r.ID, ref.Tag)
			switch {
			case errors.Is(err, meta.ErrNotFound):
			case err != nil:
				return res, err
			case cur != string(d) && !TagImmutable(r, ref.Tag):
				if mismatch, err = s.checkPlatforms(ctx, r, ref.Tag, cur, m); err != nil {
					return res, err
				}
				if mismatch != nil && !opts.PlatformOverride {
					return res, mismatchError(mismatch)
				}
				checked = cur
			}
		}
		if ref.Tag != "" {
			put.AllowTagMove = func(current string) error {
				if err := s.allowTagMove(r, ref.Tag, current, string(d)); err != nil {
					return err
				}
				if guarded && current != "" && current != string(d) && current != checked {
					return errGuardStale
				}
				return nil
			}
		}
		err := s.putManifest(ctx, r, put, res)
		if errors.Is(err, errGuardStale) {
			if attempt < guardRetries {
				continue
			}
			return res, errorf(CodeTagMoved, "tag %s of repository %s kept moving while its platforms were checked; retry the push", ref.Tag, r.Name)
		}
		if err != nil {
			return res, err
		}
		if mismatch != nil {
			s.auditOverride(ctx, r, mismatch, who)
		}
		return res, nil
	}
}

// errGuardStale aborts a guarded push whose tag moved after its platforms
// were compared.
var errGuardStale = errors.New("registry: tag moved during the platform check")

// putManifest writes a prepared manifest push and updates the caches.
func (s *Service) putManifest(ctx context.Context, r meta.Repository, put meta.PutManifest, res PutManifestResult) error {
	if err := s.meta.PutManifest(ctx, put); err != nil {
		var miss *meta.MissingError
		if errors.As(err, &miss) {
			kind := "blob"
			if errors.Is(err, meta.ErrChildMissing) {
				kind = "manifest"
			}
			return &Error{Code: CodeManifestBlobUnknown,
				Message: fmt.Sprintf("%s %s not found in repository %s", kind, strings.Join(miss.Digests, ", "), r.Name),
				Detail:  map[string]any{"digests": miss.Digests}}
		}
		return err
	}
	// Pushing an archived image again restores it: its cached status is
	// stale.
	s.manifests.drop(r.ID, put.Manifest.Digest)
	if put.Tag != "" {
		s.tags.put(r.ID, put.Tag, put.Manifest.Digest)
		s.tagLists.drop(r.ID)
	}
	for _, h := range s.pushHooks {
		h(ctx, r, put.Manifest)
	}
	return nil
}

// PushHook is told of every manifest stored, through either plane, after
// it committed (scan on push queues a scan). It must not block the push
// for long nor fail it: the push has succeeded.
type PushHook func(ctx context.Context, r meta.Repository, m meta.Manifest)

// OnPush registers a hook; call it before serving.
func (s *Service) OnPush(h PushHook) { s.pushHooks = append(s.pushHooks, h) }

// allowTagMove applies the repository's tag mutability to a tag move.
func (s *Service) allowTagMove(r meta.Repository, tag, current, next string) error {
	if current == "" || current == next {
		return nil
	}
	if TagImmutable(r, tag) {
		return errorf(CodeTagInvalid, "The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", tag, r.Name)
	}
	return nil
}

// GetManifest returns a manifest by tag or digest.
func (s *Service) GetManifest(ctx context.Context, r meta.Repository, ref names.Reference) (meta.Manifest, error) {
	d := string(ref.Digest)
	if !ref.IsDigest() {
		var err error
		if d, err = s.resolveTag(ctx, r, ref.Tag); err != nil {
			return meta.Manifest{}, err
		}
	}
	if m, ok := s.manifests.get(r.ID, d); ok {
		return m, nil
	}
	m, err := s.meta.GetManifest(ctx, r.ID, d)
	if errors.Is(err, meta.ErrNotFound) {
		if !ref.IsDigest() {
			s.tags.drop(r.ID, ref.Tag)
		}
		return meta.Manifest{}, errorf(CodeManifestUnknown, "manifest %s unknown to repository %s", ref, r.Name)
	}
	if err != nil {
		return meta.Manifest{}, err
	}
	s.manifests.put(m)
	return m, nil
}

func (s *Service) resolveTag(ctx context.Context, r meta.Repository, tag string) (string, error) {
	if d, ok := s.tags.get(r.ID, tag); ok {
		return d, nil
	}
	d, err := s.meta.ResolveTag(ctx, r.ID, tag)
	if errors.Is(err, meta.ErrNotFound) {
		return "", errorf(CodeManifestUnknown, "tag %s unknown to repository %s", tag, r.Name)
	}
	if err != nil {
		return "", err
	}
	s.tags.put(r.ID, tag, d)
	return d, nil
}

// DeleteManifest deletes by digest (the image and all its tags, into the
// recycle bin when it is on) or by tag (the tag only: the image stays,
// untagged, as the distribution spec has it).
func (s *Service) DeleteManifest(ctx context.Context, r meta.Repository, ref names.Reference, who Actor) error {
	if !ref.IsDigest() {
		_, err := s.deleteImage(ctx, r, meta.ImageDelete{Tag: ref.Tag}, who)
		return err
	}
	_, err := s.DeleteImage(ctx, r, string(ref.Digest), who)
	return err
}

// Referrers builds the referrers index of a subject digest, optionally
// filtered by artifact type.
func (s *Service) Referrers(ctx context.Context, r meta.Repository, subject digest.Digest, artifactType string) ([]byte, error) {
	refs, err := s.meta.ListReferrers(ctx, r.ID, string(subject))
	if err != nil {
		return nil, err
	}
	type desc struct {
		MediaType    string          `json:"mediaType"`
		ArtifactType string          `json:"artifactType,omitempty"`
		Digest       string          `json:"digest"`
		Size         int64           `json:"size"`
		Annotations  json.RawMessage `json:"annotations,omitempty"`
	}
	idx := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []desc `json:"manifests"`
	}{SchemaVersion: 2, MediaType: manifest.OCIIndex, Manifests: []desc{}}
	for _, ref := range refs {
		if artifactType != "" && ref.ArtifactType != artifactType {
			continue
		}
		if ref.Status != "" && ref.Status != meta.ImageActive {
			continue // archived: it cannot be pulled, so it is not offered
		}
		d := desc{MediaType: ref.MediaType, ArtifactType: ref.ArtifactType, Digest: ref.Digest, Size: ref.Size}
		if len(ref.Annotations) > 0 {
			d.Annotations = ref.Annotations
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	return json.Marshal(idx)
}

// EmptyReferrers is the referrers index of a subject nothing refers to.
func EmptyReferrers() []byte {
	return []byte(`{"schemaVersion":2,"mediaType":"` + manifest.OCIIndex + `","manifests":[]}`)
}

// RecordPull notes that a manifest was pulled (ECR's lastRecordedPullTime).
func (s *Service) RecordPull(ctx context.Context, r meta.Repository, d string) error {
	return s.meta.TouchPull(ctx, r.ID, d, s.now())
}
