package gate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/policy"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

const (
	repoARN = "arn:aws:ecr:us-east-1:111122223333:repository/team/app"
	digestA = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
)

func fnd(id, sev string, score float64, aliases ...string) vulndb.Finding {
	return vulndb.Finding{ID: id, Severity: sev, Score: score, Aliases: aliases, Package: inventory.Package{Name: "pkg-" + id, Version: "1"}}
}

func TestKeys(t *testing.T) {
	f := Facts{Digest: digestA, Status: StatusComplete, Scanned: true, Findings: []vulndb.Finding{
		fnd("CVE-1", vulndb.SeverityHigh, 7.5), fnd("DLA-2", vulndb.SeverityCritical, 9.8, "CVE-2"),
		fnd("CVE-3", vulndb.SeverityLow, 0), fnd("CVE-1", vulndb.SeverityHigh, 7.5),
	}}
	c := f.Keys()
	want := map[string][]string{
		KeyScanStatus:                     {"COMPLETE"},
		KeyImageMaxSeverity:               {"CRITICAL"},
		KeyImageSeverityScore:             {"9.8"},
		KeyFindingIDs:                     {"CVE-1", "DLA-2", "CVE-2", "CVE-3"},
		KeyFindingCount + "CRITICAL":      {"1"},
		KeyFindingCount + "HIGH":          {"2"},
		KeyFindingCount + "MEDIUM":        {"0"},
		KeyFindingCount + "LOW":           {"1"},
		KeyFindingCount + "UNDEFINED":     {"0"},
		KeyFindingCount + "INFORMATIONAL": {"0"},
	}
	for k, v := range want {
		if got, _ := c.Get(k); !slices.Equal(got, v) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(c) != len(want) {
		t.Errorf("keys %v", c)
	}

	none := Facts{Digest: digestA, Status: StatusComplete, Scanned: true}
	c = none.Keys()
	if v, _ := c.Get(KeyImageMaxSeverity); !slices.Equal(v, []string{"NONE"}) {
		t.Errorf("no findings: max severity %q", v)
	}
	if _, ok := c.Get(KeyFindingIDs); ok {
		t.Error("no findings: FindingIds present")
	}
	unscanned := Facts{Digest: digestA}
	c = unscanned.Keys()
	if v, _ := c.Get(KeyScanStatus); !slices.Equal(v, []string{"NONE"}) || len(c) != 1 {
		t.Errorf("unscanned keys %v", c)
	}
}

func TestSeverityRank(t *testing.T) {
	order := []string{"NONE", "UNDEFINED", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
	for i := 1; i < len(order); i++ {
		if SeverityRank(order[i-1]) >= SeverityRank(order[i]) {
			t.Errorf("%s !< %s", order[i-1], order[i])
		}
	}
	if SeverityRank("high") != SeverityRank("HIGH") || SeverityRank("weird") != SeverityRank("UNDEFINED") {
		t.Error("case or unknown")
	}
}

// explain evaluates a denying statement like the authorizer does.
func explain(t *testing.T, f Facts, condition string) (denied bool, msg string) {
	t.Helper()
	p, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Gate","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage","Condition":` + condition + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req := policy.Request{Principal: policy.Principal{ARN: "arn:aws:iam::111122223333:user/alice"}, Action: "ecr:BatchGetImage", Resource: repoARN, Context: f.Keys()}
	d := policy.Authorize(req, nil, []*policy.Policy{p})
	if d.DenyPolicy == nil {
		return false, ""
	}
	return true, f.Explain(func(c policy.Context) bool {
		v := req
		v.Context = c
		return p.StatementConditionsHold(d.DenyStatement, v)
	})
}

func TestGateConditionsAndExplanations(t *testing.T) {
	vuln := Facts{Digest: digestA, Status: StatusComplete, Scanned: true, Findings: []vulndb.Finding{
		fnd("CVE-2024-3", vulndb.SeverityHigh, 7.1), fnd("CVE-2024-1", vulndb.SeverityCritical, 9.1),
		fnd("CVE-2024-2", vulndb.SeverityCritical, 9.0), fnd("CVE-2024-4", vulndb.SeverityMedium, 5),
		fnd("DLA-3000-1", vulndb.SeverityLow, 0, "CVE-2024-9"),
	}}
	clean := Facts{Digest: digestA, Status: StatusComplete, Scanned: true, Findings: []vulndb.Finding{fnd("CVE-2024-4", vulndb.SeverityMedium, 5)}}
	unscanned := Facts{Digest: digestA, Status: StatusNone}
	cases := []struct {
		name  string
		facts Facts
		cond  string
		deny  bool
		msg   string
	}{
		{"max severity", vuln, `{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]}}`, true,
			"image " + digestA + " has CRITICAL findings CVE-2024-1, CVE-2024-2; HIGH finding CVE-2024-3"},
		{"max severity passes", clean, `{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]}}`, false, ""},
		{"unscanned passes a severity gate", unscanned, `{"StringEquals":{"wharf:ImageMaxSeverity":["HIGH","CRITICAL"]}}`, false, ""},
		{"score", vuln, `{"NumericGreaterThanEquals":{"wharf:ImageSeverityScore":"9.05"}}`, true,
			"image " + digestA + " has CRITICAL finding CVE-2024-1"},
		{"finding id by alias", vuln, `{"ForAnyValue:StringEquals":{"wharf:FindingIds":["CVE-2024-9","CVE-2099-1"]}}`, true,
			"image " + digestA + " has LOW finding DLA-3000-1"},
		{"finding id like", vuln, `{"ForAnyValue:StringLike":{"wharf:FindingIds":"CVE-2024-1*"}}`, true,
			"image " + digestA + " has CRITICAL finding CVE-2024-1"},
		{"finding id absent", clean, `{"ForAnyValue:StringEquals":{"wharf:FindingIds":["CVE-2024-1"]}}`, false, ""},
		{"no completed scan", unscanned, `{"StringNotEquals":{"wharf:ScanStatus":"COMPLETE"}}`, true,
			"image " + digestA + " has no completed vulnerability scan (scan status NONE)"},
		{"scanned passes a status gate", clean, `{"StringNotEquals":{"wharf:ScanStatus":"COMPLETE"}}`, false, ""},
		{"count", vuln, `{"NumericGreaterThanEquals":{"wharf:FindingCount/CRITICAL":"2"}}`, true,
			"image " + digestA + " does not pass the gate (max severity CRITICAL, 5 active findings)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			deny, msg := explain(t, c.facts, c.cond)
			if deny != c.deny || msg != c.msg {
				t.Errorf("denied %v %q\nwant   %v %q", deny, msg, c.deny, c.msg)
			}
		})
	}
}

func TestExplainBoundsTheList(t *testing.T) {
	f := Facts{Digest: digestA, Status: StatusComplete, Scanned: true}
	for i := 0; i < 25; i++ {
		f.Findings = append(f.Findings, fnd(fmt.Sprintf("CVE-2024-%02d", i), vulndb.SeverityCritical, 9))
	}
	f.Findings = append(f.Findings, fnd("CVE-2024-00", vulndb.SeverityCritical, 9)) // same id, another package
	msg := f.Explain(func(policy.Context) bool { return true })
	if !strings.HasSuffix(msg, "CVE-2024-09 and 15 more") || strings.Count(msg, "CVE-") != 10 {
		t.Errorf("message %q", msg)
	}
}
