package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// BlobInfo describes a blob linked in a repository.
type BlobInfo struct {
	Digest digest.Digest
	Size   int64
}

// StatBlob returns a blob linked in the repository.
func (s *Service) StatBlob(ctx context.Context, r meta.Repository, d digest.Digest) (BlobInfo, error) {
	b, err := s.meta.GetBlob(ctx, r.ID, string(d))
	if errors.Is(err, meta.ErrNotFound) {
		return BlobInfo{}, errorf(CodeBlobUnknown, "blob %s unknown to repository %s", d, r.Name)
	}
	if err != nil {
		return BlobInfo{}, err
	}
	return BlobInfo{Digest: d, Size: b.Size}, nil
}

// OpenBlob opens a blob linked in the repository.
func (s *Service) OpenBlob(ctx context.Context, r meta.Repository, d digest.Digest) (blob.Reader, BlobInfo, error) {
	info, err := s.StatBlob(ctx, r, d)
	if err != nil {
		return nil, info, err
	}
	rd, _, err := s.blobs.Open(ctx, string(d))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, info, errorf(CodeBlobUnknown, "blob %s content missing", d)
	}
	return rd, info, err
}

// BlobURL returns a URL, valid for ttl, from which a client may fetch a blob
// linked in the repository straight from the blob store. It returns "" and
// no error when the store cannot hand out such URLs (the caller then serves
// the bytes itself).
func (s *Service) BlobURL(ctx context.Context, r meta.Repository, d digest.Digest, ttl time.Duration) (string, error) {
	rd, ok := s.blobs.(blob.Redirector)
	if !ok {
		return "", nil
	}
	if _, err := s.StatBlob(ctx, r, d); err != nil {
		return "", err
	}
	u, err := rd.RedirectURL(ctx, string(d), ttl)
	if errors.Is(err, blob.ErrNotFound) {
		return "", errorf(CodeBlobUnknown, "blob %s content missing", d)
	}
	return u, err
}

// DeleteBlob unlinks a blob from the repository; the bytes go when garbage
// collection finds no other user.
func (s *Service) DeleteBlob(ctx context.Context, r meta.Repository, d digest.Digest) error {
	err := s.meta.UnlinkBlob(ctx, r.ID, string(d))
	if errors.Is(err, meta.ErrNotFound) {
		return errorf(CodeBlobUnknown, "blob %s unknown to repository %s", d, r.Name)
	}
	return err
}

// MountBlob links into "to" a blob that "from" links. It reports false
// (and no error) when the blob cannot be mounted, so the caller falls back
// to an upload.
func (s *Service) MountBlob(ctx context.Context, from, to meta.Repository, d digest.Digest) (BlobInfo, bool, error) {
	b, err := s.meta.GetBlob(ctx, from.ID, string(d))
	if errors.Is(err, meta.ErrNotFound) {
		return BlobInfo{}, false, nil
	}
	if err != nil {
		return BlobInfo{}, false, err
	}
	err = s.meta.LinkBlob(ctx, to.ID, meta.Blob{Digest: b.Digest, Size: b.Size, CreatedAt: s.now()})
	if errors.Is(err, meta.ErrBlobDeleting) {
		return BlobInfo{}, false, nil
	}
	if err != nil {
		return BlobInfo{}, false, err
	}
	return BlobInfo{Digest: d, Size: b.Size}, true, nil
}

// Upload is the state of an upload session.
type Upload struct {
	ID        string
	Repo      meta.Repository
	Offset    int64
	StartedAt time.Time
}

func newUploadID() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func marshalHash(h hash.Hash) []byte {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err) // sha256 always marshals
	}
	return b
}

func unmarshalHash(state []byte) (hash.Hash, error) {
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, err
	}
	return h, nil
}

// StartUpload opens an upload session in the repository.
func (s *Service) StartUpload(ctx context.Context, r meta.Repository) (Upload, error) {
	now := s.now()
	u := meta.Upload{ID: newUploadID(), RepoID: r.ID, HashState: marshalHash(sha256.New()), StartedAt: now, UpdatedAt: now}
	if err := s.meta.CreateUpload(ctx, u); err != nil {
		return Upload{}, err
	}
	return Upload{ID: u.ID, Repo: r, StartedAt: now}, nil
}

