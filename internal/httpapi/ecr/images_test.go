package ecr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/app"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Helpers of the image tests, prefixed im so as not to collide with other
// tests of the package.

const (
	imOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	imOCIIndex    = "application/vnd.oci.image.index.v1+json"
	imOCIConfig   = "application/vnd.oci.image.config.v1+json"
	imOCILayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// imAs asserts that err is (or wraps) the exception E.
func imAs[E error](t *testing.T, err error) E {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want %T", err, err, e)
	}
	return e
}

func imCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
}

func imOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// imBlob pushes a blob over /v2/.
func (e *env) imBlob(repo string, b []byte) string {
	e.t.Helper()
	res, body := e.v2("POST", "/v2/"+repo+"/blobs/uploads/?digest="+sha(b), b, keyID, secret)
	if res.StatusCode != 201 {
		e.t.Fatalf("blob push: %d %s", res.StatusCode, body)
	}
	return sha(b)
}

// imManifest is an OCI image manifest of the given config and layers
// (which it does not push).
func imManifest(cfg []byte, layers ...[]byte) []byte {
	var ls []string
	for _, l := range layers {
		ls = append(ls, fmt.Sprintf(`{"mediaType":"%s","digest":"%s","size":%d}`, imOCILayer, sha(l), len(l)))
	}
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%d},"layers":[%s]}`,
		imOCIManifest, imOCIConfig, sha(cfg), len(cfg), strings.Join(ls, ",")))
}

// imIndex is an OCI index of the given manifests.
func imIndex(children ...[]byte) []byte {
	var ms []string
	for _, c := range children {
		ms = append(ms, fmt.Sprintf(`{"mediaType":"%s","digest":"%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}}`, imOCIManifest, sha(c), len(c)))
	}
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","manifests":[%s]}`, imOCIIndex, strings.Join(ms, ",")))
}

// imPut pushes a manifest over /v2/ by tag or digest.
func (e *env) imPut(repo, ref, mediaType string, m []byte) {
	e.t.Helper()
	res, body := e.v2("PUT", "/v2/"+repo+"/manifests/"+ref, m, keyID, secret, "Content-Type", mediaType)
	if res.StatusCode != 201 {
		e.t.Fatalf("manifest push %s:%s: %d %s", repo, ref, res.StatusCode, body)
	}
}

// imImage pushes a one-layer image with its blobs by tag (by digest when
// tag is empty), returning the manifest and the image size (config +
// layer).
func (e *env) imImage(repo, tag, seed string) ([]byte, int64) {
	e.t.Helper()
	cfg := []byte(`{"architecture":"arm64","os":"linux","seed":"` + seed + `"}`)
	layer := []byte(strings.Repeat("L", 100) + seed)
	e.imBlob(repo, cfg)
	e.imBlob(repo, layer)
	m := imManifest(cfg, layer)
	if tag == "" {
		tag = sha(m)
	}
	e.imPut(repo, tag, imOCIManifest, m)
	return m, int64(len(cfg) + len(layer))
}

