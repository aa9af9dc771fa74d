package ecr_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestGetAuthorizationTokenLogsIntoV2(t *testing.T) {
	e := newEnv(t)
	_, digest := e.pushImage("team/app", "v1", "auth")
	out, err := e.ecr.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AuthorizationData) != 1 {
		t.Fatalf("authorizationData: %d entries", len(out.AuthorizationData))
	}
	d := out.AuthorizationData[0]
	if d.ExpiresAt == nil || d.ExpiresAt.Sub(time.Now()) < 11*time.Hour || d.ExpiresAt.Sub(time.Now()) > 13*time.Hour {
		t.Fatalf("expiresAt %v", d.ExpiresAt)
	}
	if *d.ProxyEndpoint != e.srv.URL {
		t.Fatalf("proxyEndpoint %q, want %q", *d.ProxyEndpoint, e.srv.URL)
	}
	raw, err := base64.StdEncoding.DecodeString(*d.AuthorizationToken)
	if err != nil {
		t.Fatal(err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" {
		t.Fatalf("token is not AWS:<token>: %q", raw)
	}
	res, _ := e.v2("GET", "/v2/team/app/manifests/v1", nil, user, pass, "Accept", "application/vnd.oci.image.manifest.v1+json")
	if res.StatusCode != 200 || res.Header.Get("Docker-Content-Digest") != digest {
		t.Fatalf("pull with token: %d", res.StatusCode)
	}
	// A tampered token is refused with a challenge.
	res, _ = e.v2("GET", "/v2/team/app/manifests/v1", nil, user, pass[:len(pass)-2]+"xx")
	if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("tampered token: %d", res.StatusCode)
	}
	// No credentials at all: anonymous, denied, so challenged.
	res, _ = e.v2("GET", "/v2/team/app/manifests/v1", nil, "", "")
	if res.StatusCode != 401 {
		t.Fatalf("anonymous pull: %d", res.StatusCode)
	}
}

func TestTokenOfAnotherAccountCannotPull(t *testing.T) {
	e := newEnv(t)
	e.pushImage("team/app", "v1", "x")
	b := e.addAccount("444455556666", "AKIAOTHERACCOUNT0001", "other-secret")
	out, err := b.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(*out.AuthorizationData[0].AuthorizationToken)
	user, pass, _ := strings.Cut(string(raw), ":")
	res, body := e.v2("GET", "/v2/team/app/manifests/v1", nil, user, pass)
	if res.StatusCode != 403 || !strings.Contains(string(body), "DENIED") {
		t.Fatalf("cross-account pull without policy: %d %s", res.StatusCode, body)
	}
}

// A repository policy granting "*" makes anonymous pulls work over /v2/;
// everything else stays closed to anonymous callers.
func TestAnonymousPullThroughPolicy(t *testing.T) {
	e := newEnv(t)
	_, digest := e.pushImage("public/app", "v1", "anon")
	e.pushImage("private/app", "v1", "anon2")
	if res, _ := e.v2("GET", "/v2/public/app/manifests/v1", nil, "", ""); res.StatusCode != 401 {
		t.Fatalf("anonymous pull before policy: %d", res.StatusCode)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
	if _, err := e.ecr.SetRepositoryPolicy(context.Background(), &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("public/app"), PolicyText: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	res, body := e.v2("GET", "/v2/public/app/manifests/v1", nil, "", "", "Accept", "application/vnd.oci.image.manifest.v1+json")
	if res.StatusCode != 200 || sha(body) != digest {
		t.Fatalf("anonymous pull with policy: %d", res.StatusCode)
	}
	if res, _ := e.v2("GET", "/v2/private/app/manifests/v1", nil, "", ""); res.StatusCode != 401 {
		t.Fatalf("anonymous pull of a private repository: %d", res.StatusCode)
	}
	if res, _ := e.v2("DELETE", "/v2/public/app/manifests/"+digest, nil, "", ""); res.StatusCode != 401 {
		t.Fatalf("anonymous delete: %d", res.StatusCode)
	}
	if res, _ := e.v2("GET", "/v2/_catalog", nil, "", ""); res.StatusCode != 401 {
		t.Fatalf("anonymous catalog: %d", res.StatusCode)
	}
}

// The /v2/ catalog lists only the repositories the caller may describe.
func TestCatalogShowsOnlyWhatCallerMaySee(t *testing.T) {
	e := newEnv(t)
	e.pushImage("team/a", "v1", "1")
	e.pushImage("team/b", "v1", "2")
	e.pushImage("other/c", "v1", "3")
	e.addUser(account, "teamdev", "AKIATEAMDEV000000001", "teamdev-secret",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:DescribeRepositories","Resource":"arn:aws:ecr:us-east-1:`+account+`:repository/team/*"}]}`)
	res, body := e.v2("GET", "/v2/_catalog", nil, "AKIATEAMDEV000000001", "teamdev-secret")
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"repositories":["team/a","team/b"]}` {
		t.Fatalf("user catalog: %d %s", res.StatusCode, body)
	}
	res, body = e.v2("GET", "/v2/_catalog", nil, keyID, secret)
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"repositories":["other/c","team/a","team/b"]}` {
		t.Fatalf("root catalog: %d %s", res.StatusCode, body)
	}
	// Another account sees none of them.
	e.addAccount("444455556666", "AKIAOTHERACCOUNT0002", "other-secret-2")
	res, body = e.v2("GET", "/v2/_catalog", nil, "AKIAOTHERACCOUNT0002", "other-secret-2")
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"repositories":[]}` {
		t.Fatalf("other account's catalog: %d %s", res.StatusCode, body)
	}
}

// Tag condition keys reach the policy engine: a user may create only
// repositories tagged team=platform, and push only to those.
func TestTagConditionKeys(t *testing.T) {
	e := newEnv(t)
	u := e.addUser(account, "tagger", "AKIATAGGER0000000001", "tagger-secret", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"ecr:CreateRepository","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"platform"},"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}},
	 {"Effect":"Allow","Action":"ecr:DescribeRepositories","Resource":"*","Condition":{"StringEquals":{"ecr:ResourceTag/team":"platform"}}}]}`)
	ctx := context.Background()
	tag := func(k, v string) []types.Tag { return []types.Tag{{Key: aws.String(k), Value: aws.String(v)}} }
	if _, err := u.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("plat/app"), Tags: tag("team", "platform")}); err != nil {
		t.Fatalf("allowed create: %v", err)
	}
	if _, err := u.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("web/app"), Tags: tag("team", "web")}); err == nil {
		t.Fatal("create with the wrong tag value allowed")
	}
	if _, err := u.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("none/app")}); err == nil {
		t.Fatal("create without tags allowed")
	}
	if _, err := e.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("web/app"), Tags: tag("team", "web")}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"plat/app"}}); err != nil {
		t.Fatalf("describe of a platform repository: %v", err)
	}
	if _, err := u.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"web/app"}}); err == nil {
		t.Fatal("describe of a web repository allowed")
	}
}
