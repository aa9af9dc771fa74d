package guard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/app/apptest"
)

const (
	operator = "123456789012"
	other    = "210987654321"
	rootKey  = "AKIAOPERATOR"
	rootSec  = "operator-secret"
)

// TestMetricsNeedTheOperatorsPermission drives /metrics on the fully wired
// server: only the operator account's root and the users a policy allows
// wharf:GetMetrics read it.
func TestMetricsNeedTheOperatorsPermission(t *testing.T) {
	s := apptest.Start(t, operator, rootKey, rootSec)
	s.AddAccount(other, "AKIAOTHER", "other-secret")
	s.AddUser(operator, "prometheus", "AKIAPROM", "prom-secret",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"wharf:GetMetrics","Resource":"*"}]}`)
	s.AddUser(operator, "puller", "AKIAPULL", "pull-secret",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`)
	s.AddUser(operator, "denied", "AKIADENY", "deny-secret",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"wharf:*","Resource":"*"},`+
			`{"Effect":"Deny","Action":"wharf:GetMetrics","Resource":"*"}]}`)
	// Some traffic, so that the request counter has a series.
	s.V2("GET", "/v2/", nil, rootKey, rootSec)

	for _, tc := range []struct {
		name, user, pass string
		status           int
	}{
		{"no credentials", "", "", 401},
		{"wrong secret", rootKey, "nope", 401},
		{"unknown key", "AKIANOBODY", "x", 401},
		{"operator root", rootKey, rootSec, 200},
		{"user allowed GetMetrics", "AKIAPROM", "prom-secret", 200},
		{"user allowed only ecr:*", "AKIAPULL", "pull-secret", 403},
		{"user with an explicit deny", "AKIADENY", "deny-secret", 403},
		{"another account's root", "AKIAOTHER", "other-secret", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := apptest.Do(t, "GET", s.URL()+"/metrics", nil, tc.user, tc.pass)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			challenge := res.Header.Get("WWW-Authenticate")
			switch tc.status {
			case 200:
				if !strings.Contains(string(body), "wharf_http_requests_total{") {
					t.Fatalf("no request metrics in the scrape:\n%.500s", body)
				}
			case 401:
				if challenge != `Basic realm="wharf"` {
					t.Fatalf("WWW-Authenticate %q", challenge)
				}
				fallthrough
			default:
				if strings.Contains(string(body), "wharf_http") {
					t.Fatalf("metrics leaked with status %d", res.StatusCode)
				}
			}
		})
	}
}

// TestOpsHandlerServesWithoutCredentials: the metrics_listen address is
// the operator's opt-in for an unauthenticated scrape.
func TestOpsHandlerServesWithoutCredentials(t *testing.T) {
	s := apptest.Start(t, operator, rootKey, rootSec)
	s.V2("GET", "/v2/", nil, rootKey, rootSec)
	ops := httptest.NewServer(s.App.OpsHandler())
	defer ops.Close()
	for path, want := range map[string]string{"/metrics": "wharf_http_requests_total{", "/healthz": "ok", "/readyz": "ready"} {
		res, body := apptest.Do(t, "GET", ops.URL+path, nil, "", "")
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: status %d, body %.200q", path, res.StatusCode, body)
		}
	}
	// The ops address serves nothing of the registry itself.
	if res, _ := apptest.Do(t, "GET", ops.URL+"/v2/", nil, rootKey, rootSec); res.StatusCode != http.StatusNotFound {
		t.Errorf("/v2/ on the ops address: status %d", res.StatusCode)
	}
}
