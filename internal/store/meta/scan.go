package meta

import (
	"context"
	"errors"
	"time"
)

// This file holds what image scanning keeps (internal/scan): the package
// inventory of each scanned manifest, so that new vulnerability data can be
// matched again without reading layers, and the latest scan of each image
// (repository, digest) with its findings. The store keeps inventories and
// findings opaque (internal/scan encodes them); it knows statuses, times
// and severity counts, which listings and gates read without decoding.

// Values of ImageScan.Status, spelled as ECR's ScanStatus. ECR's ACTIVE
// (an image under continuous scanning) is how the API presents a COMPLETE
// scan in enhanced mode; it is not stored.
const (
	ScanInProgress       = "IN_PROGRESS"
	ScanComplete         = "COMPLETE"
	ScanFailed           = "FAILED"
	ScanUnsupportedImage = "UNSUPPORTED_IMAGE"
)

// ErrScanLimit is returned by QueueScan when the image's latest scan was
// requested after the request's LimitSince.
var ErrScanLimit = errors.New("meta: image scan limit exceeded")

// Inventory is the package inventory of a manifest (for an index, of its
// scanned platforms). Inventories are content-addressed by manifest digest
// and shared by every repository holding the manifest: the same bytes have
// the same packages. They are never shown as such; a repository reads its
// images' scans.
type Inventory struct {
	Digest string
	// Version names the cataloguer that produced Data, so that a newer
	// one re-reads the layers instead of trusting an older inventory.
	Version string
	// Data is the encoded inventory, opaque to the store.
	Data []byte
	// KeySet is the compact set of vulnerability data keys the
	// inventory's packages are matched by (encoded by internal/scan,
	// opaque here; nil: unknown), so that a rescan after an import skips
	// the inventories the import did not touch without reading Data.
	KeySet    []byte
	CreatedAt time.Time // zero on input: now
}

// ImageScan is the latest scan of an image (a manifest of a repository).
type ImageScan struct {
	RepoID int64
	Digest string
	// Status is one of the Scan constants; Description says why a scan
	// failed or is unsupported.
	Status      string
	Description string
	// RequestedAt is when the latest scan was asked for (a push or
	// StartImageScan); ECR's per-image limit counts these.
	RequestedAt time.Time
	// CompletedAt is when the image was last matched against the
	// vulnerability data (a scan or a rescan): ECR's imageScanCompletedAt.
	// Zero until the first scan completes.
	CompletedAt time.Time
	// SourceUpdatedAt is when the vulnerability data used was last
	// updated (vulnerabilitySourceUpdatedAt).
	SourceUpdatedAt time.Time
	// Counts are the active findings by severity (ECR's spelling); only
	// non-zero counts are present.
	Counts map[string]int
	// FindingsHash identifies the set of active findings, so that a
	// rescan finding the same set need not rewrite Findings.
	FindingsHash string
	// Findings is the encoded findings, opaque to the store; it is read
	// only by GetScan and ListRematch.
	Findings []byte
	// ExpiredAt is when ExpireScans found the image's continuous scanning
	// eligibility lapsed (zero: eligible); a scan or rematch written
	// since clears it.
	ExpiredAt time.Time
}

// ScanRequest asks QueueScan for a scan of an image.
type ScanRequest struct {
	RepoID int64
	Digest string
	At     time.Time // zero: now
	// LimitSince, when set, refuses the request with ErrScanLimit if the
	// image's latest scan was requested at or after it.
	LimitSince time.Time
	// IfUnscanned queues nothing when the image already has a scan that
	// did not fail (a push of an image scanned before).
	IfUnscanned bool
	// Job is enqueued in the same transaction, deduplicated by its key as
	// JobStore.Enqueue does.
	Job Job
}

// ScanResult is the outcome of a scan or rescan of an image.
type ScanResult struct {
	RepoID int64
	Digest string
	// Status is ScanComplete, ScanFailed or ScanUnsupportedImage.
	Status      string
	Description string
	CompletedAt time.Time // zero: now
	// SourceUpdatedAt, Counts, FindingsHash and Findings as in ImageScan.
	SourceUpdatedAt time.Time
	Counts          map[string]int
	FindingsHash    string
	Findings        []byte
	// Unchanged (rescans only) keeps the stored findings, hash and
	// counts and moves only the times.
	Unchanged bool
	// IfCompletedAt (rescans only) is the completion time of the scan the
	// rescan read: the result applies only while it is still that one.
	IfCompletedAt time.Time
}

