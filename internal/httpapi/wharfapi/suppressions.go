package wharfapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/scan/suppress"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Finding suppressions: PutFindingSuppression suppresses a finding id in a
// repository (or, without repositoryName, in every repository of the
// registry) until an expiry at most a year ahead, with a justification;
// DeleteFindingSuppression lifts it; ListFindingSuppressions lists them.
// Suppressed findings leave finding lists, summaries and pull gates alike;
// every change is audited (scan.suppress, scan.unsuppress).

func init() {
	registerOps(func(s *Server, h *awsjson.Handler) {
		awsjson.Register(h, "PutFindingSuppression", s.PutFindingSuppression)
		awsjson.Register(h, "DeleteFindingSuppression", s.DeleteFindingSuppression)
		awsjson.Register(h, "ListFindingSuppressions", s.ListFindingSuppressions)
	})
}

// FindingSuppressionKey names a suppression.
type FindingSuppressionKey struct {
	RegistryID *string `json:"registryId,omitzero"`
	// RepositoryName is absent for a registry-wide suppression.
	RepositoryName *string `json:"repositoryName,omitzero"`
	FindingID      *string `json:"findingId,omitzero"`
	// PackageName limits it to one package (name, source package name, or
	// package URL); ImageDigest to one image.
	PackageName *string `json:"packageName,omitzero"`
	ImageDigest *string `json:"imageDigest,omitzero"`
}

var (
	ruleFindingID     = awsjson.Rule{Min: awsjson.Bound(1), Max: awsjson.Bound(suppress.MaxFindingID)}
	rulePackage       = awsjson.Rule{Min: awsjson.Bound(1), Max: awsjson.Bound(suppress.MaxPackage)}
	ruleJustification = awsjson.Rule{Min: awsjson.Bound(1), Max: awsjson.Bound(suppress.MaxJustification)}
)

func (k *FindingSuppressionKey) check(v *awsjson.Validator) {
	checkRepo(v, k.RegistryID, k.RepositoryName, false)
	if k.FindingID == nil {
		v.Null("findingId")
	} else {
		v.String("findingId", *k.FindingID, &ruleFindingID)
	}
	if k.PackageName != nil {
		v.String("packageName", *k.PackageName, &rulePackage)
	}
	if k.ImageDigest != nil {
		v.String("imageDigest", *k.ImageDigest, &ruleImageDigest)
	}
}

// PutFindingSuppressionInput creates or replaces a suppression.
type PutFindingSuppressionInput struct {
	FindingSuppressionKey
	Justification *string            `json:"justification,omitzero"`
	ExpiresAt     *awsjson.Timestamp `json:"expiresAt,omitzero"`
}

// Validate checks the input against its constraints.
func (in *PutFindingSuppressionInput) Validate() error {
	var v awsjson.Validator
	in.check(&v)
	if in.Justification == nil {
		v.Null("justification")
	} else {
		v.String("justification", *in.Justification, &ruleJustification)
	}
	if in.ExpiresAt == nil {
		v.Null("expiresAt")
	}
	return v.Err()
}

// DeleteFindingSuppressionInput names the suppression to lift.
type DeleteFindingSuppressionInput struct {
	FindingSuppressionKey
}

// Validate checks the input against its constraints.
func (in *DeleteFindingSuppressionInput) Validate() error {
	var v awsjson.Validator
	in.check(&v)
	return v.Err()
}

// FindingSuppression is a stored suppression.
type FindingSuppression struct {
	RegistryID string `json:"registryId"`
	// RepositoryName is "*" for a registry-wide suppression.
	RepositoryName string             `json:"repositoryName"`
	FindingID      string             `json:"findingId"`
	PackageName    string             `json:"packageName,omitempty"`
	ImageDigest    string             `json:"imageDigest,omitempty"`
	Justification  string             `json:"justification"`
	ExpiresAt      *awsjson.Timestamp `json:"expiresAt"`
	CreatedBy      string             `json:"createdBy"`
	CreatedAt      *awsjson.Timestamp `json:"createdAt"`
	// Expired is true once ExpiresAt has passed (the suppression no
	// longer applies; it is listed until deleted).
	Expired bool `json:"expired,omitempty"`
}

