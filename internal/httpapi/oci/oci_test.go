package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/app/apptest"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
)

const (
	keyID  = "AKIATESTTESTTESTTEST"
	secret = "test-secret"
)

type env struct {
	t   *testing.T
	srv *httptest.Server
	app *app.App
	dir string
}

func newEnv(t *testing.T, mod ...func(*config.Config)) *env {
	t.Helper()
	return newEnvAt(t, t.TempDir(), mod...)
}

func newEnvAt(t *testing.T, dir string, mod ...func(*config.Config)) *env {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.AccountID = "123456789012"
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
	e := &env{t: t, srv: srv, app: a, dir: dir}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	e.srv.Close()
	e.app.Close()
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) code() string {
	var eb struct {
		Errors []struct{ Code string }
	}
	_ = json.Unmarshal(r.body, &eb)
	if len(eb.Errors) == 0 {
		return ""
	}
	return eb.Errors[0].Code
}

func (e *env) do(method, path string, body []byte, hdr ...string) resp {
	e.t.Helper()
	return e.doAuth(keyID, secret, method, path, body, hdr...)
}

func (e *env) doAuth(user, pass, method, path string, body []byte, hdr ...string) resp {
	e.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.srv.URL + path
	}
	res, b := apptest.Do(e.t, method, url, body, user, pass, hdr...)
	return resp{res.StatusCode, res.Header, b}
}

func (e *env) expect(r resp, status int, code string) {
	e.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		e.t.Fatalf("got %d %s (%s), want %d %s", r.status, r.code(), r.body, status, code)
	}
	if r.status >= 500 {
		e.t.Fatalf("server error: %s", r.body)
	}
}

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func (e *env) pushBlob(repo string, b []byte) string {
	e.t.Helper()
	d := sha(b)
	r := e.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d, b, "Content-Type", "application/octet-stream")
	e.expect(r, 201, "")
	return d
}

func imageManifest(config, layer []byte) []byte {
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		sha(config), len(config), sha(layer), len(layer)))
}

func (e *env) pushImage(repo, tag string, config, layer []byte) string {
	e.t.Helper()
	e.pushBlob(repo, config)
	e.pushBlob(repo, layer)
	m := imageManifest(config, layer)
	r := e.do("PUT", "/v2/"+repo+"/manifests/"+tag, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	e.expect(r, 201, "")
	if r.header.Get("Docker-Content-Digest") != sha(m) {
		e.t.Fatalf("digest header %q", r.header.Get("Docker-Content-Digest"))
	}
	return sha(m)
}

func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	r := e.doAuth("", "", "GET", "/v2/", nil)
	e.expect(r, 401, "UNAUTHORIZED")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("challenge %q", r.header.Get("WWW-Authenticate"))
	}
	e.expect(e.doAuth(keyID, "wrong", "GET", "/v2/", nil), 401, "UNAUTHORIZED")
	e.expect(e.doAuth("AKIAUNKNOWN", secret, "GET", "/v2/team/app/tags/list", nil), 401, "UNAUTHORIZED")
	r = e.do("GET", "/v2/", nil)
	e.expect(r, 200, "")
	if r.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatal("missing API version header")
	}
}

func TestBlobVisibilityAndMount(t *testing.T) {
	e := newEnv(t)
	data := []byte("layer-data-for-dedup")
	d := e.pushBlob("team/a", data)
	r := e.do("HEAD", "/v2/team/a/blobs/"+d, nil)
	e.expect(r, 200, "")
	if r.header.Get("Content-Length") != fmt.Sprint(len(data)) || r.header.Get("Docker-Content-Digest") != d {
		t.Fatalf("HEAD headers %v", r.header)
	}
	// Create team/b with some other content; the blob is not visible there.
	e.pushBlob("team/b", []byte("other"))
	e.expect(e.do("HEAD", "/v2/team/b/blobs/"+d, nil), 404, "")
	e.expect(e.do("GET", "/v2/team/b/blobs/"+d, nil), 404, "BLOB_UNKNOWN")
	// Mount from a repository that does not have it falls back to an upload.
	r = e.do("POST", "/v2/team/b/blobs/uploads/?mount="+d+"&from=team/zzz", nil)
	e.expect(r, 202, "")
	if r.header.Get("Location") == "" {
		t.Fatal("no upload location on mount fallback")
	}
	r = e.do("POST", "/v2/team/b/blobs/uploads/?mount="+d+"&from=team/a", nil)
	e.expect(r, 201, "")
	if r.header.Get("Location") != "/v2/team/b/blobs/"+d {
		t.Fatalf("mount location %q", r.header.Get("Location"))
	}
	r = e.do("GET", "/v2/team/b/blobs/"+d, nil)
	e.expect(r, 200, "")
	if !bytes.Equal(r.body, data) {
		t.Fatal("mounted blob content differs")
	}
	// Automatic mount (no from): found in a repository of the account.
	r = e.do("POST", "/v2/team/c/blobs/uploads/?mount="+d, nil)
	e.expect(r, 201, "")
	e.expect(e.do("HEAD", "/v2/team/c/blobs/"+d, nil), 200, "")
	// Unknown content still falls back to an upload.
	e.expect(e.do("POST", "/v2/team/c/blobs/uploads/?mount="+sha([]byte("never pushed")), nil), 202, "")
}

