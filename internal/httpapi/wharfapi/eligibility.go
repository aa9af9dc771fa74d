package wharfapi

import (
	"context"
	"errors"
	"strings"

	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/awsjson/ecrapi"
	"github.com/wharfhq/wharf/internal/scan"
)

// Scan eligibility: PutScanEligibility sets how long continuous scanning
// (enhanced mode) keeps re-matching an image after its push and after its
// last pull, with Amazon Inspector's EcrConfiguration names and values;
// GetScanEligibility reads it. Images past both durations are
// SCAN_ELIGIBILITY_EXPIRED (see scan.Eligibility). Both act on the
// registry (wharf:PutScanEligibility, wharf:GetScanEligibility on its ARN).

func init() {
	registerOps(func(s *Server, h *awsjson.Handler) {
		awsjson.Register(h, "PutScanEligibility", s.PutScanEligibility)
		awsjson.Register(h, "GetScanEligibility", s.GetScanEligibility)
	})
}

var (
	ruleRescanDuration = awsjson.Rule{Enum: scan.PushDurations}
	rulePullDuration   = awsjson.Rule{Enum: scan.PullDurations}
)

// PutScanEligibilityInput sets the durations; pullDateRescanDuration
// absent means pulls do not extend eligibility.
type PutScanEligibilityInput struct {
	RegistryID             *string `json:"registryId,omitzero"`
	RescanDuration         *string `json:"rescanDuration,omitzero"`
	PullDateRescanDuration *string `json:"pullDateRescanDuration,omitzero"`
}

// Validate checks the input against its constraints.
func (in *PutScanEligibilityInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, nil, false)
	if in.RescanDuration == nil {
		v.Null("rescanDuration")
	} else {
		v.String("rescanDuration", *in.RescanDuration, &ruleRescanDuration)
	}
	if in.PullDateRescanDuration != nil {
		v.String("pullDateRescanDuration", *in.PullDateRescanDuration, &rulePullDuration)
	}
	return v.Err()
}

// GetScanEligibilityInput names the registry.
type GetScanEligibilityInput struct {
	RegistryID *string `json:"registryId,omitzero"`
}

// Validate checks the input against its constraints.
func (in *GetScanEligibilityInput) Validate() error {
	var v awsjson.Validator
	checkRepo(&v, in.RegistryID, nil, false)
	return v.Err()
}

// ScanEligibilityOutput is a registry's setting.
type ScanEligibilityOutput struct {
	RegistryID             string             `json:"registryId"`
	RescanDuration         string             `json:"rescanDuration"`
	PullDateRescanDuration string             `json:"pullDateRescanDuration,omitempty"`
	UpdatedAt              *awsjson.Timestamp `json:"updatedAt,omitzero"`
}

func eligibilityOutput(account string, e scan.Eligibility) *ScanEligibilityOutput {
	out := &ScanEligibilityOutput{RegistryID: account, RescanDuration: e.RescanDuration, PullDateRescanDuration: e.PullDateRescanDuration}
	if !e.UpdatedAt.IsZero() {
		out.UpdatedAt = awsjson.NewTimestamp(e.UpdatedAt)
	}
	return out
}

// PutScanEligibility stores the setting and queues a rescan of the
// registry that applies it (marks lapsed images, brings back eligible
// ones; it re-matches nothing else).
func (s *Server) PutScanEligibility(ctx context.Context, in *PutScanEligibilityInput) (*ScanEligibilityOutput, error) {
	account := registryID(ctx, in.RegistryID)
	if err := s.authorize(ctx, account, "", Action("PutScanEligibility")); err != nil {
		return nil, err
	}
	e, err := scan.SaveEligibility(ctx, s.Meta, account, scan.Eligibility{
		RescanDuration: *in.RescanDuration, PullDateRescanDuration: awsjson.Deref(in.PullDateRescanDuration)}, s.now(), caller(ctx).String())
	if errors.Is(err, scan.ErrInvalidEligibility) {
		return nil, ecrapi.NewInvalidParameterException(strings.TrimPrefix(err.Error(), scan.ErrInvalidEligibility.Error()+": "))
	}
	if err != nil {
		return nil, err
	}
	return eligibilityOutput(account, e), nil
}

// GetScanEligibility returns the setting (LIFETIME when never set).
func (s *Server) GetScanEligibility(ctx context.Context, in *GetScanEligibilityInput) (*ScanEligibilityOutput, error) {
	account := registryID(ctx, in.RegistryID)
	if err := s.authorize(ctx, account, "", Action("GetScanEligibility")); err != nil {
		return nil, err
	}
	e, err := scan.LoadEligibility(ctx, s.Meta, account)
	if err != nil {
		return nil, err
	}
	return eligibilityOutput(account, e), nil
}
