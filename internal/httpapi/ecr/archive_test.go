package ecr_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/jobs"
	"github.com/wharfhq/wharf/internal/registry"
)

// Helpers of the archive tests, prefixed ar.

// arEnv is an environment whose restores complete at once (when the job
// queue is run: arRestoreJobs).
func arEnv(t *testing.T) *env {
	return newEnvWith(t, func(c *config.Config) { c.ArchiveRestoreDelay = 0 })
}

// arRestoreJobs runs the queued restore jobs, as a node's job runner does.
func (e *env) arRestoreJobs() int {
	e.t.Helper()
	r := &jobs.Runner{Store: e.app.Stores.Meta}
	r.Handle(registry.KindRestore, jobs.RestoreHandler(e.app.Registry))
	n := 0
	for {
		ran, err := r.RunOnce(context.Background(), []string{registry.KindRestore})
		if err != nil {
			e.t.Fatal(err)
		}
		if !ran {
			return n
		}
		n++
	}
}

func (e *env) arUpdate(repo string, id types.ImageIdentifier, target types.TargetStorageClass) (*ecr.UpdateImageStorageClassOutput, error) {
	return e.ecr.UpdateImageStorageClass(context.Background(), &ecr.UpdateImageStorageClassInput{
		RepositoryName: aws.String(repo), ImageId: &id, TargetStorageClass: target})
}

// arDescribe describes one image by digest (any status).
func (e *env) arDescribe(repo, d string) types.ImageDetail {
	e.t.Helper()
	out, err := e.ecr.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(d)}}})
	imOK(e.t, err)
	if len(out.ImageDetails) != 1 {
		e.t.Fatalf("describe %s: %+v", d, out.ImageDetails)
	}
	return out.ImageDetails[0]
}

// arListed lists the digests DescribeImages and ListImages return with the
// status filter ("" for none), checking that both agree.
func (e *env) arListed(repo string, status types.ImageStatusFilter) []string {
	e.t.Helper()
	ctx := context.Background()
	in := &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)}
	lin := &ecr.ListImagesInput{RepositoryName: aws.String(repo)}
	if status != "" {
		in.Filter = &types.DescribeImagesFilter{ImageStatus: status}
		lin.Filter = &types.ListImagesFilter{ImageStatus: status}
	}
	out, err := e.ecr.DescribeImages(ctx, in)
	imOK(e.t, err)
	var ds []string
	for _, d := range out.ImageDetails {
		ds = append(ds, *d.ImageDigest)
	}
	slices.Sort(ds)
	lout, err := e.ecr.ListImages(ctx, lin)
	imOK(e.t, err)
	var ls []string
	for _, id := range lout.ImageIds {
		if !slices.Contains(ls, *id.ImageDigest) {
			ls = append(ls, *id.ImageDigest)
		}
	}
	slices.Sort(ls)
	if !slices.Equal(ds, ls) {
		e.t.Fatalf("filter %q: DescribeImages %v, ListImages %v", status, ds, ls)
	}
	return ds
}

