package access

import (
	"context"
	"errors"
	"testing"
)

type fakeSource struct {
	tags     map[string]map[string]string
	user     map[string][]string
	repo     map[string]string
	registry map[string]string
}

func (f fakeSource) IdentityPolicies(_ context.Context, acct, user string) ([]string, error) {
	return f.user[acct+"/"+user], nil
}
func (f fakeSource) RepositoryPolicy(_ context.Context, acct, repo string) (string, error) {
	return f.repo[acct+"/"+repo], nil
}
func (f fakeSource) ResourceTags(_ context.Context, arn string) (map[string]string, error) {
	return f.tags[arn], nil
}
func (f fakeSource) RegistryPolicy(_ context.Context, acct string) (string, error) {
	return f.registry[acct], nil
}

func TestPolicyAuthorizer(t *testing.T) {
	const a, b = "111111111111", "222222222222"
	src := fakeSource{
		user: map[string][]string{
			a + "/dev":    {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage"],"Resource":"*"}]}`},
			a + "/tagged": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:PutImage","Resource":"*","Condition":{"StringEquals":{"ecr:ResourceTag/team":"platform"}}}]}`},
			b + "/puller": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`},
			b + "/denied": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"},{"Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"*"}]}`},
		},
		repo: map[string]string{
			a + "/shared": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + b + `:root"},"Action":"ecr:BatchGetImage"}]}`,
			a + "/public": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`,
			a + "/office": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"IpAddress":{"aws:SourceIp":"10.1.0.0/16"},"Bool":{"aws:SecureTransport":"true"}}}]}`,
			a + "/locked": `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:PutImage"}]}`,
		},
	}
	src.tags = map[string]map[string]string{"arn:aws:ecr:us-east-1:" + a + ":repository/platform-app": {"team": "platform"}}
	az := &PolicyAuthorizer{Source: src}
	res := func(repo string) Resource { return Resource{Region: "us-east-1", AccountID: a, Repository: repo} }
	cases := []struct {
		name   string
		p      Principal
		action string
		repo   string
		allow  bool
	}{
		{"root in own account", Principal{AccountID: a}, "ecr:PutImage", "app", true},
		{"root blocked by explicit deny", Principal{AccountID: a}, "ecr:PutImage", "locked", false},
		{"user allowed by identity policy", Principal{AccountID: a, UserName: "dev"}, "ecr:BatchGetImage", "app", true},
		{"user without allowing policy", Principal{AccountID: a, UserName: "dev"}, "ecr:PutImage", "app", false},
		{"user with no policy", Principal{AccountID: a, UserName: "nobody"}, "ecr:BatchGetImage", "app", false},
		{"other account without grant", Principal{AccountID: b}, "ecr:BatchGetImage", "app", false},
		{"other account root with grant", Principal{AccountID: b}, "ecr:BatchGetImage", "shared", true},
		{"other account, action not granted", Principal{AccountID: b}, "ecr:PutImage", "shared", false},
		{"other account user with identity allow", Principal{AccountID: b, UserName: "puller"}, "ecr:BatchGetImage", "shared", true},
		{"other account user, identity deny wins", Principal{AccountID: b, UserName: "denied"}, "ecr:BatchGetImage", "shared", false},
		{"anonymous on public", Principal{Anonymous: true}, "ecr:BatchGetImage", "public", true},
		{"anonymous on private", Principal{Anonymous: true}, "ecr:BatchGetImage", "app", false},
		{"anonymous push on public", Principal{Anonymous: true}, "ecr:PutImage", "public", false},
		{"resource tag condition met", Principal{AccountID: a, UserName: "tagged"}, "ecr:PutImage", "platform-app", true},
		{"resource tag condition not met", Principal{AccountID: a, UserName: "tagged"}, "ecr:PutImage", "app", false},
	}
	for _, c := range cases {
		err := az.Authorize(context.Background(), c.p, c.action, res(c.repo))
		if c.allow && err != nil {
			t.Errorf("%s: denied: %v", c.name, err)
		}
		if !c.allow && !errors.Is(err, ErrDenied) {
			t.Errorf("%s: got %v, want a denial", c.name, err)
		}
	}
	// Conditions on the request: source address and transport.
	office := res("office")
	anon := Principal{Anonymous: true}
	for _, c := range []struct {
		ri    RequestInfo
		allow bool
	}{
		{RequestInfo{SourceIP: "10.1.2.3", Secure: true}, true},
		{RequestInfo{SourceIP: "10.1.2.3", Secure: false}, false},
		{RequestInfo{SourceIP: "192.0.2.1", Secure: true}, false},
	} {
		err := az.Authorize(WithRequestInfo(context.Background(), c.ri), anon, "ecr:BatchGetImage", office)
		if (err == nil) != c.allow {
			t.Errorf("%+v: err=%v, want allow=%v", c.ri, err, c.allow)
		}
	}
}

func BenchmarkAuthorizeRootNoPolicy(b *testing.B) {
	az := &PolicyAuthorizer{Source: fakeSource{}}
	p := Principal{AccountID: "111111111111"}
	r := Resource{Region: "us-east-1", AccountID: "111111111111", Repository: "app"}
	for i := 0; i < b.N; i++ {
		if err := az.Authorize(context.Background(), p, "ecr:BatchGetImage", r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthorizeCrossAccount(b *testing.B) {
	src := fakeSource{repo: map[string]string{"111111111111/shared": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"ecr:BatchGetImage"}]}`}}
	az := &PolicyAuthorizer{Source: src}
	p := Principal{AccountID: "222222222222"}
	r := Resource{Region: "us-east-1", AccountID: "111111111111", Repository: "shared"}
	for i := 0; i < b.N; i++ {
		if err := az.Authorize(context.Background(), p, "ecr:BatchGetImage", r); err != nil {
			b.Fatal(err)
		}
	}
}
