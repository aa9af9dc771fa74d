// Package s3 is the S3 implementation of blob.Store, for Amazon S3 and any
// S3-compatible server (path-style or virtual-hosted addressing).
//
// # Layout
//
// Under the configured key prefix:
//
//	blobs/<alg>/<hex>              a committed blob: its bytes, or an empty
//	                               pointer object (see below)
//	uploads/<id>/state.json        the state of upload id (the one source of truth)
//	data/<id>.<rand>/data          a data object of upload id: its multipart
//	                               object, or a tail segment (upload bytes not
//	                               yet in a part; named dat-<rand> in the state)
//	uploads/<id>/seg-<rand>        a tail segment written by earlier versions
//	data/<id>.<rand>/refs/<alg>/<hex>
//	                               marks a pointer that may name this data object
//
// Every key is built from a digest or upload id checked by blob.CheckDigest or
// blob.CheckUploadID, or from names this package generates.
//
// # Uploads
//
// Append streams: it fills one part buffer (Config.PartSize, at least the
// 5 MiB S3 minimum) and sends it with UploadPart as soon as it is full; at
// most Config.Concurrency parts are in flight. Bytes that do not fill a part
// are written as a tail segment. The state object lists the multipart upload
// id, the parts (number, size, ETag) and the tail segments; it is rewritten
// (one atomic PUT) at the end of every Append, and every object it names is
// immutable, so a crash at any point leaves the previous state intact and an
// upload continues on any node that shares the bucket. The PUT is conditional
// (If-Match the ETag read, If-None-Match: * for a new upload): of two calls
// writing to one upload at once, on any nodes, the second to save fails with
// ErrConflict and removes what it wrote.
//
// # Commit without copying
//
// S3 binds a multipart upload to the key given when it starts, and the digest
// is known only at Commit, so a multipart upload cannot finish at the blob's
// key. Commit completes it where it is (data/<id>.<rand>/data, no copy) and
// writes an empty pointer object at blobs/<alg>/<hex> whose metadata names
// the data object and the size. Uploads smaller than one part have no
// multipart upload; their tail segments are data objects too, so Commit of
// one with a single segment writes a pointer naming that segment (no copy).
// An upload of several segments (many tiny appends) is written once, with
// one PutObject, at the blob key, and an empty one is an empty object there.
//
// A data object is kept while its upload's state names it (as its data or as
// a tail segment) or a pointer names it. Whoever removes a reference (Abort
// deletes the state, Delete a pointer, Append moving an upload to a new data
// object or dropping a tail segment) then checks for the others and
// deletes the data object when none is left; on a linearizable store (S3 is)
// two concurrent removers cannot both miss each other, so nothing leaks and
// nothing referenced is deleted.
//
// Reading an upload whose bytes are in a multipart upload (ReadUpload, or an
// Append that cuts into a part) first completes the multipart upload, since
// S3 cannot read the parts of an unfinished one. Extending or cutting an upload
// whose data object is complete copies the kept bytes server-side into a new
// multipart upload (UploadPartCopy). Neither happens when a registry client
// pushes a blob: they serve sha512 uploads, resumes into a crash's tail and
// appends after a commit.
package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/wharfhq/wharf/internal/store/blob"
)

const (
	// MinPartSize is the smallest part S3 accepts (but for the last).
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 << 30
	// DefaultPartSize is the part size when Config.PartSize is zero: an
	// upload may then reach maxParts*8 MiB (78 GiB; ECR's limit is 52,000 MiB).
	DefaultPartSize = 8 << 20
	// DefaultConcurrency is the number of parts one Append uploads at once
	// when Config.Concurrency is zero.
	DefaultConcurrency = 2

	maxParts = 10000

	// maxSegments bounds the tail segments of an upload: past it, Append
	// merges them into one.
	maxSegments = 16

	// walkHeads is the number of HEAD requests Walk runs at once to read
	// the size of pointer objects.
	walkHeads = 8

	// Object metadata of pointer objects (x-amz-meta-*).
	metaData = "wharf-data"
	metaSize = "wharf-size"

	pointerContentType = "application/vnd.wharf.blob-pointer"
)

