package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// The platform guard: a repository setting that refuses to move a tag to
// an image of other platforms than the image the tag points at, so that an
// arm64 build pushed over an amd64 "latest" is refused instead of breaking
// every amd64 host that pulls it. An explicit override lets intended
// changes through (and is audited).
//
// Cost: nothing unless the guard is on (its setting is cached like the
// repository row) and the tag exists and moves; then the platforms of both
// images, cached by digest (a digest's platforms never change), which
// costs one config blob read per image the first time.

// maxConfigBytes bounds the config blob read for its platform.
const maxConfigBytes = 4 << 20

// maxIndexLookups bounds the child manifests read for an index whose
// entries declare no platform.
const maxIndexLookups = 64

// PlatformMismatch is the Detail of a CodePlatformMismatch error.
type PlatformMismatch struct {
	Repository string
	Tag        string
	Current    string // digest the tag points at
	Next       string // digest it was to move to
	From, To   manifest.Platforms
}

// guardCache keeps platform guard settings by repository id for a short
// TTL (local changes drop the entry at once).
type guardCache struct {
	mu sync.Mutex
	m  map[int64]guardEntry
}

type guardEntry struct {
	on      bool
	expires time.Time
}

// platformCache keeps the platforms of manifests by digest.
type platformCache struct {
	mu sync.RWMutex
	m  map[string]manifest.Platforms
}

func (c *platformCache) get(d string) (manifest.Platforms, bool) {
	c.mu.RLock()
	p, ok := c.m[d]
	c.mu.RUnlock()
	return p, ok
}

func (c *platformCache) put(d string, p manifest.Platforms) {
	c.mu.Lock()
	if c.m == nil || len(c.m) > 100000 {
		c.m = map[string]manifest.Platforms{}
	}
	c.m[d] = p
	c.mu.Unlock()
}

// guardOn reports whether the repository's platform guard is on.
func (s *Service) guardOn(ctx context.Context, r meta.Repository) (bool, error) {
	c := &s.guards
	c.mu.Lock()
	e, ok := c.m[r.ID]
	c.mu.Unlock()
	if ok && s.now().Before(e.expires) {
		return e.on, nil
	}
	g, err := s.meta.GetPlatformGuard(ctx, r.ID)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 100000 {
		c.m = map[int64]guardEntry{}
	}
	c.m[r.ID] = guardEntry{on: g.Enabled, expires: s.now().Add(4 * s.opts.TagCacheTTL)}
	c.mu.Unlock()
	return g.Enabled, nil
}

// PlatformGuard returns the repository's platform guard setting.
func (s *Service) PlatformGuard(ctx context.Context, r meta.Repository) (meta.PlatformGuard, error) {
	return s.meta.GetPlatformGuard(ctx, r.ID)
}

// SetPlatformGuard turns the repository's platform guard on or off, and
// records the change in the audit trail.
func (s *Service) SetPlatformGuard(ctx context.Context, r meta.Repository, on bool, who Actor) (meta.PlatformGuard, error) {
	g := meta.PlatformGuard{RepoID: r.ID, Enabled: on, UpdatedAt: s.now(), UpdatedBy: who.Principal}
	if err := s.meta.PutPlatformGuard(ctx, g); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return g, errorf(CodeNameUnknown, "repository %q not found", r.Name)
		}
		return g, err
	}
	s.guards.mu.Lock()
	delete(s.guards.m, r.ID)
	s.guards.mu.Unlock()
	s.audit(ctx, meta.AuditEvent{AccountID: r.AccountID, Repository: r.Name, Action: "repository.platform-guard",
		Actor: who.Principal, Detail: jsonDetail(map[string]any{"enabled": on, "via": who.Via})})
	return g, nil
}

// Platforms returns the platforms of a manifest of the repository: an
// image's from its config, an index's from its entries (attestations
// skipped). ok is false when they cannot be known (a config blob that is
// not there): the guard then lets the store refuse the push for what is
// missing.
func (s *Service) Platforms(ctx context.Context, r meta.Repository, m meta.Manifest) (manifest.Platforms, bool, error) {
	return s.platforms(ctx, r, m.Digest, m.MediaType, m.Content, 0)
}

