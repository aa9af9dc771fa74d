// Package app wires configuration, stores, services, HTTP handlers and
// background workers into a running server. It holds no domain logic.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfhq/wharf/internal/access"
	"github.com/wharfhq/wharf/internal/access/sigv4"
	"github.com/wharfhq/wharf/internal/access/token"
	"github.com/wharfhq/wharf/internal/awsjson"
	"github.com/wharfhq/wharf/internal/config"
	"github.com/wharfhq/wharf/internal/gc"
	"github.com/wharfhq/wharf/internal/httpapi/ecr"
	"github.com/wharfhq/wharf/internal/httpapi/guard"
	"github.com/wharfhq/wharf/internal/httpapi/middleware"
	"github.com/wharfhq/wharf/internal/httpapi/oci"
	"github.com/wharfhq/wharf/internal/httpapi/wharfapi"
	"github.com/wharfhq/wharf/internal/jobs"
	lcrunner "github.com/wharfhq/wharf/internal/lifecycle/runner"
	"github.com/wharfhq/wharf/internal/registry"
	"github.com/wharfhq/wharf/internal/scan"
	"github.com/wharfhq/wharf/internal/scan/gate"
	"github.com/wharfhq/wharf/internal/scan/sbomsvc"
	"github.com/wharfhq/wharf/internal/scan/suppress"
	"github.com/wharfhq/wharf/internal/store/blob"
	"github.com/wharfhq/wharf/internal/store/blob/fs"
	"github.com/wharfhq/wharf/internal/store/blob/s3"
	"github.com/wharfhq/wharf/internal/store/meta"
	"github.com/wharfhq/wharf/internal/store/meta/sqlstore"
)

// Stores are the opened storage engines.
type Stores struct {
	Meta  meta.Store
	Blobs blob.Store
}

// OpenStores opens the embedded engines under the data directory.
func OpenStores(ctx context.Context, cfg config.Config) (Stores, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return Stores{}, err
	}
	m, err := openMetadata(ctx, cfg)
	if err != nil {
		return Stores{}, fmt.Errorf("opening metadata: %w", err)
	}
	b, err := openBlobs(ctx, cfg)
	if err != nil {
		m.Close()
		return Stores{}, fmt.Errorf("opening blob store: %w", err)
	}
	return Stores{Meta: m, Blobs: b}, nil
}

// openMetadata opens the configured metadata store: the embedded SQLite
// database by default, PostgreSQL for a postgres:// URL.
func openMetadata(ctx context.Context, cfg config.Config) (meta.Store, error) {
	switch {
	case cfg.Metadata == "":
		return sqlstore.OpenSQLiteWith(ctx, filepath.Join(cfg.DataDir, "meta.db"), sqlstore.SQLiteOptions{FullSync: cfg.Fsync})
	case strings.HasPrefix(cfg.Metadata, "postgres://"), strings.HasPrefix(cfg.Metadata, "postgresql://"):
		return sqlstore.OpenPostgres(ctx, cfg.Metadata)
	}
	return nil, fmt.Errorf("unsupported metadata store %q (want empty for the embedded default, or postgres://...)", cfg.Metadata)
}

// openBlobs opens the configured blob store: the filesystem under the data
// directory by default, S3 (or any S3-compatible server) for an s3:// URL.
func openBlobs(ctx context.Context, cfg config.Config) (blob.Store, error) {
	switch {
	case cfg.Blobs == "":
		return fs.NewWithOptions(cfg.DataDir, fs.Options{NoSync: !cfg.Fsync})
	case strings.HasPrefix(cfg.Blobs, "s3://"):
		sc, err := s3.ParseURL(cfg.Blobs)
		if err != nil {
			return nil, err
		}
		return s3.New(ctx, sc)
	}
	return nil, fmt.Errorf("unsupported blob store %q (want empty for the embedded default, or s3://bucket/prefix?endpoint=...)", cfg.Blobs)
}

// App is a configured server.
type App struct {
	Config    config.Config
	Logger    *slog.Logger
	Stores    Stores
	Registry  *registry.Service
	Bootstrap Bootstrap
	Collector *gc.Collector
	// Lifecycle applies lifecycle policies (periodically, as queued jobs).
	Lifecycle *lcrunner.Runner
	Scans     *scan.Service
	Metrics   *middleware.Metrics
	// Gate computes pull-gate facts; its Scans is the scan store.
	Gate    *gate.Gate
	handler http.Handler
}

