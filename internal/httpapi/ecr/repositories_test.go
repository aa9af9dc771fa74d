package ecr_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
)

// Helpers of the control-plane tests (repositories, policies, registry);
// prefixed ctl so as not to collide with other tests of the package.

// ctlExpect asserts that err is (or wraps) the exception E and, when msg is
// not empty, that its message is msg.
func ctlExpect[E interface {
	error
	ErrorMessage() string
}](t *testing.T, err error, msg string) E {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want %T", err, e)
	}
	if msg != "" && e.ErrorMessage() != msg {
		t.Fatalf("%T message = %q, want %q", e, e.ErrorMessage(), msg)
	}
	return e
}

// ctlExpectContains is ctlExpect with a message fragment.
func ctlExpectContains[E interface {
	error
	ErrorMessage() string
}](t *testing.T, err error, frag string) E {
	t.Helper()
	e := ctlExpect[E](t, err, "")
	if !strings.Contains(e.ErrorMessage(), frag) {
		t.Fatalf("%T message = %q, want it to contain %q", e, e.ErrorMessage(), frag)
	}
	return e
}

// ctlExpectCode asserts the error code of err (for errors the SDK has no
// type for, such as AccessDeniedException).
func ctlExpectCode(t *testing.T, err error, code string) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
	return ae
}

func ctlNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ctlCreate(t *testing.T, c *ecr.Client, in *ecr.CreateRepositoryInput) types.Repository {
	t.Helper()
	out, err := c.CreateRepository(context.Background(), in)
	ctlNoErr(t, err)
	return *out.Repository
}

