package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/blob/blobtest"
)

// The tests below need a real S3 server:
//
//	bash scripts/s3.sh start && eval "$(bash scripts/s3.sh env)"
//
// sets WHARF_TEST_S3_ENDPOINT, WHARF_TEST_S3_ACCESS_KEY and
// WHARF_TEST_S3_SECRET_KEY (versitygw on 127.0.0.1). Each test makes a bucket
// of its own through the API and removes it afterwards.

var ctx = context.Background()

const mib = 1 << 20

type server struct {
	endpoint, access, secret string
	client                   *s3.Client
}

var bucketSeq atomic.Int64

func testServer(t testing.TB) *server {
	t.Helper()
	ep := os.Getenv("WHARF_TEST_S3_ENDPOINT")
	if ep == "" {
		t.Skip("WHARF_TEST_S3_ENDPOINT is not set: no S3 server to test against " +
			`(bash scripts/s3.sh start && eval "$(bash scripts/s3.sh env)")`)
	}
	srv := &server{endpoint: ep, access: os.Getenv("WHARF_TEST_S3_ACCESS_KEY"), secret: os.Getenv("WHARF_TEST_S3_SECRET_KEY")}
	srv.client = s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(ep),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(srv.access, srv.secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return srv
}

// newBucket creates an empty bucket, removed with everything in it when the
// test ends.
func (srv *server) newBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("wharf-test-%x-%d-%s", time.Now().UnixNano(), bucketSeq.Add(1), randHex()[:6])
	if _, err := srv.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	t.Cleanup(func() { srv.removeBucket(t, name) })
	return name
}

func (srv *server) removeBucket(t testing.TB, bucket string) {
	mp := s3.NewListMultipartUploadsPaginator(srv.client, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	for mp.HasMorePages() {
		page, err := mp.NextPage(ctx)
		if err != nil {
			t.Errorf("cleanup: list multipart uploads: %v", err)
			break
		}
		for _, u := range page.Uploads {
			srv.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	for _, k := range srv.keys(t, bucket) {
		srv.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &k})
	}
	if _, err := srv.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		t.Errorf("cleanup: DeleteBucket %s: %v", bucket, err)
	}
}

