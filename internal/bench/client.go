package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Media types used by the benchmark images.
const (
	MediaTypeOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeOCILayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// DockerAccept is the Accept header docker (moby) sends when it resolves a
// tag: the manifest types it understands, most preferred first.
const DockerAccept = "application/vnd.docker.distribution.manifest.v2+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, " +
	"application/vnd.oci.image.index.v1+json, " +
	"application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.v1+prettyjws"

// ClientOptions configure a Client.
type ClientOptions struct {
	BaseURL     string // e.g. http://127.0.0.1:5000
	User        string // HTTP Basic user; empty for anonymous access
	Password    string
	Concurrency int           // expected number of concurrent requests
	Timeout     time.Duration // per request, including the body; 0 = none
	Insecure    bool          // skip TLS verification
}

// Client speaks the OCI distribution API over net/http.
type Client struct {
	base    *url.URL
	hc      *http.Client
	user    string
	pass    string
	timeout time.Duration

	authMu    sync.Mutex
	bearer    *bearerAuth // set when the registry asks for token auth
	authValue string      // current Authorization header value
}

// NewClient returns a client with a transport tuned for benchmarking: one
// idle connection kept per concurrent worker, no transparent compression,
// large socket buffers, HTTP/1.1 only (as docker and containerd use against
// plain HTTP registries).
func NewClient(o ClientOptions) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid registry URL %q", o.BaseURL)
	}
	conc := max(o.Concurrency, 1)
	tr := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          conc + 16,
		MaxIdleConnsPerHost:   conc + 16,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 0,
		WriteBufferSize:       256 << 10,
		// Smaller than the blob copy buffers (128 KiB), so that bufio hands
		// blob reads straight to the socket instead of copying every byte
		// once more: the client must not be what a pull figure measures.
		ReadBufferSize:  32 << 10,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: o.Insecure}, //nolint:gosec // opt-in flag
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	c := &Client{
		base:    u,
		hc:      &http.Client{Transport: tr},
		user:    o.User,
		pass:    o.Password,
		timeout: o.Timeout,
	}
	if o.User != "" || o.Password != "" {
		c.authValue = "Basic " + basicToken(o.User, o.Password)
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// BaseURL returns the registry URL.
func (c *Client) BaseURL() string { return c.base.String() }

func (c *Client) url(path string) *url.URL {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	return &u
}

// HTTPError is a response with an unexpected status.
type HTTPError struct {
	Method, URL string
	Status      int
	Body        string // start of the body, usually an OCI error document
}

func (e *HTTPError) Error() string {
	b := strings.TrimSpace(e.Body)
	if b != "" {
		b = ": " + b
	}
	return fmt.Sprintf("%s %s: HTTP %d%s", e.Method, e.URL, e.Status, b)
}

// IsStatus reports whether err is an HTTPError with the given status.
func IsStatus(err error, status int) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.Status == status
}

func unexpected(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	u := resp.Request.URL.Redacted()
	return &HTTPError{Method: resp.Request.Method, URL: u, Status: resp.StatusCode, Body: string(b)}
}

// drain reads the rest of a small body so the connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// request is one call. body may be nil; size is its length (-1 unknown).
type request struct {
	method string
	u      *url.URL
	body   io.Reader
	size   int64
	header http.Header
}

