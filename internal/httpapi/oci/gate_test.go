package oci_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

type fixedScans map[string]gate.Scan

func (s fixedScans) ImageScan(_ context.Context, _, _, d string) (gate.Scan, error) {
	if sc, ok := s[d]; ok {
		return sc, nil
	}
	return gate.Scan{Status: gate.StatusNone}, nil
}

// A public repository with a gate: anonymous pulls of a vulnerable image
// get 403 DENIED naming the findings (not a 401 challenge: credentials
// would not help), clean images pull anonymously.
func TestAnonymousPullGate(t *testing.T) {
	e := newEnv(t)
	bad := e.pushImage("pub/app", "bad", []byte(`{"os":"linux","architecture":"amd64","x":1}`), []byte("l1"))
	e.pushImage("pub/app", "good", []byte(`{"os":"linux","architecture":"amd64","x":2}`), []byte("l2"))
	e.app.Gate.CacheTTL = -1
	e.app.Gate.Scans = fixedScans{bad: {Status: gate.StatusComplete, Scanned: true, Findings: []vulndb.Finding{
		{ID: "CVE-2024-7", Severity: vulndb.SeverityHigh, Package: inventory.Package{Name: "curl"}}}}}
	r, err := e.app.Registry.Repository(context.Background(), "123456789012", "pub/app", false)
	if err != nil {
		t.Fatal(err)
	}
	r.Policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]},
{"Sid":"Gate","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage","Condition":{"ForAnyValue:StringLike":{"wharf:FindingIds":"CVE-2024-*"}}}]}`
	if err := e.app.Registry.UpdateRepository(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	res := e.doAuth("", "", "GET", "/v2/pub/app/manifests/bad", nil)
	e.expect(res, 403, "DENIED")
	if !strings.Contains(string(res.body), "image "+bad+" has HIGH finding CVE-2024-7") {
		t.Errorf("message %s", res.body)
	}
	e.expect(e.doAuth("", "", "GET", "/v2/pub/app/manifests/good", nil), 200, "")
	e.expect(e.doAuth("", "", "HEAD", "/v2/pub/app/manifests/bad", nil), 403, "")
	e.expect(e.doAuth("", "", "GET", "/v2/pub/app/manifests/nope", nil), 404, "MANIFEST_UNKNOWN")
}
