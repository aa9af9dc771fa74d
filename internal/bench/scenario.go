package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios lists the scenario names Run accepts.
var Scenarios = []string{"blob-push", "blob-pull", "manifest-get", "pull-storm", "small-push", "tags-list"}

// Config describes one benchmark run. Zero values are replaced by the
// scenario defaults (see Defaults).
type Config struct {
	Scenario string
	Case     string // name of the result row; defaults to the scenario name
	Label    string // registry label written in the result (e.g. "wharf")
	Round    int

	Repo             string        // repository prefix
	Blobs            int           // blob-push, blob-pull: number of blobs
	Size             int64         // blob-push, blob-pull: bytes per blob
	Chunk            int64         // blob-push: 0 = monolithic, else PATCH chunk size
	Concurrency      int           // concurrent clients
	Duration         time.Duration // time-bounded scenarios
	MaxOps           int64         // upper bound on operations of a loop
	Tags             int           // tags-list: tags in the repository
	PageSize         int           // tags-list: ?n= page size, 0 = none
	SetupConcurrency int           // concurrency of setup phases
	ImageSize        int64         // pull-storm: total layer bytes
	Layers           int           // pull-storm: layers
	Seed             uint64        // seed of the pseudo-random blobs
	Verify           bool          // hash downloaded blobs
	SetupOnly        bool          // only create what the scenario needs
	MaxErrors        int64         // stop a loop after this many errors
}

