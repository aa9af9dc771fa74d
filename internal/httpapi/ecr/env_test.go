package ecr_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/store/meta"
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
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.AccountID = account
	cfg.AdminAccessKeyID = keyID
	cfg.AdminSecretAccessKey = secret
	if mod != nil {
		mod(&cfg)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	e := &env{t: t, app: a, srv: srv}
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
	ctx := context.Background()
	m := e.app.Stores.Meta
	if err := m.CreateAccount(ctx, meta.Account{ID: id, Name: id, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	if err := m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: key, Secret: sec, AccountID: id, Active: true, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return e.client(key, sec)
}

// addUser creates an IAM user with a key and optional inline policy.
func (e *env) addUser(acct, name, key, sec, policy string) *ecr.Client {
	e.t.Helper()
	ctx := context.Background()
	m := e.app.Stores.Meta
	if err := m.CreateUser(ctx, meta.User{AccountID: acct, Name: name, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	if err := m.PutAccessKey(ctx, meta.AccessKey{AccessKeyID: key, Secret: sec, AccountID: acct, UserName: name, Active: true, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	if policy != "" {
		if err := m.PutUserPolicy(ctx, meta.UserPolicy{AccountID: acct, UserName: name, Name: "inline", Document: policy}); err != nil {
			e.t.Fatal(err)
		}
		e.app.Registry.ForgetIdentityPolicies(acct, name)
	}
	return e.client(key, sec)
}

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// v2 sends a /v2/ request with Basic credentials.
func (e *env) v2(method, path string, body []byte, user, pass string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
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

// pushImage pushes a one-layer OCI image over /v2/ as the root of account,
// returning the manifest bytes and digest.
func (e *env) pushImage(repo, tag string, seed string) ([]byte, string) {
	e.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","seed":"` + seed + `"}`)
	layer := []byte("layer-" + seed)
	for _, b := range [][]byte{cfg, layer} {
		res, body := e.v2("POST", "/v2/"+repo+"/blobs/uploads/?digest="+sha(b), b, keyID, secret)
		if res.StatusCode != 201 {
			e.t.Fatalf("blob push: %d %s", res.StatusCode, body)
		}
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
		sha(cfg), len(cfg), sha(layer), len(layer)))
	res, body := e.v2("PUT", "/v2/"+repo+"/manifests/"+tag, m, keyID, secret, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if res.StatusCode != 201 {
		e.t.Fatalf("manifest push: %d %s", res.StatusCode, body)
	}
	return m, sha(m)
}
