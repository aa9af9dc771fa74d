package ecr_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// Helpers of the scanning tests, prefixed sc.

func scFilters(fs ...string) []types.ScanningRepositoryFilter {
	var out []types.ScanningRepositoryFilter
	for _, f := range fs {
		out = append(out, types.ScanningRepositoryFilter{Filter: aws.String(f), FilterType: types.ScanningRepositoryFilterTypeWildcard})
	}
	return out
}

func scRule(freq types.ScanFrequency, fs ...string) types.RegistryScanningRule {
	return types.RegistryScanningRule{ScanFrequency: freq, RepositoryFilters: scFilters(fs...)}
}

// scCreate creates a repository, with scan on push when asked.
func scCreate(t *testing.T, c *ecr.Client, name string, onPush bool) {
	t.Helper()
	_, err := c.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(name),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: onPush}})
	imOK(t, err)
}

func scFindings(c *ecr.Client, repo, tag string) (*ecr.DescribeImageScanFindingsOutput, error) {
	return c.DescribeImageScanFindings(context.Background(), &ecr.DescribeImageScanFindingsInput{
		RepositoryName: aws.String(repo), ImageId: &types.ImageIdentifier{ImageTag: aws.String(tag)}})
}

func TestScanningRegistryConfiguration(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	got, err := e.ecr.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
	imOK(t, err)
	if aws.ToString(got.RegistryId) != account || got.ScanningConfiguration.ScanType != types.ScanTypeBasic || len(got.ScanningConfiguration.Rules) != 0 {
		t.Fatalf("default configuration %+v", got.ScanningConfiguration)
	}

	for _, bad := range []*ecr.PutRegistryScanningConfigurationInput{
		// ECR accepts CONTINUOUS_SCAN only with enhanced scanning.
		{ScanType: types.ScanTypeBasic, Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyContinuousScan, "*")}},
		{ScanType: types.ScanTypeEnhanced, Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyManual, "*")}},
		{ScanType: types.ScanTypeEnhanced, Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyScanOnPush, "a"), scRule(types.ScanFrequencyScanOnPush, "b")}},
	} {
		_, err := e.ecr.PutRegistryScanningConfiguration(ctx, bad)
		imAs[*types.InvalidParameterException](t, err)
	}
	// The model's own constraints: the filter pattern, at most 2 rules.
	_, err = e.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeBasic,
		Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyScanOnPush, "Team/*")}})
	imCode(t, err, "ValidationException")

	put, err := e.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeEnhanced,
		Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyContinuousScan, "prod/*"), scRule(types.ScanFrequencyScanOnPush, "*")}})
	imOK(t, err)
	if put.RegistryScanningConfiguration.ScanType != types.ScanTypeEnhanced || len(put.RegistryScanningConfiguration.Rules) != 2 {
		t.Fatalf("put answered %+v", put.RegistryScanningConfiguration)
	}
	got, err = e.ecr.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
	imOK(t, err)
	rules := got.ScanningConfiguration.Rules
	if got.ScanningConfiguration.ScanType != types.ScanTypeEnhanced || len(rules) != 2 ||
		rules[0].ScanFrequency != types.ScanFrequencyContinuousScan || aws.ToString(rules[0].RepositoryFilters[0].Filter) != "prod/*" ||
		rules[1].ScanFrequency != types.ScanFrequencyScanOnPush {
		t.Fatalf("stored configuration %+v", got.ScanningConfiguration)
	}

	// Another account keeps its own (default) configuration.
	other := e.addAccount("444455556666", "AKIAOTHERSCAN0000001", "other-secret")
	og, err := other.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
	imOK(t, err)
	if og.ScanningConfiguration.ScanType != types.ScanTypeBasic || aws.ToString(og.RegistryId) != "444455556666" {
		t.Fatalf("other account's configuration %+v", og.ScanningConfiguration)
	}

	// Repository settings under it.
	scCreate(t, e.ecr, "prod/api", false)
	scCreate(t, e.ecr, "dev/web", false)
	b, err := e.ecr.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{
		RepositoryNames: []string{"prod/api", "dev/web", "gone/repo", "prod/api"}})
	imOK(t, err)
	if len(b.ScanningConfigurations) != 2 || len(b.Failures) != 1 {
		t.Fatalf("batch %+v", b)
	}
	p, d := b.ScanningConfigurations[0], b.ScanningConfigurations[1]
	if aws.ToString(p.RepositoryName) != "prod/api" || p.ScanFrequency != types.ScanFrequencyContinuousScan || !p.ScanOnPush ||
		aws.ToString(p.RepositoryArn) != "arn:aws:ecr:"+region+":"+account+":repository/prod/api" ||
		len(p.AppliedScanFilters) != 1 || aws.ToString(p.AppliedScanFilters[0].Filter) != "prod/*" {
		t.Fatalf("prod/api %+v", p)
	}
	if d.ScanFrequency != types.ScanFrequencyScanOnPush || !d.ScanOnPush || aws.ToString(d.AppliedScanFilters[0].Filter) != "*" {
		t.Fatalf("dev/web %+v", d)
	}
	if f := b.Failures[0]; aws.ToString(f.RepositoryName) != "gone/repo" || f.FailureCode != types.ScanningConfigurationFailureCodeRepositoryNotFound {
		t.Fatalf("failure %+v", f)
	}

	// Back to basic: the repository flag decides again.
	_, err = e.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeBasic})
	imOK(t, err)
	_, err = e.ecr.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("dev/web"),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}})
	imOK(t, err)
	b, err = e.ecr.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{RepositoryNames: []string{"prod/api", "dev/web"}})
	imOK(t, err)
	if b.ScanningConfigurations[0].ScanFrequency != types.ScanFrequencyManual || b.ScanningConfigurations[0].ScanOnPush ||
		b.ScanningConfigurations[1].ScanFrequency != types.ScanFrequencyScanOnPush || !b.ScanningConfigurations[1].ScanOnPush {
		t.Fatalf("basic batch %+v", b.ScanningConfigurations)
	}
}

