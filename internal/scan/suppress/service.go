package suppress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wharfhq/wharf/internal/store/meta"
)

// Audit actions.
const (
	ActionSuppress   = "scan.suppress"
	ActionUnsuppress = "scan.unsuppress"
)

// ErrInvalid marks a suppression Validate refuses; the message says why.
var ErrInvalid = errors.New("invalid suppression")

// Store is what the Service writes to.
type Store interface {
	meta.SuppressionStore
	meta.AuditStore
}

// Service creates, deletes and lists stored suppressions, validating them
// and recording each change in the audit trail.
type Service struct {
	Store Store
	Now   func() time.Time
	// Changed is told of each change (the gates drop their caches).
	Changed func(account, repository string)
	Logger  *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Put validates and stores a suppression made by actor (creating it or
// replacing the one with the same key), and audits scan.suppress.
func (s *Service) Put(ctx context.Context, in meta.Suppression, actor string) (out meta.Suppression, replaced bool, err error) {
	now := s.now()
	in.FindingID = strings.TrimSpace(in.FindingID)
	in.Justification = strings.TrimSpace(in.Justification)
	if err := Validate(in, now); err != nil {
		return meta.Suppression{}, false, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if in.Repository == "" {
		return meta.Suppression{}, false, fmt.Errorf("%w: a repository (or %q for the registry) is required", ErrInvalid, meta.RegistryWide)
	}
	in.CreatedBy, in.CreatedAt = actor, now
	old, replaced, err := s.Store.PutSuppression(ctx, in)
	if err != nil {
		return meta.Suppression{}, false, err
	}
	detail := map[string]any{"findingId": in.FindingID, "justification": in.Justification,
		"expiresAt": in.ExpiresAt.UTC().Format(time.RFC3339)}
	if in.Package != "" {
		detail["package"] = in.Package
	}
	if replaced {
		detail["replaced"] = map[string]any{"justification": old.Justification, "expiresAt": old.ExpiresAt.UTC().Format(time.RFC3339), "createdBy": old.CreatedBy}
	}
	s.audit(ctx, ActionSuppress, in, actor, detail)
	s.changed(in)
	return in, replaced, nil
}

// Delete removes the suppression with the key of k and audits
// scan.unsuppress; meta.ErrNotFound when there is none.
func (s *Service) Delete(ctx context.Context, k meta.Suppression, actor string) (meta.Suppression, error) {
	old, err := s.Store.DeleteSuppression(ctx, k)
	if err != nil {
		return meta.Suppression{}, err
	}
	detail := map[string]any{"findingId": old.FindingID, "justification": old.Justification, "createdBy": old.CreatedBy,
		"expiresAt": old.ExpiresAt.UTC().Format(time.RFC3339)}
	if old.Package != "" {
		detail["package"] = old.Package
	}
	s.audit(ctx, ActionUnsuppress, old, actor, detail)
	s.changed(old)
	return old, nil
}

// List lists stored suppressions (with f.ActiveAt zero, expired ones too).
func (s *Service) List(ctx context.Context, f meta.SuppressionFilter) ([]meta.Suppression, error) {
	return s.Store.ListSuppressions(ctx, f)
}

func (s *Service) changed(x meta.Suppression) {
	if s.Changed != nil {
		s.Changed(x.AccountID, x.Repository)
	}
}

// audit appends an event after the change committed; a failure to record
// it is logged, not returned: the change it describes has happened.
func (s *Service) audit(ctx context.Context, action string, x meta.Suppression, actor string, detail map[string]any) {
	b, _ := json.Marshal(detail)
	e := meta.AuditEvent{AccountID: x.AccountID, Repository: x.Repository, Action: action, Actor: actor, Digest: x.Digest, Detail: b}
	if _, err := s.Store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		l := s.Logger
		if l == nil {
			l = slog.Default()
		}
		l.ErrorContext(ctx, "audit event not recorded", "action", action, "repository", x.Repository, "err", err)
	}
}
