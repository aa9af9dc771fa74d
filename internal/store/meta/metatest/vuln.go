package metatest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

func vp(eco, name string) meta.VulnPackage { return meta.VulnPackage{Ecosystem: eco, Name: name} }

func vulnIDs(advs []meta.VulnAdvisory) []string {
	var out []string
	for _, a := range advs {
		out = append(out, a.ID)
	}
	return out
}

func outcomes(rs []meta.VulnPutResult) []meta.VulnPutOutcome {
	var out []meta.VulnPutOutcome
	for _, r := range rs {
		out = append(out, r.Outcome)
	}
	return out
}

func testVulnAdvisories(t *testing.T, s meta.Store) {
	c := ctx(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	a := meta.VulnAdvisory{ID: "DSA-1-1", Modified: t0, Source: "debian", Data: []byte("one"),
		Packages: []meta.VulnPackage{vp("Debian:12", "openssl"), vp("Debian:11", "openssl"), vp("Debian:12", "openssl")}}
	b := meta.VulnAdvisory{ID: "GHSA-aaaa", Modified: t0, Source: "ghsa", Data: []byte("two"),
		Packages: []meta.VulnPackage{vp("npm", "left-pad")}}
	w := meta.VulnAdvisory{ID: "CVE-2020-1", Modified: t0, Withdrawn: t0, Source: "ghsa", Data: []byte("gone"),
		Packages: []meta.VulnPackage{vp("npm", "left-pad")}}
	res, err := s.PutVulnAdvisories(c, []meta.VulnAdvisory{a, b, w})
	must(t, err)
	if got := outcomes(res); !slices.Equal(got, []meta.VulnPutOutcome{meta.VulnAdded, meta.VulnAdded, meta.VulnAdded}) {
		t.Fatalf("first put: %v", got)
	}
	if _, err := s.PutVulnAdvisories(c, []meta.VulnAdvisory{{Modified: t0}}); err == nil {
		t.Fatal("an advisory without id was accepted")
	}

	// Idempotent: the same versions again change nothing; an older one
	// is kept out; a newer one replaces, reporting the keys it had.
	res, err = s.PutVulnAdvisories(c, []meta.VulnAdvisory{a, b})
	must(t, err)
	if got := outcomes(res); !slices.Equal(got, []meta.VulnPutOutcome{meta.VulnUnchanged, meta.VulnUnchanged}) {
		t.Fatalf("second put: %v", got)
	}
	older := a
	older.Modified, older.Data = t0.Add(-time.Hour), []byte("stale")
	newer := a
	newer.Modified, newer.Data, newer.Source = t0.Add(time.Hour), []byte("one v2"), "debian-2"
	newer.Packages = []meta.VulnPackage{vp("Debian:13", "openssl")}
	res, err = s.PutVulnAdvisories(c, []meta.VulnAdvisory{older, newer})
	must(t, err)
	if got := outcomes(res); !slices.Equal(got, []meta.VulnPutOutcome{meta.VulnOlder, meta.VulnUpdated}) {
		t.Fatalf("third put: %v", got)
	}
	if got := res[1].Previous; !slices.Equal(got, []meta.VulnPackage{vp("Debian:11", "openssl"), vp("Debian:12", "openssl")}) {
		t.Fatalf("previous keys: %v", got)
	}
	// An id twice in one call is decided in order.
	twice := b
	twice.Modified = t0.Add(2 * time.Hour)
	res, err = s.PutVulnAdvisories(c, []meta.VulnAdvisory{twice, b})
	must(t, err)
	if got := outcomes(res); !slices.Equal(got, []meta.VulnPutOutcome{meta.VulnUpdated, meta.VulnOlder}) {
		t.Fatalf("twice: %v", got)
	}

	all, err := s.ListVulnAdvisories(c, meta.VulnQuery{})
	must(t, err)
	if got := vulnIDs(all); !slices.Equal(got, []string{"DSA-1-1", "GHSA-aaaa"}) {
		t.Fatalf("list: %v", got)
	}
	d := all[0]
	if string(d.Data) != "one v2" || d.Source != "debian-2" || !d.Modified.Equal(t0.Add(time.Hour)) || d.ImportedAt.IsZero() ||
		!slices.Equal(d.Packages, []meta.VulnPackage{vp("Debian:13", "openssl")}) {
		t.Fatalf("stored %+v", d)
	}
	if !all[1].Modified.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("twice stored %v", all[1].Modified)
	}
	withW, err := s.ListVulnAdvisories(c, meta.VulnQuery{IncludeWithdrawn: true, WithoutData: true})
	must(t, err)
	if got := vulnIDs(withW); !slices.Equal(got, []string{"CVE-2020-1", "DSA-1-1", "GHSA-aaaa"}) || withW[0].Data != nil ||
		!withW[0].Withdrawn.Equal(t0) || len(withW[0].Packages) != 1 {
		t.Fatalf("list with withdrawn: %v %+v", got, withW[0])
	}
	page, err := s.ListVulnAdvisories(c, meta.VulnQuery{AfterID: "CVE-2020-1", Limit: 1, IncludeWithdrawn: true})
	must(t, err)
	if got := vulnIDs(page); !slices.Equal(got, []string{"DSA-1-1"}) || len(page[0].Packages) != 1 {
		t.Fatalf("page: %v", page)
	}

	// Targeted loading by package key; withdrawn ones are left out.
	got, err := s.VulnAdvisoriesFor(c, []meta.VulnPackage{vp("npm", "left-pad"), vp("Debian:12", "openssl"), vp("PyPI", "nothing")})
	must(t, err)
	if ids := vulnIDs(got); !slices.Equal(ids, []string{"GHSA-aaaa"}) || string(got[0].Data) != "two" || len(got[0].Packages) != 1 {
		t.Fatalf("for: %v", ids)
	}
	got, err = s.VulnAdvisoriesFor(c, []meta.VulnPackage{vp("Debian:13", "openssl"), vp("npm", "left-pad")})
	must(t, err)
	if ids := vulnIDs(got); !slices.Equal(ids, []string{"DSA-1-1", "GHSA-aaaa"}) {
		t.Fatalf("for: %v", ids)
	}
	if got, err := s.VulnAdvisoriesFor(c, nil); err != nil || len(got) != 0 {
		t.Fatalf("for nothing: %v %v", got, err)
	}

	total, per, err := s.CountVulnAdvisories(c)
	must(t, err)
	if total != 2 || !slices.Equal(per, []meta.VulnEcosystemCount{{Ecosystem: "Debian:13", Advisories: 1}, {Ecosystem: "npm", Advisories: 1}}) {
		t.Fatalf("counts: %d %v", total, per)
	}
}

