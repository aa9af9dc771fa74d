package sbomsvc

import (
	"context"

	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// StoredInventories reads the scanner's stored inventories (of the
// current cataloguer) as an InventorySource.
type StoredInventories struct {
	Store meta.ScanStore
}

// ImageInventory implements InventorySource.
func (s StoredInventories) ImageInventory(ctx context.Context, _, _, digest string) (*inventory.Inventory, bool, error) {
	return scan.StoredInventory(ctx, s.Store, digest, inventory.Cataloguer)
}