// do sends r with credentials. The returned context cancel func must be called
// once the body has been consumed (it is attached to resp.Body.Close).
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	var cancel context.CancelFunc = func() {}
	if c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	body := r.body
	if body != nil {
		// Hide the concrete type so net/http does not sniff it and relies on
		// ContentLength; keep WriteTo for RandReader.
		body = io.NopCloser(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.u.String(), body)
	if err != nil {
		cancel()
		return nil, err
	}
	if r.body != nil {
		req.ContentLength = r.size
	} else if r.method == http.MethodPut || r.method == http.MethodPatch || r.method == http.MethodPost {
		req.ContentLength = 0
		req.Body = http.NoBody
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "wharf-bench/1")
	if a := c.auth(ctx); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Ping checks that base URL answers the /v2/ API check with the configured
// credentials, and switches to bearer tokens if the registry asks for them
// (scopes: pull and push on every repository in repos).
func (c *Client) Ping(ctx context.Context, repos ...string) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, u: c.url("/v2/")})
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK {
		drain(resp)
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		ch := resp.Header.Get("WWW-Authenticate")
		if scheme, params := parseChallenge(ch); strings.EqualFold(scheme, "bearer") && params["realm"] != "" {
			drain(resp)
			b := &bearerAuth{realm: params["realm"], service: params["service"]}
			for _, r := range repos {
				b.scopes = append(b.scopes, "repository:"+r+":pull,push")
			}
			c.authMu.Lock()
			c.bearer = b
			c.authMu.Unlock()
			if err := c.refreshToken(ctx); err != nil {
				return err
			}
			return c.checkPing(ctx)
		}
		if c.user == "" {
			err := unexpected(resp)
			return fmt.Errorf("registry requires credentials (--user/--password): %w", err)
		}
	}
	return unexpected(resp)
}

func (c *Client) checkPing(ctx context.Context) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, u: c.url("/v2/")})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return unexpected(resp)
	}
	drain(resp)
	return nil
}

// bearerAuth is the token flow of the distribution auth spec, for registries
// that use it. Tokens are refreshed before they expire.
type bearerAuth struct {
	realm, service string
	scopes         []string
	expires        time.Time
}

func (c *Client) auth(ctx context.Context) string {
	c.authMu.Lock()
	b, v := c.bearer, c.authValue
	c.authMu.Unlock()
	if b != nil && time.Now().After(b.expires) {
		if err := c.refreshToken(ctx); err == nil {
			c.authMu.Lock()
			v = c.authValue
			c.authMu.Unlock()
		}
	}
	return v
}

func (c *Client) refreshToken(ctx context.Context) error {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	b := c.bearer
	if b == nil || time.Now().Before(b.expires) {
		return nil
	}
	u, err := url.Parse(b.realm)
	if err != nil {
		return fmt.Errorf("invalid token realm %q", b.realm)
	}
	q := u.Query()
	if b.service != "" {
		q.Set("service", b.service)
	}
	for _, s := range b.scopes {
		q.Add("scope", s)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("token request: %w", unexpected(resp))
	}
	defer drain(resp)
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return fmt.Errorf("token response: %w", err)
	}
	t := cmpOr(tok.Token, tok.AccessToken)
	if t == "" {
		return errors.New("token response without token")
	}
	life := time.Duration(max(tok.ExpiresIn, 60)) * time.Second
	b.expires = time.Now().Add(life * 3 / 4)
	c.authValue = "Bearer " + t
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// parseChallenge parses a WWW-Authenticate value such as
// `Bearer realm="https://auth",service="reg",scope="x"`.
func parseChallenge(h string) (scheme string, params map[string]string) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	params = map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		k, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		after = strings.TrimSpace(after)
		var v string
		if strings.HasPrefix(after, `"`) {
			end := strings.IndexByte(after[1:], '"')
			if end < 0 {
				v, rest = after[1:], ""
			} else {
				v, rest = after[1:end+1], after[end+2:]
			}
		} else {
			v, rest, _ = strings.Cut(after, ",")
		}
		params[k] = v
		rest = strings.TrimLeft(strings.TrimSpace(rest), ",")
		rest = strings.TrimSpace(rest)
	}
	return scheme, params
}

func basicToken(user, pass string) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// StartUpload opens an upload session and returns its absolute location.
func (c *Client) StartUpload(ctx context.Context, repo string) (*url.URL, error) {
	u := c.url("/v2/" + repo + "/blobs/uploads/")
	resp, err := c.do(ctx, request{method: http.MethodPost, u: u})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, unexpected(resp)
	}
	drain(resp)
	return location(resp)
}

func location(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("%s %s: no Location header", resp.Request.Method, resp.Request.URL.Redacted())
	}
	return ResolveLink(resp.Request.URL, loc)
}

