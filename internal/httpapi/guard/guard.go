// Package guard puts the registry's authentication and authorization in
// front of an operator endpoint that has no API of its own (/metrics): the
// caller signs in with HTTP Basic (an access key pair, or AWS and an ECR
// token, as for /v2/) and must be allowed an action on the operator
// account's registry.
//
// Metrics describe every account's traffic, so they belong to whoever runs
// the registry: the operator account's root, or its users and roles that a
// policy allows the action (wharf:GetMetrics). Prometheus scrapes with
// basic_auth.
package guard

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/httpapi/middleware"
)

// Handler serves Next to callers allowed Action on the registry of
// AccountID; others get 401 (no or bad credentials, with a Basic
// challenge) or 403.
type Handler struct {
	Authn     access.Authenticator
	Authz     access.Authorizer
	Region    string
	AccountID string // the operator account
	Action    string // e.g. ActionGetMetrics
	Route     string // route label for the request metrics and logs
	Logger    *slog.Logger
	Next      http.Handler
}

// ActionGetMetrics is the action that reads /metrics.
const ActionGetMetrics = "wharf:GetMetrics"

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.Route != "" {
		middleware.SetRoute(ctx, h.Route)
	}
	p, err := h.Authn.Authenticate(r)
	// Anonymous with no account is a caller without credentials; the
	// --anonymous development mode's principal has one and is let through
	// like everywhere else.
	if err == nil && p.Anonymous && p.AccountID == "" {
		err = access.ErrNoCredentials
	}
	if err != nil {
		// Missing, wrong and expired credentials alike (token errors are
		// ErrBadCredentials) ask the caller to sign in; anything else is
		// the key store failing.
		if errors.Is(err, access.ErrNoCredentials) || errors.Is(err, access.ErrBadCredentials) {
			w.Header().Set("WWW-Authenticate", `Basic realm="wharf"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.fail(w, r, "authenticating an operator request", err)
		return
	}
	middleware.SetPrincipal(ctx, p.String())
	res := access.Resource{Region: h.Region, AccountID: h.AccountID}
	if err := h.Authz.Authorize(ctx, p, h.Action, res); err != nil {
		if errors.Is(err, access.ErrDenied) {
			http.Error(w, p.String()+" is not authorized to perform "+h.Action, http.StatusForbidden)
			return
		}
		h.fail(w, r, "authorizing an operator request", err)
		return
	}
	h.Next.ServeHTTP(w, r)
}

// fail answers a store failure with 503 (a scraper retries) and logs it;
// the error stays out of the response.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, msg string, err error) {
	h.logger().LogAttrs(r.Context(), slog.LevelError, msg, slog.String("action", h.Action), slog.String("err", err.Error()))
	http.Error(w, "service unavailable", http.StatusServiceUnavailable)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