// PutFindingSuppressionOutput is the suppression stored.
type PutFindingSuppressionOutput struct {
	Suppression FindingSuppression `json:"suppression"`
	// Replaced is true when a suppression with the same key existed.
	Replaced bool `json:"replaced"`
}

// DeleteFindingSuppressionOutput is the suppression lifted.
type DeleteFindingSuppressionOutput struct {
	Suppression FindingSuppression `json:"suppression"`
}

// FindingSuppressionNotFoundException answers a delete of a suppression
// that does not exist.
func suppressionNotFound(msg string) error {
	return &awsjson.Error{Code: "FindingSuppressionNotFoundException", Status: http.StatusBadRequest, Message: msg}
}

// scope authorizes action on the key's repository (which must exist) or,
// registry-wide, on the registry, and returns account and repository
// (meta.RegistryWide for the registry).
func (s *Server) scope(ctx context.Context, k *FindingSuppressionKey, action string) (account, repo string, err error) {
	if k.RepositoryName == nil {
		account = registryID(ctx, k.RegistryID)
		return account, meta.RegistryWide, s.authorize(ctx, account, "", action)
	}
	r, account, err := s.repository(ctx, k.RegistryID, k.RepositoryName, action)
	if err != nil {
		return "", "", err
	}
	return account, r.Name, nil
}

func (k *FindingSuppressionKey) suppression(account, repo string) meta.Suppression {
	return meta.Suppression{AccountID: account, Repository: repo, FindingID: strings.TrimSpace(awsjson.Deref(k.FindingID)),
		Package: awsjson.Deref(k.PackageName), Digest: awsjson.Deref(k.ImageDigest)}
}

func (s *Server) apiSuppression(x meta.Suppression) FindingSuppression {
	return FindingSuppression{RegistryID: x.AccountID, RepositoryName: x.Repository, FindingID: x.FindingID,
		PackageName: x.Package, ImageDigest: x.Digest, Justification: x.Justification,
		ExpiresAt: awsjson.NewTimestamp(x.ExpiresAt), CreatedBy: x.CreatedBy, CreatedAt: awsjson.NewTimestamp(x.CreatedAt),
		Expired: !suppress.Active(x, s.now())}
}

// PutFindingSuppression creates or replaces a suppression.
func (s *Server) PutFindingSuppression(ctx context.Context, in *PutFindingSuppressionInput) (*PutFindingSuppressionOutput, error) {
	if s.Suppressions == nil {
		return nil, awsjson.NotImplemented("PutFindingSuppression")
	}
	account, repo, err := s.scope(ctx, &in.FindingSuppressionKey, Action("PutFindingSuppression"))
	if err != nil {
		return nil, err
	}
	sup := in.suppression(account, repo)
	sup.Justification, sup.ExpiresAt = *in.Justification, in.ExpiresAt.Time
	out, replaced, err := s.Suppressions.Put(ctx, sup, caller(ctx).String())
	if errors.Is(err, suppress.ErrInvalid) {
		return nil, ecrapi.NewInvalidParameterException(strings.TrimPrefix(err.Error(), suppress.ErrInvalid.Error()+": "))
	}
	if err != nil {
		return nil, err
	}
	return &PutFindingSuppressionOutput{Suppression: s.apiSuppression(out), Replaced: replaced}, nil
}

// DeleteFindingSuppression lifts a suppression.
func (s *Server) DeleteFindingSuppression(ctx context.Context, in *DeleteFindingSuppressionInput) (*DeleteFindingSuppressionOutput, error) {
	if s.Suppressions == nil {
		return nil, awsjson.NotImplemented("DeleteFindingSuppression")
	}
	account, repo, err := s.scope(ctx, &in.FindingSuppressionKey, Action("DeleteFindingSuppression"))
	if err != nil {
		return nil, err
	}
	k := in.suppression(account, repo)
	old, err := s.Suppressions.Delete(ctx, k, caller(ctx).String())
	if errors.Is(err, meta.ErrNotFound) {
		where := "repository '" + repo + "'"
		if repo == meta.RegistryWide {
			where = "the registry"
		}
		return nil, suppressionNotFound("No suppression of finding '" + k.FindingID + "' exists in " + where + " of the registry with id '" + account + "' for that package and image")
	}
	if err != nil {
		return nil, err
	}
	return &DeleteFindingSuppressionOutput{Suppression: s.apiSuppression(old)}, nil
}