// Config configures a Store.
type Config struct {
	// Endpoint is the S3 endpoint URL, e.g. "http://127.0.0.1:9000"; empty
	// means AWS.
	Endpoint string
	// Region is the signing region; empty means the default chain's region,
	// or us-east-1.
	Region string
	// Bucket holds the store. It must exist.
	Bucket string
	// Prefix is prepended to every key; a "/" is added if it lacks one.
	Prefix string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key)
	// rather than the host name (bucket.endpoint/key).
	PathStyle bool
	// AccessKey and SecretKey are static credentials; when empty, the AWS
	// default chain is used (environment, shared files, IMDS, ...).
	AccessKey, SecretKey string
	// SSE is the server-side encryption asked for every object written:
	// "" (the bucket's default), "AES256" (SSE-S3) or "aws:kms" (SSE-KMS).
	SSE string
	// SSEKMSKeyID is the KMS key for SSE-KMS; empty means the account's
	// default key. Setting it implies SSE "aws:kms".
	SSEKMSKeyID string
	// PartSize is the size of the parts of multipart uploads and of the
	// buffer each Append holds (DefaultPartSize when zero; at least
	// MinPartSize). Uploads are limited to 10,000 parts.
	PartSize int64
	// Concurrency is the number of parts one Append uploads at once
	// (DefaultConcurrency when zero). An Append holds up to Concurrency+1
	// part buffers.
	Concurrency int
	// HTTPClient, if set, sends the requests (a private CA, a proxy).
	HTTPClient *http.Client
}

// Store is a blob.Store in an S3 bucket. It keeps no state of its own: any
// number of Stores, in any number of processes, may share a bucket and
// prefix. Its methods are safe for concurrent use.
type Store struct {
	client      *s3.Client
	bucket      string
	prefix      string
	sse         types.ServerSideEncryption
	sseKMSKeyID *string
	partSize    int64
	concurrency int
	// bufs is a free list of part buffers. Unlike a sync.Pool it survives
	// garbage collections, so a long upload reuses the same few buffers
	// instead of allocating a part's worth of memory per part.
	bufs chan *[]byte
}

var _ blob.Store = (*Store)(nil)

// New returns a Store for cfg and checks that the bucket is reachable.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3: no bucket")
	}
	s := &Store{bucket: cfg.Bucket, prefix: cfg.Prefix, partSize: cfg.PartSize, concurrency: cfg.Concurrency}
	if s.prefix != "" && !strings.HasSuffix(s.prefix, "/") {
		s.prefix += "/"
	}
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	if s.partSize < MinPartSize || s.partSize > MaxPartSize {
		return nil, fmt.Errorf("s3: part size %d outside [%d, %d]", s.partSize, MinPartSize, MaxPartSize)
	}
	if s.concurrency == 0 {
		s.concurrency = DefaultConcurrency
	}
	if s.concurrency < 1 || s.concurrency > 64 {
		return nil, fmt.Errorf("s3: concurrency %d outside [1, 64]", s.concurrency)
	}
	switch cfg.SSE {
	case "":
		if cfg.SSEKMSKeyID != "" {
			s.sse = types.ServerSideEncryptionAwsKms
		}
	case string(types.ServerSideEncryptionAes256):
		if cfg.SSEKMSKeyID != "" {
			return nil, errors.New("s3: a KMS key id needs SSE aws:kms")
		}
		s.sse = types.ServerSideEncryptionAes256
	case string(types.ServerSideEncryptionAwsKms):
		s.sse = types.ServerSideEncryptionAwsKms
	default:
		return nil, fmt.Errorf("s3: unsupported server-side encryption %q (want AES256 or aws:kms)", cfg.SSE)
	}
	if cfg.SSEKMSKeyID != "" {
		s.sseKMSKeyID = aws.String(cfg.SSEKMSKeyID)
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("s3: set both the access key and the secret key, or neither")
	}
	s.bufs = make(chan *[]byte, 4*(s.concurrency+1))

	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	s.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
		// Checksums only where the API requires them: many S3-compatible
		// servers reject the SDK's default trailing checksums. Payloads are
		// still covered by the SigV4 signature (plain HTTP) or by TLS.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return nil, fmt.Errorf("s3: bucket %q: %w", s.bucket, err)
	}
	return s, nil
}

