// Package storetest is the contract suite of collections.Store: every
// backend runs RunTests against fresh instances of itself.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taxiid/taxiid/collections"
)

// RunTests runs the contract suite. newStore must return a new, empty store
// for each subtest; the suite closes it when the subtest ends (so Close may
// be called again by newStore's own cleanup).
func RunTests(t *testing.T, newStore func(t *testing.T) collections.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s collections.Store)
	}{
		{"APIRoots", testAPIRoots},
		{"Collections", testCollections},
		{"MissingCollection", testMissingCollection},
		{"RawRoundTrip", testRawRoundTrip},
		{"DateAddedIncreasing", testDateAddedIncreasing},
		{"VersionSelection", testVersionSelection},
		{"SpecVersions", testSpecVersions},
		{"VersionFallback", testVersionFallback},
		{"MatchIDsAndTypes", testMatchIDsAndTypes},
		{"AddedAfter", testAddedAfter},
		{"Pagination", testPagination},
		{"ConcurrentPagination", testConcurrentPagination},
		{"Repush", testRepush},
		{"OlderVersionLater", testOlderVersionLater},
		{"Delete", testDelete},
		{"MetadataOnly", testMetadataOnly},
		{"Status", testStatus},
		{"Secret", testSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
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
	res, err := f.s.AddObjects(f.ctx, f.root, f.coll, objs)
	if err != nil {
		f.t.Fatalf("AddObjects: %v", err)
	}
	if len(res) != len(objs) {
		f.t.Fatalf("AddObjects: %d results for %d objects", len(res), len(objs))
	}
	for i, r := range res {
		if r.Outcome == collections.Added {
			f.added[key(objs[i].ID, r.Version)] = r.DateAdded
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

func testAPIRoots(t *testing.T, s collections.Store) {
	ctx := t.Context()
	roots, err := s.APIRoots(ctx)
	if err != nil || len(roots) != 0 {
		t.Fatalf("APIRoots on an empty store = %v, %v; want none", roots, err)
	}
	want := []collections.APIRoot{
		{Path: "a", Title: "A", Description: "first", MaxContentLength: 100},
		{Path: "b", Title: "B", MaxContentLength: 200},
		{Path: "c", Title: "C", Description: "third", MaxContentLength: 300},
	}
	for _, i := range []int{2, 0, 1} {
		if err := s.PutAPIRoot(ctx, want[i]); err != nil {
			t.Fatalf("PutAPIRoot: %v", err)
		}
	}
	want[1] = collections.APIRoot{Path: "b", Title: "B2", Description: "replaced", MaxContentLength: 1}
	if err := s.PutAPIRoot(ctx, want[1]); err != nil {
		t.Fatalf("PutAPIRoot: %v", err)
	}
	roots, err = s.APIRoots(ctx)
	if err != nil {
		t.Fatalf("APIRoots: %v", err)
	}
	if diff := cmp.Diff(want, roots); diff != "" {
		t.Errorf("APIRoots (-want +got):\n%s", diff)
	}
}

func testCollections(t *testing.T, s collections.Store) {
	ctx := t.Context()
	c := collections.Collection{APIRoot: "api1", ID: "5e5a9b4c-0d3f-4c59-9a8a-6a3c1f1d2b01", Title: "x"}
	if _, err := s.Collections(ctx, "api1"); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("Collections of a missing API root: %v, want ErrNotFound", err)
	}
	if err := s.PutCollection(ctx, c); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("PutCollection in a missing API root: %v, want ErrNotFound", err)
	}
	for _, p := range []string{"api1", "api2"} {
		if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: p, Title: p}); err != nil {
			t.Fatalf("PutAPIRoot: %v", err)
		}
	}
	got, err := s.Collections(ctx, "api1")
	if err != nil || len(got) != 0 {
		t.Fatalf("Collections of an empty API root = %v, %v; want none", got, err)
	}

	want := []collections.Collection{
		{APIRoot: "api1", ID: "11111111-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "one", Title: "One",
			Description: "first", MediaTypes: []string{"application/stix+json;version=2.1"}},
		{APIRoot: "api1", ID: "22222222-0d3f-4c59-9a8a-6a3c1f1d2b01", Title: "Two"},
		{APIRoot: "api1", ID: "33333333-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "three", Title: "Three",
			MediaTypes: []string{"application/stix+json;version=2.0", "application/stix+json;version=2.1"}},
	}
	other := collections.Collection{APIRoot: "api2", ID: want[0].ID, Title: "Elsewhere"}
	for _, c := range []collections.Collection{want[2], other, want[0], want[1]} {
		if err := s.PutCollection(ctx, c); err != nil {
			t.Fatalf("PutCollection(%s/%s): %v", c.APIRoot, c.ID, err)
		}
	}

	// Objects survive the replacement of their collection.
	f := &fixture{t: t, s: s, ctx: ctx, root: "api1", coll: want[1].ID, added: map[string]time.Time{}}
	o := Object(STIX{Type: "indicator", Created: ms(0), Modified: ms(0)})
	f.push(o)
	want[1].Title, want[1].Description = "Two, replaced", "now described"
	if err := s.PutCollection(ctx, want[1]); err != nil {
		t.Fatalf("PutCollection: %v", err)
	}
	f.check(collections.Query{}, keyOf(o))

	got, err = s.Collections(ctx, "api1")
	if err != nil {
		t.Fatalf("Collections: %v", err)
	}
	opt := cmpopts.EquateEmpty()
	if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("Collections (-want +got):\n%s", diff)
	}
	for _, w := range append(want, other) {
		c, err := s.Collection(ctx, w.APIRoot, w.ID)
		if err != nil {
			t.Fatalf("Collection(%s, %s): %v", w.APIRoot, w.ID, err)
		}
		if diff := cmp.Diff(w, c, opt); diff != "" {
			t.Errorf("Collection(%s, %s) (-want +got):\n%s", w.APIRoot, w.ID, diff)
		}
	}
	for _, k := range [][2]string{{"api1", "44444444-0d3f-4c59-9a8a-6a3c1f1d2b01"}, {"api2", want[1].ID}, {"nope", want[0].ID}} {
		if _, err := s.Collection(ctx, k[0], k[1]); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("Collection(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
	}
}

