package storetest

// Tests of sharing conditions: the TLP ceiling and the embargo bound of a
// query, and the markings a requester may see.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

var sharingTests = []test{
	{"CeilingPages", on(testCeilingPages)},
	{"CeilingVersionFilters", on(testCeilingVersionFilters)},
	{"EmbargoBound", on(testEmbargoBound)},
	{"MarkingsPerCeiling", on(testMarkingsPerCeiling)},
	{"MarkingsUnderEmbargo", on(testMarkingsUnderEmbargo)},
	{"UnmarkedTLPKept", on(testUnmarkedTLPKept)},
	{"CeilingPaginationWhilePushing", on(testCeilingPaginationWhilePushing)},
}

// Marking-definition ids of TLP 1.0 (STIX 2.1 section 7.2.1.4) and TLP 2.0
// (FIRST TLP 2.0 extension), and one statement marking.
const (
	tlp1White       = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	tlp1Green       = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	tlp1Amber       = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	tlp1Red         = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
	tlp2Clear       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	tlp2Green       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	tlp2Amber       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	tlp2AmberStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	tlp2Red         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	statementMark   = "marking-definition--0c3f6b8e-5d2a-4f1e-9b7c-3a8d2e6f1b45"
)

// ceilings are every ceiling a query may carry, TLPNone (none) first.
var ceilings = []stix.TLP{stix.TLPNone, stix.TLPClear, stix.TLPGreen, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed}

// Marked returns o with the given properties (object_marking_refs,
// granular_markings) in its JSON and the sharing fields an ingester
// records for them, in a collection whose unmarked level is unmarked.
func Marked(o STIX, unmarked stix.TLP, props map[string]any) collections.NewObject {
	if o.Fields == nil {
		o.Fields = map[string]any{}
	}
	for k, v := range props {
		o.Fields[k] = v
	}
	n := Object(o)
	sh, err := stix.SharingOf(n.Raw, unmarked)
	if err != nil {
		panic(err) // Object writes JSON
	}
	n.TLP, n.GranularTLP, n.Markings = sh.TLP, sh.GranularTLP, sh.Markings
	return n
}

func refs(ids ...string) map[string]any { return map[string]any{"object_marking_refs": ids} }

// sharingFixture stores versions at every level and remembers each one's.
type sharingFixture struct {
	*fixture
	level  map[string]stix.TLP // key -> TLP
	pushed []collections.NewObject
}

func (sf *sharingFixture) push(objs ...collections.NewObject) {
	sf.t.Helper()
	sf.fixture.push(objs...)
	for _, o := range objs {
		sf.level[keyOf(o)] = o.TLP
	}
	sf.pushed = append(sf.pushed, objs...)
}

// without returns a new collection of the store holding, pushed in the
// same order, only the versions visible under ceiling: what a requester
// with that ceiling must see, as if the others did not exist.
func (sf *sharingFixture) without(ceiling stix.TLP) *fixture {
	sf.t.Helper()
	f := &fixture{t: sf.t, s: sf.s, ctx: sf.ctx, root: sf.root, coll: NewID("x")[len("x--"):], added: map[string]time.Time{}}
	if err := sf.s.PutCollection(f.ctx, collections.Collection{APIRoot: f.root, ID: f.coll, Title: "visible under " + ceilingName(ceiling),
		MediaTypes: []string{"application/stix+json;version=2.1"}}); err != nil {
		sf.t.Fatalf("PutCollection: %v", err)
	}
	for _, o := range sf.pushed {
		if collections.VersionTLP(o.TLP) <= collections.Ceiling(ceiling) {
			f.push(o)
		}
	}
	return f
}

// visible returns the keys of want visible under ceiling, in DateAdded
// order.
func (sf *sharingFixture) visible(ceiling stix.TLP, want []string) []string {
	var out []string
	for _, k := range want {
		if ceiling == stix.TLPNone || sf.level[k] <= ceiling {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return sf.added[a].Compare(sf.added[b]) })
	return out
}