// ParseURL parses a store URL:
//
//	s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true
//
// Query parameters: endpoint, region, path_style (a boolean), sse ("AES256"
// or "aws:kms"), sse_kms_key_id, part_size (bytes), concurrency. Credentials
// are not taken from URLs: set Config.AccessKey and SecretKey, or use the
// default chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...).
func ParseURL(raw string) (Config, error) {
	var c Config
	u, err := url.Parse(raw)
	if err != nil {
		return c, fmt.Errorf("s3: parse URL: %w", err)
	}
	if u.Scheme != "s3" {
		return c, fmt.Errorf("s3: URL scheme %q, want s3", u.Scheme)
	}
	if u.User != nil {
		return c, errors.New("s3: credentials in the URL are not supported; use the default chain or Config")
	}
	if u.Host == "" {
		return c, errors.New("s3: URL names no bucket (s3://bucket/prefix)")
	}
	if u.Fragment != "" || u.Opaque != "" {
		return c, fmt.Errorf("s3: malformed URL %q", raw)
	}
	c.Bucket = u.Host
	c.Prefix = strings.TrimPrefix(u.Path, "/")
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return c, fmt.Errorf("s3: URL query: %w", err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return c, fmt.Errorf("s3: URL parameter %q given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			e, err := url.Parse(v)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return c, fmt.Errorf("s3: endpoint %q is not an http(s) URL", v)
			}
			c.Endpoint = v
		case "region":
			c.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return c, fmt.Errorf("s3: path_style %q is not a boolean", v)
			}
			c.PathStyle = b
		case "sse":
			c.SSE = v
		case "sse_kms_key_id":
			c.SSEKMSKeyID = v
		case "part_size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < MinPartSize || n > MaxPartSize {
				return c, fmt.Errorf("s3: part_size %q: want bytes in [%d, %d]", v, MinPartSize, MaxPartSize)
			}
			c.PartSize = n
		case "concurrency":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 {
				return c, fmt.Errorf("s3: concurrency %q: want 1 to 64", v)
			}
			c.Concurrency = n
		default:
			return c, fmt.Errorf("s3: unknown URL parameter %q", k)
		}
	}
	return c, nil
}

// Client returns the S3 client the store uses (for presigning, say).
func (s *Store) Client() *s3.Client { return s.client }

// Keys.

func (s *Store) blobKey(alg, hex string) string { return s.prefix + "blobs/" + alg + "/" + hex }
func (s *Store) blobsPrefix() string            { return s.prefix + "blobs/" }
func (s *Store) uploadsPrefix() string          { return s.prefix + "uploads/" }
func (s *Store) uploadDir(id string) string     { return s.prefix + "uploads/" + id + "/" }
func (s *Store) stateKey(id string) string      { return s.uploadDir(id) + "state.json" }

// segKey returns the key of tail segment name of upload id: a data object
// (data/<id>.<rand>/data) for the segments named "dat-<rand>", which a
// committed pointer may name, or an object under uploads/<id>/ for those
// named "seg-<rand>" that earlier versions wrote.
func (s *Store) segKey(id, name string) string {
	if dir, ok := segDataDir(id, name); ok {
		return s.dataKey(dir)
	}
	return s.uploadDir(id) + name
}

func (s *Store) dataPrefix() string        { return s.prefix + "data/" }
func (s *Store) dataDir(dir string) string { return s.prefix + "data/" + dir + "/" }
func (s *Store) dataKey(dir string) string { return s.dataDir(dir) + "data" }
func (s *Store) refsDir(dir string) string { return s.dataDir(dir) + "refs/" }
func (s *Store) refKey(dir, alg, hex string) string {
	return s.refsDir(dir) + alg + "/" + hex
}

