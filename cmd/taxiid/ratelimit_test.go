package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/taxii"
)

// TestParseRateLimitFlags checks the rate limit flags, their environment
// overrides, the per-organization overrides of the configuration file and
// the division among replicas, and the problems reported.
func TestParseRateLimitFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		file     string
		want     taxii.RateLimitConfig
		wantOn   bool
		wantErrs []string
	}{
		{
			name: "defaults",
			want: taxii.RateLimitConfig{
				Default:      taxii.Limits{Requests: 200, RequestsBurst: 2000, PushBytes: 10 << 20, PushBytesBurst: 256 << 20},
				FailedChecks: 1, FailedChecksBurst: 20,
			},
			wantOn: true,
		},
		{
			name: "flags",
			args: []string{"--rate-requests", "50.5", "--rate-requests-burst", "10", "--rate-push-bytes", "1MiB",
				"--rate-push-bytes-burst", "2MB", "--rate-auth-failures", "0.5", "--rate-auth-failures-burst", "3"},
			want: taxii.RateLimitConfig{
				Default:      taxii.Limits{Requests: 50.5, RequestsBurst: 10, PushBytes: 1 << 20, PushBytesBurst: 2e6},
				FailedChecks: 0.5, FailedChecksBurst: 3,
			},
			wantOn: true,
		},
		{
			name: "environment, flag over environment",
			args: []string{"--rate-requests", "7"},
			env: map[string]string{"TAXIID_RATE_REQUESTS": "9", "TAXIID_RATE_REQUESTS_BURST": "90",
				"TAXIID_RATE_PUSH_BYTES": "0", "TAXIID_RATE_AUTH_FAILURES": "0"},
			want: taxii.RateLimitConfig{
				Default:           taxii.Limits{Requests: 7, RequestsBurst: 90, PushBytesBurst: 256 << 20},
				FailedChecksBurst: 20,
			},
			wantOn: true,
		},
		{
			name: "every limit off",
			args: []string{"--rate-requests", "0", "--rate-push-bytes", "0", "--rate-auth-failures", "0"},
			want: taxii.RateLimitConfig{
				Default:           taxii.Limits{RequestsBurst: 2000, PushBytesBurst: 256 << 20},
				FailedChecksBurst: 20,
			},
		},
		{
			name: "organization overrides, divided among replicas",
			args: []string{"--rate-replicas", "4"},
			env:  map[string]string{"TAXIID_RATE_AUTH_FAILURES": "2"},
			file: `
rate_limits:
  organizations:
    ACME:
      requests: 1000
      push_bytes: 40MiB
    Beta:
      requests_burst: 5
      push_bytes: 0
      push_bytes_burst: 1048576
`,
			want: taxii.RateLimitConfig{
				Default:      taxii.Limits{Requests: 50, RequestsBurst: 2000, PushBytes: 10 << 18, PushBytesBurst: 256 << 20},
				FailedChecks: 0.5, FailedChecksBurst: 20,
				Organizations: map[string]taxii.Limits{
					"ACME": {Requests: 250, RequestsBurst: 2000, PushBytes: 10 << 20, PushBytesBurst: 256 << 20},
					"Beta": {Requests: 50, RequestsBurst: 5, PushBytesBurst: 1 << 20},
				},
			},
			wantOn: true,
		},
		{
			name: "bad values",
			args: []string{"--rate-requests", "-1", "--rate-requests-burst", "0", "--rate-push-bytes-burst", "0",
				"--rate-auth-failures-burst", "0", "--rate-replicas", "0"},
			file: "rate_limits:\n  organizations:\n    ACME:\n      requests: -5\n    Beta:\n      push_bytes_burst: 0\n",
			wantErrs: []string{"rate-requests must be 0 (no limit) or more, not -1",
				"rate-push-bytes-burst must be at least 1, not 0", "rate-auth-failures-burst must be at least 1, not 0",
				"rate-replicas must be at least 1, not 0", `rate_limits.organizations["ACME"].requests must be 0 (no limit) or more, not -5`,
				`rate_limits.organizations["Beta"].push_bytes_burst must be at least 1, not 0`},
		},
		{
			name:     "bad environment and sizes",
			env:      map[string]string{"TAXIID_RATE_REQUESTS": "lots", "TAXIID_RATE_PUSH_BYTES": "fast", "TAXIID_RATE_REPLICAS": "two"},
			file:     "rate_limits:\n  organizations:\n    ACME:\n      push_bytes: quick\n",
			wantErrs: []string{`TAXIID_RATE_REQUESTS="lots" is not a number`, `TAXIID_RATE_PUSH_BYTES: "fast" is not a size`, `TAXIID_RATE_REPLICAS="two" is not an integer`, `"quick" is not a size`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				path := filepath.Join(t.TempDir(), "taxiid.yaml")
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", path)
			}
			cfg, ok := parsedFlags(t, args, env(tt.env), tt.wantErrs)
			if !ok {
				return
			}
			got, on := cfg.rateLimitConfig(nil, nil)
			if diff := cmp.Diff(tt.want, got); diff != "" || on != tt.wantOn {
				t.Errorf("rate limits (-want +got):\n%s\non = %v; want %v", diff, on, tt.wantOn)
			}
		})
	}
}

// TestRateLimitsOfConfigFile: a running taxiid applies the override the
// configuration file declares for an organization to its users, and the
// flags' limits to others; a refusal is a 429 with Retry-After.
func TestRateLimitsOfConfigFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "taxiid.yaml")
	if err := os.WriteFile(conf, []byte("rate_limits:\n  organizations:\n    ACME:\n      requests: 0.001\n      requests_burst: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base, _ := startEnv(t, dir, processEnv("TAXIID_DATA="+data, "TAXIID_CONFIG="+conf, "TAXIID_RATE_REQUESTS_BURST=100"))
	for _, args := range [][]string{
		{"orgs", "create", "--name", "ACME"},
		{"users", "create", "--name", "alice", "--org", "ACME", "--password-stdin"},
	} {
		if _, stderr, code := adminRun(t, data, "alice's long password\n", args...); code != 0 {
			t.Fatalf("taxiid admin %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
	}
	alice := basicHeader("alice", "alice's long password")

	type answer struct {
		Status     int
		RetryAfter string
	}
	get := func(auth string) answer {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/admin/me", nil)
		req.Header.Set("Authorization", auth)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Error string }
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusTooManyRequests {
			if err := json.Unmarshal(b, &body); err != nil || !strings.Contains(body.Error, "too many requests") {
				t.Errorf("429 body = %s; want a JSON error", b)
			}
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra >= 990 && ra <= 1000 {
				return answer{resp.StatusCode, "about 1000"}
			}
		}
		return answer{resp.StatusCode, resp.Header.Get("Retry-After")}
	}
	var got []answer
	for range 3 {
		got = append(got, get(alice))
	}
	if want := []answer{{200, ""}, {200, ""}, {429, "about 1000"}}; !cmp.Equal(got, want) {
		t.Errorf("alice (ACME) = %v; want %v", got, want)
	}
	got = got[:0]
	for range 5 {
		got = append(got, get(basicHeader(adminUser, testAdminPassword)))
	}
	if want := []answer{{200, ""}, {200, ""}, {200, ""}, {200, ""}, {200, ""}}; !cmp.Equal(got, want) {
		t.Errorf("admin (operators) = %v; want %v", got, want)
	}
}
