package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/lifecycle"
	"github.com/wharfhq/wharf/internal/lifecycle/runner"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// This file serves ECR's lifecycle policy operations: PutLifecyclePolicy,
// GetLifecyclePolicy, DeleteLifecyclePolicy, StartLifecyclePolicyPreview
// and GetLifecyclePolicyPreview. Policies are parsed and evaluated by
// internal/lifecycle; the store keeps the text and the latest preview of
// each repository.
//
// A preview runs off the request path: StartLifecyclePolicyPreview records
// it IN_PROGRESS and answers, a goroutine evaluates the policy over every
// image of the repository and stores the results (COMPLETE) or FAILED.
// Clients poll GetLifecyclePolicyPreview (the SDKs' and the CLI's
// lifecycle-policy-preview-complete waiter does). A preview whose process
// died is taken as FAILED after previewTimeout.
//
// Wharf extensions, carried in HTTP headers because ECR's shapes have no
// room for them:
//
//   - X-Wharf-Preview-As-Of (request header of StartLifecyclePolicyPreview,
//     RFC 3339): evaluate the policy as of that time instead of now, to see
//     what a policy will have expired by a future date.
//     GetLifecyclePolicyPreview answers it back in the response header of
//     the same name (the time the preview evaluated at, always set).
//   - X-Wharf-Preview-Bytes-Freed (response header of
//     GetLifecyclePolicyPreview once the preview is COMPLETE): how many
//     bytes expiring the images would free in the repository, counting
//     each config or layer blob once and only when no image that stays
//     references it (lifecycle.Summarize). Blobs another repository also
//     uses are counted, though they stay in storage.

// Header names of the Wharf extensions.
const (
	HeaderPreviewAsOf       = "X-Wharf-Preview-As-Of"
	HeaderPreviewBytesFreed = "X-Wharf-Preview-Bytes-Freed"
)

const (
	// previewTimeout bounds one preview run; a preview still IN_PROGRESS
	// that long after its start is abandoned (its process died) and
	// reported FAILED.
	previewTimeout = 15 * time.Minute
	// defaultPreviewPage is GetLifecyclePolicyPreview's page size without
	// maxResults (the model allows 1..100).
	defaultPreviewPage = 100
)

// previewSlots bounds the previews evaluating at once in this process;
// others wait (still IN_PROGRESS) for a slot.
var previewSlots = make(chan struct{}, 2)

func lifecyclePolicyNotFound(account, name string) error {
	return ecrapi.NewLifecyclePolicyNotFoundException("Lifecycle policy does not exist for the repository with name '" + name + "' in the registry with id '" + account + "'")
}

func previewNotFound(account, name string) error {
	return ecrapi.NewLifecyclePolicyPreviewNotFoundException("Lifecycle policy preview does not exist for the repository with name '" + name + "' in the registry with id '" + account + "'")
}

// parseLifecyclePolicy validates a document, answering ECR's
// InvalidParameterException with the parser's explanation.
func parseLifecyclePolicy(text string) (*lifecycle.Policy, error) {
	p, err := lifecycle.Parse([]byte(text))
	if err != nil {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '" + err.Error() + "'")
	}
	return p, nil
}

// PutLifecyclePolicy sets a repository's lifecycle policy, replacing any.
func (s *Server) PutLifecyclePolicy(ctx context.Context, in *ecrapi.PutLifecyclePolicyInput) (*ecrapi.PutLifecyclePolicyOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:PutLifecyclePolicy")
	if err != nil {
		return nil, err
	}
	text := ecrapi.Deref(in.LifecyclePolicyText)
	if _, err := parseLifecyclePolicy(text); err != nil {
		return nil, err
	}
	err = s.Meta.PutLifecyclePolicy(ctx, meta.LifecyclePolicy{RepoID: r.ID, Text: text, UpdatedAt: s.now()})
	if errors.Is(err, meta.ErrNotFound) {
		return nil, repoNotFound(account, r.Name)
	}
	if err != nil {
		return nil, err
	}
	return &ecrapi.PutLifecyclePolicyOutput{
		RegistryId:          ecrapi.Ptr(account),
		RepositoryName:      ecrapi.Ptr(r.Name),
		LifecyclePolicyText: ecrapi.Ptr(text),
	}, nil
}

// lastEvaluated is ECR's lastEvaluatedAt: absent while the policy never ran.
func lastEvaluated(p meta.LifecyclePolicy) *awsjson.Timestamp {
	if p.LastEvaluatedAt.IsZero() {
		return nil
	}
	return awsjson.NewTimestamp(p.LastEvaluatedAt)
}