func testVulnAdvisoriesMany(t *testing.T, s meta.Store) {
	// More ids and keys than one IN list or one INSERT takes.
	c := ctx(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var advs []meta.VulnAdvisory
	var keys []meta.VulnPackage
	for i := range 700 {
		a := meta.VulnAdvisory{ID: fmt.Sprintf("GO-2026-%04d", i), Modified: t0, Source: "go", Data: []byte{byte(i)}}
		for j := range 3 {
			a.Packages = append(a.Packages, vp("Go", fmt.Sprintf("example.com/m%d/p%d", i, j)))
		}
		if i%2 == 0 {
			keys = append(keys, a.Packages[i%3])
		}
		advs = append(advs, a)
	}
	a := advs[0]
	for j := range 400 {
		a.Packages = append(a.Packages, vp("Go", fmt.Sprintf("example.com/wide/%d", j)))
	}
	advs[0] = a
	res, err := s.PutVulnAdvisories(c, advs)
	must(t, err)
	if len(res) != 700 || res[699].Outcome != meta.VulnAdded {
		t.Fatalf("put: %d results", len(res))
	}
	got, err := s.VulnAdvisoriesFor(c, keys)
	must(t, err)
	if len(got) != 350 || got[0].ID != "GO-2026-0000" || len(got[0].Packages) != 403 {
		t.Fatalf("for: %d advisories, first %s with %d keys", len(got), got[0].ID, len(got[0].Packages))
	}
	var all []string
	after := ""
	for {
		page, err := s.ListVulnAdvisories(c, meta.VulnQuery{AfterID: after, Limit: 250})
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, a := range page {
			if len(a.Packages) < 3 {
				t.Fatalf("%s has %d keys", a.ID, len(a.Packages))
			}
			all = append(all, a.ID)
		}
		after = page[len(page)-1].ID
	}
	if len(all) != 700 || !slices.IsSorted(all) {
		t.Fatalf("paged %d", len(all))
	}
}

func testVulnSources(t *testing.T, s meta.Store) {
	c := ctx(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	must(t, s.PutVulnSource(c, meta.VulnSource{Name: "debian", Path: "/feeds/Debian/all.zip", ImportedAt: t0,
		UpdatedAt: t0.Add(-time.Hour), Added: 3, Invalid: 1}))
	if err := s.PutVulnSource(c, meta.VulnSource{}); err == nil {
		t.Fatal("a source without name was accepted")
	}
	_, err := s.PutVulnAdvisories(c, []meta.VulnAdvisory{
		{ID: "DSA-1", Modified: t0, Source: "debian", Data: []byte("x")},
		{ID: "DSA-2", Modified: t0, Source: "debian", Data: []byte("x")},
		{ID: "GO-1", Modified: t0, Source: "go", Data: []byte("x")},
		{ID: "GO-2", Modified: t0, Withdrawn: t0, Source: "go", Data: []byte("x")},
	})
	must(t, err)
	// A second import: counts replaced; updated_at never goes back.
	must(t, s.PutVulnSource(c, meta.VulnSource{Name: "debian", Path: "/feeds/debian", ImportedAt: t0.Add(time.Hour),
		UpdatedAt: t0.Add(-2 * time.Hour), Unchanged: 3}))
	must(t, s.PutVulnSource(c, meta.VulnSource{Name: "go", Path: "/feeds/go.zip", UpdatedAt: t0}))
	srcs, err := s.ListVulnSources(c)
	must(t, err)
	if len(srcs) != 2 {
		t.Fatalf("sources: %+v", srcs)
	}
	d, g := srcs[0], srcs[1]
	if d.Name != "debian" || d.Path != "/feeds/debian" || !d.ImportedAt.Equal(t0.Add(time.Hour)) || !d.UpdatedAt.Equal(t0.Add(-time.Hour)) ||
		d.Added != 0 || d.Unchanged != 3 || d.Invalid != 0 || d.Advisories != 2 {
		t.Fatalf("debian: %+v", d)
	}
	if g.Name != "go" || g.ImportedAt.IsZero() || !g.UpdatedAt.Equal(t0) || g.Advisories != 1 {
		t.Fatalf("go: %+v", g)
	}
	must(t, s.PutVulnSource(c, meta.VulnSource{Name: "go", Path: "/feeds/go.zip", UpdatedAt: t0.Add(time.Minute)}))
	srcs, err = s.ListVulnSources(c)
	must(t, err)
	if !srcs[1].UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("go moved forward: %+v", srcs[1])
	}
}
