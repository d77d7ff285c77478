package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// healthTimeout bounds one health check, connection included.
const healthTimeout = 5 * time.Second

// healthcheck asks the server that `taxiid serve` would run with the same
// flags and environment whether it is up: GET /healthz on its listen
// address. nil for a 200; otherwise an error that says what went wrong,
// and the process exits with status 1. It needs no shell and no other
// program, so that a container image without either can use it as its
// HEALTHCHECK.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr *os.File) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	u := probeURL(cfg, "/healthz")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := probeClient(cfg).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", u, resp.Status)
	}
	return nil
}

// probeURL is the URL of path on the server configured by cfg, as a
// process on the same host reaches it: a wildcard listen address (all
// interfaces) is reached through loopback; https when the server speaks
// TLS.
func probeURL(cfg Config, path string) string {
	host, port, _ := net.SplitHostPort(cfg.Listen) // checked by validate
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.Equal(net.IPv4zero):
		host = "127.0.0.1"
	case ip != nil && ip.Equal(net.IPv6unspecified):
		host = "::1"
	}
	scheme := "http"
	if cfg.TLS.enabled() {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + path
}

// probeClient is the HTTP client of the health check. Over TLS it does
// not verify the server's certificate: the certificate names the host
// partners reach, not the address the probe uses on this host, and the
// probe only learns whether the server answers, sending no credentials.
func probeClient(cfg Config) *http.Client {
	c := &http.Client{Timeout: healthTimeout}
	if cfg.TLS.enabled() {
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}
	}
	return c
}
