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

// PutManifest validates and stores a manifest, moving ref when it is a tag.
func (s *Service) PutManifest(ctx context.Context, r meta.Repository, ref names.Reference, contentType string, body []byte, who Actor) (PutManifestResult, error) {
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
	if ref.Tag != "" {
		put.AllowTagMove = func(current string) error {
			return s.allowTagMove(r, ref.Tag, current, string(d))
		}
	}
	if err := s.meta.PutManifest(ctx, put); err != nil {
		var miss *meta.MissingError
		if errors.As(err, &miss) {
			kind := "blob"
			if errors.Is(err, meta.ErrChildMissing) {
				kind = "manifest"
			}
			return res, &Error{Code: CodeManifestBlobUnknown,
				Message: fmt.Sprintf("%s %s not found in repository %s", kind, strings.Join(miss.Digests, ", "), r.Name),
				Detail:  map[string]any{"digests": miss.Digests}}
		}
		return res, err
	}
	if ref.Tag != "" {
		s.tags.put(r.ID, ref.Tag, string(d))
		s.tagLists.drop(r.ID)
	}
	for _, h := range s.pushHooks {
		h(ctx, r, m)
	}
	return res, nil
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

// DeleteManifest deletes by digest (the image and all its tags) or by tag
// (the tag only).
func (s *Service) DeleteManifest(ctx context.Context, r meta.Repository, ref names.Reference, who Actor) error {
	if !ref.IsDigest() {
		err := s.meta.DeleteTag(ctx, r.ID, ref.Tag, who.Principal, who.Via)
		s.tags.drop(r.ID, ref.Tag)
		s.tagLists.drop(r.ID)
		if errors.Is(err, meta.ErrNotFound) {
			return errorf(CodeManifestUnknown, "tag %s unknown to repository %s", ref.Tag, r.Name)
		}
		return err
	}
	err := s.meta.DeleteManifest(ctx, r.ID, string(ref.Digest), who.Principal, who.Via)
	s.manifests.drop(r.ID, string(ref.Digest))
	s.tags.dropDigest(r.ID, string(ref.Digest))
	s.tagLists.drop(r.ID)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return errorf(CodeManifestUnknown, "manifest %s unknown to repository %s", ref.Digest, r.Name)
	case errors.Is(err, meta.ErrReferenced):
		return errorf(CodeManifestReferenced, "manifest %s is referenced by an index in repository %s: %v", ref.Digest, r.Name, err)
	}
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