func (e *env) imRepo(name string) meta.Repository {
	e.t.Helper()
	r, err := e.app.Registry.CreateRepository(context.Background(), meta.Repository{AccountID: account, Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func imIDs(ids []types.ImageIdentifier) []string {
	var out []string
	for _, id := range ids {
		out = append(out, aws.ToString(id.ImageDigest)+"|"+aws.ToString(id.ImageTag))
	}
	slices.Sort(out)
	return out
}

func TestImagesListImages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, da := e.pushImage("team/list", "a1", "a")
	e.imPut("team/list", "a2", imOCIManifest, e.imGet("team/list", "a1"))
	_, db := e.pushImage("team/list", "b1", "b")
	mc, _ := e.imImage("team/list", "", "c")
	dc := sha(mc)

	list := func(ts types.TagStatus, max int32) ([]string, int) {
		t.Helper()
		in := &ecr.ListImagesInput{RepositoryName: aws.String("team/list")}
		if ts != "" {
			in.Filter = &types.ListImagesFilter{TagStatus: ts}
		}
		if max > 0 {
			in.MaxResults = aws.Int32(max)
		}
		var all []types.ImageIdentifier
		pages := 0
		p := ecr.NewListImagesPaginator(e.ecr, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			imOK(t, err)
			if max > 0 && len(out.ImageIds) > int(max) {
				t.Fatalf("page of %d ids, maxResults %d", len(out.ImageIds), max)
			}
			all = append(all, out.ImageIds...)
			pages++
		}
		return imIDs(all), pages
	}
	tagged := []string{da + "|a1", da + "|a2", db + "|b1"}
	slices.Sort(tagged)
	every := append(slices.Clone(tagged), dc+"|")
	slices.Sort(every)

	if got, pages := list("", 0); !slices.Equal(got, every) || pages != 1 {
		t.Fatalf("ListImages = %v (%d pages), want %v", got, pages, every)
	}
	if got, _ := list(types.TagStatusAny, 0); !slices.Equal(got, every) {
		t.Fatalf("ANY = %v", got)
	}
	if got, _ := list(types.TagStatusTagged, 0); !slices.Equal(got, tagged) {
		t.Fatalf("TAGGED = %v, want %v", got, tagged)
	}
	if got, _ := list(types.TagStatusUntagged, 0); !slices.Equal(got, []string{dc + "|"}) {
		t.Fatalf("UNTAGGED = %v", got)
	}
	// Pages of one entry, splitting the two tags of one image.
	if got, pages := list("", 1); !slices.Equal(got, every) || pages != 4 {
		t.Fatalf("maxResults 1: %v in %d pages", got, pages)
	}
	if got, pages := list(types.TagStatusTagged, 2); !slices.Equal(got, tagged) || pages != 2 {
		t.Fatalf("TAGGED maxResults 2: %v in %d pages", got, pages)
	}
	// Archived images: none here.
	out, err := e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/list"),
		Filter: &types.ListImagesFilter{ImageStatus: types.ImageStatusFilterArchived}})
	imOK(t, err)
	if len(out.ImageIds) != 0 || out.NextToken != nil {
		t.Fatalf("ARCHIVED: %+v", out)
	}

	// A token continues only the listing that made it.
	first, err := e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/list"), MaxResults: aws.Int32(1)})
	imOK(t, err)
	if first.NextToken == nil {
		t.Fatal("no nextToken")
	}
	e.imRepo("team/other")
	_, err = e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/other"), NextToken: first.NextToken})
	imAs[*types.InvalidParameterException](t, err)
	_, err = e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/list"), NextToken: first.NextToken,
		Filter: &types.ListImagesFilter{TagStatus: types.TagStatusTagged}})
	imAs[*types.InvalidParameterException](t, err)
	_, err = e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/list"), NextToken: aws.String("bm90LWEtdG9rZW4")})
	imAs[*types.InvalidParameterException](t, err)

	_, err = e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/none")})
	if e := imAs[*types.RepositoryNotFoundException](t, err); !strings.Contains(aws.ToString(e.Message), "team/none") {
		t.Fatalf("message %q", aws.ToString(e.Message))
	}
	_, err = e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/list"), MaxResults: aws.Int32(1001)})
	imCode(t, err, "ValidationException")

	// Empty repository: an empty list.
	out, err = e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/other")})
	imOK(t, err)
	if out.ImageIds == nil || len(out.ImageIds) != 0 || out.NextToken != nil {
		t.Fatalf("empty repository: %+v", out)
	}
}

// imGet fetches a manifest over /v2/.
func (e *env) imGet(repo, ref string) []byte {
	e.t.Helper()
	res, body := e.v2("GET", "/v2/"+repo+"/manifests/"+ref, nil, keyID, secret,
		"Accept", imOCIManifest+", "+imOCIIndex+", application/vnd.docker.distribution.manifest.v2+json")
	if res.StatusCode != 200 {
		e.t.Fatalf("GET %s:%s: %d %s", repo, ref, res.StatusCode, body)
	}
	return body
}

