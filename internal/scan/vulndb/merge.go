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
func merge(hits []hit, pkg *inventory.Package) []Finding {
	if len(hits) == 1 {
		return []Finding{finding([]hit{hits[0]}, pkg)}
	}
	// Union-find over the hits by shared identity tokens.
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
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
	groupOf := map[int][]hit{}
	var roots []int
	for i, h := range hits {
		r := find(i)
		if _, ok := groupOf[r]; !ok {
			roots = append(roots, r)
		}
		groupOf[r] = append(groupOf[r], h)
	}

	// Bundles covered by the other groups.
	extra := map[int][]string{} // root → bundle ids to add as aliases
	dropped := map[int]bool{}
	for _, r := range roots {
		g := groupOf[r]
		if len(g) != 1 || len(g[0].e.adv.upstream) < 2 {
			continue
		}
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
		dropped[r] = true
		for _, c := range covering {
			if !slices.Contains(extra[c], g[0].e.adv.id) {
				extra[c] = append(extra[c], g[0].e.adv.id)
			}
		}
	}
	var out []Finding
	for _, r := range roots {
		if dropped[r] {
			continue
		}
		f := finding(groupOf[r], pkg)
		for _, id := range extra[r] {
			f.Aliases = appendNew(f.Aliases, f.ID, id)
		}
		out = append(out, f)
	}
	return out
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

// finding builds the finding of a group of hits describing one
// vulnerability of pkg.
func finding(g []hit, pkg *inventory.Package) Finding {
	primary := g[0]
	for _, h := range g[1:] {
		if c := cmp.Compare(idPreference(h.e.adv.id), idPreference(primary.e.adv.id)); c < 0 ||
			(c == 0 && h.e.adv.id < primary.e.adv.id) {
			primary = h
		}
	}
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
	f.Aliases = appendNew(nil, a.id, a.aliases...)
	f.Upstream = appendNew(nil, a.id, a.upstream...)
	best := primary.e.rating
	for _, h := range g {
		if h.e == primary.e {
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
		if h.e.rating.from > best.from {
			best = h.e.rating
		}
	}
	if best.vector == "" {
		for _, h := range g {
			if h.e.rating.vector != "" {
				best.score, best.vector, best.cvssVersion = h.e.rating.score, h.e.rating.vector, h.e.rating.cvssVersion
				break
			}
		}
	}
	f.Severity, f.Score, f.Vector, f.CVSSVersion = best.severity, best.score, best.vector, best.cvssVersion
	if f.Severity == "" {
		f.Severity = SeverityUndefined
	}
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

// sortFindings orders findings by severity (worst first), id, then
// package name, version, ecosystem and location.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)); c != 0 {
			return c
		}
		return cmp.Or(
			strings.Compare(a.ID, b.ID),
			strings.Compare(a.Package.Name, b.Package.Name),
			strings.Compare(a.Package.Version, b.Package.Version),
			strings.Compare(a.Package.Ecosystem, b.Package.Ecosystem),
			slices.Compare(a.Package.Locations, b.Package.Locations),
		)
	})
}
