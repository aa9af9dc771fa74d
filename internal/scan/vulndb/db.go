package vulndb

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/osv-scalibr/semantic"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// DB is the in-memory index of the stored advisories (withdrawn ones
// left out). It is read-only once built, so Match may be called from any
// number of goroutines.
//
// # How matching works
//
// Advisories are indexed by package key (normalised ecosystem and name,
// see PackageKey). For each key, every version its ranges mention is
// parsed once, with the ecosystem's own ordering (osv-scalibr's semantic
// package: dpkg for Debian and Ubuntu, apk for Alpine, rpm for the Red Hat
// family, PEP 440 for PyPI, Maven's, RubyGems', Packagist's, NuGet's;
// SemVer for Go, npm, crates.io and for any SEMVER range), sorted, and
// replaced by its rank. Matching a package then parses its version once,
// finds its rank by binary search and evaluates the OSV algorithm
// (introduced / fixed / last_affected / limit, events in version order) on
// small integers. GIT ranges are ignored (no image carries commits).
// Versions listed in "versions" match by exact string ("v" prefixes
// aside for SemVer ecosystems).
//
// A version that cannot be parsed (empty, without any digit, or refused
// by the ecosystem's parser, such as a Debian epoch that is not a number)
// is never in a range: such a package is reported only when its exact
// version is listed. A range with an event that cannot be parsed is
// dropped when loading (see LoadStats.SkippedRanges): guessing its bounds
// would report fixed packages or hide affected ones.
type DB struct {
	idx       map[string]map[string]*pkgIndex // ecosystem → name → index
	count     int
	updatedAt time.Time
	stats     LoadStats
}

// LoadStats describes what Load indexed.
type LoadStats struct {
	// Advisories indexed (not withdrawn) and affected entries kept.
	Advisories, Entries int
	// Unreadable stored advisories (never expected: Import validates).
	Unreadable int
	// SkippedRanges could not be evaluated: an unparseable event
	// version, an ecosystem without a known version order, or an event
	// naming no or several bounds.
	SkippedRanges int
}

// Orderings of a package key's versions.
const (
	ordEcosystem = iota // the ecosystem's own
	ordSemver           // SemVer (SEMVER ranges)
	nOrders
)

// pkgIndex is everything known about one package key.
type pkgIndex struct {
	base    string                       // ecosystem without suffix: the version parser
	orders  [nOrders][]semantic.Version  // distinct versions in order; rank of orders[o][i] is 2i+1
	entries []entry                      // one per affected entry naming the key
	listed  map[string][]int32           // exact listed version → entries
	pending [nOrders][]pendingVersion    // while building
	parsed  [nOrders]map[string]*pendVal // while building: each version parsed once
}

type pendingVersion struct {
	v    *pendVal
	rank *int32
}

type pendVal struct {
	v semantic.Version
}

// entry is one affected entry of one advisory.
type entry struct {
	adv    *advInfo
	rating rating
	ranges []crange
}

// crange is a compiled range: events sorted by rank.
type crange struct {
	events []cevent
	limits []int32 // nil: no limit
	ord    uint8
}

const (
	evIntroduced = iota
	evFixed
	evLastAffected
)

type cevent struct {
	rank    int32
	kind    uint8
	version string
}

// Special ranks: introduced "0" sorts before every version, limit "*"
// after.
const (
	rankZero     = 0
	rankInfinity = math.MaxInt32
)

// advInfo is what a finding reports of an advisory.
type advInfo struct {
	id        string
	aliases   []string
	upstream  []string
	summary   string
	details   string
	uri       string
	published time.Time
	modified  time.Time
}

// Count is the number of advisories indexed.
func (db *DB) Count() int { return db.count }

// UpdatedAt is the newest "modified" time among the import sources (and
// the advisories loaded): ECR's vulnerabilitySourceUpdatedAt.
func (db *DB) UpdatedAt() time.Time { return db.updatedAt }

// Stats describes what was indexed.
func (db *DB) Stats() LoadStats { return db.stats }

// loadPage is how many advisories Load reads from the store at a time.
const loadPage = 1000

// Load builds the index from every stored advisory not withdrawn.
func Load(ctx context.Context, st meta.VulnStore) (*DB, error) {
	b := newBuilder()
	after := ""
	for {
		page, err := st.ListVulnAdvisories(ctx, meta.VulnQuery{AfterID: after, Limit: loadPage})
		if err != nil {
			return nil, fmt.Errorf("vulndb: load: %w", err)
		}
		for _, a := range page {
			b.addStored(a)
		}
		if len(page) < loadPage {
			break
		}
		after = page[len(page)-1].ID
	}
	return finishWithSources(ctx, st, b)
}

