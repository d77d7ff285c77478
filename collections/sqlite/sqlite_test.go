package sqlite_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

func open(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	var paths sync.Map // *sqlite.Store -> its file
	storetest.RunTests(t, storetest.Backend{
		New: func(t *testing.T) collections.Store {
			path := filepath.Join(t.TempDir(), "sub", "dir", "taxiid.db")
			s := open(t, path)
			paths.Store(s, path)
			return s
		},
		Another: func(t *testing.T, s collections.Store) collections.Store {
			path, _ := paths.Load(s)
			return open(t, path.(string))
		},
	})
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "taxiid.db")
	s := open(t, path)
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	c := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Title: "C"}
	if err := s.PutCollection(ctx, c); err != nil {
		t.Fatal(err)
	}
	obj := storetest.Object(storetest.STIX{Type: "indicator", Created: time.Now()})
	first, err := s.AddObjects(ctx, c.APIRoot, c.ID, []collections.NewObject{obj}, collections.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := storetest.Object(storetest.STIX{Type: "indicator", Created: time.Now()})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = open(t, path)
	page, err := s.Objects(ctx, collections.Query{APIRoot: c.APIRoot, Collection: c.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 1 || string(page.Objects[0].Raw) != string(obj.Raw) ||
		!page.Objects[0].DateAdded.Equal(first[0].DateAdded) {
		t.Fatalf("after reopening: %+v, want the object added before", page.Objects)
	}
	second, err := s.AddObjects(ctx, c.APIRoot, c.ID, []collections.NewObject{next, obj}, collections.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !second[0].DateAdded.After(first[0].DateAdded) {
		t.Errorf("DateAdded after reopening %v, not after %v", second[0].DateAdded, first[0].DateAdded)
	}
	if second[1].Outcome != collections.Unchanged {
		t.Errorf("re-push after reopening: %v, want Unchanged", second[1].Outcome)
	}
}

// benchStore returns a store with one collection, in a temporary directory.
func benchStore(b testing.TB) (*sqlite.Store, collections.Collection) {
	ctx := context.Background()
	s := open(b, filepath.Join(b.TempDir(), "taxiid.db"))
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		b.Fatal(err)
	}
	c := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Title: "C"}
	if err := s.PutCollection(ctx, c); err != nil {
		b.Fatal(err)
	}
	return s, c
}

// batches returns n batches of size ~1 KB objects.
func batches(r *rand.Rand, n, size int) [][]collections.NewObject {
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]collections.NewObject, n)
	for i := range out {
		out[i] = make([]collections.NewObject, size)
		for j := range out[i] {
			t = t.Add(time.Millisecond)
			out[i][j] = storetest.RandomObject(r, t, 1024)
		}
	}
	return out
}

// BenchmarkAddObjects measures ingest: one op is one AddObjects call of
// 1,000 new objects of about 1 KB, TLP:RED (what an unmarked object is by
// default).
func BenchmarkAddObjects(b *testing.B) { benchAddObjects(b, stix.TLPRed, nil) }

// BenchmarkAddObjectsBelowRed is BenchmarkAddObjects with TLP:GREEN
// objects, which the indexes for ceilings below TLP:RED hold too.
func BenchmarkAddObjectsBelowRed(b *testing.B) { benchAddObjects(b, stix.TLPGreen, nil) }

// BenchmarkAddObjectsMarked is BenchmarkAddObjects with TLP:GREEN objects
// that reference two marking definitions (the TLP 2.0 green one and a
// statement), which the markings tables record.
func BenchmarkAddObjectsMarked(b *testing.B) {
	benchAddObjects(b, stix.TLPGreen, []string{"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
		"marking-definition--0c3f6b8e-5d2a-4f1e-9b7c-3a8d2e6f1b45"})
}

func benchAddObjects(b *testing.B, tlp stix.TLP, markings []string) {
	const batch = 1000
	s, c := benchStore(b)
	r := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	var (
		pending [][]collections.NewObject
		cpu     time.Duration
	)
	for b.Loop() {
		if len(pending) == 0 {
			b.StopTimer()
			pending = batches(r, 10, batch)
			for _, objs := range pending {
				for i := range objs {
					objs[i].TLP, objs[i].Markings = tlp, markings
				}
			}
			b.StartTimer()
		}
		start := cpuTime()
		if _, err := s.AddObjects(ctx, c.APIRoot, c.ID, pending[0], collections.AddOptions{}); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - start
		pending = pending[1:]
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "objects/s")
	// CPU time of the whole process (background checkpoints included) per
	// object: on a shared machine, a steadier figure than wall time.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*batch), "cpu-µs/object")
}

