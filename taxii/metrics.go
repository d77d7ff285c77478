package taxii

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/taxii/metrics"
)

// metricsChallenge is the WWW-Authenticate value of a refused scrape (RFC
// 6750 section 3): the metrics take a bearer token, not a user's
// credentials.
const metricsChallenge = `Bearer realm="taxiid metrics"`

// scrapeAccess is who may read the metrics, and where.
type scrapeAccess struct {
	here     bool         // served at /metrics beside the other routes
	hasToken bool         // a token is required
	token    [32]byte     // SHA-256 of the token
	handler  http.Handler // the metrics' own; nil without metrics
}

func newScrapeAccess(cfg Config) scrapeAccess {
	a := scrapeAccess{hasToken: cfg.MetricsToken != ""}
	if cfg.Metrics != nil {
		a.handler = cfg.Metrics.Handler()
	}
	if a.hasToken {
		a.token = sha256.Sum256([]byte(cfg.MetricsToken))
	}
	// Never unprotected beside the TAXII routes: without a token the
	// metrics are served only on a listener of their own.
	a.here = cfg.Metrics != nil && a.hasToken && !cfg.MetricsOwnListener
	return a
}

// metricsRoute serves /metrics among the operations routes when the
// configuration says so; otherwise the path answers 404, like any path
// that serves nothing.
func (s *Server) metricsRoute(e *echo.Echo) {
	if s.scrape.here {
		get(e, "/metrics", s.serveMetrics)
	}
}

// MetricsHandler serves /metrics alone, for a listener of its own
// (Config.MetricsOwnListener): requests are observed and refused as on
// the operations routes, and the token, when set, is required there too.
// Every other path answers 404.
func (s *Server) MetricsHandler() http.Handler {
	e := echo.New()
	e.Logger = s.log
	e.HTTPErrorHandler = func(c *echo.Context, err error) { s.writeError(c, err, writeJSONError) }
	e.Pre(noTrailingSlash)
	e.Use(s.observe(writeJSONError), s.limitHeader)
	if s.metrics != nil {
		get(e, "/metrics", s.serveMetrics)
	}
	return e
}

// serveMetrics answers a scrape that bears the metrics token (when one is
// set). The token is compared in constant time, through its digest so that
// its length does not show either.
func (s *Server) serveMetrics(c *echo.Context) error {
	if s.scrape.hasToken {
		if reason := s.scrape.refuse(c.Request()); reason != "" {
			s.log.Info("authentication failed", "request_id", requestID(c), "source", sourceAddress(c.Request()),
				"err", "metrics: "+reason)
			s.metrics.AuthFailure("bearer", reason)
			s.record(c, authz.AuditEvent{
				Action:  AuditAuthnFailure,
				Details: details(map[string]any{"scheme": "bearer", "reason": reason, "endpoint": "metrics"}),
			})
			c.Response().Header().Set("WWW-Authenticate", metricsChallenge)
			return errorf(http.StatusUnauthorized, "the metrics need the metrics token, as Authorization: Bearer <token>")
		}
	}
	s.scrape.handler.ServeHTTP(c.Response(), c.Request())
	return nil
}

// refuse returns why the request may not read the metrics; "" if it may.
func (a scrapeAccess) refuse(r *http.Request) string {
	headers := r.Header.Values("Authorization")
	switch {
	case len(headers) == 0:
		return "no metrics token"
	case len(headers) > 1:
		return "several Authorization headers"
	}
	scheme, token, _ := strings.Cut(headers[0], " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "metrics token not sent as Bearer"
	}
	got := sha256.Sum256([]byte(strings.TrimLeft(token, " ")))
	if subtle.ConstantTimeCompare(got[:], a.token[:]) != 1 {
		return "wrong metrics token"
	}
	return ""
}

// routeLabel is the route of a request for the metrics: the pattern the
// router matched, never the path (which clients choose: one series per
// path would grow without bound), or metrics.Unmatched.
func routeLabel(c *echo.Context, status int) string {
	// Only a 404 may come from no route; RouteInfo copies, so it is
	// asked only then.
	if status == http.StatusNotFound && c.RouteInfo().Name == echo.NotFoundRouteName {
		return metrics.Unmatched
	}
	if p := c.Path(); p != "" {
		return p
	}
	return metrics.Unmatched
}
