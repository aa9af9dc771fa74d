package ecr

import (
	"context"
	"errors"
	"fmt"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// This file serves the archive storage class (UpdateImageStorageClass) and
// the pull-time update exclusions (Register/Deregister/
// ListPullTimeUpdateExclusions). The state machine is the registry core's:
// ARCHIVE moves an ACTIVE image to ARCHIVED at once; STANDARD moves an
// ARCHIVED image to ACTIVATING, and a durable job makes it ACTIVE after the
// configured restore delay. Every other move is refused with
// ImageStorageClassUpdateNotSupportedException.

// UpdateImageStorageClass archives or restores one image.
func (s *Server) UpdateImageStorageClass(ctx context.Context, in *ecrapi.UpdateImageStorageClassInput) (*ecrapi.UpdateImageStorageClassOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:UpdateImageStorageClass")
	if err != nil {
		return nil, err
	}
	id := ecrapi.ImageIdentifier{}
	if in.ImageId != nil {
		id = *in.ImageId
	}
	tag, d, code, reason := parseImageID(id)
	if code != "" {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageId' failed to satisfy constraint: '" + reason + "'")
	}
	m, code, _, err := s.findImage(ctx, r, tag, d)
	if err != nil {
		return nil, err
	}
	if code != "" {
		return nil, imageNotFound(id, r.Name, account)
	}
	target := ecrapi.Deref(in.TargetStorageClass)
	var status ecrapi.ImageStatus
	switch target {
	case ecrapi.TargetStorageClassArchive:
		status = ecrapi.ImageStatusArchived
		err = s.Registry.Archive(ctx, r, m.Digest)
	case ecrapi.TargetStorageClassStandard:
		status = ecrapi.ImageStatusActivating
		err = s.Registry.Restore(ctx, r, m.Digest)
	default: // the model's enum check answers first
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'targetStorageClass' failed to satisfy constraint: 'Member must satisfy enum value set: [STANDARD, ARCHIVE]'")
	}
	var re *registry.Error
	switch {
	case errors.As(err, &re) && re.Code == registry.CodeManifestUnknown:
		return nil, imageNotFound(id, r.Name, account)
	case errors.As(err, &re) && re.Code == registry.CodeStorageClassUnsupported:
		return nil, storageClassUnsupported(m.Digest, r.Name, account, fmt.Sprint(re.Detail), string(target))
	case err != nil:
		return nil, err
	}
	outID := &ecrapi.ImageIdentifier{ImageDigest: ecrapi.Ptr(m.Digest)}
	if tag != "" {
		outID.ImageTag = ecrapi.Ptr(tag)
	}
	return &ecrapi.UpdateImageStorageClassOutput{
		RegistryId:     ecrapi.Ptr(account),
		RepositoryName: ecrapi.Ptr(r.Name),
		ImageId:        outID,
		ImageStatus:    &status,
	}, nil
}

// storageClassUnsupported says why a storage class move is refused.
func storageClassUnsupported(d, repo, account, status, target string) error {
	why := "is " + status
	switch {
	case status == meta.ImageActive && target == string(ecrapi.TargetStorageClassStandard):
		why = "is already in the STANDARD storage class (ACTIVE)"
	case status == meta.ImageArchived && target == string(ecrapi.TargetStorageClassArchive):
		why = "is already in the ARCHIVE storage class (ARCHIVED)"
	case status == meta.ImageActivating:
		why = "is being restored from archive (ACTIVATING); wait until it is ACTIVE"
	}
	return ecrapi.NewImageStorageClassUpdateNotSupportedException(fmt.Sprintf(
		"The image with digest '%s' in the repository with name '%s' in the registry with id '%s' %s: it cannot be transitioned to %s",
		d, repo, account, why, target))
}

// RegisterPullTimeUpdateExclusion excludes a principal's pulls from
// updating lastRecordedPullTime in the caller's registry.
func (s *Server) RegisterPullTimeUpdateExclusion(ctx context.Context, in *ecrapi.RegisterPullTimeUpdateExclusionInput) (*ecrapi.RegisterPullTimeUpdateExclusionOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:RegisterPullTimeUpdateExclusion")
	if err != nil {
		return nil, err
	}
	arn := ecrapi.Deref(in.PrincipalArn)
	e, err := s.Registry.RegisterPullTimeExclusion(ctx, account, arn)
	switch {
	case errors.Is(err, meta.ErrExists):
		return nil, ecrapi.NewExclusionAlreadyExistsException("The pull time update exclusion for principal '" + arn + "' already exists in the registry with id '" + account + "'")
	case errors.Is(err, meta.ErrLimitExceeded):
		return nil, ecrapi.NewLimitExceededException(fmt.Sprintf("The registry with id '%s' already has the maximum of %d pull time update exclusions", account, registry.MaxPullTimeExclusions))
	case err != nil:
		return nil, err
	}
	return &ecrapi.RegisterPullTimeUpdateExclusionOutput{PrincipalArn: ecrapi.Ptr(arn), CreatedAt: awsjson.NewTimestamp(e.CreatedAt)}, nil
}

// DeregisterPullTimeUpdateExclusion removes an exclusion.
func (s *Server) DeregisterPullTimeUpdateExclusion(ctx context.Context, in *ecrapi.DeregisterPullTimeUpdateExclusionInput) (*ecrapi.DeregisterPullTimeUpdateExclusionOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:DeregisterPullTimeUpdateExclusion")
	if err != nil {
		return nil, err
	}
	arn := ecrapi.Deref(in.PrincipalArn)
	err = s.Registry.DeregisterPullTimeExclusion(ctx, account, arn)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, ecrapi.NewExclusionNotFoundException("The pull time update exclusion for principal '" + arn + "' does not exist in the registry with id '" + account + "'")
	}
	if err != nil {
		return nil, err
	}
	return &ecrapi.DeregisterPullTimeUpdateExclusionOutput{PrincipalArn: ecrapi.Ptr(arn)}, nil
}

