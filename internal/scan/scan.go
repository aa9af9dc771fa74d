// Package scan runs image vulnerability scans off the request path: a scan
// of an image (repository, manifest digest) reads its manifest, its config
// and layers from the blob store, lists its packages (internal/scan/
// inventory), keeps that inventory per manifest digest, matches it against
// open vulnerability data (internal/scan/vulndb) and stores the findings
// with their history. A rescan after new data re-matches the stored
// inventories of the images under continuous scanning, reading no layers.
//
// Scans are durable jobs (meta.JobStore): a push or StartImageScan only
// records the scan in progress and enqueues it, in one transaction. The
// package holds no HTTP and no SQL; the ECR operations are in
// internal/httpapi/ecr, the storage behind meta.ScanStore.
package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/registry/names"
	"github.com/wharfhq/wharf/internal/scan/inventory"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// Job kinds.
const (
	// KindScan scans one image; its key is the image's, so requests for
	// an image already queued collapse into the queued job.
	KindScan = "scan"
	// KindRescan re-matches the stored inventories of the images under
	// continuous scanning (of one account, or all) after new data.
	KindRescan = "rescan"
	// KindPrune deletes inventories no scan uses any more.
	KindPrune = "scan-prune"
	// KindEligibility applies the scan eligibility durations (periodic):
	// images that lapsed are marked SCAN_ELIGIBILITY_EXPIRED, and those
	// pulled or pushed again are re-matched, also when no import comes.
	KindEligibility = "scan-eligibility"
)

// Audit actions.
const (
	ActionComplete    = "scan.complete"
	ActionNewCritical = "scan.new-critical-findings"
	actor             = "system:scan"
)

// Descriptions of scan statuses, worded as ECR words them.
const (
	DescComplete    = "The scan was completed successfully."
	DescContinuous  = "Continuous scan is selected for image."
	DescUnsupported = "UnsupportedImageError: The operating system and/or package manager are not supported."
)

// BasicScanInterval is ECR's limit of basic scanning: one scan of an image
// per 24 hours, the scan on push included.
const BasicScanInterval = 24 * time.Hour

// maxAttempts bounds the retries of a scan that fails for a reason other
// than its content (the store or the blob store failing); the last one
// marks the scan FAILED.
const maxAttempts = 5

// Matcher matches inventories against loaded vulnerability data
// (*vulndb.DB).
type Matcher interface {
	Match(*inventory.Inventory) []vulndb.Finding
	// UpdatedAt is when the data was last imported.
	UpdatedAt() time.Time
}

// Service scans images. Set the fields before use; it is safe for
// concurrent use.
type Service struct {
	Registry *registry.Service
	// Extract lists the packages of an image's layers (inventory.Extract).
	Extract func(ctx context.Context, layers []inventory.Layer) (*inventory.Inventory, error)
	// InventoryVersion names the cataloguer: stored inventories of
	// another version are catalogued again when an image is scanned.
	InventoryVersion string
	// LoadDB loads the vulnerability data concerning the packages of the
	// given inventories (vulndb.LoadFor), or all of it when invs is nil
	// (vulndb.Load): a scan loads what its image needs, a rescan loads
	// everything once.
	LoadDB func(ctx context.Context, invs []*inventory.Inventory) (Matcher, error)
	// RescanBatch is how many images a rescan reads and writes per store
	// round trip (default 200); Workers how many it matches at once
	// (default GOMAXPROCS).
	RescanBatch int
	Workers     int
	Clock       func() time.Time
	Logger      *slog.Logger

	configs configCache
}

func (s *Service) meta() meta.Store { return s.Registry.Meta() }