// TestImageArchiveAndRestore walks one image through ECR's states:
// ACTIVE -> ARCHIVED (at once) -> ACTIVATING -> ACTIVE (by the restore
// job), checking listings, pulls on both planes and refused moves.
func TestImageArchiveAndRestore(t *testing.T) {
	e := arEnv(t)
	ctx := context.Background()
	const repo = "team/archive"
	_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	_, d := e.pushImage(repo, "v1", "one")
	_, other := e.pushImage(repo, "v2", "two")

	// Archive by tag: ARCHIVED at once.
	before := time.Now().Add(-time.Second)
	out, err := e.arUpdate(repo, types.ImageIdentifier{ImageTag: aws.String("v1")}, types.TargetStorageClassArchive)
	imOK(t, err)
	if out.ImageStatus != types.ImageStatusArchived || *out.ImageId.ImageDigest != d || *out.ImageId.ImageTag != "v1" ||
		*out.RegistryId != account || *out.RepositoryName != repo {
		t.Fatalf("archive: %+v", out)
	}
	det := e.arDescribe(repo, d)
	if det.ImageStatus != types.ImageStatusArchived || det.LastArchivedAt == nil || det.LastArchivedAt.Before(before) ||
		det.LastActivatedAt != nil || !slices.Equal(det.ImageTags, []string{"v1"}) {
		t.Fatalf("archived image detail: %+v", det)
	}

	// Listings: ACTIVE only by default; the filter selects.
	if got := e.arListed(repo, ""); !slices.Equal(got, []string{other}) {
		t.Fatalf("default listing %v, want only the active image", got)
	}
	if got := e.arListed(repo, types.ImageStatusFilterArchived); !slices.Equal(got, []string{d}) {
		t.Fatalf("ARCHIVED listing %v", got)
	}
	if got := e.arListed(repo, types.ImageStatusFilterAny); len(got) != 2 {
		t.Fatalf("ANY listing %v", got)
	}

	// Pulls are refused on both planes, saying how to restore.
	for _, ref := range []string{"v1", d} {
		res, body := e.v2("GET", "/v2/"+repo+"/manifests/"+ref, nil, keyID, secret, "Accept", imOCIManifest)
		var eb struct {
			Errors []struct{ Code, Message string }
		}
		_ = json.Unmarshal(body, &eb)
		if res.StatusCode != http.StatusNotFound || len(eb.Errors) != 1 || eb.Errors[0].Code != "MANIFEST_UNKNOWN" ||
			!strings.Contains(eb.Errors[0].Message, "archived") ||
			!strings.Contains(eb.Errors[0].Message, "aws ecr update-image-storage-class --repository-name "+repo+" --image-id imageDigest="+d+" --target-storage-class STANDARD") {
			t.Fatalf("GET %s of an archived image: %d %s", ref, res.StatusCode, body)
		}
		if res, _ := e.v2("HEAD", "/v2/"+repo+"/manifests/"+ref, nil, keyID, secret); res.StatusCode != http.StatusNotFound {
			t.Fatalf("HEAD %s of an archived image: %d", ref, res.StatusCode)
		}
	}
	bg, err := e.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageTag: aws.String("v2")}}})
	imOK(t, err)
	if len(bg.Images) != 1 || *bg.Images[0].ImageId.ImageDigest != other || len(bg.Failures) != 1 ||
		bg.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound || !strings.Contains(*bg.Failures[0].FailureReason, "archived") {
		t.Fatalf("BatchGetImage: %+v", bg)
	}

	// Archiving again, or restoring what is active, is not supported.
	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageDigest: aws.String(d)}, types.TargetStorageClassArchive)
	if ex := imAs[*types.ImageStorageClassUpdateNotSupportedException](t, err); !strings.Contains(ex.ErrorMessage(), "already in the ARCHIVE") {
		t.Fatalf("archive twice: %v", err)
	}
	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageTag: aws.String("v2")}, types.TargetStorageClassStandard)
	imAs[*types.ImageStorageClassUpdateNotSupportedException](t, err)

	// Restore: ACTIVATING until the job runs; still not pullable, and no
	// other move meanwhile.
	out, err = e.arUpdate(repo, types.ImageIdentifier{ImageDigest: aws.String(d)}, types.TargetStorageClassStandard)
	imOK(t, err)
	if out.ImageStatus != types.ImageStatusActivating || out.ImageId.ImageTag != nil {
		t.Fatalf("restore: %+v", out)
	}
	if st := e.arDescribe(repo, d).ImageStatus; st != types.ImageStatusActivating {
		t.Fatalf("status %s while restoring", st)
	}
	if got := e.arListed(repo, types.ImageStatusFilterActivating); !slices.Equal(got, []string{d}) {
		t.Fatalf("ACTIVATING listing %v", got)
	}
	if res, body := e.v2("GET", "/v2/"+repo+"/manifests/v1", nil, keyID, secret); res.StatusCode != http.StatusNotFound ||
		!strings.Contains(string(body), "ACTIVATING") {
		t.Fatalf("pull while activating: %d %s", res.StatusCode, body)
	}
	for _, target := range []types.TargetStorageClass{types.TargetStorageClassArchive, types.TargetStorageClassStandard} {
		_, err = e.arUpdate(repo, types.ImageIdentifier{ImageDigest: aws.String(d)}, target)
		if ex := imAs[*types.ImageStorageClassUpdateNotSupportedException](t, err); !strings.Contains(ex.ErrorMessage(), "ACTIVATING") {
			t.Fatalf("%s while activating: %v", target, err)
		}
	}
	if n := e.arRestoreJobs(); n != 1 {
		t.Fatalf("%d restore jobs ran", n)
	}
	det = e.arDescribe(repo, d)
	if det.ImageStatus != types.ImageStatusActive || det.LastActivatedAt == nil || det.LastArchivedAt == nil ||
		det.LastActivatedAt.Before(*det.LastArchivedAt) {
		t.Fatalf("restored image: %+v", det)
	}
	if res, body := e.v2("GET", "/v2/"+repo+"/manifests/v1", nil, keyID, secret, "Accept", imOCIManifest); res.StatusCode != http.StatusOK || sha(body) != d {
		t.Fatalf("pull after restore: %d %s", res.StatusCode, body)
	}
	if got := e.arListed(repo, ""); len(got) != 2 {
		t.Fatalf("default listing after restore %v", got)
	}
}

