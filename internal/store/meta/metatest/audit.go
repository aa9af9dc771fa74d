package metatest

import (
	"context"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

func testAudit(t *testing.T, s meta.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	in := []meta.AuditEvent{
		{At: t0, AccountID: "111111111111", Repository: "team/app", Action: "lifecycle.expire", Actor: "system:lifecycle", Digest: "sha256:aa", Detail: []byte(`{"rule":1}`)},
		{At: t0.Add(time.Hour), AccountID: "111111111111", Repository: "team/app", Action: "tag.rollback", Actor: "arn:aws:iam::111111111111:root", Tag: "latest"},
		{At: t0.Add(2 * time.Hour), AccountID: "222222222222", Repository: "other", Action: "scan.complete", Actor: "system:scan", Digest: "sha256:bb"},
		{AccountID: "111111111111", Action: "scan.new-critical-findings", Actor: "system:scan"},
	}
	got, err := s.AppendAudit(ctx, in...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].ID <= 0 || got[1].ID <= got[0].ID || got[3].At.IsZero() || !got[0].At.Equal(t0) {
		t.Fatalf("appended %+v", got)
	}
	if _, err := s.AppendAudit(ctx, meta.AuditEvent{AccountID: "1"}); err == nil {
		t.Fatal("an event without action was accepted")
	}
	ids := func(f meta.AuditFilter) []int64 {
		t.Helper()
		evs, err := s.ListAudit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	eq := func(what string, got []int64, want ...int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got ids %v, want %v", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: got ids %v, want %v", what, got, want)
			}
		}
	}
	a, b, c, d := got[0].ID, got[1].ID, got[2].ID, got[3].ID
	eq("all", ids(meta.AuditFilter{}), a, b, c, d)
	eq("account", ids(meta.AuditFilter{AccountID: "111111111111"}), a, b, d)
	eq("repository", ids(meta.AuditFilter{AccountID: "111111111111", Repository: "team/app"}), a, b)
	eq("action", ids(meta.AuditFilter{Action: "tag.rollback"}), b)
	eq("action prefix", ids(meta.AuditFilter{Action: "scan."}), c, d)
	eq("action star", ids(meta.AuditFilter{Action: "scan*"}), c, d)
	eq("no partial word", ids(meta.AuditFilter{Action: "scan"}))
	eq("digest", ids(meta.AuditFilter{Digest: "sha256:bb"}), c)
	eq("since/until", ids(meta.AuditFilter{Since: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)}), b)
	eq("page", ids(meta.AuditFilter{AfterID: a, Limit: 2}), b, c)

	evs, err := s.ListAudit(ctx, meta.AuditFilter{Digest: "sha256:aa"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("list: %v %v", evs, err)
	}
	e := evs[0]
	if e.Actor != "system:lifecycle" || string(e.Detail) != `{"rule":1}` || e.Repository != "team/app" || e.Action != "lifecycle.expire" {
		t.Fatalf("round trip: %+v", e)
	}
}
