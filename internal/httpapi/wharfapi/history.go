package wharfapi

import (
	"context"
	"errors"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/registry"
)

// Tag history: ListTagHistory pages through every move of a repository's
// tags (or of one tag), newest first; RollbackTag moves a tag back to an
// earlier image.

func init() {
	registerOps(func(s *Server, h *awsjson.Handler) {
		awsjson.Register(h, "ListTagHistory", s.ListTagHistory)
		awsjson.Register(h, "RollbackTag", s.RollbackTag)
	})
}

// defaultHistoryPage is ListTagHistory's page size without maxResults.
const defaultHistoryPage = 100

// ListTagHistoryInput asks for a repository's tag moves.
type ListTagHistoryInput struct {
	RegistryID     *string `json:"registryId,omitzero"`
	RepositoryName *string `json:"repositoryName,omitzero"`
	// ImageTag limits the history to one tag.
	ImageTag   *string `json:"imageTag,omitzero"`
	NextToken  *string `json:"nextToken,omitzero"`
	MaxResults *int32  `json:"maxResults,omitzero"`
}

// Validate checks the input against its constraints.
func (in *ListTagHistoryInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, in.RepositoryName, true)
	if in.ImageTag != nil {
		v.String("imageTag", *in.ImageTag, &ruleImageTag)
	}
	checkPage(&v, in.NextToken, in.MaxResults)
	return v.Err()
}

// TagEvent is one move of a tag. fromImageDigest is absent when the tag
// was created, toImageDigest when it was deleted.
type TagEvent struct {
	ImageTag        string             `json:"imageTag"`
	FromImageDigest string             `json:"fromImageDigest,omitempty"`
	ToImageDigest   string             `json:"toImageDigest,omitempty"`
	MovedAt         *awsjson.Timestamp `json:"movedAt"`
	// Actor is the principal's ARN; via the plane or tool that moved it
	// (oci, ecr, wharf-api, rollback, restore, lifecycle, cli, ...).
	Actor string `json:"actor"`
	Via   string `json:"via"`
}

// ListTagHistoryOutput is a page of tag moves, newest first.
type ListTagHistoryOutput struct {
	TagEvents []TagEvent `json:"tagEvents"`
	NextToken *string    `json:"nextToken,omitzero"`
}

// ListTagHistory lists the moves of a repository's tags, newest first.
func (s *Server) ListTagHistory(ctx context.Context, in *ListTagHistoryInput) (*ListTagHistoryOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryID, in.RepositoryName, Action("ListTagHistory"))
	if err != nil {
		return nil, err
	}
	tag := awsjson.Deref(in.ImageTag)
	st, err := s.decodePage(in.NextToken, page{Op: "ListTagHistory", Account: account, Repo: r.Name, Filter: tag})
	if err != nil {
		return nil, err
	}
	limit := pageLimit(in.MaxResults, defaultHistoryPage)
	events, err := s.Registry.TagHistory(ctx, r, tag, st.ID, limit+1)
	if err != nil {
		return nil, err
	}
	out := &ListTagHistoryOutput{TagEvents: []TagEvent{}}
	if len(events) > limit {
		events = events[:limit]
		next := st
		next.ID = events[limit-1].ID
		out.NextToken = awsjson.Ptr(s.Pager.Encode(next))
	}
	for _, e := range events {
		out.TagEvents = append(out.TagEvents, TagEvent{ImageTag: e.Tag, FromImageDigest: e.From, ToImageDigest: e.To,
			MovedAt: awsjson.NewTimestamp(e.At), Actor: e.Actor, Via: e.Via})
	}
	return out, nil
}

// RollbackTagInput moves a tag back: to imageDigest, or to where it
// pointed steps moves ago (1 = before its last move).
type RollbackTagInput struct {
	RegistryID     *string `json:"registryId,omitzero"`
	RepositoryName *string `json:"repositoryName,omitzero"`
	ImageTag       *string `json:"imageTag,omitzero"`
	ImageDigest    *string `json:"imageDigest,omitzero"`
	Steps          *int32  `json:"steps,omitzero"`
	// PlatformOverride lets the move change platforms although the
	// repository's platform guard is on (needed only for a digest outside
	// the tag's history).
	PlatformOverride *bool `json:"platformOverride,omitzero"`
}

var ruleSteps = awsjson.Rule{Min: awsjson.Bound(1), Max: awsjson.Bound(10000)}

// Validate checks the input against its constraints.
func (in *RollbackTagInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, in.RepositoryName, true)
	if in.ImageTag == nil {
		v.Null("imageTag")
	} else {
		v.String("imageTag", *in.ImageTag, &ruleImageTag)
	}
	if in.ImageDigest != nil {
		v.String("imageDigest", *in.ImageDigest, &ruleImageDigest)
	}
	if in.Steps != nil {
		v.Int("steps", int64(*in.Steps), &ruleSteps)
	}
	return v.Err()
}

// RollbackTagOutput tells where the tag pointed and points now.
type RollbackTagOutput struct {
	RegistryID      string `json:"registryId"`
	RepositoryName  string `json:"repositoryName"`
	ImageTag        string `json:"imageTag"`
	FromImageDigest string `json:"fromImageDigest,omitempty"`
	ToImageDigest   string `json:"toImageDigest"`
	// Moved is false when the tag pointed at toImageDigest already.
	Moved bool `json:"moved"`
}

// RollbackTag moves a tag back to an earlier image of the repository. An
// immutable tag is refused with ImageTagAlreadyExistsException, as a push
// over it would be; an image no longer in the repository with
// ImageNotFoundException.
func (s *Server) RollbackTag(ctx context.Context, in *RollbackTagInput) (*RollbackTagOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryID, in.RepositoryName, Action("RollbackTag"))
	if err != nil {
		return nil, err
	}
	rb := registry.Rollback{Tag: awsjson.Deref(in.ImageTag), Digest: awsjson.Deref(in.ImageDigest),
		Steps: int(awsjson.Deref(in.Steps)), PlatformOverride: awsjson.Deref(in.PlatformOverride)}
	res, err := s.Registry.RollbackTag(ctx, r, rb, actor(ctx))
	var re *registry.Error
	if errors.As(err, &re) && re.Code == registry.CodePlatformMismatch {
		return nil, ecrapi.NewInvalidParameterException(re.Message + "; to change platforms on purpose, set platformOverride to true")
	}
	if err != nil {
		return nil, apiError(err, account, r.Name)
	}
	return &RollbackTagOutput{RegistryID: account, RepositoryName: r.Name, ImageTag: res.Tag,
		FromImageDigest: res.From, ToImageDigest: res.To, Moved: res.Moved}, nil
}