// TestImageArchiveErrors: the exceptions the model lists.
func TestImageArchiveErrors(t *testing.T) {
	e := arEnv(t)
	ctx := context.Background()
	const repo = "team/archive-errors"
	_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	m, d := e.pushImage(repo, "v1", "one")

	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageTag: aws.String("nope")}, types.TargetStorageClassArchive)
	if ex := imAs[*types.ImageNotFoundException](t, err); !strings.Contains(ex.ErrorMessage(), "imageTag:'nope'") {
		t.Fatalf("unknown tag: %v", err)
	}
	_, err = e.arUpdate(repo, types.ImageIdentifier{}, types.TargetStorageClassArchive)
	imAs[*types.InvalidParameterException](t, err)
	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageDigest: aws.String("sha256:zz")}, types.TargetStorageClassArchive)
	imAs[*types.InvalidParameterException](t, err)
	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageTag: aws.String("v1"), ImageDigest: aws.String(sha([]byte("x")))}, types.TargetStorageClassArchive)
	imAs[*types.ImageNotFoundException](t, err)
	_, err = e.arUpdate("team/none", types.ImageIdentifier{ImageTag: aws.String("v1")}, types.TargetStorageClassArchive)
	imAs[*types.RepositoryNotFoundException](t, err)
	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageTag: aws.String("v1")}, "GLACIER")
	imCode(t, err, "ValidationException")

	// Pushing an archived image again restores it at once (ECR: "If you
	// push an image that is currently archived, that image will be
	// automatically restored"), through PutImage as through /v2/.
	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageTag: aws.String("v1")}, types.TargetStorageClassArchive)
	imOK(t, err)
	_, err = e.ecr.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(m)),
		ImageManifestMediaType: aws.String(imOCIManifest), ImageTag: aws.String("v1")})
	imOK(t, err)
	if det := e.arDescribe(repo, d); det.ImageStatus != types.ImageStatusActive || det.LastActivatedAt == nil {
		t.Fatalf("after PutImage of an archived image: %+v", det)
	}
	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageTag: aws.String("v1")}, types.TargetStorageClassArchive)
	imOK(t, err)
	e.imPut(repo, "v1", imOCIManifest, m)
	if det := e.arDescribe(repo, d); det.ImageStatus != types.ImageStatusActive {
		t.Fatalf("after /v2/ push of an archived image: %+v", det)
	}

	// A user without ecr:UpdateImageStorageClass is refused.
	u := e.addUser(account, "reader", "AKIAARCHIVEREADER001", "reader-secret",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:Describe*","Resource":"*"}]}`)
	_, err = u.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo),
		ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}, TargetStorageClass: types.TargetStorageClassArchive})
	imCode(t, err, "AccessDeniedException")
}