func (s *Service) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// matcher loads the vulnerability data: what concerns the packages of
// images (a scan), or everything when images is nil (a rescan).
func (s *Service) matcher(ctx context.Context, images []imageInventory) (Matcher, error) {
	if s.LoadDB == nil {
		return nil, errors.New("scan: no vulnerability data loader configured")
	}
	var invs []*inventory.Inventory
	if images != nil {
		invs = make([]*inventory.Inventory, len(images))
		for i, im := range images {
			invs[i] = im.Inventory
		}
	}
	db, err := s.LoadDB(ctx, invs)
	if err != nil {
		return nil, fmt.Errorf("scan: loading vulnerability data: %w", err)
	}
	return db, nil
}

// Config returns an account's registry scanning configuration.
func (s *Service) Config(ctx context.Context, accountID string) (Config, error) {
	if c, ok := s.configs.get(accountID, s.now()); ok {
		return c, nil
	}
	c, err := LoadConfig(ctx, s.meta(), accountID)
	if err != nil {
		return Config{}, err
	}
	if s.configs.ttl == 0 {
		s.configs.ttl = 2 * time.Second
	}
	s.configs.put(accountID, c, s.now())
	return c, nil
}

// SetConfig validates and stores an account's configuration. When it puts
// repositories under continuous scanning, a rescan of the account is
// queued, so their images are matched (or scanned) at once rather than at
// the next data import.
func (s *Service) SetConfig(ctx context.Context, accountID string, c Config) (Config, error) {
	c, err := SaveConfig(ctx, s.meta(), accountID, c)
	if err != nil {
		return Config{}, err
	}
	s.configs.drop(accountID)
	if c.HasContinuous() {
		if err := EnqueueRescan(ctx, s.meta(), accountID, s.now()); err != nil {
			return c, err
		}
	}
	return c, nil
}

// scanPayload is the payload of a KindScan job.
type scanPayload struct {
	Account string `json:"account"`
	Repo    string `json:"repository"`
	RepoID  int64  `json:"repositoryId"`
	Digest  string `json:"digest"`
}

// JobKey is the key of the scan job of an image.
func JobKey(repoID int64, d string) string { return "scan:" + strconv.FormatInt(repoID, 10) + ":" + d }

// Request is how a scan is asked for.
type Request struct {
	// Limited applies basic scanning's limit (one scan per image per
	// BasicScanInterval): meta.ErrScanLimit when it is reached.
	Limited bool
	// IfUnscanned asks nothing when the image has a scan that did not
	// fail (a push of an image scanned before).
	IfUnscanned bool
}

// Queue records a scan of the image in progress and enqueues its job. It
// returns false when IfUnscanned found a scan, meta.ErrScanLimit, or
// meta.ErrNotFound when the image does not exist.
func (s *Service) Queue(ctx context.Context, r meta.Repository, d string, req Request) (bool, error) {
	now := s.now()
	payload, err := json.Marshal(scanPayload{Account: r.AccountID, Repo: r.Name, RepoID: r.ID, Digest: d})
	if err != nil {
		return false, err
	}
	sr := meta.ScanRequest{
		RepoID: r.ID, Digest: d, At: now, IfUnscanned: req.IfUnscanned,
		Job: meta.Job{Kind: KindScan, Key: JobKey(r.ID, d), Payload: payload},
	}
	if req.Limited {
		sr.LimitSince = now.Add(-BasicScanInterval)
	}
	return s.meta().QueueScan(ctx, sr)
}

// OnPush queues the scan of a pushed manifest when scanning on push
// applies to its repository: in basic mode the repository's scanOnPush or
// a SCAN_ON_PUSH rule, in enhanced mode a SCAN_ON_PUSH or CONTINUOUS_SCAN
// rule. Artifacts are not scanned. It never waits for the scan; failures
// are logged, never returned, since the push has succeeded.
func (s *Service) OnPush(ctx context.Context, r meta.Repository, m meta.Manifest) {
	// The push is acknowledged whatever happens here: finish even if the
	// client goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c, err := s.Config(ctx, r.AccountID)
	if err != nil {
		s.log().Warn("scan on push: reading the scanning configuration", "repository", r.Name, "err", err)
		return
	}
	if !c.For(r).ScanOnPush || !Scannable(m) {
		return
	}
	if _, err := s.Queue(ctx, r, m.Digest, Request{IfUnscanned: true}); err != nil && !errors.Is(err, meta.ErrNotFound) {
		s.log().Warn("scan on push: queueing the scan", "repository", r.Name, "digest", m.Digest, "err", err)
	}
}

