package wharfapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

type suppressionOut struct {
	RegistryID, RepositoryName, FindingID, PackageName, ImageDigest, Justification, CreatedBy string
	ExpiresAt, CreatedAt                                                                      float64
	Expired                                                                                   bool
}

type putSuppressionOut struct {
	Suppression suppressionOut
	Replaced    bool
}

type listSuppressionsOut struct {
	Suppressions []suppressionOut
	NextToken    string
}

func TestFindingSuppressions(t *testing.T) {
	e := newEnv(t)
	e.mustPush("team/app", "v1", "linux/amd64", "a")
	in := func(extra map[string]any) map[string]any {
		m := map[string]any{"repositoryName": "team/app", "findingId": "CVE-2024-1", "justification": "the vulnerable parser is never reached",
			"expiresAt": time.Now().Add(30 * 24 * time.Hour).Unix()}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	out := call[putSuppressionOut](e, e.root, "PutFindingSuppression", in(nil))
	if out.Replaced || out.Suppression.FindingID != "CVE-2024-1" || out.Suppression.RepositoryName != "team/app" ||
		out.Suppression.CreatedBy != "arn:aws:iam::"+account+":root" || out.Suppression.ExpiresAt == 0 || out.Suppression.Expired {
		t.Fatalf("put %+v", out)
	}
	out = call[putSuppressionOut](e, e.root, "PutFindingSuppression", in(map[string]any{"justification": "re-reviewed"}))
	if !out.Replaced || out.Suppression.Justification != "re-reviewed" {
		t.Fatalf("replace %+v", out)
	}
	call[putSuppressionOut](e, e.root, "PutFindingSuppression", in(map[string]any{"packageName": "openssl"}))
	call[putSuppressionOut](e, e.root, "PutFindingSuppression", in(map[string]any{"repositoryName": nil, "findingId": "CVE-2024-9"}))
	e.mustPush("team/other", "v1", "linux/amd64", "b")
	call[putSuppressionOut](e, e.root, "PutFindingSuppression", in(map[string]any{"repositoryName": "team/other", "findingId": "CVE-2024-5"}))

	// A repository's listing includes the registry-wide ones.
	l := call[listSuppressionsOut](e, e.root, "ListFindingSuppressions", map[string]any{"repositoryName": "team/app"})
	var keys []string
	for _, s := range l.Suppressions {
		keys = append(keys, s.RepositoryName+"|"+s.FindingID+"|"+s.PackageName)
	}
	if strings.Join(keys, ",") != "*|CVE-2024-9|,team/app|CVE-2024-1|,team/app|CVE-2024-1|openssl" {
		t.Fatalf("listing %q", keys)
	}
	// The whole registry, paged.
	var all []string
	next := ""
	for i := 0; i < 10; i++ {
		req := map[string]any{"maxResults": 2}
		if next != "" {
			req["nextToken"] = next
		}
		p := call[listSuppressionsOut](e, e.root, "ListFindingSuppressions", req)
		for _, s := range p.Suppressions {
			all = append(all, s.RepositoryName+"|"+s.FindingID+"|"+s.PackageName)
		}
		if next = p.NextToken; next == "" {
			break
		}
	}
	if strings.Join(all, ",") != "*|CVE-2024-9|,team/app|CVE-2024-1|,team/app|CVE-2024-1|openssl,team/other|CVE-2024-5|" {
		t.Fatalf("paged listing %q", all)
	}

	// Validation: justification and expiry required, at most a year ahead.
	for _, c := range []struct {
		in   map[string]any
		code string
		msg  string
	}{
		{in(map[string]any{"justification": nil}), "ValidationException", "justification"},
		{in(map[string]any{"justification": "   "}), "InvalidParameterException", "justification is required"},
		{in(map[string]any{"expiresAt": nil}), "ValidationException", "expiresAt"},
		{in(map[string]any{"expiresAt": time.Now().Add(400 * 24 * time.Hour).Unix()}), "InvalidParameterException", "more than a year ahead"},
		{in(map[string]any{"expiresAt": time.Now().Add(-time.Hour).Unix()}), "InvalidParameterException", "not in the future"},
		{in(map[string]any{"findingId": nil}), "ValidationException", "findingId"},
		{in(map[string]any{"repositoryName": "team/none"}), "RepositoryNotFoundException", ""},
	} {
		ae := callErr(e, e.root, "PutFindingSuppression", c.in)
		if ae.Code != c.code || !strings.Contains(ae.Message, c.msg) {
			t.Errorf("%v: %v, want %s %q", c.in, ae, c.code, c.msg)
		}
	}

	// Delete by key; the package-scoped one stays.
	del := call[struct{ Suppression suppressionOut }](e, e.root, "DeleteFindingSuppression", map[string]any{"repositoryName": "team/app", "findingId": "CVE-2024-1"})
	if del.Suppression.Justification != "re-reviewed" {
		t.Fatalf("deleted %+v", del)
	}
	if ae := callErr(e, e.root, "DeleteFindingSuppression", map[string]any{"repositoryName": "team/app", "findingId": "CVE-2024-1"}); ae.Code != "FindingSuppressionNotFoundException" {
		t.Fatalf("second delete: %v", ae)
	}
	call[struct{}](e, e.root, "DeleteFindingSuppression", map[string]any{"findingId": "CVE-2024-9"})

	// Every change is audited.
	evs, err := e.app.Stores.Meta.ListAudit(context.Background(), meta.AuditFilter{AccountID: account, Action: "scan."})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action+" "+ev.Repository)
	}
	if strings.Join(actions, ",") != "scan.suppress team/app,scan.suppress team/app,scan.suppress team/app,scan.suppress *,scan.suppress team/other,scan.unsuppress team/app,scan.unsuppress *" {
		t.Fatalf("audit %q", actions)
	}

	// Authorization: each operation is its own wharf: action; registry-wide
	// suppressions are on the registry's ARN.
	lister := e.addUser("lister", "AKIAWHARFSUPPLIST001", "l",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"wharf:ListFindingSuppressions","Resource":"*"},
		 {"Effect":"Allow","Action":"wharf:PutFindingSuppression","Resource":"arn:aws:ecr:us-east-1:`+account+`:repository/team/*"}]}`)
	call[listSuppressionsOut](e, lister, "ListFindingSuppressions", map[string]any{"repositoryName": "team/app"})
	call[putSuppressionOut](e, lister, "PutFindingSuppression", in(nil))
	if ae := callErr(e, lister, "PutFindingSuppression", in(map[string]any{"repositoryName": nil})); ae.Code != "AccessDeniedException" || !strings.Contains(ae.Message, ":registry") {
		t.Errorf("registry-wide by a repository-scoped user: %v", ae)
	}
	if ae := callErr(e, lister, "DeleteFindingSuppression", map[string]any{"repositoryName": "team/app", "findingId": "CVE-2024-1"}); ae.Code != "AccessDeniedException" {
		t.Errorf("delete without permission: %v", ae)
	}
}
