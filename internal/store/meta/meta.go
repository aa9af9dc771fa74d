// Package meta defines the metadata store: accounts, repositories, blob
// links, manifests, tags, uploads. Implementations live in sub-packages
// (sqlstore runs on SQLite and PostgreSQL); metatest is the contract suite
// every implementation must pass.
//
// Each method is one transaction. Domain decisions that must be taken inside
// a transaction (tag immutability, for example) are passed in as callbacks so
// that the store stays free of registry rules.
package meta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by every implementation. Callers test with errors.Is.
var (
	ErrNotFound     = errors.New("meta: not found")
	ErrExists       = errors.New("meta: already exists")
	ErrNotEmpty     = errors.New("meta: repository not empty")
	ErrConflict     = errors.New("meta: concurrent modification")
	ErrBlobsMissing = errors.New("meta: referenced blobs not linked")
	ErrChildMissing = errors.New("meta: referenced manifests missing")
	ErrBlobDeleting = errors.New("meta: blob is being garbage-collected")
	ErrReferenced   = errors.New("meta: manifest referenced by an index")
)

// Account is a tenant. ID is the 12-digit AWS-style account id.
type Account struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// AccessKey is an access key pair of a principal. The secret is kept in the
// clear because SigV4 needs it to recompute signatures.
type AccessKey struct {
	AccessKeyID string
	Secret      string
	AccountID   string
	UserName    string // "" means the account's root/admin principal
	Active      bool
	CreatedAt   time.Time
}

// Repository settings that the core issue needs; later issues add columns.
type Repository struct {
	ID             int64
	AccountID      string
	Name           string
	CreatedAt      time.Time
	TagMutability  string // MUTABLE, IMMUTABLE, ...
	MutabilityRule string // JSON exclusion filters, opaque to the store
	ScanOnPush     bool
	EncryptionType string
	KMSKey         string
	// Policy is the repository policy document ("" when none).
	Policy string
	// ScanFilter is reserved for the scanning issue (JSON, opaque).
	ScanFilter string
}

// Blob is stored content known by digest, shared by every repository that
// links it.
type Blob struct {
	Digest    string
	Size      int64
	CreatedAt time.Time
}

// Upload is a resumable blob upload session.
type Upload struct {
	ID        string
	RepoID    int64
	Offset    int64
	HashState []byte // marshalled running hash of bytes [0, Offset)
	StartedAt time.Time
	UpdatedAt time.Time
}

// Manifest is an image (or artifact, or index) in a repository.
type Manifest struct {
	RepoID       int64
	Digest       string
	MediaType    string
	ArtifactType string
	Subject      string // digest of the subject manifest, if any
	ConfigDigest string
	Size         int64
	Content      []byte
	PushedAt     time.Time
	LastPullAt   time.Time
	// Annotations are kept for the referrers API (JSON object, may be empty).
	Annotations []byte
	// Status is ImageActive (or ""), ImageArchived or ImageActivating;
	// ArchivedAt and ActivatedAt are ECR's lastArchivedAt and
	// lastActivatedAt (zero: never). PutManifest ignores them: a new image
	// is active, and pushing an archived one again restores it.
	Status      string
	ArchivedAt  time.Time
	ActivatedAt time.Time
}

// Refs lists what a manifest refers to; the store checks them in the same
// transaction that writes the manifest.
type Refs struct {
	Blobs     []string // config and layers: must be linked in the repository
	Manifests []string // index children: must exist in the repository
	// Optional are blobs that are recorded but not required (non-distributable
	// layers, for example).
	Optional []string
}

// PutManifest asks the store to write a manifest and optionally move a tag.
type PutManifest struct {
	Manifest Manifest
	Refs     Refs
	Tag      string
	// AllowTagMove is called inside the transaction with the digest the tag
	// points at now ("" if the tag is new). A non-nil error aborts the write
	// and is returned unchanged.
	AllowTagMove func(current string) error
	// Actor and Via are recorded in the tag history.
	Actor string
	Via   string
}

// TagEvent is one move of a tag.
type TagEvent struct {
	// ID increases with every event of the store (set when read).
	ID     int64
	RepoID int64
	Tag    string
	From   string
	To     string
	At     time.Time
	Actor  string
	Via    string
}

// Referrer is a manifest whose subject is a given digest.
type Referrer struct {
	Digest       string
	MediaType    string
	ArtifactType string
	Size         int64
	Annotations  []byte
	Status       string // as Manifest.Status
}

// TagInfo pairs a tag with its target.
type TagInfo struct {
	Name      string
	Digest    string
	UpdatedAt time.Time
}