// Defaults returns cfg with the scenario defaults filled in.
func Defaults(cfg Config) Config {
	if cfg.Case == "" {
		cfg.Case = cfg.Scenario
	}
	if cfg.Repo == "" {
		cfg.Repo = "wharf-bench"
	}
	if cfg.Blobs <= 0 {
		cfg.Blobs = 4
	}
	if cfg.Size <= 0 {
		cfg.Size = 256 << 20
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.MaxOps <= 0 {
		cfg.MaxOps = 100_000_000
	}
	if cfg.Tags <= 0 {
		cfg.Tags = 10_000
	}
	if cfg.SetupConcurrency <= 0 {
		cfg.SetupConcurrency = 32
	}
	if cfg.ImageSize <= 0 {
		cfg.ImageSize = 50 << 20
	}
	if cfg.Layers <= 0 {
		cfg.Layers = 5
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = 100
	}
	if cfg.Concurrency <= 0 {
		switch cfg.Scenario {
		case "manifest-get":
			cfg.Concurrency = 64
		case "pull-storm":
			cfg.Concurrency = 200
		case "small-push", "tags-list":
			cfg.Concurrency = 16
		default:
			cfg.Concurrency = 1
		}
	}
	return cfg
}

// Result is the outcome of one run, printed as one JSON line.
type Result struct {
	Scenario   string             `json:"scenario"`
	Case       string             `json:"case"`
	Label      string             `json:"label,omitempty"`
	Round      int                `json:"round,omitempty"`
	URL        string             `json:"url,omitempty"`
	Time       string             `json:"time,omitempty"`
	Params     map[string]any     `json:"params,omitempty"`
	Metrics    map[string]float64 `json:"metrics"`
	Ops        int64              `json:"ops"`
	Errors     int64              `json:"errors"`
	FirstError string             `json:"first_error,omitempty"`
	Summary    string             `json:"summary,omitempty"`
}

// Run executes cfg.Scenario against the registry of c.
func Run(ctx context.Context, c *Client, cfg Config) (*Result, error) {
	cfg = Defaults(cfg)
	r := &Result{
		Scenario: cfg.Scenario,
		Case:     cfg.Case,
		Label:    cfg.Label,
		Round:    cfg.Round,
		URL:      c.BaseURL(),
		Time:     time.Now().UTC().Format(time.RFC3339),
		Params:   map[string]any{},
		Metrics:  map[string]float64{},
	}
	cpu0 := processCPU()
	var err error
	switch cfg.Scenario {
	case "blob-push":
		err = blobPush(ctx, c, cfg, r)
	case "blob-pull":
		err = blobPull(ctx, c, cfg, r)
	case "manifest-get":
		err = manifestGet(ctx, c, cfg, r)
	case "pull-storm":
		err = pullStorm(ctx, c, cfg, r)
	case "small-push":
		err = smallPush(ctx, c, cfg, r)
	case "tags-list":
		err = tagsList(ctx, c, cfg, r)
	default:
		return nil, fmt.Errorf("unknown scenario %q (want one of %s)", cfg.Scenario, strings.Join(Scenarios, ", "))
	}
	if !cfg.SetupOnly {
		// The client's own CPU time tells, next to the server's (scripts/
		// bench.sh adds server_cpu_s), which side bounds a scenario.
		r.Metrics["client_cpu_s"] = (processCPU() - cpu0).Seconds()
	}
	if err != nil {
		return r, err
	}
	if r.Errors > 0 {
		return r, fmt.Errorf("%s: %d errors, first: %s", cfg.Case, r.Errors, r.FirstError)
	}
	return r, nil
}

// repos returns the repositories a scenario uses, for token scopes.
func repos(cfg Config) []string {
	cfg = Defaults(cfg)
	switch cfg.Scenario {
	case "blob-push", "blob-pull":
		return []string{cfg.Repo + "/blobs"}
	case "manifest-get":
		return []string{cfg.Repo + "/manifest"}
	case "pull-storm":
		return []string{cfg.Repo + "/storm"}
	case "small-push":
		return []string{cfg.Repo + "/small"}
	case "tags-list":
		return []string{cfg.Repo + "/tags"}
	}
	return nil
}

// Repos returns the repositories the scenario of cfg touches.
func Repos(cfg Config) []string { return repos(cfg) }

func mbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / d.Seconds()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// errCounter records errors of concurrent workers.
type errCounter struct {
	n     atomic.Int64
	mu    sync.Mutex
	first error
}

func (e *errCounter) add(err error) int64 {
	e.mu.Lock()
	if e.first == nil {
		e.first = err
	}
	e.mu.Unlock()
	return e.n.Add(1)
}

func (e *errCounter) fill(r *Result) {
	r.Errors = e.n.Load()
	if e.first != nil {
		r.FirstError = e.first.Error()
	}
}

// loopStats is the outcome of a timed loop.
type loopStats struct {
	ok        int64
	elapsed   time.Duration
	latencies []time.Duration // sorted
}

// timedLoop runs fn from workers goroutines until d has passed, maxOps
// operations were started, maxErrors errors occurred or ctx is done. In-flight
// operations are allowed to finish; elapsed runs until the last one does.
func timedLoop(ctx context.Context, workers int, d time.Duration, maxOps, maxErrors int64, errs *errCounter,
	fn func(ctx context.Context, worker int, op int64) error) loopStats {
	var (
		started atomic.Int64
		ok      atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		lats    = make([][]time.Duration, workers)
	)
	begin := time.Now()
	deadline := begin.Add(d)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for !stop.Load() && ctx.Err() == nil {
				op := started.Add(1)
				if op > maxOps {
					break
				}
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				err := fn(ctx, w, op)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					if errs.add(err) >= maxErrors {
						stop.Store(true)
					}
					continue
				}
				local = append(local, time.Since(t0))
				ok.Add(1)
			}
			lats[w] = local
		}(w)
	}
	wg.Wait()
	st := loopStats{ok: ok.Load(), elapsed: time.Since(begin)}
	n := 0
	for _, l := range lats {
		n += len(l)
	}
	st.latencies = make([]time.Duration, 0, n)
	for _, l := range lats {
		st.latencies = append(st.latencies, l...)
	}
	SortDurations(st.latencies)
	return st
}