func ctlTags(t *testing.T, c *ecr.Client, arn string) map[string]string {
	t.Helper()
	out, err := c.ListTagsForResource(context.Background(), &ecr.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	ctlNoErr(t, err)
	m := map[string]string{}
	for _, tag := range out.Tags {
		m[*tag.Key] = *tag.Value
	}
	return m
}

func ctlDescribe(t *testing.T, c *ecr.Client, name string) types.Repository {
	t.Helper()
	out, err := c.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	ctlNoErr(t, err)
	if len(out.Repositories) != 1 {
		t.Fatalf("describe %s: %d repositories", name, len(out.Repositories))
	}
	return out.Repositories[0]
}

func ctlFilters(fs ...string) []types.ImageTagMutabilityExclusionFilter {
	var out []types.ImageTagMutabilityExclusionFilter
	for _, f := range fs {
		out = append(out, types.ImageTagMutabilityExclusionFilter{FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String(f)})
	}
	return out
}

func ctlFilterValues(fs []types.ImageTagMutabilityExclusionFilter) []string {
	var out []string
	for _, f := range fs {
		if f.FilterType != types.ImageTagMutabilityExclusionFilterTypeWildcard {
			panic("filter type " + string(f.FilterType))
		}
		out = append(out, *f.Filter)
	}
	return out
}

func TestCreateRepositoryDefaults(t *testing.T) {
	e := newEnv(t)
	r := ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if *r.RepositoryName != "team/app" || *r.RegistryId != account ||
		*r.RepositoryArn != "arn:aws:ecr:"+region+":"+account+":repository/team/app" ||
		*r.RepositoryUri != host+"/team/app" || r.CreatedAt == nil {
		t.Fatalf("repository %+v", r)
	}
	if r.ImageTagMutability != types.ImageTagMutabilityMutable || len(r.ImageTagMutabilityExclusionFilters) != 0 {
		t.Fatalf("mutability %s %v", r.ImageTagMutability, r.ImageTagMutabilityExclusionFilters)
	}
	if r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeAes256 || r.EncryptionConfiguration.KmsKey != nil {
		t.Fatalf("encryption %+v", r.EncryptionConfiguration)
	}
	if r.ImageScanningConfiguration == nil || r.ImageScanningConfiguration.ScanOnPush {
		t.Fatalf("scanning %+v", r.ImageScanningConfiguration)
	}
	if tags := ctlTags(t, e.ecr, *r.RepositoryArn); len(tags) != 0 {
		t.Fatalf("tags %v", tags)
	}

	_, err := e.ecr.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	ctlExpect[*types.RepositoryAlreadyExistsException](t, err,
		"The repository with name 'team/app' already exists in the registry with id '"+account+"'")
}

func TestCreateRepositorySettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := "arn:aws:kms:us-east-1:" + account + ":key/0a1b2c3d-1111-2222-3333-444455556666"
	r := ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{
		RepositoryName:                     aws.String("svc"),
		ImageTagMutability:                 types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: ctlFilters("latest", "dev-*"),
		ImageScanningConfiguration:         &types.ImageScanningConfiguration{ScanOnPush: true},
		EncryptionConfiguration:            &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String(key)},
		Tags: []types.Tag{
			{Key: aws.String("team"), Value: aws.String("platform")},
			{Key: aws.String("cost center:id"), Value: aws.String("")},
		},
	})
	check := func(r types.Repository) {
		t.Helper()
		if r.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion ||
			!slices.Equal(ctlFilterValues(r.ImageTagMutabilityExclusionFilters), []string{"latest", "dev-*"}) {
			t.Fatalf("mutability %s %v", r.ImageTagMutability, ctlFilterValues(r.ImageTagMutabilityExclusionFilters))
		}
		if !r.ImageScanningConfiguration.ScanOnPush {
			t.Fatal("scanOnPush not kept")
		}
		if r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeKms || aws.ToString(r.EncryptionConfiguration.KmsKey) != key {
			t.Fatalf("encryption %+v", r.EncryptionConfiguration)
		}
	}
	check(r)
	check(ctlDescribe(t, e.ecr, "svc"))
	if tags := ctlTags(t, e.ecr, *r.RepositoryArn); len(tags) != 2 || tags["team"] != "platform" || tags["cost center:id"] != "" {
		t.Fatalf("tags %v", tags)
	}

	// Every mutability setting, with filters exactly when it takes them.
	for i, m := range types.ImageTagMutability("").Values() {
		in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(fmt.Sprintf("mut%d", i)), ImageTagMutability: m}
		if strings.HasSuffix(string(m), "_WITH_EXCLUSION") {
			in.ImageTagMutabilityExclusionFilters = ctlFilters("nightly*")
		}
		r := ctlCreate(t, e.ecr, in)
		if r.ImageTagMutability != m || len(r.ImageTagMutabilityExclusionFilters) != len(in.ImageTagMutabilityExclusionFilters) {
			t.Fatalf("%s: got %s %v", m, r.ImageTagMutability, r.ImageTagMutabilityExclusionFilters)
		}
		if strings.HasSuffix(string(m), "_WITH_EXCLUSION") {
			_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(fmt.Sprintf("nofilter%d", i)), ImageTagMutability: m})
			ctlExpect[*types.InvalidParameterException](t, err,
				"Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'ImageTagMutabilityExclusionFilters can't be null when imageTagMutability is set as "+string(m)+"'")
		} else {
			_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(fmt.Sprintf("filter%d", i)), ImageTagMutability: m,
				ImageTagMutabilityExclusionFilters: ctlFilters("x*")})
			ctlExpectContains[*types.InvalidParameterException](t, err, "ImageTagMutabilityExclusionFilters can only be specified when")
		}
	}
	// Filters without a mutability setting mean MUTABLE with filters.
	_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("implicit"), ImageTagMutabilityExclusionFilters: ctlFilters("x*")})
	ctlExpect[*types.InvalidParameterException](t, err, "")

	// KMS_DSSE is accepted; a KMS key with AES256 is not.
	r = ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("dsse"),
		EncryptionConfiguration: &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeKmsDsse}})
	if r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeKmsDsse {
		t.Fatalf("encryption %+v", r.EncryptionConfiguration)
	}
	_, err = e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("aeskey"),
		EncryptionConfiguration: &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeAes256, KmsKey: aws.String(key)}})
	ctlExpectContains[*types.InvalidParameterException](t, err, "'encryptionConfiguration.kmsKey'")

	// Nothing was created by the failed calls.
	out, err := e.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ctlNoErr(t, err)
	var names []string
	for _, r := range out.Repositories {
		names = append(names, *r.RepositoryName)
	}
	if want := []string{"dsse", "mut0", "mut1", "mut2", "mut3", "svc"}; !slices.Equal(names, want) {
		t.Fatalf("repositories %v, want %v", names, want)
	}
}

func TestCreateRepositoryTagRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	for _, tc := range []struct {
		name string
		tags []types.Tag
	}{
		{"empty key", []types.Tag{tag("", "v")}},
		{"long key", []types.Tag{tag(strings.Repeat("k", 129), "v")}},
		{"long value", []types.Tag{tag("k", strings.Repeat("v", 257))}},
		{"reserved prefix", []types.Tag{tag("aws:owner", "v")}},
		{"bad key chars", []types.Tag{tag("a*b", "v")}},
		{"bad value chars", []types.Tag{tag("k", "a;b")}},
		{"duplicate key", []types.Tag{tag("k", "1"), tag("k", "2")}},
	} {
		_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("tagged"), Tags: tc.tags})
		if err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
		ctlExpect[*types.InvalidTagParameterException](t, err, "")
	}
	var many []types.Tag
	for i := range 51 {
		many = append(many, tag(fmt.Sprintf("k%02d", i), "v"))
	}
	_, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("tagged"), Tags: many})
	ctlExpect[*types.TooManyTagsException](t, err, "")
	// The limits themselves are fine: 50 tags, 128/256 characters (not bytes).
	many[49] = tag(strings.Repeat("é", 128), strings.Repeat("ü", 256))
	r := ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("tagged"), Tags: many[:50]})
	if tags := ctlTags(t, e.ecr, *r.RepositoryArn); len(tags) != 50 {
		t.Fatalf("%d tags", len(tags))
	}
}

func TestDescribeRepositories(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, n := range []string{"ee", "aa", "dd", "bb/x", "cc"} {
		ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String(n)})
	}
	// Names: in the order asked.
	out, err := e.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"dd", "aa"}, RegistryId: aws.String(account)})
	ctlNoErr(t, err)
	if len(out.Repositories) != 2 || *out.Repositories[0].RepositoryName != "dd" || *out.Repositories[1].RepositoryName != "aa" || out.NextToken != nil {
		t.Fatalf("%+v", out)
	}
	_, err = e.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"aa", "missing1", "missing2"}})
	ctlExpect[*types.RepositoryNotFoundException](t, err,
		"The repository with name 'missing1' does not exist in the registry with id '"+account+"'")
	_, err = e.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"aa"}, MaxResults: aws.Int32(1)})
	ctlExpectContains[*types.InvalidParameterException](t, err, "maxResults")

	// All, in pages.
	var names []string
	pages := 0
	p := ecr.NewDescribeRepositoriesPaginator(e.ecr, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		ctlNoErr(t, err)
		pages++
		if len(page.Repositories) > 2 {
			t.Fatalf("page of %d", len(page.Repositories))
		}
		for _, r := range page.Repositories {
			names = append(names, *r.RepositoryName)
		}
	}
	if want := []string{"aa", "bb/x", "cc", "dd", "ee"}; !slices.Equal(names, want) || pages != 3 {
		t.Fatalf("paged %v in %d pages", names, pages)
	}
	// A page that ends the listing has no token; without maxResults up to 100.
	out, err = e.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(5)})
	ctlNoErr(t, err)
	if len(out.Repositories) != 5 || out.NextToken != nil {
		t.Fatalf("%d repositories, token %v", len(out.Repositories), out.NextToken)
	}

	// Tokens are tamper-proof and bound to the registry.
	out, err = e.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(1)})
	ctlNoErr(t, err)
	tok := *out.NextToken
	_, err = e.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{NextToken: aws.String(tok[:len(tok)-2] + "AA")})
	ctlExpect[*types.InvalidParameterException](t, err, "Invalid NextToken")
	b := e.addAccount("444455556666", "AKIAOTHERACCOUNT0001", "other-secret")
	_, err = b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{NextToken: aws.String(tok)})
	ctlExpect[*types.InvalidParameterException](t, err, "Invalid NextToken")
	// Another account's listing only shows what it may describe: nothing.
	out, err = b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(account)})
	ctlNoErr(t, err)
	if len(out.Repositories) != 0 {
		t.Fatalf("account B sees %d repositories of A", len(out.Repositories))
	}
}

