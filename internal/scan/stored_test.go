package scan_test

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/inventory"
)

// The inventory a scan stored is read back for an image manifest (SBOMs
// use it instead of re-reading the layers); none for an unscanned one, or
// one made by another cataloguer.
func TestStoredInventory(t *testing.T) {
	f := newFixture(t)
	e := newEnv(t)
	ctx := context.Background()
	r := e.repo(t, "team/app", true)
	d := digest.FromBytes(e.putImage(t, r, "v1", "linux/amd64", f.rootfs)).String()
	if _, ok, err := scan.StoredInventory(ctx, e.meta, d, inventory.Cataloguer); ok || err != nil {
		t.Fatalf("before the scan: %v %v", ok, err)
	}
	e.runJobs(t, scan.KindScan)
	inv, ok, err := scan.StoredInventory(ctx, e.meta, d, inventory.Cataloguer)
	if err != nil || !ok || inv.Platform != "linux/amd64" || len(inv.Packages) == 0 || inv.Distro.ID == "" {
		t.Fatalf("after the scan: %v %v %+v", ok, err, inv)
	}
	if _, ok, err := scan.StoredInventory(ctx, e.meta, d, "older-cataloguer"); ok || err != nil {
		t.Fatalf("another cataloguer's: %v %v", ok, err)
	}
}