func withDigest(u *url.URL, digest string) *url.URL {
	v := *u
	q := v.Query()
	q.Set("digest", digest)
	v.RawQuery = q.Encode()
	return &v
}

// PushBlob uploads size bytes read from body as the blob digest. With chunk
// 0 the bytes go in the body of the closing PUT (monolithic upload);
// otherwise they are sent by PATCH requests of chunk bytes each, with
// Content-Range, and an empty PUT closes the upload.
func (c *Client) PushBlob(ctx context.Context, repo, digest string, size int64, body io.Reader, chunk int64) error {
	loc, err := c.StartUpload(ctx, repo)
	if err != nil {
		return err
	}
	octet := http.Header{"Content-Type": {"application/octet-stream"}}
	if chunk > 0 {
		for _, ch := range SplitChunks(size, chunk) {
			h := octet.Clone()
			h.Set("Content-Range", ch.ContentRange())
			resp, err := c.do(ctx, request{method: http.MethodPatch, u: loc, body: io.LimitReader(body, ch.Len()), size: ch.Len(), header: h})
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
				return unexpected(resp)
			}
			drain(resp)
			if resp.Header.Get("Location") != "" {
				if loc, err = location(resp); err != nil {
					return err
				}
			}
		}
		body, size = nil, 0
	}
	var r io.Reader
	if size > 0 {
		r = body
	}
	resp, err := c.do(ctx, request{method: http.MethodPut, u: withDigest(loc, digest), body: r, size: size, header: octet})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return unexpected(resp)
	}
	drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != digest {
		return fmt.Errorf("registry stored blob as %s, expected %s", got, digest)
	}
	return nil
}

// PushBytes uploads a small blob monolithically.
func (c *Client) PushBytes(ctx context.Context, repo string, b []byte) (string, error) {
	d := DigestBytes(b)
	return d, c.PushBlob(ctx, repo, d, int64(len(b)), bytes.NewReader(b), 0)
}

// DigestBytes returns the sha256 digest of b.
func DigestBytes(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// HeadBlob reports whether the blob exists and its size.
func (c *Client) HeadBlob(ctx context.Context, repo, digest string) (bool, int64, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, u: c.url("/v2/" + repo + "/blobs/" + digest)})
	if err != nil {
		return false, 0, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		drain(resp)
		n, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
		return true, n, nil
	case http.StatusNotFound:
		drain(resp)
		return false, 0, nil
	}
	return false, 0, unexpected(resp)
}

// GetBlob downloads a blob into nothing and returns its size. With verify
// the bytes are hashed and compared with digest; otherwise only the size is
// checked against want (if want >= 0). buf is the copy buffer (may be nil).
func (c *Client) GetBlob(ctx context.Context, repo, digest string, want int64, verify bool, buf []byte) (int64, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, u: c.url("/v2/" + repo + "/blobs/" + digest)})
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, unexpected(resp)
	}
	defer resp.Body.Close()
	if buf == nil {
		buf = make([]byte, 256<<10)
	}
	var h hash.Hash
	var dst io.Writer = onlyWriter{io.Discard}
	if verify {
		h = sha256.New()
		dst = h
	}
	n, err := io.CopyBuffer(dst, onlyReader{resp.Body}, buf)
	if err != nil {
		return n, fmt.Errorf("GET blob %s: %w", digest, err)
	}
	if want >= 0 && n != want {
		return n, fmt.Errorf("GET blob %s: got %d bytes, want %d", digest, n, want)
	}
	if verify {
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
			return n, fmt.Errorf("GET blob %s: content has digest %s", digest, got)
		}
	}
	return n, nil
}

