package meta

import (
	"context"
	"fmt"
	"time"
)

// This file holds what makes tag moves and deletes undoable: paging through
// the tag history, moving a tag to an image already in the repository (a
// rollback), the recycle bin that deleted images go to, and the platform
// guard setting of a repository.

// ReferencedError is the error of deleting a manifest an index of its
// repository still lists; errors.Is(err, ErrReferenced) holds.
type ReferencedError struct {
	Digest string
	// Index is one index that lists it (the first by digest).
	Index string
}

func (e *ReferencedError) Error() string {
	return fmt.Sprintf("manifest %s is listed by %s: %v", e.Digest, e.Index, ErrReferenced)
}

func (e *ReferencedError) Unwrap() error { return ErrReferenced }

// TagEventQuery selects tag events of a repository, newest first.
type TagEventQuery struct {
	// Tag limits the events to one tag ("" = every tag).
	Tag string
	// BeforeID pages: only events with ID < BeforeID (0 = from the newest).
	BeforeID int64
	Limit    int
}

// MoveTag asks the store to point a tag at a manifest already in the
// repository.
type MoveTag struct {
	RepoID int64
	Tag    string
	Digest string
	// Expect is the digest the tag must point at now ("" = the tag must
	// not exist); otherwise the move fails with ErrConflict, so a move
	// decided on a stale view never overwrites a concurrent one.
	Expect string
	// AllowTagMove, if set, is called in the transaction as in
	// PutManifest; its error aborts the move and is returned unchanged.
	AllowTagMove func(current string) error
	Actor, Via   string
}

// ImageDelete asks the store to delete an image, into the recycle bin or
// for good.
type ImageDelete struct {
	RepoID int64
	// Digest deletes the image with every tag pointing at it.
	Digest string
	// Tag, instead, removes that tag (if Digest is also set, the tag must
	// point at it, else ErrConflict). With DeleteUntagged the image goes
	// too when no other tag points at it and no index lists it, as ECR's
	// BatchDeleteImage does; decided in the same transaction, so an image
	// another tag points at (even one added meanwhile) is never deleted.
	Tag            string
	DeleteUntagged bool
	// BinUntil, when set, keeps the image restorable in the recycle bin
	// until then, with the tags it loses; zero deletes it for good.
	BinUntil   time.Time
	Actor, Via string
}

// ImageDeleteResult tells what DeleteImage did.
type ImageDeleteResult struct {
	Digest string
	// Tags are the tags removed, in byte order.
	Tags []string
	// Deleted is true when the image itself went (into the bin when
	// BinUntil was set).
	Deleted bool
}

// BinEntry is a deleted image in the recycle bin.
type BinEntry struct {
	AccountID  string
	Repository string
	// Manifest is the image as it was, content and times included.
	Manifest Manifest
	// Tags pointed at the image when it was deleted, in byte order.
	Tags      []string
	DeletedAt time.Time
	ExpiresAt time.Time
	DeletedBy string
	Via       string
}

// BinCursor is a position in a bin listing (newest deletion first).
type BinCursor struct {
	DeletedAt time.Time
	RepoID    int64
	Digest    string
}

// BinQuery selects recycle bin entries of an account.
type BinQuery struct {
	AccountID string
	// RepoID limits the listing to one repository (0 = all).
	RepoID int64
	// Now hides entries that expired at or before it (zero: none hidden).
	Now time.Time
	// After continues a listing after this entry (zero: from the start).
	After BinCursor
	Limit int
}

// ImageRestore is one image a restore brings back from the bin.
type ImageRestore struct {
	Digest string
	// Refs are what the manifest needs, checked as PutManifest checks
	// them: required blobs linked, index children present (or restored
	// earlier in the same call).
	Refs Refs
}

// RestoredImage is what RestoreImages did for one image.
type RestoredImage struct {
	Digest string
	// Tags were pointed back at the image, in byte order.
	Tags []string
	// Skipped tags point at another image now and were left alone:
	// tag -> the digest it points at.
	Skipped map[string]string
}

// PlatformGuard is a repository's platform guard setting: when Enabled, a
// tag may not move to an image of other platforms than the image it points
// at (unless the move is explicitly overridden).
type PlatformGuard struct {
	RepoID    int64
	Enabled   bool
	UpdatedAt time.Time
	UpdatedBy string
}

// HistoryStore keeps what undoes tag moves and deletes.
type HistoryStore interface {
	// TagEvents returns the repository's tag events matching q, newest
	// (highest ID) first.
	TagEvents(ctx context.Context, repoID int64, q TagEventQuery) ([]TagEvent, error)
	// LastTagged returns, per digest, when a tag was last moved to it.
	LastTagged(ctx context.Context, repoID int64) (map[string]time.Time, error)
	// MoveTag points a tag at a manifest of the repository and records
	// the move: ErrNotFound when the manifest is not there, ErrConflict
	// when the tag does not point at m.Expect. Moving a tag where it
	// points already does nothing.
	MoveTag(ctx context.Context, m MoveTag) error

	// DeleteImage deletes an image or a tag as d says, in one
	// transaction: ErrNotFound when there is no such image or tag,
	// *ReferencedError while an index of the repository lists the image.
	DeleteImage(ctx context.Context, d ImageDelete) (ImageDeleteResult, error)
	// ListBin returns recycle bin entries, newest deletion first, with
	// content.
	ListBin(ctx context.Context, q BinQuery) ([]BinEntry, error)
	// GetBinEntry returns the bin entry of a digest in a repository,
	// expired or not (ErrNotFound when none).
	GetBinEntry(ctx context.Context, repoID int64, digest string) (BinEntry, error)
	// RestoreImages brings images back from the bin, in order, in one
	// transaction: each must be in the bin and not expired at now
	// (ErrNotFound), its required blobs linked and its children present
	// (*MissingError). Its tags that point nowhere come back (a tag event
	// each, recorded with actor and via); tags that moved meanwhile are
	// left and reported. An image that is live already is skipped.
	RestoreImages(ctx context.Context, repoID int64, images []ImageRestore, now time.Time, actor, via string) ([]RestoredImage, error)
	// PurgeBin drops up to limit entries that expired at or before
	// "before" (their blobs become collectable), returning how many went.
	PurgeBin(ctx context.Context, before time.Time, limit int) (int64, error)

	// GetPlatformGuard returns a repository's setting (disabled when never
	// set).
	GetPlatformGuard(ctx context.Context, repoID int64) (PlatformGuard, error)
	// PutPlatformGuard writes it (ErrNotFound for a missing repository).
	PutPlatformGuard(ctx context.Context, g PlatformGuard) error
}
