// Package taxii is taxiid's TAXII 2.1 HTTP API: routes, content
// negotiation, filters, pagination tokens and TAXII error resources.
package taxii

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/taxii/metrics"
)

// Authorizer decides whether the requester (found in ctx, see
// authz.FromContext; anonymous when absent) may read or write a collection,
// named by its API root's path and its id. *authz.Authorizer is the one
// taxiid runs.
type Authorizer interface {
	CanRead(ctx context.Context, apiRoot, collection string) bool
	CanWrite(ctx context.Context, apiRoot, collection string) bool
	// ReadConditions returns the sharing conditions under which the
	// requester reads the collection, and false when it may not read it
	// (as CanRead).
	ReadConditions(ctx context.Context, apiRoot, collection string) (authz.Conditions, bool)
}

// Config holds a Server's dependencies and settings.
type Config struct {
	Store      collections.Store
	Ingester   *collections.Ingester
	Authorizer Authorizer // required
	// Authenticator checks the credentials of every request but the
	// probes (/healthz) and /metrics (which has a token of its own), and
	// puts the principal in the request's context.
	// nil: every request is anonymous, and one with credentials is refused.
	Authenticator *authz.Authenticator
	// Audit records pushes, reads, denied requests and refused credentials;
	// nil: no audit.
	Audit  *authz.AuditLog
	Logger *slog.Logger

	// Admin serves the administration API under /admin/; nil: none.
	Admin *authz.Admin
	// Sources serves /admin/sources, the mirrored remote collections
	// (admins only); nil: not served.
	Sources *mirror.Service
	// Grants is where /admin/visibility reads the grants of an
	// organization (the authz store); nil: that route is not served.
	Grants GrantStore
	// Webhooks serves the webhook subscriptions under
	// /admin/subscriptions (with Admin); nil: none.
	Webhooks *webhook.Service

	// HubIdentity is the STIX identity (identity--<uuid>) that replaces
	// created_by_ref in what readers whose grant hides the creator get;
	// empty: created_by_ref is removed for them.
	HubIdentity string
	// ServedCacheBytes bounds the served copies remembered (default
	// DefaultServedCacheBytes): each version's copy under each form of
	// sharing conditions is computed once while it stays in the cache.
	ServedCacheBytes int64

	// Ready checks that the store answers, for /readyz, which answers 503
	// when it fails or takes longer than ReadyTimeout (default
	// DefaultReadyTimeout); nil: ready whenever the process serves.
	Ready        func(ctx context.Context) error
	ReadyTimeout time.Duration

	// Discovery resource (TAXII 2.1 section 4.1.1).
	Title       string
	Description string
	Contact     string
	// DefaultAPIRoot is the Path of the API root discovery names as default;
	// empty: the first API root.
	DefaultAPIRoot string

	// PageSize is the page size when a request has no limit; MaxPageSize
	// caps any limit.
	PageSize    int
	MaxPageSize int
	// MaxPageBytes ends a page of objects early once their bytes reach it
	// (default DefaultMaxPageBytes), so that pages of large objects stay
	// bounded; the page then has more and next as usual.
	MaxPageBytes int
	// MaxHeaderBytes bounds the request line and header fields of a request
	// (default DefaultMaxHeaderBytes); beyond it the answer is a 431 error
	// resource. The http.Server's own MaxHeaderBytes must be larger (Go's
	// default, 1 MiB, is): what exceeds that one gets net/http's plain-text
	// 431 before any handler runs.
	MaxHeaderBytes int
	// MaxObjects bounds the objects of one pushed envelope (default
	// DefaultMaxObjects); beyond it the answer is a 413.
	MaxObjects int
	// MaxMemory bounds the bytes in-flight requests may hold (default
	// DefaultMaxMemory; the taxiid binary passes a share of the machine's
	// memory): a push is charged its Content-Length (the API root's
	// max_content_length when unknown), a page of objects MaxPageBytes
	// while the store reads it, then its actual size while it is written;
	// one request at most half of MaxMemory. Requests that do not fit wait up to
	// 2 s, then get a 503 with Retry-After.
	MaxMemory int64
	// MinTransferRate (bytes per second, default DefaultMinTransferRate) and
	// TransferGrace (default DefaultTransferGrace) bound how slowly a client
	// may send a request body or read a response: once more than
	// TransferGrace + n/MinTransferRate has passed since the request (for
	// the body) or the response (for the response) began, and only n bytes
	// have moved, the connection is cut (a body that is late gets a 408). The http.Server needs no ReadTimeout or WriteTimeout
	// besides (they would cut large honest transfers); ReadHeaderTimeout and
	// IdleTimeout still apply.
	MinTransferRate int64
	TransferGrace   time.Duration
	// RateLimiter limits the requests and request body bytes of each
	// principal, after authentication; nil: no limits. Give it to the
	// Authenticator too (AuthenticatorConfig.Admission), so that failed
	// credential checks are bounded per source address.
	RateLimiter *RateLimiter

	// Metrics records requests, served pages, refused credentials, the
	// memory held by requests and the ingester's backlog; nil: none. (The
	// ingester and the stores report to it through their own wiring.)
	Metrics *metrics.Metrics
	// MetricsToken, when set, is the bearer token /metrics requires,
	// wherever it is served. Metrics are served at /metrics beside the
	// other routes only when it is set, and MetricsOwnListener is false;
	// otherwise /metrics answers 404 there.
	MetricsToken string
	// MetricsOwnListener: the metrics are served by MetricsHandler on a
	// listener of their own (a scrape network), not beside the other
	// routes.
	MetricsOwnListener bool

	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// names the client; requests from other peers are taken from their
	// own address. Without them every client behind a proxy shares the
	// proxy's rate limits and failed sign-in bounds.
	TrustedProxies []netip.Prefix

	// MaxWait bounds the wait a GET objects or manifest request may ask
	// for with "Prefer: wait=N" (see longpoll.go; default DefaultMaxWait);
	// negative: requests never wait.
	MaxWait time.Duration
	// MaxWaits bounds the requests waiting at once (default
	// DefaultMaxWaits), MaxWaitsPerUser those of one user, or of one
	// source address for anonymous requests (default
	// DefaultMaxWaitsPerUser). A request beyond them is answered at once.
	MaxWaits        int
	MaxWaitsPerUser int
	// WatchInterval is how often the store is asked which collections
	// changed while requests wait (default DefaultWatchInterval): the
	// longest a push through another process takes to wake them.
	WatchInterval time.Duration
}

