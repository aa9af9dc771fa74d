package ecr_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestDescribeRegistry(t *testing.T) {
	e := newEnv(t)
	out, err := e.ecr.DescribeRegistry(context.Background(), &ecr.DescribeRegistryInput{})
	ctlNoErr(t, err)
	if *out.RegistryId != account || out.ReplicationConfiguration == nil || out.ReplicationConfiguration.Rules == nil || len(out.ReplicationConfiguration.Rules) != 0 {
		t.Fatalf("%+v", out)
	}
	b := e.addAccount(ctlAccountB, ctlKeyB, ctlSecretB)
	out, err = b.DescribeRegistry(context.Background(), &ecr.DescribeRegistryInput{})
	ctlNoErr(t, err)
	if *out.RegistryId != ctlAccountB {
		t.Fatalf("B's registry %s", *out.RegistryId)
	}
}

func TestAccountSettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	get := func(c *ecr.Client, name string) string {
		t.Helper()
		out, err := c.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String(name)})
		ctlNoErr(t, err)
		if *out.Name != name {
			t.Fatalf("name %s", *out.Name)
		}
		return *out.Value
	}
	defaults := map[string]string{"BASIC_SCAN_TYPE_VERSION": "AWS_NATIVE", "REGISTRY_POLICY_SCOPE": "V2", "BLOB_MOUNTING": "DISABLED"}
	for name, def := range defaults {
		if v := get(e.ecr, name); v != def {
			t.Fatalf("%s default %q, want %q", name, v, def)
		}
	}
	for name, v := range map[string]string{"BASIC_SCAN_TYPE_VERSION": "CLAIR", "REGISTRY_POLICY_SCOPE": "V1", "BLOB_MOUNTING": "ENABLED"} {
		out, err := e.ecr.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String(name), Value: aws.String(v)})
		ctlNoErr(t, err)
		if *out.Name != name || *out.Value != v {
			t.Fatalf("%+v", out)
		}
		if got := get(e.ecr, name); got != v {
			t.Fatalf("%s = %q after put %q", name, got, v)
		}
	}
	// Settings are per account.
	b := e.addAccount(ctlAccountB, ctlKeyB, ctlSecretB)
	if v := get(b, "BLOB_MOUNTING"); v != "DISABLED" {
		t.Fatalf("B's BLOB_MOUNTING %q", v)
	}

	_, err := e.ecr.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("BLOB_MOUNTING"), Value: aws.String("YES")})
	ctlExpectContains[*types.InvalidParameterException](t, err, "ENABLED, DISABLED")
	_, err = e.ecr.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("NO_SUCH_SETTING"), Value: aws.String("V2")})
	ctlExpectContains[*types.InvalidParameterException](t, err, "NO_SUCH_SETTING")
	_, err = e.ecr.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("NO_SUCH_SETTING")})
	ctlExpectContains[*types.InvalidParameterException](t, err, "NO_SUCH_SETTING")
	if v := get(e.ecr, "BLOB_MOUNTING"); v != "ENABLED" {
		t.Fatalf("a rejected put changed the setting to %q", v)
	}
}

func ctlTemplate(t *testing.T, c *ecr.Client, in *ecr.CreateRepositoryCreationTemplateInput) types.RepositoryCreationTemplate {
	t.Helper()
	out, err := c.CreateRepositoryCreationTemplate(context.Background(), in)
	ctlNoErr(t, err)
	if *out.RegistryId != account {
		t.Fatalf("registryId %s", *out.RegistryId)
	}
	return *out.RepositoryCreationTemplate
}

