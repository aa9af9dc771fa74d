package ecr_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/wharfhq/wharf/internal/awsjson"
	wecr "github.com/wharfhq/wharf/internal/httpapi/ecr"
)

// Helpers of the layer tests are prefixed ly.

// lyData is n deterministic, incompressible-looking bytes.
func lyData(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// lyUpload pushes a layer with the ECR API in parts of the given sizes,
// returning the upload id.
func (e *env) lyUpload(c *ecr.Client, repo string, layer []byte, partSizes ...int) string {
	e.t.Helper()
	ctx := context.Background()
	init, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(repo)})
	imOK(e.t, err)
	at := 0
	for _, n := range partSizes {
		out, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: init.UploadId,
			PartFirstByte: aws.Int64(int64(at)), PartLastByte: aws.Int64(int64(at + n - 1)), LayerPartBlob: layer[at : at+n]})
		imOK(e.t, err)
		if aws.ToInt64(out.LastByteReceived) != int64(at+n-1) {
			e.t.Fatalf("lastByteReceived %d, want %d", aws.ToInt64(out.LastByteReceived), at+n-1)
		}
		at += n
	}
	return aws.ToString(init.UploadId)
}

func (e *env) lyComplete(c *ecr.Client, repo, id string, digests ...string) (*ecr.CompleteLayerUploadOutput, error) {
	return c.CompleteLayerUpload(context.Background(), &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo),
		UploadId: aws.String(id), LayerDigests: digests})
}

var lyUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// A layer pushed in parts with the ECR API is a blob of /v2/, and an image
// put on it pulls over /v2/.
func TestLayersPushOverECRPullOverV2(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.imRepo("team/layers")
	layer := lyData(5<<20+1000, 1)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}`)

	init, err := e.ecr.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("team/layers")})
	imOK(t, err)
	if !lyUUID.MatchString(aws.ToString(init.UploadId)) || aws.ToInt64(init.PartSize) < 5<<20 {
		t.Fatalf("InitiateLayerUpload: %q partSize %d", aws.ToString(init.UploadId), aws.ToInt64(init.PartSize))
	}
	part, err := e.ecr.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("team/layers"), UploadId: init.UploadId,
		PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(5<<20 - 1), LayerPartBlob: layer[:5<<20]})
	imOK(t, err)
	if aws.ToInt64(part.LastByteReceived) != 5<<20-1 || aws.ToString(part.UploadId) != aws.ToString(init.UploadId) ||
		aws.ToString(part.RegistryId) != account || aws.ToString(part.RepositoryName) != "team/layers" {
		t.Fatalf("UploadLayerPart: %+v", part)
	}
	check, err := e.ecr.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("team/layers"),
		LayerDigests: []string{sha(layer)}})
	imOK(t, err)
	if len(check.Layers) != 1 || check.Layers[0].LayerAvailability != types.LayerAvailabilityUnavailable {
		t.Fatalf("before completion: %+v", check.Layers)
	}
	_, err = e.ecr.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("team/layers"), UploadId: init.UploadId,
		PartFirstByte: aws.Int64(5 << 20), PartLastByte: aws.Int64(int64(len(layer) - 1)), LayerPartBlob: layer[5<<20:]})
	imOK(t, err)
	done, err := e.lyComplete(e.ecr, "team/layers", aws.ToString(init.UploadId), sha(layer))
	imOK(t, err)
	if aws.ToString(done.LayerDigest) != sha(layer) || aws.ToString(done.UploadId) != aws.ToString(init.UploadId) ||
		aws.ToString(done.RegistryId) != account || aws.ToString(done.RepositoryName) != "team/layers" {
		t.Fatalf("CompleteLayerUpload: %+v", done)
	}
	check, err = e.ecr.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("team/layers"),
		LayerDigests: []string{sha(layer)}})
	imOK(t, err)
	if len(check.Layers) != 1 || check.Layers[0].LayerAvailability != types.LayerAvailabilityAvailable ||
		aws.ToInt64(check.Layers[0].LayerSize) != int64(len(layer)) {
		t.Fatalf("after completion: %+v", check.Layers)
	}
	res, body := e.v2("GET", "/v2/team/layers/blobs/"+sha(layer), nil, keyID, secret)
	if res.StatusCode != 200 || !bytes.Equal(body, layer) {
		t.Fatalf("/v2/ blob GET: %d, %d bytes", res.StatusCode, len(body))
	}

	// The config in one (last, so small) part; then the image.
	id := e.lyUpload(e.ecr, "team/layers", cfg, len(cfg))
	_, err = e.lyComplete(e.ecr, "team/layers", id, sha(cfg))
	imOK(t, err)
	m := imManifest(cfg, layer)
	_, err = e.ecr.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/layers"), ImageManifest: aws.String(string(m)), ImageTag: aws.String("v1")})
	imOK(t, err)
	if !bytes.Equal(e.imGet("team/layers", "v1"), m) {
		t.Fatal("manifest over /v2/ differs")
	}
	desc, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/layers")})
	imOK(t, err)
	if len(desc.ImageDetails) != 1 || aws.ToInt64(desc.ImageDetails[0].ImageSizeInBytes) != int64(len(cfg)+len(layer)) {
		t.Fatalf("DescribeImages: %+v", desc.ImageDetails)
	}
}

func TestLayersUploadErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.imRepo("team/up")
	e.imRepo("team/elsewhere")
	data := lyData(100, 2)
	part := func(repo, id string, first, last int64, b []byte) (*ecr.UploadLayerPartOutput, error) {
		return e.ecr.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: aws.String(id),
			PartFirstByte: aws.Int64(first), PartLastByte: aws.Int64(last), LayerPartBlob: b})
	}

	// Unknown uploads, and uploads of another repository.
	_, err := part("team/up", "6cb64b8a-9378-4e33-8ab1-b780fab8a9e9", 0, 9, data[:10])
	imAs[*types.UploadNotFoundException](t, err)
	id := e.lyUpload(e.ecr, "team/up", data, 10)
	_, err = part("team/elsewhere", id, 10, 19, data[10:20])
	imAs[*types.UploadNotFoundException](t, err)
	_, err = e.lyComplete(e.ecr, "team/elsewhere", id, sha(data[:10]))
	imAs[*types.UploadNotFoundException](t, err)

	// Parts must continue the upload exactly.
	_, err = part("team/up", id, 5, 14, data[5:15])
	ip := imAs[*types.InvalidLayerPartException](t, err)
	if aws.ToInt64(ip.LastValidByteReceived) != 9 || aws.ToString(ip.UploadId) != id || aws.ToString(ip.RepositoryName) != "team/up" || aws.ToString(ip.RegistryId) != account {
		t.Fatalf("InvalidLayerPartException: %+v", ip)
	}
	_, err = part("team/up", id, 20, 29, data[20:30])
	ip = imAs[*types.InvalidLayerPartException](t, err)
	if aws.ToInt64(ip.LastValidByteReceived) != 9 {
		t.Fatalf("gap: lastValidByteReceived %d", aws.ToInt64(ip.LastValidByteReceived))
	}
	_, err = part("team/up", id, 10, 30, data[10:20]) // says 21 bytes, sends 10
	imAs[*types.InvalidLayerPartException](t, err)

	// A wrong digest leaves the upload for a right one.
	_, err = e.lyComplete(e.ecr, "team/up", id, sha(data))
	imAs[*types.InvalidLayerException](t, err)
	_, err = e.lyComplete(e.ecr, "team/up", id, sha(data[:10]), sha(data))
	imAs[*types.InvalidParameterException](t, err)
	_, err = e.lyComplete(e.ecr, "team/up", id, "sha256:1234")
	imAs[*types.InvalidParameterException](t, err)
	_, err = e.lyComplete(e.ecr, "team/up", id, sha(data[:10]), sha(data[:10]))
	imOK(t, err)
	// Completed: the session is gone.
	_, err = part("team/up", id, 10, 19, data[10:20])
	imAs[*types.UploadNotFoundException](t, err)

	// The layer exists: a new upload of it is refused, and dropped.
	again := e.lyUpload(e.ecr, "team/up", data, 10)
	_, err = e.lyComplete(e.ecr, "team/up", again, sha(data[:10]))
	imAs[*types.LayerAlreadyExistsException](t, err)
	_, err = e.lyComplete(e.ecr, "team/up", again, sha(data[:10]))
	imAs[*types.UploadNotFoundException](t, err)

	// Nothing uploaded.
	empty := e.lyUpload(e.ecr, "team/up", nil)
	_, err = e.lyComplete(e.ecr, "team/up", empty, sha(nil))
	imAs[*types.EmptyUploadException](t, err)

	// Parts but the last must be at least 5 MiB (ECR's rule, checked on
	// completion).
	small := e.lyUpload(e.ecr, "team/up", data, 40, 60)
	_, err = e.lyComplete(e.ecr, "team/up", small, sha(data))
	imAs[*types.LayerPartTooSmallException](t, err)
	big := lyData(5<<20+10, 3)
	ok := e.lyUpload(e.ecr, "team/up", big, 5<<20, 10)
	_, err = e.lyComplete(e.ecr, "team/up", ok, sha(big))
	imOK(t, err)

	_, err = e.ecr.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("team/none")})
	imAs[*types.RepositoryNotFoundException](t, err)
	_, err = part("team/none", id, 0, 9, data[:10])
	imAs[*types.RepositoryNotFoundException](t, err)
}

func TestLayersBatchCheckLayerAvailability(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.pushImage("team/check", "v1", "chk")
	layer := []byte("layer-chk")
	out, err := e.ecr.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("team/check"),
		LayerDigests: []string{sha(layer), sha([]byte("absent")), "sha256:1234", ""}})
	imOK(t, err)
	if len(out.Layers) != 2 || len(out.Failures) != 2 {
		t.Fatalf("layers %+v failures %+v", out.Layers, out.Failures)
	}
	if l := out.Layers[0]; aws.ToString(l.LayerDigest) != sha(layer) || l.LayerAvailability != types.LayerAvailabilityAvailable || aws.ToInt64(l.LayerSize) != int64(len(layer)) {
		t.Fatalf("available layer: %+v", l)
	}
	if l := out.Layers[1]; l.LayerAvailability != types.LayerAvailabilityUnavailable || l.LayerSize != nil {
		t.Fatalf("unavailable layer: %+v", l)
	}
	if f := out.Failures[0]; f.FailureCode != types.LayerFailureCodeInvalidLayerDigest || aws.ToString(f.LayerDigest) != "sha256:1234" || aws.ToString(f.FailureReason) == "" {
		t.Fatalf("invalid digest: %+v", f)
	}
	if f := out.Failures[1]; f.FailureCode != types.LayerFailureCodeMissingLayerDigest {
		t.Fatalf("missing digest: %+v", f)
	}
	_, err = e.ecr.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("team/none"), LayerDigests: []string{sha(layer)}})
	imAs[*types.RepositoryNotFoundException](t, err)
}

// lyDownloadServer serves the app and /layer-download/: the app's own
// server when it mounts the handler, else one that adds it with a Server
// sharing the app's signing key.
func (e *env) lyDownloadServer(now func() time.Time) (*httptest.Server, *ecr.Client, http.Handler) {
	e.t.Helper()
	key, err := os.ReadFile(filepath.Join(e.app.Config.DataDir, "token-key"))
	imOK(e.t, err)
	s := &wecr.Server{Registry: e.app.Registry, Meta: e.app.Stores.Meta, Region: region, Pager: awsjson.Paginator{Key: key}, Now: now}
	dl := s.LayerDownloadHandler()
	if res, _ := e.v2("GET", wecr.LayerDownloadPath+"x.y", nil, "", ""); res.StatusCode == http.StatusForbidden {
		return e.srv, e.ecr, dl
	}
	mux := http.NewServeMux()
	mux.Handle(wecr.LayerDownloadPath, dl)
	mux.Handle("/", e.app.Handler())
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	return srv, (&env{srv: srv}).client(keyID, secret), dl
}

func TestLayersDownloadURL(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	srv, c, _ := e.lyDownloadServer(nil)
	e.pushImage("team/dl", "v1", "dl")
	layer := []byte("layer-dl")

	out, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("team/dl"), LayerDigest: aws.String(sha(layer))})
	imOK(t, err)
	u := aws.ToString(out.DownloadUrl)
	if aws.ToString(out.LayerDigest) != sha(layer) || !strings.HasPrefix(u, srv.URL+wecr.LayerDownloadPath) {
		t.Fatalf("GetDownloadUrlForLayer: %q %q", u, aws.ToString(out.LayerDigest))
	}
	get := func(url string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		imOK(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := get(u)
	if res.StatusCode != 200 || !bytes.Equal(body, layer) || res.Header.Get("Docker-Content-Digest") != sha(layer) {
		t.Fatalf("download: %d %q", res.StatusCode, body)
	}
	res, body = get(u, "Range", "bytes=2-4")
	if res.StatusCode != http.StatusPartialContent || string(body) != string(layer[2:5]) {
		t.Fatalf("range: %d %q", res.StatusCode, body)
	}

	// Tampered and expired URLs are refused.
	tok := u[strings.LastIndexByte(u, '/')+1:]
	payload, mac, _ := strings.Cut(tok, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	for _, bad := range []string{payload + "." + flip(mac), flip(payload) + "." + mac, payload, "garbage", ""} {
		if res, _ := get(srv.URL + wecr.LayerDownloadPath + bad); res.StatusCode != http.StatusForbidden {
			t.Fatalf("token %q: %d", bad, res.StatusCode)
		}
	}
	_, _, late := e.lyDownloadServer(func() time.Time { return time.Now().Add(11 * time.Minute) })
	rec := httptest.NewRecorder()
	late.ServeHTTP(rec, httptest.NewRequest("GET", wecr.LayerDownloadPath+tok, nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("expired URL: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	late.ServeHTTP(rec, httptest.NewRequest("POST", wecr.LayerDownloadPath+tok, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}

	// Errors of the operation.
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("team/dl"), LayerDigest: aws.String(sha([]byte("absent")))})
	imAs[*types.LayersNotFoundException](t, err)
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("team/dl"), LayerDigest: aws.String("sha256:abc")})
	imAs[*types.InvalidParameterException](t, err)
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("team/none"), LayerDigest: aws.String(sha(layer))})
	imAs[*types.RepositoryNotFoundException](t, err)

	// A URL outlives nothing: once the repository is gone, 404.
	r, err := e.app.Registry.Repository(ctx, account, "team/dl", false)
	imOK(t, err)
	imOK(t, e.app.Registry.DeleteRepository(ctx, r, true))
	if res, _ := get(u); res.StatusCode != http.StatusNotFound {
		t.Fatalf("download after repository deletion: %d", res.StatusCode)
	}
}
