// Package gc collects garbage online: expired upload sessions, blob links no
// manifest needs any more, and blobs nothing links or references. A blob is
// deleted only after a grace period and a re-check inside a transaction, so
// a push racing the collector never loses content (see registry.commit).
package gc

import (
	"context"
	"errors"
	"time"

	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Collector removes unreferenced data.
type Collector struct {
	Meta      meta.Store
	Blobs     blob.Store
	Grace     time.Duration // minimum age of a blob or link before it may go
	UploadTTL time.Duration // upload sessions idle this long are reaped
	Clock     func() time.Time
}

// Report tells what a run did (or, dry, would do).
type Report struct {
	DryRun          bool     `json:"dryRun"`
	UploadsReaped   int      `json:"uploadsReaped"`
	OrphanUploads   int      `json:"orphanUploads"`
	LinksDropped    int64    `json:"linksDropped"`
	BlobsDeleted    int      `json:"blobsDeleted"`
	BytesFreed      int64    `json:"bytesFreed"`
	DeletedDigests  []string `json:"deletedDigests,omitempty"`
	InterruptedDone int      `json:"interruptedDone"`
}

const batch = 500

// abandonedMarkAge is how old a deleting mark must be before another
// collector finishes it; a live collector deletes within seconds.
const abandonedMarkAge = 10 * time.Minute

func (c *Collector) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// Run performs one collection. With dryRun nothing changes and the report
// tells what a real run would delete now, and how many bytes it would free.
func (c *Collector) Run(ctx context.Context, dryRun bool) (Report, error) {
	rep := Report{DryRun: dryRun}
	now := c.now()
	if err := c.reapUploads(ctx, now, dryRun, &rep); err != nil {
		return rep, err
	}
	if !dryRun {
		// Finish deletions a collector that died left marked. A mark is
		// taken over only once it is old, and claimed first, so two
		// collectors never both act on it.
		abandoned := now.Add(-abandonedMarkAge)
		left, err := c.Meta.ListDeletingBlobs(ctx, abandoned, batch)
		if err != nil {
			return rep, err
		}
		for _, b := range left {
			if ok, err := c.Meta.ClaimDeletion(ctx, b.Digest, abandoned); err != nil || !ok {
				if err != nil {
					return rep, err
				}
				continue
			}
			if err := c.Blobs.Delete(ctx, b.Digest); err != nil {
				return rep, err
			}
			if err := c.Meta.ForgetBlob(ctx, b.Digest); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return rep, err
			}
			rep.InterruptedDone++
		}
		n, err := c.Meta.UnlinkStale(ctx, now.Add(-c.Grace))
		if err != nil {
			return rep, err
		}
		rep.LinksDropped = n
	}
	cutoff := now.Add(-c.Grace)
	if dryRun {
		blobs, err := c.Meta.GCPreview(ctx, cutoff, 0)
		if err != nil {
			return rep, err
		}
		for _, b := range blobs {
			rep.BlobsDeleted++
			rep.BytesFreed += b.Size
			rep.DeletedDigests = append(rep.DeletedDigests, b.Digest)
		}
		return rep, nil
	}
	seen := map[string]bool{}
	for {
		cands, err := c.Meta.GCCandidates(ctx, cutoff, batch)
		if err != nil {
			return rep, err
		}
		progressed := false
		for _, b := range cands {
			if seen[b.Digest] {
				continue
			}
			seen[b.Digest] = true
			progressed = true
			ok, err := c.Meta.MarkBlobDeleting(ctx, b.Digest, cutoff)
			if errors.Is(err, meta.ErrNotFound) {
				continue // another collector (another node) deleted it since we listed it
			}
			if err != nil {
				return rep, err
			}
			if !ok {
				continue // linked again since we listed it, or another collector has it
			}
			if err := c.Blobs.Delete(ctx, b.Digest); err != nil {
				return rep, err
			}
			if err := c.Meta.ForgetBlob(ctx, b.Digest); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return rep, err
			}
			rep.BlobsDeleted++
			rep.BytesFreed += b.Size
			rep.DeletedDigests = append(rep.DeletedDigests, b.Digest)
		}
		if len(cands) < batch || !progressed {
			break
		}
	}
	return rep, nil
}

func (c *Collector) reapUploads(ctx context.Context, now time.Time, dryRun bool, rep *Report) error {
	expired, err := c.Meta.ListUploadsBefore(ctx, now.Add(-c.UploadTTL), batch)
	if err != nil {
		return err
	}
	for _, u := range expired {
		rep.UploadsReaped++
		if dryRun {
			continue
		}
		if err := c.Meta.DeleteUpload(ctx, u.ID); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		if err := c.Blobs.Abort(ctx, u.ID); err != nil {
			return err
		}
	}
	// Upload data with no session row is left by a crash between the two
	// steps of finishing or cancelling: a session's row is created before
	// its data and deleted before its data.
	ids, err := c.Blobs.ListUploads(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		_, err := c.Meta.GetUpload(ctx, id)
		if !errors.Is(err, meta.ErrNotFound) {
			if err != nil {
				return err
			}
			continue
		}
		rep.OrphanUploads++
		if !dryRun {
			if err := c.Blobs.Abort(ctx, id); err != nil {
				return err
			}
		}
	}
	return nil
}