// keys lists every object of the bucket.
func (srv *server) keys(t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(srv.client, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func (srv *server) multipartUploads(t testing.TB, bucket string) []string {
	t.Helper()
	out, err := srv.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

func (srv *server) config(bucket string) Config {
	return Config{
		Endpoint: srv.endpoint, Region: "us-east-1", Bucket: bucket, Prefix: "registry/",
		PathStyle: true, AccessKey: srv.access, SecretKey: srv.secret,
	}
}

func (srv *server) open(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// newStore returns a store with 5 MiB parts on a new bucket.
func newStore(t testing.TB) (*Store, *server, Config) {
	srv := testServer(t)
	cfg := srv.config(srv.newBucket(t))
	cfg.PartSize = MinPartSize
	return srv.open(t, cfg), srv, cfg
}

func TestContract(t *testing.T) {
	srv := testServer(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		cfg := srv.config(srv.newBucket(t))
		cfg.PartSize = MinPartSize // so that Large64MiB has a dozen parts
		return srv.open(t, cfg)
	})
}

// TestContractDefaults runs the suite with the default part size, no prefix
// and one part in flight.
func TestContractDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	srv := testServer(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		cfg := srv.config(srv.newBucket(t))
		cfg.Prefix = ""
		cfg.Concurrency = 1
		return srv.open(t, cfg)
	})
}

// TestVirtualHosted runs the suite with virtual-hosted addressing (the
// bucket in the host name), dialing the test server whatever the host.
func TestVirtualHosted(t *testing.T) {
	srv := testServer(t)
	domain := os.Getenv("WHARF_TEST_S3_VIRTUAL_DOMAIN")
	if domain == "" {
		t.Skip("WHARF_TEST_S3_VIRTUAL_DOMAIN is not set: the server's domain for virtual-hosted buckets (scripts/s3.sh sets it)")
	}
	ep, err := url.Parse(srv.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, ep.Host)
	}
	var mu sync.Mutex
	hosts := map[string]bool{}
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		hosts[r.URL.Host] = true
		mu.Unlock()
		return tr.RoundTrip(r)
	})}
	blobtest.Run(t, func(t *testing.T) blob.Store {
		cfg := srv.config(srv.newBucket(t))
		cfg.PartSize = MinPartSize
		cfg.PathStyle = false
		cfg.Endpoint = ep.Scheme + "://" + domain + ":" + ep.Port()
		cfg.HTTPClient = client
		return srv.open(t, cfg)
	})
	if len(hosts) == 0 {
		t.Fatal("no request went through the client")
	}
	for h := range hosts {
		if !strings.HasPrefix(h, "wharf-test-") || !strings.HasSuffix(h, "."+domain+":"+ep.Port()) {
			t.Errorf("request to host %q, want <bucket>.%s", h, domain)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func gen(seed uint64, n int) []byte {
	b, err := io.ReadAll(blobtest.Generate(seed, int64(n)))
	if err != nil {
		panic(err)
	}
	return b
}

func appendAt(t testing.TB, s *Store, id string, off int64, data []byte) {
	t.Helper()
	n, err := s.Append(ctx, id, off, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Append(%q, %d, %d bytes) = %d, %v", id, off, len(data), n, err)
	}
}

func commit(t testing.TB, s *Store, id, alg string, data []byte) string {
	t.Helper()
	d := blobtest.Digest(alg, data)
	if err := s.Commit(ctx, id, d); err != nil {
		t.Fatalf("Commit(%q, %s): %v", id, d, err)
	}
	return d
}

func readAll(t testing.TB, rc io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func checkBlob(t testing.TB, s *Store, d string, want []byte) {
	t.Helper()
	rd, size, err := s.Open(ctx, d)
	got := readAll(t, rd, err)
	if size != int64(len(want)) || !bytes.Equal(got, want) {
		t.Fatalf("blob %s: size %d, %d bytes read (equal: %v), want %d", d, size, len(got), bytes.Equal(got, want), len(want))
	}
	if n, err := s.Stat(ctx, d); err != nil || n != int64(len(want)) {
		t.Fatalf("Stat(%s) = %d, %v; want %d", d, n, err, len(want))
	}
}

func checkUpload(t testing.TB, s *Store, id string, want []byte) {
	t.Helper()
	rc, err := s.ReadUpload(ctx, id)
	if got := readAll(t, rc, err); !bytes.Equal(got, want) {
		t.Fatalf("upload %s: %d bytes (equal: %v), want %d", id, len(got), bytes.Equal(got, want), len(want))
	}
}

func loadState(t testing.TB, s *Store, id string) *state {
	t.Helper()
	st, err := s.loadState(ctx, id)
	if err != nil {
		t.Fatalf("load state of %s: %v", id, err)
	}
	return st
}

// TestTwoNodes appends to one upload through two Stores, as two registry
// nodes behind a load balancer do, each one continuing what the other
// stored, and commits and reads through either.
func TestTwoNodes(t *testing.T) {
	a, srv, cfg := newStore(t)
	b := srv.open(t, cfg)
	data := gen(1, 23*mib+12345)
	cuts := []int{0, 3 * mib, 7*mib + 1, 7*mib + 2, 16 * mib, len(data)}
	for i := 0; i+1 < len(cuts); i++ {
		node := []*Store{a, b}[i%2]
		appendAt(t, node, "shared", int64(cuts[i]), data[cuts[i]:cuts[i+1]])
	}
	st := loadState(t, a, "shared")
	if len(st.Parts) != 4 || st.tailSize() != int64(len(data)-4*MinPartSize) {
		t.Fatalf("state: %d parts, %d tail bytes; want 4 parts and %d", len(st.Parts), st.tailSize(), len(data)-4*MinPartSize)
	}
	if ids, err := b.ListUploads(ctx); err != nil || !slices.Equal(ids, []string{"shared"}) {
		t.Fatalf("ListUploads on the other node = %q, %v", ids, err)
	}
	d := commit(t, b, "shared", "sha256", data)
	checkBlob(t, a, d, data)
	checkUpload(t, a, "shared", data)
	if err := a.Abort(ctx, "shared"); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if ids, err := b.ListUploads(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("ListUploads after Abort on the other node = %q, %v", ids, err)
	}
	checkBlob(t, b, d, data)
}

// TestMixedPartSizes continues on a node with 5 MiB parts an upload whose
// tail a node with 16 MiB parts wrote (a rolling configuration change).
func TestMixedPartSizes(t *testing.T) {
	small, srv, cfg := newStore(t)
	cfg.PartSize = 16 * mib
	big := srv.open(t, cfg)
	data := gen(11, 40*mib+3)
	appendAt(t, big, "u", 0, data[:16*mib+11*mib]) // one part, an 11 MiB tail
	appendAt(t, small, "u", 27*mib, data[27*mib:30*mib])
	appendAt(t, big, "u", 30*mib, data[30*mib:35*mib])
	appendAt(t, small, "u", 35*mib, data[35*mib:])
	checkUpload(t, small, "u", data)
	checkBlob(t, big, commit(t, small, "u", "sha256", data), data)

	appendAt(t, big, "v", 0, data[:9*mib])
	checkBlob(t, small, commit(t, small, "v", "sha256", data[:9*mib]), data[:9*mib])
}

// TestMultipartLayout checks what lands in the bucket: parts in a multipart
// upload while appending, the data object completed in place and an empty
// pointer at the blob key after Commit, nothing left once the upload is
// aborted and the blob deleted.
func TestMultipartLayout(t *testing.T) {
	s, srv, cfg := newStore(t)
	data := gen(2, 3*MinPartSize+777_777)
	// Odd-sized appends: parts are cut from the stream, not from the calls.
	for off := 0; off < len(data); {
		end := min(off+2*mib+333, len(data))
		appendAt(t, s, "u", int64(off), data[off:end])
		off = end
	}
	st := loadState(t, s, "u")
	if len(st.Parts) != 3 || st.MPU == "" || st.tailSize() != 777_777 {
		t.Fatalf("state: %d parts, mpu %q, tail %d bytes", len(st.Parts), st.MPU, st.tailSize())
	}
	for _, p := range st.Parts {
		if p.Size != MinPartSize {
			t.Fatalf("part %d has %d bytes", p.N, p.Size)
		}
	}
	if mpus := srv.multipartUploads(t, cfg.Bucket); len(mpus) != 1 || mpus[0] != s.dataKey(st.Data) {
		t.Fatalf("multipart uploads = %q, want the upload's data object", mpus)
	}
	checkUpload(t, s, "u", data) // completes the multipart upload

	d := commit(t, s, "u", "sha256", data)
	alg, hx, _ := blob.CheckDigest(d)
	head, err := srv.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: aws.String(s.blobKey(alg, hx))})
	if err != nil {
		t.Fatalf("HEAD blob key: %v", err)
	}
	if aws.ToInt64(head.ContentLength) != 0 || head.Metadata[metaData] != st.Data {
		t.Fatalf("blob key: %d bytes, metadata %v; want an empty pointer to %s", aws.ToInt64(head.ContentLength), head.Metadata, st.Data)
	}
	data0, err := srv.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: aws.String(s.dataKey(st.Data))})
	if err != nil || aws.ToInt64(data0.ContentLength) != int64(len(data)) {
		t.Fatalf("data object: %v, %d bytes", err, aws.ToInt64(data0.ContentLength))
	}
	checkBlob(t, s, d, data)
	walked := map[string]int64{}
	if err := s.Walk(ctx, func(d string, n int64) error { walked[d] = n; return nil }); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if len(walked) != 1 || walked[d] != int64(len(data)) {
		t.Fatalf("Walk = %v", walked)
	}
	if mpus := srv.multipartUploads(t, cfg.Bucket); len(mpus) != 0 {
		t.Fatalf("multipart uploads after Commit: %q", mpus)
	}

	// The upload's data stays after Abort while the blob names it.
	if err := s.Abort(ctx, "u"); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	checkBlob(t, s, d, data)
	if err := s.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if keys := srv.keys(t, cfg.Bucket); len(keys) != 0 {
		t.Fatalf("objects left after Abort and Delete: %q", keys)
	}
}