func testMissingCollection(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	objs := []collections.NewObject{Object(STIX{Type: "indicator", Created: ms(0)})}
	for _, k := range [][2]string{{f.root, "00000000-0000-4000-8000-000000000000"}, {"nope", f.coll}} {
		if _, err := s.AddObjects(f.ctx, k[0], k[1], objs); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("AddObjects(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
		p, err := s.Objects(f.ctx, collections.Query{APIRoot: k[0], Collection: k[1], Limit: 10})
		if err != nil || len(p.Objects) != 0 || p.More {
			t.Errorf("Objects(%s, %s) = %+v, %v; want an empty page", k[0], k[1], p, err)
		}
		_, err = s.DeleteObject(f.ctx, k[0], k[1], objs[0].ID, collections.VersionFilter{}, nil)
		if !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("DeleteObject(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
	}
}

func testRawRoundTrip(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	objs := []collections.NewObject{
		Object(STIX{Type: "indicator", Created: ms(0), Modified: ms(5)}),
		Object(STIX{Type: "malware", Created: ms(1), Fields: map[string]any{
			"description": "unicode é ü 漢字 \u2028 and escapes \"quoted\" <tag> &amp;",
			"labels":      []string{"a", "b"},
			"x_number":    12345678901234567890.5,
		}}),
		Object(STIX{Type: "domain-name", Fields: map[string]any{"value": "example.com"}}),
	}
	// Member order and bytes as pushed, not as a JSON encoder would write them.
	objs = append(objs, collections.NewObject{ID: "tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", Type: "tool",
		SpecVersion: "2.1", Version: ms(7), Raw: []byte(
			`{"type":"tool","spec_version":"2.1","id":"tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"2024-03-01T12:00:00.007Z","created":"2024-03-01T12:00:00.007Z","name":"VNC","x_big":100000000000000000000001}`)})
	res := f.push(objs...)
	p := f.page(collections.Query{})
	if len(p.Objects) != len(objs) {
		t.Fatalf("Objects: %d objects, want %d", len(p.Objects), len(objs))
	}
	for i, o := range p.Objects {
		n := objs[i]
		want := collections.Object{ID: n.ID, Type: n.Type, SpecVersion: n.SpecVersion,
			Version: res[i].Version, DateAdded: res[i].DateAdded, Raw: n.Raw}
		if diff := cmp.Diff(want, o); diff != "" {
			t.Errorf("object %d (-want +got):\n%s", i, diff)
		}
		if o.DateAdded.Location() != time.UTC || o.Version.Location() != time.UTC {
			t.Errorf("object %d: times not in UTC: %v %v", i, o.DateAdded, o.Version)
		}
		if !n.Version.IsZero() && !res[i].Version.Equal(n.Version) {
			t.Errorf("object %d: AddResult.Version %v, want %v", i, res[i].Version, n.Version)
		}
		if got := o.DateAdded.Truncate(time.Microsecond); !got.Equal(o.DateAdded) {
			t.Errorf("object %d: DateAdded %v has sub-microsecond digits", i, o.DateAdded)
		}
	}
}

func testDateAddedIncreasing(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	var all []collections.AddResult
	for b := range 5 {
		var batch []collections.NewObject
		for i := range 20 {
			batch = append(batch, Object(STIX{Type: "indicator", Created: ms(b*100 + i)}))
		}
		all = append(all, f.push(batch...)...)
	}
	for i := 1; i < len(all); i++ {
		if !all[i].DateAdded.After(all[i-1].DateAdded) {
			t.Fatalf("DateAdded %d = %v, not after %v", i, all[i].DateAdded, all[i-1].DateAdded)
		}
	}
	p := f.page(collections.Query{})
	for i, o := range p.Objects {
		if !o.DateAdded.Equal(all[i].DateAdded) {
			t.Fatalf("object %d: DateAdded %v, want %v", i, o.DateAdded, all[i].DateAdded)
		}
	}
}

func testVersionSelection(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	id := NewID("indicator")
	v := func(n int) collections.NewObject {
		return Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(n)})
	}
	v1, v2, v3 := v(0), v(1000), v(2000)
	other := Object(STIX{Type: "malware", Created: ms(0), Modified: ms(3)})
	f.push(v1, v2)
	f.push(other, v3)
	k1, k2, k3, ko := keyOf(v1), keyOf(v2), keyOf(v3), keyOf(other)
	for _, tc := range []struct {
		name string
		vf   collections.VersionFilter
		want []string
	}{
		{"default", collections.VersionFilter{}, []string{k3, ko}},
		{"last", collections.VersionFilter{Last: true}, []string{k3, ko}},
		{"first", collections.VersionFilter{First: true}, []string{k1, ko}},
		{"all", collections.VersionFilter{All: true}, []string{k1, k2, k3, ko}},
		{"exact", collections.VersionFilter{Exact: []time.Time{ms(1000)}}, []string{k2}},
		{"exact several", collections.VersionFilter{Exact: []time.Time{ms(0), ms(2000), ms(5)}}, []string{k1, k3}},
		{"exact other zone", collections.VersionFilter{Exact: []time.Time{ms(1000).In(time.FixedZone("X", 3600))}}, []string{k2}},
		{"exact none", collections.VersionFilter{Exact: []time.Time{ms(1)}}, nil},
		{"first last", collections.VersionFilter{First: true, Last: true}, []string{k1, k3, ko}},
		{"first last exact", collections.VersionFilter{First: true, Last: true, Exact: []time.Time{ms(0), ms(1000)}},
			[]string{k1, k2, k3, ko}},
		{"first exact", collections.VersionFilter{First: true, Exact: []time.Time{ms(0)}}, []string{k1, ko}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.check(collections.Query{Versions: tc.vf}, tc.want...)
			// The same through the id path.
			var want []string
			for _, k := range tc.want {
				if k != ko {
					want = append(want, k)
				}
			}
			f.check(collections.Query{IDs: []string{id}, Versions: tc.vf}, want...)
		})
	}
}

