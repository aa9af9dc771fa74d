package middleware

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchWriter is a reusable, allocation-free ResponseWriter.
type benchWriter struct {
	h http.Header
	n int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(int)             {}
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var benchBody = []byte(`{"schemaVersion":2}`)

func benchHandler(w http.ResponseWriter, r *http.Request) {
	SetRoute(r.Context(), "manifest_get")
	SetPrincipal(r.Context(), "AKIDEXAMPLE")
	w.Write(benchBody)
}

// BenchmarkChain measures the per-request overhead of Chain (request id,
// Info, writer wrapper, recover, metrics, log) around a trivial handler.
func BenchmarkChain(b *testing.B) {
	m, _ := newMetrics(b)
	cases := []struct {
		name    string
		h       http.Handler
		inbound string // client X-Request-Id
	}{
		{"baseline-no-middleware", http.HandlerFunc(benchHandler), ""},
		{"log-disabled", Chain(http.HandlerFunc(benchHandler), slog.New(slog.DiscardHandler), m), ""},
		{"log-disabled-client-id", Chain(http.HandlerFunc(benchHandler), slog.New(slog.DiscardHandler), m), "0f8e7c3a-1b2c-4d5e-8f90-123456789abc"},
		{"log-json", Chain(http.HandlerFunc(benchHandler), slog.New(slog.NewJSONHandler(io.Discard, nil)), m), ""},
		{"log-text", Chain(http.HandlerFunc(benchHandler), slog.New(slog.NewTextHandler(io.Discard, nil)), m), ""},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v2/library/alpine/manifests/latest", nil)
			if c.inbound != "" {
				req.Header.Set(HeaderRequestID, c.inbound)
			}
			w := &benchWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
	b.Run("log-disabled-parallel", func(b *testing.B) {
		h := Chain(http.HandlerFunc(benchHandler), slog.New(slog.DiscardHandler), m)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req := httptest.NewRequest("GET", "/v2/library/alpine/manifests/latest", nil)
			w := &benchWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, req)
			}
		})
	})
}
