//go:build unix

package metrics_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/taxii/metrics"
)

// pageStore answers Objects with an empty page at once: what is left is
// the cost of measuring the call.
type pageStore struct{ collections.Store }

func (pageStore) Objects(context.Context, collections.Query) (collections.Page, error) {
	return collections.Page{}, nil
}

// BenchmarkPageMetrics is what metrics add to one GET objects page, apart
// from the HTTP and store work they measure: the request counter and
// histogram, the pages and objects served, and two measured store calls
// (the collection lookup and the page query make two on this path).
// cpu-ns/op is the process's CPU time per page, steadier than ns/op on a
// machine shared with other work.
//
//	go test ./taxii/metrics -run '^$' -bench . -cpu 1,2
func BenchmarkPageMetrics(b *testing.B) {
	m := metrics.New(metrics.BuildInfo{})
	s := m.CollectionsStore(pageStore{})
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Objects(ctx, collections.Query{})
			s.Objects(ctx, collections.Query{})
			m.Served("objects", 100)
			m.Request("/:root/collections/:coll/objects/", "GET", 200, 3*time.Millisecond)
		}
	})
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