// TestSharedDataObject commits one multipart upload under two digests (two
// pointers to one data object) and checks that the data object lives exactly
// as long as something names it, whatever the order of Delete and Abort.
func TestSharedDataObject(t *testing.T) {
	s, srv, cfg := newStore(t)
	data := gen(3, MinPartSize+100)
	for _, order := range [][]string{{"d1", "d2", "abort"}, {"abort", "d1", "d2"}, {"d2", "abort", "d1"}} {
		appendAt(t, s, "u", 0, data)
		d1 := commit(t, s, "u", "sha256", data)
		d2 := commit(t, s, "u", "sha512", data)
		for i, step := range order {
			var err error
			switch step {
			case "d1":
				err = s.Delete(ctx, d1)
			case "d2":
				err = s.Delete(ctx, d2)
			case "abort":
				err = s.Abort(ctx, "u")
			}
			if err != nil {
				t.Fatalf("%v: %s: %v", order, step, err)
			}
			if i == len(order)-1 {
				break
			}
			// What is left still reads.
			if !slices.Contains(order[:i+1], "d1") {
				checkBlob(t, s, d1, data)
			}
			if !slices.Contains(order[:i+1], "d2") {
				checkBlob(t, s, d2, data)
			}
			if !slices.Contains(order[:i+1], "abort") {
				checkUpload(t, s, "u", data)
				// The caller that lost a race with GC commits again.
				if slices.Contains(order[:i+1], "d1") {
					commit(t, s, "u", "sha256", data)
					checkBlob(t, s, d1, data)
					if err := s.Delete(ctx, d1); err != nil {
						t.Fatalf("Delete: %v", err)
					}
				}
			}
		}
		if keys := srv.keys(t, cfg.Bucket); len(keys) != 0 {
			t.Fatalf("%v: objects left: %q", order, keys)
		}
	}
}