// PutManifest stores a manifest under ref (a tag or digest) and returns the
// digest the registry reports (or computes it if the header is missing).
func (c *Client) PutManifest(ctx context.Context, repo, ref, mediaType string, body []byte) (string, error) {
	h := http.Header{"Content-Type": {mediaType}}
	resp, err := c.do(ctx, request{method: http.MethodPut, u: c.url("/v2/" + repo + "/manifests/" + ref), body: bytes.NewReader(body), size: int64(len(body)), header: h})
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", unexpected(resp)
	}
	drain(resp)
	want := DigestBytes(body)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != want {
		return got, fmt.Errorf("registry stored manifest as %s, expected %s", got, want)
	}
	return want, nil
}

// GetManifest fetches a manifest with the given Accept header and returns
// its body and content type. buf, if large enough, is reused for the body.
func (c *Client) GetManifest(ctx context.Context, repo, ref, accept string, buf *bytes.Buffer) ([]byte, string, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, u: c.url("/v2/" + repo + "/manifests/" + ref), header: http.Header{"Accept": {accept}}})
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", unexpected(resp)
	}
	defer resp.Body.Close()
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, 4<<20)); err != nil {
		return nil, "", fmt.Errorf("GET manifest %s:%s: %w", repo, ref, err)
	}
	return buf.Bytes(), resp.Header.Get("Content-Type"), nil
}

// TagPage is called with each page of a tags list. count is the number of
// tags in the page; tags is the decoded list if decoding was asked for.
type TagPage func(count int, tags []string)

// ListTags fetches GET /v2/<repo>/tags/list (with ?n=pageSize if pageSize
// > 0), following Link rel="next" pagination, at most maxPages pages. With
// decode the tag names are decoded; otherwise they are only counted, which is
// much cheaper for a load generator. It returns the total tag count.
func (c *Client) ListTags(ctx context.Context, repo string, pageSize, maxPages int, decode bool, buf *bytes.Buffer, page TagPage) (int, error) {
	u := c.url("/v2/" + repo + "/tags/list")
	if pageSize > 0 {
		u.RawQuery = "n=" + strconv.Itoa(pageSize)
	}
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	total := 0
	for p := 0; ; p++ {
		if p >= maxPages {
			return total, fmt.Errorf("tags list of %s: more than %d pages", repo, maxPages)
		}
		resp, err := c.do(ctx, request{method: http.MethodGet, u: u, header: http.Header{"Accept": {"application/json"}}})
		if err != nil {
			return total, err
		}
		if resp.StatusCode != http.StatusOK {
			return total, unexpected(resp)
		}
		buf.Reset()
		_, err = buf.ReadFrom(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return total, fmt.Errorf("tags list of %s: %w", repo, err)
		}
		var n int
		var tags []string
		if decode {
			var doc struct {
				Tags []string `json:"tags"`
			}
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				return total, fmt.Errorf("tags list of %s: %w", repo, err)
			}
			tags, n = doc.Tags, len(doc.Tags)
		} else if n, err = CountTags(buf.Bytes()); err != nil {
			return total, fmt.Errorf("tags list of %s: %w", repo, err)
		}
		total += n
		if page != nil {
			page(n, tags)
		}
		next := ParseLinkNext(resp.Header.Values("Link")...)
		if next == "" {
			return total, nil
		}
		if u, err = ResolveLink(resp.Request.URL, next); err != nil {
			return total, err
		}
	}
}

// CountTags counts the entries of the "tags" array of a tags list document
// without decoding it. Tag names cannot contain quotes or brackets (they
// match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}), so each tag is two quotes.
func CountTags(doc []byte) (int, error) {
	i := bytes.Index(doc, []byte(`"tags"`))
	if i < 0 {
		return 0, errors.New(`no "tags" member`)
	}
	rest := bytes.TrimLeft(doc[i+6:], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return 0, errors.New(`malformed "tags" member`)
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if bytes.HasPrefix(rest, []byte("null")) {
		return 0, nil
	}
	if len(rest) == 0 || rest[0] != '[' {
		return 0, errors.New(`"tags" is not an array`)
	}
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return 0, errors.New(`unterminated "tags" array`)
	}
	q := bytes.Count(rest[:end], []byte{'"'})
	if q%2 != 0 {
		return 0, errors.New(`malformed "tags" array`)
	}
	return q / 2, nil
}
