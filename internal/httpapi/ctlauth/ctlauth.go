// Package ctlauth is what the control-plane servers (the ECR API and
// Wharf's extension API) share to authorize a request: its caller, the
// account it addresses, the policy check and the repository lookup, each
// answering with ECR's exceptions worded as ECR words them.
package ctlauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Caller returns the authenticated principal of the request.
func Caller(ctx context.Context) access.Principal {
	p, _ := awsjson.Principal(ctx).(access.Principal)
	return p
}

// RegistryID is the account a request addresses: the registryId member
// when given, else the caller's own account (as ECR defaults it).
func RegistryID(ctx context.Context, id *string) string {
	if id != nil && *id != "" {
		return *id
	}
	return Caller(ctx).AccountID
}

// AccessDenied is ECR's AccessDeniedException for an action on a resource.
func AccessDenied(p access.Principal, action, arn string) error {
	return &awsjson.Error{Code: "AccessDeniedException", Status: http.StatusBadRequest,
		Message: "User: " + p.String() + " is not authorized to perform: " + action + " on resource: " + arn +
			" because no policy allows the " + action + " action"}
}

// RepoNotFound is ECR's RepositoryNotFoundException.
func RepoNotFound(account, name string) error {
	return ecrapi.NewRepositoryNotFoundException("The repository with name '" + name + "' does not exist in the registry with id '" + account + "'")
}

// Guard authorizes actions of the caller in a region.
type Guard struct {
	Authz    access.Authorizer
	Region   string
	Registry *registry.Service
}

// Authorize checks one action on a repository ("" = the registry).
func (g Guard) Authorize(ctx context.Context, account, repo, action string) error {
	p := Caller(ctx)
	res := access.Resource{Region: g.Region, AccountID: account, Repository: repo}
	err := g.Authz.Authorize(ctx, p, action, res)
	if errors.Is(err, access.ErrDenied) {
		return AccessDenied(p, action, res.ARN())
	}
	return err
}

// Repository authorizes the action on the named repository of the
// addressed registry and loads it; it returns the account too.
func (g Guard) Repository(ctx context.Context, registryID, name *string, action string) (meta.Repository, string, error) {
	account := RegistryID(ctx, registryID)
	n := awsjson.Deref(name)
	if err := g.Authorize(ctx, account, n, action); err != nil {
		return meta.Repository{}, account, err
	}
	r, err := g.Registry.Repository(ctx, account, n, false)
	if registry.CodeOf(err) == registry.CodeNameUnknown {
		return meta.Repository{}, account, RepoNotFound(account, n)
	}
	return r, account, err
}
