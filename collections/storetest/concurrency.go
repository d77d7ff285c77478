package storetest

// Tests of concurrent writers and readers on one handle.

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/taxiid/taxiid/collections"
)

var concurrencyTests = []test{
	{"ConcurrentPagination", on(testConcurrentPagination)},
	{"VisibilityOrder", on(testVisibilityOrder)},
	{"ConcurrentVersions", on(testConcurrentVersions)},
	{"PushAgainstDelete", on(testPushAgainstDelete)},
	{"ConcurrentAlias", on(testConcurrentAlias)},
}

func testConcurrentPagination(t *testing.T, s collections.Store) {
	pagingWhilePushing(t, newFixture(t, s), []collections.Store{s}, s)
}

// pagingWhilePushing has writers push through the writer stores while a
// client pages through reader with Limit 7, following the DateAdded of the
// last object: it sees every version exactly once, in DateAdded order.
func pagingWhilePushing(t *testing.T, f *fixture, writers []collections.Store, reader collections.Store) {
	done := make(chan map[string]bool)
	go func() {
		done <- pushConcurrently(t, writers, f.root, f.coll, 4, 10, func(w, b int) []collections.NewObject {
			var batch []collections.NewObject
			for i := range 8 {
				batch = append(batch, Object(STIX{Type: "indicator", Created: ms(w*1000 + b*10 + i)}))
			}
			return batch
		})
	}()
	seen := map[string]bool{}
	var (
		cursor   time.Time
		inserted map[string]bool
	)
	for finished := false; ; {
		// Read "finished" before the page: a page that ends without More
		// after all writers are done has seen everything.
		select {
		case inserted = <-done:
			finished = true
		default:
		}
		p, err := reader.Objects(f.ctx, collections.Query{APIRoot: f.root, Collection: f.coll, Limit: 7, AddedAfter: cursor})
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		for _, o := range p.Objects {
			k := key(o.ID, o.Version)
			if seen[k] {
				t.Fatalf("object %s seen twice", k)
			}
			if !o.DateAdded.After(cursor) {
				t.Fatalf("object %s: DateAdded %v not after cursor %v", k, o.DateAdded, cursor)
			}
			seen[k] = true
			cursor = o.DateAdded
		}
		if !p.More && finished {
			break
		}
		if !p.More {
			time.Sleep(time.Millisecond)
		}
	}
	if diff := cmp.Diff(inserted, seen); diff != "" {
		t.Errorf("objects seen by the walker (-inserted +seen):\n%s", diff)
	}
}

// pushConcurrently runs writers goroutines, each pushing batches of
// objects made by gen to one of the stores, and returns the keys of every
// version added.
func pushConcurrently(t *testing.T, stores []collections.Store, root, coll string, writers, batches int,
	gen func(w, b int) []collections.NewObject) map[string]bool {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inserted = map[string]bool{}
	)
	for w := range writers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for b := range batches {
				batch := gen(w, b)
				res, err := s.AddObjects(t.Context(), root, coll, batch, collections.AddOptions{})
				if err != nil {
					t.Errorf("AddObjects: %v", err)
					return
				}
				mu.Lock()
				for i, r := range res {
					if r.Outcome != collections.Added {
						t.Errorf("AddObjects: outcome %v (%s)", r.Outcome, r.Message)
					}
					inserted[key(batch[i].ID, r.Version)] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return inserted
}

func testVisibilityOrder(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	visibilityOrder(t, f, []collections.Store{s}, s)
}

// visibilityOrder pushes through writers while reading every version of
// the collection through reader, again and again, and checks that a
// version never shows up below the highest DateAdded an earlier read saw.
func visibilityOrder(t *testing.T, f *fixture, writers []collections.Store, reader collections.Store) {
	shared := []string{NewID("indicator"), NewID("indicator")}
	done := make(chan map[string]bool)
	go func() {
		done <- pushConcurrently(t, writers, f.root, f.coll, 4, 15, func(w, b int) []collections.NewObject {
			batch := []collections.NewObject{Object(STIX{Type: "malware", Created: ms(w*1000 + b)})}
			// New versions of shared ids move their marks while others read.
			for i, id := range shared {
				batch = append(batch, Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(1 + w*1000 + b*10 + i)}))
			}
			for i := range b % 4 {
				batch = append(batch, Object(STIX{Type: "tool", Created: ms(w*1000 + b*10 + i)}))
			}
			return batch
		})
	}()
	all := collections.Query{APIRoot: f.root, Collection: f.coll, Versions: collections.VersionFilter{All: true},
		AllSpecVersions: true, Limit: 10_000, MetadataOnly: true}
	var (
		prev     = map[string]bool{}
		horizon  time.Time
		inserted map[string]bool
	)
	for finished := false; ; {
		select {
		case inserted = <-done:
			finished = true
		default:
		}
		p, err := reader.Objects(f.ctx, all)
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		seen := map[string]bool{}
		top := horizon
		for _, o := range p.Objects {
			k := key(o.ID, o.Version)
			seen[k] = true
			if !o.DateAdded.After(horizon) && !prev[k] {
				t.Fatalf("%s (DateAdded %v) showed up after a read had seen DateAdded %v", k, o.DateAdded, horizon)
			}
			if o.DateAdded.After(top) {
				top = o.DateAdded
			}
		}
		for k := range prev {
			if !seen[k] {
				t.Fatalf("%s vanished", k)
			}
		}
		prev, horizon = seen, top
		if finished {
			break
		}
	}
	if diff := cmp.Diff(inserted, prev); diff != "" {
		t.Errorf("versions read at the end (-inserted +read):\n%s", diff)
	}
}

func testConcurrentVersions(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	concurrentVersions(t, f, []collections.Store{s})
}