// Store is the metadata store.
//
// Conventions shared by every implementation: a limit <= 0 means no limit;
// times are stored with nanosecond precision and returned in UTC; a zero
// time.Time passed in a CreatedAt/StartedAt/UpdatedAt/PushedAt field means
// "now". Callbacks run inside the write transaction and must not call back
// into the store; they may be called more than once if the transaction is
// retried.
type Store interface {
	IAMStore
	ECRStore
	LifecycleStore
	TransferStore
	JobStore
	AuditStore
	SuppressionStore
	IndexStore
	HistoryStore
	ArchiveStore
	LifecycleRunStore
	ScanStore
	VulnStore

	Close() error
	Ping(ctx context.Context) error

	// Accounts and keys.
	CreateAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	PutAccessKey(ctx context.Context, k AccessKey) error
	GetAccessKey(ctx context.Context, id string) (AccessKey, error)

	// Repositories.
	CreateRepository(ctx context.Context, r Repository) (Repository, error)
	GetRepository(ctx context.Context, accountID, name string) (Repository, error)
	// ListRepositories returns up to limit repositories of the account whose
	// names sort after "after", in lexical order.
	ListRepositories(ctx context.Context, accountID, after string, limit int) ([]Repository, error)
	// DeleteRepository removes the repository; unless force it fails with
	// ErrNotEmpty when it holds manifests.
	DeleteRepository(ctx context.Context, id int64, force bool) error

	// Blobs. LinkBlob records the blob (if new) and links it into the
	// repository; it fails with ErrBlobDeleting while GC is removing it.
	LinkBlob(ctx context.Context, repoID int64, b Blob) error
	// GetBlob returns a blob linked in the repository.
	GetBlob(ctx context.Context, repoID int64, digest string) (Blob, error)
	// StatBlob returns a blob regardless of links (for dedup and mounts).
	StatBlob(ctx context.Context, digest string) (Blob, error)
	UnlinkBlob(ctx context.Context, repoID int64, digest string) error

	// Uploads.
	CreateUpload(ctx context.Context, u Upload) error
	GetUpload(ctx context.Context, id string) (Upload, error)
	// AdvanceUpload moves the upload from offset "from" to u.Offset, failing
	// with ErrConflict when another writer moved it first.
	AdvanceUpload(ctx context.Context, u Upload, from int64) error
	DeleteUpload(ctx context.Context, id string) error
	ListUploadsBefore(ctx context.Context, before time.Time, limit int) ([]Upload, error)
	CountUploads(ctx context.Context) (int64, error)

	// Manifests and tags.
	PutManifest(ctx context.Context, p PutManifest) error
	GetManifest(ctx context.Context, repoID int64, digest string) (Manifest, error)
	// ResolveTag returns the digest and media type a tag points at.
	ResolveTag(ctx context.Context, repoID int64, tag string) (digest string, err error)
	// DeleteManifest removes the manifest and every tag pointing at it; it
	// fails with ErrReferenced while an index in the repository lists it.
	DeleteManifest(ctx context.Context, repoID int64, digest, actor, via string) error
	DeleteTag(ctx context.Context, repoID int64, tag, actor, via string) error
	ListTags(ctx context.Context, repoID int64, after string, limit int) ([]string, error)
	ListTagsOf(ctx context.Context, repoID int64, digest string) ([]string, error)
	ListReferrers(ctx context.Context, repoID int64, subject string) ([]Referrer, error)
	TagHistory(ctx context.Context, repoID int64, tag string, limit int) ([]TagEvent, error)
	TouchPull(ctx context.Context, repoID int64, digest string, at time.Time) error

	// Garbage collection.
	// UnlinkStale drops blob links older than cutoff that no manifest in
	// their repository references, returning how many went.
	UnlinkStale(ctx context.Context, cutoff time.Time) (int64, error)
	// GCCandidates lists blobs created before cutoff with no link and no
	// manifest reference.
	GCCandidates(ctx context.Context, cutoff time.Time, limit int) ([]Blob, error)
	// MarkBlobDeleting re-checks, in one transaction, that the blob is still
	// unreferenced and older than cutoff and marks it, recording when; true
	// means this caller now owns the deletion. False means it is live again
	// and must be kept, or another collector marked it first.
	MarkBlobDeleting(ctx context.Context, digest string, cutoff time.Time) (bool, error)
	// ForgetBlob removes a blob marked deleting.
	ForgetBlob(ctx context.Context, digest string) error
	// ListDeletingBlobs lists blobs marked deleting before markedBefore:
	// marks left by a collector that died.
	ListDeletingBlobs(ctx context.Context, markedBefore time.Time, limit int) ([]Blob, error)
	// ClaimDeletion takes over a mark older than markedBefore (renewing its
	// time), so that only one collector finishes an abandoned deletion.
	ClaimDeletion(ctx context.Context, digest string, markedBefore time.Time) (bool, error)
	// GCPreview lists the blobs a collection with this cutoff would delete
	// once stale links are dropped: created before cutoff, referenced by no
	// manifest, and linked nowhere since cutoff. It changes nothing.
	GCPreview(ctx context.Context, cutoff time.Time, limit int) ([]Blob, error)
	// ReposLinking lists up to limit repositories of the account that link
	// the blob, by name (for automatic cross-repository mounts).
	ReposLinking(ctx context.Context, accountID, digest string, limit int) ([]Repository, error)
}

// MissingError lists the digests PutManifest found missing. Kind is
// ErrBlobsMissing or ErrChildMissing, so errors.Is works on it.
type MissingError struct {
	Kind    error
	Digests []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%v: %s", e.Kind, strings.Join(e.Digests, ", "))
}

func (e *MissingError) Unwrap() error { return e.Kind }