// TestSmallCommitNoCopy checks that a small upload of one segment commits
// as a pointer to that segment, which Abort, Delete and a truncating Append
// then keep exactly as long as something names it.
func TestSmallCommitNoCopy(t *testing.T) {
	s, srv, cfg := newStore(t)
	data := []byte("a small blob")
	empty := func(what string) {
		t.Helper()
		if keys := srv.keys(t, cfg.Bucket); len(keys) != 0 {
			t.Fatalf("%s: objects left: %q", what, keys)
		}
	}

	// Commit, Abort, Delete.
	appendAt(t, s, "u", 0, data)
	d := commit(t, s, "u", "sha256", data)
	alg, hx, _ := blob.CheckDigest(d)
	o, err := s.headBlob(ctx, alg, hx)
	if err != nil || o.dataDir == "" {
		t.Fatalf("blob %s: %+v, %v; want a pointer", d, o, err)
	}
	if st := loadState(t, s, "u"); len(st.Tail) != 1 || !st.names("u", o.dataDir) {
		t.Fatalf("pointer names %s, state %+v", o.dataDir, st)
	}
	if err := s.Abort(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	checkBlob(t, s, d, data)
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	empty("commit, abort, delete")

	// Commit, Delete, Abort.
	appendAt(t, s, "u", 0, data)
	commit(t, s, "u", "sha256", data)
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	checkUpload(t, s, "u", data)
	if err := s.Abort(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	empty("commit, delete, abort")

	// Commit, then cut and extend the upload: the committed segment stays.
	appendAt(t, s, "u", 0, data)
	commit(t, s, "u", "sha256", data)
	appendAt(t, s, "u", 3, []byte("XY"))
	checkUpload(t, s, "u", []byte("a sXY"))
	checkBlob(t, s, d, data)
	big := gen(9, MinPartSize+10) // the tail goes into a part
	appendAt(t, s, "u", 5, big)
	checkBlob(t, s, d, data)
	if err := s.Abort(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	checkBlob(t, s, d, data)
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	empty("commit, truncate, abort, delete")

	// Several segments are merged into a plain object.
	appendAt(t, s, "u", 0, data[:4])
	appendAt(t, s, "u", 4, data[4:])
	commit(t, s, "u", "sha256", data)
	if o, err := s.headBlob(ctx, alg, hx); err != nil || o.dataDir != "" {
		t.Fatalf("blob of two segments: %+v, %v", o, err)
	}
	checkBlob(t, s, d, data)
}

// barrierReader returns its bytes once every reader of its group has been
// read from, so that the Appends reading them all hold the state they loaded
// before any of them saves.
type barrierReader struct {
	r    io.Reader
	once sync.Once
	wg   *sync.WaitGroup
}

func (b *barrierReader) Read(p []byte) (int, error) {
	b.once.Do(func() { b.wg.Done(); b.wg.Wait() })
	return b.r.Read(p)
}

// TestConcurrentAppend appends at the same offset of one upload through two
// Stores at once: the state is written conditionally, so exactly one Append
// succeeds and the other reports the conflict.
func TestConcurrentAppend(t *testing.T) {
	a, srv, cfg := newStore(t)
	b := srv.open(t, cfg)
	for _, start := range [][]byte{nil, []byte("head")} {
		id := fmt.Sprint("u", len(start))
		if start != nil {
			appendAt(t, a, id, 0, start)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		errs := make([]error, 2)
		datas := [][]byte{[]byte("from a"), gen(4, MinPartSize+7)}
		var done sync.WaitGroup
		for i, s := range []*Store{a, b} {
			done.Add(1)
			go func() {
				defer done.Done()
				_, errs[i] = s.Append(ctx, id, int64(len(start)), &barrierReader{r: bytes.NewReader(datas[i]), wg: &wg})
			}()
		}
		done.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if won >= 0 {
					t.Fatalf("start %q: both Appends succeeded", start)
				}
				won = i
			case !errors.Is(err, ErrConflict):
				t.Fatalf("start %q: Append %d: %v, want a conflict", start, i, err)
			}
		}
		if won < 0 {
			t.Fatalf("start %q: no Append succeeded: %v", start, errs)
		}
		want := append(slices.Clone(start), datas[won]...)
		checkUpload(t, a, id, want)
		d := commit(t, b, id, "sha256", want)
		checkBlob(t, a, d, want)
		if err := a.Abort(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := a.Delete(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if mpus := srv.multipartUploads(t, cfg.Bucket); len(mpus) != 0 {
		t.Fatalf("multipart uploads left: %q", mpus)
	}
	if keys := srv.keys(t, cfg.Bucket); len(keys) != 0 {
		t.Fatalf("objects left: %q", keys)
	}
}

// TestTruncate resumes uploads at offsets below their size: in the tail, at
// a part boundary, inside a part (the multipart upload is completed and its
// kept bytes copied server-side) and after a commit.
func TestTruncate(t *testing.T) {
	s, srv, cfg := newStore(t)
	data := gen(4, 4*MinPartSize+2*mib)
	other := gen(5, 3*MinPartSize)
	for _, off := range []int{
		4*MinPartSize + mib,    // in the tail
		4 * MinPartSize,        // at a boundary, dropping the tail
		2 * MinPartSize,        // at a boundary, dropping parts
		2*MinPartSize + 12_345, // inside a part
		123,                    // inside the first part
		0,                      // restart
	} {
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			id := fmt.Sprint("t", off)
			appendAt(t, s, id, 0, data)
			appendAt(t, s, id, int64(off), other)
			want := append(slices.Clone(data[:off]), other...)
			checkUpload(t, s, id, want)
			d := commit(t, s, id, "sha256", want)
			checkBlob(t, s, d, want)
			// Appending after the commit never changes the blob.
			appendAt(t, s, id, int64(len(want)), []byte("more"))
			appendAt(t, s, id, 7, []byte("cut"))
			checkBlob(t, s, d, want)
			checkUpload(t, s, id, append(slices.Clone(want[:7]), "cut"...))
			if err := s.Abort(ctx, id); err != nil {
				t.Fatalf("Abort: %v", err)
			}
			if err := s.Delete(ctx, d); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if keys := srv.keys(t, cfg.Bucket); len(keys) != 0 {
				t.Fatalf("objects left: %q", keys)
			}
			if mpus := srv.multipartUploads(t, cfg.Bucket); len(mpus) != 0 {
				t.Fatalf("multipart uploads left: %q", mpus)
			}
		})
	}
}

// TestReadUploadThenAppend reads a multipart upload (which completes it),
// then extends it: the completed bytes are copied server-side into a new
// multipart upload.
func TestReadUploadThenAppend(t *testing.T) {
	s, _, _ := newStore(t)
	data := gen(6, 2*MinPartSize+3*mib+1)
	appendAt(t, s, "u", 0, data[:MinPartSize+1])
	checkUpload(t, s, "u", data[:MinPartSize+1])
	if st := loadState(t, s, "u"); !st.Sealed {
		t.Fatalf("state after ReadUpload not sealed: %+v", st)
	}
	appendAt(t, s, "u", MinPartSize+1, data[MinPartSize+1:])
	checkUpload(t, s, "u", data)
	d := commit(t, s, "u", "sha512", data)
	checkBlob(t, s, d, data)
}

// TestManySmallAppends checks that tail segments are merged.
func TestManySmallAppends(t *testing.T) {
	s, _, _ := newStore(t)
	const chunk = 100_000
	data := gen(7, MinPartSize+40*chunk+1)
	for off := 0; off < len(data); off += chunk {
		appendAt(t, s, "u", int64(off), data[off:min(off+chunk, len(data))])
		if st := loadState(t, s, "u"); len(st.Tail) > maxSegments {
			t.Fatalf("%d tail segments", len(st.Tail))
		}
	}
	checkUpload(t, s, "u", data)
	checkBlob(t, s, commit(t, s, "u", "sha256", data), data)
}

// TestRangedReads serves a multipart blob with http.ServeContent: single
// and multiple ranges across part boundaries, and seeks back and forth.
func TestRangedReads(t *testing.T) {
	s, _, _ := newStore(t)
	data := gen(8, 2*MinPartSize+4321)
	appendAt(t, s, "u", 0, data)
	d := commit(t, s, "u", "sha256", data)

	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd, _, err := s.Open(r.Context(), d)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer rd.Close()
		http.ServeContent(w, r, "", time.Time{}, rd)
	}))
	defer ts.Close()
	get := func(rng string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", rng, err)
		}
		return resp
	}
	body := func(resp *http.Response) []byte {
		t.Helper()
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		return b
	}

	n := len(data)
	for _, c := range []struct{ rng, want string }{
		{"", "0-"},
		{fmt.Sprintf("bytes=%d-%d", MinPartSize-10, MinPartSize+9), ""}, // across a part boundary
		{fmt.Sprintf("bytes=%d-", n-1), ""},
		{"bytes=-4321", ""},
		{fmt.Sprintf("bytes=%d-%d", 2*MinPartSize, 2*MinPartSize), ""},
	} {
		resp := get(c.rng)
		b := body(resp)
		var lo, hi int
		switch {
		case c.rng == "":
			lo, hi = 0, n-1
		case strings.HasPrefix(c.rng, "bytes=-"):
			var k int
			fmt.Sscanf(c.rng, "bytes=-%d", &k)
			lo, hi = n-k, n-1
		case strings.HasSuffix(c.rng, "-"):
			fmt.Sscanf(c.rng, "bytes=%d-", &lo)
			hi = n - 1
		default:
			fmt.Sscanf(c.rng, "bytes=%d-%d", &lo, &hi)
		}
		wantCode := http.StatusPartialContent
		if c.rng == "" {
			wantCode = http.StatusOK
		}
		if resp.StatusCode != wantCode || !bytes.Equal(b, data[lo:hi+1]) {
			t.Fatalf("Range %q: status %d, %d bytes (equal %v), want %d bytes %d-%d",
				c.rng, resp.StatusCode, len(b), bytes.Equal(b, data[lo:hi+1]), hi+1-lo, lo, hi)
		}
	}

	// Several ranges: a multipart/byteranges answer.
	ranges := [][2]int{{0, 9}, {MinPartSize - 1, MinPartSize}, {n - 3, n - 1}}
	var spec []string
	for _, r := range ranges {
		spec = append(spec, fmt.Sprintf("%d-%d", r[0], r[1]))
	}
	resp := get("bytes=" + strings.Join(spec, ","))
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
		t.Fatalf("multi-range: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for i, r := range ranges {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("multi-range part %d: %v", i, err)
		}
		b, _ := io.ReadAll(p)
		if !bytes.Equal(b, data[r[0]:r[1]+1]) {
			t.Fatalf("multi-range part %d differs", i)
		}
	}

	// Seeks without reads cost nothing; reads after seeks fetch from there.
	rd, _, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rd.Close()
	buf := make([]byte, 1000)
	for _, off := range []int64{int64(n) - 1000, 0, MinPartSize - 500, 3, int64(n) - 1000} {
		for range 3 {
			rd.Seek(int64(n)/2, io.SeekStart)
		}
		if _, err := rd.Seek(off, io.SeekStart); err != nil {
			t.Fatalf("Seek: %v", err)
		}
		if _, err := io.ReadFull(rd, buf); err != nil || !bytes.Equal(buf, data[off:off+1000]) {
			t.Fatalf("read 1000 bytes at %d: %v", off, err)
		}
	}
	if _, err := rd.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to -1 succeeded")
	}
	if pos, err := rd.Seek(10, io.SeekEnd); err != nil || pos != int64(n)+10 {
		t.Fatalf("Seek past the end = %d, %v", pos, err)
	}
	if k, err := rd.Read(buf); k != 0 || err != io.EOF {
		t.Fatalf("Read past the end = %d, %v", k, err)
	}
}

