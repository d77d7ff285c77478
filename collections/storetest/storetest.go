// Package storetest is the contract suite of collections.Store: every
// backend runs RunTests against fresh instances of itself.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taxiid/taxiid/collections"
)

// Backend opens the stores the suite runs on.
type Backend struct {
	// New returns a new, empty store.
	New func(t *testing.T) collections.Store
	// Another returns a second handle on the database of s, a store New
	// returned: for SQLite a second Open of the same file, for a server
	// database a second client. The suite needs it for the tests of
	// handles sharing one database.
	Another func(t *testing.T, s collections.Store) collections.Store
}

// test is one contract test; another opens a further handle on the
// database of s.
type test struct {
	name string
	fn   func(t *testing.T, s collections.Store, another func() collections.Store)
}

// on adapts a test that needs only one handle.
func on(fn func(t *testing.T, s collections.Store)) func(*testing.T, collections.Store, func() collections.Store) {
	return func(t *testing.T, s collections.Store, _ func() collections.Store) { fn(t, s) }
}

// RunTests runs the contract suite, each test on a new store (and the
// handles it opens), which the suite closes when the test ends (so Close
// may be called again by the backend's own cleanup). The tests are listed
// by area, one file each.
func RunTests(t *testing.T, b Backend) {
	var tests []test
	for _, area := range [][]test{
		rootsCollectionsTests, objectsAddTests, versionsTests, objectsQueryTests,
		deleteTests, collectionsDeleteTests, statusesTests, secretsTests, concurrencyTests, handlesTests,
		sharingTests, watermarksTests,
	} {
		tests = append(tests, area...)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := b.New(t)
			closeAtEnd(t, s)
			another := func() collections.Store {
				o := b.Another(t, s)
				closeAtEnd(t, o)
				return o
			}
			tc.fn(t, s, another)
		})
	}
}

func closeAtEnd(t *testing.T, s collections.Store) {
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// base is an arbitrary STIX timestamp; tests derive versions from it.
var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) }

// fixture is a store with one API root and one collection, and the
// DateAdded of every version it stored.
type fixture struct {
	t     *testing.T
	s     collections.Store
	ctx   context.Context
	root  string
	coll  string
	added map[string]time.Time // key(id, version) -> DateAdded
}

func newFixture(t *testing.T, s collections.Store) *fixture {
	t.Helper()
	f := &fixture{t: t, s: s, ctx: t.Context(), root: "api1", coll: "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
		added: make(map[string]time.Time)}
	if err := s.PutAPIRoot(f.ctx, collections.APIRoot{Path: f.root, Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		t.Fatalf("PutAPIRoot: %v", err)
	}
	if err := s.PutCollection(f.ctx, collections.Collection{APIRoot: f.root, ID: f.coll, Title: "C",
		MediaTypes: []string{"application/stix+json;version=2.1"}}); err != nil {
		t.Fatalf("PutCollection: %v", err)
	}
	return f
}

func key(id string, version time.Time) string {
	return id + " " + version.UTC().Format(time.RFC3339Nano)
}

func keyOf(n collections.NewObject) string { return key(n.ID, n.Version) }

// push adds objs and checks that each result is Added.
func (f *fixture) push(objs ...collections.NewObject) []collections.AddResult {
	f.t.Helper()
	res := f.add(objs...)
	for i, r := range res {
		if r.Outcome != collections.Added {
			f.t.Fatalf("AddObjects: object %d (%s): outcome %v, want Added", i, objs[i].ID, r.Outcome)
		}
	}
	return res
}

// add adds objs and records the DateAdded of those added.
func (f *fixture) add(objs ...collections.NewObject) []collections.AddResult {
	f.t.Helper()
	res, err := f.s.AddObjects(f.ctx, f.root, f.coll, objs, collections.AddOptions{})
	if err != nil {
		f.t.Fatalf("AddObjects: %v", err)
	}
	if len(res) != len(objs) {
		f.t.Fatalf("AddObjects: %d results for %d objects", len(res), len(objs))
	}
	for i, r := range res {
		if r.Outcome == collections.Added {
			f.added[key(collections.CanonicalID(objs[i].ID), r.Version)] = r.DateAdded
		}
	}
	return res
}

// page returns one page of q in the fixture's collection.
func (f *fixture) page(q collections.Query) collections.Page {
	f.t.Helper()
	q.APIRoot, q.Collection = f.root, f.coll
	if q.Limit == 0 {
		q.Limit = 1000
	}
	p, err := f.s.Objects(f.ctx, q)
	if err != nil {
		f.t.Fatalf("Objects(%+v): %v", q, err)
	}
	return p
}

// keys returns the keys of objs, in order.
func keys(objs []collections.Object) []string {
	ks := make([]string, len(objs))
	for i, o := range objs {
		ks[i] = key(o.ID, o.Version)
	}
	return ks
}

// check runs q (one page) and compares the result with the versions named
// by want, in DateAdded order.
func (f *fixture) check(q collections.Query, want ...string) {
	f.t.Helper()
	want = slices.Clone(want)
	for _, k := range want {
		if _, ok := f.added[k]; !ok {
			f.t.Fatalf("check: %s was never added", k)
		}
	}
	slices.SortFunc(want, func(a, b string) int { return f.added[a].Compare(f.added[b]) })
	p := f.page(q)
	if diff := cmp.Diff(want, keys(p.Objects), cmpopts.EquateEmpty()); diff != "" {
		f.t.Errorf("Objects(%s) (-want +got):\n%s", describe(q), diff)
	}
	if p.More {
		f.t.Errorf("Objects(%s): More with a large limit", describe(q))
	}
}

func describe(q collections.Query) string {
	return fmt.Sprintf("ids=%v types=%v versions=%+v specs=%v after=%v",
		q.IDs, q.Types, q.Versions, q.SpecVersions, q.AddedAfter)
}

// walk reads every page of q, Limit at a time, and checks More.
func (f *fixture) walk(q collections.Query) []collections.Object {
	f.t.Helper()
	var all []collections.Object
	for {
		p := f.page(q)
		if len(p.Objects) > q.Limit {
			f.t.Fatalf("page of %d objects, limit %d", len(p.Objects), q.Limit)
		}
		all = append(all, p.Objects...)
		if !p.More {
			return all
		}
		if len(p.Objects) == 0 {
			f.t.Fatal("empty page with More")
		}
		q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
	}
}

func (f *fixture) idOf(key string) string {
	id, _, _ := strings.Cut(key, " ")
	return id
}
