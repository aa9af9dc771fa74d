package ecr

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// This file serves ECR's layer push: BatchCheckLayerAvailability,
// InitiateLayerUpload, UploadLayerPart and CompleteLayerUpload. Uploads
// are the registry core's upload sessions, so a layer pushed here is a
// blob of /v2/ as soon as it completes.

const (
	// minLayerPart is ECR's (S3's) smallest part but the last.
	minLayerPart = 5 << 20
	// layerPartSize is the part size InitiateLayerUpload advises. It is the
	// smallest part ECR accepts, which keeps a part's request (base64 in
	// JSON, 4/3 of the part) under the API's default 10 MiB body limit.
	layerPartSize = minLayerPart
)

// BatchCheckLayerAvailability tells which layers the repository holds.
func (s *Server) BatchCheckLayerAvailability(ctx context.Context, in *ecrapi.BatchCheckLayerAvailabilityInput) (*ecrapi.BatchCheckLayerAvailabilityOutput, error) {
	r, _, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:BatchCheckLayerAvailability")
	if err != nil {
		return nil, err
	}
	out := &ecrapi.BatchCheckLayerAvailabilityOutput{Layers: []ecrapi.Layer{}, Failures: []ecrapi.LayerFailure{}}
	for i, ld := range in.LayerDigests {
		if slices.Contains(in.LayerDigests[:i], ld) {
			continue
		}
		if ld == "" {
			code := ecrapi.LayerFailureCodeMissingLayerDigest
			out.Failures = append(out.Failures, ecrapi.LayerFailure{LayerDigest: ecrapi.Ptr(ld), FailureCode: &code,
				FailureReason: ecrapi.Ptr("Invalid request parameters: layer digest cannot be null")})
			continue
		}
		d, err := names.ParseDigest(ld)
		if err != nil {
			code := ecrapi.LayerFailureCodeInvalidLayerDigest
			out.Failures = append(out.Failures, ecrapi.LayerFailure{LayerDigest: ecrapi.Ptr(ld), FailureCode: &code,
				FailureReason: ecrapi.Ptr("Invalid request parameters: layer digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")})
			continue
		}
		info, err := s.Registry.StatBlob(ctx, r, d)
		switch {
		case registry.CodeOf(err) == registry.CodeBlobUnknown:
			avail := ecrapi.LayerAvailabilityUnavailable
			out.Layers = append(out.Layers, ecrapi.Layer{LayerDigest: ecrapi.Ptr(ld), LayerAvailability: &avail})
		case err != nil:
			return nil, err
		default:
			avail := ecrapi.LayerAvailabilityAvailable
			out.Layers = append(out.Layers, ecrapi.Layer{LayerDigest: ecrapi.Ptr(ld), LayerAvailability: &avail, LayerSize: ecrapi.Ptr(info.Size)})
		}
	}
	return out, nil
}

