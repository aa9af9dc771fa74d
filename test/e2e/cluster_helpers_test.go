package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// This file holds the harness of the cluster tests (cluster_test.go): one
// fresh PostgreSQL database and one fresh S3 bucket per test, several real
// `wharf serve` processes sharing them, and a small registry client that
// returns errors instead of failing the test, so that it can run in
// goroutines and against nodes that die.

const (
	clusterEngineTimeout = 30 * time.Second // creating or dropping a database or bucket
	clusterReqTimeout    = 60 * time.Second // one registry request
)

// clusterEngines is what the nodes of one test share: a database, a bucket
// prefix, the token key and the admin credentials (the fixed test ones).
type clusterEngines struct {
	bin         string
	metadataURL string // postgres://... of the fresh database
	blobsURL    string // s3://bucket/wharf?endpoint=...
	s3Endpoint  string
	s3AccessKey string
	s3Secret    string
	tokenKey    []byte
	dir         string // per-test directory for data dirs and logs
}

// newClusterEngines skips the test unless WHARF_BIN, WHARF_TEST_POSTGRES_URL
// and WHARF_TEST_S3_ENDPOINT are set, then creates a fresh database and
// bucket, both removed when the test ends (after its nodes are stopped:
// nodes are started later, so their cleanups run first).
func newClusterEngines(t *testing.T) *clusterEngines {
	t.Helper()
	bin := os.Getenv("WHARF_BIN")
	if bin == "" {
		t.Skip("WHARF_BIN is not set: cluster tests need a built server. Run `bash scripts/test.sh`, " +
			"or `go build -o bin/wharf ./cmd/wharf && WHARF_BIN=$PWD/bin/wharf go test -v -run Cluster ./test/e2e/`")
	}
	pg, ep := os.Getenv("WHARF_TEST_POSTGRES_URL"), os.Getenv("WHARF_TEST_S3_ENDPOINT")
	if pg == "" || ep == "" {
		t.Skip("cluster tests need PostgreSQL and S3: WHARF_TEST_POSTGRES_URL and WHARF_TEST_S3_ENDPOINT are not both set " +
			"(scripts/test.sh sets them; locally: `export WHARF_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start)`, " +
			"`bash scripts/s3.sh start; eval \"$(bash scripts/s3.sh env)\"`)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("WHARF_BIN=%s: %v", bin, err)
	}
	c := &clusterEngines{
		bin:         bin,
		s3Endpoint:  ep,
		s3AccessKey: os.Getenv("WHARF_TEST_S3_ACCESS_KEY"),
		s3Secret:    os.Getenv("WHARF_TEST_S3_SECRET_KEY"),
		tokenKey:    make([]byte, 32),
		dir:         t.TempDir(),
	}
	if _, err := rand.Read(c.tokenKey); err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(suffix)

	// The database.
	dbName := "wharf_cluster_" + id
	admin, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatalf("PostgreSQL %s: %v", redactURL(pg), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterEngineTimeout)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+dbName); err != nil {
		admin.Close()
		t.Fatalf("CREATE DATABASE on %s: %v", redactURL(pg), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterEngineTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)"); err != nil {
			t.Logf("dropping database %s: %v", dbName, err)
		}
		admin.Close()
	})
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatalf("WHARF_TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + dbName
	c.metadataURL = u.String()

	// The bucket.
	bucket := "wharf-cluster-" + id
	cli := awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ep),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(c.s3AccessKey, c.s3Secret, ""),
	})
	if _, err := cli.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("creating bucket %s on %s: %v", bucket, ep, err)
	}
	t.Cleanup(func() { removeBucket(t, cli, bucket) })
	// versitygw's posix backend (scripts/s3.sh) keeps keys as files and
	// removes a parent directory as soon as a delete leaves it empty; a
	// concurrent PUT under that directory can then fail with 409
	// ExistingObjectIsDirectory (its MkdirAll and the removal race). Explicit
	// directory objects are never removed that way, so the shared parents of
	// the store's keys are created up front. On a real S3 they are inert
	// empty objects (the store lists uploads by common prefix).
	for _, dir := range []string{"wharf/", "wharf/uploads/", "wharf/data/", "wharf/blobs/", "wharf/blobs/sha256/", "wharf/blobs/sha512/"} {
		if _, err := cli.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(dir), Body: bytes.NewReader(nil)}); err != nil {
			t.Fatalf("bucket %s: creating %s: %v", bucket, dir, err)
		}
	}
	c.blobsURL = "s3://" + bucket + "/wharf?endpoint=" + url.QueryEscape(ep) + "&region=us-east-1&path_style=true"
	t.Logf("cluster engines: database %s, bucket %s on %s", dbName, bucket, ep)
	return c
}

