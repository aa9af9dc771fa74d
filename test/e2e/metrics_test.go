package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetricsListen runs the real binary with --metrics-listen: on the
// registry's address /metrics needs the operator's credentials, on the
// metrics address it is open, and that address serves nothing else.
func TestMetricsListen(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ops := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := startWharf(t, "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", port))
	s.do(t, "GET", "/v2/", nil) // a request for the counter to show

	get := func(url string) (int, string) {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second}
		res, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(s.URL + "/metrics"); code != http.StatusUnauthorized || strings.Contains(body, "wharf_http") {
		t.Fatalf("/metrics without credentials on the registry address: %d %.200q", code, body)
	}
	res, body := s.do(t, "GET", "/metrics", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `wharf_http_requests_total{`) {
		t.Fatalf("/metrics with the operator's key: %d %.200q", res.StatusCode, body)
	}
	code, open := get(ops + "/metrics")
	if code != http.StatusOK || !strings.Contains(open, `route="v2_base"`) {
		t.Fatalf("/metrics on the metrics address: %d %.300q", code, open)
	}
	if code, _ := get(ops + "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz on the metrics address: %d", code)
	}
	if code, _ := get(ops + "/v2/"); code != http.StatusNotFound {
		t.Fatalf("/v2/ on the metrics address: %d, want 404", code)
	}
}