func TestChunkedUploadRanges(t *testing.T) {
	e := newEnv(t)
	data := bytes.Repeat([]byte("0123456789"), 100)
	r := e.do("POST", "/v2/team/app/blobs/uploads/", nil)
	e.expect(r, 202, "")
	loc := r.header.Get("Location")
	r = e.do("PATCH", loc, data[:300], "Content-Range", "0-299", "Content-Type", "application/octet-stream")
	e.expect(r, 202, "")
	if r.header.Get("Range") != "0-299" {
		t.Fatalf("Range after first chunk = %q", r.header.Get("Range"))
	}
	loc = r.header.Get("Location")
	// A gap and an overlap are both 416, and the upload is unchanged.
	e.expect(e.do("PATCH", loc, data[400:500], "Content-Range", "400-499"), 416, "")
	e.expect(e.do("PATCH", loc, data[200:400], "Content-Range", "200-399"), 416, "")
	r = e.do("GET", loc, nil)
	e.expect(r, 204, "")
	if r.header.Get("Range") != "0-299" {
		t.Fatalf("status Range = %q", r.header.Get("Range"))
	}
	// Content-Range that disagrees with the body length.
	e.expect(e.do("PATCH", loc, data[300:350], "Content-Range", "300-399"), 416, "")
	r = e.do("PATCH", loc, data[300:], "Content-Range", "300-999")
	e.expect(r, 202, "")
	// Wrong digest is refused, the right one accepted.
	e.expect(e.do("PUT", r.header.Get("Location")+"?digest="+sha([]byte("nope")), nil), 400, "DIGEST_INVALID")
	r = e.do("PUT", r.header.Get("Location")+"?digest="+sha(data), nil)
	e.expect(r, 201, "")
	r = e.do("GET", "/v2/team/app/blobs/"+sha(data), nil, "Range", "bytes=10-19")
	e.expect(r, 206, "")
	if string(r.body) != "0123456789" || r.header.Get("Content-Range") != "bytes 10-19/1000" {
		t.Fatalf("range GET: %q %q", r.body, r.header.Get("Content-Range"))
	}
	e.expect(e.do("GET", "/v2/team/app/blobs/"+sha(data), nil, "Range", "bytes=5000-6000"), 416, "")
	// Cancel an upload: it is gone afterwards.
	r = e.do("POST", "/v2/team/app/blobs/uploads/", nil)
	loc = r.header.Get("Location")
	e.expect(e.do("DELETE", loc, nil), 204, "")
	e.expect(e.do("GET", loc, nil), 404, "BLOB_UPLOAD_UNKNOWN")
}

func TestUploadResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnvAt(t, dir)
	data := bytes.Repeat([]byte("resumable!"), 5000)
	r := e.do("POST", "/v2/team/app/blobs/uploads/", nil)
	loc := r.header.Get("Location")
	e.expect(e.do("PATCH", loc, data[:20000], "Content-Range", "0-19999"), 202, "")
	e.close()
	e2 := newEnvAt(t, dir)
	r = e2.do("GET", loc, nil)
	e2.expect(r, 204, "")
	if r.header.Get("Range") != "0-19999" {
		t.Fatalf("after restart Range = %q", r.header.Get("Range"))
	}
	e2.expect(e2.do("PATCH", loc, data[20000:], "Content-Range", fmt.Sprintf("20000-%d", len(data)-1)), 202, "")
	e2.expect(e2.do("PUT", loc+"?digest="+sha(data), nil), 201, "")
	r = e2.do("GET", "/v2/team/app/blobs/"+sha(data), nil)
	if !bytes.Equal(r.body, data) {
		t.Fatal("resumed blob differs")
	}
}

func TestSHA512Blob(t *testing.T) {
	e := newEnv(t)
	data := []byte("sha512 content")
	d := fmt.Sprintf("sha512:%x", sha512.Sum512(data))
	e.expect(e.do("POST", "/v2/team/app/blobs/uploads/?digest="+d, data), 201, "")
	r := e.do("GET", "/v2/team/app/blobs/"+d, nil)
	e.expect(r, 200, "")
	if !bytes.Equal(r.body, data) || r.header.Get("Docker-Content-Digest") != d {
		t.Fatal("sha512 blob round trip failed")
	}
	bad := fmt.Sprintf("sha512:%x", sha512.Sum512([]byte("x")))
	e.expect(e.do("POST", "/v2/team/app/blobs/uploads/?digest="+bad, data), 400, "DIGEST_INVALID")
}