// randHex returns 16 random hex digits.
func randHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isRandHex(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// newDataDir names a new data object directory of upload id.
func newDataDir(id string) string { return id + "." + randHex() }

// dataDirOwner returns the upload id of a data directory name, or false if
// the name is not one this package makes.
func dataDirOwner(dir string) (string, bool) {
	i := strings.LastIndexByte(dir, '.')
	if i < 0 || !isRandHex(dir[i+1:]) || blob.CheckUploadID(dir[:i]) != nil {
		return "", false
	}
	return dir[:i], true
}

func isSegName(name string) bool {
	return strings.HasPrefix(name, "seg-") && isRandHex(name[len("seg-"):]) ||
		strings.HasPrefix(name, segDataPrefix) && isRandHex(name[len(segDataPrefix):])
}

// segDataPrefix starts the names of tail segments stored as data objects.
const segDataPrefix = "dat-"

// newSegName names a new tail segment (a data object).
func newSegName() string { return segDataPrefix + randHex() }

// segDataDir returns the data directory holding tail segment name of upload
// id, or false if the segment is not a data object.
func segDataDir(id, name string) (string, bool) {
	if !strings.HasPrefix(name, segDataPrefix) {
		return "", false
	}
	return id + "." + name[len(segDataPrefix):], true
}

// sseParams returns the encryption settings for objects and multipart
// uploads written.
func (s *Store) sseParams() (types.ServerSideEncryption, *string) {
	return s.sse, s.sseKMSKeyID
}

// Errors.

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports whether err says that a key does not exist (but not
// that the bucket does not).
func isNotFound(err error) bool {
	switch apiCode(err) {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket", "NoSuchUpload":
		return false
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

func isNoSuchUpload(err error) bool { return apiCode(err) == "NoSuchUpload" }

// isPreconditionFailed reports whether a conditional request failed because
// the object is not (or no longer) in the state asked for.
func isPreconditionFailed(err error) bool {
	switch apiCode(err) {
	case "PreconditionFailed", "ConditionalRequestConflict":
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}

// wrap adds context to an S3 error, mapping a missing key to
// blob.ErrNotFound.
func wrap(err error, op, key string) error {
	if isNotFound(err) {
		return fmt.Errorf("s3: %s %s: %w", op, key, blob.ErrNotFound)
	}
	return fmt.Errorf("s3: %s %s: %w", op, key, err)
}

// Objects.

// object is what HEAD tells of a committed blob.
type object struct {
	size    int64
	dataKey string // the key holding the bytes
	dataDir string // the data directory a pointer names, or ""
}

// headBlob returns where the bytes of blob alg:hex are.
func (s *Store) headBlob(ctx context.Context, alg, hex string) (object, error) {
	key := s.blobKey(alg, hex)
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return object{}, wrap(err, "head", key)
	}
	return s.objectOf(key, aws.ToInt64(out.ContentLength), out.Metadata)
}

func metaGet(m map[string]string, k string) (string, bool) {
	if v, ok := m[k]; ok {
		return v, true
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v, true
		}
	}
	return "", false
}

func (s *Store) objectOf(key string, length int64, meta map[string]string) (object, error) {
	dir, ok := metaGet(meta, metaData)
	if !ok {
		return object{size: length, dataKey: key}, nil
	}
	sizeStr, _ := metaGet(meta, metaSize)
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if _, owned := dataDirOwner(dir); !owned || err != nil || size < 0 || length != 0 {
		return object{}, fmt.Errorf("s3: %s: malformed blob pointer", key)
	}
	return object{size: size, dataKey: s.dataKey(dir), dataDir: dir}, nil
}

// Stat returns the size of a committed blob.
func (s *Store) Stat(ctx context.Context, digest string) (int64, error) {
	alg, hex, err := blob.CheckDigest(digest)
	if err != nil {
		return 0, err
	}
	o, err := s.headBlob(ctx, alg, hex)
	if err != nil {
		return 0, err
	}
	return o.size, nil
}

// Open opens a committed blob. The reader fetches bytes with ranged GETs as
// it is read, from where it was last sought to; it uses ctx for them.
func (s *Store) Open(ctx context.Context, digest string) (blob.Reader, int64, error) {
	alg, hex, err := blob.CheckDigest(digest)
	if err != nil {
		return nil, 0, err
	}
	o, err := s.headBlob(ctx, alg, hex)
	if err != nil {
		return nil, 0, err
	}
	return &reader{ctx: ctx, s: s, key: o.dataKey, size: o.size}, o.size, nil
}

// PresignGet returns a URL from which anyone may GET the bytes of a
// committed blob (ranges too) until ttl has passed, for registries that
// redirect blob downloads to the bucket.
func (s *Store) PresignGet(ctx context.Context, digest string, ttl time.Duration) (string, error) {
	alg, hex, err := blob.CheckDigest(digest)
	if err != nil {
		return "", err
	}
	o, err := s.headBlob(ctx, alg, hex)
	if err != nil {
		return "", err
	}
	req, err := s3.NewPresignClient(s.client).PresignGetObject(ctx,
		&s3.GetObjectInput{Bucket: &s.bucket, Key: &o.dataKey}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("s3: presign %s: %w", o.dataKey, err)
	}
	return req.URL, nil
}

// RedirectURL implements blob.Redirector with PresignGet.
func (s *Store) RedirectURL(ctx context.Context, digest string, ttl time.Duration) (string, error) {
	return s.PresignGet(ctx, digest, ttl)
}

var _ blob.Redirector = (*Store)(nil)

// Delete removes a committed blob; a pointer's data object goes too unless
// an upload or another pointer still names it.
func (s *Store) Delete(ctx context.Context, digest string) error {
	alg, hex, err := blob.CheckDigest(digest)
	if err != nil {
		return err
	}
	o, err := s.headBlob(ctx, alg, hex)
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	key := s.blobKey(alg, hex)
	if err := s.deleteObject(ctx, key); err != nil {
		return err
	}
	if o.dataDir != "" {
		return s.collect(ctx, o.dataDir, true)
	}
	return nil
}

func (s *Store) deleteObject(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil && !isNotFound(err) {
		return wrap(err, "delete", key)
	}
	return nil
}

// list calls fn for every object under prefix, page by page.
func (s *Store) list(ctx context.Context, prefix string, fn func([]types.Object) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap(err, "list", prefix)
		}
		if err := fn(page.Contents); err != nil {
			return err
		}
	}
	return nil
}

// listDirs returns the names (without prefix and trailing "/") of the
// "directories" right under prefix.
func (s *Store) listDirs(ctx context.Context, prefix string) ([]string, error) {
	var dirs []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket, Prefix: &prefix, Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap(err, "list", prefix)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			dirs = append(dirs, name)
		}
	}
	return dirs, nil
}

