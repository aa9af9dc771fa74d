// Package registry is the core of Wharf: repositories, blob uploads,
// manifests, tags and referrers. It owns every invariant (a manifest only
// refers to blobs its repository links, immutable tags do not move, a blob
// is visible only where it is linked) and knows nothing of HTTP or SQL.
package registry

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Options configure a Service.
type Options struct {
	// CreateOnPush creates a missing repository on the first push.
	CreateOnPush bool
	// MaxManifestBytes bounds manifest bodies (default 4 MiB).
	MaxManifestBytes int64
	// Clock returns the current time (tests inject one).
	Clock func() time.Time
	// ManifestCacheBytes bounds the manifest cache (default 64 MiB).
	ManifestCacheBytes int64
	// TagCacheTTL bounds how long a resolved tag is reused without asking
	// the store; other nodes' tag moves are seen within it (default 500ms).
	TagCacheTTL time.Duration
	// BinRetention keeps deleted images restorable in the recycle bin for
	// this long; 0 deletes them at once.
	BinRetention time.Duration
	// Logger receives what the core cannot return (an audit event that
	// was not recorded); nil discards it.
	Logger *slog.Logger
	// RestoreDelay is how long restoring an archived image takes (default
	// DefaultRestoreDelay; negative: at once, by the next job run).
	RestoreDelay time.Duration
}

// Service is the registry core.
type Service struct {
	meta  meta.Store
	blobs blob.Store
	opts  Options
	now   func() time.Time

	repos     *repoCache
	manifests *manifestCache
	tags      *tagCache
	tagLists  *tagListCache
	// policyDocs caches registry and identity policy documents.
	policyDocs docCache
	uploads    keyedMutex
	pulls      pullRecorder
	// guards caches platform guard settings; platformsCache the
	// platforms of manifests by digest.
	guards         guardCache
	platformsCache platformCache
	// exclusions caches pull-time update exclusions by account.
	exclusions docCache
	// pushHooks run after every manifest put (see OnPush).
	pushHooks []PushHook
}

// New returns a registry service over the given stores.
func New(m meta.Store, b blob.Store, opts Options) *Service {
	if opts.MaxManifestBytes <= 0 {
		opts.MaxManifestBytes = 4 << 20
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.ManifestCacheBytes <= 0 {
		opts.ManifestCacheBytes = 64 << 20
	}
	if opts.TagCacheTTL <= 0 {
		opts.TagCacheTTL = 500 * time.Millisecond
	}
	if opts.RestoreDelay == 0 {
		opts.RestoreDelay = DefaultRestoreDelay
	}
	opts.RestoreDelay = max(opts.RestoreDelay, 0)
	return &Service{
		meta:       m,
		blobs:      b,
		opts:       opts,
		now:        opts.Clock,
		repos:      newRepoCache(opts.TagCacheTTL*4, opts.Clock),
		manifests:  newManifestCache(opts.ManifestCacheBytes, opts.TagCacheTTL, opts.Clock),
		tags:       newTagCache(opts.TagCacheTTL, opts.Clock),
		tagLists:   newTagListCache(opts.TagCacheTTL, opts.Clock),
		policyDocs: docCache{ttl: 4 * opts.TagCacheTTL, now: opts.Clock},
		exclusions: docCache{ttl: exclusionTTL, now: opts.Clock},
	}
}

// Meta returns the metadata store (for the wiring of other services).
func (s *Service) Meta() meta.Store { return s.meta }

// Blobs returns the blob store.
func (s *Service) Blobs() blob.Store { return s.blobs }

// Repository looks up a repository. With create it is created when missing
// and the registry allows create-on-push.
func (s *Service) Repository(ctx context.Context, accountID, name string, create bool) (meta.Repository, error) {
	if r, ok := s.repos.get(accountID, name); ok {
		return r, nil
	}
	r, err := s.meta.GetRepository(ctx, accountID, name)
	if errors.Is(err, meta.ErrNotFound) {
		if !create || !s.opts.CreateOnPush {
			return meta.Repository{}, errorf(CodeNameUnknown, "repository %q not found", name)
		}
		r, err = s.createOnPush(ctx, accountID, name)
		if errors.Is(err, meta.ErrExists) {
			r, err = s.meta.GetRepository(ctx, accountID, name)
		}
	}
	if err != nil {
		return meta.Repository{}, err
	}
	s.repos.put(r)
	return r, nil
}

// CreateRepository creates a repository with defaults filled in.
func (s *Service) CreateRepository(ctx context.Context, r meta.Repository) (meta.Repository, error) {
	if r.TagMutability == "" {
		r.TagMutability = "MUTABLE"
	}
	if r.EncryptionType == "" {
		r.EncryptionType = "AES256"
	}
	r.CreatedAt = s.now()
	return s.meta.CreateRepository(ctx, r)
}

// UpdateRepository writes a repository's settings and refreshes the cache.
func (s *Service) UpdateRepository(ctx context.Context, r meta.Repository) error {
	if err := s.meta.UpdateRepository(ctx, r); err != nil {
		return err
	}
	s.repos.drop(r.AccountID, r.Name)
	return nil
}

// DeleteRepository deletes a repository (force: with its images).
func (s *Service) DeleteRepository(ctx context.Context, r meta.Repository, force bool) error {
	if err := s.meta.DeleteRepository(ctx, r.ID, force); err != nil {
		return err
	}
	s.repos.drop(r.AccountID, r.Name)
	s.manifests.dropRepo(r.ID)
	s.tags.dropRepo(r.ID)
	s.tagLists.drop(r.ID)
	return nil
}

// Catalog lists repository names of an account in lexical order.
func (s *Service) Catalog(ctx context.Context, accountID, last string, n int) ([]string, error) {
	repos, err := s.meta.ListRepositories(ctx, accountID, last, n)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(repos))
	for i, r := range repos {
		out[i] = r.Name
	}
	return out, nil
}