// HandleScan runs a KindScan job (a jobs.Handler). A scan whose image or
// repository went before it ran ends quietly; a scan failing because of
// the image's content is marked FAILED; other failures are retried, up to
// maxAttempts.
func (s *Service) HandleScan(ctx context.Context, j meta.Job) error {
	var p scanPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.Digest == "" {
		s.log().Error("scan job with a bad payload dropped", "job", j.ID, "err", err)
		return nil
	}
	r, err := s.meta().GetRepository(ctx, p.Account, p.Repo)
	if errors.Is(err, meta.ErrNotFound) || (err == nil && r.ID != p.RepoID) {
		return nil // the repository went (maybe re-created since)
	}
	if err != nil {
		return err
	}
	err = s.Scan(ctx, r, p.Digest)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if j.Attempts+1 < maxAttempts {
		return err
	}
	ferr := s.meta().FinishScan(ctx, meta.ScanResult{RepoID: r.ID, Digest: p.Digest, Status: meta.ScanFailed,
		Description: "ScanFailed: " + err.Error()})
	if ferr != nil && !errors.Is(ferr, meta.ErrNotFound) {
		return ferr
	}
	s.events(ctx, r, p.Digest, meta.ScanFailed, nil, nil, false)
	return nil
}

// target is an image manifest to catalogue.
type target struct {
	digest   string
	parsed   *manifest.Parsed
	platform string // from the index's descriptor, when known
}