func TestImagesDescribeImages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	ma, sizeA := e.imImage("team/desc", "v1", "a")
	e.imPut("team/desc", "latest", imOCIManifest, ma)
	mb, sizeB := e.imImage("team/desc", "", "bb")
	idx := imIndex(ma, mb)
	e.imPut("team/desc", "multi", imOCIIndex, idx)
	after := time.Now().Add(time.Second)

	out, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc")})
	imOK(t, err)
	if len(out.ImageDetails) != 3 || out.NextToken != nil {
		t.Fatalf("DescribeImages: %d details, token %v", len(out.ImageDetails), out.NextToken)
	}
	byDigest := map[string]types.ImageDetail{}
	for _, d := range out.ImageDetails {
		byDigest[aws.ToString(d.ImageDigest)] = d
	}
	check := func(m []byte, tags []string, size int64, mediaType, artifact string) {
		t.Helper()
		d, ok := byDigest[sha(m)]
		if !ok {
			t.Fatalf("no detail for %s", sha(m))
		}
		if aws.ToString(d.RegistryId) != account || aws.ToString(d.RepositoryName) != "team/desc" {
			t.Fatalf("registryId/repositoryName: %v %v", aws.ToString(d.RegistryId), aws.ToString(d.RepositoryName))
		}
		if !slices.Equal(d.ImageTags, tags) {
			t.Fatalf("imageTags %v, want %v", d.ImageTags, tags)
		}
		if aws.ToInt64(d.ImageSizeInBytes) != size {
			t.Fatalf("imageSizeInBytes %d, want %d", aws.ToInt64(d.ImageSizeInBytes), size)
		}
		if d.ImagePushedAt == nil || d.ImagePushedAt.Before(before) || d.ImagePushedAt.After(after) {
			t.Fatalf("imagePushedAt %v", d.ImagePushedAt)
		}
		if aws.ToString(d.ImageManifestMediaType) != mediaType {
			t.Fatalf("imageManifestMediaType %q", aws.ToString(d.ImageManifestMediaType))
		}
		if aws.ToString(d.ArtifactMediaType) != artifact {
			t.Fatalf("artifactMediaType %q, want %q", aws.ToString(d.ArtifactMediaType), artifact)
		}
		if d.ImageStatus != types.ImageStatusActive {
			t.Fatalf("imageStatus %q", d.ImageStatus)
		}
		if d.LastRecordedPullTime != nil {
			t.Fatalf("lastRecordedPullTime %v before any pull", d.LastRecordedPullTime)
		}
	}
	check(ma, []string{"latest", "v1"}, sizeA, imOCIManifest, imOCIConfig)
	check(mb, nil, sizeB, imOCIManifest, imOCIConfig)
	// An index is as large as its largest image (ECR's rule).
	check(idx, []string{"multi"}, max(sizeA, sizeB), imOCIIndex, "")

	// A pull shows up as lastRecordedPullTime once recorded.
	_, err = e.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/desc"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	imOK(t, err)
	imOK(t, e.app.Registry.FlushPulls(ctx))
	byID, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageDigest: aws.String(sha(ma))}, {ImageDigest: aws.String(sha(mb))}}})
	imOK(t, err)
	if len(byID.ImageDetails) != 2 {
		t.Fatalf("by imageIds: %d details, want 2 (one per image)", len(byID.ImageDetails))
	}
	pulled := byID.ImageDetails[0]
	if aws.ToString(pulled.ImageDigest) != sha(ma) || pulled.LastRecordedPullTime == nil ||
		pulled.LastRecordedPullTime.Before(before) || pulled.LastRecordedPullTime.After(time.Now().Add(time.Second)) {
		t.Fatalf("after a pull: %s lastRecordedPullTime %v", aws.ToString(pulled.ImageDigest), pulled.LastRecordedPullTime)
	}
	if byID.ImageDetails[1].LastRecordedPullTime != nil || aws.ToInt64(byID.ImageDetails[1].ImageSizeInBytes) != sizeB {
		t.Fatalf("unpulled image: %+v", byID.ImageDetails[1])
	}

	// Missing images.
	_, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageTag: aws.String("nope")}}})
	nf := imAs[*types.ImageNotFoundException](t, err)
	if want := "The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within the repository with name 'team/desc' in the registry with id '" + account + "'"; aws.ToString(nf.Message) != want {
		t.Fatalf("message %q", aws.ToString(nf.Message))
	}
	_, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc"),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(sha([]byte("nothing")))}}})
	imAs[*types.ImageNotFoundException](t, err)
	_, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc"),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String("sha256:short")}}})
	imAs[*types.InvalidParameterException](t, err)
	_, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc"), MaxResults: aws.Int32(5),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	imAs[*types.InvalidParameterException](t, err)

	// Filters.
	tagged, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc"),
		Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged}})
	imOK(t, err)
	if len(tagged.ImageDetails) != 2 {
		t.Fatalf("TAGGED: %d", len(tagged.ImageDetails))
	}
	untagged, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc"),
		Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusUntagged}})
	imOK(t, err)
	if len(untagged.ImageDetails) != 1 || aws.ToString(untagged.ImageDetails[0].ImageDigest) != sha(mb) {
		t.Fatalf("UNTAGGED: %+v", untagged.ImageDetails)
	}

	// Pagination.
	for i := range 4 {
		e.imImage("team/desc", fmt.Sprintf("p%d", i), fmt.Sprintf("page%d", i))
	}
	var seen []string
	pages := 0
	p := ecr.NewDescribeImagesPaginator(e.ecr, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/desc"), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		imOK(t, err)
		if len(page.ImageDetails) > 2 {
			t.Fatalf("page of %d", len(page.ImageDetails))
		}
		for _, d := range page.ImageDetails {
			seen = append(seen, aws.ToString(d.ImageDigest))
		}
		pages++
	}
	if len(seen) != 7 || pages != 4 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 7 {
		t.Fatalf("paginated: %d images in %d pages", len(seen), pages)
	}
	_, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/none")})
	imAs[*types.RepositoryNotFoundException](t, err)
}