// ListFindingSuppressionsInput lists suppressions: of a repository (with
// the registry-wide ones), or without repositoryName every one of the
// registry.
type ListFindingSuppressionsInput struct {
	RegistryID     *string `json:"registryId,omitzero"`
	RepositoryName *string `json:"repositoryName,omitzero"`
	FindingID      *string `json:"findingId,omitzero"`
	// IncludeExpired lists expired suppressions too.
	IncludeExpired *bool   `json:"includeExpired,omitzero"`
	NextToken      *string `json:"nextToken,omitzero"`
	MaxResults     *int32  `json:"maxResults,omitzero"`
}

// Validate checks the input against its constraints.
func (in *ListFindingSuppressionsInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, in.RepositoryName, false)
	if in.FindingID != nil {
		v.String("findingId", *in.FindingID, &ruleFindingID)
	}
	checkPage(&v, in.NextToken, in.MaxResults)
	return v.Err()
}

// ListFindingSuppressionsOutput is a page of suppressions.
type ListFindingSuppressionsOutput struct {
	Suppressions []FindingSuppression `json:"suppressions"`
	NextToken    *string              `json:"nextToken,omitzero"`
}

// ListFindingSuppressions lists suppressions by repository, finding id,
// package and image.
func (s *Server) ListFindingSuppressions(ctx context.Context, in *ListFindingSuppressionsInput) (*ListFindingSuppressionsOutput, error) {
	if s.Suppressions == nil {
		return nil, awsjson.NotImplemented("ListFindingSuppressions")
	}
	action := Action("ListFindingSuppressions")
	f := meta.SuppressionFilter{FindingID: awsjson.Deref(in.FindingID)}
	if in.RepositoryName == nil {
		f.AccountID = registryID(ctx, in.RegistryID)
		if err := s.authorize(ctx, f.AccountID, "", action); err != nil {
			return nil, err
		}
	} else {
		r, account, err := s.repository(ctx, in.RegistryID, in.RepositoryName, action)
		if err != nil {
			return nil, err
		}
		f.AccountID, f.Repository, f.IncludeRegistryWide = account, r.Name, true
	}
	if !awsjson.Deref(in.IncludeExpired) {
		f.ActiveAt = s.now()
	}
	filter := f.FindingID
	if awsjson.Deref(in.IncludeExpired) {
		filter += "\x00expired"
	}
	st, err := s.decodePage(in.NextToken, page{Op: "ListFindingSuppressions", Account: f.AccountID, Repo: f.Repository, Filter: filter})
	if err != nil {
		return nil, err
	}
	all, err := s.Suppressions.List(ctx, f)
	if err != nil {
		return nil, err
	}
	// The listing is ordered by key; a page resumes after the last key
	// given (suppressions made or lifted meanwhile are no obstacle).
	key := func(x meta.Suppression) string {
		return x.Repository + "\x00" + x.FindingID + "\x00" + x.Package + "\x00" + x.Digest
	}
	limit := pageLimit(in.MaxResults, 100)
	out := &ListFindingSuppressionsOutput{Suppressions: []FindingSuppression{}}
	last := ""
	for _, x := range all {
		if st.After != "" && key(x) <= st.After {
			continue
		}
		if len(out.Suppressions) == limit {
			next := st
			next.After = last
			out.NextToken = awsjson.Ptr(s.Pager.Encode(next))
			break
		}
		out.Suppressions = append(out.Suppressions, s.apiSuppression(x))
		last = key(x)
	}
	return out, nil
}
