package vulndb

import (
	"cmp"
	"slices"
	"strings"

	"github.com/wharfhq/wharf/internal/scan/inventory"
)

// merge turns the advisories found for one package into findings, one per
// vulnerability:
//
//   - Advisories that are aliases of each other (OSV: "aliases" is
//     symmetric and transitive) are one vulnerability. So is a record with
//     a single "upstream" id and that id: DEBIAN-CVE-2024-1 or a DSA fixing
//     only CVE-2024-1 describe CVE-2024-1 for that package. They give one
//     finding, named by the group's preferred id (a CVE id, then a
//     distribution's per-CVE record such as DEBIAN-CVE-..., then GHSA, then
//     the smallest), with the others' ids in Aliases. Its severity is the
//     best-sourced rating in the group (distribution, then CVSS, then a
//     database's word); its fixed version the preferred record's, else any
//     member's.
//   - A record bundling several upstream vulnerabilities (a DSA or USN
//     fixing three CVEs) is left out when every one of them is already a
//     finding of the package; its id is added to their Aliases. When some
//     are not (another release's record, say), it stays a finding of its
//     own: dropping it would lose what only it reports.
//
// Related ids ("related") are never merged: the schema says they are
// different vulnerabilities.
//
// merge appends the package's groups of hits to out; hits must not
// change until the groups are turned into findings.
func (m *merger) merge(out []group, hits []hit, pkg int32) []group {
	if len(hits) == 1 {
		return append(out, newGroup(pkg, hits, nil))
	}
	// Union-find over the hits by shared identity tokens.
	m.reset(len(hits))
	parent, owner := m.parent, m.owner
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i, h := range hits {
		for _, tok := range identity(h.e.adv) {
			if j, ok := owner[tok]; ok {
				if a, b := find(i), find(j); a != b {
					parent[max(a, b)] = min(a, b)
				}
			} else {
				owner[tok] = i
			}
		}
	}
	// Groups in order of their first hit: members of group r are the hits
	// whose root is r, in order.
	var roots []int
	for i := range hits {
		if find(i) == i {
			roots = append(roots, i)
		}
	}
	members := func(r int) []hit {
		if m.size(r, find) == 1 {
			return hits[r : r+1]
		}
		var g []hit
		for i := r; i < len(hits); i++ {
			if find(i) == r {
				g = append(g, hits[i])
			}
		}
		return g
	}

	// Bundles covered by the other groups.
	var extra map[int][]string // root → bundle ids to add as aliases
	var dropped map[int]bool
	for _, r := range roots {
		if m.size(r, find) != 1 || len(hits[r].e.adv.upstream) < 2 {
			continue
		}
		g := hits[r : r+1]
		var covering []int
		for _, u := range g[0].e.adv.upstream {
			j, ok := owner[u]
			if !ok || find(j) == r {
				covering = nil
				break
			}
			covering = append(covering, find(j))
		}
		if covering == nil {
			continue
		}
		if dropped == nil {
			dropped, extra = map[int]bool{}, map[int][]string{}
		}
		dropped[r] = true
		for _, c := range covering {
			if !slices.Contains(extra[c], g[0].e.adv.id) {
				extra[c] = append(extra[c], g[0].e.adv.id)
			}
		}
	}
	for _, r := range roots {
		if !dropped[r] {
			out = append(out, newGroup(pkg, members(r), extra[r]))
		}
	}
	return out
}

// merger holds merge's scratch space, reused across the packages of an
// inventory.
type merger struct {
	parent []int
	sizes  []int
	owner  map[string]int
}

func (m *merger) reset(n int) {
	m.parent = slices.Grow(m.parent[:0], n)[:n]
	m.sizes = slices.Grow(m.sizes[:0], n)[:n]
	for i := range n {
		m.parent[i] = i
		m.sizes[i] = -1
	}
	if m.owner == nil {
		m.owner = make(map[string]int, 2*n)
	} else {
		clear(m.owner)
	}
}

// size is the number of hits in the group of root r (computed once).
func (m *merger) size(r int, find func(int) int) int {
	if m.sizes[r] < 0 {
		n := 0
		for i := r; i < len(m.parent); i++ {
			if find(i) == r {
				n++
			}
		}
		m.sizes[r] = n
	}
	return m.sizes[r]
}

// identity lists the ids an advisory stands for: its own, its aliases,
// and its upstream id when it has exactly one.
func identity(a *advInfo) []string {
	out := make([]string, 0, 1+len(a.aliases)+1)
	out = append(out, a.id)
	out = append(out, a.aliases...)
	if len(a.upstream) == 1 {
		out = append(out, a.upstream[0])
	}
	return out
}

