package ecr_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Helpers of the lifecycle tests, prefixed lc.

// lcKeepTen keeps the 10 most recent images with a "v" tag.
const lcKeepTen = `{"rules":[{"rulePriority":1,"description":"keep the last 10 v images",
 "selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":10},
 "action":{"type":"expire"}}]}`

// lcOlderThan14Days expires every image pushed more than 14 days ago.
const lcOlderThan14Days = `{"rules":[{"rulePriority":5,"description":"everything after two weeks",
 "selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":14},
 "action":{"type":"expire"}}]}`

// lcHeader is a per-call option sending a request header.
func lcHeader(name, value string) func(*ecr.Options) {
	return func(o *ecr.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(name, value))
	}
}

// lcResponseHeader reads a header of the HTTP response behind an output.
func lcResponseHeader(t *testing.T, md middleware.Metadata, name string) string {
	t.Helper()
	res, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw HTTP response in the output's metadata")
	}
	return res.Header.Get(name)
}

// lcImage pushes an image of a config and the given layers (pushing the
// blobs) with tag ("" for untagged), returning its digest.
func (e *env) lcImage(repo, tag, seed string, layers ...[]byte) string {
	e.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","seed":"` + seed + `"}`)
	e.imBlob(repo, cfg)
	for _, l := range layers {
		e.imBlob(repo, l)
	}
	m := imManifest(cfg, layers...)
	ref := tag
	if ref == "" {
		ref = sha(m)
	}
	e.imPut(repo, ref, imOCIManifest, m)
	return sha(m)
}

func lcCfgSize(seed string) int64 {
	return int64(len(`{"architecture":"amd64","os":"linux","seed":"` + seed + `"}`))
}

// lcWait waits for the repository's preview to complete and returns it.
func (e *env) lcWait(repo string) *ecr.GetLifecyclePolicyPreviewOutput {
	e.t.Helper()
	w := ecr.NewLifecyclePolicyPreviewCompleteWaiter(e.ecr, func(o *ecr.LifecyclePolicyPreviewCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	out, err := w.WaitForOutput(context.Background(), &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)}, 30*time.Second)
	if err != nil {
		e.t.Fatalf("waiting for the preview of %s: %v", repo, err)
	}
	return out
}

// lcResults renders preview results as "digest tags action priority".
func lcResults(rs []types.LifecyclePolicyPreviewResult) []string {
	var out []string
	for _, r := range rs {
		s := fmt.Sprintf("%s [%s] %s %d", aws.ToString(r.ImageDigest), strings.Join(r.ImageTags, ","), r.Action.Type, aws.ToInt32(r.AppliedRulePriority))
		if r.Action.TargetStorageClass != "" {
			s += " " + string(r.Action.TargetStorageClass)
		}
		out = append(out, s)
	}
	return out
}

func TestLifecyclePolicyValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.imRepo("lc/val")
	put := func(doc string) error {
		_, err := e.ecr.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("lc/val"), LifecyclePolicyText: aws.String(doc)})
		return err
	}
	pad := strings.Repeat(" ", 100) // the model wants at least 100 characters
	for name, tc := range map[string]struct{ doc, want string }{
		"not JSON": {`{"rules": [` + pad, "not valid JSON"},
		"no rules": {`{"rules": []}` + pad, "rules: must contain at least one rule"},
		"count unit with a count": {`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":3},"action":{"type":"expire"}}]}`,
			"rules[0].selection.countUnit"},
		"tagged without patterns": {`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}`,
			"rules[0].selection"},
		"duplicate priority": {`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}},` +
			`{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}`,
			"rulePriority"},
		"unknown field": {`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"},"extra":1}]}`,
			"extra"},
	} {
		err := put(tc.doc)
		e := imAs[*types.InvalidParameterException](t, err)
		if msg := aws.ToString(e.Message); !strings.Contains(msg, "Lifecycle policy validation failure") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %q, want one mentioning %q", name, msg, tc.want)
		}
	}
	// The model's own constraints come first.
	imCode(t, put(`{"rules":[]}`), "ValidationException")
	// A repository that does not exist.
	_, err := e.ecr.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("lc/none"), LifecyclePolicyText: aws.String(lcKeepTen)})
	imAs[*types.RepositoryNotFoundException](t, err)
	_, err = e.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("lc/none")})
	imAs[*types.RepositoryNotFoundException](t, err)
	// Nothing was stored.
	_, err = e.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("lc/val")})
	imAs[*types.LifecyclePolicyNotFoundException](t, err)
	_, err = e.ecr.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String("lc/val")})
	imAs[*types.LifecyclePolicyNotFoundException](t, err)

	// Previews validate the same way.
	_, err = e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String("lc/val"),
		LifecyclePolicyText: aws.String(`{"rules": []}` + pad)})
	imAs[*types.InvalidParameterException](t, err)
	// No text and no policy of the repository.
	_, err = e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String("lc/val")})
	imAs[*types.LifecyclePolicyNotFoundException](t, err)
	_, err = e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String("lc/val")})
	imAs[*types.LifecyclePolicyPreviewNotFoundException](t, err)
	// A malformed X-Wharf-Preview-As-Of.
	_, err = e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String("lc/val"),
		LifecyclePolicyText: aws.String(lcKeepTen)}, lcHeader("X-Wharf-Preview-As-Of", "next tuesday"))
	pe := imAs[*types.InvalidParameterException](t, err)
	if !strings.Contains(aws.ToString(pe.Message), "X-Wharf-Preview-As-Of") {
		t.Fatalf("as-of error: %q", aws.ToString(pe.Message))
	}
}

func TestLifecyclePolicyRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.imRepo("lc/rt")
	out, err := e.ecr.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("lc/rt"), LifecyclePolicyText: aws.String(lcKeepTen)})
	imOK(t, err)
	if aws.ToString(out.RegistryId) != account || aws.ToString(out.RepositoryName) != "lc/rt" || aws.ToString(out.LifecyclePolicyText) != lcKeepTen {
		t.Fatalf("put: %+v", out)
	}
	got, err := e.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("lc/rt"), RegistryId: aws.String(account)})
	imOK(t, err)
	if aws.ToString(got.LifecyclePolicyText) != lcKeepTen || aws.ToString(got.RegistryId) != account || got.LastEvaluatedAt != nil {
		t.Fatalf("get: %+v", got)
	}

	// Replacing; then the (future) runner records an evaluation.
	_, err = e.ecr.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("lc/rt"), LifecyclePolicyText: aws.String(lcOlderThan14Days)})
	imOK(t, err)
	evaluated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	imOK(t, e.app.Stores.Meta.SetLifecycleEvaluated(ctx, r.ID, evaluated))
	got, err = e.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("lc/rt")})
	imOK(t, err)
	if aws.ToString(got.LifecyclePolicyText) != lcOlderThan14Days || got.LastEvaluatedAt == nil || !got.LastEvaluatedAt.Equal(evaluated) {
		t.Fatalf("get after replace: %+v", got)
	}

	del, err := e.ecr.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String("lc/rt")})
	imOK(t, err)
	if aws.ToString(del.LifecyclePolicyText) != lcOlderThan14Days || del.LastEvaluatedAt == nil || !del.LastEvaluatedAt.Equal(evaluated) ||
		aws.ToString(del.RepositoryName) != "lc/rt" || aws.ToString(del.RegistryId) != account {
		t.Fatalf("delete: %+v", del)
	}
	_, err = e.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("lc/rt")})
	imAs[*types.LifecyclePolicyNotFoundException](t, err)

	// The policy goes with its repository.
	_, err = e.ecr.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("lc/rt"), LifecyclePolicyText: aws.String(lcKeepTen)})
	imOK(t, err)
	_, err = e.ecr.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("lc/rt")})
	imOK(t, err)
	e.imRepo("lc/rt")
	_, err = e.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("lc/rt")})
	imAs[*types.LifecyclePolicyNotFoundException](t, err)

	// Each operation is its own IAM action.
	u := e.addUser(account, "lcreader", "AKIALIFECYCLEREAD001", "lcreader-secret",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview"],"Resource":"*"}]}`)
	_, err = u.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("lc/rt")})
	imAs[*types.LifecyclePolicyNotFoundException](t, err)
	for action, call := range map[string]func() error{
		"ecr:PutLifecyclePolicy": func() error {
			_, err := u.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("lc/rt"), LifecyclePolicyText: aws.String(lcKeepTen)})
			return err
		},
		"ecr:DeleteLifecyclePolicy": func() error {
			_, err := u.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String("lc/rt")})
			return err
		},
		"ecr:StartLifecyclePolicyPreview": func() error {
			_, err := u.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String("lc/rt"), LifecyclePolicyText: aws.String(lcKeepTen)})
			return err
		},
	} {
		err := call()
		imCode(t, err, "AccessDeniedException")
		if !strings.Contains(err.Error(), action) {
			t.Errorf("%s: %v", action, err)
		}
	}
}