// GetLifecyclePolicy returns a repository's lifecycle policy.
func (s *Server) GetLifecyclePolicy(ctx context.Context, in *ecrapi.GetLifecyclePolicyInput) (*ecrapi.GetLifecyclePolicyOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:GetLifecyclePolicy")
	if err != nil {
		return nil, err
	}
	p, err := s.Meta.GetLifecyclePolicy(ctx, r.ID)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, lifecyclePolicyNotFound(account, r.Name)
	}
	if err != nil {
		return nil, err
	}
	return &ecrapi.GetLifecyclePolicyOutput{
		RegistryId:          ecrapi.Ptr(account),
		RepositoryName:      ecrapi.Ptr(r.Name),
		LifecyclePolicyText: ecrapi.Ptr(p.Text),
		LastEvaluatedAt:     lastEvaluated(p),
	}, nil
}

// DeleteLifecyclePolicy removes a repository's lifecycle policy, returning
// it.
func (s *Server) DeleteLifecyclePolicy(ctx context.Context, in *ecrapi.DeleteLifecyclePolicyInput) (*ecrapi.DeleteLifecyclePolicyOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:DeleteLifecyclePolicy")
	if err != nil {
		return nil, err
	}
	p, err := s.Meta.DeleteLifecyclePolicy(ctx, r.ID)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, lifecyclePolicyNotFound(account, r.Name)
	}
	if err != nil {
		return nil, err
	}
	return &ecrapi.DeleteLifecyclePolicyOutput{
		RegistryId:          ecrapi.Ptr(account),
		RepositoryName:      ecrapi.Ptr(r.Name),
		LifecyclePolicyText: ecrapi.Ptr(p.Text),
		LastEvaluatedAt:     lastEvaluated(p),
	}, nil
}

// previewAsOf reads the X-Wharf-Preview-As-Of extension; now when absent.
func previewAsOf(ctx context.Context, now time.Time) (time.Time, error) {
	r := awsjson.HTTPRequest(ctx)
	if r == nil {
		return now, nil
	}
	v := strings.TrimSpace(r.Header.Get(HeaderPreviewAsOf))
	if v == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, ecrapi.NewInvalidParameterException("Invalid parameter at '" + HeaderPreviewAsOf + "' failed to satisfy constraint: 'must be an RFC 3339 time such as 2006-01-02T15:04:05Z'")
	}
	return t.UTC(), nil
}

// StartLifecyclePolicyPreview starts a preview of the given policy, or of
// the repository's own, and answers at once with IN_PROGRESS.
func (s *Server) StartLifecyclePolicyPreview(ctx context.Context, in *ecrapi.StartLifecyclePolicyPreviewInput) (*ecrapi.StartLifecyclePolicyPreviewOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:StartLifecyclePolicyPreview")
	if err != nil {
		return nil, err
	}
	text := ecrapi.Deref(in.LifecyclePolicyText)
	if text == "" {
		p, err := s.Meta.GetLifecyclePolicy(ctx, r.ID)
		if errors.Is(err, meta.ErrNotFound) {
			return nil, lifecyclePolicyNotFound(account, r.Name)
		}
		if err != nil {
			return nil, err
		}
		text = p.Text
	}
	policy, err := parseLifecyclePolicy(text)
	if err != nil {
		return nil, err
	}
	now := s.now()
	asOf, err := previewAsOf(ctx, now)
	if err != nil {
		return nil, err
	}
	p, err := s.Meta.CreateLifecyclePreview(ctx,
		meta.LifecyclePreview{RepoID: r.ID, PolicyText: text, AsOf: asOf, StartedAt: now}, now.Add(-previewTimeout))
	switch {
	case errors.Is(err, meta.ErrPreviewInProgress):
		return nil, ecrapi.NewLifecyclePolicyPreviewInProgressException("Lifecycle policy preview is already in progress for the repository with name '" + r.Name + "' in the registry with id '" + account + "'")
	case errors.Is(err, meta.ErrNotFound):
		return nil, repoNotFound(account, r.Name)
	case err != nil:
		return nil, err
	}
	s.runPreview(ctx, r, p, policy)
	status := ecrapi.LifecyclePolicyPreviewStatusInProgress
	return &ecrapi.StartLifecyclePolicyPreviewOutput{
		RegistryId:          ecrapi.Ptr(account),
		RepositoryName:      ecrapi.Ptr(r.Name),
		LifecyclePolicyText: ecrapi.Ptr(text),
		Status:              &status,
	}, nil
}

