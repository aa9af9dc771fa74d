package ecr_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

const (
	ctlAccountB = "444455556666"
	ctlKeyB     = "AKIAOTHERACCOUNT0001"
	ctlSecretB  = "other-secret"
)

func TestRepositoryPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	notFound := "Repository policy does not exist for the repository with name 'team/app' in the registry with id '" + account + "'"
	_, err := e.ecr.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
	ctlExpect[*types.RepositoryPolicyNotFoundException](t, err, notFound)
	_, err = e.ecr.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
	ctlExpect[*types.RepositoryPolicyNotFoundException](t, err, notFound)

	const invalid = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
	for doc, detail := range map[string]string{
		`{`: "",
		``:  "",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Alow","Principal":"*","Action":"ecr:*"}]}`:                     "Alow",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:ListImages","Resource":"*"}]}`:            "Principal",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"not-an-arn"},"Action":"ecr:*"}]}`:   "",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":"nope"}]}`: "",
	} {
		_, err = e.ecr.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), PolicyText: aws.String(doc)})
		ie := ctlExpectContains[*types.InvalidParameterException](t, err, invalid)
		if !strings.Contains(ie.ErrorMessage(), detail) || len(ie.ErrorMessage()) <= len(invalid)+2 {
			t.Fatalf("policy %s: message %q lacks the parser's detail %q", doc, ie.ErrorMessage(), detail)
		}
	}
	_, err = e.ecr.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
	ctlExpect[*types.RepositoryPolicyNotFoundException](t, err, "")

	// A policy denying everyone deletion stops even the account root (an
	// explicit Deny in a resource policy), at once.
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"NoDelete","Effect":"Deny","Principal":"*","Action":"ecr:DeleteRepository"}]}`
	set, err := e.ecr.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), PolicyText: aws.String(doc), Force: true})
	ctlNoErr(t, err)
	if *set.RegistryId != account || *set.RepositoryName != "team/app" || *set.PolicyText != doc {
		t.Fatalf("%+v", set)
	}
	got, err := e.ecr.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), RegistryId: aws.String(account)})
	ctlNoErr(t, err)
	if *got.RegistryId != account || *got.RepositoryName != "team/app" || *got.PolicyText != doc {
		t.Fatalf("%+v", got)
	}
	_, err = e.ecr.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/app")})
	ctlExpectCode(t, err, "AccessDeniedException")

	del, err := e.ecr.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
	ctlNoErr(t, err)
	if *del.RegistryId != account || *del.RepositoryName != "team/app" || *del.PolicyText != doc {
		t.Fatalf("%+v", del)
	}
	_, err = e.ecr.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
	ctlExpect[*types.RepositoryPolicyNotFoundException](t, err, notFound)
	_, err = e.ecr.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/app")})
	ctlNoErr(t, err)

	for _, call := range []func() error{
		func() error {
			_, err := e.ecr.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), PolicyText: aws.String(doc)})
			return err
		},
		func() error {
			_, err := e.ecr.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
			return err
		},
		func() error {
			_, err := e.ecr.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
			return err
		},
	} {
		ctlExpect[*types.RepositoryNotFoundException](t, call(), "The repository with name 'team/app' does not exist in the registry with id '"+account+"'")
	}
}

func TestRegistryPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.addAccount(ctlAccountB, ctlKeyB, ctlSecretB)
	notFound := "Registry policy does not exist in the registry with id '" + account + "'"
	_, err := e.ecr.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	ctlExpect[*types.RegistryPolicyNotFoundException](t, err, notFound)
	_, err = e.ecr.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
	ctlExpect[*types.RegistryPolicyNotFoundException](t, err, notFound)
	_, err = e.ecr.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(`{"Statement":[]`)})
	ctlExpectContains[*types.InvalidParameterException](t, err, "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided'")
	_, err = e.ecr.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`)})
	ctlExpectContains[*types.InvalidParameterException](t, err, "Principal")

	// Account B may not create repositories in A's registry until A's
	// registry policy lets it.
	_, err = b.CreateRepository(ctx, &ecr.CreateRepositoryInput{RegistryId: aws.String(account), RepositoryName: aws.String("from-b")})
	ae := ctlExpectCode(t, err, "AccessDeniedException")
	if want := "User: arn:aws:iam::" + ctlAccountB + ":root is not authorized to perform: ecr:CreateRepository on resource: arn:aws:ecr:" + region + ":" + account + ":repository/from-b"; !strings.HasPrefix(ae.ErrorMessage(), want) {
		t.Fatalf("message %q, want prefix %q", ae.ErrorMessage(), want)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"B","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + ctlAccountB + `:root"},"Action":["ecr:CreateRepository"],"Resource":"arn:aws:ecr:` + region + `:` + account + `:repository/*"}]}`
	put, err := e.ecr.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(doc)})
	ctlNoErr(t, err)
	if *put.RegistryId != account || *put.PolicyText != doc {
		t.Fatalf("%+v", put)
	}
	got, err := e.ecr.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	ctlNoErr(t, err)
	if *got.RegistryId != account || *got.PolicyText != doc {
		t.Fatalf("%+v", got)
	}
	r := ctlCreate(t, b, &ecr.CreateRepositoryInput{RegistryId: aws.String(account), RepositoryName: aws.String("from-b")})
	if *r.RegistryId != account {
		t.Fatalf("created in %s", *r.RegistryId)
	}
	// B's own registry has no policy.
	_, err = b.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	ctlExpect[*types.RegistryPolicyNotFoundException](t, err, "Registry policy does not exist in the registry with id '"+ctlAccountB+"'")

	del, err := e.ecr.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
	ctlNoErr(t, err)
	if *del.RegistryId != account || *del.PolicyText != doc {
		t.Fatalf("%+v", del)
	}
	_, err = e.ecr.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	ctlExpect[*types.RegistryPolicyNotFoundException](t, err, notFound)
	_, err = b.CreateRepository(ctx, &ecr.CreateRepositoryInput{RegistryId: aws.String(account), RepositoryName: aws.String("from-b-2")})
	ctlExpectCode(t, err, "AccessDeniedException")
}

// Account B cannot see A's repository until A's repository policy grants
// it, and then only what the policy grants.
func TestCrossAccountRepositoryPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.addAccount(ctlAccountB, ctlKeyB, ctlSecretB)
	ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("shared/app")})
	ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("private/app")})
	ctlCreate(t, b, &ecr.CreateRepositoryInput{RepositoryName: aws.String("own/app")})
	arn := "arn:aws:ecr:" + region + ":" + account + ":repository/shared/app"
	denied := func(err error, action string) {
		t.Helper()
		ae := ctlExpectCode(t, err, "AccessDeniedException")
		if want := "User: arn:aws:iam::" + ctlAccountB + ":root is not authorized to perform: " + action + " on resource: " + arn; !strings.HasPrefix(ae.ErrorMessage(), want) {
			t.Fatalf("message %q, want prefix %q", ae.ErrorMessage(), want)
		}
	}
	describeA := func() ([]string, error) {
		out, err := b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(account)})
		if err != nil {
			return nil, err
		}
		var names []string
		for _, r := range out.Repositories {
			names = append(names, *r.RegistryId+"/"+*r.RepositoryName)
		}
		return names, nil
	}

	_, err := b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(account), RepositoryNames: []string{"shared/app"}})
	denied(err, "ecr:DescribeRepositories")
	_, err = b.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RegistryId: aws.String(account), RepositoryName: aws.String("shared/app")})
	denied(err, "ecr:GetRepositoryPolicy")
	if names, err := describeA(); err != nil || len(names) != 0 {
		t.Fatalf("B lists %v, %v", names, err)
	}
	// B's own registry is B's default.
	own, err := b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ctlNoErr(t, err)
	if len(own.Repositories) != 1 || *own.Repositories[0].RegistryId != ctlAccountB {
		t.Fatalf("B's repositories %+v", own.Repositories)
	}

	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"ReadForB","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + ctlAccountB + `:root"},"Action":["ecr:DescribeRepositories","ecr:GetRepositoryPolicy"]}]}`
	_, err = e.ecr.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("shared/app"), PolicyText: aws.String(doc)})
	ctlNoErr(t, err)

	out, err := b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(account), RepositoryNames: []string{"shared/app"}})
	ctlNoErr(t, err)
	if len(out.Repositories) != 1 || *out.Repositories[0].RepositoryArn != arn {
		t.Fatalf("%+v", out.Repositories)
	}
	if names, err := describeA(); err != nil || len(names) != 1 || names[0] != account+"/shared/app" {
		t.Fatalf("B lists %v, %v", names, err)
	}
	pol, err := b.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RegistryId: aws.String(account), RepositoryName: aws.String("shared/app")})
	ctlNoErr(t, err)
	if *pol.PolicyText != doc || *pol.RegistryId != account {
		t.Fatalf("%+v", pol)
	}
	// Nothing more than granted.
	_, err = b.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RegistryId: aws.String(account), RepositoryName: aws.String("shared/app"), PolicyText: aws.String(doc)})
	denied(err, "ecr:SetRepositoryPolicy")
	_, err = b.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RegistryId: aws.String(account), RepositoryName: aws.String("shared/app")})
	denied(err, "ecr:DeleteRepository")
	_, err = b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(account), RepositoryNames: []string{"private/app"}})
	ctlExpectCode(t, err, "AccessDeniedException")

	// Revoked: back to denied.
	_, err = e.ecr.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("shared/app")})
	ctlNoErr(t, err)
	_, err = b.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(account), RepositoryNames: []string{"shared/app"}})
	denied(err, "ecr:DescribeRepositories")
}

