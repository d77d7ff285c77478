package mirror_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/taxiid/taxiid/collections/mirror"
)

// BenchmarkMirrorPull: one pull of a remote taxiid collection of 5000
// versions into an empty local collection (SQLite on both sides, through
// a loopback listener, pages of 500).
func BenchmarkMirrorPull(b *testing.B) {
	const n, batch = 5000, 500
	r := startRemote(b)
	for i := 0; i < n; i += batch {
		objs := make([]map[string]any, batch)
		for j := range objs {
			objs[j] = indicator("indicator--"+newUUID(), 0)
		}
		must(b, r.push(objs))
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		a := openLocal(b, filepath.Join(b.TempDir(), fmt.Sprintf("local%d.db", i)), "bench")
		a.puller.Limits = mirror.Limits{PageObjects: 500}
		_, err := a.svc.CreateSource(context.Background(), mirror.SourceInput{Name: "remote", URL: r.collectionURL(),
			Token: r.reader, APIRoot: "api1", Collection: localColl})
		must(b, err)
		b.StartTimer()
		if _, err := a.puller.Pull(context.Background(), "remote"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st, err := a.store.SourceState(context.Background(), "remote")
		must(b, err)
		if st.Counters.Added != n {
			b.Fatalf("%d added, want %d", st.Counters.Added, n)
		}
		a.store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}
