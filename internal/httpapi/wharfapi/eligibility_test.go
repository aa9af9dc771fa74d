package wharfapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/scan"
)

type eligibilityOut struct {
	RegistryID, RescanDuration, PullDateRescanDuration string
	UpdatedAt                                          float64
}

func TestScanEligibility(t *testing.T) {
	e := newEnv(t)
	// Never set: lifetime, no pull duration.
	got := call[eligibilityOut](e, e.root, "GetScanEligibility", map[string]any{})
	if got.RegistryID != account || got.RescanDuration != "LIFETIME" || got.PullDateRescanDuration != "" || got.UpdatedAt != 0 {
		t.Fatalf("default %+v", got)
	}
	put := call[eligibilityOut](e, e.root, "PutScanEligibility", map[string]any{"rescanDuration": "DAYS_30", "pullDateRescanDuration": "DAYS_90"})
	if put.RescanDuration != "DAYS_30" || put.PullDateRescanDuration != "DAYS_90" || put.UpdatedAt == 0 {
		t.Fatalf("put %+v", put)
	}
	if got = call[eligibilityOut](e, e.root, "GetScanEligibility", map[string]any{"registryId": account}); got != put {
		t.Fatalf("get %+v, put %+v", got, put)
	}
	el, err := scan.LoadEligibility(context.Background(), e.app.Stores.Meta, account)
	if err != nil || el.RescanDuration != "DAYS_30" || el.PullDateRescanDuration != "DAYS_90" {
		t.Fatalf("stored %+v %v", el, err)
	}
	// The setting queued a rescan of the account that re-matches nothing
	// (it applies the durations).
	jobs, err := e.app.Stores.Meta.ListJobs(context.Background(), scan.KindRescan)
	if err != nil {
		t.Fatal(err)
	}
	var targeted int
	for _, j := range jobs {
		var p struct {
			Account  string
			Targeted bool
			Touched  []any
		}
		if json.Unmarshal(j.Payload, &p) == nil && p.Account == account && p.Targeted && len(p.Touched) == 0 {
			targeted++
		}
	}
	if targeted != 1 {
		t.Fatalf("rescan jobs %+v", jobs)
	}

	for _, in := range []map[string]any{
		{},                           // rescanDuration required
		{"rescanDuration": "DAYS_7"}, // not one of Inspector's
		{"rescanDuration": "LIFETIME", "pullDateRescanDuration": "LIFETIME"},
	} {
		if ae := callErr(e, e.root, "PutScanEligibility", in); ae.Code != "ValidationException" && ae.Code != "InvalidParameterException" {
			t.Errorf("%v: %v", in, ae)
		}
	}

	// Its own wharf: actions, on the registry.
	reader := e.addUser("reader", "AKIAWHARFELIGREAD001", "r",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"wharf:GetScanEligibility","Resource":"*"}]}`)
	call[eligibilityOut](e, reader, "GetScanEligibility", map[string]any{})
	if ae := callErr(e, reader, "PutScanEligibility", map[string]any{"rescanDuration": "LIFETIME"}); ae.Code != "AccessDeniedException" ||
		!strings.Contains(ae.Message, "wharf:PutScanEligibility") {
		t.Errorf("put without permission: %v", ae)
	}
}
