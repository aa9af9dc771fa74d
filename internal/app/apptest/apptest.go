// Package apptest starts the fully wired server (app.New) on real SQLite
// and filesystem stores in a test's temporary directory, and offers what
// the API tests share: extra accounts and users, /v2/ requests, and a
// one-layer image push.
package apptest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Server is a running server and the root key of its default account.
type Server struct {
	T       testing.TB
	App     *app.App
	HTTP    *httptest.Server
	Account string
	KeyID   string
	Secret  string
}

// Start starts a server whose default account and root key are the given
// ones, with settings changed by mods; it stops with the test.
func Start(t testing.TB, account, keyID, secret string, mods ...func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.AccountID = account
	cfg.AdminAccessKeyID = keyID
	cfg.AdminSecretAccessKey = secret
	for _, m := range mods {
		if m != nil {
			m(&cfg)
		}
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &Server{T: t, App: a, HTTP: srv, Account: account, KeyID: keyID, Secret: secret}
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.HTTP.URL }

// AddAccount creates another account with a root access key.
func (s *Server) AddAccount(id, key, sec string) {
	s.T.Helper()
	ctx := context.Background()
	m := s.App.Stores.Meta
	if err := m.CreateAccount(ctx, meta.Account{ID: id, Name: id, CreatedAt: time.Now()}); err != nil {
		s.T.Fatal(err)
	}
	if err := m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: key, Secret: sec, AccountID: id, Active: true, CreatedAt: time.Now()}); err != nil {
		s.T.Fatal(err)
	}
}

// AddUser creates an IAM user of an account with an access key and, when
// policy is not "", an inline identity policy (effective at once).
func (s *Server) AddUser(acct, name, key, sec, policy string) {
	s.T.Helper()
	ctx := context.Background()
	m := s.App.Stores.Meta
	if err := m.CreateUser(ctx, meta.User{AccountID: acct, Name: name, CreatedAt: time.Now()}); err != nil {
		s.T.Fatal(err)
	}
	if err := m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: key, Secret: sec, AccountID: acct, UserName: name, Active: true, CreatedAt: time.Now()}); err != nil {
		s.T.Fatal(err)
	}
	if policy != "" {
		if err := m.PutUserPolicy(ctx, meta.UserPolicy{AccountID: acct, UserName: name, Name: "inline", Document: policy}); err != nil {
			s.T.Fatal(err)
		}
		s.App.Registry.ForgetIdentityPolicies(acct, name)
	}
}

// Sha is the sha256 digest of b.
func Sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// V2 sends a /v2/ request with Basic credentials (none when user is ""),
// with optional header pairs, and returns the response and its body.
func (s *Server) V2(method, path string, body []byte, user, pass string, hdr ...string) (*http.Response, []byte) {
	s.T.Helper()
	return Do(s.T, method, s.HTTP.URL+path, body, user, pass, hdr...)
}

// Do sends a request to url with Basic credentials (none when user is "")
// and header pairs, and returns the response, closed, and its body. A nil
// body is sent as no body at all (Content-Length 0).
func Do(t testing.TB, method, url string, body []byte, user, pass string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// A body cut short shows in what the test then checks of it.
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// Image is a one-layer OCI image of a platform ("linux/amd64"); seed
// makes its config and layer unique.
type Image struct {
	Config, Layer, Manifest []byte
}

// NewImage builds an Image.
func NewImage(platform, seed string) Image {
	os, arch, _ := strings.Cut(platform, "/")
	cfg := []byte(`{"architecture":"` + arch + `","os":"` + os + `","seed":"` + seed + `"}`)
	layer := []byte("layer-" + seed)
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
		Sha(cfg), len(cfg), Sha(layer), len(layer)))
	return Image{Config: cfg, Layer: layer, Manifest: m}
}

// Push uploads the image's blobs (which must succeed) and puts its
// manifest by ref (a tag, or its digest when ref is "") as the root, with
// extra header pairs; it returns the manifest PUT's response.
func (s *Server) Push(repo, ref string, img Image, hdr ...string) (*http.Response, []byte) {
	s.T.Helper()
	for _, b := range [][]byte{img.Config, img.Layer} {
		res, body := s.V2("POST", "/v2/"+repo+"/blobs/uploads/?digest="+Sha(b), b, s.KeyID, s.Secret)
		if res.StatusCode != 201 {
			s.T.Fatalf("blob push: %d %s", res.StatusCode, body)
		}
	}
	if ref == "" {
		ref = Sha(img.Manifest)
	}
	return s.V2("PUT", "/v2/"+repo+"/manifests/"+ref, img.Manifest, s.KeyID, s.Secret,
		append([]string{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}, hdr...)...)
}