// TestPresignGet fetches blobs, a pointer's and a plain one, through
// presigned URLs with a plain HTTP client.
func TestPresignGet(t *testing.T) {
	s, _, _ := newStore(t)
	big, small := gen(12, MinPartSize+99), []byte("small blob")
	appendAt(t, s, "big", 0, big)
	appendAt(t, s, "small", 0, small)
	for _, c := range []struct {
		id   string
		data []byte
	}{{"big", big}, {"small", small}} {
		d := commit(t, s, c.id, "sha256", c.data)
		u, err := s.PresignGet(ctx, d, time.Minute)
		if err != nil {
			t.Fatalf("PresignGet: %v", err)
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Range", "bytes=3-")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET presigned: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, c.data[3:]) {
			t.Fatalf("GET presigned %s: status %d, %d bytes", c.id, resp.StatusCode, len(b))
		}
	}
	if _, err := s.PresignGet(ctx, blobtest.Digest("sha256", []byte("nope")), time.Minute); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("PresignGet of a missing blob: %v", err)
	}
}

// TestAbortSweepsLeftovers plants what a crash between writing data and
// saving the state leaves (a multipart upload, a segment) and checks that
// Abort removes it.
func TestAbortSweepsLeftovers(t *testing.T) {
	s, srv, cfg := newStore(t)
	appendAt(t, s, "u", 0, []byte("some bytes"))
	dir := newDataDir("u")
	if _, err := s.createMPU(ctx, dir); err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	for _, name := range []string{"seg-" + randHex(), newSegName()} {
		if err := s.put(ctx, s.segKey("u", name), []byte("orphan"), "application/octet-stream"); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	// An upload of another id whose name starts the same is not touched.
	appendAt(t, s, "u2", 0, []byte("other"))
	if err := s.Abort(ctx, "u"); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if mpus := srv.multipartUploads(t, cfg.Bucket); len(mpus) != 0 {
		t.Fatalf("multipart uploads left: %q", mpus)
	}
	keys := srv.keys(t, cfg.Bucket)
	for _, k := range keys {
		if !strings.HasPrefix(k, s.uploadDir("u2")) && !strings.HasPrefix(k, s.dataPrefix()+"u2.") {
			t.Fatalf("left after Abort: %q", keys)
		}
	}
	checkUpload(t, s, "u2", []byte("other"))
}

// TestCorruptState checks that names in a state object cannot reach keys
// outside the upload, and that Abort removes an upload whose state is bad.
func TestCorruptState(t *testing.T) {
	s, srv, cfg := newStore(t)
	appendAt(t, s, "victim", 0, []byte("keep"))
	victim := commit(t, s, "victim", "sha256", []byte("keep"))
	if err := s.Abort(ctx, "victim"); err != nil {
		t.Fatal(err)
	}
	_, hx, _ := blob.CheckDigest(victim)
	for i, bad := range []string{
		`not json`,
		`{"v":2,"size":0}`,
		`{"v":1,"size":4,"tail":[{"name":"../../blobs/sha256/` + hx + `","size":4}]}`,
		`{"v":1,"size":4,"data":"other.0123456789abcdef","sealed":true}`,
		`{"v":1,"size":3,"tail":[{"name":"seg-0123456789abcdef","size":4}]}`,
	} {
		id := fmt.Sprint("bad", i)
		if err := s.put(ctx, s.stateKey(id), []byte(bad), "application/json"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadUpload(ctx, id); !errors.Is(err, errCorrupt) {
			t.Errorf("ReadUpload with state %s: %v, want a corrupt state error", bad, err)
		}
		if _, err := s.Append(ctx, id, 0, strings.NewReader("x")); !errors.Is(err, errCorrupt) {
			t.Errorf("Append with state %s: %v", bad, err)
		}
		if err := s.Abort(ctx, id); err != nil {
			t.Errorf("Abort with state %s: %v", bad, err)
		}
	}
	checkBlob(t, s, victim, []byte("keep"))
	// The blob: a pointer to the victim's segment, with its mark.
	for _, k := range srv.keys(t, cfg.Bucket) {
		if !strings.HasPrefix(k, s.blobKey("sha256", hx)) && !strings.HasPrefix(k, s.dataPrefix()+"victim.") {
			t.Fatalf("object left: %q", k)
		}
	}
	if err := s.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if keys := srv.keys(t, cfg.Bucket); len(keys) != 0 {
		t.Fatalf("objects left after Delete: %q", keys)
	}
}

// TestPartFailure checks the count Append returns when the storage fails
// midway: what is stored, from which the client resumes.
func TestPartFailure(t *testing.T) {
	s, _, _ := newStore(t)
	data := gen(9, 4*MinPartSize+10)
	appendAt(t, s, "u", 0, data[:100])
	// A context that ends after the second part is read: the parts in
	// flight fail, and the state records the parts that were stored.
	c, cancel := context.WithCancel(ctx)
	r := &cancelAfter{r: bytes.NewReader(data[100:]), n: 2*MinPartSize + 50, cancel: cancel}
	n, err := s.Append(c, "u", 100, r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with the context canceled midway = %d, %v", n, err)
	}
	if n < 0 || n > int64(r.read) || n != 0 && (n+100)%MinPartSize != 0 {
		t.Fatalf("Append stored %d bytes (read %d)", n, r.read)
	}
	t.Logf("stored %d of %d bytes read before the cancellation", n, r.read)
	off := 100 + n
	appendAt(t, s, "u", off, data[off:])
	checkUpload(t, s, "u", data)
}

type cancelAfter struct {
	r      io.Reader
	n      int
	read   int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.read >= c.n {
		c.cancel()
	}
	k, err := c.r.Read(p)
	c.read += k
	return k, err
}

// TestSSE writes with server-side encryption settings passed through.
func TestSSE(t *testing.T) {
	srv := testServer(t)
	cfg := srv.config(srv.newBucket(t))
	cfg.PartSize = MinPartSize
	cfg.SSE = "AES256"
	s := srv.open(t, cfg)
	data := gen(10, MinPartSize+5)
	appendAt(t, s, "u", 0, data)
	n, err := s.Append(ctx, "small", 0, strings.NewReader("small"))
	if err != nil {
		if strings.Contains(err.Error(), "NotImplemented") || strings.Contains(err.Error(), "InvalidArgument") {
			t.Skipf("the server refuses SSE-S3: %v", err)
		}
		t.Fatalf("Append = %d, %v", n, err)
	}
	checkBlob(t, s, commit(t, s, "u", "sha256", data), data)
	checkBlob(t, s, commit(t, s, "small", "sha256", []byte("small")), []byte("small"))
}

func TestParseURL(t *testing.T) {
	c, err := ParseURL("s3://my-bucket/reg/prod?endpoint=http://127.0.0.1:9000&region=eu-west-1&path_style=true&sse=aws:kms&sse_kms_key_id=alias/wharf&part_size=16777216&concurrency=4")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Endpoint: "http://127.0.0.1:9000", Region: "eu-west-1", Bucket: "my-bucket", Prefix: "reg/prod",
		PathStyle: true, SSE: "aws:kms", SSEKMSKeyID: "alias/wharf", PartSize: 16 << 20, Concurrency: 4}
	if c != want {
		t.Fatalf("ParseURL = %+v\nwant %+v", c, want)
	}
	if c, err := ParseURL("s3://b"); err != nil || c != (Config{Bucket: "b"}) {
		t.Fatalf("ParseURL(s3://b) = %+v, %v", c, err)
	}
	for _, bad := range []string{
		"", "http://b/p", "s3:///p", "s3://k:s@b/p", "s3://b?path_style=maybe", "s3://b?endpoint=ftp://x",
		"s3://b?part_size=1", "s3://b?concurrency=0", "s3://b?colour=blue", "s3://b?region=a&region=b",
	} {
		if c, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", bad, c)
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []Config{
		{},
		{Bucket: "b", PartSize: MinPartSize - 1},
		{Bucket: "b", Concurrency: -1},
		{Bucket: "b", SSE: "rot13"},
		{Bucket: "b", SSE: "AES256", SSEKMSKeyID: "k"},
		{Bucket: "b", AccessKey: "only"},
	} {
		if _, err := New(ctx, c); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
}

func TestMissingBucket(t *testing.T) {
	srv := testServer(t)
	if _, err := New(ctx, srv.config("wharf-no-such-bucket-"+randHex())); err == nil {
		t.Fatal("New on a missing bucket succeeded")
	}
}

// BenchmarkAppendCommit256MiB measures one 256 MiB Append (a monolithic
// push) and its Commit.
func BenchmarkAppendCommit256MiB(b *testing.B) {
	const size = 256 << 20
	srv := testServer(b)
	cfg := srv.config(srv.newBucket(b))
	if v := os.Getenv("WHARF_BENCH_S3_PART_SIZE"); v != "" {
		fmt.Sscan(v, &cfg.PartSize)
	}
	if v := os.Getenv("WHARF_BENCH_S3_CONCURRENCY"); v != "" {
		fmt.Sscan(v, &cfg.Concurrency)
	}
	s := srv.open(b, cfg)
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h := sha256.New()
		id := fmt.Sprint("bench", i)
		n, err := s.Append(ctx, id, 0, io.TeeReader(blobtest.Generate(uint64(i), size), h))
		if err != nil || n != size {
			b.Fatalf("Append = %d, %v", n, err)
		}
		d := "sha256:" + hex.EncodeToString(h.Sum(nil))
		if err := s.Commit(ctx, id, d); err != nil {
			b.Fatalf("Commit: %v", err)
		}
		b.StopTimer()
		if err := s.Abort(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(ctx, d); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
