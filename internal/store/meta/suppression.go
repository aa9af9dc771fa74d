package meta

import (
	"context"
	"time"
)

// This file holds finding suppressions: a justified, expiring decision that
// a vulnerability finding does not apply (not exploitable here, accepted
// risk, fixed by other means). Suppressed findings are left out of finding
// lists, severity summaries and pull gates alike (internal/scan/suppress).

// RegistryWide is the Repository of a suppression that applies to every
// repository of the account.
const RegistryWide = "*"

// Suppression suppresses one finding id. Its key is (AccountID, Repository,
// FindingID, Package, Digest): putting a suppression with the key of an
// existing one replaces it.
type Suppression struct {
	AccountID string
	// Repository is a repository name or RegistryWide.
	Repository string
	// FindingID is the advisory id (CVE-2024-1234, GHSA-..., ...); it also
	// matches findings that carry it as an alias.
	FindingID string
	// Package limits it to findings in one package ("" any package).
	Package string
	// Digest limits it to one image manifest ("" any image).
	Digest string
	// Justification says why (required).
	Justification string
	// ExpiresAt is when it stops applying (required for stored ones).
	ExpiresAt time.Time
	CreatedBy string
	CreatedAt time.Time
}

// SuppressionFilter selects suppressions; zero fields match everything.
type SuppressionFilter struct {
	AccountID string
	// Repository matches exactly; with IncludeRegistryWide the account's
	// RegistryWide suppressions are listed too.
	Repository          string
	IncludeRegistryWide bool
	FindingID           string
	// ActiveAt, when set, leaves out suppressions expired at that time
	// (ExpiresAt <= ActiveAt).
	ActiveAt time.Time
}

// SuppressionStore keeps finding suppressions.
type SuppressionStore interface {
	// PutSuppression creates a suppression or replaces the one with the
	// same key; replaced reports which, and old is the one replaced.
	PutSuppression(ctx context.Context, s Suppression) (old Suppression, replaced bool, err error)
	// DeleteSuppression deletes the suppression with the key of k (only
	// the key fields are read) and returns it; ErrNotFound when none.
	DeleteSuppression(ctx context.Context, k Suppression) (Suppression, error)
	// ListSuppressions returns the matching suppressions ordered by
	// repository, finding id, package and digest.
	ListSuppressions(ctx context.Context, f SuppressionFilter) ([]Suppression, error)
}