// countLoop runs fn(i) for i in [0, n) from workers goroutines, stopping at
// the first error or when ctx is done.
func countLoop(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func latencyMetrics(r *Result, lats []time.Duration) {
	r.Metrics["p50_ms"] = ms(Percentile(lats, 50))
	r.Metrics["p90_ms"] = ms(Percentile(lats, 90))
	r.Metrics["p99_ms"] = ms(Percentile(lats, 99))
	if len(lats) > 0 {
		r.Metrics["max_ms"] = ms(lats[len(lats)-1])
	}
}

func blobSeeds(cfg Config) []uint64 {
	s := make([]uint64, cfg.Blobs)
	for i := range s {
		s[i] = cfg.Seed*1_000_003 + uint64(i)
	}
	return s
}

// blobDigests computes the digests of the blobs of cfg, in parallel.
func blobDigests(cfg Config) ([]string, time.Duration) {
	t0 := time.Now()
	seeds := blobSeeds(cfg)
	out := make([]string, len(seeds))
	_ = countLoop(context.Background(), 2, len(seeds), func(_ context.Context, i int) error {
		out[i] = Digest(seeds[i], cfg.Size)
		return nil
	})
	return out, time.Since(t0)
}

func blobPush(ctx context.Context, c *Client, cfg Config, r *Result) error {
	repo := cfg.Repo + "/blobs"
	r.Params["repo"] = repo
	r.Params["blobs"] = cfg.Blobs
	r.Params["size"] = FormatSize(cfg.Size)
	r.Params["chunk"] = FormatSize(cfg.Chunk)
	r.Params["concurrency"] = cfg.Concurrency
	seeds := blobSeeds(cfg)
	digests, dt := blobDigests(cfg)
	r.Params["digest_seconds"] = dt.Seconds()
	if cfg.SetupOnly {
		r.Summary = "blob-push: nothing to set up"
		return nil
	}
	var errs errCounter
	t0 := time.Now()
	var done atomic.Int64
	err := countLoop(ctx, cfg.Concurrency, cfg.Blobs, func(ctx context.Context, i int) error {
		if err := c.PushBlob(ctx, repo, digests[i], cfg.Size, NewRandReader(seeds[i], cfg.Size), cfg.Chunk); err != nil {
			errs.add(err)
			return err
		}
		done.Add(1)
		return nil
	})
	el := time.Since(t0)
	errs.fill(r)
	if err != nil && r.Errors == 0 {
		return err
	}
	bytes := done.Load() * cfg.Size
	r.Ops = done.Load()
	r.Metrics["seconds"] = el.Seconds()
	r.Metrics["bytes"] = float64(bytes)
	r.Metrics["mb_per_s"] = mbps(bytes, el)
	mode := "monolithic"
	if cfg.Chunk > 0 {
		mode = "chunks of " + FormatSize(cfg.Chunk)
	}
	r.Summary = fmt.Sprintf("%s: pushed %d x %s (%s) in %.2fs = %.1f MB/s", cfg.Case, r.Ops, FormatSize(cfg.Size), mode, el.Seconds(), r.Metrics["mb_per_s"])
	return nil
}

func blobPull(ctx context.Context, c *Client, cfg Config, r *Result) error {
	repo := cfg.Repo + "/blobs"
	r.Params["repo"] = repo
	r.Params["blobs"] = cfg.Blobs
	r.Params["size"] = FormatSize(cfg.Size)
	r.Params["concurrency"] = cfg.Concurrency
	r.Params["verify"] = cfg.Verify
	seeds := blobSeeds(cfg)
	digests, _ := blobDigests(cfg)
	pushed := 0
	for i, d := range digests {
		ok, n, err := c.HeadBlob(ctx, repo, d)
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if ok && (n == cfg.Size || n == 0) {
			continue
		}
		if err := c.PushBlob(ctx, repo, d, cfg.Size, NewRandReader(seeds[i], cfg.Size), 0); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		pushed++
	}
	r.Params["pushed_first"] = pushed
	if cfg.SetupOnly {
		r.Summary = fmt.Sprintf("blob-pull: set up %d blobs (%d pushed)", cfg.Blobs, pushed)
		return nil
	}
	var errs errCounter
	var done atomic.Int64
	bufs := sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
	t0 := time.Now()
	err := countLoop(ctx, cfg.Concurrency, cfg.Blobs, func(ctx context.Context, i int) error {
		buf := bufs.Get().(*[]byte)
		defer bufs.Put(buf)
		if _, err := c.GetBlob(ctx, repo, digests[i], cfg.Size, cfg.Verify, *buf); err != nil {
			errs.add(err)
			return err
		}
		done.Add(1)
		return nil
	})
	el := time.Since(t0)
	errs.fill(r)
	if err != nil && r.Errors == 0 {
		return err
	}
	bytes := done.Load() * cfg.Size
	r.Ops = done.Load()
	r.Metrics["seconds"] = el.Seconds()
	r.Metrics["bytes"] = float64(bytes)
	r.Metrics["mb_per_s"] = mbps(bytes, el)
	r.Summary = fmt.Sprintf("%s: pulled %d x %s in %.2fs = %.1f MB/s (verify=%v)", cfg.Case, r.Ops, FormatSize(cfg.Size), el.Seconds(), r.Metrics["mb_per_s"], cfg.Verify)
	return nil
}

// smallImage returns a tiny image with n layers of 1-3 KiB, unique per seed.
func smallImage(seed uint64, n int, label string) *Image {
	layers := make([]Layer, n)
	for i := range layers {
		s := splitmix64(seed*31 + uint64(i))
		size := 1024 + int(s%2048)
		b := make([]byte, size)
		_, _ = io.ReadFull(NewRandReader(s, int64(size)), b)
		layers[i] = Layer{Data: b}
	}
	return NewImage(label, layers)
}

func manifestGet(ctx context.Context, c *Client, cfg Config, r *Result) error {
	repo := cfg.Repo + "/manifest"
	tag := "latest"
	r.Params["repo"] = repo
	r.Params["concurrency"] = cfg.Concurrency
	r.Params["duration_s"] = cfg.Duration.Seconds()
	img := smallImage(cfg.Seed, 1, "manifest-get")
	if err := c.PushImage(ctx, repo, tag, img, PushOptions{HeadFirst: true}); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if cfg.SetupOnly {
		r.Summary = "manifest-get: image pushed"
		return nil
	}
	want := img.Manifest
	var errs errCounter
	bufs := make([]bytes.Buffer, cfg.Concurrency)
	st := timedLoop(ctx, cfg.Concurrency, cfg.Duration, cfg.MaxOps, cfg.MaxErrors, &errs, func(ctx context.Context, w int, _ int64) error {
		body, _, err := c.GetManifest(ctx, repo, tag, DockerAccept, &bufs[w])
		if err != nil {
			return err
		}
		if !bytes.Equal(body, want) {
			return fmt.Errorf("GET manifest %s:%s: unexpected body (%d bytes)", repo, tag, len(body))
		}
		return nil
	})
	errs.fill(r)
	r.Ops = st.ok
	r.Metrics["seconds"] = st.elapsed.Seconds()
	r.Metrics["req_per_s"] = float64(st.ok) / st.elapsed.Seconds()
	latencyMetrics(r, st.latencies)
	r.Summary = fmt.Sprintf("%s: %d GETs by %d clients in %.2fs = %.0f req/s, p50 %.2fms p90 %.2fms p99 %.2fms",
		cfg.Case, st.ok, cfg.Concurrency, st.elapsed.Seconds(), r.Metrics["req_per_s"], r.Metrics["p50_ms"], r.Metrics["p90_ms"], r.Metrics["p99_ms"])
	return nil
}

func stormImage(cfg Config) *Image {
	layers := make([]Layer, cfg.Layers)
	per := cfg.ImageSize / int64(cfg.Layers)
	for i := range layers {
		size := per
		if i == len(layers)-1 {
			size = cfg.ImageSize - per*int64(cfg.Layers-1)
		}
		layers[i] = Layer{Seed: cfg.Seed*7_000_003 + uint64(i), Size: size}
	}
	return NewImage("pull-storm", layers)
}

func pullStorm(ctx context.Context, c *Client, cfg Config, r *Result) error {
	repo := cfg.Repo + "/storm"
	tag := "storm"
	r.Params["repo"] = repo
	r.Params["clients"] = cfg.Concurrency
	r.Params["layers"] = cfg.Layers
	r.Params["image_size"] = FormatSize(cfg.ImageSize)
	r.Params["verify"] = cfg.Verify
	img := stormImage(cfg)
	if err := c.PushImage(ctx, repo, tag, img, PushOptions{HeadFirst: true}); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if cfg.SetupOnly {
		r.Summary = "pull-storm: image pushed"
		return nil
	}
	var (
		errs     errCounter
		wg       sync.WaitGroup
		start    = make(chan struct{})
		ready    sync.WaitGroup
		total    atomic.Int64
		okCount  atomic.Int64
		perPull  = make([]time.Duration, cfg.Concurrency)
		pullOnce = func(ctx context.Context, buf []byte, mbuf *bytes.Buffer) error {
			body, _, err := c.GetManifest(ctx, repo, tag, DockerAccept, mbuf)
			if err != nil {
				return err
			}
			var m Manifest
			if err := json.Unmarshal(body, &m); err != nil {
				return fmt.Errorf("manifest: %w", err)
			}
			for _, d := range append([]Descriptor{m.Config}, m.Layers...) {
				n, err := c.GetBlob(ctx, repo, d.Digest, d.Size, cfg.Verify, buf)
				total.Add(n)
				if err != nil {
					return err
				}
			}
			return nil
		}
	)
	ready.Add(cfg.Concurrency)
	for i := 0; i < cfg.Concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			buf := make([]byte, 128<<10)
			var mbuf bytes.Buffer
			ready.Done()
			<-start
			t0 := time.Now()
			if err := pullOnce(ctx, buf, &mbuf); err != nil {
				errs.add(err)
				return
			}
			perPull[i] = time.Since(t0)
			okCount.Add(1)
		}(i)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	errs.fill(r)
	r.Ops = okCount.Load()
	var lats []time.Duration
	for _, d := range perPull {
		if d > 0 {
			lats = append(lats, d)
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	r.Metrics["seconds"] = el.Seconds()
	r.Metrics["bytes"] = float64(total.Load())
	r.Metrics["mb_per_s"] = mbps(total.Load(), el)
	r.Metrics["pull_p50_s"] = Percentile(lats, 50).Seconds()
	r.Metrics["pull_p99_s"] = Percentile(lats, 99).Seconds()
	r.Summary = fmt.Sprintf("%s: %d clients pulled %s (%d layers) in %.2fs total (%.0f MB/s, per-pull p50 %.2fs p99 %.2fs)",
		cfg.Case, r.Ops, FormatSize(img.TotalSize()), cfg.Layers, el.Seconds(), r.Metrics["mb_per_s"], r.Metrics["pull_p50_s"], r.Metrics["pull_p99_s"])
	return nil
}

func smallPush(ctx context.Context, c *Client, cfg Config, r *Result) error {
	repo := cfg.Repo + "/small"
	r.Params["repo"] = repo
	r.Params["concurrency"] = cfg.Concurrency
	r.Params["duration_s"] = cfg.Duration.Seconds()
	if cfg.SetupOnly {
		r.Summary = "small-push: nothing to set up"
		return nil
	}
	// A run nonce keeps the blobs of two runs against the same registry
	// distinct, so that every image really uploads its 4 blobs.
	nonce := uint64(time.Now().UnixNano())
	var errs errCounter
	st := timedLoop(ctx, cfg.Concurrency, cfg.Duration, cfg.MaxOps, cfg.MaxErrors, &errs, func(ctx context.Context, w int, op int64) error {
		tag := fmt.Sprintf("w%d-%d", w, op)
		img := smallImage(nonce^splitmix64(uint64(op)), 3, tag)
		return c.PushImage(ctx, repo, tag, img, PushOptions{HeadFirst: true})
	})
	errs.fill(r)
	r.Ops = st.ok
	r.Metrics["seconds"] = st.elapsed.Seconds()
	r.Metrics["images_per_s"] = float64(st.ok) / st.elapsed.Seconds()
	latencyMetrics(r, st.latencies)
	r.Summary = fmt.Sprintf("%s: %d images (3 layers + config + manifest) by %d clients in %.2fs = %.1f images/s, p50 %.1fms p99 %.1fms",
		cfg.Case, st.ok, cfg.Concurrency, st.elapsed.Seconds(), r.Metrics["images_per_s"], r.Metrics["p50_ms"], r.Metrics["p99_ms"])
	return nil
}

// TagName returns the i-th tag of the tags-list repository.
func TagName(i int) string { return fmt.Sprintf("t%05d", i) }

func tagsList(ctx context.Context, c *Client, cfg Config, r *Result) error {
	repo := cfg.Repo + "/tags"
	r.Params["repo"] = repo
	r.Params["tags"] = cfg.Tags
	r.Params["concurrency"] = cfg.Concurrency
	r.Params["duration_s"] = cfg.Duration.Seconds()
	maxPages := cfg.Tags + 10
	// Setup: find which tags exist, then tag the manifest under the others.
	have := map[string]bool{}
	_, err := c.ListTags(ctx, repo, 0, maxPages, true, nil, func(_ int, tags []string) {
		for _, t := range tags {
			have[t] = true
		}
	})
	if err != nil && !IsStatus(err, 404) {
		return fmt.Errorf("setup: %w", err)
	}
	var missing []string
	for i := 0; i < cfg.Tags; i++ {
		if t := TagName(i); !have[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		img := smallImage(cfg.Seed, 1, "tags-list")
		if err := c.PushImage(ctx, repo, missing[0], img, PushOptions{HeadFirst: true}); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		t0 := time.Now()
		err := countLoop(ctx, cfg.SetupConcurrency, len(missing)-1, func(ctx context.Context, i int) error {
			_, err := c.PutManifest(ctx, repo, missing[i+1], MediaTypeOCIManifest, img.Manifest)
			return err
		})
		if err != nil {
			return fmt.Errorf("setup: tagging: %w", err)
		}
		r.Params["setup_tag_puts_per_s"] = float64(len(missing)) / time.Since(t0).Seconds()
	}
	r.Params["tags_created"] = len(missing)
	want := len(have) + len(missing)
	if cfg.SetupOnly {
		r.Summary = fmt.Sprintf("tags-list: %d tags present (%d created)", want, len(missing))
		return nil
	}
	var errs errCounter
	var pages atomic.Int64
	bufs := make([]bytes.Buffer, cfg.Concurrency)
	st := timedLoop(ctx, cfg.Concurrency, cfg.Duration, cfg.MaxOps, cfg.MaxErrors, &errs, func(ctx context.Context, w int, _ int64) error {
		n, err := c.ListTags(ctx, repo, cfg.PageSize, maxPages, false, &bufs[w], func(int, []string) { pages.Add(1) })
		if err != nil {
			return err
		}
		if n < want {
			return fmt.Errorf("tags list of %s: %d tags, want at least %d", repo, n, want)
		}
		return nil
	})
	errs.fill(r)
	r.Ops = st.ok
	r.Metrics["seconds"] = st.elapsed.Seconds()
	r.Metrics["req_per_s"] = float64(st.ok) / st.elapsed.Seconds()
	r.Metrics["pages_per_list"] = float64(pages.Load()) / float64(max(st.ok+r.Errors, 1))
	latencyMetrics(r, st.latencies)
	r.Summary = fmt.Sprintf("%s: %d full lists of %d tags by %d clients in %.2fs = %.0f lists/s (%.1f pages each), p50 %.2fms p99 %.2fms",
		cfg.Case, st.ok, want, cfg.Concurrency, st.elapsed.Seconds(), r.Metrics["req_per_s"], r.Metrics["pages_per_list"], r.Metrics["p50_ms"], r.Metrics["p99_ms"])
	return nil
}
