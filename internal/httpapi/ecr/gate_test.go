package ecr_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"

	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// scans is a fixed scan store for the gate.
type scans map[string]gate.Scan

func (s scans) ImageScan(_ context.Context, _, repo, d string) (gate.Scan, error) {
	if sc, ok := s[repo+"@"+d]; ok {
		return sc, nil
	}
	return gate.Scan{Status: gate.StatusNone}, nil
}

func critical(id string) vulndb.Finding {
	return vulndb.Finding{ID: id, Severity: vulndb.SeverityCritical, Score: 9.8, Package: inventory.Package{Name: "openssl", Version: "3.0.0"}}
}

const gateRepoPolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"TeamPull","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::` + account + `:user/dev","arn:aws:iam::` + account + `:user/breakglass"]},"Action":"ecr:BatchGetImage"},
 {"Sid":"NoCritical","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage",
  "Condition":{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]},"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::` + account + `:user/breakglass"}}},
 {"Sid":"Scanned","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage",
  "Condition":{"StringNotEquals":{"wharf:ScanStatus":"COMPLETE"},"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::` + account + `:user/breakglass"}}}]}`

func TestBatchGetImagePullGate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, vuln := e.pushImage("team/app", "vuln", "v")
	_, clean := e.pushImage("team/app", "clean", "c")
	_, unscanned := e.pushImage("team/app", "new", "n")
	e.app.Gate.Scans = scans{
		"team/app@" + vuln:  {Status: gate.StatusComplete, Scanned: true, Findings: []vulndb.Finding{critical("CVE-2024-1"), critical("CVE-2024-2")}},
		"team/app@" + clean: {Status: gate.StatusComplete, Scanned: true},
	}
	e.app.Gate.CacheTTL = -1
	if _, err := e.ecr.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), PolicyText: aws.String(gateRepoPolicy)}); err != nil {
		t.Fatal(err)
	}
	dev := e.addUser(account, "dev", "AKIAGATEDEV000000001", "dev-secret", "")
	breakglass := e.addUser(account, "breakglass", "AKIAGATEBREAKGLASS01", "bg-secret", "")
	stranger := e.addUser(account, "stranger", "AKIAGATESTRANGER0001", "st-secret", "")
	ids := []types.ImageIdentifier{{ImageTag: aws.String("vuln")}, {ImageTag: aws.String("clean")}, {ImageTag: aws.String("new")}, {ImageTag: aws.String("missing")}}

	out, err := dev.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 1 || aws.ToString(out.Images[0].ImageId.ImageDigest) != clean {
		t.Fatalf("dev got images %+v", out.Images)
	}
	failures := map[string]types.ImageFailure{}
	for _, f := range out.Failures {
		failures[aws.ToString(f.ImageId.ImageTag)] = f
	}
	if f := failures["vuln"]; f.FailureCode != types.ImageFailureCodeImageInaccessible ||
		aws.ToString(f.FailureReason) != "pull blocked by policy: image "+vuln+` has CRITICAL findings CVE-2024-1, CVE-2024-2 (repository policy, Sid "NoCritical")` {
		t.Errorf("vuln failure %s %q", f.FailureCode, aws.ToString(f.FailureReason))
	}
	if f := failures["new"]; f.FailureCode != types.ImageFailureCodeImageInaccessible ||
		!strings.Contains(aws.ToString(f.FailureReason), "has no completed vulnerability scan (scan status NONE)") {
		t.Errorf("unscanned failure %s %q", f.FailureCode, aws.ToString(f.FailureReason))
	}
	if f := failures["missing"]; f.FailureCode != types.ImageFailureCodeImageNotFound {
		t.Errorf("missing failure %s", f.FailureCode)
	}
	_ = unscanned

	// The exempt user gets every image.
	out, err = breakglass.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: ids[:3]})
	if err != nil || len(out.Images) != 3 || len(out.Failures) != 0 {
		t.Fatalf("breakglass: %v %d images %+v", err, len(out.Images), out.Failures)
	}
	// A caller with no access learns nothing about the images.
	_, err = stranger.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: ids})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("stranger: %v", err)
	}
	_, err = stranger.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: ids[3:]})
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("stranger, unknown image: %v", err)
	}

	// /v2/: the same gate, the same reason, 403 DENIED.
	res, body := e.v2("GET", "/v2/team/app/manifests/vuln", nil, "AKIAGATEDEV000000001", "dev-secret", "Accept", "application/vnd.oci.image.manifest.v1+json")
	var eb struct {
		Errors []struct{ Code, Message string }
	}
	_ = json.Unmarshal(body, &eb)
	if res.StatusCode != 403 || len(eb.Errors) != 1 || eb.Errors[0].Code != "DENIED" || !strings.Contains(eb.Errors[0].Message, "CRITICAL findings CVE-2024-1, CVE-2024-2") {
		t.Fatalf("v2 pull of vuln: %d %s", res.StatusCode, body)
	}
	if res, _ := e.v2("HEAD", "/v2/team/app/manifests/"+vuln, nil, "AKIAGATEDEV000000001", "dev-secret"); res.StatusCode != 403 {
		t.Errorf("HEAD by digest: %d", res.StatusCode)
	}
	if res, _ := e.v2("GET", "/v2/team/app/manifests/clean", nil, "AKIAGATEDEV000000001", "dev-secret"); res.StatusCode != 200 {
		t.Errorf("clean: %d", res.StatusCode)
	}
	if res, _ := e.v2("GET", "/v2/team/app/manifests/vuln", nil, "AKIAGATEBREAKGLASS01", "bg-secret"); res.StatusCode != 200 {
		t.Errorf("breakglass v2: %d", res.StatusCode)
	}
	// A missing tag is 404 to a caller allowed but for the gates (its
	// keys are absent, so the negated ScanStatus condition holds).
	res, body = e.v2("GET", "/v2/team/app/manifests/missing", nil, "AKIAGATEDEV000000001", "dev-secret")
	if res.StatusCode != 404 || !strings.Contains(string(body), "MANIFEST_UNKNOWN") {
		t.Errorf("missing: %d %s", res.StatusCode, body)
	}
	if res, body := e.v2("GET", "/v2/team/app/manifests/vuln", nil, "AKIAGATESTRANGER0001", "st-secret"); res.StatusCode != 403 || strings.Contains(string(body), "CVE-") {
		t.Errorf("stranger v2: %d %s", res.StatusCode, body)
	}

	// Suppressing both findings lets the pull through, on both planes.
	for _, id := range []string{"CVE-2024-1", "CVE-2024-2"} {
		if _, _, err := e.app.Stores.Meta.PutSuppression(ctx, meta.Suppression{AccountID: account, Repository: "team/app", FindingID: id,
			Justification: "not reachable", ExpiresAt: time.Now().Add(time.Hour), CreatedBy: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if res, body := e.v2("GET", "/v2/team/app/manifests/vuln", nil, "AKIAGATEDEV000000001", "dev-secret"); res.StatusCode != 200 {
		t.Errorf("after suppression: %d %s", res.StatusCode, body)
	}
	out, err = dev.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: ids[:1]})
	if err != nil || len(out.Images) != 1 {
		t.Fatalf("after suppression, BatchGetImage: %v %+v", err, out.Failures)
	}
}
