package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runTaxiid runs the taxiid binary with args and the environment env and
// returns its exit status and output.
func runTaxiid(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestHealthcheckCommand runs `taxiid healthcheck` against a running
// taxiid (plain and over TLS, configured as serve is), a server whose
// /healthz fails and an address nobody listens on.
func TestHealthcheckCommand(t *testing.T) {
	_, base, _ := start(t, t.TempDir())
	up := strings.TrimPrefix(base, "http://")

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer failing.Close()

	tlsDir := t.TempDir()
	certFile, keyFile := tlsFiles(t, tlsDir, newTestCA(t, "taxiid test CA").serverCert(t))
	_, tlsBase, _ := start(t, tlsDir, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(tlsBase, "https://") {
		t.Fatalf("listening at %s; want https", tlsBase)
	}
	upTLS := strings.TrimPrefix(tlsBase, "https://")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		wantOut  string
	}{
		{name: "up, from the environment", env: []string{"TAXIID_LISTEN=" + up}, wantCode: 0},
		{name: "up, from the flag", args: []string{"--listen", up}, wantCode: 0},
		{name: "up, over TLS", env: []string{"TAXIID_LISTEN=" + upTLS, "TAXIID_TLS_CERT=" + certFile, "TAXIID_TLS_KEY=" + keyFile}, wantCode: 0},
		{name: "TLS server, probed without TLS", env: []string{"TAXIID_LISTEN=" + upTLS}, wantCode: 1, wantOut: "400 Bad Request"},
		{name: "failing", env: []string{"TAXIID_LISTEN=" + strings.TrimPrefix(failing.URL, "http://")}, wantCode: 1, wantOut: "503 Service Unavailable"},
		{name: "nobody listening", env: []string{"TAXIID_LISTEN=" + closed}, wantCode: 1, wantOut: "connection refused"},
		{name: "bad configuration", env: []string{"TAXIID_LISTEN=nowhere"}, wantCode: 1, wantOut: `listen "nowhere"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runTaxiid(t, tc.env, append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.wantCode {
				t.Errorf("exit status %d; want %d\n%s", code, tc.wantCode, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

func TestProbeURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz"},
		{":8080", "http://127.0.0.1:8080/healthz"},
		{"[::]:8080", "http://[::1]:8080/healthz"},
		{"[::1]:9000", "http://[::1]:9000/healthz"},
		{"taxiid.example.org:443", "http://taxiid.example.org:443/healthz"},
	} {
		if got := probeURL(Config{Listen: tc.listen}, "/healthz"); got != tc.want {
			t.Errorf("probeURL(%q) = %q; want %q", tc.listen, got, tc.want)
		}
	}
}

// TestVersionCommand: `taxiid version` takes no arguments.
func TestVersionCommand(t *testing.T) {
	if code, out := runTaxiid(t, nil, "version", "--json"); code != 1 || !strings.Contains(out, "no arguments") {
		t.Errorf("taxiid version --json: status %d; want 1 and a complaint\n%s", code, out)
	}
}

// TestMetricsConfiguration: the metrics settings that stop the start.
func TestMetricsConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error; "" for none
	}{
		{"off", nil, ""},
		{"token", []string{"--metrics-token", "0123456789abcdef"}, ""},
		{"listener", []string{"--metrics-listen", "127.0.0.1:9090"}, ""},
		{"short token", []string{"--metrics-token", "0123456789abcde"}, "metrics-token must be 16 to 1024 characters long, not 15"},
		{"token with a space", []string{"--metrics-token", "0123456789 abcdef"}, "metrics-token must be printable ASCII without spaces"},
		{"listener not an address", []string{"--metrics-listen", "9090"}, `metrics-listen "9090" is not a host:port address`},
		{"listener on the listen address", []string{"--listen", "127.0.0.1:8080", "--metrics-listen", "127.0.0.1:8080"}, "metrics-listen must differ from listen"},
		{"plain listener off loopback", []string{"--metrics-listen", "0.0.0.0:9090"}, "metrics-listen 0.0.0.0:9090 is not a loopback address"},
		{"plain listener off loopback, allowed", []string{"--metrics-listen", "0.0.0.0:9090", "--insecure-http"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, func(string) string { return "" }, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("parseFlags(%q) = %v; want no error", tc.args, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("parseFlags(%q) = %v; want an error naming %q", tc.args, err, tc.want)
			}
		})
	}
}

var metricsListening = regexp.MustCompile(`metrics listening" addr=(https?://\S+)/metrics`)

// TestServeMetrics runs taxiid with each way of serving metrics, pushes
// through it, and scrapes: the binary wires the ingester and the stores to
// the metrics, and serves them only where it should.
func TestServeMetrics(t *testing.T) {
	const tok = "metrics-token-of-the-tests"
	for _, tc := range []struct {
		name string
		env  []string
		// where the metrics are: "main" or "own" listener; "" for nowhere
		where string
		token string
	}{
		{name: "off", where: ""},
		{name: "token", env: []string{"TAXIID_METRICS_TOKEN=" + tok}, where: "main", token: tok},
		{name: "own listener", env: []string{"TAXIID_METRICS_LISTEN=127.0.0.1:0"}, where: "own"},
		{name: "own listener and token", env: []string{"TAXIID_METRICS_LISTEN=127.0.0.1:0", "TAXIID_METRICS_TOKEN=" + tok}, where: "own", token: tok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base, log := startEnv(t, t.TempDir(), processEnv(tc.env...))
			own := ""
			if m := metricsListening.FindStringSubmatch(log.String()); m != nil {
				own = m[1]
			}
			if (own != "") != (tc.where == "own") {
				t.Fatalf("metrics listener %q; want one: %v\n%s", own, tc.where == "own", log)
			}
			push(t, base+"/api1/collections/default/objects/", `{"objects":[
			  {"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2023-03-02T12:00:00.000Z","modified":"2023-03-02T12:00:00.000Z","name":"x","is_family":false},
			  {"type":"malware","spec_version":"2.1","id":"malware--41b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2023-03-02T12:00:00Z","modified":"2023-03-02T12:00:00.000Z","name":"y","is_family":false}]}`)

			status, body := scrapeMetrics(t, base, tc.token)
			if want := map[bool]int{true: 200, false: 404}[tc.where == "main"]; status != want {
				t.Fatalf("GET %s/metrics = %d; want %d\n%s", base, status, want, body)
			}
			if tc.where == "own" {
				if tc.token != "" {
					if status, body := scrapeMetrics(t, own, ""); status != 401 {
						t.Errorf("metrics listener without the token = %d; want 401\n%s", status, body)
					}
				}
				status, body = scrapeMetrics(t, own, tc.token)
				if status != 200 {
					t.Fatalf("GET %s/metrics = %d; want 200\n%s", own, status, body)
				}
			}
			if tc.where == "" {
				return
			}
			for _, want := range []string{
				`taxiid_ingest_objects_total{outcome="stored"} 1`,
				`taxiid_ingest_objects_total{outcome="rejected"} 1`,
				`taxiid_build_info{build_date="` + imageBuildArgs["BUILD_DATE"] + `",commit="` + imageBuildArgs["COMMIT"] + `",goversion=`,
				`taxiid_store_operation_duration_seconds_count{operation="AddObjects"} 1`,
				`taxiid_store_operation_duration_seconds_count{operation="UserByName"}`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}

// push sends an envelope as the first admin and expects it accepted.
func push(t *testing.T, u, envelope string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(envelope))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 {
		t.Fatalf("POST %s = %d\n%s", u, resp.StatusCode, b)
	}
}

// scrapeMetrics gets base/metrics with the token; with "" it sends an
// Authorization header of another scheme (the tests' client would sign in
// as the admin without one).
func scrapeMetrics(t *testing.T, base, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + token
	if token == "" {
		auth = "None"
	}
	req.Header.Set("Authorization", auth)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeMetricsTLS: with TLS configured the metrics listener speaks it
// too, with the server's certificate.
func TestServeMetricsTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "taxiid test CA")
	certFile, keyFile := tlsFiles(t, dir, ca.serverCert(t))
	_, _, log := start(t, dir, "--tls-cert", certFile, "--tls-key", keyFile, "--metrics-listen", "127.0.0.1:0")
	m := metricsListening.FindStringSubmatch(log.String())
	if m == nil || !strings.HasPrefix(m[1], "https://") {
		t.Fatalf("metrics listener %v; want https\n%s", m, log)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}}}
	resp, err := c.Get(m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "taxiid_build_info{") {
		t.Errorf("GET %s/metrics = %d\n%.300s", m[1], resp.StatusCode, b)
	}
}
