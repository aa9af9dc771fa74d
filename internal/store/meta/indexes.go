package meta

import "context"

// IndexStore answers which indexes list a manifest (pull gates read the
// scan of a multi-platform image's index for its platform images).
type IndexStore interface {
	// ListIndexesOf returns the digests of the repository's manifests
	// that list digest as a child, sorted.
	ListIndexesOf(ctx context.Context, repoID int64, digest string) ([]string, error)
}
