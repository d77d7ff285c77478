package taxii

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/collections"
)

// opsSegments are the first path segments of the operations routes; every
// other path belongs to TAXII, so no API root can be served under these
// names.
var opsSegments = []string{"admin", "healthz", "readyz", "metrics"}

// isOpsPath reports whether a request path belongs to the operations routes.
func isOpsPath(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return slices.Contains(opsSegments, first)
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w, r = s.pace(w, r)
	r = s.clientAddress(r)
	if isOpsPath(r.URL.Path) {
		s.ops.ServeHTTP(w, r)
		return
	}
	s.taxii.ServeHTTP(w, r)
}

// taxiiRoutes builds the TAXII router: every TAXII 2.1 endpoint (sections 4
// and 5), behind content negotiation, answering errors as TAXII error
// resources.
func (s *Server) taxiiRoutes() *echo.Echo {
	e := echo.New()
	e.Logger = s.log
	// Errors are written by observe, so that the request log line carries
	// the final status; this only catches what escapes it.
	e.HTTPErrorHandler = func(c *echo.Context, err error) { s.writeError(c, err, writeTAXIIError) }
	e.Pre(trailingSlash)
	e.Use(s.observe(writeTAXIIError), s.limitHeader, s.authenticate, s.limitRate, negotiate)

	get(e, "/taxii2/", s.discovery)
	get(e, "/:root/", s.apiRoot)
	get(e, "/:root/status/:status/", s.status)
	get(e, "/:root/collections/", s.collections)
	get(e, "/:root/collections/:coll/", s.collection)
	get(e, "/:root/collections/:coll/manifest/", s.manifest)
	get(e, "/:root/collections/:coll/markings/", s.markings)
	get(e, "/:root/collections/:coll/objects/", s.getObjects)
	e.POST("/:root/collections/:coll/objects/", s.addObjects)
	get(e, "/:root/collections/:coll/objects/:obj/", s.getObject)
	e.DELETE("/:root/collections/:coll/objects/:obj/", s.deleteObject)
	get(e, "/:root/collections/:coll/objects/:obj/versions/", s.versions)
	return e
}

// get registers h for GET and HEAD: HEAD is answered like GET without a
// body (RFC 9110 section 9.3.2), which net/http leaves out, and the router
// lists it in Allow. OPTIONS is answered by the router: 204 with Allow.
func get(e *echo.Echo, path string, h echo.HandlerFunc) {
	e.GET(path, h)
	e.HEAD(path, h)
}

// opsRoutes builds the router of the operations routes (health and, when
// the server has an admin service, administration): JSON responses, errors
// as {"error": "..."}, no TAXII content negotiation.
func (s *Server) opsRoutes() *echo.Echo {
	e := echo.New()
	e.Logger = s.log
	e.HTTPErrorHandler = func(c *echo.Context, err error) { s.writeError(c, err, writeJSONError) }
	e.Pre(noTrailingSlash)
	e.Use(s.observe(writeJSONError), s.limitHeader, s.authenticate, s.limitRate)

	get(e, "/healthz", s.healthz)
	get(e, "/readyz", s.readyz)
	s.metricsRoute(e)
	s.adminRoutes(e)
	s.webhookRoutes(e)
	s.sourceRoutes(e)
	return e
}

// healthz answers that the process serves requests.
func (s *Server) healthz(c *echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(`{"status":"ok"}`))
}

// readyz answers whether the server can serve requests now: whether its
// store answers within the readiness deadline. A load balancer sends
// requests elsewhere while it answers 503.
func (s *Server) readyz(c *echo.Context) error {
	if s.draining.Load() {
		return errorf(http.StatusServiceUnavailable, "not ready: the server is shutting down")
	}
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.readyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			if c.Request().Context().Err() != nil {
				return c.Request().Context().Err() // the prober went away
			}
			s.log.Warn("not ready: the store does not answer", "request_id", requestID(c), "err", err)
			c.Response().Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
			return errorf(http.StatusServiceUnavailable, "not ready: the store does not answer")
		}
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(`{"status":"ready"}`))
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

// noTrailingSlash serves an operations path with a trailing slash as if it
// had none.
func noTrailingSlash(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		u := c.Request().URL
		if len(u.Path) > 1 && strings.HasSuffix(u.Path, "/") {
			u.Path = strings.TrimSuffix(u.Path, "/")
			u.RawPath = strings.TrimSuffix(u.RawPath, "/")
		}
		return next(c)
	}
}

// negotiate enforces content negotiation (TAXII 2.1 section 1.6.8) on the
// TAXII routes: their responses are TAXII 2.1 only. OPTIONS has no body to
// negotiate.
func negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if c.Request().Method != http.MethodOptions && !acceptable(c.Request().Header.Get("Accept")) {
			return errNotAcceptable
		}
		return next(c)
	}
}

// limitHeader answers 431 to a request whose request line and header
// fields exceed the server's bound, counted as on the wire. net/http has
// read them already (up to its own, larger, limit): this one lets the
// answer be an error resource like every other.
func (s *Server) limitHeader(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4 // "k: v\r\n"
			}
		}
		if n > s.maxHeader {
			return errorf(http.StatusRequestHeaderFieldsTooLarge,
				"the request line and header fields take %d bytes; this server accepts at most %d", n, s.maxHeader)
		}
		return next(c)
	}
}

const requestIDKey = "request_id"

func requestID(c *echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// observe gives each request an id (in the echo context and, for the
// store and the ingester, in the request's context.Context), turns a panic
// into an internal error, writes any error with write, and logs one line per
// request.
func (s *Server) observe(write errorWriter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			start := time.Now()
			var b [8]byte
			_, _ = rand.Read(b[:])
			id := hex.EncodeToString(b[:])
			c.Set(requestIDKey, id)
			c.SetRequest(c.Request().WithContext(collections.WithRequestID(c.Request().Context(), id)))
			c.Response().Header().Set("X-Request-Id", id)
			abort, err := s.call(c, next)
			if err != nil {
				s.writeError(c, err, write)
			}
			_, status := echo.ResolveResponseStatus(c.Response(), nil)
			took := time.Since(start)
			s.log.Info("request", "method", c.Request().Method, "path", c.Request().URL.Path,
				"status", status, "duration", took, "request_id", id)
			s.metrics.Request(routeLabel(c, status), c.Request().Method, status, took)
			if abort {
				// The response had started: end the connection so that the
				// client cannot take a cut-off body for a whole one.
				panic(http.ErrAbortHandler)
			}
			return nil
		}
	}
}

// call runs the handler and turns a panic into an internal error, logged
// with its stack: one failing request must not end the process or leave
// its client without an answer. abort reports a panic after the response
// had started, which no error response can follow.
func (s *Server) call(c *echo.Context, next echo.HandlerFunc) (abort bool, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p) // a deliberate abort, not a failure
		}
		s.log.Error("panic", "request_id", requestID(c), "method", c.Request().Method,
			"path", c.Request().URL.Path, "panic", p, "stack", string(debug.Stack()))
		err = fmt.Errorf("panic: %v", p)
		if resp, _ := echo.UnwrapResponse(c.Response()); resp != nil && resp.Committed {
			abort = true
		}
	}()
	return false, next(c)
}
