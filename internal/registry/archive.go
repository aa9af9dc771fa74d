package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Images move between two storage classes, as in ECR: STANDARD (status
// ACTIVE) and ARCHIVE (status ARCHIVED). Archiving is immediate; restoring
// goes through ACTIVATING and completes after Options.RestoreDelay, done by
// a durable job (KindRestore) so that it survives restarts. Only ACTIVE
// images can be pulled. An archived image keeps its manifest, tags and
// references, hence its blobs: garbage collection never takes them.

// KindRestore is the job kind that completes a restore; its payload is a
// RestoreJob.
const KindRestore = "image-restore"

// RestoreJob is the payload of a KindRestore job.
type RestoreJob struct {
	RepoID int64  `json:"repo"`
	Digest string `json:"digest"`
}

// DefaultRestoreDelay is how long a restore takes without
// Options.RestoreDelay.
const DefaultRestoreDelay = time.Minute

// Storage classes, spelled as ECR's ImageStorageClass / TargetStorageClass.
const (
	StorageStandard = "STANDARD"
	StorageArchive  = "ARCHIVE"
)

// Active reports whether the image can be pulled.
func Active(m meta.Manifest) bool { return m.Status == "" || m.Status == meta.ImageActive }

// StatusOf is the image's status, ACTIVE when unset.
func StatusOf(m meta.Manifest) string {
	if m.Status == "" {
		return meta.ImageActive
	}
	return m.Status
}

// StorageClassOf is the image's storage class: an image being restored is
// still in the archive.
func StorageClassOf(m meta.Manifest) string {
	if Active(m) {
		return StorageStandard
	}
	return StorageArchive
}

// PullManifest is GetManifest for a pull: an image that is not active
// (archived, or being restored) is refused with CodeImageArchived and a
// message saying how to restore it.
func (s *Service) PullManifest(ctx context.Context, r meta.Repository, ref names.Reference) (meta.Manifest, error) {
	m, err := s.GetManifest(ctx, r, ref)
	if err != nil {
		return meta.Manifest{}, err
	}
	if !Active(m) {
		return meta.Manifest{}, ArchivedError(r, ref.String(), m)
	}
	return m, nil
}

// ArchivedError is the refusal of a pull of an image that is not active.
func ArchivedError(r meta.Repository, ref string, m meta.Manifest) *Error {
	if m.Status == meta.ImageActivating {
		return &Error{Code: CodeImageArchived, Message: fmt.Sprintf(
			"image %s (%s) of repository %s is being restored from archive (status ACTIVATING) and can be pulled once its status is ACTIVE; "+
				"see `aws ecr describe-images --repository-name %s --image-ids imageDigest=%s`",
			ref, m.Digest, r.Name, r.Name, m.Digest)}
	}
	return &Error{Code: CodeImageArchived, Message: fmt.Sprintf(
		"image %s (%s) of repository %s is archived and cannot be pulled; restore it with "+
			"`aws ecr update-image-storage-class --repository-name %s --image-id imageDigest=%s --target-storage-class STANDARD`",
		ref, m.Digest, r.Name, r.Name, m.Digest)}
}

// statusError maps a store refusal of a status move.
func statusError(err error, r meta.Repository, d, target string) error {
	var se *meta.StatusError
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return errorf(CodeManifestUnknown, "manifest %s unknown to repository %s", d, r.Name)
	case errors.As(err, &se):
		return &Error{Code: CodeStorageClassUnsupported, Detail: se.Status,
			Message: fmt.Sprintf("image %s of repository %s is %s and cannot move to storage class %s", d, r.Name, se.Status, target)}
	}
	return err
}

// Archive moves an active image to the archive storage class at once.
func (s *Service) Archive(ctx context.Context, r meta.Repository, d string) error {
	err := s.meta.SetImageStatus(ctx, r.ID, d, []string{meta.ImageActive}, meta.ImageArchived, s.now())
	s.manifests.drop(r.ID, d)
	return statusError(err, r, d, StorageArchive)
}

// Restore starts restoring an archived image: it is ACTIVATING at once and
// ACTIVE after the restore delay. The completing job is queued before the
// status moves, so a crash in between leaves at worst a job that finds
// nothing to do, never an image stuck in ACTIVATING.
func (s *Service) Restore(ctx context.Context, r meta.Repository, d string) error {
	m, err := s.meta.GetManifest(ctx, r.ID, d)
	if err != nil {
		return statusError(err, r, d, StorageStandard)
	}
	if m.Status != meta.ImageArchived { // checked again when it moves
		return statusError(&meta.StatusError{Status: StatusOf(m)}, r, d, StorageStandard)
	}
	payload, err := json.Marshal(RestoreJob{RepoID: r.ID, Digest: d})
	if err != nil {
		return err
	}
	if _, _, err := s.meta.Enqueue(ctx, meta.Job{Kind: KindRestore, Key: KindRestore + ":" + strconv.FormatInt(r.ID, 10) + ":" + d,
		Payload: payload, RunAt: s.now().Add(s.opts.RestoreDelay)}); err != nil {
		return fmt.Errorf("queueing the restore of %s: %w", d, err)
	}
	err = s.meta.SetImageStatus(ctx, r.ID, d, []string{meta.ImageArchived}, meta.ImageActivating, s.now())
	s.manifests.drop(r.ID, d)
	return statusError(err, r, d, StorageStandard)
}

// FinishRestore completes a restore: an ACTIVATING image becomes ACTIVE.
// It does nothing (and succeeds) when the image is gone or no longer
// activating, so the job may run more than once.
func (s *Service) FinishRestore(ctx context.Context, j RestoreJob) error {
	err := s.meta.SetImageStatus(ctx, j.RepoID, j.Digest, []string{meta.ImageActivating}, meta.ImageActive, s.now())
	s.manifests.drop(j.RepoID, j.Digest)
	if errors.Is(err, meta.ErrNotFound) || errors.Is(err, meta.ErrConflict) {
		return nil
	}
	return err
}