func TestDeleteRepository(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app"),
		ImageTagMutability: types.ImageTagMutabilityImmutable,
		Tags:               []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	e.pushImage("team/app", "v1", "del")

	_, err := e.ecr.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/app")})
	ctlExpect[*types.RepositoryNotEmptyException](t, err,
		"The repository with name 'team/app' in registry with id '"+account+"' cannot be deleted because it still contains images")

	out, err := e.ecr.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/app"), Force: true})
	ctlNoErr(t, err)
	if *out.Repository.RepositoryArn != *r.RepositoryArn || out.Repository.ImageTagMutability != types.ImageTagMutabilityImmutable {
		t.Fatalf("deleted %+v", out.Repository)
	}
	_, err = e.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team/app"}})
	ctlExpect[*types.RepositoryNotFoundException](t, err, "")
	_, err = e.ecr.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/app")})
	ctlExpect[*types.RepositoryNotFoundException](t, err,
		"The repository with name 'team/app' does not exist in the registry with id '"+account+"'")
	res, _ := e.v2("GET", "/v2/team/app/manifests/v1", nil, keyID, secret)
	if res.StatusCode != 404 {
		t.Fatalf("pull after delete: %d", res.StatusCode)
	}

	// A repository created again under the name starts afresh: no tags.
	r = ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	if tags := ctlTags(t, e.ecr, *r.RepositoryArn); len(tags) != 0 {
		t.Fatalf("tags survived the repository: %v", tags)
	}
	// An empty repository needs no force.
	if _, err := e.ecr.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatal(err)
	}
}

func TestPutImageTagMutability(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("app")})
	e.pushImage("app", "v1", "one")

	out, err := e.ecr.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("app"), ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: ctlFilters("latest"),
	})
	ctlNoErr(t, err)
	if *out.RegistryId != account || *out.RepositoryName != "app" || out.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion ||
		!slices.Equal(ctlFilterValues(out.ImageTagMutabilityExclusionFilters), []string{"latest"}) {
		t.Fatalf("%+v", out)
	}
	r := ctlDescribe(t, e.ecr, "app")
	if r.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion || len(r.ImageTagMutabilityExclusionFilters) != 1 {
		t.Fatalf("described %s %v", r.ImageTagMutability, r.ImageTagMutabilityExclusionFilters)
	}
	// The setting takes effect at once: v1 may not move, latest may.
	e.pushImage("app", "latest", "one")
	m2, _ := e.pushImage("app", "latest", "two")
	if res, _ := e.v2("PUT", "/v2/app/manifests/v1", m2, keyID, secret, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); res.StatusCode == 201 {
		t.Fatal("immutable tag v1 moved")
	}
	// Back to MUTABLE drops the filters.
	out, err = e.ecr.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("app"), ImageTagMutability: types.ImageTagMutabilityMutable})
	ctlNoErr(t, err)
	if out.ImageTagMutability != types.ImageTagMutabilityMutable || len(out.ImageTagMutabilityExclusionFilters) != 0 {
		t.Fatalf("%+v", out)
	}
	if r := ctlDescribe(t, e.ecr, "app"); r.ImageTagMutability != types.ImageTagMutabilityMutable || len(r.ImageTagMutabilityExclusionFilters) != 0 {
		t.Fatalf("described %s %v", r.ImageTagMutability, r.ImageTagMutabilityExclusionFilters)
	}
	e.pushImage("app", "v1", "two")

	_, err = e.ecr.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("app"), ImageTagMutability: types.ImageTagMutabilityMutableWithExclusion})
	ctlExpect[*types.InvalidParameterException](t, err, "")
	_, err = e.ecr.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("app"), ImageTagMutability: types.ImageTagMutabilityImmutable, ImageTagMutabilityExclusionFilters: ctlFilters("a")})
	ctlExpect[*types.InvalidParameterException](t, err, "")
	_, err = e.ecr.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("nope"), ImageTagMutability: types.ImageTagMutabilityImmutable})
	ctlExpect[*types.RepositoryNotFoundException](t, err, "")
}