func TestRepositoryCreationTemplates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + ctlAccountB + `"},"Action":"ecr:BatchGetImage"}]}`
	key := "arn:aws:kms:us-east-1:" + account + ":key/0a1b2c3d-1111-2222-3333-444455556666"
	full := ctlTemplate(t, e.ecr, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:                             aws.String("prod"),
		Description:                        aws.String("production"),
		AppliedFor:                         []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush, types.RCTAppliedForPullThroughCache},
		ImageTagMutability:                 types.ImageTagMutabilityMutableWithExclusion,
		ImageTagMutabilityExclusionFilters: ctlFilters("release-*"),
		EncryptionConfiguration:            &types.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String(key)},
		ResourceTags:                       []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
		RepositoryPolicy:                   aws.String(policy),
		LifecyclePolicy:                    aws.String(`{"rules":[]}`),
		CustomRoleArn:                      aws.String("arn:aws:iam::" + account + ":role/ecr-templates"),
	})
	check := func(tm types.RepositoryCreationTemplate) {
		t.Helper()
		if *tm.Prefix != "prod" || *tm.Description != "production" ||
			!slices.Equal(tm.AppliedFor, []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush, types.RCTAppliedForPullThroughCache}) ||
			tm.ImageTagMutability != types.ImageTagMutabilityMutableWithExclusion ||
			!slices.Equal(ctlFilterValues(tm.ImageTagMutabilityExclusionFilters), []string{"release-*"}) ||
			tm.EncryptionConfiguration.EncryptionType != types.EncryptionTypeKms || *tm.EncryptionConfiguration.KmsKey != key ||
			len(tm.ResourceTags) != 1 || *tm.ResourceTags[0].Key != "env" ||
			*tm.RepositoryPolicy != policy || *tm.LifecyclePolicy != `{"rules":[]}` ||
			*tm.CustomRoleArn != "arn:aws:iam::"+account+":role/ecr-templates" ||
			tm.CreatedAt == nil || tm.UpdatedAt == nil {
			t.Fatalf("template %+v", tm)
		}
	}
	check(full)
	// Defaults: MUTABLE, AES256.
	root := ctlTemplate(t, e.ecr, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("ROOT"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication}})
	if root.ImageTagMutability != types.ImageTagMutabilityMutable || root.EncryptionConfiguration.EncryptionType != types.EncryptionTypeAes256 || len(root.ResourceTags) != 0 {
		t.Fatalf("defaults %+v", root)
	}
	ctlTemplate(t, e.ecr, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("dev/team"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}})

	_, err := e.ecr.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("prod"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}})
	ctlExpect[*types.TemplateAlreadyExistsException](t, err, "The repository creation template with prefix 'prod' already exists in the registry with id '"+account+"'")
	for name, in := range map[string]*ecr.CreateRepositoryCreationTemplateInput{
		"no scenario":          {Prefix: aws.String("x1"), AppliedFor: []types.RCTAppliedFor{}},
		"exclusion no filters": {Prefix: aws.String("x2"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}, ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion},
		"filters no exclusion": {Prefix: aws.String("x3"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}, ImageTagMutability: types.ImageTagMutabilityImmutable, ImageTagMutabilityExclusionFilters: ctlFilters("a")},
		"bad policy":           {Prefix: aws.String("x4"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}, RepositoryPolicy: aws.String(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)},
		"bad lifecycle":        {Prefix: aws.String("x5"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}, LifecyclePolicy: aws.String(`{`)},
	} {
		_, err := e.ecr.CreateRepositoryCreationTemplate(ctx, in)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		ctlExpect[*types.InvalidParameterException](t, err, "")
	}
	_, err = e.ecr.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("x6"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush},
		ResourceTags: []types.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("v")}}})
	ctlExpect[*types.InvalidTagParameterException](t, err, "")
	// appliedFor values outside the model's enum are refused by validation.
	_, err = e.ecr.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("x7"), AppliedFor: []types.RCTAppliedFor{"ALWAYS"}})
	ctlExpectCode(t, err, "ValidationException")

	// Describe: all by prefix, some, in pages.
	list := func(in *ecr.DescribeRepositoryCreationTemplatesInput) []string {
		t.Helper()
		var prefixes []string
		p := ecr.NewDescribeRepositoryCreationTemplatesPaginator(e.ecr, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			ctlNoErr(t, err)
			if *page.RegistryId != account || (in.MaxResults != nil && len(page.RepositoryCreationTemplates) > int(*in.MaxResults)) {
				t.Fatalf("page %+v", page)
			}
			for _, tm := range page.RepositoryCreationTemplates {
				prefixes = append(prefixes, *tm.Prefix)
				if *tm.Prefix == "prod" {
					check(tm)
				}
			}
		}
		return prefixes
	}
	if got := list(&ecr.DescribeRepositoryCreationTemplatesInput{}); !slices.Equal(got, []string{"ROOT", "dev/team", "prod"}) {
		t.Fatalf("templates %v", got)
	}
	if got := list(&ecr.DescribeRepositoryCreationTemplatesInput{MaxResults: aws.Int32(1)}); !slices.Equal(got, []string{"ROOT", "dev/team", "prod"}) {
		t.Fatalf("paged templates %v", got)
	}
	if got := list(&ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"prod", "ROOT", "absent"}}); !slices.Equal(got, []string{"ROOT", "prod"}) {
		t.Fatalf("templates by prefix %v", got)
	}

	// Update changes what it is given and keeps the rest.
	up, err := e.ecr.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("prod"), Description: aws.String("live")})
	ctlNoErr(t, err)
	tm := *up.RepositoryCreationTemplate
	if *up.RegistryId != account || *tm.Description != "live" || tm.ImageTagMutability != types.ImageTagMutabilityMutableWithExclusion || *tm.RepositoryPolicy != policy ||
		!tm.CreatedAt.Equal(*full.CreatedAt) || tm.UpdatedAt.Before(*full.UpdatedAt) {
		t.Fatalf("updated %+v", tm)
	}
	up, err = e.ecr.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("prod"), ImageTagMutability: types.ImageTagMutabilityImmutable})
	ctlNoErr(t, err)
	if tm := up.RepositoryCreationTemplate; tm.ImageTagMutability != types.ImageTagMutabilityImmutable || len(tm.ImageTagMutabilityExclusionFilters) != 0 || *tm.Description != "live" {
		t.Fatalf("updated %+v", tm)
	}
	_, err = e.ecr.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("prod"), ImageTagMutability: types.ImageTagMutabilityMutableWithExclusion})
	ctlExpect[*types.InvalidParameterException](t, err, "")
	_, err = e.ecr.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("prod"), AppliedFor: []types.RCTAppliedFor{}})
	ctlExpect[*types.InvalidParameterException](t, err, "")
	_, err = e.ecr.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("absent"), Description: aws.String("d")})
	ctlExpect[*types.TemplateNotFoundException](t, err, "The repository creation template with prefix 'absent' does not exist in the registry with id '"+account+"'")

	del, err := e.ecr.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("prod")})
	ctlNoErr(t, err)
	if *del.RegistryId != account || *del.RepositoryCreationTemplate.Prefix != "prod" || *del.RepositoryCreationTemplate.Description != "live" {
		t.Fatalf("deleted %+v", del.RepositoryCreationTemplate)
	}
	_, err = e.ecr.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("prod")})
	ctlExpect[*types.TemplateNotFoundException](t, err, "The repository creation template with prefix 'prod' does not exist in the registry with id '"+account+"'")
	if got := list(&ecr.DescribeRepositoryCreationTemplatesInput{}); !slices.Equal(got, []string{"ROOT", "dev/team"}) {
		t.Fatalf("templates %v", got)
	}
	// Templates are per account.
	b := e.addAccount(ctlAccountB, ctlKeyB, ctlSecretB)
	out, err := b.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
	ctlNoErr(t, err)
	if len(out.RepositoryCreationTemplates) != 0 || *out.RegistryId != ctlAccountB {
		t.Fatalf("B sees %+v", out.RepositoryCreationTemplates)
	}
}