// ActiveSince says which images are still eligible for continuous
// scanning: those pushed, tagged or asked a scan of at or after Pushed, or
// pulled at or after Pulled. Zero Pushed: every image (no limit); zero
// Pulled: pulls do not count.
type ActiveSince struct {
	Pushed, Pulled time.Time
}

// RematchQuery selects the completed scans (with an inventory) of a
// repository that a rescan reads: a page by digest after After, or, when
// Digests is not nil, those images. Images not active (Active) are left
// out.
type RematchQuery struct {
	RepoID  int64
	After   string
	Limit   int
	Digests []string
	Active  ActiveSince
}

// RematchKey is what ListRematchKeys lists of a completed scan: enough to
// decide whether a targeted rescan reads it.
type RematchKey struct {
	Digest string
	// KeySet is the inventory's (nil: unknown).
	KeySet []byte
	// Expired is whether the scan is marked eligibility-expired.
	Expired bool
}

// RematchItem is a completed scan listed for a rescan, with the inventory
// it was matched from.
type RematchItem struct {
	Scan      ImageScan // with Findings
	Inventory Inventory
}

// ScanStore keeps inventories and image scans. A scan goes with its image
// (deleting the manifest deletes its scan); an inventory stays until
// PruneInventories finds no scan using it.
type ScanStore interface {
	// PutInventory stores (or replaces) the inventory of a manifest.
	PutInventory(ctx context.Context, inv Inventory) error
	// GetInventory returns the inventory of a manifest (ErrNotFound).
	GetInventory(ctx context.Context, digest string) (Inventory, error)
	// PruneInventories deletes up to limit inventories that no scan uses
	// and that were created before cutoff, returning how many went.
	PruneInventories(ctx context.Context, cutoff time.Time, limit int) (int64, error)

	// QueueScan records the scan of an image as in progress (requested at
	// r.At) and enqueues r.Job, in one transaction. It returns false when
	// IfUnscanned found a scan; ErrScanLimit (see ScanRequest.LimitSince);
	// ErrNotFound when the image does not exist.
	QueueScan(ctx context.Context, r ScanRequest) (bool, error)
	// FinishScan writes the outcome of a scan (clearing an expiry mark);
	// ErrNotFound when the image (or its scan) went meanwhile.
	FinishScan(ctx context.Context, r ScanResult) error
	// GetScan returns an image's scan with its findings (ErrNotFound).
	GetScan(ctx context.Context, repoID int64, digest string) (ImageScan, error)
	// GetScans returns the scans of the given images of a repository,
	// without findings, by digest; images never scanned are absent.
	GetScans(ctx context.Context, repoID int64, digests []string) (map[string]ImageScan, error)
	// ListRematch lists the completed scans q selects, by digest, each
	// with its findings and inventory. Scans without an inventory are
	// skipped.
	ListRematch(ctx context.Context, q RematchQuery) ([]RematchItem, error)
	// ListRematchKeys lists what ListRematch would, without findings or
	// inventory data: digests, key sets and expiry marks.
	ListRematchKeys(ctx context.Context, q RematchQuery) ([]RematchKey, error)
	// PutInventoryKeySets sets the key sets of stored inventories (by
	// digest), in one transaction; missing inventories are skipped.
	PutInventoryKeySets(ctx context.Context, sets map[string][]byte) error
	// ExpireScans marks at "at" the completed, unmarked scans of the
	// repository's images that are not active (see ActiveSince; a zero
	// active.Pushed marks nothing) and returns how many it marked.
	ExpireScans(ctx context.Context, repoID int64, active ActiveSince, at time.Time) (int64, error)
	// PutRematch writes the outcomes of a rescan in one transaction,
	// clearing expiry marks. A result whose scan is no longer complete (a
	// new scan was queued meanwhile) or whose image went is skipped;
	// written counts those that were applied.
	PutRematch(ctx context.Context, rs []ScanResult) (written int, err error)

	// ReferredSubjects returns which of the given manifests of a
	// repository have a referrer (a manifest whose subject it is) of one of
	// the artifact types, in one round trip: a listing of many images finds
	// the few with attached VEX documents without a lookup per image.
	ReferredSubjects(ctx context.Context, repoID int64, subjects, artifactTypes []string) (map[string]bool, error)
}