// newSharingFixture stores, in the fixture's collection: single versions
// marked with each TLP 1.0 and 2.0 marking, unmarked, with a statement only,
// with several markings, with granular markings on an optional and on a
// required property, and one object whose versions have different levels.
func newSharingFixture(t *testing.T, s collections.Store) *sharingFixture {
	sf := &sharingFixture{fixture: newFixture(t, s), level: map[string]stix.TLP{}}
	n := 0
	next := func() time.Time { n++; return ms(n) }
	ind := func(props map[string]any) collections.NewObject {
		at := next()
		return Marked(STIX{Type: "indicator", Created: at, Modified: at}, stix.TLPNone, props)
	}
	for _, m := range []string{tlp1White, tlp1Green, tlp1Amber, tlp1Red, tlp2Clear, tlp2Green, tlp2Amber, tlp2AmberStrict, tlp2Red} {
		sf.push(ind(refs(m)))
	}
	sf.push(
		ind(nil),                            // unmarked: red
		ind(refs(statementMark)),            // no TLP: red
		ind(refs(tlp2Green, statementMark)), // green
		ind(refs(tlp1White, tlp2Amber)),     // several: amber
		ind(map[string]any{ // granular on an optional property: green
			"object_marking_refs": []string{tlp2Green},
			"description":         "d",
			"granular_markings":   []map[string]any{{"marking_ref": tlp2Red, "selectors": []string{"description"}}},
		}),
		ind(map[string]any{ // granular on a required property: amber+strict
			"object_marking_refs": []string{tlp2Clear},
			"granular_markings":   []map[string]any{{"marking_ref": tlp2AmberStrict, "selectors": []string{"pattern"}}},
		}),
	)
	// An object whose STIX 2.0 version is green and whose newer STIX 2.1
	// version is red: under a ceiling below red, 2.0 is its top spec
	// version.
	mixedSpec := NewID("threat-actor")
	sf.push(Marked(STIX{Type: "threat-actor", ID: mixedSpec, SpecVersion: "2.0", Created: ms(0), Modified: next()}, stix.TLPNone, refs(tlp1Green)))
	sf.push(Marked(STIX{Type: "threat-actor", ID: mixedSpec, Created: ms(0), Modified: next()}, stix.TLPNone, refs(tlp2Red)))
	// Many clear versions of one malware and of one tool, and an object
	// whose versions go up and down in level.
	mal, tool, mixed := NewID("malware"), NewID("tool"), NewID("campaign")
	for i := range 3 {
		at := next()
		sf.push(Marked(STIX{Type: "malware", ID: mal, Created: ms(0), Modified: at}, stix.TLPNone, refs(tlp2Clear)))
		sf.push(Marked(STIX{Type: "tool", ID: tool, Created: ms(0), Modified: at}, stix.TLPNone, refs(tlp1Red)))
		level := []string{tlp2Green, tlp2Red, tlp2Amber}[i]
		sf.push(Marked(STIX{Type: "campaign", ID: mixed, Created: ms(0), Modified: at}, stix.TLPNone, refs(level)))
	}
	return sf
}

func ceilingName(l stix.TLP) string {
	if l == stix.TLPNone {
		return "none"
	}
	return l.String()
}

func (sf *sharingFixture) all() []string {
	var ks []string
	for k := range sf.level {
		ks = append(ks, k)
	}
	return ks
}

