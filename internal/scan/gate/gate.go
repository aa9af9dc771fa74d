package gate

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/scan/suppress"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Scan is an image manifest's scan as the scan store keeps it.
type Scan struct {
	// Status is the scan status ("" or StatusNone: never scanned).
	Status string
	// Scanned is true when Findings are those of a completed scan.
	Scanned  bool
	Findings []vulndb.Finding
	// Platforms are, for the scan of an index, the platforms
	// (os/arch[/variant]) each finding was found on, aligned with
	// Findings (nil: not known).
	Platforms [][]string
}

// ScanSource reads scans (the scan pipeline's store).
type ScanSource interface {
	// ImageScan returns the scan of a manifest; a manifest never scanned
	// is Scan{Status: StatusNone}, not an error.
	ImageScan(ctx context.Context, account, repository, digest string) (Scan, error)
}

// SuppressionSource lists stored suppressions (meta.SuppressionStore).
type SuppressionSource interface {
	ListSuppressions(ctx context.Context, f meta.SuppressionFilter) ([]meta.Suppression, error)
}

// VEXSource lists the suppressions OpenVEX documents attached to an image
// make (see RegistryVEX).
type VEXSource interface {
	VEXSuppressions(ctx context.Context, account, repository, digest string) ([]meta.Suppression, error)
}

// IndexSource lists the indexes of a repository that list a manifest
// (see RegistryIndexes).
type IndexSource interface {
	IndexesOf(ctx context.Context, account, repository, digest string) ([]Manifest, error)
}

// Manifest is the image a gate decides on.
type Manifest struct {
	Digest    string
	MediaType string
	Content   []byte
}

// Gate computes the facts of images for pull gates, with suppressions
// applied. It caches for CacheTTL (facts per image, stored suppressions per
// repository), as policies are cached: a scan completing or a suppression
// made on another node is seen within that time; Forget drops what a local
// change makes stale at once.
type Gate struct {
	// Scans is the scan store (nil: every image is unscanned, NONE).
	Scans        ScanSource
	Suppressions SuppressionSource
	VEX          VEXSource // optional
	// Indexes finds the indexes listing a platform image, whose scan
	// covers it when it has none of its own (optional).
	Indexes IndexSource
	Now     func() time.Time
	// CacheTTL bounds reuse of looked-up facts (default 2s; <0 disables).
	CacheTTL time.Duration

	facts ttlCache[factsKey, Facts]
	sups  ttlCache[supKey, []meta.Suppression]
}

type factsKey struct{ account, repo, digest string }
type supKey struct{ account, repo string }

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Gate) ttl() time.Duration {
	if g.CacheTTL == 0 {
		return 2 * time.Second
	}
	return g.CacheTTL
}

// Forget drops the cached facts and suppressions of a repository
// (meta.RegistryWide: of the whole account), after a local change.
func (g *Gate) Forget(account, repo string) {
	g.facts.dropIf(func(k factsKey) bool { return k.account == account && (repo == meta.RegistryWide || k.repo == repo) })
	g.sups.dropIf(func(k supKey) bool { return k.account == account && (repo == meta.RegistryWide || k.repo == repo) })
}

// Facts returns the facts of an image. An index (multi-platform image)
// aggregates its platform images: the union of their active findings,
// Scanned when any was, and the scan status COMPLETE only when every one
// is (else the least advanced status). Children without a real platform
// (attestation manifests, unknown/unknown) are left out.
func (g *Gate) Facts(ctx context.Context, account, repo string, m Manifest) (Facts, error) {
	k := factsKey{account, repo, m.Digest}
	now := g.now()
	if f, ok := g.facts.get(k, now); ok {
		return f, nil
	}
	f, err := g.compute(ctx, account, repo, m)
	if err != nil {
		return Facts{}, err
	}
	g.facts.put(k, f, now.Add(g.ttl()))
	return f, nil
}

