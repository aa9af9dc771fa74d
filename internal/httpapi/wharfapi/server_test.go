package wharfapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/httpapi/wharfapi"
)

func TestExtensionAPIThroughSigV4(t *testing.T) {
	e := newEnv(t)
	got := call[struct{ Principal, Account string }](e, e.root, "TestWhoAmI", map[string]any{})
	if got.Principal != "arn:aws:iam::"+account+":root" || got.Account != account {
		t.Fatalf("got %+v", got)
	}

	// A bad signature is refused like an ECR call.
	ae := callErr(e, e.client(keyID, "wrong"), "TestWhoAmI", map[string]any{})
	if ae.Code != "SignatureDoesNotMatch" && ae.Code != "UnrecognizedClientException" && ae.Code != "InvalidSignatureException" {
		t.Errorf("bad signature: %v", ae)
	}
	// An unsigned request too.
	req, _ := http.NewRequest("POST", e.srv.URL+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", wharfapi.TargetPrefix+".TestWhoAmI")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode < 400 || res.StatusCode >= 500 {
		t.Errorf("unsigned: %s", res.Status)
	}

	if ae := callErr(e, e.root, "NoSuchOperation", map[string]any{}); ae.Code != "UnknownOperationException" {
		t.Errorf("unknown operation: %v", ae)
	}
	// Inputs are validated like ECR's.
	ae = callErr(e, e.root, "ListTagHistory", map[string]any{"registryId": "12", "maxResults": 0})
	if ae.Code != "ValidationException" || !strings.Contains(ae.Message, "3 validation errors detected") ||
		!strings.Contains(ae.Message, "Value null at 'repositoryName' failed to satisfy constraint: Member must not be null") {
		t.Errorf("validation: %v", ae)
	}
}

func TestExtensionActionsHaveTheirOwnNamespace(t *testing.T) {
	e := newEnv(t)
	ecrAll := e.addUser("ecr-admin", "AKIAWHARFAPIUSER0001", "s1",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`)
	ae := callErr(e, ecrAll, "TestWhoAmI", map[string]any{})
	if ae.Code != "AccessDeniedException" || !strings.Contains(ae.Message, "wharf:TestWhoAmI") {
		t.Fatalf("ecr:* must not grant wharf: actions: %v", ae)
	}
	wharfAll := e.addUser("wharf-admin", "AKIAWHARFAPIUSER0002", "s2",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"wharf:*","Resource":"*"}]}`)
	call[struct{}](e, wharfAll, "TestWhoAmI", map[string]any{})
	one := e.addUser("one", "AKIAWHARFAPIUSER0003", "s3",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"wharf:TestWhoAmI","Resource":"arn:aws:ecr:us-east-1:`+account+`:registry"}]}`)
	call[struct{}](e, one, "TestWhoAmI", map[string]any{})
	if err := one.Call(context.Background(), "TestWhoAmI", map[string]any{"registryId": "999999999999"}, nil); err == nil {
		t.Fatal("another account's registry was allowed without its policy")
	}
}

func TestOperationsRegistered(t *testing.T) {
	s := &wharfapi.Server{}
	ops := s.Operations()
	for _, want := range []string{"TestWhoAmI", "ListTagHistory", "RollbackTag", "ListRecycleBin", "RestoreImage", "PutPlatformGuard", "GetPlatformGuard"} {
		found := false
		for _, o := range ops {
			found = found || o == want
		}
		if !found {
			t.Errorf("%s not registered: %v", want, ops)
		}
	}
}