// concurrentVersions pushes versions of one id from several goroutines
// (through the given handles) while a reader checks that the id always has
// exactly one last and one first version, and at the end the right ones.
func concurrentVersions(t *testing.T, f *fixture, stores []collections.Store) {
	const writers, batches, perBatch = 6, 8, 3
	id := NewID("indicator")
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for _, vf := range []collections.VersionFilter{{}, {First: true}} {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, q := range []collections.Query{{IDs: []string{id}}, {Types: []string{"indicator"}}} {
					q.APIRoot, q.Collection, q.Limit, q.Versions = f.root, f.coll, 10, vf
					p, err := stores[0].Objects(f.ctx, q)
					if err != nil {
						t.Errorf("Objects: %v", err)
						return
					}
					if len(p.Objects) > 1 {
						t.Errorf("Objects(%s): %d versions of one id: %v", describe(q), len(p.Objects), keys(p.Objects))
						return
					}
				}
			}
		})
	}
	// Versions interleave across writers: writer w pushes w, w+writers, ...
	inserted := pushConcurrently(t, stores, f.root, f.coll, writers, batches, func(w, b int) []collections.NewObject {
		var batch []collections.NewObject
		for i := range perBatch {
			n := (b*perBatch+i)*writers + w
			batch = append(batch, Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(1 + n)}))
		}
		return batch
	})
	close(stop)
	readers.Wait()
	total := writers * batches * perBatch
	if len(inserted) != total {
		t.Fatalf("%d versions added, want %d", len(inserted), total)
	}
	for _, tc := range []struct {
		vf   collections.VersionFilter
		want time.Time
	}{{collections.VersionFilter{}, ms(total)}, {collections.VersionFilter{First: true}, ms(1)}} {
		for _, q := range []collections.Query{{IDs: []string{id}}, {}, {Types: []string{"indicator"}}} {
			q.APIRoot, q.Collection, q.Limit, q.Versions = f.root, f.coll, 10, tc.vf
			p, err := stores[len(stores)-1].Objects(f.ctx, q)
			if err != nil {
				t.Fatalf("Objects: %v", err)
			}
			if diff := cmp.Diff([]string{key(id, tc.want)}, keys(p.Objects)); diff != "" {
				t.Errorf("Objects(%s) (-want +got):\n%s", describe(q), diff)
			}
		}
	}
}

func testPushAgainstDelete(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	id := NewID("indicator")
	const versions = 60
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := range versions {
			o := Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(1 + n)})
			if _, err := s.AddObjects(f.ctx, f.root, f.coll, []collections.NewObject{o}, collections.AddOptions{}); err != nil {
				t.Errorf("AddObjects: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for n := range versions {
			vf := collections.VersionFilter{}
			if n%2 == 1 {
				vf = collections.VersionFilter{First: true}
			}
			if _, err := s.DeleteObject(f.ctx, f.root, f.coll, id, vf, nil); err != nil && !errors.Is(err, collections.ErrNotFound) {
				t.Errorf("DeleteObject: %v", err)
				return
			}
		}
	})
	wg.Wait()
	// Whatever is left has one last and one first: the newest and the
	// oldest of what is left.
	check := func() {
		t.Helper()
		all := f.page(collections.Query{IDs: []string{id}, Versions: collections.VersionFilter{All: true}})
		var want [2][]string
		if n := len(all.Objects); n > 0 {
			vs := slices.Clone(all.Objects)
			slices.SortFunc(vs, func(a, b collections.Object) int { return a.Version.Compare(b.Version) })
			want = [2][]string{{key(id, vs[n-1].Version)}, {key(id, vs[0].Version)}}
		}
		for i, vf := range []collections.VersionFilter{{}, {First: true}} {
			for _, q := range []collections.Query{{IDs: []string{id}, Versions: vf}, {Versions: vf}, {Types: []string{"indicator"}, Versions: vf}} {
				if diff := cmp.Diff(want[i], keys(f.page(q).Objects), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Objects(%s) (-want +got):\n%s", describe(q), diff)
				}
			}
		}
	}
	check()
	f.push(Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(1000)}))
	check()
}

func testConcurrentAlias(t *testing.T, s collections.Store) {
	ctx := t.Context()
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1000}); err != nil {
		t.Fatalf("PutAPIRoot: %v", err)
	}
	concurrentAlias(t, []collections.Store{s})
}

// concurrentAlias puts collections with one alias at once, through the
// given handles: exactly one gets it, the others get ErrConflict.
func concurrentAlias(t *testing.T, stores []collections.Store) {
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := collections.Collection{APIRoot: "api1", ID: fmt.Sprintf("%08d-0d3f-4c59-9a8a-6a3c1f1d2b01", i),
				Alias: "wanted", Title: fmt.Sprint("C", i)}
			errs[i] = stores[i%len(stores)].PutCollection(t.Context(), c)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("collections %d and %d both got the alias", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, collections.ErrConflict):
			t.Errorf("PutCollection %d: %v, want nil or ErrConflict", i, err)
		}
	}
	cs, err := stores[0].Collections(t.Context(), "api1")
	if err != nil {
		t.Fatalf("Collections: %v", err)
	}
	var with []string
	for _, c := range cs {
		if c.Alias == "wanted" {
			with = append(with, c.ID)
		}
	}
	if winner < 0 || len(with) != 1 || with[0] != fmt.Sprintf("%08d-0d3f-4c59-9a8a-6a3c1f1d2b01", winner) {
		t.Errorf("collections with the alias: %v (winner %d), want exactly the winner", with, winner)
	}
	if len(cs) != 1 {
		t.Errorf("%d collections stored, want only the winner", len(cs))
	}
}