func TestPutImageScanningConfiguration(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("app")})
	for _, on := range []bool{true, false} {
		out, err := e.ecr.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{
			RepositoryName: aws.String("app"), ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: on}})
		ctlNoErr(t, err)
		if *out.RegistryId != account || *out.RepositoryName != "app" || out.ImageScanningConfiguration.ScanOnPush != on {
			t.Fatalf("%+v", out)
		}
		if r := ctlDescribe(t, e.ecr, "app"); r.ImageScanningConfiguration.ScanOnPush != on {
			t.Fatalf("scanOnPush %v, want %v", r.ImageScanningConfiguration.ScanOnPush, on)
		}
	}
	_, err := e.ecr.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{
		RepositoryName: aws.String("nope"), ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}})
	ctlExpect[*types.RepositoryNotFoundException](t, err, "")
}

func TestResourceTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app"),
		Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})
	arn := *r.RepositoryArn
	_, err := e.ecr.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{
		{Key: aws.String("a"), Value: aws.String("2")}, {Key: aws.String("b"), Value: aws.String("3")}}})
	ctlNoErr(t, err)
	out, err := e.ecr.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	ctlNoErr(t, err)
	if len(out.Tags) != 2 || *out.Tags[0].Key != "a" || *out.Tags[0].Value != "2" || *out.Tags[1].Key != "b" {
		t.Fatalf("tags %+v", out.Tags)
	}
	if _, err := e.ecr.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"a", "absent"}}); err != nil {
		t.Fatal(err)
	}
	if tags := ctlTags(t, e.ecr, arn); len(tags) != 1 || tags["b"] != "3" {
		t.Fatalf("tags %v", tags)
	}

	// The limit counts the tags the repository would end with.
	var tags []types.Tag
	for i := range 49 {
		tags = append(tags, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
	}
	if _, err := e.ecr.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(arn), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ecr.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(arn), Tags: tags[:3]}) // overwrites: still 50
	ctlNoErr(t, err)
	_, err = e.ecr.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("one-more"), Value: aws.String("v")}}})
	ctlExpect[*types.TooManyTagsException](t, err, "")
	_, err = e.ecr.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}})
	ctlExpect[*types.InvalidTagParameterException](t, err, "")

	// Not a repository ARN of this region.
	for _, bad := range []string{
		"arn:aws:ecr:eu-west-1:" + account + ":repository/team/app",
		"arn:aws:ecr:" + region + ":" + account + ":registry",
		"arn:aws:s3:::bucket",
		"team/app",
		"arn:aws:ecr:" + region + ":" + account + ":repository/Team/App",
	} {
		_, err = e.ecr.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(bad)})
		ctlExpectContains[*types.InvalidParameterException](t, err, "resourceArn")
		_, err = e.ecr.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(bad), Tags: tags[:1]})
		ctlExpect[*types.InvalidParameterException](t, err, "")
		_, err = e.ecr.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: aws.String(bad), TagKeys: []string{"k1"}})
		ctlExpect[*types.InvalidParameterException](t, err, "")
	}
	missing := "arn:aws:ecr:" + region + ":" + account + ":repository/missing"
	_, err = e.ecr.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(missing)})
	ctlExpect[*types.RepositoryNotFoundException](t, err, "The repository with name 'missing' does not exist in the registry with id '"+account+"'")
	_, err = e.ecr.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(missing), Tags: tags[:1]})
	ctlExpect[*types.RepositoryNotFoundException](t, err, "")
	_, err = e.ecr.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: aws.String(missing), TagKeys: []string{"k1"}})
	ctlExpect[*types.RepositoryNotFoundException](t, err, "")
}