// newUploadUUID returns a random (version 4) UUID: ECR's uploadId shape.
func newUploadUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// InitiateLayerUpload opens an upload session.
//
// ECR's uploadId is a UUID (the model's pattern, which this server's own
// validation enforces on later calls), while registry.StartUpload mints
// ids of another shape. So the session is created here, exactly as the
// core creates one (a fresh SHA-256 state at offset 0), under a UUID; every
// later step goes through the core's upload functions.
func (s *Server) InitiateLayerUpload(ctx context.Context, in *ecrapi.InitiateLayerUploadInput) (*ecrapi.InitiateLayerUploadOutput, error) {
	r, _, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:InitiateLayerUpload")
	if err != nil {
		return nil, err
	}
	state, err := sha256.New().(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := meta.Upload{ID: newUploadUUID(), RepoID: r.ID, HashState: state, StartedAt: now, UpdatedAt: now}
	if err := s.Meta.CreateUpload(ctx, u); err != nil {
		return nil, err
	}
	return &ecrapi.InitiateLayerUploadOutput{UploadId: ecrapi.Ptr(u.ID), PartSize: ecrapi.Ptr(int64(layerPartSize))}, nil
}

func uploadNotFound(id, repo, account string) error {
	return ecrapi.NewUploadNotFoundException("Upload with id '" + id + "' does not exist in the repository with name '" + repo + "' in the registry with id '" + account + "'")
}

// UploadLayerPart appends a part, which must start right after the bytes
// received so far.
func (s *Server) UploadLayerPart(ctx context.Context, in *ecrapi.UploadLayerPartInput) (*ecrapi.UploadLayerPartOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:UploadLayerPart")
	if err != nil {
		return nil, err
	}
	id := ecrapi.Deref(in.UploadId)
	first, last := ecrapi.Deref(in.PartFirstByte), ecrapi.Deref(in.PartLastByte)
	n := int64(len(in.LayerPartBlob))
	u, err := s.Registry.UploadStatus(ctx, r, id)
	if registry.CodeOf(err) == registry.CodeBlobUploadUnknown {
		return nil, uploadNotFound(id, r.Name, account)
	}
	if err != nil {
		return nil, err
	}
	partErr := func(offset int64, format string, args ...any) error {
		e := ecrapi.NewInvalidLayerPartException(fmt.Sprintf(format, args...))
		e.RegistryId, e.RepositoryName, e.UploadId = ecrapi.Ptr(account), ecrapi.Ptr(r.Name), ecrapi.Ptr(id)
		e.LastValidByteReceived = ecrapi.Ptr(max(offset-1, 0))
		return e
	}
	if n == 0 || last < first || last-first+1 != n {
		return nil, partErr(u.Offset, "The layer part of %d bytes does not span bytes %d to %d", n, first, last)
	}
	if first != u.Offset {
		return nil, partErr(u.Offset, "The part's first byte %d does not follow the %d bytes received so far", first, u.Offset)
	}
	u, err = s.Registry.WriteUpload(ctx, r, id, registry.Chunk{Start: first, Length: n, Body: bytes.NewReader(in.LayerPartBlob)})
	if err != nil {
		var re *registry.Error
		if !errors.As(err, &re) {
			return nil, err
		}
		switch re.Code {
		case registry.CodeBlobUploadUnknown:
			return nil, uploadNotFound(id, r.Name, account)
		case registry.CodeRangeInvalid:
			at, _ := re.Detail.(int64)
			return nil, partErr(at, "The part's first byte %d does not follow the %d bytes received so far", first, at)
		case registry.CodeBlobUploadInvalid, registry.CodeSizeInvalid:
			st, _ := s.Registry.UploadStatus(ctx, r, id)
			return nil, partErr(st.Offset, "%s", re.Message)
		}
		return nil, err
	}
	layerParts.record(id, n, s.now())
	return &ecrapi.UploadLayerPartOutput{
		RegistryId:       ecrapi.Ptr(account),
		RepositoryName:   ecrapi.Ptr(r.Name),
		UploadId:         ecrapi.Ptr(id),
		LastByteReceived: ecrapi.Ptr(u.Offset - 1),
	}, nil
}

// CompleteLayerUpload checks the upload against its digest and makes it a
// layer of the repository.
func (s *Server) CompleteLayerUpload(ctx context.Context, in *ecrapi.CompleteLayerUploadInput) (*ecrapi.CompleteLayerUploadOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:CompleteLayerUpload")
	if err != nil {
		return nil, err
	}
	id := ecrapi.Deref(in.UploadId)
	digests := slices.Compact(slices.Sorted(slices.Values(in.LayerDigests)))
	if len(digests) != 1 {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'layerDigests' failed to satisfy constraint: 'an upload is one layer: give its one digest'")
	}
	d, err := names.ParseDigest(digests[0])
	if err != nil {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'layerDigests' failed to satisfy constraint: 'Invalid request parameters: layer digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+''")
	}
	u, err := s.Registry.UploadStatus(ctx, r, id)
	if registry.CodeOf(err) == registry.CodeBlobUploadUnknown {
		return nil, uploadNotFound(id, r.Name, account)
	}
	if err != nil {
		return nil, err
	}
	if u.Offset == 0 {
		return nil, ecrapi.NewEmptyUploadException("The upload with id '" + id + "' does not contain any layer parts")
	}
	if layerParts.tooSmall(id) {
		return nil, ecrapi.NewLayerPartTooSmallException("Layer parts must be at least 5 MiB in size, except the last")
	}
	switch _, err := s.Registry.StatBlob(ctx, r, d); {
	case err == nil:
		_ = s.Registry.CancelUpload(ctx, r, id)
		layerParts.forget(id)
		return nil, ecrapi.NewLayerAlreadyExistsException("The layer '" + string(d) + "' already exists in the repository with name '" + r.Name + "' in the registry with id '" + account + "'")
	case registry.CodeOf(err) != registry.CodeBlobUnknown:
		return nil, err
	}
	_, err = s.Registry.FinishUpload(ctx, r, id, d, registry.Chunk{Start: -1, Length: -1})
	switch registry.CodeOf(err) {
	case "":
		if err != nil {
			return nil, err
		}
	case registry.CodeDigestInvalid:
		return nil, ecrapi.NewInvalidLayerException("The layer digest '" + string(d) + "' does not match the digest of the uploaded content")
	case registry.CodeBlobUploadUnknown:
		return nil, uploadNotFound(id, r.Name, account)
	default:
		return nil, err
	}
	layerParts.forget(id)
	return &ecrapi.CompleteLayerUploadOutput{
		RegistryId:     ecrapi.Ptr(account),
		RepositoryName: ecrapi.Ptr(r.Name),
		UploadId:       ecrapi.Ptr(id),
		LayerDigest:    ecrapi.Ptr(string(d)),
	}, nil
}

// partLog remembers, per upload, the size of its latest part and whether
// an earlier part (so not the last) was under minLayerPart, for
// CompleteLayerUpload's LayerPartTooSmallException. It is in memory: parts
// of one upload sent to different nodes are checked only partly.
type partLog struct {
	mu sync.Mutex
	m  map[string]partState
}

type partState struct {
	last  int64
	small bool
	at    time.Time
}

var layerParts = &partLog{m: map[string]partState{}}

// partLogTTL drops the state of uploads abandoned for this long.
const partLogTTL = 24 * time.Hour

func (l *partLog) record(id string, n int64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.m[id]
	if st.last > 0 && st.last < minLayerPart {
		st.small = true
	}
	st.last, st.at = n, now
	if len(l.m) >= 4096 {
		for k, v := range l.m {
			if now.Sub(v.at) > partLogTTL {
				delete(l.m, k)
			}
		}
	}
	l.m[id] = st
}

func (l *partLog) tooSmall(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[id].small
}

func (l *partLog) forget(id string) {
	l.mu.Lock()
	delete(l.m, id)
	l.mu.Unlock()
}
