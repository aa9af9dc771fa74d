package vulndb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/osv-scalibr/semantic"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// buildDB indexes parsed advisories without a store.
func buildDB(t testing.TB, advs ...*advisory) *DB {
	b := newBuilder()
	for _, a := range advs {
		b.add(a)
	}
	db, err := b.finish(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// FuzzParseAdvisory feeds arbitrary bytes through the parser, the index
// and the matcher: nothing may panic, and what parses has an id and a
// modified time.
func FuzzParseAdvisory(f *testing.F) {
	filepath.WalkDir("testdata/osv", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	f.Add([]byte(`{"id":"X","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"*"},{"last_affected":"1:2"}]}],"versions":["1"]}]}`))
	f.Add([]byte(`{"id":"X","modified":"0001-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseAdvisory(data)
		if err != nil {
			return
		}
		if a.rec.ID == "" || a.modified.IsZero() {
			t.Fatalf("accepted %+v", a)
		}
		a.withdrawn = time.Time{} // index it even if withdrawn
		db := buildDB(t, a)
		// Match every package the record names at every version it
		// mentions, in a distro of each release it names.
		var inv inventory.Inventory
		for _, af := range a.rec.Affected {
			var vs []string
			vs = append(vs, af.Versions...)
			for _, r := range af.Ranges {
				for _, e := range r.Events {
					vs = append(vs, e.Introduced, e.Fixed, e.LastAffected, e.Limit)
				}
			}
			for _, v := range vs {
				inv.Packages = append(inv.Packages, inventory.Package{Name: af.Package.Name, Version: v, Ecosystem: baseEcosystem(af.Package.Ecosystem),
					SourceName: af.Package.Name})
			}
		}
		db.Match(&inv)
		for _, d := range []inventory.Distro{{ID: "debian", VersionID: "12"}, {ID: "ubuntu", VersionID: "22.04"}, {ID: "alpine", VersionID: "3.19"}} {
			inv.Distro = d
			db.Match(&inv)
		}
		_ = a.packageKeys()
		_ = a.uri()
	})
}

// Version pools the matcher fuzz test draws from: equal versions spelled
// differently, pre-releases, epochs, and a few unparseable ones.
var fuzzPools = []struct {
	eco, distroID, distroVersion string
	versions                     []string
}{
	{"Debian:12", "debian", "12", []string{"0", "1", "1.0", "1.0-1", "01.0-1", "1.0-2", "1.0-1+b1", "1.0~rc1-1", "1:0.5-1", "1:1.0-1", "2.0-1", "1.0.1-1", "", "x:1", "none"}},
	{"Alpine:v3.19", "alpine", "3.19.4", []string{"0", "1.36.1-r15", "1.36.1-r16", "1.36.1_rc1-r0", "1.36.1a-r0", "1.36-r0", "2.0-r0", "1.36.1", "1.36.1-r9"}},
	{"PyPI", "", "", []string{"0", "1.0", "1.0.0", "1.0rc1", "1.0.post1", "1.0.dev1", "1!0.1", "1.1", "2.0", "1.0a1", "abc"}},
	{"Go", "", "", []string{"0", "1.0.0", "v1.0.0", "1.0.0-rc.1", "1.0.0-rc.2", "1.0.0+meta", "1.2.3", "1.10.0", "1.9.9", "2.0.0"}},
	{"Maven", "", "", []string{"0", "1.0", "1.0-SNAPSHOT", "1.0-beta1", "1.0.0", "1.0-alpha", "1.1", "2", "1.0-rc1", "1.0.1"}},
	{"RubyGems", "", "", []string{"0", "1.0", "1.0.a", "1.0.0", "1.0.10", "1.0.9", "2", "1.0.0.pre"}},
	{"npm", "", "", []string{"0", "1.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.1", "2.0.0", "10.0.0"}},
}

// FuzzMatchAgainstSpec checks the indexed matcher (versions ranked once,
// binary search, integer evaluation, shared across advisories of a key)
// against a direct transcription of the OSV specification's IsVulnerable
// on versions parsed at each comparison.
func FuzzMatchAgainstSpec(f *testing.F) {
	f.Add([]byte{0, 3, 1, 0, 0, 1, 5, 9, 4})
	f.Add([]byte{2, 7, 0, 3, 1, 2, 2, 5, 1, 0, 6, 3, 3, 9})
	f.Add([]byte{3, 1, 1, 1, 2, 0, 0, 1, 4, 1, 8, 2, 5, 3, 0, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() int {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return int(b)
		}
		pool := fuzzPools[next()%len(fuzzPools)]
		pick := func() string { return pool.versions[next()%len(pool.versions)] }
		type spec struct {
			id     string
			ranges []osvRange
			listed []string
		}
		var specs []spec
		var advs []*advisory
		nAdv := 1 + next()%4
		for i := range nAdv {
			s := spec{id: fmt.Sprintf("TEST-%d", i)}
			for range next() % 3 {
				r := osvRange{Type: "ECOSYSTEM"}
				if next()%4 == 0 {
					r.Type = "SEMVER"
				}
				for range 1 + next()%5 {
					var e osvEvent
					switch k, v := next()%5, pick(); k {
					case 0, 1:
						e.Introduced = v
					case 2:
						e.Fixed = v
					case 3:
						e.LastAffected = v
					case 4:
						e.Limit = v
						if next()%3 == 0 {
							e.Limit = "*"
						}
					}
					if e == (osvEvent{}) {
						e.Introduced = "0"
					}
					r.Events = append(r.Events, e)
				}
				s.ranges = append(s.ranges, r)
			}
			for range next() % 3 {
				s.listed = append(s.listed, pick())
			}
			rec := map[string]any{
				"id": s.id, "modified": "2024-01-01T00:00:00Z",
				"affected": []any{map[string]any{
					"package":  map[string]string{"ecosystem": pool.eco, "name": "pkg"},
					"ranges":   s.ranges,
					"versions": s.listed,
				}},
			}
			raw, _ := json.Marshal(rec)
			a, err := parseAdvisory(raw)
			if err != nil {
				t.Fatalf("generated record refused: %v\n%s", err, raw)
			}
			advs = append(advs, a)
			specs = append(specs, s)
		}
		db := buildDB(t, advs...)
		version := pick()
		inv := &inventory.Inventory{
			Distro:   inventory.Distro{ID: pool.distroID, VersionID: pool.distroVersion},
			Packages: []inventory.Package{{Name: "pkg", Version: version, Ecosystem: baseEcosystem(pool.eco)}},
		}
		got := map[string]string{}
		for _, f := range db.Match(inv) {
			got[f.ID] = f.FixedVersion
		}
		for _, s := range specs {
			want, fixed := specVulnerable(baseEcosystem(pool.eco), s.ranges, s.listed, version)
			g, ok := got[s.id]
			if ok != want {
				t.Fatalf("%s at %q: matcher %v, spec %v\nranges %+v\nversions %q", s.id, version, ok, want, s.ranges, s.listed)
			}
			if ok && len(s.ranges) == 1 && g != fixed {
				t.Fatalf("%s at %q: fixed %q, spec %q\nranges %+v", s.id, version, g, fixed, s.ranges)
			}
		}
	})
}

// specVulnerable is the OSV specification's IsVulnerable for one affected
// entry, with the rules documented on DB for what the pseudocode leaves
// open: versions without a digit, or refused by the parser, are not
// ordered (so never in a range), a range with such an event or an event
// with other than one bound is skipped, and SemVer ecosystems compare
// listed versions without a leading "v". It returns the first fix after v
// in the first range that matches.
func specVulnerable(base string, ranges []osvRange, listed []string, v string) (bool, string) {
	norm := func(s string) string {
		if semverEcosystem(base) {
			return strings.TrimPrefix(strings.TrimSpace(s), "v")
		}
		return strings.TrimSpace(s)
	}
	parse := func(semver bool, s string) semantic.Version {
		if !strings.ContainsAny(s, "0123456789") {
			return nil
		}
		if semver || semverEcosystem(base) {
			return semantic.ParseSemverVersion(strings.TrimSpace(s))
		}
		pv, err := semantic.Parse(strings.TrimSpace(s), base)
		if err != nil {
			return nil
		}
		return pv
	}
	cmpv := func(a, b semantic.Version) int {
		c, _ := a.Compare(b)
		return c
	}
	for _, r := range ranges {
		semver := r.Type == "SEMVER"
		pv := parse(semver, v)
		if pv == nil {
			continue
		}
		type ev struct {
			kind string
			zero bool
			inf  bool
			v    semantic.Version
			s    string
		}
		var evs []ev
		ok := true
		for _, e := range r.Events {
			n := 0
			var x ev
			for _, kv := range [][2]string{{"introduced", e.Introduced}, {"fixed", e.Fixed}, {"last_affected", e.LastAffected}, {"limit", e.Limit}} {
				if kv[1] != "" {
					n++
					x = ev{kind: kv[0], s: kv[1]}
				}
			}
			if n != 1 {
				ok = false
				break
			}
			switch {
			case x.kind == "introduced" && x.s == "0":
				x.zero = true
			case x.kind == "limit" && strings.Contains(x.s, "*"):
				x.inf = true
			default:
				if x.v = parse(semver, x.s); x.v == nil {
					ok = false
				}
			}
			evs = append(evs, x)
		}
		hasOrdered := slices.ContainsFunc(evs, func(e ev) bool { return e.kind != "limit" })
		if !ok || !hasOrdered {
			continue
		}
		less := func(a, b ev) int { // -1 a<b
			switch {
			case a.zero && b.zero, a.inf && b.inf:
				return 0
			case a.zero || b.inf:
				return -1
			case b.zero || a.inf:
				return 1
			}
			return cmpv(a.v, b.v)
		}
		// BeforeLimits.
		var limits []ev
		for _, e := range evs {
			if e.kind == "limit" {
				limits = append(limits, e)
			}
		}
		before := len(limits) == 0
		for _, l := range limits {
			if l.inf || cmpv(pv, l.v) < 0 {
				before = true
			}
		}
		if !before {
			continue
		}
		var sorted []ev
		for _, e := range evs {
			if e.kind != "limit" {
				sorted = append(sorted, e)
			}
		}
		slices.SortStableFunc(sorted, less)
		vulnerable := false
		for _, e := range sorted {
			ge := e.zero || cmpv(pv, e.v) >= 0
			switch {
			case e.kind == "introduced" && ge:
				vulnerable = true
			case e.kind == "fixed" && ge:
				vulnerable = false
			case e.kind == "last_affected" && !e.zero && cmpv(pv, e.v) > 0:
				vulnerable = false
			}
		}
		if vulnerable {
			for _, e := range sorted {
				if e.kind == "fixed" && cmpv(pv, e.v) < 0 {
					return true, e.s
				}
			}
			return true, ""
		}
	}
	for _, l := range listed {
		if norm(l) != "" && norm(l) == norm(v) {
			return true, ""
		}
	}
	return false, ""
}

// memStore is enough of a VulnStore for the stream fuzz test.
type memStore struct {
	meta.VulnStore
	n int
}

func (m *memStore) PutVulnAdvisories(_ context.Context, advs []meta.VulnAdvisory) ([]meta.VulnPutResult, error) {
	m.n += len(advs)
	out := make([]meta.VulnPutResult, len(advs))
	for i := range out {
		out[i].Outcome = meta.VulnAdded
	}
	return out, nil
}

// FuzzImportStream reads arbitrary file contents as Import does: never a
// panic or an error (bad content is counted invalid), and every record is
// accounted for.
func FuzzImportStream(f *testing.F) {
	f.Add([]byte(`[{"id":"A","modified":"2024-01-01T00:00:00Z"}, 1, {"id":"B"}]`))
	f.Add([]byte(`{"id":"A","modified":"2024-01-01T00:00:00Z"} {"id":"C","modified":"2024-01-01T00:00:00Z"}`))
	f.Add([]byte(`  [ ] [{"id": "D"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := &memStore{}
		im := &importer{ctx: context.Background(), st: st, touched: map[PackageKey]bool{}}
		im.opts.defaults()
		im.opts.BatchSize = 2
		if err := im.stream("f.json", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := im.flush(); err != nil {
			t.Fatal(err)
		}
		if im.rep.Added != st.n || im.rep.Added > im.rep.Records {
			t.Fatalf("report %+v, stored %d", im.rep, st.n)
		}
	})
}
