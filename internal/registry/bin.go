package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The recycle bin: every delete (BatchDeleteImage, /v2/ DELETE, lifecycle
// expiry, all through the core) moves the image with its tags into the bin
// in the transaction that deletes it, when Options.BinRetention is set. A
// binned image is invisible (GETs answer MANIFEST_UNKNOWN, listings skip
// it) but its blobs are kept from GC until the entry expires and the purge
// job drops it. Pushing the same manifest again recreates it.

// binUntil is when an image deleted now leaves the bin (zero: no bin).
func (s *Service) binUntil() (t time.Time) {
	if s.opts.BinRetention <= 0 {
		return t
	}
	return s.now().Add(s.opts.BinRetention)
}

// BinRetention is how long deleted images stay restorable (0: no bin).
func (s *Service) BinRetention() time.Duration { return s.opts.BinRetention }

// DeleteImage deletes an image by digest with every tag pointing at it,
// into the bin when it is on. The result lists the tags removed.
func (s *Service) DeleteImage(ctx context.Context, r meta.Repository, d string, who Actor) (meta.ImageDeleteResult, error) {
	return s.deleteImage(ctx, r, meta.ImageDelete{Digest: d}, who)
}

// UntagImage removes a tag (checked to point at d when d is set) and, as
// ECR's BatchDeleteImage does, deletes the image when that was its last
// tag and no index lists it: decided in one transaction, so an image
// another tag points at is never deleted.
func (s *Service) UntagImage(ctx context.Context, r meta.Repository, tag, d string, who Actor) (meta.ImageDeleteResult, error) {
	return s.deleteImage(ctx, r, meta.ImageDelete{Tag: tag, Digest: d, DeleteUntagged: true}, who)
}

func (s *Service) deleteImage(ctx context.Context, r meta.Repository, del meta.ImageDelete, who Actor) (meta.ImageDeleteResult, error) {
	del.RepoID, del.Actor, del.Via = r.ID, who.Principal, who.Via
	del.BinUntil = s.binUntil()
	res, err := s.meta.DeleteImage(ctx, del)
	// Whatever happened, what the caches hold about these may be stale.
	if del.Tag != "" {
		s.tags.drop(r.ID, del.Tag)
	}
	if d := firstNonEmpty(res.Digest, del.Digest); d != "" {
		s.manifests.drop(r.ID, d)
		s.tags.dropDigest(r.ID, d)
	}
	s.tagLists.drop(r.ID)
	var re *meta.ReferencedError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &re):
		return res, &Error{Code: CodeManifestReferenced,
			Message: fmt.Sprintf("manifest %s is referenced by the index %s in repository %s; delete the index first", re.Digest, re.Index, r.Name),
			Detail:  map[string]any{"index": re.Index}}
	case errors.Is(err, meta.ErrNotFound) && del.Tag != "":
		return res, errorf(CodeManifestUnknown, "tag %s unknown to repository %s", del.Tag, r.Name)
	case errors.Is(err, meta.ErrNotFound):
		return res, errorf(CodeManifestUnknown, "manifest %s unknown to repository %s", del.Digest, r.Name)
	case errors.Is(err, meta.ErrConflict):
		return res, errorf(CodeManifestUnknown, "tag %s does not point at %s in repository %s", del.Tag, del.Digest, r.Name)
	}
	return res, err
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ListBin lists recycle bin entries of an account (of one repository when
// r is not nil), newest deletion first; expired entries are not listed.
func (s *Service) ListBin(ctx context.Context, accountID string, r *meta.Repository, after meta.BinCursor, limit int) ([]meta.BinEntry, error) {
	q := meta.BinQuery{AccountID: accountID, Now: s.now(), After: after, Limit: limit}
	if r != nil {
		q.RepoID = r.ID
	}
	return s.meta.ListBin(ctx, q)
}

// RestoreResult tells what RestoreImage brought back: the image and the
// binned index children it needed (children first).
type RestoreResult struct {
	Images []meta.RestoredImage
}

// maxRestoreImages bounds the images one restore brings back (an index and
// its binned children).
const maxRestoreImages = 1000

// RestoreImage brings an image back from the recycle bin with its tags
// that point nowhere else (tags moved meanwhile are left and reported);
// an index brings back its binned children too. The restore is recorded
// in the tag history (via "restore") and the audit trail (image.restore).
func (s *Service) RestoreImage(ctx context.Context, r meta.Repository, d string, who Actor) (RestoreResult, error) {
	plan, err := s.restorePlan(ctx, r, d, map[string]bool{})
	if err != nil {
		return RestoreResult{}, err
	}
	out, err := s.meta.RestoreImages(ctx, r.ID, plan, s.now(), who.Principal, "restore")
	var miss *meta.MissingError
	switch {
	case errors.As(err, &miss) && errors.Is(err, meta.ErrChildMissing):
		return RestoreResult{}, &Error{Code: CodeManifestBlobUnknown,
			Message: fmt.Sprintf("cannot restore %s: the images it lists are gone from repository %s: %s", d, r.Name, strings.Join(miss.Digests, ", ")),
			Detail:  map[string]any{"digests": miss.Digests, "kind": "manifest"}}
	case errors.As(err, &miss):
		return RestoreResult{}, &Error{Code: CodeManifestBlobUnknown,
			Message: fmt.Sprintf("cannot restore %s: blobs it needs are no longer in repository %s: %s", d, r.Name, strings.Join(miss.Digests, ", ")),
			Detail:  map[string]any{"digests": miss.Digests, "kind": "blob"}}
	case errors.Is(err, meta.ErrNotFound):
		// The repository went, or the entry expired or was restored by
		// someone else meanwhile.
		if _, gerr := s.meta.GetRepository(ctx, r.AccountID, r.Name); errors.Is(gerr, meta.ErrNotFound) {
			s.repos.drop(r.AccountID, r.Name)
			return RestoreResult{}, errorf(CodeNameUnknown, "repository %q not found", r.Name)
		}
		return RestoreResult{}, errorf(CodeManifestUnknown, "image %s is not in the recycle bin of repository %s", d, r.Name)
	case err != nil:
		return RestoreResult{}, err
	}
	s.tagLists.drop(r.ID)
	for _, im := range out {
		for _, t := range im.Tags {
			s.tags.put(r.ID, t, im.Digest)
		}
		detail := map[string]any{"tags": nonNil(im.Tags)}
		if len(im.Skipped) > 0 {
			detail["skippedTags"] = im.Skipped
		}
		if im.Digest != d {
			detail["restoredWith"] = d
		}
		s.audit(ctx, meta.AuditEvent{AccountID: r.AccountID, Repository: r.Name, Action: "image.restore",
			Actor: who.Principal, Digest: im.Digest, Detail: jsonDetail(detail)})
	}
	return RestoreResult{Images: out}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// restorePlan lists what restoring d takes: its binned children first
// (recursively), then d, each with the references the store checks.
func (s *Service) restorePlan(ctx context.Context, r meta.Repository, d string, seen map[string]bool) ([]meta.ImageRestore, error) {
	if seen[d] {
		return nil, nil
	}
	seen[d] = true
	if len(seen) > maxRestoreImages {
		return nil, errorf(CodeInvalidParameter, "restoring %s would bring back more than %d images", d, maxRestoreImages)
	}
	e, err := s.meta.GetBinEntry(ctx, r.ID, d)
	if errors.Is(err, meta.ErrNotFound) {
		if _, gerr := s.meta.GetManifest(ctx, r.ID, d); gerr == nil {
			return nil, errorf(CodeInvalidParameter, "image %s of repository %s is not deleted", d, r.Name)
		}
		return nil, errorf(CodeManifestUnknown, "image %s is not in the recycle bin of repository %s", d, r.Name)
	}
	if err != nil {
		return nil, err
	}
	if !e.ExpiresAt.After(s.now()) {
		return nil, errorf(CodeManifestUnknown, "image %s left the recycle bin of repository %s at %s", d, r.Name, e.ExpiresAt.Format(time.RFC3339))
	}
	p, err := manifest.Parse(e.Manifest.MediaType, e.Manifest.Content)
	if err != nil {
		return nil, fmt.Errorf("registry: binned manifest %s does not parse: %w", d, err)
	}
	var plan []meta.ImageRestore
	for _, c := range p.ChildManifests() {
		if _, err := s.meta.GetManifest(ctx, r.ID, c); err == nil {
			continue
		} else if !errors.Is(err, meta.ErrNotFound) {
			return nil, err
		}
		sub, err := s.restorePlan(ctx, r, c, seen)
		if CodeOf(err) == CodeManifestUnknown {
			// Gone for good: the store reports it as a missing child.
			continue
		}
		if err != nil {
			return nil, err
		}
		plan = append(plan, sub...)
	}
	return append(plan, meta.ImageRestore{Digest: d, Refs: meta.Refs{Blobs: p.RequiredBlobs(), Manifests: p.ChildManifests()}}), nil
}

// PurgeBin drops the recycle bin entries that expired (their blobs then
// go with the next garbage collection), returning how many went.
func (s *Service) PurgeBin(ctx context.Context) (int64, error) {
	const batch = 500
	var total int64
	now := s.now()
	for {
		n, err := s.meta.PurgeBin(ctx, now, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
