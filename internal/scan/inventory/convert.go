package inventory

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/google/osv-scalibr/purl"
)

// convert maps osv-scalibr's packages to Packages, merging the same
// package found in several places (a lockfile and node_modules, a JAR
// copied twice) into one with all its locations.
func convert(pkgs []*extractor.Package, d Distro) []Package {
	type key struct{ kind, eco, name, version, arch string }
	byKey := map[key]int{}
	out := []Package{}
	osEco := d.Ecosystem()
	for _, sp := range pkgs {
		p, ok := convertOne(sp, osEco)
		if !ok {
			continue
		}
		k := key{p.Kind, p.Ecosystem, p.Name, p.Version, p.Arch}
		if i, dup := byKey[k]; dup {
			out[i].Locations = append(out[i].Locations, p.Locations...)
			out[i].Licenses = append(out[i].Licenses, p.Licenses...)
			continue
		}
		byKey[k] = len(out)
		out = append(out, p)
	}
	for i := range out {
		out[i].Locations = sortedUnique(out[i].Locations)
		out[i].Licenses = sortedUnique(out[i].Licenses)
	}
	slices.SortFunc(out, func(a, b Package) int {
		return cmp.Or(
			cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)),
			cmp.Compare(a.Ecosystem, b.Ecosystem),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Arch, b.Arch))
	})
	return out
}

func kindOrder(k string) int {
	if k == KindOS {
		return 0
	}
	return 1
}

func convertOne(sp *extractor.Package, osEco string) (Package, bool) {
	if sp.Name == "" || sp.Version == "" {
		return Package{}, false
	}
	p := Package{Name: sp.Name, Version: sp.Version, Kind: KindLanguage}
	switch m := sp.Metadata.(type) {
	case *dpkgmeta.Metadata:
		p.Kind, p.Ecosystem, p.Arch = KindOS, osEco, m.Architecture
		if p.Ecosystem == "" && m.OSID == "" {
			p.Ecosystem = "Debian" // no os-release: dpkg means Debian's family
		}
		// Source: "name" or "name (version)" (a binNMU or a binary
		// versioned apart from its source).
		if m.SourceName != "" && m.SourceName != p.Name {
			p.SourceName = m.SourceName
		}
		if m.SourceVersion != "" && m.SourceVersion != p.Version {
			p.SourceVersion = m.SourceVersion
		}
	case *apkmeta.Metadata:
		p.Kind, p.Ecosystem, p.Arch = KindOS, osEco, m.Architecture
		if p.Ecosystem == "" && m.OSID == "" {
			p.Ecosystem = "Alpine"
		}
		if m.OriginName != "" && m.OriginName != p.Name {
			p.SourceName = m.OriginName // same version as its binaries
		}
	case *rpmmeta.Metadata:
		p.Kind, p.Ecosystem, p.Arch = KindOS, osEco, m.Architecture
		// OSV's RPM versions carry a non-zero epoch: "1:3.0.7-27.el9".
		if m.Epoch > 0 {
			p.Version = strconv.Itoa(m.Epoch) + ":" + p.Version
		}
		if name, ver, ok := parseSourceRPM(m.SourceRPM); ok {
			if m.Epoch > 0 {
				ver = strconv.Itoa(m.Epoch) + ":" + ver
			}
			if name != p.Name {
				p.SourceName = name
			}
			if ver != p.Version {
				p.SourceVersion = ver
			}
		}
	default:
		p.Ecosystem = string(sp.Ecosystem().Ecosystem)
		if p.Ecosystem == "" {
			return Package{}, false
		}
	}
	// Go's standard library is module "stdlib" in OSV (the Go
	// vulnerability database); osv-scalibr names it "go".
	if sp.PURLType == purl.TypeGolang && sp.Name == "go" {
		cp := *sp
		cp.Name = "stdlib"
		sp = &cp
		p.Name = "stdlib"
	}
	if u := sp.PURL(); u != nil {
		if u.Type == purl.TypeNPM {
			// osv-scalibr's "source" qualifier is its own (where it thinks
			// the package came from, often "UNKNOWN"), not the purl spec's.
			u.Qualifiers = nil
		}
		p.PURL = u.String()
	}
	if loc := sp.Location.PathOrEmpty(); loc != "" {
		p.Locations = []string{"/" + strings.TrimPrefix(loc, "/")}
	}
	for _, l := range sp.Licenses {
		if l = strings.TrimSpace(l); l != "" {
			p.Licenses = append(p.Licenses, l)
		}
	}
	return p, true
}

// parseSourceRPM splits a source RPM file name
// ("openssl-3.0.7-27.el9.src.rpm") into name and version-release.
func parseSourceRPM(s string) (name, version string, ok bool) {
	s = strings.TrimSuffix(s, ".rpm")
	s = strings.TrimSuffix(strings.TrimSuffix(s, ".src"), ".nosrc")
	rel := strings.LastIndexByte(s, '-')
	if rel <= 0 {
		return "", "", false
	}
	ver := strings.LastIndexByte(s[:rel], '-')
	if ver <= 0 {
		return "", "", false
	}
	return s[:ver], s[ver+1:], true
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}
