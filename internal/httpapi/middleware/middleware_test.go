package middleware

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// logBuffer is a goroutine-safe buffer for capturing slog output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns every JSON log record written so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// requestLogs returns the "http request" records.
func (b *logBuffer) requestLogs(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range b.records(t) {
		if r["msg"] == "http request" {
			out = append(out, r)
		}
	}
	return out
}

func jsonLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func newMetrics(t testing.TB) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func num(t *testing.T, rec map[string]any, key string) int64 {
	t.Helper()
	v, ok := rec[key].(float64)
	if !ok {
		t.Fatalf("log record lacks numeric %q: %v", key, rec)
	}
	return int64(v)
}

func TestStatusBytesAndLogFields(t *testing.T) {
	logger, logs := jsonLogger()
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "blob_upload")
		SetPrincipal(r.Context(), "arn:aws:iam::123456789012:user/alice")
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write(b[:5])
		io.WriteString(w, "!!")
	}), logger, nil)

	req := httptest.NewRequest(http.MethodPost, "/v2/app/blobs/uploads/?digest=sha256:abc", strings.NewReader("hello world"))
	req.Header.Set("User-Agent", "docker/27.0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != http.StatusCreated || rec.Body.String() != "hello!!" {
		t.Fatalf("response %d %q", rec.Code, rec.Body.String())
	}
	recs := logs.requestLogs(t)
	if len(recs) != 1 {
		t.Fatalf("want 1 request log, got %d: %s", len(recs), logs)
	}
	l := recs[0]
	want := map[string]any{
		"level": "INFO", "method": "POST", "path": "/v2/app/blobs/uploads/", "route": "blob_upload",
		"principal": "arn:aws:iam::123456789012:user/alice", "remote_addr": "192.0.2.1:1234",
		"user_agent": "docker/27.0", "request_id": rec.Header().Get(HeaderRequestID),
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("log %s = %v, want %v", k, l[k], v)
		}
	}
	if num(t, l, "status") != 201 || num(t, l, "bytes_in") != 11 || num(t, l, "bytes_out") != 7 {
		t.Errorf("status/bytes wrong: %v", l)
	}
	if _, ok := l["duration"]; !ok {
		t.Error("no duration")
	}
	if _, ok := l["aborted"]; ok {
		t.Error("aborted logged for a normal request")
	}
}

func TestImplicitStatusAndDefaultRoute(t *testing.T) {
	logger, logs := jsonLogger()
	h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), logger, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	l := logs.requestLogs(t)[0]
	if num(t, l, "status") != 200 || l["route"] != DefaultRoute || num(t, l, "bytes_out") != 0 {
		t.Errorf("log %v", l)
	}
	if _, ok := l["principal"]; ok {
		t.Error("empty principal logged")
	}
}

func TestServerErrorLoggedAtErrorLevel(t *testing.T) {
	logger, logs := jsonLogger()
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusServiceUnavailable)
	}), logger, nil)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if l := logs.requestLogs(t)[0]; l["level"] != "ERROR" || num(t, l, "status") != 503 {
		t.Errorf("log %v", l)
	}
}

func TestInformationalStatusNotFinal(t *testing.T) {
	logger, logs := jsonLogger()
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusAccepted)
	}), logger, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if l := logs.requestLogs(t)[0]; num(t, l, "status") != 202 {
		t.Errorf("log %v", l)
	}
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestID(t *testing.T) {
	var seen string
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestIDFrom(r.Context())
	}), slog.New(slog.DiscardHandler), nil)

	tests := []struct {
		name, header string
		keep         bool
	}{
		{"sane id kept", "req-123_abc.DEF:9", true},
		{"uuid kept", "0f8e7c3a-1b2c-4d5e-8f90-123456789abc", true},
		{"none", "", false},
		{"spaces rejected", "a b", false},
		{"newline rejected", "a\x01b", false},
		{"too long rejected", strings.Repeat("a", maxRequestIDLen+1), false},
		{"max length kept", strings.Repeat("a", maxRequestIDLen), true},
		{"unicode rejected", "réq", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				req.Header.Set(HeaderRequestID, tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(HeaderRequestID)
			if got != seen {
				t.Errorf("echoed %q, handler saw %q", got, seen)
			}
			if tt.keep && got != tt.header {
				t.Errorf("id %q, want client's %q", got, tt.header)
			}
			if !tt.keep && !uuidRe.MatchString(got) {
				t.Errorf("generated id %q is not a v4 UUID", got)
			}
		})
	}

	ids := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if ids[id] || !uuidRe.MatchString(id) {
			t.Fatalf("bad or duplicate id %q", id)
		}
		ids[id] = true
	}
}

