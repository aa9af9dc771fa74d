package scan

import (
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

// memoMatcher matches inventories package by package, remembering each
// distinct package's findings for the rest of a rescan: the images of a
// registry share most of their packages (base images), so a rescan of
// thousands of them matches each (distribution, package, version) once.
// It relies on what vulndb.DB.Match guarantees: a package's findings
// depend only on the package's identity fields and the distribution, never
// on the other packages of the inventory.
type memoMatcher struct {
	db  Matcher
	max int // entries beyond which nothing more is remembered

	mu sync.RWMutex
	m  map[memoKey][]vulndb.Finding
}

// memoKey is what matching reads of a package (vulndb's lookups: kind,
// ecosystem, name, version, source package, and the distribution).
type memoKey struct {
	distro                                                    inventory.Distro
	kind, ecosystem, name, version, sourceName, sourceVersion string
}

func keyOf(d inventory.Distro, p *inventory.Package) memoKey {
	return memoKey{d, p.Kind, p.Ecosystem, p.Name, p.Version, p.SourceName, p.SourceVersion}
}

func newMemoMatcher(db Matcher) *memoMatcher {
	return &memoMatcher{db: db, max: 500000, m: map[memoKey][]vulndb.Finding{}}
}

func (mm *memoMatcher) UpdatedAt() time.Time { return mm.db.UpdatedAt() }

// Match returns what db.Match would, in another order.
func (mm *memoMatcher) Match(inv *inventory.Inventory) []vulndb.Finding {
	var out []vulndb.Finding
	var missing []inventory.Package
	seen := map[memoKey]bool{}
	mm.mu.RLock()
	for i := range inv.Packages {
		p := &inv.Packages[i]
		k := keyOf(inv.Distro, p)
		fs, ok := mm.m[k]
		if !ok {
			if !seen[k] {
				seen[k] = true
				missing = append(missing, *p)
			}
			continue
		}
		for _, f := range fs {
			f.Package = *p
			out = append(out, f)
		}
	}
	mm.mu.RUnlock()
	if len(missing) == 0 {
		return out
	}
	found := mm.db.Match(&inventory.Inventory{Platform: inv.Platform, Distro: inv.Distro, Packages: missing})
	byKey := make(map[memoKey][]vulndb.Finding, len(missing))
	for _, f := range found {
		k := keyOf(inv.Distro, &f.Package)
		byKey[k] = append(byKey[k], f)
	}
	mm.mu.Lock()
	for i := range missing {
		k := keyOf(inv.Distro, &missing[i])
		if len(mm.m) < mm.max {
			mm.m[k] = byKey[k] // nil too: no finding is worth remembering
		}
	}
	mm.mu.Unlock()
	// Packages met again in this inventory (same identity, another
	// location) get the findings too.
	for i := range inv.Packages {
		p := &inv.Packages[i]
		k := keyOf(inv.Distro, p)
		if !seen[k] {
			continue
		}
		for _, f := range byKey[k] {
			f.Package = *p
			out = append(out, f)
		}
	}
	return out
}
