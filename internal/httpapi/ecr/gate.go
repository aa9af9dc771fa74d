package ecr

import (
	"context"
	"errors"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/policy"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Pull gates on the ECR plane: BatchGetImage is a pull, so policies that
// read wharf: image keys decide it image by image.

// pullGated reports whether BatchGetImage on the repository must be
// decided per image: a governing policy reads wharf: keys. Without gates
// (or when the authorizer applies none) it is false and the call is
// authorized once, as before.
func (s *Server) pullGated(ctx context.Context, registryIDIn, name *string) (bool, error) {
	ia, ok := s.Authz.(access.ImageAuthorizer)
	if !ok || s.Gate == nil {
		return false, nil
	}
	res := access.Resource{Region: s.Region, AccountID: registryID(ctx, registryIDIn), Repository: ecrapi.Deref(name)}
	return ia.GatesImages(ctx, caller(ctx), res)
}

// batchGetGated answers BatchGetImage deciding each image with its facts:
// an image a gate blocks is a failure ImageInaccessible whose reason names
// what blocks it. A caller allowed no image at all (every one denied other
// than by a gate, or none found and the call itself denied) gets
// AccessDeniedException, as without gates, so it learns nothing of the
// repository's images.
func (s *Server) batchGetGated(ctx context.Context, in *ecrapi.BatchGetImageInput) (*ecrapi.BatchGetImageOutput, error) {
	const action = access.ActionBatchGetImage
	ia := s.Authz.(access.ImageAuthorizer)
	p := caller(ctx)
	account, name := registryID(ctx, in.RegistryId), ecrapi.Deref(in.RepositoryName)
	res := access.Resource{Region: s.Region, AccountID: account, Repository: name}
	callDenied := func() error {
		err := s.Authz.Authorize(ctx, p, action, res)
		if errors.Is(err, access.ErrDenied) {
			return accessDenied(p, action, res.ARN())
		}
		return err
	}
	r, err := s.Registry.Repository(ctx, account, name, false)
	if registry.CodeOf(err) == registry.CodeNameUnknown {
		if err := callDenied(); err != nil {
			return nil, err
		}
		return nil, repoNotFound(account, name)
	}
	if err != nil {
		return nil, err
	}
	out := &ecrapi.BatchGetImageOutput{Images: []ecrapi.Image{}, Failures: []ecrapi.ImageFailure{}}
	add := s.batchGetOne(ctx, in, r, account, out)
	var found, plainDenied int
	err = s.eachImage(ctx, r, in.ImageIds, &out.Failures, func(id ecrapi.ImageIdentifier, tag string, m meta.Manifest) error {
		found++
		img := &ecrImage{s: s, account: account, repo: name, m: m}
		err := ia.AuthorizeImage(ctx, p, action, res, img)
		var de *access.DeniedError
		switch {
		case err == nil:
			return add(id, tag, m)
		case errors.As(err, &de) && de.Gate:
			out.Failures = append(out.Failures, imageFailure(id, ecrapi.ImageFailureCodeImageInaccessible, de.Message))
			return nil
		case errors.Is(err, access.ErrDenied):
			plainDenied++
			out.Failures = append(out.Failures, imageFailure(id, ecrapi.ImageFailureCodeImageInaccessible,
				"User: "+p.String()+" is not authorized to perform: "+action+" on this image"))
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case found > 0 && plainDenied == found:
		return nil, accessDenied(p, action, res.ARN())
	case found == 0:
		// Only malformed or unknown ids: answer them only to a caller
		// allowed the call itself.
		if err := callDenied(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ecrImage is an image of a BatchGetImage call, for the authorizer.
type ecrImage struct {
	s             *Server
	account, repo string
	m             meta.Manifest
	facts         gate.Facts
}

// Keys implements access.Image.
func (e *ecrImage) Keys(ctx context.Context) (policy.Context, error) {
	f, err := e.s.Gate.Facts(ctx, e.account, e.repo, gate.Manifest{Digest: e.m.Digest, MediaType: e.m.MediaType, Content: e.m.Content})
	if err != nil {
		return nil, err
	}
	e.facts = f
	return f.Keys(), nil
}

// Explain implements access.Image.
func (e *ecrImage) Explain(holds func(policy.Context) bool) string { return e.facts.Explain(holds) }
