package storetest

// Tests of DeleteObject.

import (
	"errors"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
)

var deleteTests = []test{
	{"Delete", on(testDelete)},
	{"DeletedVersionGone", on(testDeletedVersionGone)},
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

func testDeletedVersionGone(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	id := NewID("indicator")
	var vs []collections.NewObject
	for _, n := range []int{10, 20, 30} {
		vs = append(vs, Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(n)}))
	}
	f.push(vs...)
	exact := func(n int) collections.VersionFilter { return collections.VersionFilter{Exact: []time.Time{ms(n)}} }
	gone := func(n int) {
		t.Helper()
		for _, q := range []collections.Query{
			{Versions: exact(n)},
			{Versions: exact(n), IDs: []string{id}},
			{Versions: exact(n), Types: []string{"indicator"}},
			{Versions: exact(n), AllSpecVersions: true},
			{Versions: exact(n), SpecVersions: []string{"2.1"}},
		} {
			f.check(q)
		}
	}
	if n, err := s.DeleteObject(f.ctx, f.root, f.coll, id, exact(20), nil); err != nil || n != 1 {
		t.Fatalf("DeleteObject = %d, %v; want 1", n, err)
	}
	gone(20)
	f.check(collections.Query{IDs: []string{id}, Versions: collections.VersionFilter{All: true}}, keyOf(vs[0]), keyOf(vs[2]))
	if n, err := s.DeleteObject(f.ctx, f.root, f.coll, id, collections.VersionFilter{Last: true}, nil); err != nil || n != 1 {
		t.Fatalf("DeleteObject(last) = %d, %v; want 1", n, err)
	}
	gone(30)
	f.check(collections.Query{}, keyOf(vs[0]))
	// Pushed again, a deleted version is a new arrival.
	res := f.push(vs[1])
	if !res[0].DateAdded.After(f.added[keyOf(vs[2])]) {
		t.Errorf("re-pushed version: DateAdded %v, not after the earlier pushes", res[0].DateAdded)
	}
	f.check(collections.Query{}, keyOf(vs[1]))
	f.check(collections.Query{Versions: collections.VersionFilter{First: true}}, keyOf(vs[0]))
}