// runPreview evaluates preview p in the background and records its
// outcome. The request's context only lends its values: the run outlives
// the request, bounded by previewTimeout.
func (s *Server) runPreview(ctx context.Context, r meta.Repository, p meta.LifecyclePreview, policy *lifecycle.Policy) {
	base := context.WithoutCancel(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(base, previewTimeout)
		defer cancel()
		res := meta.LifecyclePreview{RepoID: p.RepoID, ID: p.ID}
		func() {
			defer func() {
				if v := recover(); v != nil {
					res.Status, res.Reason = meta.PreviewFailed, fmt.Sprint("panic: ", v)
				}
			}()
			select {
			case previewSlots <- struct{}{}:
				defer func() { <-previewSlots }()
			case <-ctx.Done():
				res.Status, res.Reason = meta.PreviewFailed, ctx.Err().Error()
				return
			}
			out, err := s.evaluatePreview(ctx, r, policy, p.AsOf)
			if err != nil {
				res.Status, res.Reason = meta.PreviewFailed, err.Error()
				return
			}
			res.Status, res.Results = meta.PreviewComplete, out.results
			res.ExpiringCount, res.TransitioningCount = int64(out.summary.Expiring), int64(out.summary.Transitioning)
			res.BytesFreed = out.summary.BytesFreed
		}()
		res.FinishedAt = s.now()
		// A fresh deadline: the run's own may be what ended it.
		wctx, wcancel := context.WithTimeout(base, 30*time.Second)
		defer wcancel()
		err := s.Meta.SetLifecyclePreviewResult(wctx, res)
		if err != nil && !errors.Is(err, meta.ErrNotFound) { // ErrNotFound: replaced, or the repository is gone
			slog.Default().WarnContext(wctx, "ecr: recording lifecycle policy preview", "repository", r.Name, "preview", p.ID, "error", err)
		}
	}()
}

// previewResult is one stored result of a preview (meta.LifecyclePreview
// Results holds a JSON array of them).
type previewResult struct {
	Digest       string    `json:"digest"`
	Tags         []string  `json:"tags,omitempty"`
	PushedAt     time.Time `json:"pushedAt"`
	Action       string    `json:"action"`
	Target       string    `json:"targetStorageClass,omitempty"`
	RulePriority int       `json:"rulePriority"`
	StorageClass string    `json:"storageClass,omitempty"`
}

type previewOutcome struct {
	results []byte
	summary lifecycle.Summary
}

// evaluatePreview evaluates the policy as of asOf over every image of the
// repository, read by the lifecycle runner's loader (so a preview shows
// what a run does), and returns the results to store.
func (s *Server) evaluatePreview(ctx context.Context, r meta.Repository, policy *lifecycle.Policy, asOf time.Time) (previewOutcome, error) {
	actions, ims, err := runner.Evaluate(ctx, s.Registry, r, policy, asOf)
	if err != nil {
		return previewOutcome{}, err
	}
	results := make([]previewResult, len(actions))
	for i, a := range actions {
		info := ims.ByDigest[a.Digest]
		results[i] = previewResult{
			Digest:       a.Digest,
			Tags:         a.Tags,
			PushedAt:     info.PushedAt,
			Action:       a.Type,
			Target:       a.TargetStorageClass,
			RulePriority: a.RulePriority,
			StorageClass: info.StorageClass,
		}
	}
	b, err := json.Marshal(results)
	if err != nil {
		return previewOutcome{}, err
	}
	return previewOutcome{results: b, summary: lifecycle.Summarize(actions, ims.Blobs)}, nil
}

// previewFilter is the page state's Filter: the listing's filters and the
// preview it pages through, so that a token does not continue another.
func previewFilter(ts ecrapi.TagStatus, id int64) string {
	return string(ts) + "|" + strconv.FormatInt(id, 10)
}

