package oci

import (
	"context"
	"errors"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/policy"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// pull authorizes a manifest GET/HEAD (ecr:BatchGetImage) and returns the
// manifest. Pull gates see the image's facts: the authorizer asks for them
// (resolving the reference first) only when a policy reads wharf: keys, so
// an ungated pull costs what it did before gates existed.
func (h *Handler) pull(req *request, ref names.Reference) (meta.Manifest, meta.Repository, bool) {
	ia, gated := h.Authz.(access.ImageAuthorizer)
	if !gated || h.Gate == nil {
		repo, ok := h.repo(req, false, access.ActionBatchGetImage)
		if !ok {
			return meta.Manifest{}, meta.Repository{}, false
		}
		m, err := h.Registry.PullManifest(req.r.Context(), repo, ref)
		if err != nil {
			h.writeError(req.w, req.r, err)
			return meta.Manifest{}, meta.Repository{}, false
		}
		return m, repo, true
	}
	ctx := req.r.Context()
	res := access.Resource{Region: h.Region, AccountID: req.account, Repository: req.name}
	// First without the image: only when a policy reads wharf: keys is it
	// resolved (and allocated: the common pull allocates nothing for gates).
	var img *pullImage
	err := ia.AuthorizeImage(ctx, req.principal, access.ActionBatchGetImage, res, nil)
	if errors.Is(err, access.ErrImageNeeded) {
		img = &pullImage{h: h, account: req.account, name: req.name, ref: ref}
		err = ia.AuthorizeImage(ctx, req.principal, access.ActionBatchGetImage, res, img)
	}
	if err != nil {
		err = pullDenied(req, err, img)
	}
	if err != nil {
		h.writeError(req.w, req.r, err)
		return meta.Manifest{}, meta.Repository{}, false
	}
	if img != nil && img.res != nil && img.res.found {
		r := img.res
		if !registry.Active(r.m) {
			h.writeError(req.w, req.r, registry.ArchivedError(r.repo, ref.String(), r.m))
			return meta.Manifest{}, meta.Repository{}, false
		}
		return r.m, r.repo, true
	}
	repo, err := h.Registry.Repository(ctx, req.account, req.name, false)
	if err != nil {
		h.writeError(req.w, req.r, err)
		return meta.Manifest{}, meta.Repository{}, false
	}
	m, err := h.Registry.PullManifest(ctx, repo, ref)
	if err != nil {
		h.writeError(req.w, req.r, err)
		return meta.Manifest{}, meta.Repository{}, false
	}
	return m, repo, true
}

// pullDenied maps a pull's authorization error. A gate that denied an
// image that does not exist (its keys were absent, and a negated condition
// held) denied a caller allowed but for the gate: it hears what is true,
// nil here and 404 next. An anonymous caller denied otherwise is asked to
// authenticate; a gate's denial stays 403 (credentials would not help).
func pullDenied(req *request, err error, img *pullImage) error {
	var de *access.DeniedError
	gateDenied := errors.As(err, &de) && de.Gate
	switch {
	case gateDenied && img != nil && (img.res == nil || !img.res.found):
		return nil
	case req.principal.Anonymous && errors.Is(err, access.ErrDenied) && !gateDenied:
		return access.ErrNoCredentials
	}
	return err
}

// pullImage is the image of a manifest pull, resolved only when a gate
// asks (access.Image).
type pullImage struct {
	h             *Handler
	account, name string // not the request: holding it would move every request to the heap
	ref           names.Reference
	res           *pullResult
}

// pullResult is what resolving the image found.
type pullResult struct {
	found bool
	repo  meta.Repository
	m     meta.Manifest
	facts gate.Facts
}

// Keys resolves the reference and looks the image's facts up; a missing
// repository or manifest has no keys (the pull then answers 404, if the
// policies allow it).
func (pi *pullImage) Keys(ctx context.Context) (policy.Context, error) {
	h := pi.h
	repo, err := h.Registry.Repository(ctx, pi.account, pi.name, false)
	if registry.CodeOf(err) == registry.CodeNameUnknown {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := h.Registry.GetManifest(ctx, repo, pi.ref)
	if registry.CodeOf(err) == registry.CodeManifestUnknown {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := &pullResult{found: true, repo: repo, m: m}
	pi.res = r
	r.facts, err = h.Gate.Facts(ctx, pi.account, pi.name, gate.Manifest{Digest: m.Digest, MediaType: m.MediaType, Content: m.Content})
	if err != nil {
		return nil, err
	}
	return r.facts.Keys(), nil
}

// Explain implements access.Image.
func (pi *pullImage) Explain(holds func(policy.Context) bool) string {
	if pi.res == nil {
		return "image " + pi.ref.String() + " is blocked"
	}
	return pi.res.facts.Explain(holds)
}
