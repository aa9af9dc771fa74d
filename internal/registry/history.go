package registry

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Tag history and rollback. Every move of a tag is a tag event (written by
// the store in the transaction that moves it); a rollback is one more move,
// recorded with via "rollback" and audited as tag.rollback.

// maxRollbackHistory bounds the events a rollback reads: how far back
// "steps" may reach, and how much history is searched for the target.
const maxRollbackHistory = 10000

// TagHistory returns up to limit events of the repository's tag history
// (of one tag when tag is set), newest first, older than beforeID when it
// is not 0.
func (s *Service) TagHistory(ctx context.Context, r meta.Repository, tag string, beforeID int64, limit int) ([]meta.TagEvent, error) {
	return s.meta.TagEvents(ctx, r.ID, meta.TagEventQuery{Tag: tag, BeforeID: beforeID, Limit: limit})
}

// Rollback says where to move a tag back to: Digest, or the digest the
// tag pointed at Steps moves ago (1 = before its last move).
type Rollback struct {
	Tag    string
	Digest string
	Steps  int
	// PlatformOverride lets the move change platforms although the
	// platform guard is on. It is needed only for a digest the tag never
	// pointed at: returning to a state of the tag's own history is what a
	// rollback is for, so the guard does not stop it.
	PlatformOverride bool
}

// RollbackResult tells what a rollback did.
type RollbackResult struct {
	Tag  string
	From string // "" when the tag did not exist
	To   string
	// Moved is false when the tag pointed at To already.
	Moved bool
}

// RollbackTag moves a tag back to an earlier image of the repository. It
// refuses an image that is not (any more) in the repository, obeys tag
// immutability like a push (an immutable tag never moves), and applies the
// platform guard to targets outside the tag's history.
func (s *Service) RollbackTag(ctx context.Context, r meta.Repository, rb Rollback, who Actor) (RollbackResult, error) {
	if !names.ValidTag(rb.Tag) {
		return RollbackResult{}, errorf(CodeInvalidParameter, "invalid tag %q", rb.Tag)
	}
	if (rb.Digest == "") == (rb.Steps == 0) {
		return RollbackResult{}, errorf(CodeInvalidParameter, "give either the digest to roll tag %s back to or the number of steps back", rb.Tag)
	}
	if rb.Steps < 0 || rb.Steps > maxRollbackHistory {
		return RollbackResult{}, errorf(CodeInvalidParameter, "steps must be between 1 and %d", maxRollbackHistory)
	}
	if rb.Digest != "" {
		if _, err := names.ParseDigest(rb.Digest); err != nil {
			return RollbackResult{}, errorf(CodeInvalidParameter, "invalid digest %q", rb.Digest)
		}
	}
	for attempt := 0; ; attempt++ {
		res, err := s.rollbackOnce(ctx, r, rb, who)
		if !errors.Is(err, meta.ErrConflict) {
			return res, err
		}
		if attempt == guardRetries {
			return res, errorf(CodeTagMoved, "tag %s of repository %s kept moving during the rollback; retry", rb.Tag, r.Name)
		}
	}
}

func (s *Service) rollbackOnce(ctx context.Context, r meta.Repository, rb Rollback, who Actor) (RollbackResult, error) {
	res := RollbackResult{Tag: rb.Tag}
	cur, err := s.meta.ResolveTag(ctx, r.ID, rb.Tag)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return res, err
	}
	res.From = cur
	events, err := s.meta.TagEvents(ctx, r.ID, meta.TagEventQuery{Tag: rb.Tag, Limit: maxRollbackHistory})
	if err != nil {
		return res, err
	}
	target := rb.Digest
	if rb.Steps > 0 {
		if len(events) < rb.Steps {
			return res, errorf(CodeInvalidParameter, "tag %s of repository %s has %d recorded moves; cannot go %d back", rb.Tag, r.Name, len(events), rb.Steps)
		}
		target = events[rb.Steps-1].From
		if target == "" {
			return res, errorf(CodeInvalidParameter, "tag %s of repository %s did not exist %d moves ago", rb.Tag, r.Name, rb.Steps)
		}
	}
	res.To = target
	if cur == target {
		return res, nil
	}
	m, err := s.GetManifest(ctx, r, names.Reference{Digest: digest.Digest(target)})
	if CodeOf(err) == CodeManifestUnknown {
		if e, berr := s.meta.GetBinEntry(ctx, r.ID, target); berr == nil && e.ExpiresAt.After(s.now()) {
			return res, errorf(CodeManifestUnknown, "image %s of repository %s was deleted and is in the recycle bin: restore it first", target, r.Name)
		}
		return res, errorf(CodeManifestUnknown, "image %s is not in repository %s", target, r.Name)
	}
	if err != nil {
		return res, err
	}
	if err := s.allowTagMove(r, rb.Tag, cur, target); err != nil {
		return res, err
	}
	var mismatch *PlatformMismatch
	if cur != "" && !inHistory(events, target) {
		on, err := s.guardOn(ctx, r)
		if err != nil {
			return res, err
		}
		if on {
			if mismatch, err = s.checkPlatforms(ctx, r, rb.Tag, cur, m); err != nil {
				return res, err
			}
			if mismatch != nil && !rb.PlatformOverride {
				return res, mismatchError(mismatch)
			}
		}
	}
	err = s.meta.MoveTag(ctx, meta.MoveTag{RepoID: r.ID, Tag: rb.Tag, Digest: target, Expect: cur,
		AllowTagMove: func(current string) error { return s.allowTagMove(r, rb.Tag, current, target) },
		Actor:        who.Principal, Via: "rollback"})
	if errors.Is(err, meta.ErrNotFound) {
		s.manifests.drop(r.ID, target)
		return res, errorf(CodeManifestUnknown, "image %s is not in repository %s", target, r.Name)
	}
	if err != nil {
		s.tags.drop(r.ID, rb.Tag)
		return res, err
	}
	s.tags.put(r.ID, rb.Tag, target)
	s.tagLists.drop(r.ID)
	res.Moved = true
	detail := map[string]any{"from": cur, "to": target, "via": who.Via}
	if rb.Steps > 0 {
		detail["steps"] = rb.Steps
	}
	if mismatch != nil {
		detail["platformOverride"] = true
		detail["fromPlatforms"], detail["toPlatforms"] = []string(mismatch.From), []string(mismatch.To)
	}
	s.audit(ctx, meta.AuditEvent{AccountID: r.AccountID, Repository: r.Name, Action: "tag.rollback",
		Actor: who.Principal, Digest: target, Tag: rb.Tag, Detail: jsonDetail(detail)})
	return res, nil
}

// inHistory reports whether the tag pointed at d at some recorded time.
func inHistory(events []meta.TagEvent, d string) bool {
	for _, e := range events {
		if e.To == d || e.From == d {
			return true
		}
	}
	return false
}
