package ecr_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The ECR side of the recycle bin, safe deletes and the platform guard.

func TestBatchDeleteImageIntoTheBin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const repo = "team/bin"
	m, d := e.pushImage(repo, "v1", "bin")
	e.imPut(repo, "stable", imOCIManifest, m)

	out, err := e.ecr.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(d)}}})
	imOK(t, err)
	if got := imIDs(out.ImageIds); strings.Join(got, " ") != d+"|stable "+d+"|v1" {
		t.Fatalf("deleted %v", got)
	}
	// Not visible anywhere...
	desc, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	if len(desc.ImageDetails) != 0 {
		t.Fatalf("binned image described: %+v", desc.ImageDetails)
	}
	_, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(d)}}})
	imAs[*types.ImageNotFoundException](t, err)
	if res, body := e.v2("GET", "/v2/"+repo+"/manifests/"+d, nil, keyID, secret); res.StatusCode != 404 || !strings.Contains(string(body), "MANIFEST_UNKNOWN") {
		t.Fatalf("/v2/: %d %s", res.StatusCode, body)
	}
	// ...but in the bin with its tags, restorable.
	r, err := e.app.Registry.Repository(ctx, account, repo, false)
	imOK(t, err)
	entry, err := e.app.Stores.Meta.GetBinEntry(ctx, r.ID, d)
	if err != nil || strings.Join(entry.Tags, ",") != "stable,v1" || entry.Via != "ecr" {
		t.Fatalf("bin entry %+v %v", entry, err)
	}
	res, err := e.app.Registry.RestoreImage(ctx, r, d, registry.Actor{Principal: "test", Via: "test"})
	if err != nil || len(res.Images) != 1 || len(res.Images[0].Tags) != 2 {
		t.Fatalf("restore %+v %v", res, err)
	}
	desc, err = e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	if len(desc.ImageDetails) != 1 || strings.Join(desc.ImageDetails[0].ImageTags, ",") != "stable,v1" {
		t.Fatalf("restored image: %+v", desc.ImageDetails)
	}
}

func TestBatchDeleteImageReferencedByManifestList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const repo = "team/multi"
	child, _ := e.imImage(repo, "child-tag", "child")
	idx := imIndex(child)
	e.imPut(repo, "multi", imOCIIndex, idx)

	out, err := e.ecr.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(sha(child))}}})
	imOK(t, err)
	if len(out.Failures) != 1 || out.Failures[0].FailureCode != types.ImageFailureCodeImageReferencedByManifestList ||
		aws.ToString(out.Failures[0].FailureReason) != "Requested image referenced by manifest list: ["+sha(idx)+"]" {
		t.Fatalf("failures %+v", out.Failures)
	}
	// Untagging the child removes the tag only: the index still lists it.
	out, err = e.ecr.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("child-tag")}}})
	imOK(t, err)
	if len(out.Failures) != 0 || len(out.ImageIds) != 1 {
		t.Fatalf("untag child: %+v", out)
	}
	if res, _ := e.v2("GET", "/v2/"+repo+"/manifests/"+sha(child), nil, keyID, secret); res.StatusCode != 200 {
		t.Fatalf("child gone with its tag although an index lists it: %d", res.StatusCode)
	}
	// /v2/ DELETE of the child: 409 naming the index.
	res, body := e.v2("DELETE", "/v2/"+repo+"/manifests/"+sha(child), nil, keyID, secret)
	if res.StatusCode != 409 || !strings.Contains(string(body), "DENIED") || !strings.Contains(string(body), sha(idx)) {
		t.Fatalf("/v2/ delete of a listed child: %d %s", res.StatusCode, body)
	}
}

func TestPutImagePlatformGuard(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const repo = "team/guarded"
	push := func(arch string) []byte {
		cfg := []byte(`{"architecture":"` + arch + `","os":"linux"}`)
		layer := []byte("layer " + arch)
		e.imBlob(repo, cfg)
		e.imBlob(repo, layer)
		return imManifest(cfg, layer)
	}
	amd := push("amd64")
	e.imPut(repo, "latest", imOCIManifest, amd)
	arm := push("arm64")
	r, err := e.app.Registry.Repository(ctx, account, repo, false)
	imOK(t, err)
	if _, err := e.app.Registry.SetPlatformGuard(ctx, r, true, registry.Actor{Principal: "test"}); err != nil {
		t.Fatal(err)
	}
	in := &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageTag: aws.String("latest"), ImageManifest: aws.String(string(arm))}
	_, err = e.ecr.PutImage(ctx, in)
	ex := imAs[*types.InvalidParameterException](t, err)
	if msg := aws.ToString(ex.Message); !strings.Contains(msg, "tag latest points at linux/amd64; refusing linux/arm64") || !strings.Contains(msg, "X-Wharf-Platform-Override") {
		t.Fatalf("message %q", msg)
	}
	// The override header, as an SDK sends it with a middleware.
	out, err := e.ecr.PutImage(ctx, in, func(o *ecr.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(registry.PlatformOverrideHeader, "true"))
	})
	imOK(t, err)
	if aws.ToString(out.Image.ImageId.ImageDigest) != sha(arm) {
		t.Fatalf("put %+v", out.Image.ImageId)
	}
}

// The lifecycle preview feeds sinceImageTagged from the tag history: an
// image promoted by re-tagging counts its age from then, not from its push.
func TestLifecyclePreviewSinceImageTagged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const repo = "lc/tagged"
	_, promoted := e.pushImage(repo, "rc-1", "promoted")
	_, stale := e.pushImage(repo, "rc-2", "stale")
	r, err := e.app.Registry.Repository(ctx, account, repo, false)
	imOK(t, err)
	// promoted is re-tagged 20 days from now (history as an import writes it).
	promotion := time.Now().Add(20 * 24 * time.Hour)
	imOK(t, e.app.Stores.Meta.AppendTagEvents(ctx, r.ID, []meta.TagEvent{{Tag: "prod", From: "", To: promoted, At: promotion, Actor: "test", Via: "test"}}))

	asOf := time.Now().Add(40 * 24 * time.Hour).UTC().Truncate(time.Second)
	preview := func(countType string) []string {
		t.Helper()
		doc := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"` + countType + `","countUnit":"days","countNumber":30},"action":{"type":"expire"}}]}`
		_, err := e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(doc)},
			lcHeader("X-Wharf-Preview-As-Of", asOf.Format(time.RFC3339)))
		imOK(t, err)
		var ds []string
		for _, res := range e.lcWait(repo).PreviewResults {
			ds = append(ds, aws.ToString(res.ImageDigest))
		}
		slices.Sort(ds)
		return ds
	}
	both := []string{promoted, stale}
	slices.Sort(both)
	if got := preview("sinceImagePushed"); !slices.Equal(got, both) {
		t.Fatalf("by push time: %v", got)
	}
	if got := preview("sinceImageTagged"); !slices.Equal(got, []string{stale}) {
		t.Fatalf("by tag time: %v, want only %s", got, stale)
	}
}