// New opens the stores, bootstraps the default account and builds the
// HTTP handler.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (*App, error) {
	st, err := OpenStores(ctx, cfg)
	if err != nil {
		return nil, err
	}
	boot, err := bootstrap(ctx, cfg, st.Meta, time.Now())
	if err != nil {
		st.Meta.Close()
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	restoreDelay := cfg.ArchiveRestoreDelay
	if restoreDelay == 0 {
		restoreDelay = -1 // registry.Options: negative is "at once"
	}
	reg := registry.New(st.Meta, st.Blobs, registry.Options{
		CreateOnPush:     cfg.CreateOnPush,
		MaxManifestBytes: cfg.MaxManifestBytes,
		BinRetention:     cfg.RecycleBinRetention,
		Logger:           logger,
		RestoreDelay:     restoreDelay,
	})
	a := &App{Config: cfg, Logger: logger, Stores: st, Registry: reg, Bootstrap: boot}
	a.Lifecycle = &lcrunner.Runner{Registry: reg, Logger: logger}
	a.Collector = &gc.Collector{Meta: st.Meta, Blobs: st.Blobs, Grace: cfg.GCGrace, UploadTTL: cfg.UploadTTL}
	a.Scans = newScanService(reg, logger)

	promReg := prometheus.NewRegistry()
	if a.Metrics, err = middleware.NewMetrics(promReg); err != nil {
		st.Meta.Close()
		return nil, err
	}

	tokenKey, err := loadOrCreateKey(filepath.Join(cfg.DataDir, "token-key"))
	if err != nil {
		st.Meta.Close()
		return nil, fmt.Errorf("token key: %w", err)
	}
	tokens := &token.Issuer{Key: tokenKey}
	// /v2/ accepts ECR tokens (docker login -u AWS) and access key pairs;
	// a request without credentials is anonymous and gets only what a
	// policy grants to "*" (otherwise a 401 challenge).
	var authn access.Authenticator = access.Chain{
		Methods:        []access.Authenticator{tokens, &access.BasicKeys{Keys: st.Meta}},
		AllowAnonymous: true,
	}
	var authz access.Authorizer = &access.PolicyAuthorizer{Source: reg}
	if cfg.Anonymous {
		authn = access.Anonymous{AccountID: boot.AccountID}
		authz = access.AccountAuthorizer{}
	}
	// Pull gates: the facts of images for wharf: condition keys, with
	// stored and OpenVEX suppressions applied.
	gates := &gate.Gate{Scans: gate.StoreScans{Meta: st.Meta}, Suppressions: st.Meta, VEX: &gate.RegistryVEX{Registry: reg},
		Indexes: gate.RegistryIndexes{Registry: reg}}
	a.Gate = gates
	v2 := &oci.Handler{
		Registry:   reg,
		Authn:      authn,
		Authz:      authz,
		Region:     cfg.Region,
		AccountFor: func(*http.Request) string { return boot.AccountID },
		Logger:     logger,
		Gate:       gates,
	}
	v2.BlobRedirect = cfg.BlobRedirect // S3: 307 to a presigned URL
	ecrServer := &ecr.Server{
		Registry: reg,
		Meta:     st.Meta,
		Authz:    authz,
		Tokens:   tokens,
		Region:   cfg.Region,
		Pager:    awsjson.Paginator{Key: tokenKey},
		Gate:     gates,
		Scans:    a.Scans,
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err == nil {
			ecrServer.PublicHost = u.Host
		}
	}
	verifier := &sigv4.Verifier{Region: cfg.Region, Service: "ecr", Lookup: sigv4.KeyLookup(st.Meta)}
	authnAPI := func(r *http.Request, body []byte) (any, error) {
		if cfg.Anonymous && !sigv4.Present(r) {
			return access.Principal{AccountID: boot.AccountID, Anonymous: true}, nil
		}
		res, err := verifier.Verify(r, body)
		if err != nil {
			return nil, err
		}
		p := res.Principal.(access.Principal)
		middleware.SetPrincipal(r.Context(), p.String())
		return p, nil
	}
	ecrAPI := ecrServer.Handler(authnAPI)
	ecrAPI.Logger = logger
	// The extension API shares the endpoint, SigV4 and the authorizer;
	// requests are told apart by their X-Amz-Target prefix.
	extServer := &wharfapi.Server{Registry: reg, Meta: st.Meta, Authz: authz, Region: cfg.Region,
		Pager: awsjson.Paginator{Key: tokenKey}, Logger: logger,
		SBOM: &sbomsvc.Service{Registry: reg, ToolVersion: sbomsvc.BuildVersion(),
			Inventories: sbomsvc.StoredInventories{Store: st.Meta}},
		Suppressions: &suppress.Service{Store: st.Meta, Changed: gates.Forget, Logger: logger}}
	extAPI := extServer.Handler(authnAPI)

	mux := http.NewServeMux()
	mux.Handle("/{$}", awsjson.Dispatch(ecrAPI, extAPI))
	mux.Handle(ecr.LayerDownloadPath, ecrServer.LayerDownloadHandler())
	mux.HandleFunc("/healthz", a.healthz)
	mux.HandleFunc("/readyz", a.readyz)
	// Metrics cover every account: the operator's to read.
	mux.Handle("/metrics", &guard.Handler{Authn: authn, Authz: authz, Region: cfg.Region, AccountID: boot.AccountID,
		Action: guard.ActionGetMetrics, Route: "metrics", Logger: logger, Next: a.Metrics.Handler()})
	accessLogger := logger
	if !cfg.AccessLog {
		accessLogger = slog.New(minLevel{logger.Handler(), slog.LevelWarn})
	}
	// /v2 and /v2/... go to v2 ahead of the mux.
	a.handler = middleware.Chain(withRequestInfo(v2First(v2, mux)), accessLogger, a.Metrics)
	return a, nil
}