// BenchmarkAddVersions measures ingest of new versions: one op is one
// AddObjects call of 1,000 objects of about 1 KB that have three versions
// stored, each getting its fourth. "red": every version TLP:RED, the
// plan's marks as before levels; "green": every version TLP:GREEN, so each
// add reads the object's versions and rewrites the marks under the
// ceilings below TLP:RED that change; "red-on-green": a TLP:RED version
// of objects whose versions are TLP:GREEN, which changes no mark below
// TLP:RED.
func BenchmarkAddVersions(b *testing.B) {
	for _, bc := range []struct {
		name         string
		stored, next stix.TLP
	}{{"red", stix.TLPRed, stix.TLPRed}, {"green", stix.TLPGreen, stix.TLPGreen}, {"red-on-green", stix.TLPGreen, stix.TLPRed}} {
		b.Run(bc.name, func(b *testing.B) {
			const batch, stored = 1000, 3
			s, c := benchStore(b)
			r := rand.New(rand.NewPCG(1, 2))
			ctx := context.Background()
			created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			at := created
			// versions returns the next version of each of objs.
			versions := func(objs []collections.NewObject, tlp stix.TLP) []collections.NewObject {
				at = at.Add(time.Second)
				out := make([]collections.NewObject, len(objs))
				for i, o := range objs {
					out[i] = storetest.Object(storetest.STIX{Type: o.Type, ID: o.ID, Created: created, Modified: at,
						Fields: map[string]any{"description": string(o.Raw[:min(len(o.Raw), 900)])}})
					out[i].TLP = tlp
				}
				return out
			}
			add := func(objs []collections.NewObject) {
				rs, err := s.AddObjects(ctx, c.APIRoot, c.ID, objs, collections.AddOptions{})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range rs {
					if r.Outcome != collections.Added {
						b.Fatalf("%+v: want a new version", r)
					}
				}
			}
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				objs := batches(r, 1, batch)[0]
				for range stored {
					objs = versions(objs, bc.stored)
					add(objs)
				}
				next := versions(objs, bc.next)
				b.StartTimer()
				start := cpuTime()
				add(next)
				cpu += cpuTime() - start
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "objects/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*batch), "cpu-µs/object")
		})
	}
}

// BenchmarkObjectsPage measures reads: one op is one page of 100 objects of
// 100,000, walked with AddedAfter and restarted at the end.
func BenchmarkObjectsPage(b *testing.B) {
	const total, limit = 100_000, 100
	s, c := benchStore(b)
	ctx := context.Background()
	for _, objs := range batches(rand.New(rand.NewPCG(1, 2)), total/1000, 1000) {
		if _, err := s.AddObjects(ctx, c.APIRoot, c.ID, objs, collections.AddOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		q    collections.Query
	}{
		{"latest", collections.Query{}},
		{"metadata", collections.Query{MetadataOnly: true}},
		{"type", collections.Query{Types: []string{"indicator"}}},
		{"types", collections.Query{Types: []string{"indicator", "malware"}}},
		{"firstlast", collections.Query{Versions: collections.VersionFilter{First: true, Last: true}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := bc.q
			q.APIRoot, q.Collection, q.Limit = c.APIRoot, c.ID, limit
			start := cpuTime()
			for b.Loop() {
				p, err := s.Objects(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Objects) < limit && p.More {
					b.Fatal("short page with More")
				}
				q.AddedAfter = time.Time{}
				if p.More {
					q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// Stores started at once on one new file (replicas sharing a data folder)
// all open: one migrates, the others wait for it and find the work done.
func TestConcurrentOpen(t *testing.T) {
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "taxiid.db")
		const n = 4
		stores := make([]*sqlite.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = sqlite.Open(t.Context(), path)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Open %d: %v", round, i, err)
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		root := collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1000}
		if err := stores[0].PutAPIRoot(t.Context(), root); err != nil {
			t.Fatal(err)
		}
		for i, s := range stores {
			roots, err := s.APIRoots(t.Context())
			if err != nil || len(roots) != 1 || roots[0] != root {
				t.Errorf("round %d: APIRoots through store %d = %v, %v; want %v", round, i, roots, err, root)
			}
		}
	}
}

// BenchmarkCeilingPage measures reads under a TLP ceiling: one op is one
// page of 100 of a collection of 100,000 versions of which one in ten is
// TLP:GREEN and the others TLP:RED, walked with AddedAfter and restarted
// at the end. "green" is a partner whose ceiling hides 90% of the
// collection, "none" one without a ceiling.
func BenchmarkCeilingPage(b *testing.B) {
	const total, limit = 100_000, 100
	s, c := benchStore(b)
	ctx := context.Background()
	n := 0
	for _, objs := range batches(rand.New(rand.NewPCG(1, 2)), total/1000, 1000) {
		for i := range objs {
			objs[i].TLP = stix.TLPRed
			if n%10 == 0 {
				objs[i].TLP = stix.TLPGreen
			}
			n++
		}
		if _, err := s.AddObjects(ctx, c.APIRoot, c.ID, objs, collections.AddOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		q    collections.Query
	}{
		{"none", collections.Query{}},
		{"green", collections.Query{MaxTLP: stix.TLPGreen}},
		{"red", collections.Query{MaxTLP: stix.TLPRed}},
		{"none-metadata", collections.Query{MetadataOnly: true}},
		{"green-metadata", collections.Query{MetadataOnly: true, MaxTLP: stix.TLPGreen}},
		{"none-type", collections.Query{Types: []string{"indicator"}}},
		{"green-type", collections.Query{Types: []string{"indicator"}, MaxTLP: stix.TLPGreen}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := bc.q
			q.APIRoot, q.Collection, q.Limit = c.APIRoot, c.ID, limit
			start := cpuTime()
			for b.Loop() {
				p, err := s.Objects(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Objects) < limit && p.More {
					b.Fatal("short page with More")
				}
				q.AddedAfter = time.Time{}
				if p.More {
					q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