// testCeilingPages: under each ceiling, paging through every version of
// every spec version (Limit 2, following DateAdded) returns exactly the versions at or below
// it, each with its recorded levels; More is exact.
func testCeilingPages(t *testing.T, s collections.Store) {
	sf := newSharingFixture(t, s)
	levels := map[string][2]stix.TLP{}
	for _, o := range sf.walk(collections.Query{Versions: collections.VersionFilter{All: true}, AllSpecVersions: true, Limit: 1000}) {
		levels[key(o.ID, o.Version)] = [2]stix.TLP{o.TLP, o.GranularTLP}
	}
	for _, ceiling := range ceilings {
		t.Run(ceilingName(ceiling), func(t *testing.T) {
			want := sf.visible(ceiling, sf.all())
			q := collections.Query{Versions: collections.VersionFilter{All: true}, AllSpecVersions: true, MaxTLP: ceiling, Limit: 2}
			got := sf.walk(q)
			if diff := cmp.Diff(want, keys(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("versions seen under ceiling %q (-want +got):\n%s", ceiling, diff)
			}
			for _, o := range got {
				if o.TLP == stix.TLPNone || ceiling != stix.TLPNone && o.TLP > ceiling {
					t.Errorf("%s: TLP %v under ceiling %v", o.ID, o.TLP, ceiling)
				}
				if l := levels[key(o.ID, o.Version)]; l != [2]stix.TLP{o.TLP, o.GranularTLP} {
					t.Errorf("%s: levels %v here, %v without a ceiling", o.ID, [2]stix.TLP{o.TLP, o.GranularTLP}, l)
				}
			}
			// More is exact: a page holding all the visible versions has
			// none after it; one short of them has.
			if len(want) > 0 {
				q.Limit = len(want)
				if p := sf.page(q); p.More || len(p.Objects) != len(want) {
					t.Errorf("limit %d = visible versions: %d objects, More %v", q.Limit, len(p.Objects), p.More)
				}
				q.Limit = len(want) - 1
				if q.Limit > 0 {
					if p := sf.page(q); !p.More {
						t.Errorf("limit %d, one short of the visible versions: More false", q.Limit)
					}
				}
				// After the last visible version, nothing, even though
				// hidden versions follow it.
				q.Limit, q.AddedAfter = 10, sf.added[want[len(want)-1]]
				if p := sf.page(q); len(p.Objects) != 0 || p.More {
					t.Errorf("after the last visible version: %v, More %v", keys(p.Objects), p.More)
				}
			}
		})
	}
	// The levels recorded are NewObject's.
	for k, l := range sf.level {
		if levels[k][0] != l {
			t.Errorf("%s: stored TLP %v, pushed %v", k, levels[k][0], l)
		}
	}
}

// testCeilingVersionFilters: under a ceiling, every version filter and the
// ids query (the objects, versions and manifest endpoints) select what
// they select in a collection holding only the versions visible under it:
// a version above the ceiling does not exist for the requester, so the
// last, the first and the top spec version of an object are those of the
// versions it may see (a TLP:AMBER reader of an object whose newest
// version is TLP:RED gets the newest TLP:AMBER one as the latest).
func testCeilingVersionFilters(t *testing.T, s collections.Store) {
	sf := newSharingFixture(t, s)
	var mal, mixed string
	var malVersions []time.Time
	for k := range sf.level {
		switch id := sf.idOf(k); typeOf(id) {
		case "malware":
			mal = id
		case "campaign":
			mixed = id
		}
	}
	for _, o := range sf.walk(collections.Query{IDs: []string{mal}, Versions: collections.VersionFilter{All: true}, Limit: 10}) {
		malVersions = append(malVersions, o.Version)
	}
	filters := []struct {
		name string
		q    collections.Query
	}{
		{"latest", collections.Query{}},
		{"first", collections.Query{Versions: collections.VersionFilter{First: true}}},
		{"first and last", collections.Query{Versions: collections.VersionFilter{First: true, Last: true}}},
		{"all", collections.Query{Versions: collections.VersionFilter{All: true}}},
		{"exact", collections.Query{Versions: collections.VersionFilter{Exact: malVersions[1:2]}}},
		{"types", collections.Query{Types: []string{"malware", "tool"}, Versions: collections.VersionFilter{All: true}}},
		{"type latest", collections.Query{Types: []string{"indicator"}}},
		{"spec version", collections.Query{SpecVersions: []string{"2.1"}, Versions: collections.VersionFilter{All: true}}},
		{"all spec versions", collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{First: true}}},
		{"ids all", collections.Query{IDs: []string{mal, mixed}, Versions: collections.VersionFilter{All: true}}},
		{"ids latest", collections.Query{IDs: []string{mal}}},
		{"ids exact", collections.Query{IDs: []string{mal}, Versions: collections.VersionFilter{Exact: malVersions[:1]}}},
		{"metadata", collections.Query{MetadataOnly: true, Versions: collections.VersionFilter{All: true}}},
	}
	oracle := map[stix.TLP]*fixture{}
	for _, c := range ceilings[1:] {
		oracle[c] = sf.without(c)
	}
	for _, fl := range filters {
		fl.q.Limit = 1000
		selected := keys(sf.walk(fl.q))
		if len(selected) == 0 {
			t.Fatalf("%s selects nothing without a ceiling", fl.name)
		}
		for _, ceiling := range ceilings[1:] {
			t.Run(fmt.Sprintf("%s/%s", fl.name, ceilingName(ceiling)), func(t *testing.T) {
				want := keys(oracle[ceiling].walk(fl.q))
				for _, limit := range []int{3, 1000} {
					q := fl.q
					q.MaxTLP, q.Limit = ceiling, limit
					if diff := cmp.Diff(want, keys(sf.walk(q)), cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("limit %d (-want +got):\n%s", limit, diff)
					}
				}
			})
		}
	}
}