// Handler returns the root HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	middleware.SetRoute(r.Context(), "healthz")
	_, _ = w.Write([]byte("ok\n"))
}

func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	middleware.SetRoute(r.Context(), "readyz")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.Stores.Meta.Ping(ctx); err != nil {
		http.Error(w, "metadata store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// OpsHandler serves /metrics, /healthz and /readyz without authentication,
// for the metrics_listen address (a private network a scraper is on).
func (a *App) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", a.healthz)
	mux.HandleFunc("/readyz", a.readyz)
	mux.Handle("/metrics", a.Metrics.Handler())
	return mux
}

// ServeOps serves OpsHandler on ln until ctx ends.
func (a *App) ServeOps(ctx context.Context, ln net.Listener) error {
	return a.serveUntil(ctx, a.httpServer(a.OpsHandler()), ln)
}

func (a *App) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: a.Config.ReadHeaderTimeout,
		IdleTimeout:       a.Config.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
}

// serveUntil serves srv on ln until it fails or ctx ends, then shuts it
// down gracefully within ShutdownTimeout.
func (a *App) serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close releases the stores.
func (a *App) Close() error { return a.Stores.Meta.Close() }

// Serve listens and serves until ctx ends, running the background workers,
// then shuts down gracefully.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	workers, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	const nWorkers = 5
	done := make(chan struct{}, nWorkers)
	go func() { a.Registry.RunPullRecorder(workers, 5*time.Second, a.Logger); done <- struct{}{} }()
	go func() {
		// Periodic GC is a queued job: every node schedules it and runs
		// the queue, and it runs once per interval across all nodes.
		runner := &jobs.Runner{Store: a.Stores.Meta, Poll: min(5*time.Second, a.Config.GCInterval), Logger: a.Logger}
		runner.Handle(jobs.KindGC, jobs.GCHandler(a.Collector, a.Logger))
		// Expired recycle bin entries are dropped as often as GC runs (at
		// least hourly), so their blobs go with a following GC; also with
		// the bin turned off, for the entries it held before.
		runner.Handle(jobs.KindBinPurge, jobs.BinPurgeHandler(a.Registry, a.Logger))
		sched := &jobs.Scheduler{Store: a.Stores.Meta, Logger: a.Logger, Jobs: []jobs.Periodic{
			{Kind: jobs.KindGC, Interval: a.Config.GCInterval},
			{Kind: jobs.KindBinPurge, Interval: min(a.Config.GCInterval, time.Hour)},
			{Kind: lcrunner.KindLifecycle, Interval: a.Config.LifecycleInterval},
		}}
		schedDone := make(chan struct{})
		go func() { sched.Run(workers); close(schedDone) }()
		runner.Run(workers)
		<-schedDone
		done <- struct{}{}
	}()
	go func() {
		// Lifecycle runs and image restores have their own runner, so a
		// long run never delays garbage collection (nor the reverse).
		runner := &jobs.Runner{Store: a.Stores.Meta, Poll: time.Second, Logger: a.Logger}
		runner.Handle(lcrunner.KindLifecycle, jobs.LifecycleHandler(a.Lifecycle, a.Logger))
		runner.Handle(lcrunner.KindLifecycleRepo, jobs.LifecycleRepoHandler(a.Lifecycle, a.Logger))
		runner.Handle(registry.KindRestore, jobs.RestoreHandler(a.Registry))
		runner.Run(workers)
		done <- struct{}{}
	}()
	go func() { a.uploadGauge(workers); done <- struct{}{} }()
	go func() { a.runScanWorkers(workers); done <- struct{}{} }()

	err := a.serveUntil(ctx, a.httpServer(a.handler), ln)
	stopWorkers()
	for i := 0; i < nWorkers; i++ {
		<-done
	}
	return err
}

// uploadGauge keeps the upload-sessions gauge current.
func (a *App) uploadGauge(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		if n, err := a.Stores.Meta.CountUploads(ctx); err == nil {
			a.Metrics.UploadSessions.Set(float64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// minLevel drops records below a level (successful requests, when the
// access log is off).
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }

// v2First sends /v2 and /v2/... straight to the registry handler and the
// rest to mux. The pull path is the hottest there is, and a ServeMux match
// costs it a wildcard allocation and a tree walk for a choice a prefix
// check makes.
func v2First(v2, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/v2" || strings.HasPrefix(p, "/v2/") {
			v2.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// withRequestInfo records the caller's address and transport for policy
// conditions (aws:SourceIp, aws:SecureTransport).
func withRequestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		ctx := access.WithRequestInfo(r.Context(), access.RequestInfo{SourceIP: host, Secure: r.TLS != nil})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