// The scenario: twelve images v1..v12 pushed in that order (push
// times increase) and "keep the last 10 v images": v1 and v2 expire.
func TestLifecyclePreviewKeepLastTen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const repo = "lc/keep"
	e.imRepo(repo)
	base := []byte(strings.Repeat("B", 5000)) // every image's
	old := []byte(strings.Repeat("O", 700))   // v1's and v2's only
	main := e.lcImage(repo, "main", "main", base)
	untagged := e.lcImage(repo, "", "untagged", base)
	digests := map[int]string{}
	for i := 1; i <= 12; i++ {
		own := []byte(strings.Repeat("L", 100) + strconv.Itoa(i))
		layers := [][]byte{base, own}
		if i <= 2 {
			layers = append(layers, old)
		}
		digests[i] = e.lcImage(repo, "v"+strconv.Itoa(i), "v"+strconv.Itoa(i), layers...)
	}

	start, err := e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(lcKeepTen)})
	imOK(t, err)
	if start.Status != types.LifecyclePolicyPreviewStatusInProgress || aws.ToString(start.LifecyclePolicyText) != lcKeepTen ||
		aws.ToString(start.RepositoryName) != repo || aws.ToString(start.RegistryId) != account {
		t.Fatalf("start: %+v", start)
	}
	done := e.lcWait(repo)
	if done.Status != types.LifecyclePolicyPreviewStatusComplete {
		t.Fatalf("waiter returned status %s", done.Status)
	}

	out, err := e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	want := []string{digests[1] + " [v1] EXPIRE 1", digests[2] + " [v2] EXPIRE 1"}
	slices.Sort(want)
	if got := lcResults(out.PreviewResults); !slices.Equal(got, want) {
		t.Fatalf("results:\n got  %q\n want %q", got, want)
	}
	for _, r := range out.PreviewResults {
		if r.ImagePushedAt == nil || r.ImagePushedAt.IsZero() || r.StorageClass != types.LifecyclePolicyStorageClassStandard {
			t.Fatalf("result %+v", r)
		}
	}
	if out.Summary == nil || aws.ToInt32(out.Summary.ExpiringImageTotalCount) != 2 || len(out.Summary.TransitioningImageTotalCounts) != 0 {
		t.Fatalf("summary %+v", out.Summary)
	}
	if aws.ToString(out.LifecyclePolicyText) != lcKeepTen || out.NextToken != nil {
		t.Fatalf("output %+v", out)
	}
	// Freed: v1's and v2's configs and own layers, and their shared layer
	// once; not the base layer every other image uses.
	freed := lcCfgSize("v1") + lcCfgSize("v2") + int64(2*101+len(old))
	if got := lcResponseHeader(t, out.ResultMetadata, "X-Wharf-Preview-Bytes-Freed"); got != strconv.FormatInt(freed, 10) {
		t.Fatalf("X-Wharf-Preview-Bytes-Freed = %q, want %d", got, freed)
	}
	if got := lcResponseHeader(t, out.ResultMetadata, "X-Wharf-Preview-As-Of"); got == "" {
		t.Fatal("no X-Wharf-Preview-As-Of in the response")
	}

	// Pages of one.
	var paged []types.LifecyclePolicyPreviewResult
	pages := 0
	p := ecr.NewGetLifecyclePolicyPreviewPaginator(e.ecr, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		imOK(t, err)
		if len(page.PreviewResults) > 1 || aws.ToInt32(page.Summary.ExpiringImageTotalCount) != 2 {
			t.Fatalf("page %d: %+v", pages, page)
		}
		paged = append(paged, page.PreviewResults...)
		pages++
	}
	if got := lcResults(paged); !slices.Equal(got, lcResults(out.PreviewResults)) || pages != 2 {
		t.Fatalf("paged results %q in %d pages", got, pages)
	}
	first, err := e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(1)})
	imOK(t, err)
	if first.NextToken == nil {
		t.Fatal("no nextToken with maxResults 1")
	}
	// A token continues only the listing it came from.
	_, err = e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), NextToken: first.NextToken,
		Filter: &types.LifecyclePolicyPreviewFilter{TagStatus: types.TagStatusTagged}})
	imAs[*types.InvalidParameterException](t, err)
	// A forged token.
	_, err = e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), NextToken: aws.String("forged")})
	imAs[*types.InvalidParameterException](t, err)

	// Filters and image ids.
	filtered := func(in *ecr.GetLifecyclePolicyPreviewInput) []string {
		t.Helper()
		in.RepositoryName = aws.String(repo)
		out, err := e.ecr.GetLifecyclePolicyPreview(ctx, in)
		imOK(t, err)
		return lcResults(out.PreviewResults)
	}
	if got := filtered(&ecr.GetLifecyclePolicyPreviewInput{Filter: &types.LifecyclePolicyPreviewFilter{TagStatus: types.TagStatusUntagged}}); len(got) != 0 {
		t.Fatalf("UNTAGGED: %q", got)
	}
	if got := filtered(&ecr.GetLifecyclePolicyPreviewInput{Filter: &types.LifecyclePolicyPreviewFilter{TagStatus: types.TagStatusTagged}}); !slices.Equal(got, want) {
		t.Fatalf("TAGGED: %q", got)
	}
	if got := filtered(&ecr.GetLifecyclePolicyPreviewInput{ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v2")}}}); !slices.Equal(got, []string{digests[2] + " [v2] EXPIRE 1"}) {
		t.Fatalf("imageIds v2: %q", got)
	}
	if got := filtered(&ecr.GetLifecyclePolicyPreviewInput{ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(digests[1])}, {ImageTag: aws.String("v12")}}}); !slices.Equal(got, []string{digests[1] + " [v1] EXPIRE 1"}) {
		t.Fatalf("imageIds v1 and v12: %q", got)
	}
	_, err = e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(5),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v2")}}})
	imAs[*types.InvalidParameterException](t, err)
	_, err = e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String("sha256:nothex")}}})
	imAs[*types.InvalidParameterException](t, err)

	// The Wharf extension: the same repository as of 30 days from now
	// under "everything after two weeks" (nothing is that old today).
	_, err = e.ecr.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(lcOlderThan14Days)})
	imOK(t, err)
	_, err = e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	now := e.lcWait(repo)
	if len(now.PreviewResults) != 0 || aws.ToInt32(now.Summary.ExpiringImageTotalCount) != 0 || aws.ToString(now.LifecyclePolicyText) != lcOlderThan14Days {
		t.Fatalf("preview of the stored policy today: %+v", now)
	}
	if got := lcResponseHeader(t, now.ResultMetadata, "X-Wharf-Preview-Bytes-Freed"); got != "0" {
		t.Fatalf("bytes freed today: %q", got)
	}
	// A token of the previous preview does not continue this one.
	_, err = e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), NextToken: first.NextToken})
	imAs[*types.InvalidParameterException](t, err)
	asOf := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	_, err = e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)},
		lcHeader("X-Wharf-Preview-As-Of", asOf.Format(time.RFC3339)))
	imOK(t, err)
	later := e.lcWait(repo)
	if n := len(later.PreviewResults); n != 14 || aws.ToInt32(later.Summary.ExpiringImageTotalCount) != 14 {
		t.Fatalf("as of +30 days: %d results, summary %+v", n, later.Summary)
	}
	for _, r := range later.PreviewResults {
		if aws.ToInt32(r.AppliedRulePriority) != 5 || r.Action.Type != types.ImageActionTypeExpire {
			t.Fatalf("result %+v", r)
		}
	}
	got, err := e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(untagged)}, {ImageTag: aws.String("main")}}})
	imOK(t, err)
	wantIDs := []string{untagged + " [] EXPIRE 5", main + " [main] EXPIRE 5"}
	slices.Sort(wantIDs)
	if r := lcResults(got.PreviewResults); !slices.Equal(r, wantIDs) {
		t.Fatalf("as of +30 days, main and untagged: %q", r)
	}
	if h := lcResponseHeader(t, got.ResultMetadata, "X-Wharf-Preview-As-Of"); h != asOf.Format(time.RFC3339Nano) {
		t.Fatalf("X-Wharf-Preview-As-Of = %q, want %s", h, asOf.Format(time.RFC3339Nano))
	}
	// Everything goes: every blob is freed, the base layer once.
	all := int64(len(base)+len(old)) + lcCfgSize("main") + lcCfgSize("untagged")
	for i := 1; i <= 12; i++ {
		all += lcCfgSize("v"+strconv.Itoa(i)) + int64(100+len(strconv.Itoa(i)))
	}
	if h := lcResponseHeader(t, got.ResultMetadata, "X-Wharf-Preview-Bytes-Freed"); h != strconv.FormatInt(all, 10) {
		t.Fatalf("bytes freed as of +30 days: %s, want %d", h, all)
	}
	// A preview changes nothing.
	list, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	if len(list.ImageDetails) != 14 {
		t.Fatalf("%d images after previews, want 14", len(list.ImageDetails))
	}
}

