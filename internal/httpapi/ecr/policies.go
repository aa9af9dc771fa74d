package ecr

import (
	"context"
	"errors"

	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/policy"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Repository and registry policies. Both are resource policies: they must
// parse and name a principal in every statement.

// checkResourcePolicy validates a repository policy ("repository") or
// registry policy ("registry") document, answering ECR's
// InvalidParameterException with the parser's explanation.
func checkResourcePolicy(kind, doc string) error {
	p, err := policy.Parse([]byte(doc))
	if err == nil {
		err = p.ValidateResource()
	}
	if err != nil {
		return ecrapi.NewInvalidParameterException("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid " + kind + " policy provided': " + err.Error())
	}
	return nil
}

// SetRepositoryPolicy attaches a policy to a repository, replacing any.
// force is accepted; Wharf does not refuse policies that would lock the
// caller out.
func (s *Server) SetRepositoryPolicy(ctx context.Context, in *ecrapi.SetRepositoryPolicyInput) (*ecrapi.SetRepositoryPolicyOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:SetRepositoryPolicy")
	if err != nil {
		return nil, err
	}
	doc := ecrapi.Deref(in.PolicyText)
	if err := checkResourcePolicy("repository", doc); err != nil {
		return nil, err
	}
	r.Policy = doc
	if err := s.updateRepository(ctx, r); err != nil {
		return nil, err
	}
	return &ecrapi.SetRepositoryPolicyOutput{
		RegistryId:     ecrapi.Ptr(account),
		RepositoryName: ecrapi.Ptr(r.Name),
		PolicyText:     ecrapi.Ptr(doc),
	}, nil
}

func repoPolicyNotFound(account, name string) error {
	return ecrapi.NewRepositoryPolicyNotFoundException("Repository policy does not exist for the repository with name '" + name + "' in the registry with id '" + account + "'")
}

// GetRepositoryPolicy returns a repository's policy.
func (s *Server) GetRepositoryPolicy(ctx context.Context, in *ecrapi.GetRepositoryPolicyInput) (*ecrapi.GetRepositoryPolicyOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:GetRepositoryPolicy")
	if err != nil {
		return nil, err
	}
	if r.Policy == "" {
		return nil, repoPolicyNotFound(account, r.Name)
	}
	return &ecrapi.GetRepositoryPolicyOutput{
		RegistryId:     ecrapi.Ptr(account),
		RepositoryName: ecrapi.Ptr(r.Name),
		PolicyText:     ecrapi.Ptr(r.Policy),
	}, nil
}

// DeleteRepositoryPolicy removes a repository's policy, returning it.
func (s *Server) DeleteRepositoryPolicy(ctx context.Context, in *ecrapi.DeleteRepositoryPolicyInput) (*ecrapi.DeleteRepositoryPolicyOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:DeleteRepositoryPolicy")
	if err != nil {
		return nil, err
	}
	doc := r.Policy
	if doc == "" {
		return nil, repoPolicyNotFound(account, r.Name)
	}
	r.Policy = ""
	if err := s.updateRepository(ctx, r); err != nil {
		return nil, err
	}
	return &ecrapi.DeleteRepositoryPolicyOutput{
		RegistryId:     ecrapi.Ptr(account),
		RepositoryName: ecrapi.Ptr(r.Name),
		PolicyText:     ecrapi.Ptr(doc),
	}, nil
}

func registryPolicyNotFound(account string) error {
	return ecrapi.NewRegistryPolicyNotFoundException("Registry policy does not exist in the registry with id '" + account + "'")
}

// PutRegistryPolicy sets the caller's registry policy.
func (s *Server) PutRegistryPolicy(ctx context.Context, in *ecrapi.PutRegistryPolicyInput) (*ecrapi.PutRegistryPolicyOutput, error) {
	account := caller(ctx).AccountID
	if err := s.authorize(ctx, account, "", "ecr:PutRegistryPolicy"); err != nil {
		return nil, err
	}
	doc := ecrapi.Deref(in.PolicyText)
	if err := checkResourcePolicy("registry", doc); err != nil {
		return nil, err
	}
	if err := s.Registry.PutRegistryPolicy(ctx, account, doc); err != nil {
		return nil, err
	}
	return &ecrapi.PutRegistryPolicyOutput{RegistryId: ecrapi.Ptr(account), PolicyText: ecrapi.Ptr(doc)}, nil
}

// GetRegistryPolicy returns the caller's registry policy.
func (s *Server) GetRegistryPolicy(ctx context.Context, _ *ecrapi.GetRegistryPolicyInput) (*ecrapi.GetRegistryPolicyOutput, error) {
	account := caller(ctx).AccountID
	if err := s.authorize(ctx, account, "", "ecr:GetRegistryPolicy"); err != nil {
		return nil, err
	}
	doc, err := s.Registry.RegistryPolicy(ctx, account)
	if err != nil {
		return nil, err
	}
	if doc == "" {
		return nil, registryPolicyNotFound(account)
	}
	return &ecrapi.GetRegistryPolicyOutput{RegistryId: ecrapi.Ptr(account), PolicyText: ecrapi.Ptr(doc)}, nil
}

// DeleteRegistryPolicy removes the caller's registry policy, returning it.
func (s *Server) DeleteRegistryPolicy(ctx context.Context, _ *ecrapi.DeleteRegistryPolicyInput) (*ecrapi.DeleteRegistryPolicyOutput, error) {
	account := caller(ctx).AccountID
	if err := s.authorize(ctx, account, "", "ecr:DeleteRegistryPolicy"); err != nil {
		return nil, err
	}
	// Read the store, not the core's cache: the document returned must be
	// the one deleted.
	doc, err := s.Meta.GetRegistryPolicy(ctx, account)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, registryPolicyNotFound(account)
	}
	if err != nil {
		return nil, err
	}
	err = s.Registry.DeleteRegistryPolicy(ctx, account)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, registryPolicyNotFound(account)
	}
	if err != nil {
		return nil, err
	}
	return &ecrapi.DeleteRegistryPolicyOutput{RegistryId: ecrapi.Ptr(account), PolicyText: ecrapi.Ptr(doc)}, nil
}
