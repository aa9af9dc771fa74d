package policy

import "testing"

// A realistic repository policy: cross-account pull for CI, push for one
// role, an organisation-wide read with TLS and a network condition, a
// freeze window, and a guard against deleting release images.
const benchRepoPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "CrossAccountPull", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "777788889999"]},
     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]},
    {"Sid": "CIPush", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::444455556666:user/ci"},
     "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"],
     "Condition": {"StringEquals": {"aws:RequestTag/pipeline": "release"}}},
    {"Sid": "OrgRead", "Effect": "Allow", "Principal": "*",
     "Action": ["ecr:Describe*", "ecr:List*"],
     "Condition": {"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}},
    {"Sid": "FreezeWindow", "Effect": "Deny", "Principal": "*",
     "Action": ["ecr:PutImage", "ecr:BatchDeleteImage"],
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-12-20T00:00:00Z"}, "DateLessThan": {"aws:CurrentTime": "2027-01-03T00:00:00Z"}}},
    {"Sid": "KeepReleases", "Effect": "Deny",
     "NotPrincipal": {"AWS": "arn:aws:iam::444455556666:user/admin"},
     "Action": "ecr:BatchDeleteImage",
     "Condition": {"StringLike": {"ecr:ResourceTag/stage": "release-*"}}}
  ]
}`

// The caller's identity policy: pull anything in the team's repositories
// over TLS, no images above a severity, never delete.
const benchIdentityPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "PullTeam", "Effect": "Allow",
     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
     "Resource": "arn:aws:ecr:*:111122223333:repository/team/*",
     "Condition": {"Bool": {"aws:SecureTransport": "true"}, "NumericLessThanEquals": {"wharf:ImageMaxSeverity": 7}}},
    {"Sid": "OwnRepos", "Effect": "Allow", "Action": "ecr:*",
     "Resource": "arn:aws:ecr:*:111122223333:repository/${aws:username}/*"},
    {"Sid": "NoDelete", "Effect": "Deny", "Action": ["ecr:BatchDeleteImage", "ecr:DeleteRepository"], "Resource": "*",
     "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["protected"]}}}
  ]
}`

func benchSetup(b testing.TB) (Request, []*Policy, []*Policy) {
	rp, err := Parse([]byte(benchRepoPolicy))
	if err != nil {
		b.Fatal(err)
	}
	ip, err := Parse([]byte(benchIdentityPolicy))
	if err != nil {
		b.Fatal(err)
	}
	req := Request{
		Principal: Principal{ARN: "arn:aws:iam::444455556666:user/ci"},
		Action:    "ecr:BatchGetImage",
		Resource:  repo,
		Context: Context{
			"aws:SourceIp":           {"10.20.30.40"},
			"aws:SecureTransport":    {"true"},
			"aws:CurrentTime":        {"2026-06-01T12:00:00Z"},
			"aws:EpochTime":          {"1780315200"},
			"aws:TagKeys":            {"team", "env"},
			"ecr:ResourceTag/stage":  {"release-7"},
			"wharf:ImageMaxSeverity": {"5"},
		},
	}
	return req, []*Policy{ip}, []*Policy{rp}
}

func TestBenchScenario(t *testing.T) {
	req, id, res := benchSetup(t)
	d := Authorize(req, id, res)
	if !d.Allowed || d.MatchedSid != "CrossAccountPull" {
		t.Fatalf("%+v", d)
	}
	req.Action = "ecr:BatchDeleteImage"
	if d := Authorize(req, id, res); d.Allowed || d.MatchedSid != "KeepReleases" {
		t.Fatalf("%+v", d)
	}
}

// BenchmarkAuthorize: a cross-account pull that walks all eight statements
// (every Deny must be ruled out) with conditions on five keys.
func BenchmarkAuthorize(b *testing.B) {
	req, id, res := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if d := Authorize(req, id, res); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkAuthorizeDenied: an explicit deny found in the last statement.
func BenchmarkAuthorizeDenied(b *testing.B) {
	req, id, res := benchSetup(b)
	req.Action = "ecr:BatchDeleteImage"
	b.ReportAllocs()
	for b.Loop() {
		if d := Authorize(req, id, res); d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkEvaluate: one policy, no decision text.
func BenchmarkEvaluate(b *testing.B) {
	req, _, res := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		res[0].Evaluate(req)
	}
}

func BenchmarkParse(b *testing.B) {
	doc := []byte(benchRepoPolicy)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
