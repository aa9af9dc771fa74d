package wharfapi

import (
	"context"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The platform guard setting of a repository: PutPlatformGuard turns it on
// or off, GetPlatformGuard reads it.

func init() {
	registerOps(func(s *Server, h *awsjson.Handler) {
		awsjson.Register(h, "PutPlatformGuard", s.PutPlatformGuard)
		awsjson.Register(h, "GetPlatformGuard", s.GetPlatformGuard)
	})
}

// PutPlatformGuardInput sets a repository's platform guard.
type PutPlatformGuardInput struct {
	RegistryID     *string `json:"registryId,omitzero"`
	RepositoryName *string `json:"repositoryName,omitzero"`
	Enabled        *bool   `json:"enabled,omitzero"`
}

// Validate checks the input against its constraints.
func (in *PutPlatformGuardInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, in.RepositoryName, true)
	if in.Enabled == nil {
		v.Null("enabled")
	}
	return v.Err()
}

// GetPlatformGuardInput names a repository.
type GetPlatformGuardInput struct {
	RegistryID     *string `json:"registryId,omitzero"`
	RepositoryName *string `json:"repositoryName,omitzero"`
}

// Validate checks the input against its constraints.
func (in *GetPlatformGuardInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, in.RepositoryName, true)
	return v.Err()
}

// PlatformGuardOutput is a repository's platform guard setting.
type PlatformGuardOutput struct {
	RegistryID     string             `json:"registryId"`
	RepositoryName string             `json:"repositoryName"`
	Enabled        bool               `json:"enabled"`
	UpdatedAt      *awsjson.Timestamp `json:"updatedAt,omitzero"`
	UpdatedBy      string             `json:"updatedBy,omitempty"`
}

func guardOutput(account, repo string, g meta.PlatformGuard) *PlatformGuardOutput {
	out := &PlatformGuardOutput{RegistryID: account, RepositoryName: repo, Enabled: g.Enabled, UpdatedBy: g.UpdatedBy}
	if !g.UpdatedAt.IsZero() {
		out.UpdatedAt = awsjson.NewTimestamp(g.UpdatedAt)
	}
	return out
}

// PutPlatformGuard turns a repository's platform guard on or off.
func (s *Server) PutPlatformGuard(ctx context.Context, in *PutPlatformGuardInput) (*PlatformGuardOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryID, in.RepositoryName, Action("PutPlatformGuard"))
	if err != nil {
		return nil, err
	}
	g, err := s.Registry.SetPlatformGuard(ctx, r, *in.Enabled, actor(ctx))
	if err != nil {
		return nil, apiError(err, account, r.Name)
	}
	return guardOutput(account, r.Name, g), nil
}

// GetPlatformGuard reads a repository's platform guard setting.
func (s *Server) GetPlatformGuard(ctx context.Context, in *GetPlatformGuardInput) (*PlatformGuardOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryID, in.RepositoryName, Action("GetPlatformGuard"))
	if err != nil {
		return nil, err
	}
	g, err := s.Registry.PlatformGuard(ctx, r)
	if err != nil {
		return nil, err
	}
	return guardOutput(account, r.Name, g), nil
}