// Scan scans an image now and stores its findings (the scan must have been
// queued: an image whose scan went is not scanned). It returns nil when
// the image does not exist (any more) and when the scan failed because of
// the image's content (the scan is then FAILED or UNSUPPORTED_IMAGE with
// a description); an error means the scan may be retried.
func (s *Service) Scan(ctx context.Context, r meta.Repository, d string) error {
	m, err := s.Registry.GetManifest(ctx, r, names.Reference{Digest: digest.Digest(d)})
	if registry.CodeOf(err) == registry.CodeManifestUnknown {
		return nil
	}
	if err != nil {
		return err
	}
	images, err := s.catalogue(ctx, r, m)
	var ce *contentError
	switch {
	case errors.Is(err, ErrUnsupported):
		return s.finishFailed(ctx, r, d, meta.ScanUnsupportedImage, "UnsupportedImageError: "+capitalize(ErrUnsupported.Error())+".")
	case errors.As(err, &ce):
		return s.finishFailed(ctx, r, d, meta.ScanFailed, "ScanFailed: "+ce.Error())
	case err != nil:
		return err
	}
	if empty(images) {
		return s.finishFailed(ctx, r, d, meta.ScanUnsupportedImage, DescUnsupported)
	}
	db, err := s.matcher(ctx, images)
	if err != nil {
		return err
	}
	var prev []Finding
	if sc, err := s.meta().GetScan(ctx, r.ID, d); err == nil {
		// Undecodable old findings are dropped, not fatal: the new
		// match replaces them.
		prev, _ = decodeFindings(sc.Findings)
	} else if !errors.Is(err, meta.ErrNotFound) {
		return err
	}
	now := s.now()
	ms := match(db, images)
	mg := merge(prev, ms, now)
	enc, err := encodeFindings(mg.findings)
	if err != nil {
		return err
	}
	counts := ms.counts()
	err = s.meta().FinishScan(ctx, meta.ScanResult{RepoID: r.ID, Digest: d, Status: meta.ScanComplete, Description: DescComplete,
		CompletedAt: now, SourceUpdatedAt: db.UpdatedAt(), Counts: counts, FindingsHash: ms.hash(), Findings: enc})
	if errors.Is(err, meta.ErrNotFound) {
		return nil // deleted while it was scanned
	}
	if err != nil {
		return err
	}
	s.events(ctx, r, d, meta.ScanComplete, counts, mg.newCritical, false)
	return nil
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// empty reports whether cataloguing found nothing at all: no known
// operating system and no package.
func empty(images []imageInventory) bool {
	for _, im := range images {
		if im.Inventory.Distro.ID != "" || len(im.Inventory.Packages) > 0 {
			return false
		}
	}
	return true
}

func (s *Service) finishFailed(ctx context.Context, r meta.Repository, d, status, desc string) error {
	err := s.meta().FinishScan(ctx, meta.ScanResult{RepoID: r.ID, Digest: d, Status: status, Description: desc, CompletedAt: s.now()})
	if errors.Is(err, meta.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.events(ctx, r, d, status, nil, nil, false)
	return nil
}

// catalogue returns the inventories of an image: one for an image
// manifest, one per scanned child of an index (which is stored too, under
// the index's digest, so a rescan needs no child lookups).
func (s *Service) catalogue(ctx context.Context, r meta.Repository, m meta.Manifest) ([]imageInventory, error) {
	p, err := manifest.Parse(m.MediaType, m.Content)
	if err != nil {
		return nil, contentErrorf("manifest: %v", err)
	}
	if !p.IsIndex() {
		if p.Config == nil || !isImageConfig(p.Config.MediaType) {
			return nil, ErrUnsupported
		}
		im, err := s.imageInventory(ctx, target{digest: m.Digest, parsed: p})
		if err != nil {
			return nil, err
		}
		return []imageInventory{im}, nil
	}
	var images []imageInventory
	for _, c := range scanChildren(p) {
		cm, err := s.Registry.GetManifest(ctx, r, names.Reference{Digest: c.Digest})
		if registry.CodeOf(err) == registry.CodeManifestUnknown {
			continue
		}
		if err != nil {
			return nil, err
		}
		cp, err := manifest.Parse(cm.MediaType, cm.Content)
		if err != nil || cp.IsIndex() || cp.Config == nil || !isImageConfig(cp.Config.MediaType) {
			continue // nested indexes and artifacts are not scanned
		}
		t := target{digest: cm.Digest, parsed: cp}
		if c.Platform != nil {
			t.platform = imageConfig{OS: c.Platform.OS, Architecture: c.Platform.Architecture, Variant: c.Platform.Variant}.platform()
		}
		im, err := s.imageInventory(ctx, t)
		if err != nil {
			return nil, err
		}
		images = append(images, im)
	}
	if len(images) == 0 {
		return nil, ErrUnsupported
	}
	rec, err := inventoryRecord(m.Digest, s.InventoryVersion, images)
	if err != nil {
		return nil, err
	}
	if err := s.meta().PutInventory(ctx, rec); err != nil {
		return nil, err
	}
	return images, nil
}

// storeError marks a failure to read a blob (not a missing one): the scan
// is retried rather than failed.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// storeReader marks the read errors of a blob as the store's, so that a
// blob store failing midway is retried rather than taken for a bad layer.
type storeReader struct{ io.ReadCloser }

func (r storeReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &storeError{err}
	}
	return n, err
}

// imageInventory catalogues one image manifest, reusing its stored
// inventory when the same cataloguer made it.
func (s *Service) imageInventory(ctx context.Context, t target) (imageInventory, error) {
	if inv, err := s.meta().GetInventory(ctx, t.digest); err == nil && inv.Version == s.InventoryVersion {
		if ims, err := decodeInventory(inv.Data); err == nil && len(ims) == 1 {
			return ims[0], nil
		}
	} else if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return imageInventory{}, err
	}
	blobs := s.Registry.Blobs()
	cfg, err := readConfig(ctx, blobs, string(t.parsed.Config.Digest))
	if err != nil {
		return imageInventory{}, err
	}
	ls, err := layers(ctx, blobs, t.parsed)
	if err != nil {
		return imageInventory{}, err
	}
	for i := range ls {
		open := ls[i].Open
		ls[i].Open = func(ctx context.Context) (rc io.ReadCloser, err error) {
			rc, err = open(ctx)
			var ce *contentError
			if err != nil && !errors.As(err, &ce) {
				err = &storeError{err}
			}
			if err != nil {
				return nil, err
			}
			return storeReader{rc}, nil
		}
	}
	if s.Extract == nil {
		return imageInventory{}, errors.New("scan: no cataloguer configured")
	}
	inv, err := s.Extract(ctx, ls)
	if err != nil {
		var se *storeError
		var ce *contentError
		if ctx.Err() != nil || errors.As(err, &se) || errors.As(err, &ce) {
			return imageInventory{}, err
		}
		return imageInventory{}, &contentError{fmt.Errorf("cataloguing the layers: %w", err)}
	}
	if p := cfg.platform(); p != "" {
		inv.Platform = p
	} else if inv.Platform == "" {
		inv.Platform = t.platform
	}
	im := imageInventory{Digest: t.digest, Inventory: inv}
	rec, err := inventoryRecord(t.digest, s.InventoryVersion, []imageInventory{im})
	if err != nil {
		return imageInventory{}, err
	}
	if err := s.meta().PutInventory(ctx, rec); err != nil {
		return imageInventory{}, err
	}
	return im, nil
}

