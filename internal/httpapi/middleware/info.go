// Package middleware holds the HTTP middleware shared by every Wharf API:
// request ids, panic recovery, access logging and Prometheus metrics.
//
// The outermost middleware stores a mutable per-request [Info] in the request
// context. Handlers further down label the request with [SetRoute] (a
// low-cardinality name such as "blob_get", used by logs and metrics) and the
// authentication layer records who made it with [SetPrincipal]. Both are
// no-ops when the context carries no Info, so handlers can be tested without
// the middleware.
//
// [Chain] composes everything in the right order with a single response
// writer wrapper and a single context value; use it for servers. The
// individual middlewares ([RequestID], [Recover], [Log], [Metrics.Middleware])
// share that per-request state when stacked, so they can also be used alone.
package middleware

import (
	"context"
	"net/http"
	"sync"
)

// DefaultRoute is the route label of a request no handler labelled.
const DefaultRoute = "unknown"

// Info is the mutable per-request record of what the middleware logs and
// measures. Its methods are safe for concurrent use and on a nil *Info.
type Info struct {
	mu        sync.Mutex
	route     string
	principal string
	// requestID is written once, before the handler runs, and only read
	// afterwards, so it needs no lock.
	requestID string
}

// Route returns the route label, DefaultRoute if none was set.
func (i *Info) Route() string {
	if i == nil {
		return DefaultRoute
	}
	i.mu.Lock()
	r := i.route
	i.mu.Unlock()
	if r == "" {
		return DefaultRoute
	}
	return r
}

// SetRoute sets the route label. It must be a low-cardinality constant, never
// derived from the request (it becomes a Prometheus label).
func (i *Info) SetRoute(route string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.route = route
	i.mu.Unlock()
}

// Principal returns the authenticated principal, "" if none was set.
func (i *Info) Principal() string {
	if i == nil {
		return ""
	}
	i.mu.Lock()
	p := i.principal
	i.mu.Unlock()
	return p
}

// SetPrincipal records the authenticated principal (an ARN or access key id;
// never a secret: it is logged).
func (i *Info) SetPrincipal(p string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.principal = p
	i.mu.Unlock()
}

// RequestID returns the request id, "" if the RequestID middleware (or
// Chain) did not run.
func (i *Info) RequestID() string {
	if i == nil {
		return ""
	}
	return i.requestID
}

func (i *Info) snapshot() (route, principal string) {
	i.mu.Lock()
	route, principal = i.route, i.principal
	i.mu.Unlock()
	if route == "" {
		route = DefaultRoute
	}
	return route, principal
}

type ctxKey struct{}

// state is everything the middleware keeps per request, allocated once.
type state struct {
	info     Info
	rw       responseWriter
	body     countingBody
	ctx      stateCtx
	attached bool      // rw wraps the real writer and body wraps the request body
	idHeader [1]string // backing array for the X-Request-Id response header
}

// stateCtx is the request context carrying the state. It is embedded in the
// state to save the allocation of a context.WithValue node.
type stateCtx struct {
	context.Context
	st *state
}

func (c *stateCtx) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c.st
	}
	return c.Context.Value(key)
}

func (c *stateCtx) String() string { return "middleware.stateCtx" }

// newState returns a state and the context carrying it.
func newState(parent context.Context) (*state, context.Context) {
	st := new(state)
	st.ctx = stateCtx{Context: parent, st: st}
	return st, &st.ctx
}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(ctxKey{}).(*state)
	return st
}

// InfoFrom returns the request's Info, or nil when ctx did not come through
// this package's middleware (the Info methods accept a nil receiver).
func InfoFrom(ctx context.Context) *Info {
	if st := stateFrom(ctx); st != nil {
		return &st.info
	}
	return nil
}

// NewContext returns a context carrying a fresh Info, for tests of handlers
// that call SetRoute/SetPrincipal. Middleware that later sees this context
// uses the same Info. If ctx already carries one it is returned unchanged.
func NewContext(ctx context.Context) (context.Context, *Info) {
	if st := stateFrom(ctx); st != nil {
		return ctx, &st.info
	}
	st, ctx := newState(ctx)
	return ctx, &st.info
}

// SetRoute labels the request with a low-cardinality route name such as
// "blob_get". No-op without middleware.
func SetRoute(ctx context.Context, route string) { InfoFrom(ctx).SetRoute(route) }

// SetPrincipal records who made the request. No-op without middleware.
func SetPrincipal(ctx context.Context, principal string) { InfoFrom(ctx).SetPrincipal(principal) }

// RequestIDFrom returns the request id, "" without middleware.
func RequestIDFrom(ctx context.Context) string { return InfoFrom(ctx).RequestID() }

// RouteFrom returns the route label, DefaultRoute if unset.
func RouteFrom(ctx context.Context) string { return InfoFrom(ctx).Route() }

// PrincipalFrom returns the principal, "" if unset.
func PrincipalFrom(ctx context.Context) string { return InfoFrom(ctx).Principal() }

// begin returns the request's state, creating and attaching it if no outer
// middleware did. The returned writer and request are the ones to pass on.
func begin(w http.ResponseWriter, r *http.Request) (*state, http.ResponseWriter, *http.Request) {
	st := stateFrom(r.Context())
	if st != nil && st.attached {
		return st, w, r
	}
	if st == nil {
		var ctx context.Context
		st, ctx = newState(r.Context())
		r = r.WithContext(ctx)
	} else {
		r = r.WithContext(r.Context()) // shallow copy: we replace Body below
	}
	st.attached = true
	st.rw.w = w
	if r.Body != nil && r.Body != http.NoBody {
		st.body.rc = r.Body
		r.Body = &st.body
	}
	return st, &st.rw, r
}