func finishWithSources(ctx context.Context, st meta.VulnStore, b *builder) (*DB, error) {
	srcs, err := st.ListVulnSources(ctx)
	if err != nil {
		return nil, fmt.Errorf("vulndb: load: %w", err)
	}
	return b.finish(ctx, srcs)
}

// LoadFor builds an index of only the advisories affecting the given
// package keys (see PackageKeys): enough to match the inventories they
// come from, for a fraction of the memory and time of Load.
func LoadFor(ctx context.Context, st meta.VulnStore, keys []PackageKey) (*DB, error) {
	advs, err := st.VulnAdvisoriesFor(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("vulndb: load: %w", err)
	}
	b := newBuilder()
	for _, a := range advs {
		b.addStored(a)
	}
	return finishWithSources(ctx, st, b)
}

type builder struct {
	db *DB
}

func newBuilder() *builder {
	return &builder{db: &DB{idx: map[string]map[string]*pkgIndex{}}}
}

func (b *builder) addStored(sa meta.VulnAdvisory) {
	raw, err := decompress(sa.Data)
	if err != nil {
		b.db.stats.Unreadable++
		return
	}
	a, err := parseAdvisory(raw)
	if err != nil {
		b.db.stats.Unreadable++
		return
	}
	b.add(a)
}

// add indexes one advisory (a withdrawn one is skipped).
func (b *builder) add(a *advisory) {
	if !a.withdrawn.IsZero() {
		return
	}
	db := b.db
	db.count++
	db.stats.Advisories++
	if a.modified.After(db.updatedAt) {
		db.updatedAt = a.modified
	}
	r := &a.rec
	info := &advInfo{
		id:        r.ID,
		aliases:   cleanIDs(r.ID, r.Aliases),
		upstream:  cleanIDs(r.ID, r.Upstream),
		summary:   strings.TrimSpace(r.Summary),
		details:   strings.TrimSpace(r.Details),
		uri:       a.uri(),
		published: a.published,
		modified:  a.modified,
	}
	for i := range r.Affected {
		af := &r.Affected[i]
		key, ok := advisoryKey(af.Package)
		if !ok {
			continue
		}
		pi := b.index(key)
		e := entry{adv: info, rating: rate(r, af)}
		for _, rg := range af.Ranges {
			var ord int
			switch strings.ToUpper(rg.Type) {
			case "ECOSYSTEM":
				ord = ordEcosystem
			case "SEMVER":
				ord = ordSemver
			default:
				continue // GIT, or unknown
			}
			if ord == ordEcosystem && semverEcosystem(pi.base) {
				ord = ordSemver
			}
			if cr, ok := b.compile(pi, ord, rg.Events); ok {
				e.ranges = append(e.ranges, cr)
			} else {
				db.stats.SkippedRanges++
			}
		}
		if len(e.ranges) == 0 && len(af.Versions) == 0 {
			continue
		}
		n := int32(len(pi.entries))
		pi.entries = append(pi.entries, e)
		db.stats.Entries++
		for _, v := range af.Versions {
			k := listedKey(pi.base, v)
			if k == "" {
				continue
			}
			l := pi.listed[k]
			if len(l) == 0 || l[len(l)-1] != n {
				pi.listed[k] = append(l, n)
			}
		}
	}
}

func (b *builder) index(k PackageKey) *pkgIndex {
	names := b.db.idx[k.Ecosystem]
	if names == nil {
		names = map[string]*pkgIndex{}
		b.db.idx[k.Ecosystem] = names
	}
	pi := names[k.Name]
	if pi == nil {
		pi = &pkgIndex{base: baseEcosystem(k.Ecosystem), listed: map[string][]int32{}}
		names[k.Name] = pi
	}
	return pi
}

// compile parses a range's events; their ranks are set by finish.
func (b *builder) compile(pi *pkgIndex, ord int, events []osvEvent) (crange, bool) {
	cr := crange{ord: uint8(ord), events: make([]cevent, 0, len(events))}
	var limits []string
	for _, ev := range events {
		kind, v, n := -1, "", 0
		for k, s := range []string{ev.Introduced, ev.Fixed, ev.LastAffected, ev.Limit} {
			if s != "" {
				kind, v, n = k, s, n+1
			}
		}
		if n != 1 {
			return crange{}, false
		}
		if kind == 3 {
			limits = append(limits, v)
			continue
		}
		cr.events = append(cr.events, cevent{kind: uint8(kind), version: v})
	}
	if len(cr.events) == 0 {
		return crange{}, false
	}
	// Parse everything before registering anything, so that a range
	// dropped half way leaves no pending ranks behind.
	vals := make([]*pendVal, len(cr.events))
	for i, ev := range cr.events {
		if ev.kind == evIntroduced && ev.version == "0" {
			continue
		}
		if vals[i] = b.parse(pi, ord, ev.version); vals[i] == nil {
			return crange{}, false
		}
	}
	limVals := make([]*pendVal, len(limits))
	for i, l := range limits {
		if strings.Contains(l, "*") {
			continue
		}
		if limVals[i] = b.parse(pi, ord, l); limVals[i] == nil {
			return crange{}, false
		}
	}
	for i := range cr.events {
		if vals[i] == nil {
			cr.events[i].rank = rankZero
			continue
		}
		pi.pending[ord] = append(pi.pending[ord], pendingVersion{v: vals[i], rank: &cr.events[i].rank})
	}
	if len(limits) > 0 {
		cr.limits = make([]int32, len(limits))
		for i := range limits {
			if limVals[i] == nil {
				cr.limits[i] = rankInfinity
				continue
			}
			pi.pending[ord] = append(pi.pending[ord], pendingVersion{v: limVals[i], rank: &cr.limits[i]})
		}
	}
	return cr, true
}

