package scan_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

// The rescan's memoizing matcher must find exactly what the database does,
// for every image, whether its packages were met before or not.
func TestMemoMatcherAgreesWithMatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var advs []advisory
	for i := 0; i < 40; i++ {
		advs = append(advs, advisory{ID: fmt.Sprintf("DEBIAN-CVE-2026-%04d", i), Ecosystem: "Debian:12", Package: fmt.Sprintf("src-%02d", i%20),
			Fixed: fmt.Sprintf("1.%d-1", i%5), Vector: []string{cvssCritical, cvssHigh, cvssMedium}[i%3], Modified: e.now})
	}
	advs = append(advs, advisory{ID: "GO-2026-0001", Ecosystem: "Go", Package: "example.com/lib", Fixed: "1.4.0", Vector: cvssHigh, Modified: e.now})
	e.importAdvisories(t, "memo", advs...)
	db, err := vulndb.Load(ctx, e.meta)
	if err != nil {
		t.Fatal(err)
	}
	memo := scan.NewMemoMatcher(db)
	render := func(fs []vulndb.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%s %s %s %s %v %s", f.ID, f.Package.Name, f.Package.Version, f.Severity, f.Package.Locations, f.FixedVersion))
		}
		slices.Sort(out)
		return out
	}
	for img := 0; img < 30; img++ {
		inv := &inventory.Inventory{Distro: inventory.Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm"}}
		if img%10 == 9 {
			inv.Distro.VersionID = "11" // another release: other keys
		}
		for j := 0; j < 25; j++ {
			src := fmt.Sprintf("src-%02d", (img+j)%20)
			inv.Packages = append(inv.Packages, inventory.Package{Name: fmt.Sprintf("bin-%02d-%d", (img+j)%20, j%2), Version: fmt.Sprintf("1.%d-1", (img*j)%6),
				SourceName: src, Ecosystem: "Debian", Kind: inventory.KindOS, Locations: []string{fmt.Sprintf("var/lib/dpkg/status.d/%d", img)}})
		}
		inv.Packages = append(inv.Packages, inventory.Package{Name: "example.com/lib", Version: fmt.Sprintf("1.%d.0", img%6), Ecosystem: "Go",
			Kind: inventory.KindLanguage, Locations: []string{fmt.Sprintf("app/%d", img)}})
		want, got := render(db.Match(inv)), render(memo.Match(inv))
		if !slices.Equal(got, want) {
			t.Fatalf("image %d:\n memo %q\n db   %q", img, got, want)
		}
		if img == 0 && len(want) == 0 {
			t.Fatal("the fixture matches nothing")
		}
	}
	if !memo.UpdatedAt().Equal(db.UpdatedAt()) || db.UpdatedAt().Before(e.now.Add(-time.Second)) {
		t.Fatal("UpdatedAt")
	}
}
