// Package taxii is taxiid's TAXII 2.1 HTTP API: routes, content
// negotiation, filters, pagination tokens and TAXII error resources.
package taxii

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/collections"
)

// Authorizer decides whether the requester (found in ctx) may read or write
// a collection.
type Authorizer interface {
	CanRead(ctx context.Context, apiRoot, collection string) bool
	CanWrite(ctx context.Context, apiRoot, collection string) bool
}

// Config holds a Server's dependencies and settings.
type Config struct {
	Store      collections.Store
	Ingester   *collections.Ingester
	Authorizer Authorizer
	Logger     *slog.Logger

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
}

// DefaultMaxPageBytes is the default of Config.MaxPageBytes.
const DefaultMaxPageBytes = 16 << 20

// Server serves the TAXII 2.1 API. It is an http.Handler.
type Server struct {
	e            *echo.Echo
	store        collections.Store
	ingester     *collections.Ingester
	authz        Authorizer
	log          *slog.Logger
	tokens       tokens
	title        string
	description  string
	contact      string
	defaultRoot  string
	pageSize     int
	maxPageSize  int
	maxPageBytes int
}

// tokenSecret names the pagination token key in the store.
const tokenSecret = "pagination-token-key"

// New returns a Server. It reads the pagination token key from the store,
// creating it on first use.
func New(ctx context.Context, cfg Config) (*Server, error) {
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
	key, err := cfg.Store.Secret(ctx, tokenSecret, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("pagination key: %w", err)
	}
	s := &Server{
		store:        cfg.Store,
		ingester:     cfg.Ingester,
		authz:        cfg.Authorizer,
		log:          cfg.Logger,
		tokens:       tokens{key: key},
		title:        cfg.Title,
		description:  cfg.Description,
		contact:      cfg.Contact,
		defaultRoot:  cfg.DefaultAPIRoot,
		pageSize:     cfg.PageSize,
		maxPageSize:  cfg.MaxPageSize,
		maxPageBytes: cfg.MaxPageBytes,
	}
	s.e = s.routes()
	return s, nil
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// routes builds the router: every TAXII 2.1 endpoint (sections 4 and 5).
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.Logger = s.log
	// Errors are written by the middleware below, so that the request log
	// line carries the final status; this only catches what escapes it.
	e.HTTPErrorHandler = s.writeError
	e.Pre(trailingSlash)
	e.Use(s.observe, negotiate)

	e.GET("/taxii2/", s.discovery)
	e.GET("/:root/", s.apiRoot)
	e.GET("/:root/status/:status/", s.status)
	e.GET("/:root/collections/", s.collections)
	e.GET("/:root/collections/:coll/", s.collection)
	e.GET("/:root/collections/:coll/manifest/", s.manifest)
	e.GET("/:root/collections/:coll/objects/", s.getObjects)
	e.POST("/:root/collections/:coll/objects/", s.addObjects)
	e.GET("/:root/collections/:coll/objects/:obj/", s.getObject)
	e.DELETE("/:root/collections/:coll/objects/:obj/", s.deleteObject)
	e.GET("/:root/collections/:coll/objects/:obj/versions/", s.versions)
	return e
}

// trailingSlash serves a path without its trailing slash as if it had one:
// TAXII 2.1 section 3.1 requires clients to send it, but a missing slash is
// not worth a failure.
func trailingSlash(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		u := c.Request().URL
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
			if u.RawPath != "" {
				u.RawPath += "/"
			}
		}
		return next(c)
	}
}

// negotiate enforces content negotiation (TAXII 2.1 section 1.6.8) on every
// request: responses are TAXII 2.1 only.
func negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if !acceptable(c.Request().Header.Get("Accept")) {
			return errNotAcceptable
		}
		return next(c)
	}
}

const requestIDKey = "request_id"

func requestID(c *echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// observe gives each request an id, writes any error as a TAXII error
// resource, and logs one line per request.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		start := time.Now()
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		c.Set(requestIDKey, id)
		c.Response().Header().Set("X-Request-Id", id)
		if err := next(c); err != nil {
			s.writeError(c, err)
		}
		_, status := echo.ResolveResponseStatus(c.Response(), nil)
		s.log.Info("request", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", status, "duration", time.Since(start), "request_id", id)
		return nil
	}
}