// Defaults of Config.
const (
	DefaultMaxPageBytes   = 16 << 20
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultReadyTimeout is shorter than the probe timeouts load
	// balancers use by default, so that a slow store reads as not ready
	// rather than as a probe that timed out.
	DefaultReadyTimeout = 2 * time.Second
)

// Server serves the TAXII 2.1 API and, beside it, the operations routes
// (/healthz, ...). It is an http.Handler.
type Server struct {
	taxii        *echo.Echo // TAXII 2.1 routes: content negotiation, TAXII error resources
	ops          *echo.Echo // operations routes: plain JSON
	store        collections.Store
	ingester     *collections.Ingester
	authz        Authorizer
	authn        *authz.Authenticator
	audit        *authz.AuditLog
	admin        *authz.Admin
	webhooks     *webhook.Service
	log          *slog.Logger
	tokens       tokens
	title        string
	description  string
	contact      string
	defaultRoot  string
	pageSize     int
	maxPageSize  int
	maxPageBytes int
	maxHeader    int
	maxObjects   int
	memory       *memoryBudget
	rate         transferRate
	limiter      *RateLimiter
	ready        func(ctx context.Context) error
	readyTimeout time.Duration
	draining     atomic.Bool
	// trustedProxies are the peers whose X-Forwarded-For names the client
	// (see clientAddress).
	trustedProxies []netip.Prefix
	// aliases maps API root + NUL + alias to the collection id it named
	// when last seen (see collectionByAlias); aliasCount bounds it.
	aliases    sync.Map
	aliasCount atomic.Int64
	metrics    *metrics.Metrics
	scrape     scrapeAccess
	grants     GrantStore
	sources    *mirror.Service
	hub        string
	served     *servedCache
	watch      *watcher // long-poll (longpoll.go)
}

