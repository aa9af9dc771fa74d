package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wharfhq/wharf/internal/registry/manifest"
	"github.com/wharfhq/wharf/internal/scan/vulndb"
	"github.com/wharfhq/wharf/internal/store/meta"
)

// pruneAge is how old an unused inventory must be before it is deleted: a
// scan in progress stores its inventory before its findings.
const pruneAge = time.Hour

// MaxTargetedKeys is the most package keys a targeted rescan carries: an
// import touching more (a first import, a whole ecosystem's archive)
// queues a full rescan, which costs about as much and keeps the job small.
const MaxTargetedKeys = 2000

// rescanPayload is the payload of a KindRescan job.
type rescanPayload struct {
	// Account limits the rescan to one account ("" for all).
	Account string `json:"account,omitempty"`
	// Targeted limits re-matching to the inventories with one of the
	// Touched package keys (those of unknown keys, and images coming back
	// from an expired eligibility, are re-matched too); false: all.
	Targeted bool                `json:"targeted,omitempty"`
	Touched  []vulndb.PackageKey `json:"touched,omitempty"`
}

// EnqueueRescan queues a rescan of the images under continuous scanning
// (of one account, or of all when account is ""): call it after new
// vulnerability data is imported. Each call queues its own job (its key
// carries the time), so a rescan already running with older data does not
// swallow the request.
func EnqueueRescan(ctx context.Context, js meta.JobStore, account string, at time.Time) error {
	return enqueueRescan(ctx, js, rescanPayload{Account: account}, at)
}

// EnqueueTargetedRescan queues a rescan that re-matches only the images
// whose packages an import touched (vulndb.ImportReport.Touched); nil
// touched (unknown) or more than MaxTargetedKeys queue a full rescan. An
// empty, non-nil touched re-matches nothing but still applies scan
// eligibility.
func EnqueueTargetedRescan(ctx context.Context, js meta.JobStore, account string, at time.Time, touched []vulndb.PackageKey) error {
	p := rescanPayload{Account: account}
	if touched != nil && len(touched) <= MaxTargetedKeys {
		p.Targeted, p.Touched = true, touched
	}
	return enqueueRescan(ctx, js, p, at)
}

func enqueueRescan(ctx context.Context, js meta.JobStore, p rescanPayload, at time.Time) error {
	payload, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, _, err = js.Enqueue(ctx, meta.Job{Kind: KindRescan, Key: "rescan:" + p.Account + ":" + strconv.FormatInt(at.UnixNano(), 10), Payload: payload})
	return err
}

// RescanStats summarizes a rescan.
type RescanStats struct {
	Repositories int // under continuous scanning
	Images       int // re-matched
	Skipped      int // left alone by a targeted rescan: untouched packages
	Expired      int // newly marked SCAN_ELIGIBILITY_EXPIRED
	Changed      int // whose findings changed
	NewCritical  int // images with CRITICAL findings not seen before
	Queued       int // images never scanned, queued for a scan
	Pruned       int64
}

// HandleRescan runs a KindRescan job (a jobs.Handler).
func (s *Service) HandleRescan(ctx context.Context, j meta.Job) error {
	var p rescanPayload
	if len(j.Payload) > 0 {
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			s.log().Error("rescan job with a bad payload dropped", "job", j.ID, "err", err)
			return nil
		}
	}
	start := time.Now()
	var t touchedSet
	if p.Targeted {
		t = newTouchedSet(p.Touched)
	}
	st, err := s.rescan(ctx, p.Account, t)
	if err != nil {
		return err
	}
	s.log().Info("rescan done", "job", j.ID, "account", p.Account, "targeted", p.Targeted, "touched", len(p.Touched),
		"repositories", st.Repositories, "images", st.Images, "skipped", st.Skipped, "expired", st.Expired, "changed", st.Changed, "new_critical", st.NewCritical, "queued", st.Queued, "pruned", st.Pruned, "took", time.Since(start))
	return nil
}