func (s *Service) getUpload(ctx context.Context, r meta.Repository, id string) (meta.Upload, error) {
	u, err := s.meta.GetUpload(ctx, id)
	if errors.Is(err, meta.ErrNotFound) || (err == nil && u.RepoID != r.ID) {
		return meta.Upload{}, errorf(CodeBlobUploadUnknown, "upload %q unknown", id)
	}
	return u, err
}

// UploadStatus returns an upload session's progress.
func (s *Service) UploadStatus(ctx context.Context, r meta.Repository, id string) (Upload, error) {
	u, err := s.getUpload(ctx, r, id)
	if err != nil {
		return Upload{}, err
	}
	return Upload{ID: u.ID, Repo: r, Offset: u.Offset, StartedAt: u.StartedAt}, nil
}

// Chunk is data for an upload. Start is the offset the client claims (-1
// when it gave none); Length is the length it declared (-1 when unknown).
type Chunk struct {
	Start  int64
	Length int64
	Body   io.Reader
}

// WriteUpload appends a chunk to an upload session.
func (s *Service) WriteUpload(ctx context.Context, r meta.Repository, id string, c Chunk) (Upload, error) {
	unlock := s.uploads.lock(id)
	defer unlock()
	u, err := s.getUpload(ctx, r, id)
	if err != nil {
		return Upload{}, err
	}
	u, err = s.appendChunk(ctx, u, c)
	if err != nil {
		return Upload{}, err
	}
	return Upload{ID: u.ID, Repo: r, Offset: u.Offset, StartedAt: u.StartedAt}, nil
}

func (s *Service) appendChunk(ctx context.Context, u meta.Upload, c Chunk) (meta.Upload, error) {
	if c.Start >= 0 && c.Start != u.Offset {
		return u, &Error{Code: CodeRangeInvalid, Message: fmt.Sprintf("chunk starts at %d, upload is at %d", c.Start, u.Offset), Detail: u.Offset}
	}
	h, err := unmarshalHash(u.HashState)
	if err != nil {
		return u, fmt.Errorf("upload %s: bad hash state: %w", u.ID, err)
	}
	body := c.Body
	if c.Length >= 0 {
		body = io.LimitReader(c.Body, c.Length)
	}
	n, err := s.blobs.Append(ctx, u.ID, u.Offset, io.TeeReader(body, h))
	if errors.Is(err, blob.ErrConflict) {
		// Another node wrote this upload meanwhile: the client resumes
		// from the upload's status.
		return u, errorf(CodeBlobUploadInvalid, "upload %s was written concurrently; get its status and resume", u.ID)
	}
	if err != nil {
		return u, fmt.Errorf("upload %s: %w", u.ID, err)
	}
	if c.Length >= 0 && n != c.Length {
		return u, errorf(CodeSizeInvalid, "chunk declared %d bytes, got %d", c.Length, n)
	}
	if n == 0 {
		return u, nil
	}
	from := u.Offset
	u.Offset += n
	u.HashState = marshalHash(h)
	u.UpdatedAt = s.now()
	if err := s.meta.AdvanceUpload(ctx, u, from); err != nil {
		if errors.Is(err, meta.ErrConflict) {
			return u, errorf(CodeBlobUploadInvalid, "upload %s moved concurrently", u.ID)
		}
		return u, err
	}
	return u, nil
}