func TestPanicBecomes500AndServerSurvives(t *testing.T) {
	logger, logs := jsonLogger()
	m, reg := newMetrics(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "boom")
		w.Header().Set("Content-Length", "999")
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		panic("kaboom")
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fine")
	})
	srv := httptest.NewServer(Chain(mux, logger, m))
	defer srv.Close()

	for range 3 {
		req, _ := http.NewRequest("GET", srv.URL+"/panic", nil)
		req.Header.Set(HeaderRequestID, "panic-req")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if string(body) != `{"errors":[{"code":"UNKNOWN","message":"internal error"}]}` {
			t.Fatalf("body %q", body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		if resp.Header.Get("Docker-Content-Digest") != "" {
			t.Error("handler header leaked into the 500")
		}
		if resp.Header.Get(HeaderRequestID) != "panic-req" {
			t.Errorf("request id %q", resp.Header.Get(HeaderRequestID))
		}
	}

	resp, err := http.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatal("server died:", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "fine" {
		t.Fatalf("after panic: %q", body)
	}

	var panics, boomLogs int
	for _, r := range logs.records(t) {
		switch r["msg"] {
		case "panic serving request":
			panics++
			if r["level"] != "ERROR" || r["panic"] != "kaboom" || r["route"] != "boom" || r["request_id"] != "panic-req" {
				t.Errorf("panic log %v", r)
			}
			if s, _ := r["stack"].(string); !strings.Contains(s, "goroutine") || !strings.Contains(s, "middleware_test.go") {
				t.Errorf("stack missing or not pointing at the handler: %q", s)
			}
		case "http request":
			if r["route"] == "boom" {
				boomLogs++
				if num(t, r, "status") != 500 || r["level"] != "ERROR" {
					t.Errorf("request log %v", r)
				}
			}
		}
	}
	if panics != 3 || boomLogs != 3 {
		t.Errorf("panic logs %d, request logs %d; want 3 each", panics, boomLogs)
	}
	scrape(t, reg, `wharf_http_requests_total{method="GET",route="boom",status="500"} 3`)
}

func TestPanicAfterHeaderAbortsConnection(t *testing.T) {
	logger, logs := jsonLogger()
	srv := httptest.NewServer(Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "late_panic")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("late")
	}), logger, nil))
	defer srv.Close()
	srv.Config.ErrorLog = nil

	resp, err := http.Get(srv.URL)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("client saw a complete response despite the panic")
	}
	waitFor(t, func() bool { return len(logs.requestLogs(t)) == 1 })
	l := logs.requestLogs(t)[0]
	if l["aborted"] != true || num(t, l, "status") != 200 || l["level"] != "WARN" {
		t.Errorf("log %v", l)
	}
	if !strings.Contains(logs.String(), `"panic":"late"`) {
		t.Error("late panic not logged")
	}
}

func TestErrAbortHandlerRepanics(t *testing.T) {
	logger, logs := jsonLogger()
	m, reg := newMetrics(t)
	handlers := map[string]http.Handler{
		"chain": Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}), logger, m),
		"recover": Recover(logger)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		})),
	}
	for name, h := range handlers {
		func() {
			defer func() {
				if v := recover(); v != http.ErrAbortHandler {
					t.Errorf("%s: recovered %v, want http.ErrAbortHandler", name, v)
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}()
	}
	if strings.Contains(logs.String(), "panic serving request") {
		t.Error("ErrAbortHandler logged as a panic")
	}
	l := logs.requestLogs(t)
	if len(l) != 1 || l[0]["aborted"] != true || num(t, l[0], "status") != 0 {
		t.Errorf("request logs %v", l)
	}
	scrape(t, reg, `wharf_http_requests_total{method="GET",route="unknown",status="0"} 1`)
}

func TestAuthorizationAndQueryNeverLogged(t *testing.T) {
	const (
		sig    = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
		token  = "c2VjcmV0LXRva2VuLXZhbHVl"
		qsig   = "QUERYSIGNATURE0123456789"
		cookie = "session=COOKIESECRET"
	)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			buf := &logBuffer{}
			var handler slog.Handler = slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})
			if format == "json" {
				handler = slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})
			}
			logger := slog.New(handler)
			h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				SetPrincipal(r.Context(), "AKIDEXAMPLE")
				if r.URL.Path == "/panic" {
					panic("boom")
				}
				w.WriteHeader(http.StatusUnauthorized)
			}), logger, nil)
			for _, path := range []string{"/v2/app/blobs/sha256:abc", "/panic"} {
				req := httptest.NewRequest("GET", path+"?X-Amz-Signature="+qsig+"&X-Amz-Credential=AKID", nil)
				req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature="+sig)
				req.Header.Set("Proxy-Authorization", "Basic "+token)
				req.Header.Set("Cookie", cookie)
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			out := buf.String()
			for _, secret := range []string{sig, token, qsig, "COOKIESECRET", "AWS4-HMAC", "Credential=", "X-Amz-Signature"} {
				if strings.Contains(out, secret) {
					t.Errorf("log contains %q:\n%s", secret, out)
				}
			}
			if !strings.Contains(out, "/v2/app/blobs/sha256:abc") || !strings.Contains(out, "AKIDEXAMPLE") {
				t.Errorf("path or principal missing:\n%s", out)
			}
		})
	}
}

