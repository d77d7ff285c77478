package taxii_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/taxiid/taxiid/taxii"
	"github.com/taxiid/taxiid/taxii/metrics"
)

// BenchmarkGetObjectsMetrics measures what metrics cost on the page path:
// the pages of BenchmarkGetObjects (auth=none), served without metrics and
// with them as the taxiid binary keeps them (request counter and
// histogram, pages and objects served, the store measured), in turns.
// TAXIID_BENCH_ROUNDS repeats the pair (default 1).
//
//	TAXIID_BENCH_OBJECTS=20000 TAXIID_BENCH_ROUNDS=3 go test ./taxii -run '^$' -bench GetObjectsMetrics -benchtime 5000x
func BenchmarkGetObjectsMetrics(b *testing.B) {
	loadReadServer(b)
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("TAXIID_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	metered := meteredReadServer(b)
	off := func(b *testing.B) { benchmarkGetObjects(b, readServer) }
	on := func(b *testing.B) { benchmarkGetObjects(b, metered) }
	for r := range rounds {
		// Each round swaps the order, so that a machine getting busier
		// or quieter favours neither.
		if r%2 == 0 {
			b.Run("metrics=off", off)
			b.Run("metrics=on", on)
		} else {
			b.Run("metrics=on", on)
			b.Run("metrics=off", off)
		}
	}
}

// meteredReadServer serves readServer's store with metrics.
func meteredReadServer(b *testing.B) *benchServer {
	m := metrics.New(metrics.BuildInfo{})
	srv, err := taxii.New(context.Background(), taxii.Config{
		Store: m.CollectionsStore(readServer.store), Authorizer: allowAll{}, Logger: slog.New(slog.DiscardHandler),
		PageSize: 100, MaxPageSize: 1000, Metrics: m, MetricsToken: "token of the benchmark",
	})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	benchClose = append(benchClose, hs.Close)
	return &benchServer{url: hs.URL, client: readServer.client, store: readServer.store}
}
