// Package wharfapi is Wharf's extension API: operations ECR does not have
// (tag history and rollback, the recycle bin, the platform guard, and what
// later features add), served exactly like the ECR API so that the same
// tools reach them. It is AWS JSON 1.1 at the same endpoint (POST /), with
// X-Amz-Target "WharfRegistry_V1.<Operation>", SigV4 with the service name
// "ecr" (the same credentials and signature as ECR calls), the same policy
// authorizer and ECR's exception names where they fit.
//
// Authorization uses actions of their own namespace, "wharf:<Operation>"
// (wharf:ListTagHistory, wharf:RollbackTag, ...), on the repository's ECR
// ARN (or the registry's, for registry-wide calls). As in IAM, a pattern
// matches only its own service: "ecr:*" does not grant wharf: actions;
// "*" and "wharf:*" do, and the account root has them all in its account.
//
// Shapes are hand-written in ECR's style (camelCase members, registryId
// defaulting to the caller's account, repositoryName, nextToken and
// maxResults); each input validates itself (Validate) with the awsjson
// validator, so constraint violations read like AWS's.
//
// Adding an operation: write its input/output types and a method on
// *Server in a file of this package, and register it from that file's
// init with registerOps (see history.go). Handlers stay thin: authorize
// with s.repository or s.authorize, call the registry core, map errors.
package wharfapi

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/httpapi/ctlauth"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/scan/sbomsvc"
	"github.com/wharfhq/wharf/internal/scan/suppress"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// TargetPrefix is the X-Amz-Target prefix of the extension API.
const TargetPrefix = "WharfRegistry_V1"

// FaultCode is the __type of internal failures (as ECR's ServerException).
const FaultCode = "ServerException"

// Server implements the extension operations.
type Server struct {
	Registry *registry.Service
	Meta     meta.Store
	Authz    access.Authorizer
	Region   string
	// Pager signs nextTokens (the same key as the ECR API's).
	Pager awsjson.Paginator
	// Now returns the current time (tests inject one).
	Now    func() time.Time
	Logger *slog.Logger
	// SBOM makes and attaches SBOMs (GetImageSbom); Suppressions keeps
	// finding suppressions (Put/Delete/ListFindingSuppressions).
	SBOM         *sbomsvc.Service
	Suppressions *suppress.Service
}

// registrars add the operations of this package's files to a handler.
var registrars []func(s *Server, h *awsjson.Handler)

// registerOps is called from a file's init to add its operations.
func registerOps(fn func(s *Server, h *awsjson.Handler)) {
	registrars = append(registrars, fn)
}

// Handler returns the HTTP handler of the extension API with every
// operation registered and authentication set (the ECR API's function).
func (s *Server) Handler(authn func(r *http.Request, body []byte) (any, error)) *awsjson.Handler {
	h := &awsjson.Handler{TargetPrefix: TargetPrefix, InternalErrorCode: FaultCode, Authenticate: authn, Logger: s.Logger}
	for _, fn := range registrars {
		fn(s, h)
	}
	return h
}

// Operations lists the registered operation names, sorted.
func (s *Server) Operations() []string {
	h := s.Handler(nil)
	out := make([]string, 0, len(h.Ops))
	for name := range h.Ops {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Action is the policy action of an extension operation.
func Action(op string) string { return "wharf:" + op }

// caller returns the authenticated principal of the request.
var caller = ctlauth.Caller

// actor is who a write is recorded as, in tag history and audit.
func actor(ctx context.Context) registry.Actor {
	return registry.Actor{Principal: caller(ctx).String(), Via: "wharf-api"}
}

// The addressed account and ECR's RepositoryNotFoundException, as the
// ECR API answers them.
var (
	registryID   = ctlauth.RegistryID
	repoNotFound = ctlauth.RepoNotFound
)

// authorize checks one action on a repository ("" = the registry),
// answering ECR's AccessDeniedException.
func (s *Server) authorize(ctx context.Context, account, repo, action string) error {
	return s.guard().Authorize(ctx, account, repo, action)
}

// repository authorizes the action on the named repository and loads it,
// answering RepositoryNotFoundException as ECR words it.
func (s *Server) repository(ctx context.Context, registryIDIn, name *string, action string) (meta.Repository, string, error) {
	return s.guard().Repository(ctx, registryIDIn, name, action)
}

func (s *Server) guard() ctlauth.Guard {
	return ctlauth.Guard{Authz: s.Authz, Region: s.Region, Registry: s.Registry}
}

// Validation rules of the shapes, as ECR's model writes them.
var (
	ruleRegistryID = awsjson.Rule{Pattern: regexp.MustCompile(`^(?:[0-9]{12})$`), PatternText: `[0-9]{12}`}
	ruleRepoName   = awsjson.Rule{Min: awsjson.Bound(2), Max: awsjson.Bound(256),
		Pattern:     regexp.MustCompile(`^(?:[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*)$`),
		PatternText: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`}
	ruleImageTag    = awsjson.Rule{Min: awsjson.Bound(1), Max: awsjson.Bound(300)}
	ruleImageDigest = awsjson.Rule{Pattern: regexp.MustCompile(`^(?:[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+)$`), PatternText: `[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+`}
	ruleMaxResults  = awsjson.Rule{Min: awsjson.Bound(1), Max: awsjson.Bound(1000)}
	ruleNextToken   = awsjson.Rule{Max: awsjson.Bound(65536)}
)

// checkRepo validates the registryId and repositoryName members every
// repository operation has (repositoryName required when required).
func checkRepo(v *awsjson.Validator, registryID, name *string, required bool) {
	if registryID != nil {
		v.String("registryId", *registryID, &ruleRegistryID)
	}
	switch {
	case name != nil:
		v.String("repositoryName", *name, &ruleRepoName)
	case required:
		v.Null("repositoryName")
	}
}

// checkPage validates nextToken and maxResults.
func checkPage(v *awsjson.Validator, next *string, max *int32) {
	if next != nil {
		v.String("nextToken", *next, &ruleNextToken)
	}
	if max != nil {
		v.Int("maxResults", int64(*max), &ruleMaxResults)
	}
}

// page is the state of a nextToken: the listing it continues and where.
type page struct {
	Op      string `json:"o"`
	Account string `json:"a"`
	Repo    string `json:"r,omitempty"`
	Filter  string `json:"f,omitempty"`
	// After is where the listing resumes (its meaning is the operation's).
	After string `json:"k,omitempty"`
	ID    int64  `json:"i,omitempty"`
	T     int64  `json:"t,omitempty"`
}

// decodePage reads a nextToken, checking that it continues this listing.
func (s *Server) decodePage(token *string, want page) (page, error) {
	if token == nil || *token == "" {
		return want, nil
	}
	var st page
	if err := s.Pager.Decode(*token, &st); err != nil {
		return page{}, err
	}
	if st.Op != want.Op || st.Account != want.Account || st.Repo != want.Repo || st.Filter != want.Filter {
		return page{}, awsjson.ErrInvalidNextToken
	}
	return st, nil
}

func pageLimit(max *int32, def int) int {
	if max != nil && *max > 0 {
		return int(*max)
	}
	return def
}
