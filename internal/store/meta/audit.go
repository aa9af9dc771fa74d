package meta

import (
	"context"
	"time"
)

// This file holds the audit trail: an append-only record of what changed in
// the registry and who changed it (lifecycle expiries, rollbacks, restores,
// scans, suppressions, ...). The events issue delivers the same records to
// webhooks; here they are only stored and listed.

// AuditEvent is one recorded action.
type AuditEvent struct {
	// ID is assigned by the store, increasing.
	ID int64
	// At is when it happened (zero on input: now).
	At time.Time
	// AccountID and Repository locate it ("" for registry-level events).
	AccountID  string
	Repository string
	// Action names what happened, dotted: "lifecycle.expire",
	// "tag.rollback", "scan.complete", ...
	Action string
	// Actor is the principal (ARN or "system:<component>").
	Actor string
	// Digest and Tag name the image concerned, when there is one.
	Digest string
	Tag    string
	// Detail is a JSON object with the action's particulars (may be nil).
	Detail []byte
}

// AuditFilter selects events; zero fields match everything.
type AuditFilter struct {
	AccountID  string
	Repository string
	// Action matches exactly, or as a prefix when it ends in "." or "*"
	// ("scan." or "scan*" match "scan.complete").
	Action string
	Digest string
	Since  time.Time // At >= Since
	Until  time.Time // At < Until
	// AfterID pages: only events with ID > AfterID.
	AfterID int64
	// Limit <= 0 means no limit.
	Limit int
}

// AuditStore keeps the audit trail. Events outlive their repository.
type AuditStore interface {
	// AppendAudit records events in one transaction and returns them with
	// ID and At set.
	AppendAudit(ctx context.Context, events ...AuditEvent) ([]AuditEvent, error)
	// ListAudit returns matching events by increasing ID.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}
