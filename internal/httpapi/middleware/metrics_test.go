package middleware

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// scrape fetches the registry's /metrics output and checks that each wanted
// line is present verbatim.
func scrape(t *testing.T, reg *prometheus.Registry, want ...string) string {
	t.Helper()
	m := &Metrics{reg: reg}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape status %d", rec.Code)
	}
	body := rec.Body.String()
	lines := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		lines[l] = true
	}
	for _, w := range want {
		if !lines[w] {
			t.Errorf("metrics lack line %q", w)
		}
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", grepWharf(body))
	}
	return body
}

func grepWharf(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "wharf_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetricsExposed(t *testing.T) {
	m, reg := newMetrics(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/{name}/blobs/{digest}", func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "blob_get")
		io.WriteString(w, "0123456789")
	})
	mux.HandleFunc("PUT /v2/{name}/manifests/{ref}", func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "manifest_put")
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	})
	h := Chain(mux, slog.New(slog.DiscardHandler), m)
	do := func(method, path, body string) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, rd))
	}
	do("GET", "/v2/app/blobs/sha256:1", "")
	do("GET", "/v2/app/blobs/sha256:2", "")
	do("PUT", "/v2/app/manifests/latest", `{"schemaVersion":2}`)
	do("GET", "/nothing/here", "")
	do("BREW", "/v2/app/blobs/sha256:1", "") // unknown method: 405 from the mux
	m.UploadSessions.Set(3)

	body := scrape(t, reg,
		`wharf_http_requests_total{method="GET",route="blob_get",status="200"} 2`,
		`wharf_http_requests_total{method="PUT",route="manifest_put",status="201"} 1`,
		`wharf_http_requests_total{method="GET",route="unknown",status="404"} 1`,
		`wharf_http_requests_total{method="OTHER",route="unknown",status="405"} 1`,
		`wharf_http_request_duration_seconds_count{method="GET",route="blob_get"} 2`,
		`wharf_http_request_duration_seconds_bucket{method="GET",route="blob_get",le="+Inf"} 2`,
		`wharf_http_request_duration_seconds_bucket{method="PUT",route="manifest_put",le="600"} 1`,
		`wharf_http_response_bytes_total{route="blob_get"} 20`,
		`wharf_http_request_bytes_total{route="manifest_put"} 19`,
		`wharf_upload_sessions 3`,
		`# TYPE wharf_http_request_duration_seconds histogram`,
		`# TYPE wharf_upload_sessions gauge`,
	)
	for _, prefix := range []string{"go_goroutines ", "go_memstats_alloc_bytes ", "process_cpu_seconds_total "} {
		if !strings.Contains(body, "\n"+prefix) {
			t.Errorf("metrics lack %s", prefix)
		}
	}
	if strings.Contains(body, "BREW") {
		t.Error("client-controlled method became a label value")
	}
}

func TestNewMetricsTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics: %v", err)
	}
	m1.UploadSessions.Set(1)
	m2.UploadSessions.Add(1)
	m1.observe("r", "GET", 200, 0, 0, 0)
	m2.observe("r", "GET", 200, 0, 0, 0)
	scrape(t, reg, `wharf_upload_sessions 2`, `wharf_http_requests_total{method="GET",route="r",status="200"} 2`)

	if _, err := NewMetrics(nil); err == nil {
		t.Error("nil registry accepted")
	}

	// A conflicting collector under one of our names is an error.
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "wharf_upload_sessions", Help: "x"}))
	if _, err := NewMetrics(reg2); err == nil {
		t.Error("conflicting registration accepted")
	}
}
