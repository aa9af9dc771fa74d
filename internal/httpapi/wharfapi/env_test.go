package wharfapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
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
	"github.com/wharfhq/wharf/internal/httpapi/wharfapi"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The tests drive the extension API over HTTP with SigV4 against the fully
// wired server (app.New) on real SQLite and filesystem stores.

const (
	account = "111122223333"
	keyID   = "AKIAWHARFAPITEST0001"
	secret  = "wharf-api-test-root-secret"
	region  = "us-east-1"
)

type env struct {
	t    *testing.T
	app  *app.App
	srv  *httptest.Server
	root *wharfapi.Client
}

func newEnv(t *testing.T, mod ...func(*config.Config)) *env {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.AccountID = account
	cfg.AdminAccessKeyID = keyID
	cfg.AdminSecretAccessKey = secret
	for _, m := range mod {
		m(&cfg)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	e := &env{t: t, app: a, srv: srv}
	e.root = e.client(keyID, secret)
	return e
}

func (e *env) client(id, sec string) *wharfapi.Client {
	return &wharfapi.Client{Endpoint: e.srv.URL, Region: region, AccessKeyID: id, SecretAccessKey: sec}
}

// addUser creates an IAM user with a key and an inline policy.
func (e *env) addUser(name, key, sec, policy string) *wharfapi.Client {
	e.t.Helper()
	ctx := context.Background()
	m := e.app.Stores.Meta
	if err := m.CreateUser(ctx, meta.User{AccountID: account, Name: name, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	if err := m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: key, Secret: sec, AccountID: account, UserName: name, Active: true, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	if policy != "" {
		if err := m.PutUserPolicy(ctx, meta.UserPolicy{AccountID: account, UserName: name, Name: "inline", Document: policy}); err != nil {
			e.t.Fatal(err)
		}
		e.app.Registry.ForgetIdentityPolicies(account, name)
	}
	return e.client(key, sec)
}

// call runs an operation as c, failing the test on error.
func call[Out any](e *env, c *wharfapi.Client, op string, in any) Out {
	e.t.Helper()
	var out Out
	if err := c.Call(context.Background(), op, in, &out); err != nil {
		e.t.Fatalf("%s: %v", op, err)
	}
	return out
}

// callErr runs an operation that must fail, returning its API error.
func callErr(e *env, c *wharfapi.Client, op string, in any) *wharfapi.APIError {
	e.t.Helper()
	err := c.Call(context.Background(), op, in, nil)
	var ae *wharfapi.APIError
	if !errors.As(err, &ae) {
		e.t.Fatalf("%s: got %v, want an API error", op, err)
	}
	return ae
}

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// v2 sends a /v2/ request as the root, with optional header pairs.
func (e *env) v2(method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(keyID, secret)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// pushImage pushes a one-layer OCI image of a platform ("linux/amd64")
// over /v2/ as the root, by tag (or by digest when tag is ""), returning
// the manifest digest. Extra headers go with the manifest PUT.
func (e *env) pushImage(repo, tag, platform, seed string, hdr ...string) (string, *http.Response, []byte) {
	e.t.Helper()
	os, arch, _ := strings.Cut(platform, "/")
	cfg := []byte(`{"architecture":"` + arch + `","os":"` + os + `","seed":"` + seed + `"}`)
	layer := []byte("layer-" + seed)
	for _, b := range [][]byte{cfg, layer} {
		res, body := e.v2("POST", "/v2/"+repo+"/blobs/uploads/?digest="+sha(b), b)
		if res.StatusCode != 201 {
			e.t.Fatalf("blob push: %d %s", res.StatusCode, body)
		}
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
		sha(cfg), len(cfg), sha(layer), len(layer)))
	ref := tag
	if ref == "" {
		ref = sha(m)
	}
	res, body := e.v2("PUT", "/v2/"+repo+"/manifests/"+ref, m, append([]string{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}, hdr...)...)
	return sha(m), res, body
}

// mustPush is pushImage that must succeed.
func (e *env) mustPush(repo, tag, platform, seed string) string {
	e.t.Helper()
	d, res, body := e.pushImage(repo, tag, platform, seed)
	if res.StatusCode != 201 {
		e.t.Fatalf("manifest push %s:%s: %d %s", repo, tag, res.StatusCode, body)
	}
	return d
}

// digestOf resolves repo:tag over /v2/ ("" when unknown).
func (e *env) digestOf(repo, tag string) string {
	e.t.Helper()
	res, _ := e.v2("HEAD", "/v2/"+repo+"/manifests/"+tag, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
	if res.StatusCode != 200 {
		return ""
	}
	return res.Header.Get("Docker-Content-Digest")
}
