package scan

import (
	"context"
	"errors"

	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// StoredInventory returns the inventory the scanner stored for an image
// (platform) manifest, if one made by the cataloguer named version is
// there (inventories are content-addressed: the repository does not
// matter). SBOMs read it instead of the layers.
func StoredInventory(ctx context.Context, st meta.ScanStore, digest, version string) (*inventory.Inventory, bool, error) {
	inv, err := st.GetInventory(ctx, digest)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if inv.Version != version {
		return nil, false, nil
	}
	ims, err := decodeInventory(inv.Data)
	if err != nil || len(ims) != 1 || ims[0].Digest != digest {
		return nil, false, nil // an index's, or unreadable: extract instead
	}
	return ims[0].Inventory, true, nil
}