// parse parses a version once per key and ordering; nil when it cannot.
func (b *builder) parse(pi *pkgIndex, ord int, s string) *pendVal {
	if pi.parsed[ord] == nil {
		pi.parsed[ord] = map[string]*pendVal{}
	}
	if pv, ok := pi.parsed[ord][s]; ok {
		return pv
	}
	var pv *pendVal
	if v, ok := parseVersion(pi.base, ord, s); ok {
		pv = &pendVal{v: v}
	}
	pi.parsed[ord][s] = pv
	return pv
}

// finish ranks every key's versions and sets UpdatedAt from the sources.
func (b *builder) finish(ctx context.Context, srcs []meta.VulnSource) (*DB, error) {
	db := b.db
	for _, names := range db.idx {
		for _, pi := range names {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			b.rank(pi)
		}
	}
	for _, s := range srcs {
		if s.UpdatedAt.After(db.updatedAt) {
			db.updatedAt = s.UpdatedAt
		}
	}
	return db, nil
}

// rank sorts a key's versions, gives each its rank and sorts every
// range's events by it. Events at equal versions keep their order in the
// record, as a stable sort of the events would.
func (b *builder) rank(pi *pkgIndex) {
	ok := true
	func() {
		// The parsers are fuzzed upstream and here; a panic in one
		// would drop this key's ranges, not the load.
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		for o := range nOrders {
			pend := pi.pending[o]
			if len(pend) == 0 {
				continue
			}
			slices.SortStableFunc(pend, func(x, y pendingVersion) int { return cmpVersions(x.v.v, y.v.v) })
			var distinct []semantic.Version
			for i, p := range pend {
				if i == 0 || (p.v != pend[i-1].v && cmpVersions(p.v.v, distinct[len(distinct)-1]) != 0) {
					distinct = append(distinct, p.v.v)
				}
				*p.rank = int32(2*(len(distinct)-1) + 1)
			}
			pi.orders[o] = slices.Clip(distinct)
		}
	}()
	pi.pending, pi.parsed = [nOrders][]pendingVersion{}, [nOrders]map[string]*pendVal{}
	for i := range pi.entries {
		e := &pi.entries[i]
		if !ok {
			e.ranges = nil
			continue
		}
		for j := range e.ranges {
			slices.SortStableFunc(e.ranges[j].events, func(x, y cevent) int {
				switch {
				case x.rank < y.rank:
					return -1
				case x.rank > y.rank:
					return 1
				}
				return 0
			})
		}
	}
}

func cmpVersions(a, b semantic.Version) int {
	c, err := a.Compare(b)
	if err != nil {
		return 0
	}
	return c
}

// semverEcosystem tells whether an ecosystem's own order is SemVer, so
// that its ECOSYSTEM and SEMVER ranges share one ordering.
func semverEcosystem(base string) bool {
	switch base {
	case "Go", "npm", "crates.io", "Hex", "Bitnami", "SwiftURL", "ConanCenter", "Julia", "GHC", "Bioconductor", "Docker Hardened Images":
		return true
	}
	return false
}

// parseVersion parses s in an ordering; ok false when it cannot be
// ordered (see DB).
func parseVersion(base string, ord int, s string) (v semantic.Version, ok bool) {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "0123456789") {
		return nil, false
	}
	defer func() {
		if recover() != nil {
			v, ok = nil, false
		}
	}()
	if ord == ordSemver {
		return semantic.ParseSemverVersion(s), true
	}
	v, err := semantic.Parse(s, base)
	if err != nil {
		return nil, false
	}
	return v, true
}

// listedKey is the form a listed version is compared in: as written, but
// without a leading "v" in SemVer ecosystems (Go's "v1.2.3" is OSV's
// "1.2.3").
func listedKey(base, v string) string {
	v = strings.TrimSpace(v)
	if semverEcosystem(base) {
		v = strings.TrimPrefix(v, "v")
	}
	return v
}

