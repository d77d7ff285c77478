package collections_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

const (
	benchRoot  = "api1"
	benchColl  = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	benchOther = "52892447-4d7e-4f70-b94d-d7f22742ff63"
)

// benchEnv is an ingester on a real store with two collections.
type benchEnv struct {
	dir   string
	store *sqlite.Store
	ing   *collections.Ingester
	main  collections.Collection
	other collections.Collection
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "taxiid.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: benchRoot, Title: "API 1", MaxContentLength: 100 << 20}); err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{dir: dir, store: s}
	for i, id := range []string{benchColl, benchOther} {
		c := collections.Collection{APIRoot: benchRoot, ID: id, Title: fmt.Sprint("C", i),
			MediaTypes: []string{"application/stix+json;version=2.1"}}
		if err := s.PutCollection(ctx, c); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			e.main = c
		} else {
			e.other = c
		}
	}
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		b.Fatal(err)
	}
	e.ing = collections.NewIngester(s, v, collections.IngestConfig{Logger: slog.New(slog.DiscardHandler)})
	return e
}

// envInt reads a size from the environment, else def.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// procIO returns the process's write counters from /proc/self/io:
// write_bytes (bytes the kernel sent, or will send, to storage) and wchar
// (bytes passed to write system calls).
func procIO(b *testing.B) (writeBytes, wchar int64) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		b.Skipf("no /proc/self/io: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "write_bytes":
			writeBytes = n
		case "wchar":
			wchar = n
		}
	}
	return writeBytes, wchar
}

// walWatcher records the largest size of the store's WAL file.
type walWatcher struct {
	max  atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func watchWAL(path string) *walWatcher {
	w := &walWatcher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if fi, err := os.Stat(path); err == nil && fi.Size() > w.max.Load() {
				w.max.Store(fi.Size())
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *walWatcher) finish() int64 {
	close(w.stop)
	<-w.done
	return w.max.Load()
}

// tinyObjects returns n small objects (about 90 bytes): ipv4-addr
// cyber-observables without timestamps.
func tinyObjects(n int) []json.RawMessage {
	objs := make([]json.RawMessage, n)
	for i := range objs {
		objs[i] = json.RawMessage(fmt.Sprintf(`{"type":"ipv4-addr","spec_version":"2.1","id":"%s","value":"10.%d.%d.%d"}`,
			storetest.NewID("ipv4-addr"), i>>16&255, i>>8&255, i&255))
	}
	return objs
}

// versionsOfOneID returns n versions of one indicator, oldest first.
func versionsOfOneID(n int) []json.RawMessage {
	id := storetest.NewID("indicator")
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	objs := make([]json.RawMessage, n)
	for i := range objs {
		o := storetest.Object(storetest.STIX{Type: "indicator", ID: id, Created: created,
			Modified: created.Add(time.Duration(i) * time.Millisecond)})
		objs[i] = o.Raw
	}
	return objs
}

// waitComplete polls the status until it is complete.
func (e *benchEnv) waitComplete(b *testing.B, st collections.Status) collections.Status {
	b.Helper()
	for {
		got, err := e.store.Status(context.Background(), st.APIRoot, st.ID)
		if err != nil {
			b.Fatal(err)
		}
		if got.Status == collections.StatusComplete {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkIngestWrites measures the disk writes of one asynchronous push
// of many tiny objects (TAXIID_BENCH_TINY, default 50,000): bytes written
// per object (write_bytes and wchar of /proc/self/io, until the store is
// closed and its log checkpointed) and the largest size of the WAL.
func BenchmarkIngestWrites(b *testing.B) {
	n := envInt(b, "TAXIID_BENCH_TINY", 50_000)
	objs := tinyObjects(n)
	size := 0
	for _, o := range objs {
		size += len(o)
	}
	for b.Loop() {
		b.StopTimer()
		e := newBenchEnv(b)
		wal := watchWAL(filepath.Join(e.dir, "taxiid.db-wal"))
		wb0, wc0 := procIO(b)
		b.StartTimer()
		start := time.Now()
		st, err := e.ing.Ingest(context.Background(), e.main, "", objs)
		if err != nil {
			b.Fatal(err)
		}
		e.ing.Wait()
		got := e.waitComplete(b, st)
		elapsed := time.Since(start)
		b.StopTimer()
		if len(got.Successes) != n {
			b.Fatalf("%d successes, want %d (failures: %v)", len(got.Successes), n, got.Failures[:min(3, len(got.Failures))])
		}
		if err := e.store.Close(); err != nil {
			b.Fatal(err)
		}
		wb1, wc1 := procIO(b)
		b.ReportMetric(float64(wb1-wb0)/float64(n), "write_bytes/object")
		b.ReportMetric(float64(wc1-wc0)/float64(n), "wchar/object")
		b.ReportMetric(float64(size)/float64(n), "bytes/object-pushed")
		b.ReportMetric(float64(wal.finish())/(1<<20), "max-WAL-MiB")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "objects/s")
		b.StartTimer()
	}
}

// BenchmarkVersionsOfOneID measures one push of many versions of one id
// (TAXIID_BENCH_VERSIONS, default 5,000; the hardening target is 20,000)
// and, meanwhile, the latency of one-object pushes into another
// collection, one every 50 ms.
func BenchmarkVersionsOfOneID(b *testing.B) {
	n := envInt(b, "TAXIID_BENCH_VERSIONS", 5_000)
	objs := versionsOfOneID(n)
	for b.Loop() {
		b.StopTimer()
		e := newBenchEnv(b)
		ctx := context.Background()
		stop := make(chan struct{})
		var (
			wg        sync.WaitGroup
			latencies []time.Duration
		)
		wg.Go(func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				one := []json.RawMessage{storetest.Object(storetest.STIX{Type: "indicator", Created: time.Now()}).Raw}
				start := time.Now()
				if _, err := e.ing.Ingest(ctx, e.other, "", one); err != nil {
					b.Error(err)
					return
				}
				latencies = append(latencies, time.Since(start))
			}
		})
		b.StartTimer()
		start := time.Now()
		st, err := e.ing.Ingest(ctx, e.main, "", objs)
		if err != nil {
			b.Fatal(err)
		}
		got := e.waitComplete(b, st)
		elapsed := time.Since(start)
		b.StopTimer()
		close(stop)
		wg.Wait()
		e.ing.Wait()
		if len(got.Successes) != n {
			b.Fatalf("%d successes, want %d", len(got.Successes), n)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "versions/s")
		if len(latencies) > 0 {
			slices.Sort(latencies)
			b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "push-p50-ms")
			b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "push-max-ms")
		}
		b.StartTimer()
	}
}