// testEmbargoBound: AddedUntil keeps the versions added at or before it,
// with and without a ceiling, on every page.
func testEmbargoBound(t *testing.T, s collections.Store) {
	sf := newSharingFixture(t, s)
	all := sf.visible(stix.TLPNone, sf.all())
	for _, cut := range []int{0, len(all) / 3, len(all) - 1} {
		until := sf.added[all[cut]]
		for _, ceiling := range []stix.TLP{stix.TLPNone, stix.TLPGreen, stix.TLPRed} {
			var want []string
			for _, k := range sf.visible(ceiling, all) {
				if !sf.added[k].After(until) {
					want = append(want, k)
				}
			}
			for _, q := range []collections.Query{
				{Versions: collections.VersionFilter{All: true}, AllSpecVersions: true},
				{Versions: collections.VersionFilter{All: true}, AllSpecVersions: true, Types: []string{"indicator", "tool"}},
				{Versions: collections.VersionFilter{All: true}, AllSpecVersions: true, IDs: idsOf(all)},
			} {
				q.AddedUntil, q.MaxTLP, q.Limit = until, ceiling, 2
				got := keys(sf.walk(q))
				wantQ := want
				if len(q.Types) > 0 {
					wantQ = nil
					for _, k := range want {
						if typ := typeOf(sf.idOf(k)); typ == "indicator" || typ == "tool" {
							wantQ = append(wantQ, k)
						}
					}
				}
				if diff := cmp.Diff(wantQ, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("until version %d, ceiling %q, %s (-want +got):\n%s", cut, ceiling, describe(q), diff)
				}
			}
		}
	}
	// Just before the first version: nothing, and no More.
	q := collections.Query{AddedUntil: sf.added[all[0]].Add(-time.Microsecond), Limit: 5}
	if p := sf.page(q); len(p.Objects) != 0 || p.More {
		t.Errorf("until before the first version: %v, More %v", keys(p.Objects), p.More)
	}
}

