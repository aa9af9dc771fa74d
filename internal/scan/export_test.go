package scan

import (
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// EncodeInventory encodes the stored inventory of an image manifest, for
// the benchmarks that fill the store without cataloguing layers.
func EncodeInventory(digest string, inv *inventory.Inventory) ([]byte, error) {
	return encodeInventory([]imageInventory{{Digest: digest, Inventory: inv}})
}

// InventoryDigests returns the image manifests a stored inventory holds.
func InventoryDigests(data []byte) ([]string, error) {
	ims, err := decodeInventory(data)
	var out []string
	for _, im := range ims {
		out = append(out, im.Digest)
	}
	return out, err
}

// NewMemoMatcher is the rescan's memoizing matcher.
func NewMemoMatcher(db Matcher) Matcher { return newMemoMatcher(db) }

// StoredInventoryRecord is the meta.Inventory a scan stores for an image
// manifest (data and key set), for benchmarks that fill the store.
func StoredInventoryRecord(digest, version string, inv *inventory.Inventory) (meta.Inventory, error) {
	return inventoryRecord(digest, version, []imageInventory{{Digest: digest, Inventory: inv}})
}