// Every operation authorizes its own action (ecr:<Operation>) on its
// resource: an IAM user without a policy is denied, and one whose identity
// policy allows exactly that action on exactly that resource succeeds.
func TestOperationsAuthorizeTheirAction(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	repoARN := func(n string) string { return "arn:aws:ecr:" + region + ":" + account + ":repository/" + n }
	registryARN := "arn:aws:ecr:" + region + ":" + account + ":registry"
	polB := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + ctlAccountB + `"},"Action":"ecr:BatchGetImage"}]}`

	// State for the operations to act on, made by the account root.
	ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/pol")})
	ctlCreate(t, e.ecr, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/doomed")})
	for _, n := range []string{"team/app", "team/pol"} {
		_, err := e.ecr.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(n), PolicyText: aws.String(polB)})
		ctlNoErr(t, err)
	}

	type op struct {
		action, resource string
		call             func(c *ecr.Client) error
	}
	ops := []op{
		{"CreateRepository", repoARN("team/new"), func(c *ecr.Client) error {
			_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/new")})
			return err
		}},
		{"DescribeRepositories", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team/app"}})
			return err
		}},
		{"PutImageTagMutability", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/app"), ImageTagMutability: types.ImageTagMutabilityImmutable})
			return err
		}},
		{"PutImageScanningConfiguration", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("team/app"), ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}})
			return err
		}},
		{"TagResource", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(repoARN("team/app")), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		}},
		{"ListTagsForResource", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(repoARN("team/app"))})
			return err
		}},
		{"UntagResource", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: aws.String(repoARN("team/app")), TagKeys: []string{"k"}})
			return err
		}},
		{"SetRepositoryPolicy", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), PolicyText: aws.String(polB)})
			return err
		}},
		{"GetRepositoryPolicy", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
			return err
		}},
		{"DeleteRepositoryPolicy", repoARN("team/pol"), func(c *ecr.Client) error {
			_, err := c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("team/pol")})
			return err
		}},
		{"DeleteRepository", repoARN("team/doomed"), func(c *ecr.Client) error {
			_, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/doomed")})
			return err
		}},
		{"PutRegistryPolicy", registryARN, func(c *ecr.Client) error {
			_, err := c.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(polB)})
			return err
		}},
		{"GetRegistryPolicy", registryARN, func(c *ecr.Client) error {
			_, err := c.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
			return err
		}},
		{"DeleteRegistryPolicy", registryARN, func(c *ecr.Client) error {
			_, err := c.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
			return err
		}},
		{"DescribeRegistry", registryARN, func(c *ecr.Client) error {
			_, err := c.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
			return err
		}},
		{"PutAccountSetting", registryARN, func(c *ecr.Client) error {
			_, err := c.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("BLOB_MOUNTING"), Value: aws.String("ENABLED")})
			return err
		}},
		{"GetAccountSetting", registryARN, func(c *ecr.Client) error {
			_, err := c.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("BLOB_MOUNTING")})
			return err
		}},
		{"CreateRepositoryCreationTemplate", registryARN, func(c *ecr.Client) error {
			_, err := c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("tmpl"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}})
			return err
		}},
		{"DescribeRepositoryCreationTemplates", registryARN, func(c *ecr.Client) error {
			_, err := c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
			return err
		}},
		{"UpdateRepositoryCreationTemplate", registryARN, func(c *ecr.Client) error {
			_, err := c.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("tmpl"), Description: aws.String("d")})
			return err
		}},
		{"DeleteRepositoryCreationTemplate", registryARN, func(c *ecr.Client) error {
			_, err := c.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("tmpl")})
			return err
		}},
		{"PutRegistryScanningConfiguration", registryARN, func(c *ecr.Client) error {
			_, err := c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeBasic})
			return err
		}},
		{"GetRegistryScanningConfiguration", registryARN, func(c *ecr.Client) error {
			_, err := c.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
			return err
		}},
		{"BatchGetRepositoryScanningConfiguration", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{RepositoryNames: []string{"team/app"}})
			return err
		}},
		{"StartImageScan", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("team/app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("scan")}})
			return err
		}},
		{"DescribeImageScanFindings", repoARN("team/app"), func(c *ecr.Client) error {
			_, err := c.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("team/app"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("scan")}})
			return err
		}},
	}
	e.imImage("team/app", "scan", "scan") // for StartImageScan, then DescribeImageScanFindings
	nobody := e.addUser(account, "nobody", "AKIAUSERNOBODY000001", "nobody-secret", "")
	for i, o := range ops {
		action := "ecr:" + o.action
		err := o.call(nobody)
		ae := ctlExpectCode(t, err, "AccessDeniedException")
		want := "User: arn:aws:iam::" + account + ":user/nobody is not authorized to perform: " + action + " on resource: " + o.resource +
			" because no policy allows the " + action + " action"
		if ae.ErrorMessage() != want {
			t.Fatalf("%s: message %q, want %q", o.action, ae.ErrorMessage(), want)
		}
		// Allowing any other action does not help.
		other := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"` + action + `","Resource":"*"}]}`
		c := e.addUser(account, "other"+o.action, fmt.Sprintf("AKIAUSEROTHER%07d", i), "s", other)
		ctlExpectCode(t, o.call(c), "AccessDeniedException")

		allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + o.resource + `"}]}`
		c = e.addUser(account, "can"+o.action, fmt.Sprintf("AKIAUSERALLOWED%05d", i), "s", allow)
		if err := o.call(c); err != nil {
			t.Fatalf("%s allowed: %v", o.action, err)
		}
	}
}