// A referrer names its subject; both planes list it.
func TestImagesReferrers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	subject, _ := e.imImage("team/ref", "v1", "subject")
	empty := []byte("{}")
	e.imBlob("team/ref", empty)
	var refs []string
	for i, at := range []string{"application/vnd.example.sbom", "application/vnd.example.sig", "application/vnd.example.sig"} {
		sig := []byte(fmt.Sprintf("signature-%d", i))
		e.imBlob("team/ref", sig)
		m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","artifactType":"%s","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":%d}],"subject":{"mediaType":"%s","digest":"%s","size":%d},"annotations":{"n":"%d"}}`,
			imOCIManifest, at, sha(empty), sha(sig), len(sig), imOCIManifest, sha(subject), len(subject), i))
		e.imPut("team/ref", sha(m), imOCIManifest, m)
		refs = append(refs, sha(m))
	}
	slices.Sort(refs)

	all, err := e.ecr.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("team/ref"),
		SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(sha(subject))}})
	imOK(t, err)
	if len(all.Referrers) != 3 {
		t.Fatalf("referrers: %d", len(all.Referrers))
	}
	for i, r := range all.Referrers {
		if aws.ToString(r.Digest) != refs[i] || aws.ToString(r.MediaType) != imOCIManifest || aws.ToInt64(r.Size) == 0 ||
			r.ArtifactStatus != types.ArtifactStatusActive || r.Annotations["n"] == "" {
			t.Fatalf("referrer %d: %+v", i, r)
		}
	}
	sigs, err := e.ecr.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("team/ref"),
		SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(sha(subject))},
		Filter:    &types.ListImageReferrersFilter{ArtifactTypes: []string{"application/vnd.example.sig"}}})
	imOK(t, err)
	if len(sigs.Referrers) != 2 || aws.ToString(sigs.Referrers[0].ArtifactType) != "application/vnd.example.sig" {
		t.Fatalf("artifactTypes filter: %+v", sigs.Referrers)
	}
	var paged []string
	var token *string
	for {
		page, err := e.ecr.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("team/ref"),
			SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(sha(subject))}, MaxResults: aws.Int32(1), NextToken: token})
		imOK(t, err)
		if len(page.Referrers) != 1 {
			t.Fatalf("page of %d", len(page.Referrers))
		}
		paged = append(paged, aws.ToString(page.Referrers[0].Digest))
		if token = page.NextToken; token == nil {
			break
		}
	}
	if !slices.Equal(paged, refs) {
		t.Fatalf("paged %v, want %v", paged, refs)
	}

	// DescribeImages names the subject of a referrer.
	d, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/ref"),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(refs[0])}}})
	imOK(t, err)
	if aws.ToString(d.ImageDetails[0].SubjectManifestDigest) != sha(subject) {
		t.Fatalf("subjectManifestDigest %q", aws.ToString(d.ImageDetails[0].SubjectManifestDigest))
	}

	none, err := e.ecr.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("team/ref"),
		SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(sha([]byte("other")))}})
	imOK(t, err)
	if len(none.Referrers) != 0 {
		t.Fatalf("unknown subject: %+v", none.Referrers)
	}
	_, err = e.ecr.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("team/ref"),
		SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String("sha256:00")}})
	imAs[*types.InvalidParameterException](t, err)
}

func TestImagesBatchGetImage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m, d := e.pushImage("team/get", "v1", "get")
	out, err := e.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RepositoryName: aws.String("team/get"),
		ImageIds: []types.ImageIdentifier{
			{ImageTag: aws.String("v1")},
			{ImageDigest: aws.String(d)},
			{ImageTag: aws.String("v1"), ImageDigest: aws.String(d)},
			{ImageTag: aws.String("v1")}, // a duplicate: answered once
			{ImageTag: aws.String("missing")},
			{ImageDigest: aws.String("sha256:1234")},
			{ImageDigest: aws.String(sha([]byte("absent")))},
			{ImageTag: aws.String("bad tag!")},
			{},
			{ImageTag: aws.String("v1"), ImageDigest: aws.String(sha([]byte("other")))},
		},
	})
	imOK(t, err)
	if len(out.Images) != 3 {
		t.Fatalf("images: %d", len(out.Images))
	}
	for i, img := range out.Images {
		// The stored bytes, exactly.
		if aws.ToString(img.ImageManifest) != string(m) {
			t.Fatalf("image %d manifest differs:\n%s\n%s", i, aws.ToString(img.ImageManifest), m)
		}
		if aws.ToString(img.ImageManifestMediaType) != imOCIManifest || aws.ToString(img.RegistryId) != account ||
			aws.ToString(img.RepositoryName) != "team/get" || aws.ToString(img.ImageId.ImageDigest) != d {
			t.Fatalf("image %d: %+v", i, img)
		}
	}
	if aws.ToString(out.Images[0].ImageId.ImageTag) != "v1" || out.Images[1].ImageId.ImageTag != nil {
		t.Fatalf("imageIds: %+v %+v", out.Images[0].ImageId, out.Images[1].ImageId)
	}
	want := []struct {
		code   types.ImageFailureCode
		reason string
	}{
		{types.ImageFailureCodeImageNotFound, "Requested image not found"},
		{types.ImageFailureCodeInvalidImageDigest, ""},
		{types.ImageFailureCodeImageNotFound, "Requested image not found"},
		{types.ImageFailureCodeInvalidImageTag, ""},
		{types.ImageFailureCodeMissingDigestAndTag, ""},
		{types.ImageFailureCodeImageTagDoesNotMatchDigest, ""},
	}
	if len(out.Failures) != len(want) {
		t.Fatalf("failures: %+v", out.Failures)
	}
	for i, f := range out.Failures {
		if f.FailureCode != want[i].code || (want[i].reason != "" && aws.ToString(f.FailureReason) != want[i].reason) || aws.ToString(f.FailureReason) == "" {
			t.Fatalf("failure %d: %s %q, want %s", i, f.FailureCode, aws.ToString(f.FailureReason), want[i].code)
		}
	}
	if aws.ToString(out.Failures[0].ImageId.ImageTag) != "missing" {
		t.Fatalf("failure imageId %+v", out.Failures[0].ImageId)
	}

	// acceptedMediaTypes.
	acc, err := e.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/get"),
		ImageIds:           []types.ImageIdentifier{{ImageTag: aws.String("v1")}},
		AcceptedMediaTypes: []string{"application/vnd.docker.distribution.manifest.v2+json", imOCIManifest}})
	imOK(t, err)
	if len(acc.Images) != 1 {
		t.Fatalf("accepted: %+v", acc)
	}
	acc, err = e.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/get"),
		ImageIds:           []types.ImageIdentifier{{ImageTag: aws.String("v1")}},
		AcceptedMediaTypes: []string{"application/vnd.docker.distribution.manifest.v2+json"}})
	imOK(t, err)
	if len(acc.Images) != 0 || len(acc.Failures) != 1 || acc.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
		t.Fatalf("not accepted: %+v", acc)
	}

	_, err = e.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/none"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	imAs[*types.RepositoryNotFoundException](t, err)
}