func idsOf(ks []string) []string {
	var ids []string
	for _, k := range ks {
		if id := idOfKey(k); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func idOfKey(k string) string { id, _, _ := strings.Cut(k, " "); return id }

func typeOf(id string) string { typ, _ := collections.SplitID(id); return typ }

// testMarkingsPerCeiling: Markings lists, ordered by id, the marking
// definitions referenced by versions visible under the ceiling, each with
// its TLP level (TLPNone for others).
func testMarkingsPerCeiling(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	at := 0
	ind := func(props map[string]any) collections.NewObject {
		at++
		return Marked(STIX{Type: "indicator", Created: ms(at), Modified: ms(at)}, stix.TLPGreen, props)
	}
	f.push(
		ind(refs(tlp1White)),
		ind(refs(statementMark)),            // unmarked level: green
		ind(refs(tlp2Amber, statementMark)), // amber; the statement is green already
		ind(map[string]any{ // red granular on an optional property of a clear object
			"object_marking_refs": []string{tlp2Clear}, "description": "d",
			"granular_markings": []map[string]any{{"marking_ref": tlp2Red, "selectors": []string{"description"}}},
		}),
		ind(refs(tlp2AmberStrict)),
		ind(refs(tlp1Red)),
	)
	// The lowest level of the versions referencing each marking.
	lowest := map[string]stix.TLP{tlp1White: stix.TLPClear, statementMark: stix.TLPGreen, tlp2Amber: stix.TLPAmber,
		tlp2Clear: stix.TLPClear, tlp2Red: stix.TLPClear, tlp2AmberStrict: stix.TLPAmberStrict, tlp1Red: stix.TLPRed}
	for _, ceiling := range ceilings {
		var want []collections.Marking
		for id, l := range lowest {
			if ceiling == stix.TLPNone || l <= ceiling {
				want = append(want, collections.Marking{ID: id, TLP: stix.TLPOfMarking(id)})
			}
		}
		slices.SortFunc(want, func(a, b collections.Marking) int {
			if a.ID < b.ID {
				return -1
			}
			return 1
		})
		got, err := s.Markings(f.ctx, f.root, f.coll, ceiling, time.Time{})
		if err != nil {
			t.Fatalf("Markings: %v", err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Markings under %q (-want +got):\n%s", ceiling, diff)
		}
	}
	if got, err := s.Markings(f.ctx, f.root, "5d0ac1b4-42f3-4b4e-8d67-1c2ff7ad4c8e", stix.TLPNone, time.Now()); err != nil || len(got) != 0 {
		t.Errorf("Markings of a missing collection: %v, %v", got, err)
	}
}

// testMarkingsUnderEmbargo: under an embargo bound Markings lists only
// the markings referenced by versions added at or before it (and within
// the ceiling), for every bound between versions, every ceiling, and after
// deletes: a marking whose only version before the bound is deleted is no
// longer listed under that bound, though a later version keeps it listed
// without one; a collection deleted and created again lists only what
// its new versions reference.
func testMarkingsUnderEmbargo(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	type version struct {
		obj     collections.NewObject
		added   time.Time
		deleted bool
	}
	var vs []*version
	push := func(id string, at int, props map[string]any) {
		o := Marked(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(at)}, stix.TLPNone, props)
		r := f.push(o)
		vs = append(vs, &version{obj: o, added: r[0].DateAdded})
	}
	const (
		ind1 = "indicator--1b4d1b3e-9f0e-4f5a-8a7c-2e3d4c5b6a71"
		ind2 = "indicator--2b4d1b3e-9f0e-4f5a-8a7c-2e3d4c5b6a72"
		ind3 = "indicator--3b4d1b3e-9f0e-4f5a-8a7c-2e3d4c5b6a73"
		ind4 = "indicator--4b4d1b3e-9f0e-4f5a-8a7c-2e3d4c5b6a74"
	)
	// One push each: every version has its own date_added.
	push(ind1, 1, refs(tlp2Amber, statementMark))
	push(ind2, 1, refs(tlp2Green))
	push(ind1, 2, refs(tlp2Clear, statementMark)) // the statement, at clear from here on
	push(ind3, 1, refs(tlp1Red))
	push(ind4, 1, map[string]any{ // green, with a red granular marking on an optional property
		"object_marking_refs": []string{tlp2Green}, "description": "d",
		"granular_markings": []map[string]any{{"marking_ref": tlp2Red, "selectors": []string{"description"}}},
	})
	// The bounds: none, before the first version, at each version and a
	// microsecond before the next.
	bounds := []time.Time{{}, vs[0].added.Add(-time.Microsecond)}
	for _, v := range vs {
		bounds = append(bounds, v.added, v.added.Add(time.Microsecond))
	}
	// unbounded: check without a bound too. Without one, a store may go
	// on listing what deleted versions referenced (collections.Store).
	check := func(step string, unbounded bool) {
		t.Helper()
		for _, until := range bounds {
			if until.IsZero() && !unbounded {
				continue
			}
			for _, ceiling := range ceilings {
				seen := map[string]bool{}
				var want []string
				for _, v := range vs {
					if v.deleted || (!until.IsZero() && v.added.After(until)) ||
						(ceiling != stix.TLPNone && v.obj.TLP > ceiling) {
						continue
					}
					for _, m := range v.obj.Markings {
						if !seen[m] {
							seen[m] = true
							want = append(want, m)
						}
					}
				}
				slices.Sort(want)
				ms, err := s.Markings(f.ctx, f.root, f.coll, ceiling, until)
				if err != nil {
					t.Fatalf("Markings: %v", err)
				}
				var got []string
				for _, m := range ms {
					got = append(got, m.ID)
					if m.TLP != stix.TLPOfMarking(m.ID) {
						t.Errorf("%s: marking %s has TLP %q", step, m.ID, m.TLP)
					}
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: Markings under %q until %v (-want +got):\n%s", step, ceiling, until, diff)
				}
			}
		}
	}
	check("stored", true)
	// ind2, the only green version before ind4's: tlp2Green goes from
	// the bounds before ind4, stays after it.
	if _, err := s.DeleteObject(f.ctx, f.root, f.coll, ind2, collections.VersionFilter{All: true}, nil); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	vs[1].deleted = true
	check("object deleted", false)
	// ind1's first version: tlp2Amber goes everywhere, the statement from
	// the bounds before ind1's second version.
	if _, err := s.DeleteObject(f.ctx, f.root, f.coll, ind1, collections.VersionFilter{Exact: []time.Time{ms(1)}}, nil); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	vs[0].deleted = true
	check("version deleted", false)
	// The collection deleted and created again: what its versions
	// referenced is gone with them, under any bound.
	if err := s.DeleteCollection(f.ctx, f.root, f.coll); err != nil {
		t.Fatalf("DeleteCollection: %v", err)
	}
	if err := s.PutCollection(f.ctx, collections.Collection{APIRoot: f.root, ID: f.coll, Title: "C",
		MediaTypes: []string{"application/stix+json;version=2.1"}}); err != nil {
		t.Fatalf("PutCollection: %v", err)
	}
	for _, v := range vs {
		v.deleted = true
	}
	push(ind4, 2, refs(tlp2Green, statementMark))
	bounds = append(bounds, vs[len(vs)-1].added, vs[len(vs)-1].added.Add(-time.Microsecond))
	check("collection created again", true)
}

// testUnmarkedTLPKept: a collection's unmarked level is stored and listed.
func testUnmarkedTLPKept(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	for _, l := range []stix.TLP{stix.TLPGreen, stix.TLPNone, stix.TLPAmberStrict} {
		c, err := s.Collection(f.ctx, f.root, f.coll)
		if err != nil {
			t.Fatal(err)
		}
		c.UnmarkedTLP = l
		if err := s.PutCollection(f.ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Collection(f.ctx, f.root, f.coll)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("Collection (-put +got):\n%s", diff)
		}
		list, err := s.Collections(f.ctx, f.root)
		if err != nil || len(list) != 1 || list[0].UnmarkedTLP != l {
			t.Errorf("Collections: %+v, %v; want UnmarkedTLP %v", list, err, l)
		}
	}
}

// testCeilingPaginationWhilePushing: a client whose ceiling hides nine
// versions in ten pages through the collection (Limit 7) while writers
// push: it sees every visible version exactly once and no hidden one.
func testCeilingPaginationWhilePushing(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	gen := func(w, b int) []collections.NewObject {
		var batch []collections.NewObject
		for i := range 10 {
			at := ms(w*10000 + b*10 + i)
			m := tlp2Red
			if (w+b+i)%10 == 0 {
				m = tlp2Green
			}
			batch = append(batch, Marked(STIX{Type: "indicator", Created: at, Modified: at}, stix.TLPNone, refs(m)))
		}
		return batch
	}
	done := make(chan map[string]bool)
	go func() {
		done <- pushConcurrently(t, []collections.Store{s}, f.root, f.coll, 4, 10, gen)
	}()
	seen := map[string]bool{}
	var (
		cursor   time.Time
		inserted map[string]bool
	)
	for finished := false; ; {
		select {
		case inserted = <-done:
			finished = true
		default:
		}
		p, err := s.Objects(f.ctx, collections.Query{APIRoot: f.root, Collection: f.coll, Limit: 7, AddedAfter: cursor, MaxTLP: stix.TLPGreen})
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		for _, o := range p.Objects {
			k := key(o.ID, o.Version)
			if seen[k] {
				t.Fatalf("object %s seen twice", k)
			}
			if o.TLP != stix.TLPGreen {
				t.Fatalf("object %s at %v seen under ceiling green", k, o.TLP)
			}
			if !o.DateAdded.After(cursor) {
				t.Fatalf("object %s: DateAdded %v not after cursor %v", k, o.DateAdded, cursor)
			}
			seen[k] = true
			cursor = o.DateAdded
		}
		if len(p.Objects) < 7 && p.More {
			t.Fatalf("short page (%d) with More", len(p.Objects))
		}
		if !p.More && finished {
			break
		}
		if !p.More {
			time.Sleep(time.Millisecond)
		}
	}
	// The visible versions are the green ones the writers added.
	want := map[string]bool{}
	for k := range inserted {
		p, err := s.Objects(f.ctx, collections.Query{APIRoot: f.root, Collection: f.coll, IDs: []string{idOfKey(k)}, Limit: 2})
		if err != nil || len(p.Objects) != 1 {
			t.Fatalf("Objects(%s): %v, %v", k, p.Objects, err)
		}
		if p.Objects[0].TLP == stix.TLPGreen {
			want[k] = true
		}
	}
	if len(want) == 0 || len(want) == len(inserted) {
		t.Fatalf("%d of %d versions green: the test needs a ceiling that hides most", len(want), len(inserted))
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("versions seen under the ceiling (-visible +seen):\n%s", diff)
	}
}
