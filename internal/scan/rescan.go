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
	"github.com/wharfhq/wharf/internal/store/meta"
)

// pruneAge is how old an unused inventory must be before it is deleted: a
// scan in progress stores its inventory before its findings.
const pruneAge = time.Hour

// rescanPayload is the payload of a KindRescan job.
type rescanPayload struct {
	// Account limits the rescan to one account ("" for all).
	Account string `json:"account,omitempty"`
}

// EnqueueRescan queues a rescan of the images under continuous scanning
// (of one account, or of all when account is ""): call it after new
// vulnerability data is imported. Each call queues its own job (its key
// carries the time), so a rescan already running with older data does not
// swallow the request.
func EnqueueRescan(ctx context.Context, js meta.JobStore, account string, at time.Time) error {
	payload, err := json.Marshal(rescanPayload{Account: account})
	if err != nil {
		return err
	}
	_, _, err = js.Enqueue(ctx, meta.Job{Kind: KindRescan, Key: "rescan:" + account + ":" + strconv.FormatInt(at.UnixNano(), 10), Payload: payload})
	return err
}

// RescanStats summarizes a rescan.
type RescanStats struct {
	Repositories int // under continuous scanning
	Images       int // re-matched
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
	st, err := s.Rescan(ctx, p.Account)
	if err != nil {
		return err
	}
	s.log().Info("rescan done", "job", j.ID, "account", p.Account, "repositories", st.Repositories, "images", st.Images,
		"changed", st.Changed, "new_critical", st.NewCritical, "queued", st.Queued, "pruned", st.Pruned, "took", time.Since(start))
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
// scan. account limits it to one account ("" for all).
func (s *Service) Rescan(ctx context.Context, account string) (RescanStats, error) {
	var st RescanStats
	full, err := s.matcher(ctx, nil)
	if err != nil {
		return st, err
	}
	db := newMemoMatcher(full)
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
				if err := s.rematchRepo(ctx, r, db, &st); err != nil {
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
	err    error
}

// rematchRepo re-matches the completed scans of a repository, a batch per
// store round trip, as a pipeline: while the workers match one batch, the
// next is read and the previous one written (in one transaction), so the
// store's latency does not idle the cores.
func (s *Service) rematchRepo(ctx context.Context, r meta.Repository, db Matcher, st *RescanStats) error {
	batch := s.RescanBatch
	if batch <= 0 {
		batch = 200
	}
	g, ctx := errgroup.WithContext(ctx)
	reads := make(chan []meta.RematchItem, 1)
	writes := make(chan []rematched, 1)
	g.Go(func() error {
		defer close(reads)
		for after := ""; ; {
			items, err := s.meta().ListRematch(ctx, r.ID, after, batch)
			if err != nil {
				return err
			}
			if len(items) > 0 {
				select {
				case reads <- items:
				case <-ctx.Done():
					return ctx.Err()
				}
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
			for _, o := range out {
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