func testSpecVersions(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	a := NewID("indicator")
	obj := func(id, spec string, n int) collections.NewObject {
		return Object(STIX{Type: "indicator", ID: id, SpecVersion: spec, Created: ms(0), Modified: ms(n)})
	}
	a20v1, a20v2, a21v3, a21v4 := obj(a, "2.0", 10), obj(a, "2.0", 20), obj(a, "2.1", 30), obj(a, "2.1", 40)
	b := NewID("indicator")
	b20 := obj(b, "2.0", 10)
	c := NewID("indicator") // spec versions compare as numbers
	c9, c10 := obj(c, "2.10", 10), obj(c, "2.9", 20)
	c9, c10 = c10, c9
	f.push(a21v4, a20v1, b20, c10)
	f.push(a21v3, c9, a20v2)
	K := keyOf
	for _, tc := range []struct {
		name  string
		vf    collections.VersionFilter
		specs []string
		want  []string
	}{
		{"default", collections.VersionFilter{}, nil, []string{K(a21v4), K(b20), K(c10)}},
		{"all", collections.VersionFilter{All: true}, nil, []string{K(a21v4), K(a21v3), K(b20), K(c10)}},
		{"first", collections.VersionFilter{First: true}, nil, []string{K(a21v3), K(b20), K(c10)}},
		{"exact other spec", collections.VersionFilter{Exact: []time.Time{ms(10)}}, nil, []string{K(b20), K(c10)}},
		{"2.0", collections.VersionFilter{}, []string{"2.0"}, []string{K(a20v2), K(b20)}},
		{"2.0 first", collections.VersionFilter{First: true}, []string{"2.0"}, []string{K(a20v1), K(b20)}},
		{"2.0 2.1", collections.VersionFilter{}, []string{"2.0", "2.1"}, []string{K(a21v4), K(b20), K(a20v2)}},
		{"2.0 2.1 first", collections.VersionFilter{First: true}, []string{"2.1", "2.0"}, []string{K(a20v1), K(b20), K(a21v3)}},
		{"2.0 2.1 all", collections.VersionFilter{All: true}, []string{"2.0", "2.1"},
			[]string{K(a21v4), K(a20v1), K(b20), K(a21v3), K(a20v2)}},
		{"2.1 exact", collections.VersionFilter{Exact: []time.Time{ms(30), ms(10)}}, []string{"2.1"}, []string{K(a21v3)}},
		{"2.9", collections.VersionFilter{}, []string{"2.9"}, []string{K(c9)}},
		{"2.5", collections.VersionFilter{}, []string{"2.5"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.check(collections.Query{Versions: tc.vf, SpecVersions: tc.specs}, tc.want...)
			f.check(collections.Query{Versions: tc.vf, SpecVersions: tc.specs, Types: []string{"indicator", "malware"}}, tc.want...)
			f.check(collections.Query{Versions: tc.vf, SpecVersions: tc.specs, IDs: []string{a, b, c}}, tc.want...)
		})
	}
}