// TestArchivedReferrers: ListImageReferrers reports a referrer's status and
// lists only active ones by default; /v2/ referrers omit archived ones.
func TestArchivedReferrers(t *testing.T) {
	e := arEnv(t)
	ctx := context.Background()
	const repo = "team/referrers"
	_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	subject, sd := e.pushImage(repo, "v1", "subject")
	cfg := []byte(`{}`)
	e.imBlob(repo, cfg)
	sig := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[],"subject":{"mediaType":"%s","digest":"%s","size":%d}}`,
		imOCIManifest, sha(cfg), imOCIManifest, sd, len(subject)))
	e.imPut(repo, sha(sig), imOCIManifest, sig)
	_, err = e.arUpdate(repo, types.ImageIdentifier{ImageDigest: aws.String(sha(sig))}, types.TargetStorageClassArchive)
	imOK(t, err)

	list := func(status types.ArtifactStatusFilter) []string {
		in := &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(sd)}}
		if status != "" {
			in.Filter = &types.ListImageReferrersFilter{ArtifactStatus: status}
		}
		out, err := e.ecr.ListImageReferrers(ctx, in)
		imOK(t, err)
		var got []string
		for _, r := range out.Referrers {
			got = append(got, *r.Digest+" "+string(r.ArtifactStatus))
		}
		return got
	}
	if got := list(""); len(got) != 0 {
		t.Fatalf("default referrers %v", got)
	}
	want := []string{sha(sig) + " ARCHIVED"}
	if got := list(types.ArtifactStatusFilterAny); !slices.Equal(got, want) {
		t.Fatalf("ANY referrers %v", got)
	}
	if got := list(types.ArtifactStatusFilterArchived); !slices.Equal(got, want) {
		t.Fatalf("ARCHIVED referrers %v", got)
	}
	res, body := e.v2("GET", "/v2/"+repo+"/referrers/"+sd, nil, keyID, secret)
	if res.StatusCode != http.StatusOK || strings.Contains(string(body), sha(sig)) {
		t.Fatalf("/v2/ referrers: %d %s", res.StatusCode, body)
	}
}

// TestPullTimeUpdateExclusions: the exclusion list round trip with its
// errors and quota, and its effect: an excluded principal's pulls leave
// lastRecordedPullTime alone, others' set it.
func TestPullTimeUpdateExclusions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const repo = "team/pulls"
	_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	_, d := e.pushImage(repo, "v1", "pulled")
	const pullPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"}]}`
	e.addUser(account, "ci", "AKIAPULLEXCLUDED0001", "ci-secret", pullPolicy)
	ciARN := "arn:aws:iam::" + account + ":user/ci"

	reg, err := e.ecr.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(ciARN)})
	imOK(t, err)
	if *reg.PrincipalArn != ciARN || reg.CreatedAt == nil || time.Since(*reg.CreatedAt) > time.Minute {
		t.Fatalf("register: %+v", reg)
	}
	_, err = e.ecr.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(ciARN)})
	imAs[*types.ExclusionAlreadyExistsException](t, err)
	_, err = e.ecr.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String("arn:aws:iam::" + account + ":root")})
	imCode(t, err, "ValidationException")

	pulled := func() *time.Time {
		t.Helper()
		imOK(t, e.app.Registry.FlushPulls(ctx))
		return e.arDescribe(repo, d).LastRecordedPullTime
	}
	// The excluded user's pulls (both planes) record nothing.
	if res, _ := e.v2("GET", "/v2/"+repo+"/manifests/v1", nil, "AKIAPULLEXCLUDED0001", "ci-secret", "Accept", imOCIManifest); res.StatusCode != 200 {
		t.Fatalf("excluded user's pull: %d", res.StatusCode)
	}
	ci := e.client("AKIAPULLEXCLUDED0001", "ci-secret")
	_, err = ci.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	imOK(t, err)
	if p := pulled(); p != nil {
		t.Fatalf("excluded pulls recorded %v", p)
	}
	// The root's pull records one.
	if res, _ := e.v2("GET", "/v2/"+repo+"/manifests/v1", nil, keyID, secret, "Accept", imOCIManifest); res.StatusCode != 200 {
		t.Fatalf("root pull: %d", res.StatusCode)
	}
	first := pulled()
	if first == nil {
		t.Fatal("root pull not recorded")
	}
	// Deregistered, the user's pulls count again.
	dereg, err := e.ecr.DeregisterPullTimeUpdateExclusion(ctx, &ecr.DeregisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(ciARN)})
	imOK(t, err)
	if *dereg.PrincipalArn != ciARN {
		t.Fatalf("deregister: %+v", dereg)
	}
	_, err = e.ecr.DeregisterPullTimeUpdateExclusion(ctx, &ecr.DeregisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(ciARN)})
	imAs[*types.ExclusionNotFoundException](t, err)
	time.Sleep(2 * time.Millisecond) // a later pull time than the root's
	_, err = ci.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	imOK(t, err)
	if p := pulled(); p == nil || !p.After(*first) {
		t.Fatalf("pull after deregister: %v (root's %v)", p, first)
	}

	// Listing pages in ARN order; the quota is 100 per registry.
	var arns []string
	for i := 0; i < registry.MaxPullTimeExclusions; i++ {
		arn := fmt.Sprintf("arn:aws:iam::%s:role/puller-%03d", account, i)
		arns = append(arns, arn)
		_, err := e.ecr.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(arn)})
		imOK(t, err)
	}
	_, err = e.ecr.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(ciARN)})
	imAs[*types.LimitExceededException](t, err)
	var got []string
	var pages int
	for in := (&ecr.ListPullTimeUpdateExclusionsInput{MaxResults: aws.Int32(30)}); pages < 10; pages++ {
		out, err := e.ecr.ListPullTimeUpdateExclusions(ctx, in)
		imOK(t, err)
		got = append(got, out.PullTimeUpdateExclusions...)
		if out.NextToken == nil {
			pages++
			break
		}
		in.NextToken = out.NextToken
	}
	if !slices.Equal(got, arns) || pages != 4 {
		t.Fatalf("%d pages, %d exclusions", pages, len(got))
	}
	all, err := e.ecr.ListPullTimeUpdateExclusions(ctx, &ecr.ListPullTimeUpdateExclusionsInput{})
	imOK(t, err)
	if len(all.PullTimeUpdateExclusions) != 100 || all.NextToken != nil {
		t.Fatalf("default page: %d, next %v", len(all.PullTimeUpdateExclusions), all.NextToken)
	}
	_, err = e.ecr.ListPullTimeUpdateExclusions(ctx, &ecr.ListPullTimeUpdateExclusionsInput{NextToken: aws.String("forged")})
	imCode(t, err, "InvalidParameterException")
	// Exclusions are per registry: another account's list is empty.
	o := e.addAccount("444455556666", "AKIAOTHERACCOUNT0001", "other-secret")
	ol, err := o.ListPullTimeUpdateExclusions(ctx, &ecr.ListPullTimeUpdateExclusionsInput{})
	imOK(t, err)
	if len(ol.PullTimeUpdateExclusions) != 0 {
		t.Fatalf("other account's exclusions: %v", ol.PullTimeUpdateExclusions)
	}
}

