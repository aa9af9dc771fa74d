package wharfapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/app/apptest"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/httpapi/wharfapi"
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
	*apptest.Server
	t    *testing.T
	app  *app.App
	srv  *httptest.Server
	root *wharfapi.Client
}

func newEnv(t *testing.T, mod ...func(*config.Config)) *env {
	t.Helper()
	s := apptest.Start(t, account, keyID, secret, mod...)
	e := &env{Server: s, t: t, app: s.App, srv: s.HTTP}
	e.root = e.client(keyID, secret)
	return e
}

func (e *env) client(id, sec string) *wharfapi.Client {
	return &wharfapi.Client{Endpoint: e.srv.URL, Region: region, AccessKeyID: id, SecretAccessKey: sec}
}

// addUser creates an IAM user with a key and an inline policy.
func (e *env) addUser(name, key, sec, policy string) *wharfapi.Client {
	e.t.Helper()
	e.AddUser(account, name, key, sec, policy)
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

var sha = apptest.Sha

// v2 sends a /v2/ request as the root, with optional header pairs.
func (e *env) v2(method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	return e.V2(method, path, body, keyID, secret, hdr...)
}

// pushImage pushes a one-layer OCI image of a platform ("linux/amd64")
// over /v2/ as the root, by tag (or by digest when tag is ""), returning
// the manifest digest. Extra headers go with the manifest PUT.
func (e *env) pushImage(repo, tag, platform, seed string, hdr ...string) (string, *http.Response, []byte) {
	e.t.Helper()
	img := apptest.NewImage(platform, seed)
	res, body := e.Push(repo, tag, img, hdr...)
	return sha(img.Manifest), res, body
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