// position places version v among a key's ordered versions: 2i+1 when it
// equals the i-th, 2i when it sorts between the (i-1)-th and the i-th.
func position(vers []semantic.Version, v semantic.Version) int32 {
	lo, hi := 0, len(vers)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmpVersions(vers[m], v) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(vers) && cmpVersions(vers[lo], v) == 0 {
		return int32(2*lo + 1)
	}
	return int32(2 * lo)
}

// affects evaluates the OSV algorithm on ranks: the package at position p
// is affected when it is before a limit (if any) and the last event at or
// below it, in version order, is an introduction. It returns the range's
// first fix above p.
func (r *crange) affects(p int32) (bool, string) {
	if len(r.limits) > 0 {
		before := false
		for _, l := range r.limits {
			if p < l {
				before = true
				break
			}
		}
		if !before {
			return false, ""
		}
	}
	vuln := false
	for _, e := range r.events {
		switch e.kind {
		case evIntroduced:
			if p >= e.rank {
				vuln = true
			}
		case evFixed:
			if p >= e.rank {
				vuln = false
			}
		case evLastAffected:
			if p > e.rank {
				vuln = false
			}
		}
	}
	if !vuln {
		return false, ""
	}
	for _, e := range r.events {
		if e.kind == evFixed && e.rank > p {
			return true, e.version
		}
	}
	return true, ""
}

// hit is one advisory found for one package.
type hit struct {
	e     *entry
	fixed string
}

// Match returns the findings of the inventory, ordered by severity (worst
// first), then advisory id, then package. Advisories that OSV says are
// the same vulnerability give one finding per package (see merge).
func (db *DB) Match(inv *inventory.Inventory) []Finding {
	if db == nil || inv == nil {
		return nil
	}
	// All hits first, so that the findings are allocated once: they are
	// large, and growing a slice of them is what would cost most.
	type span struct{ pkg, from, to int32 }
	var hits []hit
	var spans []span
	var lk lookuper
	var ls []lookup
	for i := range inv.Packages {
		from := len(hits)
		ls = lk.lookups(ls[:0], inv.Distro, &inv.Packages[i])
		hits = db.matchPackage(ls, hits)
		if len(hits) > from {
			spans = append(spans, span{int32(i), int32(from), int32(len(hits))})
		}
	}
	var m merger
	var groups []group
	for _, sp := range spans {
		groups = m.merge(groups, hits[sp.from:sp.to], sp.pkg)
	}
	return findings(groups, inv.Packages)
}

// matchPackage appends the advisories affecting a package, looked up
// under ls, one hit per advisory.
func (db *DB) matchPackage(ls []lookup, hits []hit) []hit {
	from := len(hits)
	for _, l := range ls {
		pi := db.idx[l.key.Ecosystem][l.key.Name]
		if pi == nil {
			continue
		}
		var pos [nOrders]int32
		var have [nOrders]int8 // 0 not computed, 1 ok, -1 unparseable
		for i := range pi.entries {
			e := &pi.entries[i]
			for j := range e.ranges {
				r := &e.ranges[j]
				o := r.ord
				if have[o] == 0 {
					pos[o], have[o] = pi.position(int(o), l.version)
				}
				if have[o] < 0 {
					continue
				}
				if ok, fixed := r.affects(pos[o]); ok {
					hits = addHit(hits, from, e, fixed)
					break
				}
			}
		}
		if k := listedKey(pi.base, l.version); k != "" {
			for _, n := range pi.listed[k] {
				hits = addHit(hits, from, &pi.entries[n], "")
			}
		}
	}
	return hits
}

// position places a package version among the key's versions in
// ordering o: (p, 1), or (0, -1) when it cannot be ordered.
func (pi *pkgIndex) position(o int, version string) (int32, int8) {
	if v, ok := parseVersion(pi.base, o, version); ok {
		if p, ok := safePosition(pi.orders[o], v); ok {
			return p, 1
		}
	}
	return 0, -1
}

func safePosition(vers []semantic.Version, v semantic.Version) (p int32, ok bool) {
	defer func() {
		if recover() != nil {
			p, ok = 0, false
		}
	}()
	return position(vers, v), true
}

// addHit records that e's advisory affects the package, once per advisory
// (an advisory may name a package in several entries, or under its source
// and its binary name); a hit that knows the fix wins over one that does
// not.
func addHit(hits []hit, from int, e *entry, fixed string) []hit {
	for i := from; i < len(hits); i++ {
		if hits[i].e.adv.id == e.adv.id {
			if hits[i].fixed == "" && fixed != "" {
				hits[i] = hit{e, fixed}
			}
			return hits
		}
	}
	return append(hits, hit{e, fixed})
}
