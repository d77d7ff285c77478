package taxii_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/taxii"
)

// BenchmarkWrongPasswordFlood sends wrong passwords for one user from one
// address over many connections at once, with the server's real password
// cost and authentication throttle, and reports the password checks it
// cost (each 401 is one argon2 hash): with the throttle alone, and with
// the bound on failed sign-ins per address (the defaults of the taxiid
// binary). See BENCHMARKS.md.
//
//	go test ./taxii -run '^$' -bench WrongPasswordFlood -benchtime 1x
//
// TAXIID_BENCH_FLOOD sets how long each flood lasts (default 10s),
// TAXIID_BENCH_FLOOD_CONNS the connections (default 64; taxiid accepts 256
// from one address by default).
func BenchmarkWrongPasswordFlood(b *testing.B) {
	dur := 10 * time.Second
	if v := os.Getenv("TAXIID_BENCH_FLOOD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		dur = d
	}
	conns := 64
	if v := os.Getenv("TAXIID_BENCH_FLOOD_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("TAXIID_BENCH_FLOOD_CONNS=%q", v)
		}
		conns = n
	}
	for _, bounded := range []bool{false, true} {
		name := "throttle only"
		if bounded {
			name = "throttle and failed sign-ins bounded"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				url := floodServer(b, bounded)
				var unauthorized, limited, other atomic.Int64
				cpu0 := processCPU(b)
				stop := time.Now().Add(dur)
				c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
				var wg sync.WaitGroup
				for range conns {
					wg.Go(func() {
						for time.Now().Before(stop) {
							req, _ := http.NewRequest("GET", url+"/admin/me", nil)
							req.SetBasicAuth("alice", "a wrong guess")
							resp, err := c.Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							switch resp.StatusCode {
							case http.StatusUnauthorized:
								unauthorized.Add(1)
							case http.StatusTooManyRequests:
								limited.Add(1)
							default:
								other.Add(1)
							}
						}
					})
				}
				wg.Wait()
				cpu := processCPU(b) - cpu0
				if other.Load() > 0 {
					b.Errorf("%d answers neither 401 nor 429", other.Load())
				}
				// hashes: each 401 is one password checked; tail-s: how long
				// after the flood its last request was answered (checks
				// queue behind one another: a real user's sign-in waits as
				// long).
				b.ReportMetric(float64(unauthorized.Load()), "hashes")
				b.ReportMetric(float64(limited.Load()), "refused-429")
				b.ReportMetric(time.Since(stop).Seconds(), "tail-s")
				b.ReportMetric(cpu.Seconds(), "cpu-s")
			}
		})
	}
}

// floodServer starts a server with one user, alice, whose password has
// the default cost, and the default throttle; with bounded, failed
// sign-ins are bounded per address as taxiid does by default.
func floodServer(b *testing.B, bounded bool) string {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "taxiid.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	org, err := store.CreateOrganization(ctx, authz.Organization{Name: "A"})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := authz.HashPassword("alice's real password", authz.DefaultPasswordParams)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: org.ID, Role: authz.RoleMember, PasswordHash: hash}); err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	w := authz.NewWatcher(store, 0, logger)
	az, err := authz.NewAuthorizer(store, w, logger)
	if err != nil {
		b.Fatal(err)
	}
	ac := authz.AuthenticatorConfig{Store: store, Watcher: w, Log: logger}
	var limiter *taxii.RateLimiter
	if bounded {
		limiter, err = taxii.NewRateLimiter(taxii.RateLimitConfig{FailedChecks: 1, FailedChecksBurst: 20})
		if err != nil {
			b.Fatal(err)
		}
		ac.Admission = limiter
	}
	authn, err := authz.NewAuthenticator(ac)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	srv, err := taxii.New(ctx, taxii.Config{Store: store, Authorizer: az, Authenticator: authn, Logger: logger, RateLimiter: limiter})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		hs.Close()
		w.Close()
		authn.Close()
	})
	return hs.URL
}