type sendfileWriter struct {
	http.ResponseWriter
	readFromCalls int
}

func (w *sendfileWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFromCalls++
	return io.Copy(w.ResponseWriter, r)
}

func TestReadFromDelegatesAndCounts(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	serveFile := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "blob_get")
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("wrapper hides io.ReaderFrom")
		}
		w.Header().Set("Content-Length", "1000000")
		// io.Copy from an *os.File ends up in w.ReadFrom via File.WriteTo.
		if _, err := io.Copy(w, f); err != nil {
			t.Error(err)
		}
	})

	t.Run("delegates to underlying ReadFrom", func(t *testing.T) {
		logger, logs := jsonLogger()
		rec := httptest.NewRecorder()
		sw := &sendfileWriter{ResponseWriter: rec}
		Chain(serveFile, logger, nil).ServeHTTP(sw, httptest.NewRequest("GET", "/", nil))
		if sw.readFromCalls == 0 {
			t.Error("underlying ReadFrom not used")
		}
		if rec.Body.Len() != len(data) {
			t.Errorf("body %d bytes", rec.Body.Len())
		}
		l := logs.requestLogs(t)[0]
		if num(t, l, "bytes_out") != int64(len(data)) || num(t, l, "status") != 200 {
			t.Errorf("log %v", l)
		}
	})

	t.Run("fallback without ReadFrom", func(t *testing.T) {
		logger, logs := jsonLogger()
		rec := httptest.NewRecorder() // has no ReadFrom
		Chain(serveFile, logger, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Body.Len() != len(data) {
			t.Errorf("body %d bytes", rec.Body.Len())
		}
		if l := logs.requestLogs(t)[0]; num(t, l, "bytes_out") != int64(len(data)) {
			t.Errorf("log %v", l)
		}
	})

	t.Run("real server", func(t *testing.T) {
		logger, logs := jsonLogger()
		m, reg := newMetrics(t)
		srv := httptest.NewServer(Chain(serveFile, logger, m))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes", len(got))
		}
		waitFor(t, func() bool { return len(logs.requestLogs(t)) == 1 })
		if l := logs.requestLogs(t)[0]; num(t, l, "bytes_out") != int64(len(data)) {
			t.Errorf("log %v", l)
		}
		scrape(t, reg, `wharf_http_response_bytes_total{route="blob_get"} 1e+06`)
	})
}

func TestResponseControllerAndFlusher(t *testing.T) {
	logger, logs := jsonLogger()
	srv := httptest.NewServer(Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through wrapper: %v", err)
		}
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetReadDeadline through wrapper: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex through wrapper: %v", err)
		}
		if _, ok := w.(http.Flusher); !ok {
			t.Error("wrapper hides http.Flusher")
		}
		if err := rc.Flush(); err != nil { // sends the 200 header
			t.Errorf("Flush: %v", err)
		}
		io.WriteString(w, "data: 1\n")
		w.(http.Flusher).Flush()
	}), logger, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "data: 1\n" {
		t.Errorf("body %q", body)
	}
	waitFor(t, func() bool { return len(logs.requestLogs(t)) == 1 })
	if l := logs.requestLogs(t)[0]; num(t, l, "status") != 200 || num(t, l, "bytes_out") != 8 {
		t.Errorf("log %v", l)
	}

	// Hijacking works through Unwrap.
	srv2 := httptest.NewServer(Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		brw.Flush()
	}), slog.New(slog.DiscardHandler), nil))
	defer srv2.Close()
	conn, err := net.Dial("tcp", srv2.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 204") {
		t.Errorf("hijacked response %q", line)
	}

	// Flushing a writer that cannot flush reports ErrNotSupported and does
	// not claim a status was sent.
	rw := &responseWriter{w: struct{ http.ResponseWriter }{httptest.NewRecorder()}}
	if err := rw.FlushError(); !errors.Is(err, http.ErrNotSupported) || rw.wroteHeader {
		t.Errorf("FlushError = %v, wroteHeader %v", err, rw.wroteHeader)
	}
}

