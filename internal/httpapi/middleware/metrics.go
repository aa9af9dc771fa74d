package middleware

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DurationBuckets are the request duration histogram buckets, in seconds:
// from sub-millisecond manifest HEADs to multi-minute layer transfers.
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// Metrics holds the HTTP Prometheus collectors. Create it with NewMetrics.
type Metrics struct {
	// UploadSessions is the number of open blob upload sessions
	// (wharf_upload_sessions); the upload code sets it.
	UploadSessions prometheus.Gauge

	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	reqBytes  *prometheus.CounterVec
	respBytes *prometheus.CounterVec

	// series caches the children for each label set, so the hot path does
	// one lock-free map lookup instead of hashing labels into four vectors.
	// Copy on write: label sets are few and created once.
	series atomic.Pointer[map[seriesKey]*series]
	mu     sync.Mutex // serializes writers of series
}

type seriesKey struct {
	route, method string
	status        int
}

type series struct {
	requests  prometheus.Counter
	duration  prometheus.Observer
	reqBytes  prometheus.Counter
	respBytes prometheus.Counter
}

// NewMetrics creates the HTTP collectors and registers them, together with
// the Go runtime and process collectors, on reg:
//
//	wharf_http_requests_total{route,method,status}
//	wharf_http_request_duration_seconds{route,method}
//	wharf_http_request_bytes_total{route}
//	wharf_http_response_bytes_total{route}
//	wharf_upload_sessions
//
// Collectors already registered on reg (for instance by an earlier
// NewMetrics call) are reused.
func NewMetrics(reg *prometheus.Registry) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("middleware: NewMetrics needs a registry")
	}
	m := &Metrics{reg: reg}
	var err error
	if m.requests, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_http_requests_total",
		Help: "HTTP requests served, by route, method and status.",
	}, []string{"route", "method", "status"})); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wharf_http_request_duration_seconds",
		Help:    "Time to serve HTTP requests, by route and method.",
		Buckets: DurationBuckets,
	}, []string{"route", "method"})); err != nil {
		return nil, err
	}
	if m.reqBytes, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_http_request_bytes_total",
		Help: "Request body bytes read, by route.",
	}, []string{"route"})); err != nil {
		return nil, err
	}
	if m.respBytes, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_http_response_bytes_total",
		Help: "Response body bytes written, by route.",
	}, []string{"route"})); err != nil {
		return nil, err
	}
	if m.UploadSessions, err = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wharf_upload_sessions",
		Help: "Open blob upload sessions.",
	})); err != nil {
		return nil, err
	}
	if _, err = register(reg, collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if _, err = register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	empty := map[seriesKey]*series{}
	m.series.Store(&empty)
	return m, nil
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, err
}

// Handler serves the registry's metrics in the Prometheus exposition format,
// for /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Middleware records metrics for each request. Prefer Chain, which also logs
// and recovers; use this when composing middleware by hand.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st, w, r := begin(w, r)
		method := r.Method
		completed := false
		defer func() {
			status, _ := st.result(!completed)
			m.observe(st.info.Route(), method, status, time.Since(start), st.body.n, st.rw.bytes)
		}()
		next.ServeHTTP(w, r)
		completed = true
	})
}

func (m *Metrics) observe(route, method string, status int, d time.Duration, in, out int64) {
	key := seriesKey{route: route, method: normalizeMethod(method), status: status}
	s := (*m.series.Load())[key]
	if s == nil {
		s = m.newSeries(key)
	}
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
	if in > 0 {
		s.reqBytes.Add(float64(in))
	}
	if out > 0 {
		s.respBytes.Add(float64(out))
	}
}

func (m *Metrics) newSeries(key seriesKey) *series {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.series.Load()
	if s := old[key]; s != nil {
		return s
	}
	s := &series{
		requests:  m.requests.WithLabelValues(key.route, key.method, strconv.Itoa(key.status)),
		duration:  m.duration.WithLabelValues(key.route, key.method),
		reqBytes:  m.reqBytes.WithLabelValues(key.route),
		respBytes: m.respBytes.WithLabelValues(key.route),
	}
	next := make(map[seriesKey]*series, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = s
	m.series.Store(&next)
	return s
}

// normalizeMethod maps the method to a constant so clients cannot create
// label values.
func normalizeMethod(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodConnect:
		return http.MethodConnect
	case http.MethodTrace:
		return http.MethodTrace
	}
	return "OTHER"
}
