package scan

import (
	"encoding/binary"
	"hash/fnv"
	"slices"

	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

// An inventory's key set (meta.Inventory.KeySet) is what a targeted rescan
// reads instead of the inventory: the vulnerability data keys its packages
// are looked up by (vulndb.PackageKeys, which already holds both a
// release-scoped ecosystem such as "Debian:12" and its base "Debian", as
// advisories are keyed), each as a 32-bit hash, sorted, after a version
// byte. Hashes keep it small (about 2 KiB for 300 Debian packages, where
// a table of keys would hold millions of rows for a large registry); a
// collision only costs an unneeded re-match, never a missed one.
const keySetV1 = 1

func keyHash(k vulndb.PackageKey) uint32 {
	h := fnv.New32a()
	h.Write([]byte(k.Ecosystem))
	h.Write([]byte{0})
	h.Write([]byte(k.Name))
	return h.Sum32()
}

// keySetOf encodes the key set of an image's inventories.
func keySetOf(images []imageInventory) []byte {
	var hs []uint32
	for _, im := range images {
		for _, k := range vulndb.PackageKeys(im.Inventory) {
			hs = append(hs, keyHash(k))
		}
	}
	slices.Sort(hs)
	hs = slices.Compact(hs)
	out := make([]byte, 1, 1+4*len(hs))
	out[0] = keySetV1
	for _, h := range hs {
		out = binary.LittleEndian.AppendUint32(out, h)
	}
	return out
}

// touchedSet is what an import touched, as key hashes.
type touchedSet map[uint32]struct{}

func newTouchedSet(keys []vulndb.PackageKey) touchedSet {
	t := make(touchedSet, len(keys))
	for _, k := range keys {
		t[keyHash(k)] = struct{}{}
	}
	return t
}

// meets reports whether an inventory with key set ks may have packages the
// import touched: true when one of its keys is touched, and when ks is
// unknown (stored before key sets were kept) or unreadable.
func (t touchedSet) meets(ks []byte) bool {
	if len(ks) == 0 || ks[0] != keySetV1 || (len(ks)-1)%4 != 0 {
		return true
	}
	if len(t) == 0 {
		return false
	}
	for i := 1; i < len(ks); i += 4 {
		if _, ok := t[binary.LittleEndian.Uint32(ks[i:])]; ok {
			return true
		}
	}
	return false
}