func (g *Gate) compute(ctx context.Context, account, repo string, m Manifest) (Facts, error) {
	var children []string
	if m.MediaType == manifest.OCIIndex || m.MediaType == manifest.DockerManifestList {
		if p, err := manifest.Parse(m.MediaType, m.Content); err == nil {
			for _, d := range p.Manifests {
				if d.Platform != nil && (d.Platform.OS == "unknown" || d.Platform.Architecture == "unknown") {
					continue
				}
				children = append(children, string(d.Digest))
			}
		}
	}
	// An image's own scan decides (the scanner scans an index as a whole,
	// and each image pushed with scan-on-push on its own).
	own, err := g.imageFacts(ctx, account, repo, m.Digest, "", nil)
	if err != nil || own.Status != StatusNone {
		return own, err
	}
	if len(children) == 0 {
		// A platform image never scanned on its own: the scan of an
		// index listing it covers it (a pull of a multi-platform image
		// reads the index, then the platform's manifest by digest).
		if f, ok, err := g.viaIndex(ctx, account, repo, m.Digest); err != nil || ok {
			return f, err
		}
		return own, nil
	}
	agg := Facts{Digest: m.Digest, Status: StatusComplete}
	for _, c := range children {
		f, err := g.imageFacts(ctx, account, repo, c, m.Digest, nil)
		if err != nil {
			return Facts{}, err
		}
		if statusRank(f.Status) < statusRank(agg.Status) {
			agg.Status = f.Status
		}
		agg.Scanned = agg.Scanned || f.Scanned
		agg.Findings = append(agg.Findings, f.Findings...)
		agg.Suppressed = append(agg.Suppressed, f.Suppressed...)
	}
	return agg, nil
}

// viaIndex returns the facts of a platform image from the scan of an index
// listing it: the index's status, and its findings on the image's platform.
func (g *Gate) viaIndex(ctx context.Context, account, repo, digest string) (Facts, bool, error) {
	if g.Indexes == nil {
		return Facts{}, false, nil
	}
	parents, err := g.Indexes.IndexesOf(ctx, account, repo, digest)
	if err != nil {
		return Facts{}, false, err
	}
	for _, pm := range parents {
		platform := ""
		if p, err := manifest.Parse(pm.MediaType, pm.Content); err == nil {
			for _, d := range p.Manifests {
				if string(d.Digest) == digest && d.Platform != nil {
					platform = d.Platform.OS + "/" + d.Platform.Architecture
					if d.Platform.Variant != "" {
						platform += "/" + d.Platform.Variant
					}
				}
			}
		}
		f, err := g.imageFacts(ctx, account, repo, pm.Digest, "", func(i int, platforms [][]string) bool {
			return platform == "" || i >= len(platforms) || len(platforms[i]) == 0 || onPlatform(platform, platforms[i])
		})
		if err != nil {
			return Facts{}, false, err
		}
		if f.Status == StatusNone {
			continue
		}
		// Re-scoped to the image: its digest, and suppressions of it as
		// well as of the index.
		f.Digest = digest
		if f.Findings != nil || f.Suppressed != nil {
			all := append(append([]vulndb.Finding(nil), f.Findings...), suppressedFindings(f.Suppressed)...)
			if f.Findings, f.Suppressed, err = g.apply(ctx, account, repo, digest, pm.Digest, all); err != nil {
				return Facts{}, false, err
			}
		}
		return f, true, nil
	}
	return Facts{}, false, nil
}

func suppressedFindings(s []suppress.Suppressed) []vulndb.Finding {
	out := make([]vulndb.Finding, len(s))
	for i := range s {
		out[i] = s[i].Finding
	}
	return out
}

// onPlatform reports whether a finding's platforms include platform
// (os/arch[/variant]; a variant on one side only is ignored).
func onPlatform(platform string, platforms []string) bool {
	base := func(p string) string {
		parts := strings.SplitN(p, "/", 3)
		if len(parts) < 2 {
			return p
		}
		return parts[0] + "/" + parts[1]
	}
	for _, p := range platforms {
		if p == platform || (base(p) == base(platform) && (p == base(p) || platform == base(platform))) {
			return true
		}
	}
	return false
}

// statusRank orders statuses from least advanced (FAILED) to COMPLETE.
func statusRank(s string) int {
	switch s {
	case StatusComplete:
		return 5
	case StatusInProgress:
		return 3
	case StatusPending:
		return 2
	case StatusNone, "":
		return 1
	case StatusFailed:
		return 0
	}
	return 4 // UNSUPPORTED_IMAGE and others: not complete, but final
}