// inventoryRecord is the stored inventory of a manifest, with its key set.
func inventoryRecord(digest, version string, images []imageInventory) (meta.Inventory, error) {
	data, err := encodeInventory(images)
	if err != nil {
		return meta.Inventory{}, err
	}
	return meta.Inventory{Digest: digest, Version: version, Data: data, KeySet: keySetOf(images)}, nil
}

// match matches every inventory of an image.
func match(db Matcher, images []imageInventory) *matchSet {
	platforms := make([]string, len(images))
	found := make([][]vulndb.Finding, len(images))
	for i, im := range images {
		platforms[i] = im.Inventory.Platform
		found[i] = db.Match(im.Inventory)
	}
	return newMatchSet(platforms, found)
}

// events records a finished scan: scan.complete, and
// scan.new-critical-findings when it found CRITICAL findings not seen
// before. The findings are stored already, so a failure is only logged.
func (s *Service) events(ctx context.Context, r meta.Repository, d, status string, counts map[string]int, newCritical []string, rescan bool) {
	evs := completeEvents(r, d, status, counts, newCritical, rescan, s.now())
	if _, err := s.meta().AppendAudit(ctx, evs...); err != nil {
		s.log().Warn("scan: recording audit events", "repository", r.Name, "digest", d, "err", err)
	}
}

func completeEvents(r meta.Repository, d, status string, counts map[string]int, newCritical []string, rescan bool, at time.Time) []meta.AuditEvent {
	if counts == nil {
		counts = map[string]int{}
	}
	detail, _ := json.Marshal(struct {
		Status                string         `json:"status"`
		FindingSeverityCounts map[string]int `json:"findingSeverityCounts"`
		Rescan                bool           `json:"rescan,omitempty"`
	}{status, counts, rescan})
	evs := []meta.AuditEvent{{At: at, AccountID: r.AccountID, Repository: r.Name, Action: ActionComplete, Actor: actor, Digest: d, Detail: detail}}
	if len(newCritical) > 0 {
		detail, _ := json.Marshal(struct {
			IDs []string `json:"ids"`
		}{newCritical})
		evs = append(evs, meta.AuditEvent{At: at, AccountID: r.AccountID, Repository: r.Name, Action: ActionNewCritical, Actor: actor, Digest: d, Detail: detail})
	}
	return evs
}

func (s *Service) workers() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return runtime.GOMAXPROCS(0)
}