// Data written through one plane reads identically through the other.
func TestImagesCrossPlane(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// /v2/ push, ECR read.
	m, d := e.pushImage("team/x", "v1", "x")
	desc, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/x")})
	imOK(t, err)
	if len(desc.ImageDetails) != 1 || aws.ToString(desc.ImageDetails[0].ImageDigest) != d ||
		!slices.Equal(desc.ImageDetails[0].ImageTags, []string{"v1"}) {
		t.Fatalf("DescribeImages after /v2/ push: %+v", desc.ImageDetails)
	}
	got, err := e.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/x"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	imOK(t, err)
	if len(got.Images) != 1 || !bytes.Equal([]byte(aws.ToString(got.Images[0].ImageManifest)), m) {
		t.Fatalf("BatchGetImage after /v2/ push: %+v", got)
	}

	// ECR PutImage of a new manifest (with unusual but valid formatting),
	// /v2/ read.
	cfg := []byte(`{"architecture":"amd64","os":"linux","seed":"put"}`)
	layer := []byte("layer-put")
	e.imBlob("team/x", cfg)
	e.imBlob("team/x", layer)
	m2 := []byte(fmt.Sprintf("{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"%s\",\n  \"config\": {\"mediaType\": \"%s\", \"digest\": \"%s\", \"size\": %d},\n  \"layers\": [{\"mediaType\": \"%s\", \"digest\": \"%s\", \"size\": %d}],\n  \"annotations\": {\"note\": \"<&> é\"}\n}\n",
		imOCIManifest, imOCIConfig, sha(cfg), len(cfg), imOCILayer, sha(layer), len(layer)))
	put, err := e.ecr.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/x"),
		ImageManifest: aws.String(string(m2)), ImageTag: aws.String("v2")})
	imOK(t, err)
	if aws.ToString(put.Image.ImageId.ImageDigest) != sha(m2) || aws.ToString(put.Image.ImageId.ImageTag) != "v2" ||
		aws.ToString(put.Image.ImageManifest) != string(m2) || aws.ToString(put.Image.ImageManifestMediaType) != imOCIManifest {
		t.Fatalf("PutImage: %+v", put.Image)
	}
	res, body := e.v2("GET", "/v2/team/x/manifests/v2", nil, keyID, secret, "Accept", imOCIManifest)
	if res.StatusCode != 200 || !bytes.Equal(body, m2) || res.Header.Get("Docker-Content-Digest") != sha(m2) {
		t.Fatalf("/v2/ GET after PutImage: %d %q", res.StatusCode, body)
	}
	// And a retag by PutImage of the /v2/-pushed manifest.
	_, err = e.ecr.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/x"),
		ImageManifest: aws.String(string(m)), ImageTag: aws.String("stable"), ImageDigest: aws.String(d)})
	imOK(t, err)
	if !bytes.Equal(e.imGet("team/x", "stable"), m) {
		t.Fatal("retag by PutImage: bytes differ over /v2/")
	}
}

