package taxii_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/taxii"
)

// countingStore counts the store calls of a server.
type countingStore struct {
	collections.Store
	objects, watermarks atomic.Int64
}

func (s *countingStore) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	s.objects.Add(1)
	return s.Store.Objects(ctx, q)
}

func (s *countingStore) Watermarks(ctx context.Context, ids []string) (map[string]time.Time, error) {
	s.watermarks.Add(1)
	return s.Store.Watermarks(ctx, ids)
}

// BenchmarkLongPollWaiters holds TAXIID_BENCH_WAITERS (default 2,000)
// requests waiting on one collection of one server, then pushes one
// object, through the same server ("local") or through another server on
// the same SQLite file ("other-server"), and measures:
//   - heap and goroutines per waiting request (server and clients: they
//     share the process), after a garbage collection;
//   - store calls per second while they wait (quiet-s: over 3 s);
//   - from the push (its request sent) to each answer: p50, p99, max;
//   - the store's Objects calls the push caused (each woken request runs
//     its own query once).
//
// Run with -benchtime 1x: one iteration is a whole round.
func BenchmarkLongPollWaiters(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("TAXIID_BENCH_WAITERS")); err == nil && v > 0 {
		n = v
	}
	b.Run("yardstick", func(b *testing.B) {
		for range b.N {
			yardstickRound(b, n)
		}
	})
	for _, via := range []string{"local", "other-server"} {
		b.Run(via, func(b *testing.B) {
			for range b.N {
				longPollRound(b, n, via == "other-server")
			}
		})
	}
}

func longPollRound(b *testing.B, n int, other bool) {
	path := filepath.Join(b.TempDir(), "taxiid.db")
	counted := &countingStore{}
	r := startPollServer(b, path, true, allowAll{}, func(c *taxii.Config) {
		counted.Store = c.Store
		c.Store = counted
		c.MaxWaitsPerUser = n
		c.TransferGrace = taxii.DefaultTransferGrace // not the tests' short one: thousands of answers are written at once
	})
	w := r
	if other {
		w = startPollServer(b, path, false, allowAll{}, func(c *taxii.Config) { c.TransferGrace = taxii.DefaultTransferGrace })
	}
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Timeout: 60 * time.Second, Transport: tr}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	answers := make(chan time.Time, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, r.url+objects, nil)
			req.Header.Set("Accept", taxii.MediaTypeTAXII)
			req.Header.Set("Prefer", "wait=50")
			resp, err := cl.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var buf [4096]byte
			for {
				if _, err := resp.Body.Read(buf[:]); err != nil {
					break
				}
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Preference-Applied") != "wait" {
				errs <- fmt.Errorf("answer %d, Preference-Applied %q", resp.StatusCode, resp.Header.Get("Preference-Applied"))
				return
			}
			answers <- time.Now()
		}()
	}
	// Waiting counts a request from its admission; its first query then
	// runs: wait for those too.
	for deadline := time.Now().Add(60 * time.Second); r.srv.Waiting() < n || counted.objects.Load() < int64(n); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d requests waiting; want %d", r.srv.Waiting(), n)
		}
	}
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	g1 := runtime.NumGoroutine()

	o0, w0 := counted.objects.Load(), counted.watermarks.Load()
	const quiet = 3 * time.Second
	time.Sleep(quiet)
	o1, w1 := counted.objects.Load(), counted.watermarks.Load()

	pushed := time.Now()
	body := []byte(`{"objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--7d1e3c2a-5b4f-4e6d-8c9b-0a1b2c3d4e5f",` +
		`"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']",` +
		`"pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}]}`)
	req, _ := http.NewRequest(http.MethodPost, w.url+objects, bytes.NewReader(body))
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	lat := make([]time.Duration, 0, n)
	for range n {
		select {
		case at := <-answers:
			lat = append(lat, at.Sub(pushed))
		case err := <-errs:
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	o2 := counted.objects.Load()

	b.ReportMetric(float64(n), "waiters")
	b.ReportMetric(float64(during.HeapInuse-before.HeapInuse)/float64(n), "heap-B/waiter")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/waiter")
	b.ReportMetric(float64(o1-o0+w1-w0)/quiet.Seconds(), "store-calls/s-waiting")
	b.ReportMetric(float64(w1-w0)/quiet.Seconds(), "watermark-calls/s-waiting")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(o2-o1), "objects-calls/push")
}

// yardstickRound holds n requests in a bare net/http handler, with the
// same clients: what any Go server holding them costs, to compare
// heap-B/waiter and goroutines/waiter with.
func yardstickRound(b *testing.B, n int) {
	release := make(chan struct{})
	var held atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Write([]byte("{}"))
	}))
	defer hs.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Timeout: 60 * time.Second, Transport: tr}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	done := make(chan struct{}, n)
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			resp, err := cl.Get(hs.URL)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for held.Load() < int64(n) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	g1 := runtime.NumGoroutine()
	close(release)
	for range n {
		<-done
	}
	b.ReportMetric(float64(n), "waiters")
	b.ReportMetric(float64(during.HeapInuse-before.HeapInuse)/float64(n), "heap-B/waiter")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/waiter")
}
