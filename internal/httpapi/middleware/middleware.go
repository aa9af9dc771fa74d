package middleware

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
)

// HeaderRequestID is the request id header, read from clients and echoed.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a client-supplied request id.
const maxRequestIDLen = 128

// RequestID gives every request an id: the client's X-Request-Id when it is
// sane (1-128 characters of [A-Za-z0-9._:+/=-]), otherwise a random UUID. The
// id is echoed in the X-Request-Id response header and available from
// RequestIDFrom.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, w, r := begin(w, r)
		setRequestID(st, w, r)
		next.ServeHTTP(w, r)
	})
}

func setRequestID(st *state, w http.ResponseWriter, r *http.Request) {
	if st.info.RequestID() != "" {
		return // an outer RequestID ran
	}
	var id string
	if v := r.Header[HeaderRequestID]; len(v) > 0 && validRequestID(v[0]) {
		id = v[0]
	} else {
		id = newRequestID()
	}
	st.info.requestID = id
	st.idHeader[0] = id
	// Reuse the state's array rather than allocating a []string with Set.
	w.Header()[HeaderRequestID] = st.idHeader[:]
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns a random version 4 UUID. The runtime's per-thread
// ChaCha8 generator behind math/rand/v2 is plenty for ids and much cheaper
// than crypto/rand.
func newRequestID() string {
	const hex = "0123456789abcdef"
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12       // version 4
	lo = lo&^(0x3<<62) | uint64(1)<<63 // variant 10
	var b [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		var x byte
		if i < 8 {
			x = byte(hi >> (56 - 8*i))
		} else {
			x = byte(lo >> (56 - 8*(i-8)))
		}
		b[j], b[j+1] = hex[x>>4], hex[x&0xf]
		j += 2
	}
	return string(b[:])
}

// internalErrorBody is the response to a panic, in the OCI error format.
const internalErrorBody = `{"errors":[{"code":"UNKNOWN","message":"internal error"}]}`

// Recover turns a panic in next into a 500 response with internalErrorBody
// and logs it at error level with the stack; the server keeps running. A nil
// logger means slog.Default().
//
// http.ErrAbortHandler is re-panicked so net/http aborts the response
// quietly. A panic after the response has started cannot become a 500: it is
// logged and the connection aborted (by panicking with
// http.ErrAbortHandler), so the client sees a truncated response rather than
// a complete-looking one.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, w, r := begin(w, r)
			if serveRecovering(next, w, r, st, logger) {
				panic(http.ErrAbortHandler)
			}
		})
	}
}

// serveRecovering runs next, recovering a panic. It reports whether the
// response must be aborted with http.ErrAbortHandler.
func serveRecovering(next http.Handler, w http.ResponseWriter, r *http.Request, st *state, logger *slog.Logger) (abort bool) {
	defer func() {
		if v := recover(); v != nil {
			abort = handlePanic(v, w, r, st, logger)
		}
	}()
	next.ServeHTTP(w, r)
	return false
}

func handlePanic(v any, w http.ResponseWriter, r *http.Request, st *state, logger *slog.Logger) (abort bool) {
	if v == http.ErrAbortHandler {
		return true
	}
	route, principal := st.info.snapshot()
	logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
		slog.Any("panic", v),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", route),
		slog.String("request_id", st.info.RequestID()),
		slog.String("principal", principal),
		slog.Bool("response_started", st.rw.wroteHeader),
		slog.String("stack", string(debug.Stack())),
	)
	if st.rw.wroteHeader {
		return true
	}
	h := w.Header()
	clear(h) // drop whatever the handler set (Content-Length, digests, ...)
	if id := st.info.RequestID(); id != "" {
		st.idHeader[0] = id
		h[HeaderRequestID] = st.idHeader[:]
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(internalErrorBody)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(internalErrorBody))
	return false
}

// Log logs one line per request at info level (error for 5xx, warn for
// aborted responses) with method, path, route, status, bytes_in, bytes_out,
// duration, request_id, remote_addr, user_agent and principal. A nil logger
// means slog.Default().
//
// Only the URL path is logged: never the query string (it may carry
// pre-signed credentials) and never any header but User-Agent.
func Log(logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			st, w, r := begin(w, r)
			req := snapshotRequest(r)
			completed := false
			defer func() {
				status, aborted := st.result(!completed)
				route, principal := st.info.snapshot()
				logRequest(r.Context(), logger, &req, st, route, principal, status, aborted, time.Since(start))
			}()
			next.ServeHTTP(w, r)
			completed = true
		})
	}
}

// requestFields are the request attributes logged, captured before the
// handler runs (handlers may modify the request in place).
type requestFields struct {
	method, path, remote, userAgent string
}

func snapshotRequest(r *http.Request) requestFields {
	var ua string
	if v := r.Header["User-Agent"]; len(v) > 0 {
		ua = v[0]
	}
	return requestFields{method: r.Method, path: r.URL.Path, remote: r.RemoteAddr, userAgent: ua}
}

// result returns the status to report: the one written, 200 when the handler
// wrote nothing (net/http sends 200), 0 when it panicked before writing.
func (st *state) result(panicked bool) (status int, aborted bool) {
	if st.rw.wroteHeader {
		return st.rw.status, panicked
	}
	if panicked {
		return 0, true
	}
	return http.StatusOK, false
}

// maxLoggedLen bounds client-controlled strings in the log line.
const maxLoggedLen = 1024

func truncate(s string) string {
	if len(s) > maxLoggedLen {
		return s[:maxLoggedLen] + "..."
	}
	return s
}

func logRequest(ctx context.Context, logger *slog.Logger, req *requestFields, st *state, route, principal string, status int, aborted bool, d time.Duration) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case aborted:
		level = slog.LevelWarn
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	var buf [13]slog.Attr
	attrs := append(buf[:0],
		slog.String("method", truncate(req.method)),
		slog.String("path", truncate(req.path)),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int64("bytes_in", st.body.n),
		slog.Int64("bytes_out", st.rw.bytes),
		slog.Duration("duration", d),
		slog.String("request_id", st.info.RequestID()),
		slog.String("remote_addr", req.remote),
	)
	if req.userAgent != "" {
		attrs = append(attrs, slog.String("user_agent", truncate(req.userAgent)))
	}
	if principal != "" {
		attrs = append(attrs, slog.String("principal", principal))
	}
	if aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	logger.LogAttrs(ctx, level, "http request", attrs...)
}

// Chain wraps h with every middleware in the right order, fused into one
// handler: request id and per-request Info outermost, then timing, logging
// and metrics around panic recovery, so a panic is logged and counted as the
// 500 it becomes. A nil logger means slog.Default(); a nil metrics disables
// metrics.
func Chain(h http.Handler, logger *slog.Logger, metrics *Metrics) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &chain{next: h, logger: logger, metrics: metrics}
}

type chain struct {
	next    http.Handler
	logger  *slog.Logger
	metrics *Metrics
}

func (c *chain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st, w, r := begin(w, r)
	setRequestID(st, w, r)
	req := snapshotRequest(r)

	abort := serveRecovering(c.next, w, r, st, c.logger)

	d := time.Since(start)
	status, aborted := st.result(abort)
	route, principal := st.info.snapshot()
	if c.metrics != nil {
		c.metrics.observe(route, req.method, status, d, st.body.n, st.rw.bytes)
	}
	logRequest(r.Context(), c.logger, &req, st, route, principal, status, aborted, d)
	if abort {
		panic(http.ErrAbortHandler)
	}
}
