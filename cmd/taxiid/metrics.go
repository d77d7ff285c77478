package main

import (
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

// serveMetrics starts the listener of --metrics-listen, if set, serving
// srv's metrics; stop closes it. A scraper's request is small: tight
// timeouts bound what a stalled connection holds.
func serveMetrics(cfg Config, srv *taxii.Server, logger *slog.Logger) (stop func(), err error) {
	if cfg.MetricsListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
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
	logger.Info("metrics listening", "addr", "http://"+ln.Addr().String()+"/metrics", "token", cfg.MetricsToken != "")
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener", "err", err)
		}
	}()
	return func() { hs.Close() }, nil
}