// Drain makes /readyz answer 503 from now on, while every other route is
// served as before: a load balancer probing it stops sending new requests
// before the server stops accepting them. Requests waiting on long-poll
// are answered at once, and new ones are not held: their clients poll
// again through a replica that stays.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.StopWaiting()
}

// tokenSecret names the pagination token key in the store.
const tokenSecret = "pagination-token-key"

// New returns a Server. It reads the pagination token key from the store,
// creating it on first use.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Authorizer == nil {
		return nil, errors.New("taxii: a server needs a store and an authorizer")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	if cfg.MaxPageSize < cfg.PageSize {
		cfg.MaxPageSize = cfg.PageSize
	}
	if cfg.Title == "" {
		cfg.Title = "taxiid"
	}
	if cfg.MaxPageBytes <= 0 {
		cfg.MaxPageBytes = DefaultMaxPageBytes
	}
	if cfg.MinTransferRate <= 0 {
		cfg.MinTransferRate = DefaultMinTransferRate
	}
	if cfg.TransferGrace <= 0 {
		cfg.TransferGrace = DefaultTransferGrace
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = DefaultMaxMemory
	}
	if cfg.MaxObjects <= 0 {
		cfg.MaxObjects = DefaultMaxObjects
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.ServedCacheBytes <= 0 {
		cfg.ServedCacheBytes = DefaultServedCacheBytes
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.MaxWaits <= 0 {
		cfg.MaxWaits = DefaultMaxWaits
	}
	if cfg.MaxWaitsPerUser <= 0 {
		cfg.MaxWaitsPerUser = DefaultMaxWaitsPerUser
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = DefaultWatchInterval
	}
	if cfg.HubIdentity != "" && !validIdentity(cfg.HubIdentity) {
		return nil, fmt.Errorf("taxii: the hub identity %q is not a STIX identity id (identity--<uuid>)", cfg.HubIdentity)
	}
	key, err := cfg.Store.Secret(ctx, tokenSecret, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("pagination key: %w", err)
	}
	s := &Server{
		store:          cfg.Store,
		ingester:       cfg.Ingester,
		authz:          cfg.Authorizer,
		authn:          cfg.Authenticator,
		audit:          cfg.Audit,
		admin:          cfg.Admin,
		webhooks:       cfg.Webhooks,
		log:            cfg.Logger,
		tokens:         tokens{key: key},
		title:          cfg.Title,
		description:    cfg.Description,
		contact:        cfg.Contact,
		defaultRoot:    cfg.DefaultAPIRoot,
		pageSize:       cfg.PageSize,
		maxPageSize:    cfg.MaxPageSize,
		maxPageBytes:   cfg.MaxPageBytes,
		maxHeader:      cfg.MaxHeaderBytes,
		maxObjects:     cfg.MaxObjects,
		memory:         &memoryBudget{size: cfg.MaxMemory},
		rate:           transferRate{grace: cfg.TransferGrace, perSecond: cfg.MinTransferRate},
		limiter:        cfg.RateLimiter,
		ready:          cfg.Ready,
		readyTimeout:   cfg.ReadyTimeout,
		trustedProxies: cfg.TrustedProxies,
		metrics:        cfg.Metrics,
		scrape:         newScrapeAccess(cfg),
		grants:         cfg.Grants,
		sources:        cfg.Sources,
		hub:            cfg.HubIdentity,
		served:         newServedCache(cfg.ServedCacheBytes),
	}
	s.watch = newWatcher(cfg.Store, cfg, func(err error) {
		s.log.Warn("long-poll: the store did not say which collections changed", "err", err)
	})
	cfg.Metrics.ReportRequestMemory(s.MemoryInUse, cfg.MaxMemory)
	cfg.Metrics.ReportWaiting(s.Waiting)
	if cfg.Ingester != nil {
		cfg.Metrics.ReportBacklog(cfg.Ingester.Backlog)
		cfg.Ingester.OnAdded(s.watch.added)
	}
	s.taxii, s.ops = s.taxiiRoutes(), s.opsRoutes()
	return s, nil
}