// removeBucket aborts the bucket's multipart uploads (a killed node leaves
// some), deletes its objects and the bucket. Every loop is bounded.
func removeBucket(t *testing.T, cli *awss3.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterEngineTimeout)
	defer cancel()
	b := aws.String(bucket)
	for range 100 {
		out, err := cli.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: b})
		if err != nil {
			t.Logf("bucket %s: listing multipart uploads: %v", bucket, err)
			break
		}
		for _, up := range out.Uploads {
			if _, err := cli.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: b, Key: up.Key, UploadId: up.UploadId}); err != nil {
				t.Logf("bucket %s: aborting multipart upload of %s: %v", bucket, aws.ToString(up.Key), err)
			}
		}
		if !aws.ToBool(out.IsTruncated) || len(out.Uploads) == 0 {
			break
		}
	}
	// Children first: a directory object (see newClusterEngines) is a
	// prefix of its children, so reverse order deletes it after them.
	var keys []string
	p := awss3.NewListObjectsV2Paginator(cli, &awss3.ListObjectsV2Input{Bucket: b})
	for pages := 0; p.HasMorePages() && pages < 1000; pages++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Logf("bucket %s: listing: %v", bucket, err)
			break
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	slices.Reverse(keys)
	for _, k := range keys {
		if _, err := cli.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: aws.String(k)}); err != nil {
			t.Logf("bucket %s: deleting %s: %v", bucket, k, err)
		}
	}
	if _, err := cli.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Logf("deleting bucket %s: %v", bucket, err)
	}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// nodeEnv is the environment of a node or of a `wharf gc` run: the caller's
// minus every WHARF_* and AWS_* variable, plus the shared admin credentials
// and the S3 credentials. The AWS config files point nowhere so that the
// machine's ~/.aws is not read.
func (c *clusterEngines) nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "WHARF_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"WHARF_ACCOUNT_ID="+testAccountID,
		"WHARF_ADMIN_ACCESS_KEY_ID="+testAccessKeyID,
		"WHARF_ADMIN_SECRET_ACCESS_KEY="+testSecret,
		"AWS_ACCESS_KEY_ID="+c.s3AccessKey,
		"AWS_SECRET_ACCESS_KEY="+c.s3Secret,
		"AWS_CONFIG_FILE="+filepath.Join(c.dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(c.dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	)
}