func TestManifestValidation(t *testing.T) {
	e := newEnv(t)
	cfg, layer := []byte(`{"os":"linux"}`), []byte("layer")
	m := imageManifest(cfg, layer)
	oci := "application/vnd.oci.image.manifest.v1+json"
	// Blobs not pushed yet.
	r := e.do("PUT", "/v2/team/app/manifests/v1", m, "Content-Type", oci)
	e.expect(r, 400, "MANIFEST_BLOB_UNKNOWN")
	e.pushBlob("team/app", cfg)
	e.pushBlob("team/app", layer)
	e.expect(e.do("PUT", "/v2/team/app/manifests/v1", []byte(`{"schemaVersion":2,`), "Content-Type", oci), 400, "MANIFEST_INVALID")
	e.expect(e.do("PUT", "/v2/team/app/manifests/v1", m, "Content-Type", "application/vnd.oci.image.index.v1+json"), 400, "MANIFEST_INVALID")
	e.expect(e.do("PUT", "/v2/team/app/manifests/"+sha([]byte("other")), m, "Content-Type", oci), 400, "DIGEST_INVALID")
	big := append([]byte(`{"schemaVersion":2,"annotations":{"x":"`), bytes.Repeat([]byte("a"), 5<<20)...)
	e.expect(e.do("PUT", "/v2/team/app/manifests/v1", big, "Content-Type", oci), 413, "")
	e.expect(e.do("PUT", "/v2/team/app/manifests/-badtag", m, "Content-Type", oci), 400, "")
	r = e.do("PUT", "/v2/team/app/manifests/v1", m, "Content-Type", oci)
	e.expect(r, 201, "")
	r = e.do("GET", "/v2/team/app/manifests/v1", nil, "Accept", oci)
	e.expect(r, 200, "")
	if !bytes.Equal(r.body, m) || r.header.Get("Content-Type") != oci {
		t.Fatal("manifest not served byte-exact with its media type")
	}
	// Index with a missing child.
	idx := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"%s","size":%d},{"mediaType":"%s","digest":"%s","size":3}]}`,
		oci, sha(m), len(m), oci, sha([]byte("missing"))))
	e.expect(e.do("PUT", "/v2/team/app/manifests/multi", idx, "Content-Type", "application/vnd.oci.image.index.v1+json"), 400, "MANIFEST_BLOB_UNKNOWN")
}

func TestBadNamesAndReferences(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{
		"/v2/Team/App/tags/list", "/v2/a/../b/tags/list", "/v2/x/tags/list", "/v2/team/app/manifests/",
		"/v2/team/app/blobs/sha256:xyz", "/v2/team/app/unknown/thing",
	} {
		r := e.do("GET", p, nil)
		if r.status != 400 && r.status != 404 {
			t.Errorf("%s: status %d", p, r.status)
		}
		if r.code() == "" {
			t.Errorf("%s: no error code in %s", p, r.body)
		}
	}
	e.expect(e.do("GET", "/v2/team/app/manifests/v1", nil), 404, "NAME_UNKNOWN")
	// Not cleaned into another repository's path (and not redirected there).
	e.expect(e.do("GET", "/v2/a/../b/manifests/v1", nil), 400, "NAME_INVALID")
	e.expect(e.do("GET", "/v2/team/app/blobs/sha256:xyz", nil), 400, "DIGEST_INVALID")
	e.expect(e.do("POST", "/v2/team/app/blobs/uploads/?digest=sha256:nothex", []byte("x")), 400, "DIGEST_INVALID")
	e.expect(e.do("GET", "/v2/team/app/tags/list?n=-1", nil), 400, "")
}

func TestTagsCatalogPaginationAndDeletes(t *testing.T) {
	e := newEnv(t)
	d := e.pushImage("team/app", "v1", []byte(`{"c":1}`), []byte("l1"))
	for _, tag := range []string{"b", "a", "c", "v2"} {
		m := imageManifest([]byte(`{"c":1}`), []byte("l1"))
		e.expect(e.do("PUT", "/v2/team/app/manifests/"+tag, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json"), 201, "")
	}
	r := e.do("GET", "/v2/team/app/tags/list?n=2", nil)
	e.expect(r, 200, "")
	var tl struct {
		Name string
		Tags []string
	}
	_ = json.Unmarshal(r.body, &tl)
	if strings.Join(tl.Tags, ",") != "a,b" || !strings.Contains(r.header.Get("Link"), `rel="next"`) {
		t.Fatalf("page 1: %v link %q", tl.Tags, r.header.Get("Link"))
	}
	link := r.header.Get("Link")
	next := link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
	r = e.do("GET", next, nil)
	_ = json.Unmarshal(r.body, &tl)
	if strings.Join(tl.Tags, ",") != "c,v1" {
		t.Fatalf("page 2: %v", tl.Tags)
	}
	for _, n := range []string{"team/zeta", "alpha/x"} {
		e.pushBlob(n, []byte("x"))
	}
	r = e.do("GET", "/v2/_catalog?n=2", nil)
	var cat struct{ Repositories []string }
	_ = json.Unmarshal(r.body, &cat)
	if strings.Join(cat.Repositories, ",") != "alpha/x,team/app" || r.header.Get("Link") == "" {
		t.Fatalf("catalog: %v %q", cat.Repositories, r.header.Get("Link"))
	}
	// Delete by tag removes the tag only.
	e.expect(e.do("DELETE", "/v2/team/app/manifests/a", nil), 202, "")
	e.expect(e.do("GET", "/v2/team/app/manifests/a", nil), 404, "MANIFEST_UNKNOWN")
	e.expect(e.do("GET", "/v2/team/app/manifests/"+d, nil), 200, "")
	// Delete by digest removes the image and all its tags.
	e.expect(e.do("DELETE", "/v2/team/app/manifests/"+d, nil), 202, "")
	e.expect(e.do("GET", "/v2/team/app/manifests/v1", nil), 404, "MANIFEST_UNKNOWN")
	r = e.do("GET", "/v2/team/app/tags/list", nil)
	_ = json.Unmarshal(r.body, &tl)
	if len(tl.Tags) != 0 {
		t.Fatalf("tags after delete: %v", tl.Tags)
	}
}

func TestReferrers(t *testing.T) {
	e := newEnv(t)
	subj := e.pushImage("team/app", "v1", []byte(`{"c":2}`), []byte("l2"))
	empty := []byte("{}")
	e.pushBlob("team/app", empty)
	art := func(at string) []byte {
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"%s","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":1},"annotations":{"k":"%s"}}`,
			at, sha(empty), subj, at))
	}
	sbom, sig := art("application/vnd.example.sbom"), art("application/vnd.example.sig")
	for _, a := range [][]byte{sbom, sig} {
		r := e.do("PUT", "/v2/team/app/manifests/"+sha(a), a, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		e.expect(r, 201, "")
		if r.header.Get("OCI-Subject") != subj {
			t.Fatalf("OCI-Subject = %q", r.header.Get("OCI-Subject"))
		}
	}
	r := e.do("GET", "/v2/team/app/referrers/"+subj, nil)
	e.expect(r, 200, "")
	var idx struct {
		MediaType string
		Manifests []struct {
			Digest, ArtifactType string
			Annotations          map[string]string
		}
	}
	_ = json.Unmarshal(r.body, &idx)
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" || len(idx.Manifests) != 2 {
		t.Fatalf("referrers: %s", r.body)
	}
	r = e.do("GET", "/v2/team/app/referrers/"+subj+"?artifactType=application/vnd.example.sig", nil)
	_ = json.Unmarshal(r.body, &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sha(sig) || idx.Manifests[0].Annotations["k"] != "application/vnd.example.sig" ||
		r.header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered referrers: %s %v", r.body, r.header)
	}
}

func TestImmutableTagsAndCreateOnPush(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.CreateOnPush = false })
	e.expect(e.do("POST", "/v2/team/app/blobs/uploads/", nil), 404, "NAME_UNKNOWN")
	_, err := e.app.Registry.CreateRepository(context.Background(), repoRow("team/app", "IMMUTABLE"))
	if err != nil {
		t.Fatal(err)
	}
	e.pushImage("team/app", "v1", []byte(`{"c":3}`), []byte("l3"))
	// Same content under the same tag is fine; different content is not.
	e.pushImage("team/app", "v1", []byte(`{"c":3}`), []byte("l3"))
	e.pushBlob("team/app", []byte(`{"c":4}`))
	m := imageManifest([]byte(`{"c":4}`), []byte("l3"))
	e.expect(e.do("PUT", "/v2/team/app/manifests/v1", m, "Content-Type", "application/vnd.oci.image.manifest.v1+json"), 400, "TAG_INVALID")
}

func TestReferrersOfUnknownRepository(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v2/team/none/referrers/"+sha([]byte("x")), nil)
	e.expect(r, 200, "")
	if r.header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" || !strings.Contains(string(r.body), `"manifests":[]`) {
		t.Fatalf("empty referrers: %v %s", r.header, r.body)
	}
}
