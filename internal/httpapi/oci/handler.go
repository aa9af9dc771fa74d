// Package oci serves the OCI Distribution API v1.1 at /v2/. Handlers are
// thin: parse the request, authenticate and authorize it, call the registry
// core, encode the answer.
package oci

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/httpapi/middleware"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Handler serves /v2/.
type Handler struct {
	Registry *registry.Service
	Authn    access.Authenticator
	Authz    access.Authorizer
	Region   string
	// AccountFor names the account whose registry a request addresses.
	AccountFor func(*http.Request) string
	Logger     *slog.Logger
	// BlobRedirect answers blob GETs with 307 Temporary Redirect to a
	// presigned URL of the blob store, when the store supports it.
	BlobRedirect bool
	// BlobRedirectTTL is how long such a URL stays valid (default
	// DefaultBlobRedirectTTL).
	BlobRedirectTTL time.Duration
	// Gate supplies the facts of pull gates (nil: policies see no wharf:
	// image keys).
	Gate *gate.Gate
}

// DefaultBlobRedirectTTL is how long a blob redirect URL stays valid.
const DefaultBlobRedirectTTL = 10 * time.Minute

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// request is one parsed /v2/ request.
type request struct {
	w         http.ResponseWriter
	r         *http.Request
	principal access.Principal
	account   string
	name      string // repository name
	kind      string // manifests, blobs, uploads, tags, referrers
	ref       string // reference, digest or upload id
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	req := &request{w: w, r: r}
	p, err := h.Authn.Authenticate(r)
	if err != nil {
		middleware.SetRoute(r.Context(), "v2_unauthorized")
		h.writeError(w, r, err)
		return
	}
	req.principal = p
	middleware.SetPrincipal(r.Context(), p.String())
	req.account = h.AccountFor(r)

	path := r.URL.Path
	if path == "/v2/" || path == "/v2" {
		middleware.SetRoute(r.Context(), "v2_base")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.methodNotAllowed(w, r)
			return
		}
		// The version check is how clients discover that they must log in:
		// a caller without credentials gets the challenge (the --anonymous
		// development mode, whose principal has an account, does not).
		if p.Anonymous && p.AccountID == "" {
			h.writeError(w, r, access.ErrNoCredentials)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "{}")
		}
		return
	}
	if path == "/v2/_catalog" {
		middleware.SetRoute(r.Context(), "catalog")
		h.catalog(req)
		return
	}
	if !parsePath(req, strings.TrimPrefix(path, "/v2/")) {
		middleware.SetRoute(r.Context(), "v2_not_found")
		h.writeError(w, r, &registry.Error{Code: registry.CodeNameInvalid, Message: "invalid repository name or path"})
		return
	}
	switch req.kind {
	case "manifests":
		h.manifests(req)
	case "blobs":
		h.blobs(req)
	case "uploads":
		h.uploads(req)
	case "tags":
		h.tags(req)
	case "referrers":
		h.referrers(req)
	}
}

// parsePath splits "<name>/<kind>/<ref>" from the right, since names contain
// slashes. It rejects invalid repository names.
func parsePath(req *request, p string) bool {
	switch {
	case strings.HasSuffix(p, "/tags/list"):
		req.name, req.kind = strings.TrimSuffix(p, "/tags/list"), "tags"
	default:
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		rest, last := p[:i], p[i+1:]
		if strings.HasSuffix(rest, "/blobs/uploads") {
			req.name, req.kind, req.ref = strings.TrimSuffix(rest, "/blobs/uploads"), "uploads", last
			break
		}
		j := strings.LastIndexByte(rest, '/')
		if j < 0 || last == "" {
			return false
		}
		req.name, req.kind, req.ref = rest[:j], rest[j+1:], last
		switch req.kind {
		case "manifests", "blobs", "referrers":
		default:
			return false
		}
	}
	return names.ValidRepository(req.name)
}

func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeJSONError(w, http.StatusMethodNotAllowed, errorItem{Code: registry.CodeUnsupported, Message: "method " + r.Method + " not allowed here"})
}

// authorize checks every action against the repository resource.
func (h *Handler) authorize(req *request, actions ...string) error {
	return h.authorizeOn(req, req.name, actions...)
}

// authorizeOn checks actions on a repository ("" = the registry). An
// anonymous caller that is denied is asked to authenticate instead (401
// with a challenge), which is what makes clients send credentials.
func (h *Handler) authorizeOn(req *request, repo string, actions ...string) error {
	res := access.Resource{Region: h.Region, AccountID: req.account, Repository: repo}
	for _, a := range actions {
		if err := h.Authz.Authorize(req.r.Context(), req.principal, a, res); err != nil {
			if req.principal.Anonymous && errors.Is(err, access.ErrDenied) {
				return access.ErrNoCredentials
			}
			return err
		}
	}
	return nil
}

// repo authorizes the actions and looks up the repository; with create it
// is created on push when allowed.
func (h *Handler) repo(req *request, create bool, actions ...string) (meta.Repository, bool) {
	if err := h.authorize(req, actions...); err != nil {
		h.writeError(req.w, req.r, err)
		return meta.Repository{}, false
	}
	if create && h.authorizeOn(req, req.name, access.ActionCreateRepository) != nil {
		create = false
	}
	repo, err := h.Registry.Repository(req.r.Context(), req.account, req.name, create)
	if err != nil {
		h.writeError(req.w, req.r, err)
		return meta.Repository{}, false
	}
	return repo, true
}

func (req *request) actor() registry.Actor {
	return registry.Actor{Principal: req.principal.String(), Via: "oci"}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// pageParams reads n and last; n < 0 means no limit given.
func pageParams(r *http.Request) (n int, last string, err error) {
	q := r.URL.Query()
	last = q.Get("last")
	n = -1
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, "", &registry.Error{Code: "PAGINATION_NUMBER_INVALID", Message: "n must be a non-negative integer"}
		}
		n = v
	}
	return n, last, nil
}
