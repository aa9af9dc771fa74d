package scan

import (
	"context"
	"log/slog"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
)

// New returns a Service over the registry with the real cataloguer
// (inventory.Extract) and vulnerability data (vulndb, in the registry's
// metadata store).
func New(reg *registry.Service, logger *slog.Logger) *Service {
	return &Service{
		Registry:         reg,
		Logger:           logger,
		InventoryVersion: inventory.Cataloguer,
		Extract: func(ctx context.Context, layers []inventory.Layer) (*inventory.Inventory, error) {
			return inventory.Extract(ctx, layers, inventory.Options{Logger: logger})
		},
		LoadDB: func(ctx context.Context, invs []*inventory.Inventory) (Matcher, error) {
			st := reg.Meta()
			var db *vulndb.DB
			var err error
			if invs == nil {
				db, err = vulndb.Load(ctx, st)
			} else {
				var keys []vulndb.PackageKey
				for _, inv := range invs {
					keys = append(keys, vulndb.PackageKeys(inv)...)
				}
				db, err = vulndb.LoadFor(ctx, st, keys)
			}
			if err != nil {
				return nil, err
			}
			return db, nil
		},
	}
}