func TestStandaloneMiddlewareCompose(t *testing.T) {
	logger, logs := jsonLogger()
	m, reg := newMetrics(t)
	var info *Info
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info = InfoFrom(r.Context())
		SetRoute(r.Context(), "composed")
		if r.Method == http.MethodDelete {
			panic("nope")
		}
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("abc"))
	})
	h := RequestID(Log(logger)(m.Middleware(Recover(logger)(inner))))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("PUT", "/x", strings.NewReader("12345")))
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, httptest.NewRequest("DELETE", "/x", nil))

	if rec.Code != 200 || rec2.Code != 500 {
		t.Fatalf("codes %d %d", rec.Code, rec2.Code)
	}
	if info == nil || info.RequestID() == "" || info.RequestID() != rec2.Header().Get(HeaderRequestID) {
		t.Errorf("info %+v, header %q", info, rec2.Header().Get(HeaderRequestID))
	}
	l := logs.requestLogs(t)
	if len(l) != 2 || num(t, l[0], "bytes_in") != 5 || num(t, l[0], "bytes_out") != 3 ||
		num(t, l[1], "status") != 500 || l[1]["route"] != "composed" || l[1]["request_id"] == "" {
		t.Errorf("logs %v", l)
	}
	scrape(t, reg,
		`wharf_http_requests_total{method="PUT",route="composed",status="200"} 1`,
		`wharf_http_requests_total{method="DELETE",route="composed",status="500"} 1`,
		`wharf_http_request_bytes_total{route="composed"} 5`,
	)
}

func TestInfoWithoutMiddleware(t *testing.T) {
	ctx := context.Background()
	SetRoute(ctx, "x") // no-op, no panic
	SetPrincipal(ctx, "y")
	if RouteFrom(ctx) != DefaultRoute || PrincipalFrom(ctx) != "" || RequestIDFrom(ctx) != "" || InfoFrom(ctx) != nil {
		t.Error("unexpected values without middleware")
	}

	ctx, info := NewContext(ctx)
	SetRoute(ctx, "tag_list")
	SetPrincipal(ctx, "alice")
	if info.Route() != "tag_list" || RouteFrom(ctx) != "tag_list" || PrincipalFrom(ctx) != "alice" {
		t.Errorf("info %+v", info)
	}
	if ctx2, info2 := NewContext(ctx); ctx2 != ctx || info2 != info {
		t.Error("NewContext replaced an existing Info")
	}

	// Middleware reuses an Info created with NewContext.
	logger, logs := jsonLogger()
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if InfoFrom(r.Context()) != info {
			t.Error("middleware replaced the Info")
		}
	}), logger, nil)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	if l := logs.requestLogs(t)[0]; l["route"] != "tag_list" || l["principal"] != "alice" {
		t.Errorf("log %v", l)
	}
}

func TestNoBodyUntouched(t *testing.T) {
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != http.NoBody {
			t.Errorf("body %T, want http.NoBody", r.Body)
		}
	}), slog.New(slog.DiscardHandler), nil)
	req := httptest.NewRequest("GET", "/", nil)
	req.Body = http.NoBody
	h.ServeHTTP(httptest.NewRecorder(), req)
}

func TestConcurrentRequests(t *testing.T) {
	logger, logs := jsonLogger()
	m, reg := newMetrics(t)
	srv := httptest.NewServer(Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "conc")
		m.UploadSessions.Inc()
		defer m.UploadSessions.Dec()
		io.Copy(w, r.Body)
	}), logger, m))
	defer srv.Close()

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			resp, err := http.Post(srv.URL, "text/plain", strings.NewReader(strings.Repeat("x", i)))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	waitFor(t, func() bool { return len(logs.requestLogs(t)) == 50 })
	// sum(0..49) = 1225 bytes each way.
	scrape(t, reg,
		`wharf_http_requests_total{method="POST",route="conc",status="200"} 50`,
		`wharf_http_request_bytes_total{route="conc"} 1225`,
		`wharf_http_response_bytes_total{route="conc"} 1225`,
		`wharf_upload_sessions 0`,
	)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