func TestScanningStartImageScan(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	scCreate(t, e.ecr, "team/app", false)
	e.imImage("team/app", "v1", "one")
	start := func(repo, tag string) (*ecr.StartImageScanOutput, error) {
		return e.ecr.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String(repo), ImageId: &types.ImageIdentifier{ImageTag: aws.String(tag)}})
	}

	_, err := start("team/none", "v1")
	imAs[*types.RepositoryNotFoundException](t, err)
	_, err = start("team/app", "v9")
	imAs[*types.ImageNotFoundException](t, err)
	_, err = e.ecr.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("team/app"), ImageId: &types.ImageIdentifier{}})
	imAs[*types.InvalidParameterException](t, err)

	// Never scanned: no scan to describe.
	_, err = scFindings(e.ecr, "team/app", "v1")
	imAs[*types.ScanNotFoundException](t, err)

	out, err := start("team/app", "v1")
	imOK(t, err)
	if out.ImageScanStatus.Status != types.ScanStatusInProgress || aws.ToString(out.ImageId.ImageTag) != "v1" ||
		aws.ToString(out.ImageId.ImageDigest) == "" || aws.ToString(out.RegistryId) != account {
		t.Fatalf("start answered %+v", out)
	}
	// The job is queued; this server runs no workers, so it stays so.
	f, err := scFindings(e.ecr, "team/app", "v1")
	imOK(t, err)
	if f.ImageScanStatus.Status != types.ScanStatusInProgress || f.ImageScanFindings != nil {
		t.Fatalf("findings while in progress %+v", f)
	}
	// One basic scan per image per 24 hours.
	_, err = start("team/app", "v1")
	imAs[*types.LimitExceededException](t, err)

	// DescribeImages shows the status.
	d, err := e.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	imOK(t, err)
	if len(d.ImageDetails) != 1 || d.ImageDetails[0].ImageScanStatus == nil || d.ImageDetails[0].ImageScanStatus.Status != types.ScanStatusInProgress ||
		d.ImageDetails[0].ImageScanFindingsSummary != nil {
		t.Fatalf("describe images %+v", d.ImageDetails)
	}

	// Artifacts cannot be scanned.
	cfg := []byte(`{"chart":"x"}`)
	layer := []byte("chart tarball")
	e.imBlob("team/app", cfg)
	e.imBlob("team/app", layer)
	art := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"` +
		sha(cfg) + `","size":13},"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"` + sha(layer) + `","size":13}]}`)
	e.imPut("team/app", "chart", imOCIManifest, art)
	_, err = start("team/app", "chart")
	imAs[*types.UnsupportedImageTypeException](t, err)

	// Enhanced scanning refuses manual scans, as ECR does.
	_, err = e.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeEnhanced,
		Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyScanOnPush, "*")}})
	imOK(t, err)
	e.imImage("team/app", "v2", "two")
	_, err = start("team/app", "v2")
	imAs[*types.ValidationException](t, err)
}