func TestImagesPutImage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m, d := e.pushImage("team/put", "v1", "p")
	put := func(in ecr.PutImageInput) (*ecr.PutImageOutput, error) {
		if in.RepositoryName == nil {
			in.RepositoryName = aws.String("team/put")
		}
		return e.ecr.PutImage(ctx, &in)
	}

	// Same digest and tag: nothing to do, refused.
	_, err := put(ecr.PutImageInput{ImageManifest: aws.String(string(m)), ImageTag: aws.String("v1")})
	ae := imAs[*types.ImageAlreadyExistsException](t, err)
	if want := "Image with digest '" + d + "' and tag 'v1' already exists in the repository with name 'team/put' in registry with id '" + account + "'"; aws.ToString(ae.Message) != want {
		t.Fatalf("message %q", aws.ToString(ae.Message))
	}
	_, err = put(ecr.PutImageInput{ImageManifest: aws.String(string(m))})
	imAs[*types.ImageAlreadyExistsException](t, err)

	// Digest given and wrong.
	_, err = put(ecr.PutImageInput{ImageManifest: aws.String(string(m)), ImageTag: aws.String("v9"), ImageDigest: aws.String(sha([]byte("x")))})
	imAs[*types.ImageDigestDoesNotMatchException](t, err)

	// Bad manifests.
	for _, bad := range []ecr.PutImageInput{
		{ImageManifest: aws.String("not json")},
		{ImageManifest: aws.String(`{"schemaVersion":1}`)},
		{ImageManifest: aws.String(string(m)), ImageManifestMediaType: aws.String(imOCIIndex)},
		{ImageManifest: aws.String(string(m)), ImageTag: aws.String("bad:tag")},
	} {
		_, err = put(bad)
		imAs[*types.InvalidParameterException](t, err)
	}

	// Missing layers; missing images of an index.
	missingLayer := imManifest([]byte(`{"seed":"nolayer"}`), []byte("never-pushed"))
	_, err = put(ecr.PutImageInput{ImageManifest: aws.String(string(missingLayer)), ImageTag: aws.String("nl")})
	lnf := imAs[*types.LayersNotFoundException](t, err)
	if !strings.Contains(aws.ToString(lnf.Message), sha([]byte("never-pushed"))) {
		t.Fatalf("LayersNotFoundException message %q", aws.ToString(lnf.Message))
	}
	idx := imIndex(m, missingLayer)
	_, err = put(ecr.PutImageInput{ImageManifest: aws.String(string(idx)), ImageTag: aws.String("multi")})
	rnf := imAs[*types.ReferencedImagesNotFoundException](t, err)
	if !strings.Contains(aws.ToString(rnf.Message), sha(missingLayer)) {
		t.Fatalf("ReferencedImagesNotFoundException message %q", aws.ToString(rnf.Message))
	}
	// The index of present images goes in.
	okIdx := imIndex(m)
	out, err := put(ecr.PutImageInput{ImageManifest: aws.String(string(okIdx)), ImageTag: aws.String("multi")})
	imOK(t, err)
	if aws.ToString(out.Image.ImageManifestMediaType) != imOCIIndex {
		t.Fatalf("index media type %q", aws.ToString(out.Image.ImageManifestMediaType))
	}

	// A mutable tag moves; an immutable one does not.
	m2, d2 := e.pushImage("team/put", "other", "p2")
	_, err = put(ecr.PutImageInput{ImageManifest: aws.String(string(m2)), ImageTag: aws.String("v1")})
	imOK(t, err)
	if !bytes.Equal(e.imGet("team/put", "v1"), m2) {
		t.Fatal("tag v1 did not move")
	}
	r, err := e.app.Registry.Repository(ctx, account, "team/put", false)
	imOK(t, err)
	r.TagMutability = registry.Immutable
	imOK(t, e.app.Registry.UpdateRepository(ctx, r))
	_, err = put(ecr.PutImageInput{ImageManifest: aws.String(string(m)), ImageTag: aws.String("v1")})
	te := imAs[*types.ImageTagAlreadyExistsException](t, err)
	if want := "The image tag 'v1' already exists in the 'team/put' repository and cannot be overwritten because the repository is immutable."; aws.ToString(te.Message) != want {
		t.Fatalf("message %q", aws.ToString(te.Message))
	}
	// Same digest under an immutable tag: already exists, not a move.
	_, err = put(ecr.PutImageInput{ImageManifest: aws.String(string(m2)), ImageTag: aws.String("v1"), ImageDigest: aws.String(d2)})
	imAs[*types.ImageAlreadyExistsException](t, err)

	_, err = put(ecr.PutImageInput{RepositoryName: aws.String("team/none"), ImageManifest: aws.String(string(m))})
	imAs[*types.RepositoryNotFoundException](t, err)

	// The tag history says the writes came through ECR.
	hist, err := e.app.Stores.Meta.TagHistory(ctx, r.ID, "v1", 1)
	imOK(t, err)
	if len(hist) != 1 || hist[0].Via != "ecr" || hist[0].To != d2 {
		t.Fatalf("tag history %+v", hist)
	}
}