// idPreference orders the ids a finding may be named by.
func idPreference(id string) int {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return 0
	case strings.Contains(id, "-CVE-"):
		return 1
	case strings.HasPrefix(id, "GHSA-"):
		return 2
	}
	return 3
}

// group is the hits of one package that describe one vulnerability,
// with what sorting needs, so that findings are built once, in order.
type group struct {
	pkg     int32
	members []hit
	extra   []string // ids of bundles folded in
	primary int      // member naming the finding
	best    int      // member whose rating is used
}

func newGroup(pkg int32, members []hit, extra []string) group {
	g := group{pkg: pkg, members: members, extra: extra}
	for i, h := range members[1:] {
		i++
		p := members[g.primary].e.adv.id
		if c := cmp.Compare(idPreference(h.e.adv.id), idPreference(p)); c < 0 || (c == 0 && h.e.adv.id < p) {
			g.primary = i
		}
	}
	g.best = g.primary
	for i, h := range members {
		if h.e.rating.from > members[g.best].e.rating.from {
			g.best = i
		}
	}
	return g
}

func (g *group) id() string { return g.members[g.primary].e.adv.id }

func (g *group) severity() string {
	if s := g.members[g.best].e.rating.severity; s != "" {
		return s
	}
	return SeverityUndefined
}

// finding builds the finding of group g of package pkg.
func (g *group) finding(pkg *inventory.Package) Finding {
	primary := g.members[g.primary]
	a := primary.e.adv
	f := Finding{
		ID:           a.id,
		Summary:      a.summary,
		Details:      a.details,
		URI:          a.uri,
		Package:      *pkg,
		FixedVersion: primary.fixed,
		Published:    a.published,
		Modified:     a.modified,
	}
	if len(g.members) == 1 && len(g.extra) == 0 {
		// The advisory's lists, as parsed (cleanIDs made them unique and
		// free of the id); copied, for the caller may change them.
		f.Aliases, f.Upstream = slices.Clone(a.aliases), slices.Clone(a.upstream)
	} else {
		f.Aliases = appendNew(nil, a.id, a.aliases...)
		f.Upstream = appendNew(nil, a.id, a.upstream...)
		for i, h := range g.members {
			if i == g.primary {
				continue
			}
			o := h.e.adv
			f.Aliases = appendNew(f.Aliases, a.id, o.id)
			f.Aliases = appendNew(f.Aliases, a.id, o.aliases...)
			f.Upstream = appendNew(f.Upstream, a.id, o.upstream...)
			if f.Summary == "" {
				f.Summary = o.summary
			}
			if f.Details == "" {
				f.Details = o.details
			}
			if f.FixedVersion == "" {
				f.FixedVersion = h.fixed
			}
		}
		f.Aliases = appendNew(f.Aliases, a.id, g.extra...)
	}
	best := g.members[g.best].e.rating
	if best.vector == "" {
		for _, h := range g.members {
			if h.e.rating.vector != "" {
				best.score, best.vector, best.cvssVersion = h.e.rating.score, h.e.rating.vector, h.e.rating.cvssVersion
				break
			}
		}
	}
	f.Severity, f.Score, f.Vector, f.CVSSVersion = g.severity(), best.score, best.vector, best.cvssVersion
	return f
}

// appendNew appends the ids not already in list (nor equal to own).
func appendNew(list []string, own string, ids ...string) []string {
	for _, id := range ids {
		if id != own && !slices.Contains(list, id) {
			list = append(list, id)
		}
	}
	return list
}

// findings sorts the groups by severity (worst first), id, then package
// name, version, ecosystem, location and position in the inventory, and
// builds their findings.
func findings(gs []group, pkgs []inventory.Package) []Finding {
	slices.SortFunc(gs, func(x, y group) int {
		if c := cmp.Compare(severityRank(y.severity()), severityRank(x.severity())); c != 0 {
			return c
		}
		a, b := &pkgs[x.pkg], &pkgs[y.pkg]
		return cmp.Or(
			strings.Compare(x.id(), y.id()),
			strings.Compare(a.Name, b.Name),
			strings.Compare(a.Version, b.Version),
			strings.Compare(a.Ecosystem, b.Ecosystem),
			slices.Compare(a.Locations, b.Locations),
			cmp.Compare(x.pkg, y.pkg),
		)
	})
	if len(gs) == 0 {
		return nil
	}
	out := make([]Finding, len(gs))
	for i := range gs {
		out[i] = gs[i].finding(&pkgs[gs[i].pkg])
	}
	return out
}