func (s *Service) platforms(ctx context.Context, r meta.Repository, d, mediaType string, content []byte, depth int) (manifest.Platforms, bool, error) {
	if p, ok := s.platformsCache.get(d); ok {
		return p, true, nil
	}
	p, err := manifest.Parse(mediaType, content)
	if err != nil {
		return nil, false, nil // stored manifests parse; a new one is refused later
	}
	var out manifest.Platforms
	switch {
	case p.IsIndex():
		known, undeclared := manifest.IndexPlatforms(p)
		ps := append([]string(nil), known...)
		if len(undeclared) > maxIndexLookups || depth > 2 {
			return nil, false, nil
		}
		for _, c := range undeclared {
			child, err := s.GetManifest(ctx, r, names.Reference{Digest: c.Digest})
			if CodeOf(err) == CodeManifestUnknown {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, err
			}
			cp, ok, err := s.platforms(ctx, r, child.Digest, child.MediaType, child.Content, depth+1)
			if err != nil || !ok {
				return nil, ok, err
			}
			ps = append(ps, cp...)
		}
		out = manifest.NewPlatforms(ps...)
	case p.Config != nil && manifest.IsImageConfig(p.Config.MediaType):
		b, ok, err := s.readConfig(ctx, r, p.Config.Digest)
		if err != nil || !ok {
			return nil, ok, err
		}
		out = manifest.NewPlatforms(manifest.ConfigPlatform(b))
	default:
		out = manifest.Platforms{} // an artifact: no platform
	}
	s.platformsCache.put(d, out)
	return out, true, nil
}

// readConfig reads a config blob linked in the repository; ok is false
// when it is not there.
func (s *Service) readConfig(ctx context.Context, r meta.Repository, d digest.Digest) ([]byte, bool, error) {
	rd, _, err := s.OpenBlob(ctx, r, d)
	if CodeOf(err) == CodeBlobUnknown {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxConfigBytes))
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// checkPlatforms compares the platforms of the image a tag points at
// (current) with those of the image it is to move to. It returns the
// mismatch, or nil when they agree or cannot be known.
func (s *Service) checkPlatforms(ctx context.Context, r meta.Repository, tag, current string, next meta.Manifest) (*PlatformMismatch, error) {
	cur, err := s.GetManifest(ctx, r, names.Reference{Digest: digest.Digest(current)})
	if CodeOf(err) == CodeManifestUnknown {
		return nil, nil // deleted meanwhile: nothing to protect
	}
	if err != nil {
		return nil, err
	}
	from, ok, err := s.Platforms(ctx, r, cur)
	if err != nil || !ok {
		return nil, err
	}
	to, ok, err := s.Platforms(ctx, r, next)
	if err != nil || !ok {
		return nil, err
	}
	if from.Equal(to) {
		return nil, nil
	}
	return &PlatformMismatch{Repository: r.Name, Tag: tag, Current: current, Next: next.Digest, From: from, To: to}, nil
}

// mismatchError is the refusal of a guarded tag move.
func mismatchError(m *PlatformMismatch) *Error {
	return &Error{Code: CodePlatformMismatch,
		Message: fmt.Sprintf("tag %s points at %s; refusing %s (platform guard on %s)", m.Tag, m.From, m.To, m.Repository),
		Detail: map[string]any{"tag": m.Tag, "currentDigest": m.Current, "digest": m.Next,
			"currentPlatforms": []string(m.From), "platforms": []string(m.To)}}
}

// auditOverride records a platform change let through by an override.
func (s *Service) auditOverride(ctx context.Context, r meta.Repository, m *PlatformMismatch, who Actor) {
	s.audit(ctx, meta.AuditEvent{AccountID: r.AccountID, Repository: r.Name, Action: "tag.platform-override",
		Actor: who.Principal, Digest: m.Next, Tag: m.Tag,
		Detail: jsonDetail(map[string]any{"from": m.Current, "fromPlatforms": []string(m.From), "toPlatforms": []string(m.To), "via": who.Via})})
}

// audit appends an event after the change committed; a failure to record
// it is logged, not returned: the change it describes has happened.
func (s *Service) audit(ctx context.Context, e meta.AuditEvent) {
	if _, err := s.meta.AppendAudit(context.WithoutCancel(ctx), e); err != nil && s.opts.Logger != nil {
		s.opts.Logger.ErrorContext(ctx, "audit event not recorded", "action", e.Action, "repository", e.Repository, "err", err)
	}
}

func jsonDetail(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// PlatformOverrideHeader is the request header with which a push (on /v2/
// or through PutImage) overrides the platform guard: "true" lets the tag
// move to an image of other platforms.
const PlatformOverrideHeader = "X-Wharf-Platform-Override"

// OverrideHint is what a refused client can do, for messages.
func OverrideHint(repo string) string {
	return "to change platforms on purpose, send the header " + PlatformOverrideHeader + ": true, or turn the guard off with `wharf tag guard " + repo + " off`"
}
