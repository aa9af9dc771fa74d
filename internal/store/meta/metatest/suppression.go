package metatest

import (
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

func testSuppressions(t *testing.T, s meta.Store) {
	c := ctx(t)
	const acct, other = "111111111111", "222222222222"
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	in := []meta.Suppression{
		{AccountID: acct, Repository: "team/app", FindingID: "CVE-2024-1", Justification: "not reachable", ExpiresAt: t0.Add(24 * time.Hour), CreatedBy: "arn:aws:iam::111111111111:user/sec", CreatedAt: t0},
		{AccountID: acct, Repository: "team/app", FindingID: "CVE-2024-1", Package: "openssl", Justification: "patched in our build", ExpiresAt: t0.Add(48 * time.Hour), CreatedBy: "x", CreatedAt: t0},
		{AccountID: acct, Repository: "team/app", FindingID: "CVE-2024-2", Digest: dg("img"), Justification: "this image only", ExpiresAt: t0.Add(time.Hour), CreatedBy: "x", CreatedAt: t0},
		{AccountID: acct, Repository: meta.RegistryWide, FindingID: "CVE-2024-3", Justification: "everywhere", ExpiresAt: t0.Add(72 * time.Hour), CreatedBy: "x", CreatedAt: t0},
		{AccountID: acct, Repository: "team/other", FindingID: "CVE-2024-4", Justification: "elsewhere", ExpiresAt: t0.Add(72 * time.Hour), CreatedBy: "x", CreatedAt: t0},
		{AccountID: other, Repository: "team/app", FindingID: "CVE-2024-1", Justification: "other account", ExpiresAt: t0.Add(72 * time.Hour), CreatedBy: "x", CreatedAt: t0},
	}
	for _, sup := range in {
		_, replaced, err := s.PutSuppression(c, sup)
		must(t, err)
		if replaced {
			t.Fatalf("first put of %+v replaced something", sup)
		}
	}
	list := func(f meta.SuppressionFilter) []meta.Suppression {
		t.Helper()
		out, err := s.ListSuppressions(c, f)
		must(t, err)
		return out
	}
	keys := func(l []meta.Suppression) []string {
		var out []string
		for _, x := range l {
			out = append(out, x.Repository+"|"+x.FindingID+"|"+x.Package+"|"+x.Digest)
		}
		return out
	}
	eq := func(what string, got []meta.Suppression, want ...string) {
		t.Helper()
		k := keys(got)
		if len(k) != len(want) {
			t.Fatalf("%s: got %q, want %q", what, k, want)
		}
		for i := range k {
			if k[i] != want[i] {
				t.Fatalf("%s: got %q, want %q", what, k, want)
			}
		}
	}
	d := dg("img")
	eq("repository with registry-wide", list(meta.SuppressionFilter{AccountID: acct, Repository: "team/app", IncludeRegistryWide: true}),
		"*|CVE-2024-3||", "team/app|CVE-2024-1||", "team/app|CVE-2024-1|openssl|", "team/app|CVE-2024-2||"+d)
	eq("repository only", list(meta.SuppressionFilter{AccountID: acct, Repository: "team/app"}),
		"team/app|CVE-2024-1||", "team/app|CVE-2024-1|openssl|", "team/app|CVE-2024-2||"+d)
	eq("registry-wide only", list(meta.SuppressionFilter{AccountID: acct, Repository: meta.RegistryWide, IncludeRegistryWide: true}), "*|CVE-2024-3||")
	eq("finding", list(meta.SuppressionFilter{AccountID: acct, FindingID: "CVE-2024-1"}), "team/app|CVE-2024-1||", "team/app|CVE-2024-1|openssl|")
	eq("active at", list(meta.SuppressionFilter{AccountID: acct, Repository: "team/app", ActiveAt: t0.Add(time.Hour)}),
		"team/app|CVE-2024-1||", "team/app|CVE-2024-1|openssl|")
	eq("other account", list(meta.SuppressionFilter{AccountID: other}), "team/app|CVE-2024-1||")
	if n := len(list(meta.SuppressionFilter{})); n != len(in) {
		t.Fatalf("all: %d, want %d", n, len(in))
	}

	// Fields round-trip, times in UTC with nanoseconds.
	got := list(meta.SuppressionFilter{AccountID: acct, Repository: "team/app", FindingID: "CVE-2024-1"})[0]
	if got.Justification != "not reachable" || !got.ExpiresAt.Equal(in[0].ExpiresAt) || got.ExpiresAt.Location() != time.UTC ||
		!got.CreatedAt.Equal(t0) || got.CreatedBy != in[0].CreatedBy || got.AccountID != acct {
		t.Fatalf("round trip: %+v", got)
	}

	// Put with the same key replaces and reports the old one.
	upd := in[0]
	upd.Justification, upd.ExpiresAt, upd.CreatedBy = "re-reviewed", t0.Add(96*time.Hour), "y"
	old, replaced, err := s.PutSuppression(c, upd)
	must(t, err)
	if !replaced || old.Justification != "not reachable" {
		t.Fatalf("replace: replaced=%v old=%+v", replaced, old)
	}
	got = list(meta.SuppressionFilter{AccountID: acct, Repository: "team/app", FindingID: "CVE-2024-1"})[0]
	if got.Justification != "re-reviewed" || !got.ExpiresAt.Equal(upd.ExpiresAt) || got.CreatedBy != "y" {
		t.Fatalf("after replace: %+v", got)
	}

	// Delete by key; the package-scoped one stays.
	del, err := s.DeleteSuppression(c, meta.Suppression{AccountID: acct, Repository: "team/app", FindingID: "CVE-2024-1"})
	must(t, err)
	if del.Justification != "re-reviewed" {
		t.Fatalf("deleted %+v", del)
	}
	_, err = s.DeleteSuppression(c, meta.Suppression{AccountID: acct, Repository: "team/app", FindingID: "CVE-2024-1"})
	wantErr(t, err, meta.ErrNotFound)
	eq("after delete", list(meta.SuppressionFilter{AccountID: acct, FindingID: "CVE-2024-1"}), "team/app|CVE-2024-1|openssl|")

	if _, _, err := s.PutSuppression(c, meta.Suppression{AccountID: acct, Repository: "team/app"}); err == nil {
		t.Fatal("a suppression without finding id was accepted")
	}
}