func TestImagesBatchDeleteImage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m, d := e.pushImage("team/del", "a", "del")
	e.imPut("team/del", "b", imOCIManifest, m)
	del := func(ids ...types.ImageIdentifier) *ecr.BatchDeleteImageOutput {
		t.Helper()
		out, err := e.ecr.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/del"), ImageIds: ids})
		imOK(t, err)
		return out
	}

	// A tag: the image stays while it has another.
	out := del(types.ImageIdentifier{ImageTag: aws.String("a")})
	if got := imIDs(out.ImageIds); !slices.Equal(got, []string{d + "|a"}) || len(out.Failures) != 0 {
		t.Fatalf("delete tag a: %v %+v", got, out.Failures)
	}
	if res, _ := e.v2("GET", "/v2/team/del/manifests/a", nil, keyID, secret); res.StatusCode != 404 {
		t.Fatalf("tag a after delete: %d", res.StatusCode)
	}
	if !bytes.Equal(e.imGet("team/del", d), m) {
		t.Fatal("image gone with a tag left")
	}
	// Its last tag: the image goes too (ECR).
	out = del(types.ImageIdentifier{ImageTag: aws.String("b")})
	if got := imIDs(out.ImageIds); !slices.Equal(got, []string{d + "|b"}) {
		t.Fatalf("delete tag b: %v", got)
	}
	if res, _ := e.v2("GET", "/v2/team/del/manifests/"+d, nil, keyID, secret); res.StatusCode != 404 {
		t.Fatalf("image after its last tag was deleted: %d", res.StatusCode)
	}

	// By digest: the image and all its tags.
	m, d = e.pushImage("team/del", "x", "del2")
	e.imPut("team/del", "y", imOCIManifest, m)
	out = del(types.ImageIdentifier{ImageDigest: aws.String(d)}, types.ImageIdentifier{ImageDigest: aws.String(d)})
	if got := imIDs(out.ImageIds); !slices.Equal(got, []string{d + "|x", d + "|y"}) {
		t.Fatalf("delete by digest: %v", got)
	}
	list, err := e.ecr.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/del")})
	imOK(t, err)
	if len(list.ImageIds) != 0 {
		t.Fatalf("left: %v", imIDs(list.ImageIds))
	}

	// An image an index lists cannot go; the index can, then the image.
	child, _ := e.imImage("team/del", "", "child")
	idx := imIndex(child)
	e.imPut("team/del", "multi", imOCIIndex, idx)
	out = del(types.ImageIdentifier{ImageDigest: aws.String(sha(child))},
		types.ImageIdentifier{ImageTag: aws.String("gone")},
		types.ImageIdentifier{ImageDigest: aws.String("sha256:xyz")},
		types.ImageIdentifier{ImageTag: aws.String("no way")},
		types.ImageIdentifier{})
	if len(out.ImageIds) != 0 || len(out.Failures) != 5 {
		t.Fatalf("failures: %+v deleted %v", out.Failures, imIDs(out.ImageIds))
	}
	for i, code := range []types.ImageFailureCode{types.ImageFailureCodeImageReferencedByManifestList, types.ImageFailureCodeImageNotFound,
		types.ImageFailureCodeInvalidImageDigest, types.ImageFailureCodeInvalidImageTag, types.ImageFailureCodeMissingDigestAndTag} {
		if out.Failures[i].FailureCode != code || aws.ToString(out.Failures[i].FailureReason) == "" {
			t.Fatalf("failure %d: %s %q, want %s", i, out.Failures[i].FailureCode, aws.ToString(out.Failures[i].FailureReason), code)
		}
	}
	if aws.ToString(out.Failures[1].FailureReason) != "Requested image not found" || aws.ToString(out.Failures[1].ImageId.ImageTag) != "gone" {
		t.Fatalf("not found failure: %+v", out.Failures[1])
	}
	out = del(types.ImageIdentifier{ImageTag: aws.String("multi")}, types.ImageIdentifier{ImageDigest: aws.String(sha(child))})
	if got := imIDs(out.ImageIds); len(got) != 2 || len(out.Failures) != 0 {
		t.Fatalf("index then child: %v %+v", got, out.Failures)
	}

	_, err = e.ecr.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/none"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("a")}}})
	imAs[*types.RepositoryNotFoundException](t, err)
}

// Every image operation asks for its own action.
func TestImagesAuthorization(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m, _ := e.pushImage("team/authz", "v1", "authz")
	reader := e.addUser(account, "lister", "AKIAIMAGELISTER00001", "lister-secret",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:ListImages","ecr:DescribeImages"],"Resource":"*"}]}`)
	_, err := reader.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/authz")})
	imOK(t, err)
	_, err = reader.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/authz")})
	imOK(t, err)
	deny := func(action string, err error) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || !strings.Contains(ae.ErrorMessage(), action) {
			t.Fatalf("%s: error %v, want AccessDeniedException", action, err)
		}
	}
	_, err = reader.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/authz"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	deny("ecr:BatchGetImage", err)
	_, err = reader.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("team/authz"), SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(sha(m))}})
	deny("ecr:BatchGetImage", err)
	_, err = reader.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/authz"), ImageManifest: aws.String(string(m)), ImageTag: aws.String("v2")})
	deny("ecr:PutImage", err)
	_, err = reader.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/authz"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	deny("ecr:BatchDeleteImage", err)
	_, err = reader.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("team/authz"), LayerDigests: []string{sha(m)}})
	deny("ecr:BatchCheckLayerAvailability", err)
	_, err = reader.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("team/authz")})
	deny("ecr:InitiateLayerUpload", err)
	_, err = reader.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("team/authz"), LayerDigest: aws.String(sha(m))})
	deny("ecr:GetDownloadUrlForLayer", err)

	// Another account sees nothing without a policy.
	other := e.addAccount("444455556666", "AKIAOTHERACCOUNT0009", "other-secret")
	_, err = other.ListImages(ctx, &ecr.ListImagesInput{RegistryId: aws.String(account), RepositoryName: aws.String("team/authz")})
	deny("ecr:ListImages", err)
}

