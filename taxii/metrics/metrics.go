// Package metrics keeps taxiid's Prometheus metrics: HTTP requests, pushed
// and served objects, store operations, refused credentials, background
// pushes, the memory held by requests and the build. They live in a
// registry of their own (not the process-wide default one), served by
// Handler; the taxii server, the ingester and the stores report into it.
//
// Every method works on a nil *Metrics and does nothing, so that callers
// need no check when metrics are off.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taxiid/taxiid/collections"
)

// namespace prefixes every taxiid metric.
const namespace = "taxiid"

// Labels of bounded sets: a value outside a set is reported as other, so
// that what clients send can never grow the number of series.
const (
	// Unmatched is the route label of requests no route matched.
	Unmatched = "unmatched"
	other     = "other"
)

// BuildInfo names the running build (taxiid_build_info).
type BuildInfo struct {
	Version string
	Commit  string
	Date    string // build time, RFC 3339
}

// Metrics is taxiid's set of metrics. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	durations    *prometheus.HistogramVec
	ingested     *prometheus.CounterVec
	rejections   *prometheus.CounterVec
	pages        *prometheus.CounterVec
	served       *prometheus.CounterVec
	storeOps     *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
	authFailures *prometheus.CounterVec

	// What the gauges read, set by the server and the ingester once they
	// exist (nil until then: the gauge reads 0).
	memoryInUse atomic.Pointer[func() int64]
	memoryLimit atomic.Int64
	backlog     atomic.Pointer[func() (pushes, objects int)]
	waiting     atomic.Pointer[func() int]

	reasons     boundedSet // reasons of rejections
	authReasons boundedSet // reasons of refused credentials
}

// Latency buckets, in seconds. Requests range from a cached health probe
// to a push of 100 MiB; store operations from an indexed read to a batch
// of a thousand objects.
var (
	requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	storeBuckets   = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
)

// New returns the metrics of one server, with the Go runtime's and the
// process's own (go_*, process_*) and the build's.
func New(build BuildInfo) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time from routing a request to the end of its response, by route pattern and method.",
			Buckets: requestBuckets,
		}, []string{"route", "method"}),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "ingest_objects_total",
			Help: "Pushed objects by outcome: stored (a new version), unchanged (stored already) or rejected.",
		}, []string{"outcome"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "ingest_rejections_total",
			Help: "Rejected pushed objects by reason: the rule code of the first failing check, or conflict, cross-version, spec-version, object, internal.",
		}, []string{"reason"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "pages_served_total",
			Help: "Pages served by the reading endpoints (objects, object, manifest, versions).",
		}, []string{"endpoint"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "objects_served_total",
			Help: "Records served by the reading endpoints: objects, manifest entries or versions.",
		}, []string{"endpoint"}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_operation_duration_seconds",
			Help:    "Time taken by store operations, by operation (a method of the store).",
			Buckets: storeBuckets,
		}, []string{"operation"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_errors_total",
			Help: "Store operations that failed, by operation; answers such as not found or conflict are not failures.",
		}, []string{"operation"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "authentication_failures_total",
			Help: "Refused credentials, by scheme and reason.",
		}, []string{"scheme", "reason"}),
		reasons:     boundedSet{max: 256},
		authReasons: boundedSet{max: 32},
	}
	build.Version = orUnknown(build.Version)
	build.Commit = orUnknown(build.Commit)
	build.Date = orUnknown(build.Date)
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help: "Always 1; the labels name the running build.",
	}, []string{"version", "commit", "build_date", "goversion"})
	buildInfo.WithLabelValues(build.Version, build.Commit, build.Date, runtime.Version()).Set(1)

	gauge := func(name, help string, read func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, read)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
		m.requests, m.durations, m.ingested, m.rejections, m.pages, m.served,
		m.storeOps, m.storeErrors, m.authFailures,
		gauge("request_memory_bytes", "Bytes of the memory budget held by requests in flight.", func() float64 {
			if f := m.memoryInUse.Load(); f != nil {
				return float64((*f)())
			}
			return 0
		}),
		gauge("request_memory_limit_bytes", "The memory budget of requests in flight.", func() float64 {
			return float64(m.memoryLimit.Load())
		}),
		gauge("ingest_pending_pushes", "Pushes being stored in the background.", func() float64 {
			p, _ := m.readBacklog()
			return float64(p)
		}),
		gauge("ingest_pending_objects", "Objects that background pushes have still to store.", func() float64 {
			_, o := m.readBacklog()
			return float64(o)
		}),
		gauge("longpoll_waiting_requests", "Requests held by Prefer: wait until objects arrive or their wait ends.", func() float64 {
			if f := m.waiting.Load(); f != nil {
				return float64((*f)())
			}
			return 0
		}),
	)
	return m
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Handler serves the metrics in the Prometheus text or OpenMetrics format,
// as the scraper asks. Whoever mounts it decides who may read it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector that fails (the process collector on a system
		// without /proc) leaves the others served.
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// Request records an HTTP request answered with status after d. route is
// the pattern the router matched ("/:root/collections/:coll/objects/"),
// never the path, or Unmatched.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, codeLabel(status)).Inc()
	m.durations.WithLabelValues(route, method).Observe(d.Seconds())
}

