package taxii_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/taxii"
)

// BenchmarkRateLimitHTTP measures a cheap request (discovery, without
// credentials) through a real listener with the limiter off and on (limits
// no request reaches; every request takes a token of the one source
// address, the most contended case), for the CPU the limiter adds to a
// whole request. See BENCHMARKS.md.
//
//	go test ./taxii -run '^$' -bench RateLimitHTTP -benchtime 20000x
func BenchmarkRateLimitHTTP(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "taxiid.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		b.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		name := "off"
		cfg := taxii.Config{Store: store, Authorizer: allowAll{}, Logger: slog.New(slog.DiscardHandler)}
		if on {
			name = "on"
			cfg.RateLimiter, err = taxii.NewRateLimiter(taxii.RateLimitConfig{
				Default: taxii.Limits{Requests: 1e12, RequestsBurst: 1e12, PushBytes: 1e15, PushBytesBurst: 1e15},
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		srv, err := taxii.New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		b.Run(name, func(b *testing.B) {
			cpu0 := processCPU(b)
			b.SetParallelism(2)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", hs.URL+"/taxii2/", nil)
					req.Header.Set("Accept", taxii.MediaTypeTAXII)
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("GET /taxii2/ = %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/req")
		})
		hs.Close()
	}
}
