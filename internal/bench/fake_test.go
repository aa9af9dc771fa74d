package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeRegistry implements just enough of the distribution API for the tests:
// uploads (monolithic and chunked, with relative Locations), blobs,
// manifests and a paginated tags list, behind optional Basic or Bearer auth.
type fakeRegistry struct {
	t        *testing.T
	user     string
	pass     string
	bearer   bool   // require a token from /token
	pageSize int    // default tags page size, 0 = all
	corrupt  string // digest whose content is served corrupted

	mu        sync.Mutex
	blobs     map[string][]byte
	uploads   map[string][]byte
	manifests map[string]map[string][]byte // repo -> ref -> body
	patches   []string                     // Content-Range of each PATCH
	tokenReqs int
	nextID    int
	requests  map[string]int // "METHOD kind" counts
}

func newFakeRegistry(t *testing.T) (*fakeRegistry, *httptest.Server) {
	f := &fakeRegistry{
		t:         t,
		blobs:     map[string][]byte{},
		uploads:   map[string][]byte{},
		manifests: map[string]map[string][]byte{},
		requests:  map[string]int{},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeRegistry) count(k string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[k]
}

func ociError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"fake"}]}`, code)
}

func (f *fakeRegistry) authorized(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case f.bearer:
		if r.Header.Get("Authorization") == "Bearer good-token" {
			return true
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="fake"`, r.Host))
	case f.user != "":
		if u, p, ok := r.BasicAuth(); ok && u == f.user && p == f.pass {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
	default:
		return true
	}
	ociError(w, http.StatusUnauthorized, "UNAUTHORIZED")
	return false
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/token" {
		u, pw, _ := r.BasicAuth()
		if u != f.user || pw != f.pass {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("service") != "fake" || len(r.URL.Query()["scope"]) == 0 {
			http.Error(w, "bad token request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.tokenReqs++
		f.mu.Unlock()
		fmt.Fprint(w, `{"token":"good-token","expires_in":300}`)
		return
	}
	if !strings.HasPrefix(p, "/v2/") {
		http.NotFound(w, r)
		return
	}
	if !f.authorized(w, r) {
		return
	}
	if p == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	rest := strings.TrimPrefix(p, "/v2/")
	var repo, kind, ref string
	for _, k := range []string{"/blobs/uploads/", "/blobs/", "/manifests/", "/tags/list"} {
		if i := strings.LastIndex(rest, k); i > 0 {
			repo, kind, ref = rest[:i], strings.Trim(k, "/"), rest[i+len(k):]
			break
		}
	}
	f.mu.Lock()
	f.requests[r.Method+" "+kind]++
	f.mu.Unlock()
	switch kind {
	case "blobs/uploads":
		f.upload(w, r, repo, ref)
	case "blobs":
		f.mu.Lock()
		b, ok := f.blobs[ref]
		f.mu.Unlock()
		if !ok {
			ociError(w, http.StatusNotFound, "BLOB_UNKNOWN")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Header().Set("Docker-Content-Digest", ref)
		if r.Method == http.MethodHead {
			return
		}
		if ref == f.corrupt {
			b = append([]byte{b[0] ^ 1}, b[1:]...)
		}
		_, _ = w.Write(b)
	case "manifests":
		f.manifest(w, r, repo, ref)
	case "tags/list":
		f.tags(w, r, repo)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeRegistry) upload(w http.ResponseWriter, r *http.Request, repo, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		f.nextID++
		id = strconv.Itoa(f.nextID)
		f.uploads[id] = []byte{}
		// A relative Location with a query, as distribution sends.
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id+"?_state=s"+id)
		w.Header().Set("Range", "0-0")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	buf, ok := f.uploads[id]
	if !ok {
		ociError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		return
	}
	if !strings.HasPrefix(r.URL.Query().Get("_state"), "s") {
		ociError(w, http.StatusBadRequest, "BLOB_UPLOAD_INVALID")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		ociError(w, http.StatusBadRequest, "BLOB_UPLOAD_INVALID")
		return
	}
	switch r.Method {
	case http.MethodPatch:
		cr := r.Header.Get("Content-Range")
		f.patches = append(f.patches, cr)
		want := fmt.Sprintf("%d-%d", len(buf), len(buf)+len(body)-1)
		if cr != want || r.ContentLength != int64(len(body)) {
			ociError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID")
			return
		}
		f.uploads[id] = append(buf, body...)
		// Relative Location again, without leading slash this time.
		w.Header().Set("Location", id+"?_state=s"+id)
		w.Header().Set("Range", fmt.Sprintf("0-%d", len(f.uploads[id])-1))
		w.WriteHeader(http.StatusAccepted)
	case http.MethodPut:
		buf = append(buf, body...)
		d := r.URL.Query().Get("digest")
		if d != sha(buf) {
			ociError(w, http.StatusBadRequest, "DIGEST_INVALID")
			return
		}
		delete(f.uploads, id)
		f.blobs[d] = buf
		w.Header().Set("Docker-Content-Digest", d)
		w.Header().Set("Location", "/v2/"+repo+"/blobs/"+d)
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeRegistry) manifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		var m Manifest
		if err := json.Unmarshal(body, &m); err != nil || r.Header.Get("Content-Type") != m.MediaType {
			ociError(w, http.StatusBadRequest, "MANIFEST_INVALID")
			return
		}
		for _, d := range append([]Descriptor{m.Config}, m.Layers...) {
			if b, ok := f.blobs[d.Digest]; !ok || int64(len(b)) != d.Size {
				ociError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
				return
			}
		}
		if f.manifests[repo] == nil {
			f.manifests[repo] = map[string][]byte{}
		}
		d := sha(body)
		f.manifests[repo][ref] = body
		f.manifests[repo][d] = body
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet, http.MethodHead:
		b, ok := f.manifests[repo][ref]
		if !ok {
			ociError(w, http.StatusNotFound, "MANIFEST_UNKNOWN")
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), MediaTypeOCIManifest) {
			ociError(w, http.StatusNotFound, "MANIFEST_UNKNOWN")
			return
		}
		w.Header().Set("Content-Type", MediaTypeOCIManifest)
		w.Header().Set("Docker-Content-Digest", sha(b))
		_, _ = w.Write(b)
	}
}

func (f *fakeRegistry) tags(w http.ResponseWriter, r *http.Request, repo string) {
	f.mu.Lock()
	var tags []string
	for ref := range f.manifests[repo] {
		if !strings.HasPrefix(ref, "sha256:") {
			tags = append(tags, ref)
		}
	}
	f.mu.Unlock()
	if len(tags) == 0 {
		ociError(w, http.StatusNotFound, "NAME_UNKNOWN")
		return
	}
	sort.Strings(tags)
	n := f.pageSize
	if s := r.URL.Query().Get("n"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	last := r.URL.Query().Get("last")
	i := sort.SearchStrings(tags, last)
	if last != "" && i < len(tags) && tags[i] == last {
		i++
	}
	page := tags[i:]
	if n > 0 && len(page) > n {
		page = page[:n]
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {page[len(page)-1]}}
		// A relative next link, as distribution sends.
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, repo, q.Encode()))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": page})
}