// deleteAll deletes every object under prefix.
func (s *Store) deleteAll(ctx context.Context, prefix string) error {
	return s.list(ctx, prefix, func(objs []types.Object) error {
		for _, o := range objs {
			if err := s.deleteObject(ctx, aws.ToString(o.Key)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Walk calls fn for every committed blob, in key order.
func (s *Store) Walk(ctx context.Context, fn func(digest string, size int64) error) error {
	prefix := s.blobsPrefix()
	return s.list(ctx, prefix, func(objs []types.Object) error {
		type entry struct {
			alg, hex string
			size     int64
			skip     bool
			err      error
		}
		ents := make([]entry, 0, len(objs))
		for _, o := range objs {
			rest := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			alg, hex, ok := strings.Cut(rest, "/")
			if !ok {
				continue
			}
			if _, _, err := blob.CheckDigest(alg + ":" + hex); err != nil {
				continue
			}
			ents = append(ents, entry{alg: alg, hex: hex, size: aws.ToInt64(o.Size)})
		}
		// Pointers are empty objects: their size is in their metadata.
		sem := make(chan struct{}, walkHeads)
		var wg sync.WaitGroup
		for i := range ents {
			if ents[i].size != 0 {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(e *entry) {
				defer func() { <-sem; wg.Done() }()
				o, err := s.headBlob(ctx, e.alg, e.hex)
				switch {
				case errors.Is(err, blob.ErrNotFound):
					e.skip = true // deleted since listed
				case err != nil:
					e.err = err
				default:
					e.size = o.size
				}
			}(&ents[i])
		}
		wg.Wait()
		for _, e := range ents {
			if e.err != nil {
				return e.err
			}
			if e.skip {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e.alg+":"+e.hex, e.size); err != nil {
				return err
			}
		}
		return nil
	})
}

// reader reads an object with ranged GETs, lazily: a GET starts at the
// first Read after a Seek, and streams until the next Seek moves away.
type reader struct {
	ctx     context.Context
	s       *Store
	key     string
	size    int64
	pos     int64
	body    io.ReadCloser
	bodyPos int64 // offset of the next byte body returns
	closed  bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("s3: read of a closed blob reader")
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.body != nil && r.bodyPos != r.pos {
		r.body.Close()
		r.body = nil
	}
	if r.body == nil {
		rng := fmt.Sprintf("bytes=%d-%d", r.pos, r.size-1)
		out, err := r.s.client.GetObject(r.ctx, &s3.GetObjectInput{Bucket: &r.s.bucket, Key: &r.key, Range: &rng})
		if err != nil {
			return 0, wrap(err, "get", r.key)
		}
		r.body, r.bodyPos = out.Body, r.pos
	}
	if rest := r.size - r.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	r.bodyPos += int64(n)
	if err == io.EOF {
		r.body.Close()
		r.body = nil
		if r.pos < r.size {
			return n, fmt.Errorf("s3: get %s: object shorter than %d bytes: %w", r.key, r.size, io.ErrUnexpectedEOF)
		}
		return n, nil
	}
	if err != nil {
		r.body.Close()
		r.body = nil
		return n, fmt.Errorf("s3: get %s: %w", r.key, err)
	}
	return n, nil
}

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	if r.closed {
		return 0, errors.New("s3: seek of a closed blob reader")
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("s3: seek: invalid whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("s3: seek to negative offset %d", abs)
	}
	r.pos = abs
	return abs, nil
}

func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	return nil
}