func testVersionFallback(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	created := Object(STIX{Type: "malware", Created: ms(42)})
	sco := Object(STIX{Type: "domain-name", Fields: map[string]any{"value": "example.com"}})
	if !sco.Version.IsZero() {
		t.Fatal("test object has a version")
	}
	res := f.push(created, sco)
	if !res[0].Version.Equal(ms(42)) {
		t.Errorf("version of an object with created only: %v, want %v", res[0].Version, ms(42))
	}
	if !res[1].Version.Equal(res[1].DateAdded) {
		t.Errorf("version of an object without created: %v, want its DateAdded %v", res[1].Version, res[1].DateAdded)
	}
	again := f.add(sco)
	if diff := cmp.Diff(collections.AddResult{Outcome: collections.Unchanged, Version: res[1].Version,
		DateAdded: res[1].DateAdded}, again[0]); diff != "" {
		t.Errorf("re-push of an unversioned object (-want +got):\n%s", diff)
	}
	changed := sco
	changed.Raw = Object(STIX{Type: "domain-name", ID: sco.ID, Fields: map[string]any{"value": "other.example"}}).Raw
	if r := f.add(changed); r[0].Outcome != collections.Conflict {
		t.Errorf("push of a changed unversioned object: %v, want Conflict", r[0].Outcome)
	}
	f.check(collections.Query{Versions: collections.VersionFilter{All: true}},
		keyOf(created), key(sco.ID, res[1].Version))
	f.check(collections.Query{Versions: collections.VersionFilter{Exact: []time.Time{res[1].Version}}},
		key(sco.ID, res[1].Version))
}

func testMatchIDsAndTypes(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	ind1 := Object(STIX{Type: "indicator", Created: ms(0)})
	ind2 := Object(STIX{Type: "indicator", Created: ms(0)})
	mal := Object(STIX{Type: "malware", Created: ms(0)})
	tool := Object(STIX{Type: "tool", Created: ms(0)})
	ind1b := Object(STIX{Type: "indicator", ID: ind1.ID, Created: ms(0), Modified: ms(9)})
	f.push(ind1, mal, ind2)
	f.push(tool, ind1b)
	K := keyOf
	all := collections.VersionFilter{All: true}
	for _, tc := range []struct {
		name  string
		ids   []string
		types []string
		vf    collections.VersionFilter
		want  []string
	}{
		{"one id", []string{ind1.ID}, nil, collections.VersionFilter{}, []string{K(ind1b)}},
		{"one id all", []string{ind1.ID}, nil, all, []string{K(ind1), K(ind1b)}},
		{"ids", []string{tool.ID, ind1.ID, mal.ID}, nil, collections.VersionFilter{}, []string{K(mal), K(tool), K(ind1b)}},
		{"unknown id", []string{"indicator--00000000-0000-4000-8000-000000000000"}, nil, all, nil},
		{"one type", nil, []string{"indicator"}, collections.VersionFilter{}, []string{K(ind2), K(ind1b)}},
		{"one type all", nil, []string{"indicator"}, all, []string{K(ind1), K(ind2), K(ind1b)}},
		{"one type first", nil, []string{"indicator"}, collections.VersionFilter{First: true}, []string{K(ind1), K(ind2)}},
		{"types", nil, []string{"tool", "malware"}, collections.VersionFilter{}, []string{K(mal), K(tool)}},
		{"types first last", nil, []string{"tool", "indicator"}, collections.VersionFilter{First: true, Last: true},
			[]string{K(ind1), K(ind2), K(tool), K(ind1b)}},
		{"unknown type", nil, []string{"campaign"}, collections.VersionFilter{}, nil},
		{"ids and types", []string{ind1.ID, mal.ID, tool.ID}, []string{"indicator", "tool"}, collections.VersionFilter{},
			[]string{K(tool), K(ind1b)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.check(collections.Query{IDs: tc.ids, Types: tc.types, Versions: tc.vf}, tc.want...)
		})
	}
}

