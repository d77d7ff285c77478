package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/taxii"
	"github.com/taxiid/taxiid/taxii/metrics"
)

// Bounds of the metrics token: long enough not to be guessed, short
// enough for a header, and made of the characters a bearer token may
// hold without quoting.
const (
	minMetricsToken = 16
	maxMetricsToken = 1024
)

// validateMetrics returns the problems of the metrics settings.
func (cfg *Config) validateMetrics() []string {
	var problems []string
	if t := cfg.MetricsToken; t != "" {
		if len(t) < minMetricsToken || len(t) > maxMetricsToken {
			problems = append(problems, fmt.Sprintf("metrics-token must be %d to %d characters long, not %d", minMetricsToken, maxMetricsToken, len(t)))
		}
		for _, r := range t {
			if r <= ' ' || r > '~' {
				problems = append(problems, "metrics-token must be printable ASCII without spaces")
				break
			}
		}
	}
	if cfg.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(cfg.MetricsListen); err != nil {
			problems = append(problems, fmt.Sprintf("metrics-listen %q is not a host:port address", cfg.MetricsListen))
		} else if cfg.MetricsListen == cfg.Listen && port != "0" { // port 0: any free port
			problems = append(problems, "metrics-listen must differ from listen")
		}
		// The metrics listener follows the rule of the listen address: it
		// speaks TLS when the server does, and plain HTTP off loopback
		// only when insecure-http allows it.
		if !cfg.TLS.enabled() && !cfg.TLS.InsecureHTTP && !loopbackListen(cfg.MetricsListen) {
			problems = append(problems, fmt.Sprintf("metrics-listen %s is not a loopback address: serve HTTPS there "+
				"(tls-cert and tls-key), or allow plain HTTP with insecure-http (TAXIID_INSECURE_HTTP=true)", cfg.MetricsListen))
		}
	}
	return problems
}

// newMetrics returns the server's metrics, or nil when nothing would
// serve them (neither a metrics token nor a metrics listener).
func newMetrics(cfg Config) *metrics.Metrics {
	if cfg.MetricsToken == "" && cfg.MetricsListen == "" {
		return nil
	}
	b := currentBuild()
	return metrics.New(metrics.BuildInfo{Version: b.Version, Commit: b.Commit, Date: b.BuildDate})
}

// observeIngest has the ingester report to m, if any.
func observeIngest(ic collections.IngestConfig, m *metrics.Metrics) collections.IngestConfig {
	if m != nil { // a nil *Metrics in the interface would be a non-nil observer
		ic.Observer = m
	}
	return ic
}

// metricsConnections caps the connections of the metrics listener: a
// scraper needs few, and a flood on that port must not take the file
// descriptors the server needs.
const metricsConnections = 64

// serveMetrics starts the listener of --metrics-listen, if set, serving
// srv's metrics over TLS when the server speaks it (listenTLS: the same
// certificate, reloaded alike); stop closes it. A scrape is small: tight
// timeouts bound what a stalled connection holds.
func serveMetrics(ctx context.Context, cfg Config, srv *taxii.Server, logger *slog.Logger) (stop func(), err error) {
	if cfg.MetricsListen == "" {
		return func() {}, nil
	}
	tcp, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	ln := newLimitListener(tcp, metricsConnections, 0, logger)
	served, scheme, err := listenTLS(ctx, cfg.TLS, ln, logger)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.MetricsHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("metrics listening", "addr", scheme+"://"+ln.Addr().String()+"/metrics", "token", cfg.MetricsToken != "")
	go func() {
		if err := hs.Serve(served); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener", "err", err)
		}
	}()
	return func() { hs.Close() }, nil
}
