package jobs

import (
	"context"
	"log/slog"

	"github.com/wharfhq/wharf/internal/gc"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// KindGC is the job kind of a garbage collection.
const KindGC = "gc"

// GCHandler runs a garbage collection with c.
func GCHandler(c *gc.Collector, logger *slog.Logger) Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, j meta.Job) error {
		rep, err := c.Run(ctx, false)
		if err != nil {
			return err
		}
		logger.Info("garbage collection done", "job", j.ID, "uploads_reaped", rep.UploadsReaped, "orphan_uploads", rep.OrphanUploads,
			"links_dropped", rep.LinksDropped, "blobs_deleted", rep.BlobsDeleted, "bytes_freed", rep.BytesFreed)
		return nil
	}
}
