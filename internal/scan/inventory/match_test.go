package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/inventory/invtest"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

// osv is an OSV record: one package, fixed at fixed.
func osv(id, eco, name, fixed string) []byte {
	typ := "ECOSYSTEM"
	if eco == "crates.io" {
		typ = "SEMVER"
	}
	b, _ := json.Marshal(map[string]any{
		"schema_version": "1.6.0", "id": id, "modified": "2026-01-01T00:00:00Z",
		"affected": []any{map[string]any{
			"package": map[string]string{"ecosystem": eco, "name": name},
			"ranges":  []any{map[string]any{"type": typ, "events": []any{map[string]string{"introduced": "0"}, map[string]string{"fixed": fixed}}}},
		}},
	})
	return b
}

// advisoryDB imports the records into a new store and loads them.
func advisoryDB(t *testing.T, records ...[]byte) *vulndb.DB {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	for i, r := range records {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.json", i)), r, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := vulndb.Import(ctx, st, dir, vulndb.ImportOptions{Source: "test"})
	if err != nil || rep.Invalid != 0 || rep.Added != len(records) {
		t.Fatalf("import: %+v %v", rep, err)
	}
	db, err := vulndb.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func findings(db *vulndb.DB, inv *inventory.Inventory) []string {
	var out []string
	for _, f := range db.Match(inv) {
		out = append(out, fmt.Sprintf("%s %s@%s fixed=%s", f.ID, f.Package.Name, f.Package.Version, f.FixedVersion))
	}
	slices.Sort(out)
	return out
}

func wantFindings(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("findings\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// The rpm packages read from Berkeley DB and NDB databases match their
// distribution's advisories: a fix above the installed version (epoch
// included) is reported, one at it is not, nor another release's.
func TestRPMDatabasesMatchAdvisories(t *testing.T) {
	el8 := invtest.RPMHeaders(t, inventory.EL8Packages...)
	suse := invtest.RPMHeaders(t, inventory.SUSEPackages...)
	db := advisoryDB(t,
		// Epoch 1 above the installed 1:1.1.1k-9.el8_7; without the epoch
		// 1.1.1k-12 would still be above, so one below the release too.
		osv("ALSA-2026:0001", "AlmaLinux:8", "openssl-libs", "1:1.1.1k-12.el8_9"),
		osv("ALSA-2026:0002", "AlmaLinux:8", "openssl-libs", "1.1.1k-99.el8"), // epoch 0 < 1: fixed long ago
		osv("ALSA-2026:0003", "AlmaLinux:8", "bash", "4.4.20-4.el8_6"),        // the installed version
		osv("ALSA-2026:0004", "AlmaLinux:9", "zlib", "1.2.11-99.el9"),         // another release
		osv("openSUSE-SU-2026:0001", "openSUSE:Leap 15.5", "libopenssl1_1", "1.1.1l-150500.17.28.1"),
		osv("openSUSE-SU-2026:0002", "openSUSE:Leap 15.5", "libz1", "3:1.2.13-150500.4.3.1"),
		osv("openSUSE-SU-2026:0003", "openSUSE:Leap 15.4", "bash", "4.4-150400.99.1"),
		osv("SUSE-SU-2026:0004", "SUSE:Linux Enterprise Server 15 SP5", "bash", "4.4-150400.27.6.1"),
		osv("SUSE-SU-2026:0005", "SUSE:Linux Enterprise Server 15 SP5", "zlib", "3:1.2.13-150500.4.6.1"),
	)
	t.Run("almalinux 8, Berkeley DB", func(t *testing.T) {
		inv := inventory.ExtractImage(t, inventory.AlmaLinux8OSRelease, map[string][]byte{"var/lib/rpm/Packages": invtest.BerkeleyDB(t, el8)})
		wantFindings(t, findings(db, inv), "ALSA-2026:0001 openssl-libs@1:1.1.1k-9.el8_7 fixed=1:1.1.1k-12.el8_9")
	})
	t.Run("amazon linux 2, Berkeley DB: no OSV ecosystem", func(t *testing.T) {
		inv := inventory.ExtractImage(t, inventory.AmazonLinux2OSRelease, map[string][]byte{"var/lib/rpm/Packages": invtest.BerkeleyDB(t, el8)})
		if len(inv.Packages) != 3 {
			t.Fatalf("packages %+v", inv.Packages)
		}
		wantFindings(t, findings(db, inv))
	})
	t.Run("openSUSE Leap 15.5, NDB", func(t *testing.T) {
		inv := inventory.ExtractImage(t, inventory.Leap155OSRelease, map[string][]byte{"usr/lib/sysimage/rpm/Packages.db": invtest.NDB{}.Write(suse)})
		wantFindings(t, findings(db, inv), "openSUSE-SU-2026:0001 libopenssl1_1@1.1.1l-150500.17.25.1 fixed=1.1.1l-150500.17.28.1")
	})
	t.Run("SLES 15 SP5, NDB: binary and source names", func(t *testing.T) {
		inv := inventory.ExtractImage(t, inventory.SLES155OSRelease, map[string][]byte{"usr/lib/sysimage/rpm/Packages.db": invtest.NDB{}.Write(suse)})
		wantFindings(t, findings(db, inv),
			"SUSE-SU-2026:0004 bash@4.4-150400.27.3.2 fixed=4.4-150400.27.6.1",
			"SUSE-SU-2026:0005 libz1@3:1.2.13-150500.4.3.1 fixed=3:1.2.13-150500.4.6.1")
	})
}

// The crates of a cargo-auditable binary match crates.io advisories; the
// binary's own crate (source "local") matches no same-named crates.io one.
func TestRustAuditableMatchesAdvisories(t *testing.T) {
	bin := invtest.RustAuditable(t, invtest.AuditableDeps)
	db := advisoryDB(t,
		osv("RUSTSEC-2021-0003", "crates.io", "smallvec", "1.6.1"),
		osv("RUSTSEC-2026-0001", "crates.io", "itoa", "1.0.10"),  // the installed version
		osv("RUSTSEC-2026-0002", "crates.io", "hello", "99.0.0"), // the local root's name
		osv("RUSTSEC-2026-0003", "crates.io", "cc", "99.0.0"),    // build-only
		osv("RUSTSEC-2026-0004", "crates.io", "serde", "1.0.1"),  // the git dependency
		osv("GHSA-0000-0000-0001", "npm", "smallvec", "99.0.0"),  // another ecosystem
	)
	inv := inventory.ExtractImage(t, inventory.DebianOSRelease, map[string][]byte{"usr/local/bin/hello": bin})
	wantFindings(t, findings(db, inv), "RUSTSEC-2021-0003 smallvec@1.6.0 fixed=1.6.1")
}