// TestLifecycleRunShowsInAPI: after a run, GetLifecyclePolicy shows
// lastEvaluatedAt, DescribeImages the transitioned image as ARCHIVED, and a
// preview of an archive rule reports the image's storage class.
func TestLifecycleRunShowsInAPI(t *testing.T) {
	e := arEnv(t)
	ctx := context.Background()
	const repo = "team/lifecycle-run"
	_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	_, old := e.pushImage(repo, "v1", "one")
	time.Sleep(2 * time.Millisecond) // distinct push times
	_, young := e.pushImage(repo, "v2", "two")
	policy := `{"rules":[
 {"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"transition","targetStorageClass":"archive"}},
 {"rulePriority":2,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},"action":{"type":"expire"}}]}`
	_, err = e.ecr.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(policy)})
	imOK(t, err)
	gp, err := e.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	if gp.LastEvaluatedAt != nil {
		t.Fatalf("lastEvaluatedAt before any run: %v", gp.LastEvaluatedAt)
	}
	before := time.Now().Add(-time.Second)
	r, err := e.app.Registry.Repository(ctx, account, repo, false)
	imOK(t, err)
	rep, err := e.app.Lifecycle.RunRepository(ctx, r, false)
	imOK(t, err)
	if len(rep.Outcomes) != 1 || rep.Outcomes[0].Digest != old {
		t.Fatalf("run: %+v", rep)
	}
	gp, err = e.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	imOK(t, err)
	if gp.LastEvaluatedAt == nil || gp.LastEvaluatedAt.Before(before) {
		t.Fatalf("lastEvaluatedAt %v", gp.LastEvaluatedAt)
	}
	det := e.arDescribe(repo, old)
	if det.ImageStatus != types.ImageStatusArchived || det.LastArchivedAt == nil || det.LastArchivedAt.Before(before) {
		t.Fatalf("transitioned image: %+v", det)
	}
	if st := e.arDescribe(repo, young).ImageStatus; st != types.ImageStatusActive {
		t.Fatalf("kept image %s", st)
	}
	// A preview 100 days on expires it, from the archive.
	_, err = e.ecr.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)},
		lcHeader("X-Wharf-Preview-As-Of", time.Now().Add(100*24*time.Hour).Format(time.RFC3339)))
	imOK(t, err)
	pv := e.lcWait(repo)
	if len(pv.PreviewResults) != 1 || *pv.PreviewResults[0].ImageDigest != old || pv.PreviewResults[0].StorageClass != types.LifecyclePolicyStorageClassArchive ||
		pv.PreviewResults[0].Action.Type != types.ImageActionTypeExpire || *pv.PreviewResults[0].AppliedRulePriority != 2 {
		t.Fatalf("preview: %+v", pv.PreviewResults)
	}
}
