package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Scan eligibility, as Amazon Inspector limits ECR continuous scanning: an
// image under continuous scanning is re-matched for a configured duration
// after its push (RescanDuration) and after its last pull
// (PullDateRescanDuration); once neither holds, its scan is
// SCAN_ELIGIBILITY_EXPIRED and rescans leave it alone. A pull, a push of
// it (under a new tag) or an explicit StartImageScan makes it eligible
// again, and the next rescan (or that scan) brings it back. The names and
// values are Inspector's EcrConfiguration's. Only continuous scanning
// (enhanced mode) is concerned, as in ECR.
//
// Inspector closes the findings of an image whose eligibility expired.
// Wharf keeps them as they were last observed, not updated: closing them
// would make an image nobody watches look clean to DescribeImages'
// counts and to pull gates.

// Rescan durations (EcrRescanDuration, EcrPullDateRescanDuration).
const (
	DurationLifetime = "LIFETIME"
	// DescExpired describes SCAN_ELIGIBILITY_EXPIRED, as Inspector's
	// ScanStatusReason does.
	DescExpired   = "The configured scan duration has lapsed for this image."
	StatusExpired = "SCAN_ELIGIBILITY_EXPIRED"
)

// PushDurations and PullDurations are the values Inspector accepts.
var (
	PushDurations = []string{DurationLifetime, "DAYS_14", "DAYS_30", "DAYS_60", "DAYS_90", "DAYS_180"}
	PullDurations = []string{"DAYS_14", "DAYS_30", "DAYS_60", "DAYS_90", "DAYS_180"}
)

// eligibilitySetting is the account setting holding an account's
// Eligibility (not an ECR PutAccountSetting name).
const eligibilitySetting = "wharf.scan-eligibility"

// Eligibility is an account's continuous scanning durations.
type Eligibility struct {
	// RescanDuration counts from the push (LIFETIME: no limit).
	RescanDuration string `json:"rescanDuration"`
	// PullDateRescanDuration counts from the last pull ("": pulls do not
	// extend eligibility).
	PullDateRescanDuration string `json:"pullDateRescanDuration,omitempty"`
	// UpdatedAt is when it was last set (zero: never).
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// DefaultEligibility is that of an account that never set one: lifetime,
// so that continuous scanning never lapses.
func DefaultEligibility() Eligibility { return Eligibility{RescanDuration: DurationLifetime} }

// ErrInvalidEligibility marks durations Inspector would refuse.
var ErrInvalidEligibility = errors.New("invalid scan eligibility")

// Validate checks the durations; an empty RescanDuration is LIFETIME.
func (e *Eligibility) Validate() error {
	if e.RescanDuration == "" {
		e.RescanDuration = DurationLifetime
	}
	if !slices.Contains(PushDurations, e.RescanDuration) {
		return fmt.Errorf("%w: Invalid parameter at 'rescanDuration' failed to satisfy constraint: 'Member must satisfy enum value set: [%s]'",
			ErrInvalidEligibility, strings.Join(PushDurations, ", "))
	}
	if e.PullDateRescanDuration != "" && !slices.Contains(PullDurations, e.PullDateRescanDuration) {
		return fmt.Errorf("%w: Invalid parameter at 'pullDateRescanDuration' failed to satisfy constraint: 'Member must satisfy enum value set: [%s]'",
			ErrInvalidEligibility, strings.Join(PullDurations, ", "))
	}
	return nil
}

// days is the length of a DAYS_n duration (0 for LIFETIME or "").
func days(d string) time.Duration {
	n, err := strconv.Atoi(strings.TrimPrefix(d, "DAYS_"))
	if err != nil || !strings.HasPrefix(d, "DAYS_") {
		return 0
	}
	return time.Duration(n) * 24 * time.Hour
}

// Limited reports whether eligibility can lapse at all.
func (e Eligibility) Limited() bool { return days(e.RescanDuration) > 0 }

// Active returns the cutoffs of the images still eligible at now.
func (e Eligibility) Active(now time.Time) meta.ActiveSince {
	push := days(e.RescanDuration)
	if push == 0 {
		return meta.ActiveSince{}
	}
	a := meta.ActiveSince{Pushed: now.Add(-push)}
	if pull := days(e.PullDateRescanDuration); pull > 0 {
		a.Pulled = now.Add(-pull)
	}
	return a
}

// LoadEligibility reads an account's eligibility (DefaultEligibility when
// never set).
func LoadEligibility(ctx context.Context, st meta.ECRStore, accountID string) (Eligibility, error) {
	v, err := st.GetAccountSetting(ctx, accountID, eligibilitySetting)
	if errors.Is(err, meta.ErrNotFound) {
		return DefaultEligibility(), nil
	}
	if err != nil {
		return Eligibility{}, err
	}
	var e Eligibility
	if err := json.Unmarshal([]byte(v), &e); err != nil {
		return Eligibility{}, fmt.Errorf("scan: stored scan eligibility of %s: %w", accountID, err)
	}
	if e.RescanDuration == "" {
		e.RescanDuration = DurationLifetime
	}
	return e, nil
}

// SaveEligibility validates and stores an account's eligibility, then
// queues a rescan of the account that touches no package: it marks the
// images that lapsed and brings back those eligible again, re-matching
// nothing else. The change is audited (scan.eligibility) as done by actor.
func SaveEligibility(ctx context.Context, st meta.Store, accountID string, e Eligibility, now time.Time, actor string) (Eligibility, error) {
	if err := e.Validate(); err != nil {
		return Eligibility{}, err
	}
	e.UpdatedAt = now.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return Eligibility{}, err
	}
	if err := st.PutAccountSetting(ctx, accountID, eligibilitySetting, string(b)); err != nil {
		return Eligibility{}, err
	}
	if _, err := st.AppendAudit(context.WithoutCancel(ctx), meta.AuditEvent{AccountID: accountID, Action: "scan.eligibility", Actor: actor, Detail: b}); err != nil {
		return e, fmt.Errorf("scan: eligibility stored but not audited: %w", err)
	}
	if err := EnqueueTargetedRescan(ctx, st, accountID, now, []meta.VulnPackage{}); err != nil {
		return e, err
	}
	return e, nil
}