// GetLifecyclePolicyPreview returns the status of the repository's latest
// preview and, once complete, its results. Results are ordered by rule
// priority, then digest; nextToken pages through them (imagePage.Skip is
// the offset in the filtered results).
func (s *Server) GetLifecyclePolicyPreview(ctx context.Context, in *ecrapi.GetLifecyclePolicyPreviewInput) (*ecrapi.GetLifecyclePolicyPreviewOutput, error) {
	r, account, err := s.repository(ctx, in.RegistryId, in.RepositoryName, "ecr:GetLifecyclePolicyPreview")
	if err != nil {
		return nil, err
	}
	if len(in.ImageIds) > 0 && (ecrapi.Deref(in.NextToken) != "" || in.MaxResults != nil) {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter: nextToken and maxResults cannot be used when imageIds are specified")
	}
	type wanted struct {
		tag string
		d   digest.Digest
	}
	var ids []wanted
	for _, id := range in.ImageIds {
		tag, d, code, reason := parseImageID(id)
		if code != "" {
			return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageIds' failed to satisfy constraint: '" + reason + "'")
		}
		ids = append(ids, wanted{tag, d})
	}
	var ts ecrapi.TagStatus
	if in.Filter != nil {
		ts = ecrapi.Deref(in.Filter.TagStatus)
	}

	p, err := s.Meta.GetLifecyclePreview(ctx, r.ID)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, previewNotFound(account, r.Name)
	}
	if err != nil {
		return nil, err
	}
	if p.Status == meta.PreviewInProgress && p.StartedAt.Before(s.now().Add(-previewTimeout)) {
		// Abandoned: the process running it died.
		abandoned := meta.LifecyclePreview{RepoID: r.ID, ID: p.ID, Status: meta.PreviewFailed, FinishedAt: s.now(),
			Reason: "abandoned: not finished within " + previewTimeout.String()}
		if err := s.Meta.SetLifecyclePreviewResult(ctx, abandoned); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return nil, err
		}
		if p, err = s.Meta.GetLifecyclePreview(ctx, r.ID); err != nil {
			if errors.Is(err, meta.ErrNotFound) {
				return nil, previewNotFound(account, r.Name)
			}
			return nil, err
		}
	}
	st, err := s.decodePage(in.NextToken, imagePage{Op: "GetLifecyclePolicyPreview", Account: account, Repo: r.Name,
		Filter: previewFilter(ts, p.ID)})
	if err != nil {
		return nil, err
	}

	status := ecrapi.LifecyclePolicyPreviewStatus(p.Status)
	out := &ecrapi.GetLifecyclePolicyPreviewOutput{
		RegistryId:          ecrapi.Ptr(account),
		RepositoryName:      ecrapi.Ptr(r.Name),
		LifecyclePolicyText: ecrapi.Ptr(p.PolicyText),
		Status:              &status,
		PreviewResults:      []ecrapi.LifecyclePolicyPreviewResult{},
	}
	hdr := awsjson.ResponseHeader(ctx)
	if hdr != nil {
		hdr.Set(HeaderPreviewAsOf, p.AsOf.UTC().Format(time.RFC3339Nano))
	}
	if p.Status != meta.PreviewComplete {
		return out, nil
	}
	var results []previewResult
	if len(p.Results) > 0 {
		if err := json.Unmarshal(p.Results, &results); err != nil {
			return nil, fmt.Errorf("lifecycle preview %d of %s: %w", p.ID, r.Name, err)
		}
	}
	keep := func(res previewResult) bool {
		switch ts {
		case ecrapi.TagStatusTagged:
			if len(res.Tags) == 0 {
				return false
			}
		case ecrapi.TagStatusUntagged:
			if len(res.Tags) > 0 {
				return false
			}
		}
		if len(ids) == 0 {
			return true
		}
		return slices.ContainsFunc(ids, func(w wanted) bool {
			return (w.d == "" || string(w.d) == res.Digest) && (w.tag == "" || slices.Contains(res.Tags, w.tag))
		})
	}
	limit := imagePageLimit(in.MaxResults, defaultPreviewPage)
	if len(ids) > 0 {
		limit = math.MaxInt
	}
	seen := 0
	for _, res := range results {
		if !keep(res) {
			continue
		}
		seen++
		if seen <= st.Skip {
			continue
		}
		if len(out.PreviewResults) == limit {
			next := st
			next.Skip = seen - 1
			out.NextToken = ecrapi.Ptr(s.Pager.Encode(next))
			break
		}
		out.PreviewResults = append(out.PreviewResults, previewResultAPI(res))
	}
	out.Summary = &ecrapi.LifecyclePolicyPreviewSummary{ExpiringImageTotalCount: ecrapi.Ptr(clampInt32(p.ExpiringCount))}
	if p.TransitioningCount > 0 {
		archive := ecrapi.LifecyclePolicyTargetStorageClassArchive
		out.Summary.TransitioningImageTotalCounts = []ecrapi.TransitioningImageTotalCount{
			{TargetStorageClass: &archive, ImageTotalCount: ecrapi.Ptr(clampInt32(p.TransitioningCount))},
		}
	}
	if hdr != nil {
		hdr.Set(HeaderPreviewBytesFreed, strconv.FormatInt(p.BytesFreed, 10))
	}
	return out, nil
}

func previewResultAPI(res previewResult) ecrapi.LifecyclePolicyPreviewResult {
	typ := ecrapi.ImageActionType(res.Action)
	out := ecrapi.LifecyclePolicyPreviewResult{
		ImageDigest:         ecrapi.Ptr(res.Digest),
		ImagePushedAt:       awsjson.NewTimestamp(res.PushedAt),
		Action:              &ecrapi.LifecyclePolicyRuleAction{Type: &typ},
		AppliedRulePriority: ecrapi.Ptr(clampInt32(int64(res.RulePriority))),
	}
	if len(res.Tags) > 0 {
		out.ImageTags = res.Tags
	}
	if res.Target != "" {
		target := ecrapi.LifecyclePolicyTargetStorageClass(res.Target)
		out.Action.TargetStorageClass = &target
	}
	if res.StorageClass != "" {
		sc := ecrapi.LifecyclePolicyStorageClass(res.StorageClass)
		out.StorageClass = &sc
	}
	return out
}

func clampInt32(n int64) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32))
}
