// Package blob defines the blob store: content-addressed bytes plus the data
// of in-progress uploads. Implementations live in sub-packages (fs; s3 in a
// later issue); blobtest is the contract suite every implementation passes.
//
// The store knows nothing of repositories or links: which repository may see
// a blob is metadata (see package meta). Digests are passed as strings in
// "algorithm:hex" form and have been validated by the caller; implementations
// still check them (and upload ids) with CheckDigest and CheckUploadID, since
// both end up in file names or object keys, and return ErrInvalid for
// anything else.
//
// Errors are wrapped with detail; test them with errors.Is.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

var (
	// ErrNotFound is returned when a blob or upload does not exist.
	ErrNotFound = errors.New("blob: not found")
	// ErrShortUpload is returned by Append when the upload holds fewer bytes
	// than the offset asked for (data lost, or a client skipping ahead). The
	// upload is left unchanged.
	ErrShortUpload = errors.New("blob: upload shorter than offset")
	// ErrInvalid is returned for a malformed or unsupported digest, an
	// invalid upload id or a negative offset.
	ErrInvalid = errors.New("blob: invalid argument")

	// ErrConflict is returned (wrapped) by Append when another writer
	// changed the upload meanwhile (two nodes writing one upload at once).
	ErrConflict = errors.New("blob: upload changed concurrently")
)

// Digest algorithms a store accepts, with the length of their hex encoding.
var digestHexLen = map[string]int{
	"sha256": 64,
	"sha512": 128,
}

// Algorithms lists the digest algorithms a store accepts.
func Algorithms() []string { return []string{"sha256", "sha512"} }

// CheckDigest checks that digest is "algorithm:hex" with a supported
// algorithm and lower-case hex of the algorithm's length, and returns both
// parts. Anything else, including every string that could name a path
// outside a store, is an error wrapping ErrInvalid.
func CheckDigest(digest string) (alg, hex string, err error) {
	for i := 0; i < len(digest); i++ {
		if digest[i] == ':' {
			alg, hex = digest[:i], digest[i+1:]
			break
		}
	}
	want, ok := digestHexLen[alg]
	if !ok || len(hex) != want || !isLowerHex(hex) {
		return "", "", fmt.Errorf("%w: digest %.200q", ErrInvalid, digest)
	}
	return alg, hex, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// MaxUploadIDLen is the longest upload id a store accepts.
const MaxUploadIDLen = 128

// CheckUploadID checks that id is 1 to MaxUploadIDLen characters from
// [A-Za-z0-9_-]; anything else is an error wrapping ErrInvalid.
func CheckUploadID(id string) error {
	ok := len(id) > 0 && len(id) <= MaxUploadIDLen
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%w: upload id %.200q", ErrInvalid, id)
	}
	return nil
}

// Reader reads a stored blob. For the filesystem store it is an *os.File, so
// net/http can use sendfile.
type Reader interface {
	io.ReadSeekCloser
}

// Store holds blob content.
type Store interface {
	// Stat returns the size of a committed blob, or ErrNotFound.
	Stat(ctx context.Context, digest string) (int64, error)
	// Open opens a committed blob for reading.
	Open(ctx context.Context, digest string) (Reader, int64, error)
	// Delete removes a committed blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, digest string) error
	// Walk calls fn for every committed blob, stopping at and returning the
	// first error fn returns. fn may Delete the blob it is given. Blobs
	// committed or deleted during the walk may or may not be seen.
	Walk(ctx context.Context, fn func(digest string, size int64) error) error

	// Append writes r to upload id starting at offset, creating the upload
	// when offset is 0. Bytes the upload held past offset (an unacknowledged
	// tail left by a crash) are discarded first. It returns the bytes written
	// and makes them durable before returning.
	//
	// If the upload holds fewer than offset bytes (or does not exist and
	// offset > 0) Append writes nothing and returns ErrShortUpload. If r or
	// the storage fails midway, Append returns the error together with the
	// count of bytes that are stored; the caller may resume from offset+n.
	// Appending to an upload that was committed never changes the blob.
	// Calls for the same upload id must not overlap.
	Append(ctx context.Context, id string, offset int64, r io.Reader) (int64, error)
	// ReadUpload reads the data of an upload (used when a digest algorithm
	// other than the running one must be computed), or returns ErrNotFound.
	ReadUpload(ctx context.Context, id string) (io.ReadCloser, error)
	// Commit makes upload id readable as digest, durably. The upload's data
	// stays until Abort, so a caller that loses a race with garbage
	// collection can commit again. Committing content that already exists
	// is cheap and not an error. The caller has checked that the upload's
	// data has that digest; the store does not hash it again. A missing
	// upload is ErrNotFound.
	Commit(ctx context.Context, id, digest string) error
	// Abort removes an upload's data. Aborting a missing upload is not an error.
	Abort(ctx context.Context, id string) error
	// ListUploads returns the ids of uploads that have data.
	ListUploads(ctx context.Context) ([]string, error)
}

// Redirector is implemented by stores whose blobs clients can fetch directly
// (S3: a presigned URL), so the registry may redirect a blob GET instead of
// streaming the bytes through the node.
type Redirector interface {
	// RedirectURL returns a URL from which anyone may GET the bytes of a
	// committed blob, honouring Range, until ttl has passed; ErrNotFound if
	// the blob does not exist.
	RedirectURL(ctx context.Context, digest string, ttl time.Duration) (string, error)
}