// FinishUpload appends an optional last chunk, checks the digest and makes
// the blob visible in the repository.
func (s *Service) FinishUpload(ctx context.Context, r meta.Repository, id string, want digest.Digest, c Chunk) (BlobInfo, error) {
	unlock := s.uploads.lock(id)
	defer unlock()
	u, err := s.getUpload(ctx, r, id)
	if err != nil {
		return BlobInfo{}, err
	}
	if c.Body != nil {
		if u, err = s.appendChunk(ctx, u, c); err != nil {
			return BlobInfo{}, err
		}
	}
	if err := s.verifyDigest(ctx, u, want); err != nil {
		return BlobInfo{}, err
	}
	if err := s.commit(ctx, r, u.ID, want, u.Offset); err != nil {
		return BlobInfo{}, err
	}
	// The blob is durable and linked: the session is no longer needed.
	if err := s.meta.DeleteUpload(ctx, u.ID); err != nil && !errors.Is(err, meta.ErrNotFound) {
		return BlobInfo{}, err
	}
	_ = s.blobs.Abort(ctx, u.ID)
	return BlobInfo{Digest: want, Size: u.Offset}, nil
}

func (s *Service) verifyDigest(ctx context.Context, u meta.Upload, want digest.Digest) error {
	var got digest.Digest
	if want.Algorithm() == digest.SHA256 {
		h, err := unmarshalHash(u.HashState)
		if err != nil {
			return err
		}
		got = digest.NewDigest(digest.SHA256, h)
	} else {
		// Rare algorithms are computed at the end rather than slowing every
		// upload with a second running hash.
		rd, err := s.blobs.ReadUpload(ctx, u.ID)
		if errors.Is(err, blob.ErrNotFound) && u.Offset == 0 {
			got = want.Algorithm().FromBytes(nil)
		} else if err != nil {
			return err
		} else {
			defer rd.Close()
			v := want.Algorithm().Digester()
			if _, err := io.Copy(v.Hash(), io.LimitReader(rd, u.Offset)); err != nil {
				return err
			}
			got = v.Digest()
		}
	}
	if got != want {
		return errorf(CodeDigestInvalid, "digest %s does not match content (%s)", want, got)
	}
	return nil
}

// commit makes upload data readable as the digest and links it. Garbage
// collection may be deleting the same content at this moment: the store
// refuses the link while the blob is marked, and the upload's own data is
// kept until the link holds, so the content is committed again after GC.
func (s *Service) commit(ctx context.Context, r meta.Repository, id string, d digest.Digest, size int64) error {
	if size == 0 {
		// Zero-length uploads may have no data file: make one.
		if _, err := s.blobs.Append(ctx, id, 0, eofReader{}); err != nil {
			return err
		}
	}
	deadline := s.now().Add(30 * time.Second)
	for {
		if err := s.blobs.Commit(ctx, id, string(d)); err != nil {
			return err
		}
		err := s.meta.LinkBlob(ctx, r.ID, meta.Blob{Digest: string(d), Size: size, CreatedAt: s.now()})
		if err == nil {
			break
		}
		if !errors.Is(err, meta.ErrBlobDeleting) || s.now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// A collector that marked the blob before our link may have removed the
	// file after our first commit; the link now protects it, so restore it.
	if _, err := s.blobs.Stat(ctx, string(d)); errors.Is(err, blob.ErrNotFound) {
		return s.blobs.Commit(ctx, id, string(d))
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// CancelUpload ends an upload session and discards its data.
func (s *Service) CancelUpload(ctx context.Context, r meta.Repository, id string) error {
	unlock := s.uploads.lock(id)
	defer unlock()
	if _, err := s.getUpload(ctx, r, id); err != nil {
		return err
	}
	if err := s.meta.DeleteUpload(ctx, id); err != nil && !errors.Is(err, meta.ErrNotFound) {
		return err
	}
	return s.blobs.Abort(ctx, id)
}

// PutBlob uploads a whole blob in one call (monolithic upload).
func (s *Service) PutBlob(ctx context.Context, r meta.Repository, want digest.Digest, length int64, body io.Reader) (BlobInfo, error) {
	u, err := s.StartUpload(ctx, r)
	if err != nil {
		return BlobInfo{}, err
	}
	info, err := s.FinishUpload(ctx, r, u.ID, want, Chunk{Start: 0, Length: length, Body: body})
	if err != nil {
		_ = s.CancelUpload(context.WithoutCancel(ctx), r, u.ID)
	}
	return info, err
}
