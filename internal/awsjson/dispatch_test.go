package awsjson_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/awsjson"
)

func TestDispatchByTargetPrefix(t *testing.T) {
	newH := func(prefix, answer string) *awsjson.Handler {
		h := &awsjson.Handler{TargetPrefix: prefix}
		awsjson.Register(h, "Op", func(context.Context, *struct{}) (*struct{ Who string }, error) {
			return &struct{ Who string }{answer}, nil
		})
		return h
	}
	def, ext := newH("Main_V1", "main"), newH("Ext_V1", "ext")
	d := awsjson.Dispatch(def, ext)
	for _, tc := range []struct {
		target, want string
		status       int
	}{
		{"Main_V1.Op", `"main"`, 200},
		{"Ext_V1.Op", `"ext"`, 200},
		{"Ext_V1.Nope", "UnknownOperationException", 400},
		// An unknown prefix, or none, is the default handler's to refuse.
		{"Other_V1.Op", "UnknownOperationException", 400},
		{"Ext_V1", "UnknownOperationException", 400},
		{"", "UnknownOperationException", 400},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", tc.target)
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%q: %d %s, want %d with %s", tc.target, rec.Code, rec.Body, tc.status, tc.want)
		}
	}
}
