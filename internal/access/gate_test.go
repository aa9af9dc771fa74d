package access

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/policy"
)

// fakeImage is an image with fixed keys; explaining lists which of its
// findings (one key set each) the statement would deny.
type fakeImage struct {
	keys     policy.Context
	findings map[string]policy.Context
	calls    int
}

func (f *fakeImage) Keys(context.Context) (policy.Context, error) {
	f.calls++
	return f.keys, nil
}

func (f *fakeImage) Explain(holds func(policy.Context) bool) string {
	var out []string
	for _, id := range []string{"CVE-1", "CVE-2", "CVE-3"} {
		if c, ok := f.findings[id]; ok && holds(c) {
			out = append(out, id)
		}
	}
	return "image has " + strings.Join(out, ", ")
}

func vulnImage() *fakeImage {
	return &fakeImage{
		keys: policy.Context{"wharf:ScanStatus": {"COMPLETE"}, "wharf:ImageMaxSeverity": {"CRITICAL"}, "wharf:FindingIds": {"CVE-1", "CVE-2", "CVE-3"}},
		findings: map[string]policy.Context{
			"CVE-1": {"wharf:ScanStatus": {"COMPLETE"}, "wharf:ImageMaxSeverity": {"CRITICAL"}, "wharf:FindingIds": {"CVE-1"}},
			"CVE-2": {"wharf:ScanStatus": {"COMPLETE"}, "wharf:ImageMaxSeverity": {"HIGH"}, "wharf:FindingIds": {"CVE-2"}},
			"CVE-3": {"wharf:ScanStatus": {"COMPLETE"}, "wharf:ImageMaxSeverity": {"LOW"}, "wharf:FindingIds": {"CVE-3"}},
		},
	}
}

const gatePolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"TeamPull","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/dev","arn:aws:iam::111111111111:user/breakglass"]},"Action":"ecr:BatchGetImage"},
 {"Sid":"NoHighVulns","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage",
  "Condition":{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]},"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/breakglass"}}}]}`

func TestAuthorizeImageGate(t *testing.T) {
	const a = "111111111111"
	src := fakeSource{repo: map[string]string{a + "/gated": gatePolicy, a + "/plain": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`}}
	az := &PolicyAuthorizer{Source: src}
	res := func(r string) Resource { return Resource{Region: "us-east-1", AccountID: a, Repository: r} }
	ctx := context.Background()
	dev := Principal{AccountID: a, UserName: "dev"}

	img := vulnImage()
	err := az.AuthorizeImage(ctx, dev, ActionBatchGetImage, res("gated"), img)
	var de *DeniedError
	if !errors.As(err, &de) || !de.Gate {
		t.Fatalf("dev pulling a vulnerable image: %v", err)
	}
	want := `pull blocked by policy: image has CVE-1, CVE-2 (repository policy, Sid "NoHighVulns")`
	if de.Message != want {
		t.Errorf("message %q\nwant    %q", de.Message, want)
	}
	if img.calls != 1 {
		t.Errorf("keys looked up %d times", img.calls)
	}

	// The exempt principal pulls.
	if err := az.AuthorizeImage(ctx, Principal{AccountID: a, UserName: "breakglass"}, ActionBatchGetImage, res("gated"), vulnImage()); err != nil {
		t.Errorf("breakglass: %v", err)
	}
	// A clean image passes.
	clean := &fakeImage{keys: policy.Context{"wharf:ScanStatus": {"COMPLETE"}, "wharf:ImageMaxSeverity": {"LOW"}}}
	if err := az.AuthorizeImage(ctx, dev, ActionBatchGetImage, res("gated"), clean); err != nil {
		t.Errorf("clean image: %v", err)
	}
	// A caller denied anyway (no Allow) is not told about findings.
	err = az.AuthorizeImage(ctx, Principal{AccountID: a, UserName: "stranger"}, ActionBatchGetImage, res("gated"), vulnImage())
	if !errors.As(err, &de) || de.Gate || de.Message != "" {
		t.Errorf("stranger: %v (gate %v, message %q)", err, de.Gate, de.Message)
	}
	// No policy reads wharf: keys: the image is never looked at.
	untouched := vulnImage()
	if err := az.AuthorizeImage(ctx, dev, ActionBatchGetImage, res("plain"), untouched); err != nil || untouched.calls != 0 {
		t.Errorf("ungated repository: %v, %d key lookups", err, untouched.calls)
	}
	// Plain Authorize ignores images (keys absent: the Deny's positive
	// condition is false).
	if err := az.Authorize(ctx, dev, ActionBatchGetImage, res("gated")); err != nil {
		t.Errorf("Authorize without image: %v", err)
	}
	for repo, want := range map[string]bool{"gated": true, "plain": false} {
		if got, err := az.GatesImages(ctx, dev, res(repo)); err != nil || got != want {
			t.Errorf("GatesImages(%s) = %v, %v", repo, got, err)
		}
	}
}

func TestAuthorizeImageGateInIdentityAndRegistryPolicies(t *testing.T) {
	const a = "111111111111"
	src := fakeSource{
		user: map[string][]string{a + "/dev": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"},
			{"Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"wharf:FindingIds":"CVE-3"}}}]}`}},
		registry: map[string]string{a: `{"Version":"2012-10-17","Statement":[{"Sid":"Scanned","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage",
			"Condition":{"StringNotEquals":{"wharf:ScanStatus":"COMPLETE"}}}]}`},
	}
	az := &PolicyAuthorizer{Source: src}
	res := Resource{Region: "us-east-1", AccountID: a, Repository: "app"}
	dev := Principal{AccountID: a, UserName: "dev"}
	var de *DeniedError
	err := az.AuthorizeImage(context.Background(), dev, ActionBatchGetImage, res, vulnImage())
	if !errors.As(err, &de) || !de.Gate || !strings.Contains(de.Message, "image has CVE-3 (identity policy, Statement[1])") {
		t.Fatalf("identity gate: %v (%q)", err, de.Message)
	}
	unscanned := &fakeImage{keys: policy.Context{"wharf:ScanStatus": {"NONE"}}}
	err = az.AuthorizeImage(context.Background(), dev, ActionBatchGetImage, res, unscanned)
	if !errors.As(err, &de) || !de.Gate || !strings.Contains(de.Message, `(registry policy, Sid "Scanned")`) {
		t.Fatalf("registry gate: %v (%q)", err, de.Message)
	}
	// The account root is subject to resource-policy gates too.
	err = az.AuthorizeImage(context.Background(), Principal{AccountID: a}, ActionBatchGetImage, res, unscanned)
	if !errors.As(err, &de) || !de.Gate {
		t.Fatalf("root: %v", err)
	}
}
