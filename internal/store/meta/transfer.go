package meta

import "context"

// This file holds what copying a whole registry from one store to another
// (wharf migrate, internal/migrate) needs beyond the rest of Store: listings
// of rows that no other method enumerates, and two writes that restore rows
// as they were (times and history included) instead of recording new
// events. Nothing else should need them.

// TransferStore lists and restores rows for a store-to-store copy.
type TransferStore interface {
	// ListBlobLinks returns up to limit live blobs linked in the
	// repository whose digests sort after "after", in byte order.
	ListBlobLinks(ctx context.Context, repoID int64, after string, limit int) ([]Blob, error)
	// ManifestRefs returns the references recorded for a manifest of the
	// repository (ErrNotFound when there is no such manifest): Manifests
	// are its index children; Blobs are every blob reference, required or
	// optional alike (the store records both the same way), in byte order.
	ManifestRefs(ctx context.Context, repoID int64, digest string) (Refs, error)
	// ListTagInfos returns up to limit tags of the repository sorting after
	// "after", in byte order, with their digests and update times.
	ListTagInfos(ctx context.Context, repoID int64, after string, limit int) ([]TagInfo, error)
	// ListTagEvents returns up to limit events of the repository's tag
	// history, every tag, oldest first, skipping the first offset.
	ListTagEvents(ctx context.Context, repoID int64, offset, limit int) ([]TagEvent, error)
	// ListTaggedResources returns every ARN that has resource tags, in
	// byte order.
	ListTaggedResources(ctx context.Context) ([]string, error)
	// ListAccountSettings returns the settings of the account by name (an
	// empty map when none was set).
	ListAccountSettings(ctx context.Context, accountID string) (map[string]string, error)

	// RestoreTag points tag t.Name of the repository at t.Digest with the
	// update time t.UpdatedAt (zero: now), creating or moving it, and
	// records no tag event. ErrNotFound when the manifest is not in the
	// repository.
	RestoreTag(ctx context.Context, repoID int64, t TagInfo) error
	// AppendTagEvents appends the events, in order and as they are (their
	// RepoID is ignored), to the repository's tag history, in one
	// transaction. ErrNotFound when the repository does not exist.
	AppendTagEvents(ctx context.Context, repoID int64, events []TagEvent) error
}
