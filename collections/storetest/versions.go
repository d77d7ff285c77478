package storetest

// Tests of version selection: last, first, exact, spec versions.

import (
	"errors"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
)

var versionsTests = []test{
	{"VersionSelection", on(testVersionSelection)},
	{"SpecVersions", on(testSpecVersions)},
	{"OlderVersionLater", on(testOlderVersionLater)},
	{"AllSpecVersions", on(testAllSpecVersions)},
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

func testAllSpecVersions(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	obj := func(id, spec string, n int) collections.NewObject {
		return Object(STIX{Type: "indicator", ID: id, SpecVersion: spec, Created: ms(0), Modified: ms(n)})
	}
	a, b := NewID("indicator"), NewID("indicator")
	a20v1, a20v2, a21v3, a21v4, b20 := obj(a, "2.0", 10), obj(a, "2.0", 20), obj(a, "2.1", 30), obj(a, "2.1", 40), obj(b, "2.0", 10)
	tool := Object(STIX{Type: "tool", Created: ms(0)})
	f.push(a21v4, a20v1, b20)
	f.push(a21v3, a20v2, tool)
	K := keyOf
	for _, tc := range []struct {
		name string
		vf   collections.VersionFilter
		want []string
	}{
		{"all", collections.VersionFilter{All: true}, []string{K(a21v4), K(a20v1), K(b20), K(a21v3), K(a20v2), K(tool)}},
		{"last", collections.VersionFilter{Last: true}, []string{K(a21v4), K(b20), K(a20v2), K(tool)}},
		{"default", collections.VersionFilter{}, []string{K(a21v4), K(b20), K(a20v2), K(tool)}},
		{"first", collections.VersionFilter{First: true}, []string{K(a20v1), K(b20), K(a21v3), K(tool)}},
		{"exact", collections.VersionFilter{Exact: []time.Time{ms(10), ms(30)}}, []string{K(a20v1), K(b20), K(a21v3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.check(collections.Query{AllSpecVersions: true, Versions: tc.vf}, tc.want...)
			var ind []string
			for _, k := range tc.want {
				if k != K(tool) {
					ind = append(ind, k)
				}
			}
			f.check(collections.Query{AllSpecVersions: true, Versions: tc.vf, Types: []string{"indicator", "malware"}}, ind...)
			f.check(collections.Query{AllSpecVersions: true, Versions: tc.vf, IDs: []string{a, b}}, ind...)
		})
	}
	f.t = t
	// Without it, match[version]=all keeps to each object's top spec version.
	f.check(collections.Query{Versions: collections.VersionFilter{All: true}}, K(a21v4), K(b20), K(a21v3), K(tool))
	_, err := s.Objects(f.ctx, collections.Query{APIRoot: f.root, Collection: f.coll, Limit: 10,
		AllSpecVersions: true, SpecVersions: []string{"2.1"}})
	if !errors.Is(err, collections.ErrInvalid) {
		t.Errorf("AllSpecVersions with SpecVersions: %v, want ErrInvalid", err)
	}
}