func testAddedAfter(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	var objs []collections.NewObject
	var ks []string
	for i := range 6 {
		o := Object(STIX{Type: []string{"indicator", "malware"}[i%2], Created: ms(i)})
		objs = append(objs, o)
		ks = append(ks, keyOf(o))
	}
	res := f.push(objs[:3]...)
	res = append(res, f.push(objs[3:]...)...)
	for i, r := range res {
		f.check(collections.Query{AddedAfter: r.DateAdded}, ks[i+1:]...)
		f.check(collections.Query{AddedAfter: r.DateAdded.Add(-time.Nanosecond)}, ks[i:]...)
		f.check(collections.Query{AddedAfter: r.DateAdded.Add(-time.Nanosecond), Versions: collections.VersionFilter{First: true, Last: true}}, ks[i:]...)
		var want []string
		if i < 5 {
			want = ks[5:]
		}
		f.check(collections.Query{AddedAfter: r.DateAdded, IDs: []string{objs[0].ID, objs[5].ID}}, want...)
	}
	f.check(collections.Query{AddedAfter: res[0].DateAdded.Add(-time.Hour)}, ks...)
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

func testPagination(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	var latest, first, typed []string
	typeOf := func(n int) string { return []string{"indicator", "malware", "tool"}[n%7%3] }
	for b := range 4 {
		var batch []collections.NewObject
		for i := range 7 {
			typ := typeOf(b*7 + i)
			o := Object(STIX{Type: typ, Created: ms(b*10 + i), Modified: ms(b*10 + i)})
			batch = append(batch, o)
			latest = append(latest, keyOf(o))
			first = append(first, keyOf(o))
			if typ != "malware" {
				typed = append(typed, keyOf(o))
			}
		}
		f.push(batch...)
	}
	// New versions of a few: they move to the end for "latest".
	var again []collections.NewObject
	for _, i := range []int{0, 4, 9} {
		o := Object(STIX{Type: typeOf(i), ID: f.idOf(first[i]), Created: ms(0), Modified: ms(1000 + i)})
		again = append(again, o)
	}
	f.push(again...)
	for _, o := range again {
		old := slices.IndexFunc(latest, func(k string) bool { return f.idOf(k) == o.ID })
		latest = append(slices.Delete(latest, old, old+1), keyOf(o))
		if o.Type != "malware" {
			old = slices.IndexFunc(typed, func(k string) bool { return f.idOf(k) == o.ID })
			typed = append(slices.Delete(typed, old, old+1), keyOf(o))
		}
	}
	all := append(slices.Clone(first), keyOf(again[0]), keyOf(again[1]), keyOf(again[2]))

	for _, tc := range []struct {
		name string
		q    collections.Query
		want []string
	}{
		{"latest", collections.Query{}, latest},
		{"first", collections.Query{Versions: collections.VersionFilter{First: true}}, first},
		{"all", collections.Query{Versions: collections.VersionFilter{All: true}}, all},
		{"first last", collections.Query{Versions: collections.VersionFilter{First: true, Last: true}}, all},
		{"types", collections.Query{Types: []string{"indicator", "tool"}}, typed},
		{"ids", collections.Query{IDs: []string{f.idOf(all[0]), f.idOf(all[5]), f.idOf(all[4])},
			Versions: collections.VersionFilter{All: true}}, []string{all[0], all[4], all[5], all[28], all[29]}},
	} {
		for _, limit := range []int{1, 2, 3, 5, 7, 100} {
			t.Run(fmt.Sprintf("%s/limit%d", tc.name, limit), func(t *testing.T) {
				f.t = t
				q := tc.q
				q.Limit = limit
				if diff := cmp.Diff(tc.want, keys(f.walk(q))); diff != "" {
					t.Errorf("walk (-want +got):\n%s", diff)
				}
			})
		}
		// A byte budget ends pages early, never empty, and a walk still
		// visits everything once.
		for _, maxBytes := range []int{1, 500, 2000} {
			t.Run(fmt.Sprintf("%s/maxbytes%d", tc.name, maxBytes), func(t *testing.T) {
				f.t = t
				q := tc.q
				q.Limit, q.MaxBytes = 100, maxBytes
				if maxBytes == 1 {
					if p := f.page(q); len(p.Objects) != 1 || p.More != (len(tc.want) > 1) {
						t.Errorf("page with a 1-byte budget: %d objects, More %v; want 1 object", len(p.Objects), p.More)
					}
				}
				if diff := cmp.Diff(tc.want, keys(f.walk(q))); diff != "" {
					t.Errorf("walk (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func (f *fixture) idOf(key string) string {
	id, _, _ := strings.Cut(key, " ")
	return id
}

func testConcurrentPagination(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	const writers, batches, perBatch = 4, 10, 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inserted = map[string]bool{}
		done     = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var batch []collections.NewObject
				for i := range perBatch {
					batch = append(batch, Object(STIX{Type: "indicator", Created: ms(w*1000 + b*10 + i)}))
				}
				res, err := s.AddObjects(f.ctx, f.root, f.coll, batch)
				if err != nil {
					t.Errorf("AddObjects: %v", err)
					return
				}
				mu.Lock()
				for i, r := range res {
					if r.Outcome != collections.Added {
						t.Errorf("AddObjects: outcome %v", r.Outcome)
					}
					inserted[key(batch[i].ID, r.Version)] = true
				}
				mu.Unlock()
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[string]bool{}
	var cursor time.Time
	for finished := false; ; {
		// Read "finished" before the page: a page that ends without More
		// after all writers are done has seen everything.
		select {
		case <-done:
			finished = true
		default:
		}
		p := f.page(collections.Query{Limit: 7, AddedAfter: cursor})
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

func testRepush(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	o := Object(STIX{Type: "indicator", Created: ms(0), Modified: ms(1), Fields: map[string]any{"name": "n"}})
	first := f.push(o)[0]
	want := collections.AddResult{Outcome: collections.Unchanged, Version: first.Version, DateAdded: first.DateAdded}

	if diff := cmp.Diff(want, f.add(o)[0]); diff != "" {
		t.Errorf("identical re-push (-want +got):\n%s", diff)
	}
	// The same document with members in another order and white space.
	reordered := o
	reordered.Raw = []byte(`{ "name":"n", "pattern_type":"stix","valid_from":"2024-03-01T12:00:00.000Z",
		"pattern":"[url:value = 'http://evil.example.com/']","modified":"2024-03-01T12:00:00.001Z",
		"indicator_types":["malicious-activity"],"id":"` + o.ID + `","created":"2024-03-01T12:00:00.000Z",
		"spec_version":"2.1","type":"indicator"}`)
	if diff := cmp.Diff(want, f.add(reordered)[0]); diff != "" {
		t.Errorf("re-push in another member order (-want +got):\n%s", diff)
	}
	conflict := Object(STIX{Type: "indicator", ID: o.ID, Created: ms(0), Modified: ms(1), Fields: map[string]any{"name": "other"}})
	want.Outcome = collections.Conflict
	if diff := cmp.Diff(want, f.add(conflict)[0]); diff != "" {
		t.Errorf("conflicting push (-want +got):\n%s", diff)
	}
	if p := f.page(collections.Query{AddedAfter: first.DateAdded}); len(p.Objects) != 0 {
		t.Errorf("objects after the first push: %v, want none", keys(p.Objects))
	}
	p := f.page(collections.Query{Versions: collections.VersionFilter{All: true}})
	if len(p.Objects) != 1 || string(p.Objects[0].Raw) != string(o.Raw) || !p.Objects[0].DateAdded.Equal(first.DateAdded) {
		t.Errorf("stored after re-pushes: %+v, want only the original", p.Objects)
	}

	// Within one batch, as in separate calls.
	n := Object(STIX{Type: "malware", Created: ms(5)})
	n2 := Object(STIX{Type: "malware", ID: n.ID, Created: ms(5), Fields: map[string]any{"name": "changed"}})
	res := f.add(n, n, n2)
	got := []collections.Outcome{res[0].Outcome, res[1].Outcome, res[2].Outcome}
	if diff := cmp.Diff([]collections.Outcome{collections.Added, collections.Unchanged, collections.Conflict}, got); diff != "" {
		t.Errorf("one batch with repeats (-want +got):\n%s", diff)
	}
	if !res[1].DateAdded.Equal(res[0].DateAdded) || !res[2].DateAdded.Equal(res[0].DateAdded) {
		t.Errorf("repeats in a batch: DateAdded %v %v, want %v", res[1].DateAdded, res[2].DateAdded, res[0].DateAdded)
	}
	f.check(collections.Query{Versions: collections.VersionFilter{All: true}}, keyOf(o), keyOf(n))
}

func testOlderVersionLater(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	id := NewID("indicator")
	v := func(n int) collections.NewObject {
		return Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(n)})
	}
	v1, v2, v3 := v(100), v(200), v(300)
	last := collections.VersionFilter{}
	first := collections.VersionFilter{First: true}
	f.push(v3)
	f.push(v1)
	f.check(collections.Query{Versions: last}, keyOf(v3))
	f.check(collections.Query{Versions: first}, keyOf(v1))
	f.check(collections.Query{Types: []string{"indicator"}}, keyOf(v3))
	f.push(v2)
	f.check(collections.Query{Versions: last}, keyOf(v3))
	f.check(collections.Query{Versions: first}, keyOf(v1))
	f.check(collections.Query{Versions: collections.VersionFilter{First: true, Last: true}}, keyOf(v1), keyOf(v3))
	f.check(collections.Query{Types: []string{"indicator"}, Versions: first}, keyOf(v1))
}

func testDelete(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	newObj := func() (id string, vs []collections.NewObject) {
		id = NewID("indicator")
		for _, n := range []int{10, 20, 30} {
			vs = append(vs, Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(n)}))
		}
		f.push(vs...)
		return id, vs
	}
	all := collections.VersionFilter{All: true}
	del := func(id string, vf collections.VersionFilter, specs []string, want int) {
		t.Helper()
		n, err := f.s.DeleteObject(f.ctx, f.root, f.coll, id, vf, specs)
		if err != nil || n != want {
			t.Errorf("DeleteObject(%s, %+v, %v) = %d, %v; want %d", id, vf, specs, n, err, want)
		}
	}
	q := func(id string, vf collections.VersionFilter) collections.Query {
		return collections.Query{IDs: []string{id}, Versions: vf}
	}

	id, vs := newObj()
	del(id, collections.VersionFilter{}, nil, 3)
	f.check(q(id, all))
	if _, err := s.DeleteObject(f.ctx, f.root, f.coll, id, collections.VersionFilter{}, nil); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("DeleteObject of a deleted object: %v, want ErrNotFound", err)
	}

	id, vs = newObj()
	del(id, collections.VersionFilter{Last: true}, nil, 1)
	f.check(q(id, all), keyOf(vs[0]), keyOf(vs[1]))
	f.check(collections.Query{}, keyOf(vs[1])) // the previous version is now the latest
	f.check(collections.Query{Types: []string{"indicator"}}, keyOf(vs[1]))
	del(id, collections.VersionFilter{First: true}, nil, 1)
	f.check(collections.Query{Versions: collections.VersionFilter{First: true}}, keyOf(vs[1]))
	del(id, all, nil, 1)

	id, vs = newObj()
	del(id, collections.VersionFilter{Exact: []time.Time{ms(20), ms(30)}}, nil, 2)
	f.check(collections.Query{}, keyOf(vs[0]))
	f.check(collections.Query{Versions: collections.VersionFilter{First: true}}, keyOf(vs[0]))
	_, err := s.DeleteObject(f.ctx, f.root, f.coll, id, collections.VersionFilter{Exact: []time.Time{ms(99)}}, nil)
	if !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("DeleteObject matching no version: %v, want ErrNotFound", err)
	}
	f.check(q(id, all), keyOf(vs[0]))
	del(id, all, nil, 1)

	// Spec versions: deleting the top one uncovers the other.
	id = NewID("indicator")
	o20 := Object(STIX{Type: "indicator", ID: id, SpecVersion: "2.0", Created: ms(0), Modified: ms(10)})
	o21 := Object(STIX{Type: "indicator", ID: id, SpecVersion: "2.1", Created: ms(0), Modified: ms(20)})
	f.push(o20, o21)
	f.check(collections.Query{}, keyOf(o21))
	if _, err := s.DeleteObject(f.ctx, f.root, f.coll, id, all, []string{"2.2"}); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("DeleteObject of a missing spec version: %v, want ErrNotFound", err)
	}
	del(id, collections.VersionFilter{}, []string{"2.1"}, 1)
	f.check(collections.Query{}, keyOf(o20))
	f.check(collections.Query{Types: []string{"indicator"}}, keyOf(o20))

	if _, err := s.DeleteObject(f.ctx, f.root, f.coll, NewID("tool"), collections.VersionFilter{}, nil); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("DeleteObject of an unknown id: %v, want ErrNotFound", err)
	}
}

func testMetadataOnly(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	objs := []collections.NewObject{
		Object(STIX{Type: "indicator", Created: ms(0)}),
		Object(STIX{Type: "malware", Created: ms(0), Modified: ms(1)}),
	}
	f.push(objs...)
	for _, q := range []collections.Query{
		{},
		{Types: []string{"indicator", "malware"}},
		{IDs: []string{objs[0].ID, objs[1].ID}},
		{Versions: collections.VersionFilter{First: true, Last: true}},
	} {
		full := f.page(q)
		q.MetadataOnly = true
		meta := f.page(q)
		for i := range full.Objects {
			if len(full.Objects[i].Raw) == 0 {
				t.Errorf("object %d: empty Raw without MetadataOnly", i)
			}
			full.Objects[i].Raw = nil
		}
		if diff := cmp.Diff(full, meta, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("MetadataOnly %s (-want +got):\n%s", describe(q), diff)
		}
	}
}

func testStatus(t *testing.T, s collections.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	st := collections.Status{
		ID: "2d086da7-4bdc-4f91-900e-d77486753710", APIRoot: "api1", Status: collections.StatusPending,
		RequestTimestamp: now.Add(-time.Second), TotalCount: 3,
		Successes: []collections.StatusDetail{{ID: "indicator--c410e480-e42b-47d1-9476-85307c12bcbf", Version: "2018-05-27T12:02:41.312Z"}},
		Failures:  []collections.StatusDetail{{ID: "malware--664fa29d-bf65-4f28-a667-bdb76f29ec98", Version: "2018-05-28T14:03:42.543Z", Message: "Unable to process object"}},
		Pendings:  []collections.StatusDetail{{ID: "tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}},
		Expires:   now.Add(time.Hour),
	}
	if _, err := s.Status(ctx, st.APIRoot, st.ID); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("Status before PutStatus: %v, want ErrNotFound", err)
	}
	if err := s.PutStatus(ctx, st); err != nil {
		t.Fatalf("PutStatus: %v", err)
	}
	get := func(want collections.Status) {
		t.Helper()
		got, err := s.Status(ctx, want.APIRoot, want.ID)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Status (-want +got):\n%s", diff)
		}
	}
	get(st)

	st.Status, st.Successes, st.Pendings = collections.StatusComplete, append(st.Successes, st.Pendings...), nil
	if err := s.PutStatus(ctx, st); err != nil {
		t.Fatalf("PutStatus: %v", err)
	}
	get(st)

	other := st
	other.APIRoot = "api2"
	other.TotalCount = 1
	if err := s.PutStatus(ctx, other); err != nil {
		t.Fatalf("PutStatus: %v", err)
	}
	get(st)
	get(other)

	expired := st
	expired.ID = "0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"
	expired.Expires = now.Add(-time.Second)
	if err := s.PutStatus(ctx, expired); err != nil {
		t.Fatalf("PutStatus: %v", err)
	}
	for _, k := range [][2]string{{"api1", "a5d6a0b4-6c0d-4a9f-8f19-0b9c5d8c7e21"}, {"api3", st.ID}, {"api1", expired.ID}} {
		if _, err := s.Status(ctx, k[0], k[1]); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("Status(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
	}
}

func testSecret(t *testing.T, s collections.Store) {
	ctx := t.Context()
	var calls int
	var mu sync.Mutex
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return []byte(v), nil
		}
	}
	a, err := s.Secret(ctx, "a", gen("first"))
	if err != nil || string(a) != "first" {
		t.Fatalf("Secret(a) = %q, %v; want \"first\"", a, err)
	}
	a, err = s.Secret(ctx, "a", gen("second"))
	if err != nil || string(a) != "first" {
		t.Errorf("Secret(a) again = %q, %v; want \"first\"", a, err)
	}
	if calls != 1 {
		t.Errorf("newSecret called %d times, want once", calls)
	}
	if _, err := s.Secret(ctx, "b", func() ([]byte, error) { return nil, errors.New("boom") }); err == nil {
		t.Error("Secret with a failing newSecret: no error")
	}

	// Concurrent first uses agree on one value.
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			v, err := s.Secret(ctx, "c", gen(fmt.Sprint("c", i)))
			if err != nil {
				t.Errorf("Secret(c): %v", err)
			}
			got[i] = string(v)
		})
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Errorf("concurrent Secret(c) returned %q and %q", got[0], g)
		}
	}
	if c, err := s.Secret(ctx, "c", gen("late")); err != nil || string(c) != got[0] {
		t.Errorf("Secret(c) later = %q, %v; want %q", c, err, got[0])
	}
}