// An index and its untagged children go together; a referrer goes with
// its subject.
func TestLifecyclePreviewIndexAndReferrers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const repo = "lc/multi"
	e.imRepo(repo)
	cfgA := []byte(`{"architecture":"amd64","os":"linux","seed":"a"}`)
	cfgB := []byte(`{"architecture":"arm64","os":"linux","seed":"b"}`)
	layer := []byte(strings.Repeat("M", 300))
	for _, b := range [][]byte{cfgA, cfgB, layer} {
		e.imBlob(repo, b)
	}
	childA, childB := imManifest(cfgA, layer), imManifest(cfgB, layer)
	e.imPut(repo, sha(childA), imOCIManifest, childA)
	e.imPut(repo, sha(childB), imOCIManifest, childB)
	idx := imIndex(childA, childB)
	e.imPut(repo, "old", imOCIIndex, idx)
	// A signature-like artifact of the index.
	sigCfg := []byte(`{}`)
	e.imBlob(repo, sigCfg)
	sig := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2}],"subject":{"mediaType":"%s","digest":"%s","size":%d}}`,
		imOCIManifest, sha(sigCfg), sha(sigCfg), imOCIIndex, sha(idx), len(idx)))
	e.imPut(repo, sha(sig), imOCIManifest, sig)
	newer := e.lcImage(repo, "new", "new", []byte("new layer"))

	keepOne := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`
	_, err := e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(keepOne)})
	imOK(t, err)
	out := e.lcWait(repo)
	want := []string{sha(idx) + " [old] EXPIRE 1", sha(childA) + " [] EXPIRE 1", sha(childB) + " [] EXPIRE 1", sha(sig) + " [] EXPIRE 1"}
	got := lcResults(out.PreviewResults)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) || aws.ToInt32(out.Summary.ExpiringImageTotalCount) != 4 {
		t.Fatalf("results:\n got  %q\n want %q", got, want)
	}
	if slices.ContainsFunc(out.PreviewResults, func(r types.LifecyclePolicyPreviewResult) bool { return aws.ToString(r.ImageDigest) == newer }) {
		t.Fatal("the newest image expires")
	}
	freed := int64(len(cfgA) + len(cfgB) + len(layer) + len(sigCfg))
	if h := lcResponseHeader(t, out.ResultMetadata, "X-Wharf-Preview-Bytes-Freed"); h != strconv.FormatInt(freed, 10) {
		t.Fatalf("bytes freed %s, want %d", h, freed)
	}
}