// HandleEligibility runs a KindEligibility job: for each account whose
// eligibility is limited, a rescan that touches no package, so that it
// only marks the images whose eligibility lapsed and brings back those
// active again. Under the default (LIFETIME) nothing can lapse, and a
// change of the setting queues its own rescan.
func (s *Service) HandleEligibility(ctx context.Context, j meta.Job) error {
	accounts, err := s.meta().ListAccounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		el, err := LoadEligibility(ctx, s.meta(), a.ID)
		if err != nil {
			return err
		}
		if !el.Limited() {
			continue
		}
		st, err := s.RescanTouched(ctx, a.ID, []vulndb.PackageKey{})
		if err != nil {
			return err
		}
		if st.Expired > 0 || st.Images > 0 {
			s.log().Info("scan eligibility applied", "job", j.ID, "account", a.ID, "expired", st.Expired, "rematched", st.Images)
		}
	}
	return nil
}

// HandlePrune runs a KindPrune job.
func (s *Service) HandlePrune(ctx context.Context, _ meta.Job) error {
	_, err := s.meta().PruneInventories(ctx, s.now().Add(-pruneAge), 0)
	return err
}

// Rescan loads the vulnerability data afresh and re-matches the stored
// inventory of every completed scan under continuous scanning (enhanced
// mode, repositories a CONTINUOUS_SCAN rule selects), in batches: findings
// keep their first observation, those no longer reported become CLOSED.
// Images of those repositories that were never scanned are queued for a
// scan. account limits it to one account ("" for all). Images whose scan
// eligibility lapsed (see Eligibility) are marked and left alone.
func (s *Service) Rescan(ctx context.Context, account string) (RescanStats, error) {
	return s.rescan(ctx, account, nil)
}

// RescanTouched is Rescan limited to the images whose stored inventory
// has packages with one of the touched keys (an import's
// ImportReport.Touched): the others keep their findings and times, and
// their inventories are not read. Inventories stored before key sets were
// kept, and images eligible again after their eligibility lapsed, are
// re-matched whatever was touched. Nil or empty touched re-matches only
// those, and applies scan eligibility.
func (s *Service) RescanTouched(ctx context.Context, account string, touched []vulndb.PackageKey) (RescanStats, error) {
	return s.rescan(ctx, account, newTouchedSet(touched))
}

// rescan re-matches everything when touched is nil.
func (s *Service) rescan(ctx context.Context, account string, touched touchedSet) (RescanStats, error) {
	var st RescanStats
	// The data is loaded when the first image is to be matched: a
	// targeted rescan that meets no image (or one of an account without
	// continuous scanning) does not pay for it.
	var (
		once    sync.Once
		db      Matcher
		loadErr error
	)
	load := func() (Matcher, error) {
		once.Do(func() {
			full, err := s.matcher(ctx, nil)
			if err != nil {
				loadErr = err
				return
			}
			db = newMemoMatcher(full)
		})
		return db, loadErr
	}
	var accounts []string
	if account != "" {
		accounts = []string{account}
	} else {
		all, err := s.meta().ListAccounts(ctx)
		if err != nil {
			return st, err
		}
		for _, a := range all {
			accounts = append(accounts, a.ID)
		}
	}
	for _, a := range accounts {
		c, err := LoadConfig(ctx, s.meta(), a)
		if err != nil {
			return st, err
		}
		if !c.HasContinuous() {
			continue
		}
		el, err := LoadEligibility(ctx, s.meta(), a)
		if err != nil {
			return st, err
		}
		active := el.Active(s.now())
		for after := ""; ; {
			repos, err := s.meta().ListRepositories(ctx, a, after, 500)
			if err != nil {
				return st, err
			}
			for _, r := range repos {
				if !c.Continuous(r) {
					continue
				}
				st.Repositories++
				n, err := s.meta().ExpireScans(ctx, r.ID, active, s.now())
				if err != nil {
					return st, fmt.Errorf("scan: rescan of %s: %w", r.Name, err)
				}
				st.Expired += int(n)
				if err := s.rematchRepo(ctx, r, load, active, touched, &st); err != nil {
					return st, fmt.Errorf("scan: rescan of %s: %w", r.Name, err)
				}
				if err := s.queueUnscanned(ctx, r, &st); err != nil {
					return st, fmt.Errorf("scan: rescan of %s: %w", r.Name, err)
				}
			}
			if len(repos) < 500 {
				break
			}
			after = repos[len(repos)-1].Name
		}
	}
	n, err := s.meta().PruneInventories(ctx, s.now().Add(-pruneAge), 0)
	if err != nil {
		return st, err
	}
	st.Pruned = n
	return st, nil
}

