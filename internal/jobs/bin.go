package jobs

import (
	"context"
	"log/slog"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// KindBinPurge is the job kind that drops expired recycle bin entries (the
// next garbage collection then frees their blobs).
const KindBinPurge = "bin-purge"

// BinPurger is what the purge job needs (the registry core).
type BinPurger interface {
	PurgeBin(ctx context.Context) (int64, error)
}

// BinPurgeHandler purges expired recycle bin entries with p.
func BinPurgeHandler(p BinPurger, logger *slog.Logger) Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, j meta.Job) error {
		n, err := p.PurgeBin(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			logger.Info("recycle bin purged", "job", j.ID, "images", n)
		}
		return nil
	}
}