// A push that creates a repository applies the CREATE_ON_PUSH template
// with the longest matching prefix (ROOT last); other scenarios' templates
// are ignored; without templates the defaults apply.
func TestCreateOnPushAppliesTemplate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.addAccount(ctlAccountB, ctlKeyB, ctlSecretB)
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + ctlAccountB + `:root"},"Action":"ecr:DescribeRepositories"}]}`
	key := "arn:aws:kms:us-east-1:" + account + ":key/0a1b2c3d-1111-2222-3333-444455556666"
	onPush := []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}
	ctlTemplate(t, e.ecr, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("ROOT"), AppliedFor: onPush, ImageTagMutability: types.ImageTagMutabilityImmutable,
	})
	ctlTemplate(t, e.ecr, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:                             aws.String("team"),
		AppliedFor:                         []types.RCTAppliedFor{types.RCTAppliedForReplication, types.RCTAppliedForCreateOnPush},
		ImageTagMutability:                 types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: ctlFilters("latest", "dev-*"),
		EncryptionConfiguration:            &types.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String(key)},
		ResourceTags:                       []types.Tag{{Key: aws.String("owner"), Value: aws.String("team")}, {Key: aws.String("tier"), Value: aws.String("1")}},
		RepositoryPolicy:                   aws.String(policy),
	})
	// Longer, but not for pushes.
	ctlTemplate(t, e.ecr, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("team/mirror"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForPullThroughCache},
		ImageTagMutability: types.ImageTagMutabilityMutable,
	})
	// Longer and for pushes, with a trailing slash.
	ctlTemplate(t, e.ecr, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("team/sandbox/"), AppliedFor: onPush,
		EncryptionConfiguration: &types.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: types.EncryptionTypeKmsDsse},
	})

	e.pushImage("team/api", "v1", "a")
	e.pushImage("team/mirror/x", "v1", "b")
	e.pushImage("team/sandbox/y", "v1", "c")
	e.pushImage("teamster", "v1", "d") // "team" covers team/..., not teamster
	for _, name := range []string{"team/api", "team/mirror/x"} {
		r := ctlDescribe(t, e.ecr, name)
		if r.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion ||
			!slices.Equal(ctlFilterValues(r.ImageTagMutabilityExclusionFilters), []string{"latest", "dev-*"}) ||
			r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeKms || aws.ToString(r.EncryptionConfiguration.KmsKey) != key {
			t.Fatalf("%s: %s %v %+v", name, r.ImageTagMutability, ctlFilterValues(r.ImageTagMutabilityExclusionFilters), r.EncryptionConfiguration)
		}
		if tags := ctlTags(t, e.ecr, *r.RepositoryArn); len(tags) != 2 || tags["owner"] != "team" || tags["tier"] != "1" {
			t.Fatalf("%s: tags %v", name, tags)
		}
		pol, err := e.ecr.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(name)})
		ctlNoErr(t, err)
		if *pol.PolicyText != policy {
			t.Fatalf("%s: policy %s", name, *pol.PolicyText)
		}
		// The policy is in force: B may describe the repository.
		_, err = b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(account), RepositoryNames: []string{name}})
		ctlNoErr(t, err)
	}
	// The template's immutability holds for the pushed tag; its exclusions
	// do not.
	m2, _ := e.pushImage("team/api", "latest", "a2")
	e.pushImage("team/api", "latest", "a3")
	if res, _ := e.v2("PUT", "/v2/team/api/manifests/v1", m2, keyID, secret, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); res.StatusCode == 201 {
		t.Fatal("immutable tag v1 of team/api moved")
	}

	r := ctlDescribe(t, e.ecr, "team/sandbox/y")
	if r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeKmsDsse || r.ImageTagMutability != types.ImageTagMutabilityMutable {
		t.Fatalf("team/sandbox/y: %s %+v", r.ImageTagMutability, r.EncryptionConfiguration)
	}
	if tags := ctlTags(t, e.ecr, *r.RepositoryArn); len(tags) != 0 {
		t.Fatalf("team/sandbox/y: tags %v", tags)
	}
	r = ctlDescribe(t, e.ecr, "teamster")
	if r.ImageTagMutability != types.ImageTagMutabilityImmutable || r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeAes256 {
		t.Fatalf("teamster (ROOT): %s %+v", r.ImageTagMutability, r.EncryptionConfiguration)
	}
	_, err := e.ecr.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("teamster")})
	ctlExpect[*types.RepositoryPolicyNotFoundException](t, err, "")

	// Only the ROOT template for REPLICATION: pushes get the defaults.
	for _, p := range []string{"ROOT", "team", "team/mirror", "team/sandbox/"} {
		_, err := e.ecr.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String(p)})
		ctlNoErr(t, err)
	}
	ctlTemplate(t, e.ecr, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("ROOT"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication}, ImageTagMutability: types.ImageTagMutabilityImmutable,
	})
	e.pushImage("team/plain", "v1", "e")
	r = ctlDescribe(t, e.ecr, "team/plain")
	if r.ImageTagMutability != types.ImageTagMutabilityMutable || r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeAes256 ||
		len(r.ImageTagMutabilityExclusionFilters) != 0 || r.EncryptionConfiguration.KmsKey != nil {
		t.Fatalf("team/plain: %s %+v", r.ImageTagMutability, r.EncryptionConfiguration)
	}
	if tags := ctlTags(t, e.ecr, *r.RepositoryArn); len(tags) != 0 {
		t.Fatalf("team/plain: tags %v", tags)
	}
	// Repositories created through the API never use templates.
	r = ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/api2")})
	if r.ImageTagMutability != types.ImageTagMutabilityMutable {
		t.Fatalf("team/api2: %s", r.ImageTagMutability)
	}
}
