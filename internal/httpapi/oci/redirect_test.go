package oci_test

import (
	"bytes"
	"context"
	"github.com/wharfhq/wharf/internal/store/blob/s3/s3test"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/httpapi/oci"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/store/blob"
)

// noFollow is a client that returns redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get sends a request with noFollow and returns the answer.
func get(t *testing.T, method, u, user, pass string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// s3Blobs points the configuration at a fresh bucket of the test S3 server
// (scripts/s3.sh), removed when the test ends.
func s3Blobs(t *testing.T) func(*config.Config) {
	t.Helper()
	blobs := s3test.Bucket(t, "wharf-oci")
	return func(c *config.Config) { c.Blobs = blobs }
}

// TestBlobRedirectS3: with blob_redirect on an S3 store, a blob GET is a 307
// to a presigned URL that serves the exact bytes (and ranges); HEAD still
// answers from metadata; callers who may not read get no URL.
func TestBlobRedirectS3(t *testing.T) {
	withS3 := s3Blobs(t)
	e := newEnv(t, withS3, func(c *config.Config) { c.BlobRedirect = true })
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10+3) // ~1 MiB
	d := e.pushBlob("team/app", data)
	path := e.srv.URL + "/v2/team/app/blobs/" + d

	r := get(t, "GET", path, keyID, secret)
	e.expect(r, http.StatusTemporaryRedirect, "")
	loc := r.header.Get("Location")
	if loc == "" || strings.HasPrefix(loc, e.srv.URL) {
		t.Fatalf("Location %q", loc)
	}
	if r.header.Get("Docker-Content-Digest") != d {
		t.Fatalf("digest header %q", r.header.Get("Docker-Content-Digest"))
	}
	f := get(t, "GET", loc, "", "")
	if f.status != 200 || !bytes.Equal(f.body, data) {
		t.Fatalf("following the redirect: %d, %d bytes, equal %v", f.status, len(f.body), bytes.Equal(f.body, data))
	}
	// A client that follows redirects (and drops Authorization on the way,
	// as net/http does across hosts) gets the bytes too.
	e.expect(e.do("GET", path, nil), 200, "")
	if got := e.do("GET", path, nil); !bytes.Equal(got.body, data) {
		t.Fatal("followed redirect: content differs")
	}

	// Range requests are redirected; the bucket honours the range.
	r = get(t, "GET", path, keyID, secret, "Range", "bytes=10-99")
	e.expect(r, http.StatusTemporaryRedirect, "")
	f = get(t, "GET", r.header.Get("Location"), "", "", "Range", "bytes=10-99")
	if f.status != http.StatusPartialContent || !bytes.Equal(f.body, data[10:100]) {
		t.Fatalf("range through redirect: %d %q", f.status, f.body)
	}

	// HEAD answers from metadata, no redirect.
	r = get(t, "HEAD", path, keyID, secret)
	e.expect(r, 200, "")
	if r.header.Get("Location") != "" || r.header.Get("Content-Length") != strconv.Itoa(len(data)) {
		t.Fatalf("HEAD headers %v", r.header)
	}

	// No URL for callers who may not read the blob.
	for _, c := range []struct{ user, pass string }{{"", ""}, {keyID, "wrong"}, {"AKIAUNKNOWN", secret}} {
		r = get(t, "GET", path, c.user, c.pass)
		if r.status != http.StatusUnauthorized || r.header.Get("Location") != "" || bytes.Contains(r.body, []byte("X-Amz")) {
			t.Fatalf("%q: %d %v %s", c.user, r.status, r.header, r.body)
		}
	}
	// Nor for a repository that does not link the blob.
	e.pushBlob("team/other", []byte("other"))
	r = get(t, "GET", e.srv.URL+"/v2/team/other/blobs/"+d, keyID, secret)
	e.expect(r, 404, "BLOB_UNKNOWN")
	if r.header.Get("Location") != "" {
		t.Fatalf("Location for an unlinked blob: %q", r.header.Get("Location"))
	}

	// With the setting off the node streams the blob.
	e2 := newEnv(t, withS3)
	d2 := e2.pushBlob("team/app", data)
	r = get(t, "GET", e2.srv.URL+"/v2/team/app/blobs/"+d2, keyID, secret)
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("streamed: %d, %d bytes", r.status, len(r.body))
	}
}

// fakeRedirector adds RedirectURL to a blob store.
type fakeRedirector struct {
	blob.Store
	base string
	ttl  time.Duration
}

func (f *fakeRedirector) RedirectURL(ctx context.Context, d string, ttl time.Duration) (string, error) {
	if _, err := f.Stat(ctx, d); err != nil {
		return "", err
	}
	f.ttl = ttl
	return f.base + "/" + d, nil
}

// TestBlobRedirectFake drives the handler with a store that implements
// blob.Redirector: redirect when on and linked, stream when off, 404 when
// the content is gone, and the filesystem store never redirects.
func TestBlobRedirectFake(t *testing.T) {
	e := newEnv(t)
	data := []byte("fake redirect blob")
	d := e.pushBlob("team/app", data)
	fr := &fakeRedirector{Store: e.app.Stores.Blobs, base: "https://cdn.example.com/b"}
	serve := func(redirect bool, st blob.Store) *httptest.Server {
		h := &oci.Handler{
			Registry:     registry.New(e.app.Stores.Meta, st, registry.Options{}),
			Authn:        access.Anonymous{AccountID: "123456789012"},
			Authz:        access.AccountAuthorizer{},
			Region:       "us-east-1",
			AccountFor:   func(*http.Request) string { return "123456789012" },
			Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			BlobRedirect: redirect,
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv
	}

	on := serve(true, fr)
	r := get(t, "GET", on.URL+"/v2/team/app/blobs/"+d, "", "")
	if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != fr.base+"/"+d {
		t.Fatalf("redirect: %d %v", r.status, r.header)
	}
	if fr.ttl != oci.DefaultBlobRedirectTTL {
		t.Fatalf("ttl %v", fr.ttl)
	}
	if r := get(t, "GET", on.URL+"/v2/team/app/blobs/"+d, "", "", "Range", "bytes=0-3"); r.status != http.StatusTemporaryRedirect {
		t.Fatalf("range: %d", r.status)
	}
	if r := get(t, "HEAD", on.URL+"/v2/team/app/blobs/"+d, "", ""); r.status != 200 || r.header.Get("Location") != "" {
		t.Fatalf("HEAD: %d %v", r.status, r.header)
	}
	unknown := sha([]byte("never pushed"))
	if r := get(t, "GET", on.URL+"/v2/team/app/blobs/"+unknown, "", ""); r.status != 404 || r.header.Get("Location") != "" {
		t.Fatalf("unknown: %d %v", r.status, r.header)
	}

	for name, srv := range map[string]*httptest.Server{
		"setting off":  serve(false, fr),
		"no interface": serve(true, e.app.Stores.Blobs),
	} {
		r := get(t, "GET", srv.URL+"/v2/team/app/blobs/"+d, "", "")
		if r.status != 200 || !bytes.Equal(r.body, data) || r.header.Get("Location") != "" {
			t.Fatalf("%s: %d %q", name, r.status, r.body)
		}
	}

	// Linked but content missing: BLOB_UNKNOWN, no URL.
	if err := e.app.Stores.Blobs.Delete(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	r = get(t, "GET", on.URL+"/v2/team/app/blobs/"+d, "", "")
	if r.status != 404 || r.code() != "BLOB_UNKNOWN" || r.header.Get("Location") != "" {
		t.Fatalf("missing content: %d %s %v", r.status, r.body, r.header)
	}
}