// exclusionPage is the state of a ListPullTimeUpdateExclusions nextToken.
type exclusionPage struct {
	Op      string `json:"o"`
	Account string `json:"a"`
	After   string `json:"d"`
}

// defaultExclusionPage is the page size without maxResults (the model:
// "returns up to 100 results").
const defaultExclusionPage = 100

// ListPullTimeUpdateExclusions lists the excluded principals by ARN.
func (s *Server) ListPullTimeUpdateExclusions(ctx context.Context, in *ecrapi.ListPullTimeUpdateExclusionsInput) (*ecrapi.ListPullTimeUpdateExclusionsOutput, error) {
	account, err := s.authorizeOwnRegistry(ctx, "ecr:ListPullTimeUpdateExclusions")
	if err != nil {
		return nil, err
	}
	st := exclusionPage{Op: "ListPullTimeUpdateExclusions", Account: account}
	if tok := ecrapi.Deref(in.NextToken); tok != "" {
		var got exclusionPage
		if err := s.Pager.Decode(tok, &got); err != nil {
			return nil, err
		}
		if got.Op != st.Op || got.Account != account {
			return nil, awsjson.ErrInvalidNextToken
		}
		st = got
	}
	limit := imagePageLimit(in.MaxResults, defaultExclusionPage)
	es, err := s.Meta.ListPullTimeExclusions(ctx, account, st.After, limit+1)
	if err != nil {
		return nil, err
	}
	out := &ecrapi.ListPullTimeUpdateExclusionsOutput{PullTimeUpdateExclusions: []string{}}
	for i, e := range es {
		if i == limit {
			next := st
			next.After = es[i-1].PrincipalARN
			out.NextToken = ecrapi.Ptr(s.Pager.Encode(next))
			break
		}
		out.PullTimeUpdateExclusions = append(out.PullTimeUpdateExclusions, e.PrincipalARN)
	}
	return out, nil
}