// BenchmarkDescribeImages1000 describes 1,000 images in one page through
// the real HTTP handler with the SDK. server-ms/op is the time the server
// spends per call (the SDK's JSON decoding excluded); first-call-ms is the
// first call, before any cached manifest facts.
func BenchmarkDescribeImages1000(b *testing.B) { benchDescribeImages(b, false) }

// BenchmarkDescribeImages1000Scanned is the same with a completed scan of
// every image (imageScanStatus and imageScanFindingsSummary).
func BenchmarkDescribeImages1000Scanned(b *testing.B) { benchDescribeImages(b, true) }

func benchDescribeImages(b *testing.B, scanned bool) {
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.DataDir = b.TempDir()
	cfg.AccountID = account
	cfg.AdminAccessKeyID = keyID
	cfg.AdminSecretAccessKey = secret
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	var serverNanos, served atomic.Int64
	h := a.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		serverNanos.Add(int64(time.Since(start)))
		served.Add(1)
	}))
	defer srv.Close()
	client := (&env{srv: srv}).client(keyID, secret)

	reg := a.Registry
	r, err := reg.CreateRepository(ctx, meta.Repository{AccountID: account, Name: "bench/describe"})
	if err != nil {
		b.Fatal(err)
	}
	seed := time.Now().UnixNano()
	put := func(content []byte) {
		d := digest.FromBytes(content)
		if _, err := reg.PutBlob(ctx, r, d, int64(len(content)), bytes.NewReader(content)); err != nil {
			b.Fatal(err)
		}
	}
	cfgBlob := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","seed":%d}`, seed))
	layers := [][]byte{[]byte(fmt.Sprintf("layer-a-%d", seed)), []byte(fmt.Sprintf("layer-b-%d", seed))}
	put(cfgBlob)
	for _, l := range layers {
		put(l)
	}
	for i := range 1000 {
		m := imManifest(cfgBlob, layers...)
		m = append(m[:len(m)-1], []byte(fmt.Sprintf(`,"annotations":{"i":"%d-%d"}}`, seed, i))...)
		ref := names.Reference{Digest: digest.FromBytes(m)}
		if i%2 == 0 {
			ref = names.Reference{Tag: fmt.Sprintf("t%d", i)}
		}
		if _, err := reg.PutManifest(ctx, r, ref, imOCIManifest, m, registry.Actor{Via: "bench"}); err != nil {
			b.Fatal(err)
		}
		if scanned {
			d := string(digest.FromBytes(m))
			if _, err := a.Stores.Meta.QueueScan(ctx, meta.ScanRequest{RepoID: r.ID, Digest: d, Job: meta.Job{Kind: "bench-scan"}}); err != nil {
				b.Fatal(err)
			}
			if err := a.Stores.Meta.FinishScan(ctx, meta.ScanResult{RepoID: r.ID, Digest: d, Status: meta.ScanComplete,
				Counts: map[string]int{"HIGH": 2, "LOW": i % 5}, Findings: []byte("x")}); err != nil {
				b.Fatal(err)
			}
		}
	}
	in := &ecr.DescribeImagesInput{RepositoryName: aws.String("bench/describe"), MaxResults: aws.Int32(1000)}
	call := func() {
		want := served.Load() + 1
		out, err := client.DescribeImages(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		// The client may read the response before the handler has
		// accounted for it.
		for served.Load() < want {
			runtime.Gosched()
		}
		if len(out.ImageDetails) != 1000 || out.NextToken != nil || aws.ToInt64(out.ImageDetails[0].ImageSizeInBytes) == 0 ||
			scanned != (out.ImageDetails[999].ImageScanFindingsSummary != nil) {
			b.Fatalf("%d details, token %v", len(out.ImageDetails), out.NextToken)
		}
	}
	serverNanos.Store(0)
	call()
	first := serverNanos.Load()
	serverNanos.Store(0)
	n := 0
	for b.Loop() {
		call()
		n++
	}
	b.ReportMetric(float64(serverNanos.Load())/1e6/float64(n), "server-ms/op")
	b.ReportMetric(float64(first)/1e6, "first-call-ms")
}