// rematched is the outcome of re-matching one image.
type rematched struct {
	digest string
	res    meta.ScanResult
	events []meta.AuditEvent
	// keySet is the inventory's, computed when the store had none.
	keySet []byte
	err    error
}

// rematchRepo re-matches the completed scans of a repository, a batch per
// store round trip, as a pipeline: while the workers match one batch, the
// next is read and the previous one written (in one transaction), so the
// store's latency does not idle the cores. A targeted rescan (touched not
// nil) first lists the scans' key sets only and reads the inventories and
// findings of those it re-matches.
func (s *Service) rematchRepo(ctx context.Context, r meta.Repository, load func() (Matcher, error), active meta.ActiveSince,
	touched touchedSet, st *RescanStats) error {
	batch := s.RescanBatch
	if batch <= 0 {
		batch = 200
	}
	g, ctx := errgroup.WithContext(ctx)
	reads := make(chan []meta.RematchItem, 1)
	writes := make(chan []rematched, 1)
	send := func(items []meta.RematchItem) error {
		if len(items) == 0 {
			return nil
		}
		select {
		case reads <- items:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	g.Go(func() error {
		defer close(reads)
		if touched != nil {
			return s.readTouched(ctx, r, active, touched, batch, send, st)
		}
		for after := ""; ; {
			items, err := s.meta().ListRematch(ctx, meta.RematchQuery{RepoID: r.ID, After: after, Limit: batch, Active: active})
			if err != nil {
				return err
			}
			if err := send(items); err != nil {
				return err
			}
			if len(items) < batch {
				return nil
			}
			after = items[len(items)-1].Scan.Digest
		}
	})
	g.Go(func() error {
		defer close(writes)
		for items := range reads {
			db, err := load()
			if err != nil {
				return err
			}
			now := s.now()
			out := make([]rematched, len(items))
			var wg sync.WaitGroup
			next := make(chan int)
			for w := 0; w < min(s.workers(), len(items)); w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						out[i] = rematchOne(r, items[i], db, now)
					}
				}()
			}
			for i := range items {
				next <- i
			}
			close(next)
			wg.Wait()
			select {
			case writes <- out:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error {
		for out := range writes {
			results := make([]meta.ScanResult, 0, len(out))
			var evs []meta.AuditEvent
			var sets map[string][]byte
			for _, o := range out {
				if o.keySet != nil {
					if sets == nil {
						sets = map[string][]byte{}
					}
					sets[o.digest] = o.keySet
				}
				if o.err != nil {
					// A stored inventory that no longer decodes is
					// rebuilt by the image's next scan; the rescan goes on.
					s.log().Warn("rescan: skipping an image", "repository", r.Name, "digest", o.digest, "err", o.err)
					continue
				}
				results = append(results, o.res)
				evs = append(evs, o.events...)
				if !o.res.Unchanged {
					st.Changed++
				}
				if len(o.events) > 1 {
					st.NewCritical++
				}
			}
			if _, err := s.meta().PutRematch(ctx, results); err != nil {
				return err
			}
			// Inventories stored before key sets were kept get theirs,
			// so the next targeted rescan can skip them.
			if err := s.meta().PutInventoryKeySets(ctx, sets); err != nil {
				s.log().Warn("rescan: storing key sets", "repository", r.Name, "err", err)
			}
			if len(evs) > 0 {
				if _, err := s.meta().AppendAudit(ctx, evs...); err != nil {
					s.log().Warn("rescan: recording audit events", "repository", r.Name, "err", err)
				}
			}
			st.Images += len(results)
		}
		return nil
	})
	return g.Wait()
}

// rematchOne re-matches one stored inventory. When the match is what the
// previous one found (same hash), only the scan's times move; otherwise
// the findings are merged and rewritten, with events.
func rematchOne(r meta.Repository, it meta.RematchItem, db Matcher, now time.Time) rematched {
	out := rematchMatch(r, it, db, now)
	if it.Inventory.KeySet == nil && out.err == nil {
		if images, err := decodeInventory(it.Inventory.Data); err == nil {
			out.keySet = keySetOf(images)
		}
	}
	out.digest = it.Scan.Digest
	return out
}

func rematchMatch(r meta.Repository, it meta.RematchItem, db Matcher, now time.Time) rematched {
	images, err := decodeInventory(it.Inventory.Data)
	if err != nil {
		return rematched{digest: it.Scan.Digest, err: err}
	}
	sc := it.Scan
	ms := match(db, images)
	h := ms.hash()
	base := meta.ScanResult{RepoID: sc.RepoID, Digest: sc.Digest, CompletedAt: now, SourceUpdatedAt: db.UpdatedAt(), IfCompletedAt: sc.CompletedAt}
	if h == sc.FindingsHash {
		base.Unchanged = true
		return rematched{res: base}
	}
	prev, err := decodeFindings(sc.Findings)
	if err != nil {
		prev = nil // replaced by this match
	}
	mg := merge(prev, ms, now)
	enc, err := encodeFindings(mg.findings)
	if err != nil {
		return rematched{digest: sc.Digest, err: err}
	}
	counts := ms.counts()
	base.Status, base.Description = meta.ScanComplete, DescComplete
	base.Counts, base.FindingsHash, base.Findings = counts, h, enc
	return rematched{res: base, events: completeEvents(r, sc.Digest, meta.ScanComplete, counts, mg.newCritical, true, now)}
}

// readTouched feeds a targeted rescan: it pages through the key sets of
// the repository's active completed scans and reads, a batch at a time,
// the scans whose inventory meets touched, those with unknown key sets
// and those marked expired (eligible again: their findings are stale).
func (s *Service) readTouched(ctx context.Context, r meta.Repository, active meta.ActiveSince, touched touchedSet, batch int,
	send func([]meta.RematchItem) error, st *RescanStats) error {
	const page = 2000
	var want []string
	flush := func() error {
		if len(want) == 0 {
			return nil
		}
		items, err := s.meta().ListRematch(ctx, meta.RematchQuery{RepoID: r.ID, Digests: want, Active: active})
		if err != nil {
			return err
		}
		want = want[:0:0]
		return send(items)
	}
	for after := ""; ; {
		keys, err := s.meta().ListRematchKeys(ctx, meta.RematchQuery{RepoID: r.ID, After: after, Limit: page, Active: active})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if !k.Expired && !touched.meets(k.KeySet) {
				st.Skipped++
				continue
			}
			want = append(want, k.Digest)
			if len(want) >= batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if len(keys) < page {
			return flush()
		}
		after = keys[len(keys)-1].Digest
	}
}

// queueUnscanned queues a scan of every image of a repository under
// continuous scanning that has none (pushed before the rule applied).
func (s *Service) queueUnscanned(ctx context.Context, r meta.Repository, st *RescanStats) error {
	for after := ""; ; {
		ims, err := s.meta().ListImages(ctx, r.ID, after, 500)
		if err != nil {
			return err
		}
		digests := make([]string, len(ims))
		for i, im := range ims {
			digests[i] = im.Digest
		}
		scans, err := s.meta().GetScans(ctx, r.ID, digests)
		if err != nil {
			return err
		}
		for _, im := range ims {
			if _, ok := scans[im.Digest]; ok {
				continue
			}
			// The listing omits content: an index is queued and its
			// scan decides (UNSUPPORTED_IMAGE when it has no image).
			switch im.MediaType {
			case manifest.OCIIndex, manifest.DockerManifestList:
			default:
				if !Scannable(im.Manifest) {
					continue
				}
			}
			queued, err := s.Queue(ctx, r, im.Digest, Request{IfUnscanned: true})
			if err != nil && !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			if queued {
				st.Queued++
			}
		}
		if len(ims) < 500 {
			return nil
		}
		after = ims[len(ims)-1].Digest
	}
}