// codeLabels are the status codes as labels, made once rather than per
// request.
var codeLabels = func() (c [600]string) {
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}()

func codeLabel(status int) string {
	if status >= 0 && status < len(codeLabels) {
		return codeLabels[status]
	}
	return strconv.Itoa(status)
}

// methodLabel bounds the method label to the methods HTTP defines.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return other
}

// Served records a page of n records served by a reading endpoint.
func (m *Metrics) Served(endpoint string, n int) {
	if m == nil {
		return
	}
	m.pages.WithLabelValues(endpoint).Inc()
	m.served.WithLabelValues(endpoint).Add(float64(n))
}

// AuthFailure records refused credentials. The reason is cut at its first
// colon (what follows is detail, such as the error that ended a wait).
func (m *Metrics) AuthFailure(scheme, reason string) {
	if m == nil {
		return
	}
	switch scheme {
	case "basic", "bearer", "token", "certificate":
	default:
		scheme = other
	}
	reason, _, _ = strings.Cut(reason, ":")
	m.authFailures.WithLabelValues(scheme, m.authReasons.label(reason)).Inc()
}

// Rejected implements collections.IngestObserver.
func (m *Metrics) Rejected(reasons []string) {
	if m == nil {
		return
	}
	m.ingested.WithLabelValues("rejected").Add(float64(len(reasons)))
	for _, r := range reasons {
		m.rejections.WithLabelValues(m.reasons.label(r)).Inc()
	}
}

// Stored implements collections.IngestObserver.
func (m *Metrics) Stored(results []collections.AddResult) {
	if m == nil {
		return
	}
	var added, unchanged, conflict, refused int
	for _, r := range results {
		switch r.Outcome {
		case collections.Added:
			added++
		case collections.Unchanged:
			unchanged++
		case collections.Refused:
			refused++
		default:
			conflict++
		}
	}
	add := func(c *prometheus.CounterVec, label string, n int) {
		if n > 0 {
			c.WithLabelValues(label).Add(float64(n))
		}
	}
	add(m.ingested, "stored", added)
	add(m.ingested, "unchanged", unchanged)
	add(m.ingested, "rejected", conflict+refused)
	add(m.rejections, collections.ReasonConflict, conflict)
	add(m.rejections, collections.ReasonCrossVersion, refused)
}

var _ collections.IngestObserver = (*Metrics)(nil)

// ReportRequestMemory has the request memory gauges read inUse, the bytes
// requests in flight hold, and limit, the budget.
func (m *Metrics) ReportRequestMemory(inUse func() int64, limit int64) {
	if m == nil {
		return
	}
	m.memoryInUse.Store(&inUse)
	m.memoryLimit.Store(limit)
}

// ReportWaiting has the long-poll gauge read waiting (the server's
// Waiting).
func (m *Metrics) ReportWaiting(waiting func() int) {
	if m == nil {
		return
	}
	m.waiting.Store(&waiting)
}

// ReportBacklog has the pending push gauges read backlog (the ingester's
// Backlog).
func (m *Metrics) ReportBacklog(backlog func() (pushes, objects int)) {
	if m == nil {
		return
	}
	m.backlog.Store(&backlog)
}

func (m *Metrics) readBacklog() (pushes, objects int) {
	if f := m.backlog.Load(); f != nil {
		return (*f)()
	}
	return 0, 0
}

// boundedSet hands out label values, at most max distinct ones; later
// newcomers are reported as other. Its values come from the server's own
// code, but a bound costs little and keeps a mistake from growing the
// number of series without end.
type boundedSet struct {
	mu   sync.RWMutex
	seen map[string]bool
	max  int
}

func (b *boundedSet) label(v string) string {
	b.mu.RLock()
	ok := b.seen[v]
	b.mu.RUnlock()
	if ok {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= b.max || len(v) > 64 || v == "" {
		return other
	}
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	b.seen[v] = true
	return v
}