// startNodes starts len(names) nodes at once (they migrate the fresh
// database concurrently, as a rolling deployment would) and waits until all
// are ready. args gives each node's extra flags (nil for none).
func (c *clusterEngines) startNodes(t *testing.T, names []string, args func(i int) []string) []*wharfServer {
	t.Helper()
	nodes := make([]*wharfServer, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		var extra []string
		if args != nil {
			extra = args(i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = c.startNode(t, name, extra...)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}
	return nodes
}

// startNode starts one node on the shared engines, retrying when it loses
// the race for its port. It never fails the test itself (it may run in a
// goroutine); the node is stopped when the test ends.
func (c *clusterEngines) startNode(t *testing.T, name string, extraArgs ...string) (*wharfServer, error) {
	dataDir := filepath.Join(c.dir, name+"-data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	// Every node must share the token key: a token issued by one node is
	// accepted by all.
	if err := os.WriteFile(filepath.Join(dataDir, "token-key"), c.tokenKey, 0o600); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		s, err := c.launchNode(t, name, dataDir, attempt, extraArgs)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("%s: %w", name, lastErr)
}

func (c *clusterEngines) launchNode(t *testing.T, name, dataDir string, attempt int, extraArgs []string) (*wharfServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &wharfServer{
		Addr:    fmt.Sprintf("127.0.0.1:%d", port),
		User:    testAccessKeyID,
		Pass:    testSecret,
		DataDir: dataDir,
		LogPath: filepath.Join(c.dir, fmt.Sprintf("%s-%d.log", name, attempt)),
		exited:  make(chan struct{}),
	}
	s.URL = "http://" + s.Addr
	logFile, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--listen", s.Addr, "--data", dataDir,
		"--metadata", c.metadataURL, "--blobs", c.blobsURL}, extraArgs...)
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.nodeEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", c.bin, err)
	}
	s.cmd = cmd
	go func() {
		s.exitError = cmd.Wait()
		_ = logFile.Close()
		close(s.exited)
	}()
	t.Logf("%s: pid %d starting on %s (log %s)", name, cmd.Process.Pid, s.Addr, s.LogPath)
	if err := s.waitReady(); err != nil {
		s.stop(t)
		log := s.logTail()
		if strings.Contains(log, "address already in use") {
			return nil, fmt.Errorf("%w (address already in use)", err)
		}
		return nil, fmt.Errorf("%w\n--- %s log ---\n%s", err, name, log)
	}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("--- %s log (%s) ---\n%s", name, s.LogPath, s.logTail())
		}
		saveArtifact(t, s.LogPath, filepath.Base(s.LogPath))
	})
	return s, nil
}

// kill sends SIGKILL to the node's PID and waits for it to exit.
func (s *wharfServer) kill(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("SIGKILL pid %d: %v", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("pid %d still running %s after SIGKILL", s.cmd.Process.Pid, stopTimeout)
	}
}

