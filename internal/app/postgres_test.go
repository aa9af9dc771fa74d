package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/config"
)

// TestServeOnPostgres runs the server on PostgreSQL metadata: a push through
// one instance is served by a second one sharing the database and blobs
// (two stateless nodes).
func TestServeOnPostgres(t *testing.T) {
	metadata := freshPostgres(t, "wharf_app")
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Metadata = metadata
	cfg.AccountID = "123456789012"
	cfg.AdminAccessKeyID = "AKIAPOSTGRESTEST0001"
	cfg.AdminSecretAccessKey = "pg-secret"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	node := func() *httptest.Server {
		a, err := New(context.Background(), cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() { srv.Close(); a.Close() })
		return srv
	}
	n1, n2 := node(), node()
	do := func(srv *httptest.Server, method, path, body, ct string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.SetBasicAuth(cfg.AdminAccessKeyID, cfg.AdminSecretAccessKey)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	const cfgBlob = `{"os":"linux"}`
	d := "sha256:" + sha256hex(cfgBlob)
	if res := do(n1, "POST", "/v2/pg/app/blobs/uploads/?digest="+d, cfgBlob, "application/octet-stream"); res.StatusCode != 201 {
		t.Fatalf("blob push on node 1: %d", res.StatusCode)
	}
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d + `","size":` + itoa(len(cfgBlob)) + `},"layers":[]}`
	if res := do(n1, "PUT", "/v2/pg/app/manifests/v1", m, "application/vnd.oci.image.manifest.v1+json"); res.StatusCode != 201 {
		t.Fatalf("manifest push on node 1: %d", res.StatusCode)
	}
	if res := do(n2, "GET", "/v2/pg/app/manifests/v1", "", ""); res.StatusCode != 200 || res.Header.Get("Docker-Content-Digest") != "sha256:"+sha256hex(m) {
		t.Fatalf("manifest on node 2: %d", res.StatusCode)
	}
	if res := do(n2, "HEAD", "/v2/pg/app/blobs/"+d, "", ""); res.StatusCode != 200 {
		t.Fatalf("blob on node 2: %d", res.StatusCode)
	}
}

// freshPostgres creates a database named prefix_<random> on the test server
// (WHARF_TEST_POSTGRES_URL), dropped when the test ends, and returns its URL.
// It skips the test when no server is configured.
func freshPostgres(t *testing.T, prefix string) string {
	t.Helper()
	base := os.Getenv("WHARF_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("WHARF_TEST_POSTGRES_URL not set (scripts/test.sh starts PostgreSQL and sets it)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() }) // after the DROP below: cleanups run last-in first-out
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + "_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}