// imageFacts is the facts of one manifest; index is the digest of the
// index it is part of ("" for a lone image), whose digest-scoped
// suppressions apply too.
// keep, when not nil, selects the findings (by index, with the scan's
// Platforms) that count.
func (g *Gate) imageFacts(ctx context.Context, account, repo, digest, index string, keep func(int, [][]string) bool) (Facts, error) {
	sc := Scan{Status: StatusNone}
	if g.Scans != nil {
		var err error
		if sc, err = g.Scans.ImageScan(ctx, account, repo, digest); err != nil {
			return Facts{}, err
		}
	}
	f := Facts{Digest: digest, Status: normalizeStatus(sc.Status), Scanned: sc.Scanned}
	if !sc.Scanned || len(sc.Findings) == 0 {
		return f, nil
	}
	findings := sc.Findings
	if keep != nil {
		findings = nil
		for i, x := range sc.Findings {
			if keep(i, sc.Platforms) {
				findings = append(findings, x)
			}
		}
	}
	var err error
	f.Findings, f.Suppressed, err = g.apply(ctx, account, repo, digest, index, findings)
	return f, err
}

// Apply splits the findings of a manifest into active and suppressed with
// every suppression that applies: stored ones of the repository and of the
// registry, and those of OpenVEX documents attached to the image. Finding
// lists and severity summaries call it, so they agree with the gates.
func (g *Gate) Apply(ctx context.Context, account, repo, digest string, findings []vulndb.Finding) ([]vulndb.Finding, []suppress.Suppressed, error) {
	return g.apply(ctx, account, repo, digest, "", findings)
}

func (g *Gate) apply(ctx context.Context, account, repo, digest, index string, findings []vulndb.Finding) ([]vulndb.Finding, []suppress.Suppressed, error) {
	sups, err := g.ImageSuppressions(ctx, account, repo, digest)
	if err != nil {
		return nil, nil, err
	}
	if index != "" {
		more, err := g.ImageSuppressions(ctx, account, repo, index)
		if err != nil {
			return nil, nil, err
		}
		// The index's digest-scoped suppressions, re-scoped to the child.
		for _, s := range more {
			if s.Digest == index {
				s.Digest = digest
				sups = append(sups, s)
			}
		}
	}
	now := g.now()
	active, suppressed := suppress.Apply(findings, sups, digest, now)
	return active, suppressed, nil
}

// ImageSuppressions returns the suppressions that may apply to an image:
// the stored ones of its repository and registry-wide ones (not expired),
// then those its attached VEX documents make.
func (g *Gate) ImageSuppressions(ctx context.Context, account, repo, digest string) ([]meta.Suppression, error) {
	stored, err := g.stored(ctx, account, repo)
	if err != nil {
		return nil, err
	}
	if g.VEX == nil {
		return stored, nil
	}
	vex, err := g.VEX.VEXSuppressions(ctx, account, repo, digest)
	if err != nil {
		return nil, err
	}
	if len(vex) == 0 {
		return stored, nil
	}
	return append(append([]meta.Suppression(nil), stored...), vex...), nil
}

func (g *Gate) stored(ctx context.Context, account, repo string) ([]meta.Suppression, error) {
	if g.Suppressions == nil {
		return nil, nil
	}
	k := supKey{account, repo}
	now := g.now()
	if s, ok := g.sups.get(k, now); ok {
		return s, nil
	}
	s, err := g.Suppressions.ListSuppressions(ctx, meta.SuppressionFilter{AccountID: account, Repository: repo, IncludeRegistryWide: true, ActiveAt: now})
	if err != nil {
		return nil, err
	}
	g.sups.put(k, s, now.Add(g.ttl()))
	return s, nil
}

// ttlCache is a small map with expiring entries, emptied when it grows
// past a bound (gated pulls of many distinct images are rare; this keeps
// memory bounded without an LRU).
type ttlCache[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

const ttlCacheMax = 4096

func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, v V, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= ttlCacheMax {
		c.m = map[K]ttlEntry[V]{}
	}
	c.m[k] = ttlEntry[V]{v, exp}
}

func (c *ttlCache[K, V]) dropIf(fn func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if fn(k) {
			delete(c.m, k)
		}
	}
}

// normalizeStatus upper-cases a status ("" stays NONE).
func normalizeStatus(s string) string {
	if s == "" {
		return StatusNone
	}
	return strings.ToUpper(s)
}