// runGC runs `wharf gc` once as a separate process against the engines and
// returns how many blobs it deleted.
func (c *clusterEngines) runGC(ctx context.Context, grace string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, "gc", "--json", "--data", filepath.Join(c.dir, "gc-data"),
		"--metadata", c.metadataURL, "--blobs", c.blobsURL, "--gc-grace", grace)
	cmd.Env = c.nodeEnv()
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, errb.String(), fmt.Errorf("wharf gc: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	var rep struct {
		BlobsDeleted int `json:"blobsDeleted"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return 0, out.String(), fmt.Errorf("wharf gc --json: %v: %q", err, out.String())
	}
	return rep.BlobsDeleted, out.String(), nil
}

var gcDoneRe = regexp.MustCompile(`msg="garbage collection done".*\bblobs_deleted=(\d+)`)

// gcLogStats counts the collector runs a node logged and the blobs they
// deleted, and returns the lines of failed runs.
func gcLogStats(s *wharfServer) (runs, deleted int, failures []string) {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return 0, 0, []string{err.Error()}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m := gcDoneRe.FindStringSubmatch(line); m != nil {
			runs++
			n, _ := strconv.Atoi(m[1])
			deleted += n
		} else if strings.Contains(line, `msg="garbage collection failed"`) {
			failures = append(failures, line)
		}
	}
	return runs, deleted, failures
}

// regClient is a registry client for the cluster tests. Its methods return
// errors rather than failing the test.
type regClient struct {
	hc *http.Client
}

func newRegClient(t *testing.T) *regClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	t.Cleanup(tr.CloseIdleConnections)
	return &regClient{hc: &http.Client{Transport: tr, Timeout: clusterReqTimeout}}
}

// regError is an unexpected answer, with the spec's error codes.
type regError struct {
	Method, Path string
	Status       int
	Codes        []string
	Body         string
}

func (e *regError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), tail(e.Body, 512))
}

// hasCode reports whether err is a registry answer carrying code.
func hasCode(err error, code string) bool {
	var re *regError
	return errors.As(err, &re) && slices.Contains(re.Codes, code)
}

// do sends one request to s (path may be a Location from any node: only its
// path and query are kept) and returns the response and body when the status
// is one of want, else a *regError.
func (c *regClient) do(ctx context.Context, s *wharfServer, method, path string, body []byte, hdr http.Header, want ...int) (*http.Response, []byte, error) {
	if u, err := url.Parse(path); err == nil && u.IsAbs() {
		path = u.RequestURI()
	}
	ctx, cancel := context.WithTimeout(ctx, clusterReqTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.SetBasicAuth(s.User, s.Pass)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, b, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	if !slices.Contains(want, resp.StatusCode) {
		re := &regError{Method: method, Path: path, Status: resp.StatusCode, Body: string(b)}
		var eb struct {
			Errors []struct {
				Code string `json:"code"`
			} `json:"errors"`
		}
		if json.Unmarshal(b, &eb) == nil {
			for _, e := range eb.Errors {
				re.Codes = append(re.Codes, e.Code)
			}
		}
		return resp, b, re
	}
	return resp, b, nil
}

func octetStream(contentRange string) http.Header {
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if contentRange != "" {
		h.Set("Content-Range", contentRange)
	}
	return h
}

// withQuery appends a query parameter to a Location.
func withQuery(loc, kv string) string {
	if strings.Contains(loc, "?") {
		return loc + "&" + kv
	}
	return loc + "?" + kv
}

// blobExists answers a HEAD on the blob in repo.
func (c *regClient) blobExists(ctx context.Context, s *wharfServer, repo, dgst string) (bool, error) {
	resp, _, err := c.do(ctx, s, http.MethodHead, "/v2/"+repo+"/blobs/"+dgst, nil, nil, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK, nil
}

// pushBlob uploads data in one POST (monolithic upload).
func (c *regClient) pushBlob(ctx context.Context, s *wharfServer, repo string, data []byte) error {
	resp, _, err := c.do(ctx, s, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+sha256Digest(data), data,
		octetStream(""), http.StatusCreated)
	if err != nil {
		return err
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != sha256Digest(data) {
		return fmt.Errorf("monolithic upload to %s: Docker-Content-Digest %q, want %s", repo, got, sha256Digest(data))
	}
	return nil
}

// pushBlobChunked uploads data in PATCH chunks of chunk bytes, then closes
// the upload with an empty PUT.
func (c *regClient) pushBlobChunked(ctx context.Context, s *wharfServer, repo string, data []byte, chunk int) error {
	resp, _, err := c.do(ctx, s, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil, http.StatusAccepted)
	if err != nil {
		return err
	}
	loc := resp.Header.Get("Location")
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		resp, _, err = c.do(ctx, s, http.MethodPatch, loc, data[off:end], octetStream(fmt.Sprintf("%d-%d", off, end-1)), http.StatusAccepted)
		if err != nil {
			return err
		}
		if got, want := resp.Header.Get("Range"), fmt.Sprintf("0-%d", end-1); got != want {
			return fmt.Errorf("PATCH %s: Range %q, want %q", loc, got, want)
		}
		loc = resp.Header.Get("Location")
	}
	resp, _, err = c.do(ctx, s, http.MethodPut, withQuery(loc, "digest="+sha256Digest(data)), nil, nil, http.StatusCreated)
	if err != nil {
		return err
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != sha256Digest(data) {
		return fmt.Errorf("chunked upload to %s: Docker-Content-Digest %q, want %s", repo, got, sha256Digest(data))
	}
	return nil
}

// clusterImage is an OCI image: its manifest and its blobs (config first).
type clusterImage struct {
	repo, tag string
	manifest  []byte
	blobs     [][]byte
}

func (img clusterImage) digest() string { return sha256Digest(img.manifest) }

func (img clusterImage) String() string {
	return fmt.Sprintf("%s:%s@%s", img.repo, img.tag, img.digest()[:19])
}

// newClusterImage builds an OCI image manifest for a config and layers.
func newClusterImage(repo, tag string, config []byte, layers ...[]byte) clusterImage {
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{
		SchemaVersion: 2,
		MediaType:     "application/vnd.oci.image.manifest.v1+json",
		Config:        desc{"application/vnd.oci.image.config.v1+json", sha256Digest(config), len(config)},
		Layers:        []desc{},
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar", sha256Digest(l), len(l)})
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return clusterImage{repo: repo, tag: tag, manifest: b, blobs: append([][]byte{config}, layers...)}
}

func imageConfig(label string) []byte {
	return fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"wharf.test":%q}}}`, label)
}