// One preview at a time per repository; a preview whose process died is
// reported FAILED and replaced.
func TestLifecyclePreviewInProgress(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const repo = "lc/busy"
	r := e.imRepo(repo)
	e.lcImage(repo, "v1", "v1", []byte("layer"))
	m := e.app.Stores.Meta

	// A preview running (in another process, say) since a minute ago.
	_, err := m.CreateLifecyclePreview(ctx, meta.LifecyclePreview{RepoID: r.ID, PolicyText: lcKeepTen, StartedAt: time.Now().Add(-time.Minute)}, time.Time{})
	imOK(t, err)
	_, err = e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(lcKeepTen)})
	imAs[*types.LifecyclePolicyPreviewInProgressException](t, err)
	out, err := e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	if out.Status != types.LifecyclePolicyPreviewStatusInProgress || len(out.PreviewResults) != 0 || out.Summary != nil {
		t.Fatalf("in progress: %+v", out)
	}
	if h := lcResponseHeader(t, out.ResultMetadata, "X-Wharf-Preview-Bytes-Freed"); h != "" {
		t.Fatalf("bytes freed of a preview in progress: %q", h)
	}

	// One whose process died an hour ago: FAILED, and the waiter says so.
	_, err = m.CreateLifecyclePreview(ctx, meta.LifecyclePreview{RepoID: r.ID, PolicyText: lcKeepTen, StartedAt: time.Now().Add(-time.Hour)}, time.Now())
	imOK(t, err)
	w := ecr.NewLifecyclePolicyPreviewCompleteWaiter(e.ecr, func(o *ecr.LifecyclePolicyPreviewCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)}, 10*time.Second); err == nil ||
		!strings.Contains(err.Error(), "Failure") {
		t.Fatalf("waiter on an abandoned preview: %v", err)
	}
	out, err = e.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	if out.Status != types.LifecyclePolicyPreviewStatusFailed {
		t.Fatalf("abandoned preview: %s", out.Status)
	}
	// A new one starts and completes.
	_, err = e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(lcKeepTen)})
	imOK(t, err)
	if done := e.lcWait(repo); len(done.PreviewResults) != 0 {
		t.Fatalf("results %q", lcResults(done.PreviewResults))
	}
}
