package ecr_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/app/apptest"
	"github.com/wharfhq/wharf/internal/config"
)

// The tests drive the ECR API with the official AWS SDK for Go v2 against
// the fully wired server (app.New), with real SQLite and filesystem stores.

const (
	account = "111122223333"
	keyID   = "AKIAECRTESTROOT00001"
	secret  = "ecr-test-root-secret"
	region  = "us-east-1"
)

type env struct {
	*apptest.Server
	t   *testing.T
	app *app.App
	srv *httptest.Server
	ecr *ecr.Client // the account root of `account`
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with settings changed by mod.
func newEnvWith(t *testing.T, mod func(*config.Config)) *env {
	t.Helper()
	s := apptest.Start(t, account, keyID, secret, mod)
	e := &env{Server: s, t: t, app: s.App, srv: s.HTTP}
	e.ecr = e.client(keyID, secret)
	return e
}

// client returns an ECR client signing with the given key pair.
func (e *env) client(id, sec string) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(id, sec, ""),
		BaseEndpoint:     aws.String(e.srv.URL),
		RetryMaxAttempts: 1,
	})
}

// addAccount creates another account with a root key, returning a client.
func (e *env) addAccount(id, key, sec string) *ecr.Client {
	e.t.Helper()
	e.AddAccount(id, key, sec)
	return e.client(key, sec)
}

// addUser creates an IAM user with a key and optional inline policy.
func (e *env) addUser(acct, name, key, sec, policy string) *ecr.Client {
	e.t.Helper()
	e.AddUser(acct, name, key, sec, policy)
	return e.client(key, sec)
}

var sha = apptest.Sha

// v2 sends a /v2/ request with Basic credentials.
func (e *env) v2(method, path string, body []byte, user, pass string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	return e.V2(method, path, body, user, pass, hdr...)
}

// pushImage pushes a one-layer linux/amd64 OCI image over /v2/ as the root
// of account, returning the manifest bytes and digest.
func (e *env) pushImage(repo, tag string, seed string) ([]byte, string) {
	e.t.Helper()
	img := apptest.NewImage("linux/amd64", seed)
	if res, body := e.Push(repo, tag, img); res.StatusCode != 201 {
		e.t.Fatalf("manifest push: %d %s", res.StatusCode, body)
	}
	return img.Manifest, sha(img.Manifest)
}