func randomBytes(rng *mrand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	_, _ = rng.Read(b)
	return b
}

func newRNG(t *testing.T, label string) *mrand.ChaCha8 {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: random seed %x", label, seed)
	return mrand.NewChaCha8(seed)
}

// pushOptions tune pushImage.
type pushOptions struct {
	chunk        int  // blobs larger than this go up in PATCH chunks of this size (0: always monolithic)
	skipExisting bool // HEAD every blob first and skip those present, as docker does
}

// pushImage pushes the image's blobs, then its manifest by tag.
func (c *regClient) pushImage(ctx context.Context, s *wharfServer, img clusterImage, o pushOptions) error {
	for _, b := range img.blobs {
		if o.skipExisting {
			ok, err := c.blobExists(ctx, s, img.repo, sha256Digest(b))
			if err != nil {
				return err
			}
			if ok {
				continue
			}
		}
		var err error
		if o.chunk > 0 && len(b) > o.chunk {
			err = c.pushBlobChunked(ctx, s, img.repo, b, o.chunk)
		} else {
			err = c.pushBlob(ctx, s, img.repo, b)
		}
		if err != nil {
			return err
		}
	}
	return c.putManifest(ctx, s, img.repo, img.tag, img.manifest)
}

func (c *regClient) putManifest(ctx context.Context, s *wharfServer, repo, ref string, m []byte) error {
	resp, _, err := c.do(ctx, s, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, m,
		http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}, http.StatusCreated)
	if err != nil {
		return err
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != sha256Digest(m) {
		return fmt.Errorf("PUT manifest %s:%s: Docker-Content-Digest %q, want %s", repo, ref, got, sha256Digest(m))
	}
	return nil
}