func TestScanningOnPushQueues(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	scCreate(t, e.ecr, "team/scanned", true)
	scCreate(t, e.ecr, "team/plain", false)
	e.imImage("team/scanned", "v1", "one")
	e.imImage("team/plain", "v1", "one")

	// A push only queues the scan (IN_PROGRESS at once) and never waits.
	f, err := scFindings(e.ecr, "team/scanned", "v1")
	imOK(t, err)
	if f.ImageScanStatus.Status != types.ScanStatusInProgress {
		t.Fatalf("scanned repository: %+v", f.ImageScanStatus)
	}
	_, err = scFindings(e.ecr, "team/plain", "v1")
	imAs[*types.ScanNotFoundException](t, err)
	jobs, err := e.app.Stores.Meta.ListJobs(ctx, "scan")
	imOK(t, err)
	if len(jobs) != 1 {
		t.Fatalf("scan jobs %+v", jobs)
	}
	// The scan on push counts against the basic limit.
	_, err = e.ecr.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("team/scanned"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}})
	imAs[*types.LimitExceededException](t, err)

	// A rule selects repositories regardless of their flag; a push of
	// another tag of the same image does not queue it again.
	_, err = e.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeBasic,
		Rules: []types.RegistryScanningRule{scRule(types.ScanFrequencyScanOnPush, "team/pl*")}})
	imOK(t, err)
	m, _ := e.imImage("team/plain", "v2", "two")
	f, err = scFindings(e.ecr, "team/plain", "v2")
	imOK(t, err)
	if f.ImageScanStatus.Status != types.ScanStatusInProgress {
		t.Fatalf("rule-selected repository: %+v", f.ImageScanStatus)
	}
	e.imPut("team/plain", "v2-again", imOCIManifest, m)
	jobs, err = e.app.Stores.Meta.ListJobs(ctx, "scan")
	imOK(t, err)
	var keys []string
	for _, j := range jobs {
		keys = append(keys, j.Key)
	}
	if len(keys) != 2 || len(slices.Compact(slices.Sorted(slices.Values(keys)))) != 2 {
		t.Fatalf("scan jobs %v", keys)
	}
}

// TestScanningStartImageScanArchived: ECR refuses to scan an archived image.
func TestScanningStartImageScanArchived(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	scCreate(t, e.ecr, "team/app", false)
	e.imImage("team/app", "v1", "one")
	_, err := e.ecr.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String("team/app"),
		ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}, TargetStorageClass: types.TargetStorageClassArchive})
	imOK(t, err)
	_, err = e.ecr.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("team/app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v1")}})
	imAs[*types.ImageArchivedException](t, err)
}
