// Package ecr implements the Amazon ECR API (AWS JSON 1.1 at POST /) over
// the registry core. Request and response types, validation against the
// service model and the protocol come from internal/awsjson; each operation
// here only authorizes, calls the core or the metadata store, and maps the
// result to ECR's shapes and exceptions.
package ecr

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/access/token"
	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/httpapi/ctlauth"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Server implements the ECR operations.
type Server struct {
	Registry *registry.Service
	Meta     meta.Store
	Authz    access.Authorizer
	Tokens   *token.Issuer
	Region   string
	// PublicHost is the registry host[:port] clients reach; empty means the
	// Host of each request.
	PublicHost string
	// Pager signs pagination tokens.
	Pager awsjson.Paginator
	// Now returns the current time (tests inject one).
	Now func() time.Time
	// Gate supplies pull-gate facts for BatchGetImage (nil: none).
	Gate *gate.Gate
	// Scans runs image scans (scanning.go).
	Scans *scan.Service
}

// Handler returns the HTTP handler of the ECR API with authentication set.
func (s *Server) Handler(authn func(r *http.Request, body []byte) (any, error)) *awsjson.Handler {
	h := ecrapi.NewHandler(s)
	h.Authenticate = authn
	return h
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// The request's caller and addressed account, and ECR's exceptions for
// denials and missing repositories, as both control-plane servers use them.
var (
	caller       = ctlauth.Caller
	registryID   = ctlauth.RegistryID
	accessDenied = ctlauth.AccessDenied
	repoNotFound = ctlauth.RepoNotFound
)

func (s *Server) guard() ctlauth.Guard {
	return ctlauth.Guard{Authz: s.Authz, Region: s.Region, Registry: s.Registry}
}

// host is the registry address used in repositoryUri and proxyEndpoint.
func (s *Server) host(ctx context.Context) string {
	if s.PublicHost != "" {
		return s.PublicHost
	}
	if r := awsjson.HTTPRequest(ctx); r != nil && r.Host != "" {
		return r.Host
	}
	return "localhost"
}

// authorize checks one action on a repository ("" = the registry).
func (s *Server) authorize(ctx context.Context, account, repo, action string) error {
	return s.guard().Authorize(ctx, account, repo, action)
}

// authorizeOwnRegistry authorizes a registry-level action on the caller's
// own registry and returns its account.
func (s *Server) authorizeOwnRegistry(ctx context.Context, action string) (string, error) {
	account := caller(ctx).AccountID
	return account, s.authorize(ctx, account, "", action)
}

// repository authorizes the action and loads the repository, answering
// RepositoryNotFoundException as ECR words it.
func (s *Server) repository(ctx context.Context, registryIDIn, name *string, action string) (meta.Repository, string, error) {
	return s.guard().Repository(ctx, registryIDIn, name, action)
}

// repoARN is the ARN of a repository.
func (s *Server) repoARN(account, name string) string {
	return "arn:aws:ecr:" + s.Region + ":" + account + ":repository/" + name
}

// parseRepoARN splits a repository ARN of this region into account and name.
func (s *Server) parseRepoARN(arn string) (account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecr" || parts[3] != s.Region || !strings.HasPrefix(parts[5], "repository/") {
		return "", "", false
	}
	return parts[4], strings.TrimPrefix(parts[5], "repository/"), true
}

// apiRepository maps a repository to ECR's shape.
func (s *Server) apiRepository(ctx context.Context, r meta.Repository) ecrapi.Repository {
	mut := ecrapi.ImageTagMutability(r.TagMutability)
	enc := ecrapi.EncryptionType(r.EncryptionType)
	out := ecrapi.Repository{
		RepositoryArn:              ecrapi.Ptr(s.repoARN(r.AccountID, r.Name)),
		RegistryId:                 ecrapi.Ptr(r.AccountID),
		RepositoryName:             ecrapi.Ptr(r.Name),
		RepositoryUri:              ecrapi.Ptr(s.host(ctx) + "/" + r.Name),
		CreatedAt:                  awsjson.NewTimestamp(r.CreatedAt),
		ImageTagMutability:         &mut,
		ImageScanningConfiguration: &ecrapi.ImageScanningConfiguration{ScanOnPush: ecrapi.Ptr(r.ScanOnPush)},
		EncryptionConfiguration:    &ecrapi.EncryptionConfiguration{EncryptionType: &enc},
	}
	if r.KMSKey != "" {
		out.EncryptionConfiguration.KmsKey = ecrapi.Ptr(r.KMSKey)
	}
	if filters := decodeExclusionFilters(r.MutabilityRule); len(filters) > 0 {
		out.ImageTagMutabilityExclusionFilters = filters
	}
	return out
}