// manifestDigest answers a GET of repo's manifest by ref and returns the
// digest of the body ("" and no error on 404).
func (c *regClient) manifestDigest(ctx context.Context, s *wharfServer, repo, ref string) (string, error) {
	resp, body, err := c.do(ctx, s, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, nil, manifestAccept, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusNotFound {
		return "", nil
	}
	d := sha256Digest(body)
	if h := resp.Header.Get("Docker-Content-Digest"); h != d {
		return "", fmt.Errorf("GET manifest %s:%s: Docker-Content-Digest %s but the body hashes to %s", repo, ref, h, d)
	}
	return d, nil
}

// verifyImage checks through s that the image is whole: its manifest,
// by tag (when tagged is set) and by digest, is byte-exact, and every blob
// it names is served byte-exact (its digest re-verified) with the right
// HEAD size.
func (c *regClient) verifyImage(ctx context.Context, s *wharfServer, img clusterImage, tagged bool) error {
	return errors.Join(c.verifyImages(ctx, s, []clusterImage{img}, tagged)...)
}

// verifyImages is verifyImage for many images, fetching each blob of a
// repository once.
func (c *regClient) verifyImages(ctx context.Context, s *wharfServer, imgs []clusterImage, tagged bool) []error {
	var errs []error
	verified := map[string]bool{} // repo@digest
	for _, img := range imgs {
		refs := []string{img.digest()}
		if tagged {
			refs = append(refs, img.tag)
		}
		for _, ref := range refs {
			resp, body, err := c.do(ctx, s, http.MethodGet, "/v2/"+img.repo+"/manifests/"+ref, nil, manifestAccept, http.StatusOK)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: manifest by %s: %w", img, ref, err))
			case !bytes.Equal(body, img.manifest):
				errs = append(errs, fmt.Errorf("%s: manifest by %s differs: %d bytes hashing to %s", img, ref, len(body), sha256Digest(body)))
			case resp.Header.Get("Docker-Content-Digest") != img.digest():
				errs = append(errs, fmt.Errorf("%s: manifest by %s: Docker-Content-Digest %q", img, ref, resp.Header.Get("Docker-Content-Digest")))
			}
		}
		for _, b := range img.blobs {
			d := sha256Digest(b)
			if verified[img.repo+"@"+d] {
				continue
			}
			verified[img.repo+"@"+d] = true
			resp, _, err := c.do(ctx, s, http.MethodHead, "/v2/"+img.repo+"/blobs/"+d, nil, nil, http.StatusOK)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: blob %s: %w", img, d, err))
				continue
			}
			if resp.ContentLength != int64(len(b)) {
				errs = append(errs, fmt.Errorf("%s: HEAD blob %s: Content-Length %d, want %d", img, d, resp.ContentLength, len(b)))
			}
			_, body, err := c.do(ctx, s, http.MethodGet, "/v2/"+img.repo+"/blobs/"+d, nil, nil, http.StatusOK)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: blob %s: %w", img, d, err))
			case sha256Digest(body) != d || !bytes.Equal(body, b):
				errs = append(errs, fmt.Errorf("%s: blob %s corrupt: %d bytes hashing to %s (want %d bytes)", img, d, len(body), sha256Digest(body), len(b)))
			}
		}
	}
	return errs
}

// verifyListedTags checks through s that every tag repo lists resolves to a
// manifest whose config and layers are all served and hash to their digests:
// whatever the registry claims to have is whole. It returns the number of
// tags checked.
func (c *regClient) verifyListedTags(ctx context.Context, s *wharfServer, repo string) (int, error) {
	resp, body, err := c.do(ctx, s, http.MethodGet, "/v2/"+repo+"/tags/list?n=10000", nil, nil, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return 0, nil
	}
	var tl struct{ Tags []string }
	if err := json.Unmarshal(body, &tl); err != nil {
		return 0, fmt.Errorf("%s tags/list: %v", repo, err)
	}
	var errs []error
	verified := map[string]bool{}
	for _, tag := range tl.Tags {
		_, mb, err := c.do(ctx, s, http.MethodGet, "/v2/"+repo+"/manifests/"+tag, nil, manifestAccept, http.StatusOK)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%s listed but not served: %w", repo, tag, err))
			continue
		}
		var m struct {
			Config struct{ Digest string }
			Layers []struct{ Digest string }
		}
		if err := json.Unmarshal(mb, &m); err != nil {
			errs = append(errs, fmt.Errorf("%s:%s: manifest does not parse: %v", repo, tag, err))
			continue
		}
		ds := []string{m.Config.Digest}
		for _, l := range m.Layers {
			ds = append(ds, l.Digest)
		}
		for _, d := range ds {
			if verified[d] {
				continue
			}
			verified[d] = true
			_, b, err := c.do(ctx, s, http.MethodGet, "/v2/"+repo+"/blobs/"+d, nil, nil, http.StatusOK)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%s: blob %s: %w", repo, tag, d, err))
			} else if sha256Digest(b) != d {
				errs = append(errs, fmt.Errorf("%s:%s: blob %s corrupt (hashes to %s)", repo, tag, d, sha256Digest(b)))
			}
		}
	}
	return len(tl.Tags), errors.Join(errs...)
}

// firstErrors joins at most n errors for a readable failure message.
func firstErrors(errs []error, n int) error {
	if len(errs) <= n {
		return errors.Join(errs...)
	}
	return fmt.Errorf("%w\n...and %d more", errors.Join(errs[:n]...), len(errs)-n)
}
