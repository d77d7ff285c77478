package mongo

// Tests of the ceiling tags (objects.go): what they select, and that
// deletes, rollbacks and writers racing on one object leave them as
// collections.SummarizeCeilings computes them.

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// For every level and every run of ceilings a mark may hold (one run from
// the level up, any length), a query under a ceiling below red selects the
// version by its tags exactly when the mark holds under that ceiling; the
// per-spec tags only for their spec version; the visibility tags when the
// level is at or below the ceiling. Versions at red have no ceiling tag.
func TestCeilingTags(t *testing.T) {
	runs := func(level stix.TLP) []collections.Ceilings {
		var out []collections.Ceilings
		for hi := level; hi <= stix.TLPRed; hi++ {
			out = append(out, collections.CeilingsFrom(level, hi)) // hi == level-1: none
		}
		return append(out, 0)
	}
	selects := func(tags []string, kind string, c stix.TLP, sv string) bool {
		q := ceilingSelect(kind, c, sv)
		if kind == "s" && len(q) > int(c) || len(q) > 6 {
			t.Errorf("%d values select %s under %v", len(q), kind, c)
		}
		for _, k := range q {
			if slices.Contains(tags, k) {
				return true
			}
		}
		return false
	}
	for level := stix.TLPClear; level <= stix.TLPRed; level++ {
		for _, last := range runs(level) {
			for _, first := range runs(level) {
				for _, top := range runs(level) {
					cm := collections.CeilingMarks{Last: last, First: first, TopSpec: top}
					tags := ceilingTags(int32(level), "2.1", cm)
					if level == stix.TLPRed && tags != nil {
						t.Errorf("ceiling tags of a version at red: %v", tags)
					}
					for c := stix.TLPClear; c < stix.TLPRed; c++ {
						for _, x := range []struct {
							kind string
							sv   string
							want bool
						}{
							{"l", "", last.Has(c)},
							{"l", "2.1", last.Has(c)},
							{"l", "2.0", false},
							{"f", "", first.Has(c)},
							{"f", "2.1", first.Has(c)},
							{"f", "2.0", false},
							{"a", "", top.Has(c)},
							{"L", "", cm.Latest().Has(c)},
							{"F", "", cm.Earliest().Has(c)},
							{"s", "", level <= c},
							{"s", "2.1", level <= c},
							{"s", "2.0", false},
						} {
							if got := selects(tags, x.kind, c, x.sv); got != x.want {
								t.Errorf("level %v, marks %+v, tags %v: %s:%s selected under %v: %v, want %v",
									level, cm, tags, x.kind, x.sv, c, got, x.want)
							}
						}
					}
				}
			}
		}
	}
}

// latestUnder returns the latest version of each object of q under each
// ceiling, as "id version" keys.
func latestUnder(t *testing.T, s *Store, q collections.Query) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, c := range []stix.TLP{stix.TLPNone, stix.TLPClear, stix.TLPGreen, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed} {
		q.MaxTLP = c
		out[fmt.Sprint(c)] = keys(t, s, q)
	}
	return out
}

// Deleting versions moves the marks under each ceiling to what is left:
// the versions below red left become the latest and first under the low
// ceilings, and once none is left below red, the head and the versions
// have no ceiling mark.
func TestCeilingMarksAfterDelete(t *testing.T) {
	s := testStores(t, 1)[0]
	id := storetest.NewID("indicator")
	key := collDocOf(t, s).Key
	v := func(n int) time.Time { return at(n) }
	push(t, s, marked(version(id, 10), stix.TLPClear), marked(version(id, 20), stix.TLPRed),
		marked(version(id, 30), stix.TLPGreen), marked(version(id, 40), stix.TLPRed))
	none := []string(nil)
	for _, tc := range []struct {
		name   string
		delete time.Time
		// latest and first under clear, green, red.
		latest, first [3][]string
	}{
		{"before", time.Time{},
			[3][]string{{vkey(id, v(10))}, {vkey(id, v(30))}, {vkey(id, v(40))}},
			[3][]string{{vkey(id, v(10))}, {vkey(id, v(10))}, {vkey(id, v(10))}}},
		{"the green version", v(30),
			[3][]string{{vkey(id, v(10))}, {vkey(id, v(10))}, {vkey(id, v(40))}},
			[3][]string{{vkey(id, v(10))}, {vkey(id, v(10))}, {vkey(id, v(10))}}},
		{"the clear version", v(10),
			[3][]string{none, none, {vkey(id, v(40))}},
			[3][]string{none, none, {vkey(id, v(20))}}},
	} {
		if !tc.delete.IsZero() {
			if _, err := s.DeleteObject(t.Context(), testRoot, testColl, id, collections.VersionFilter{Exact: []time.Time{tc.delete}}, nil); err != nil {
				t.Fatalf("%s: DeleteObject: %v", tc.name, err)
			}
		}
		for i, c := range []stix.TLP{stix.TLPClear, stix.TLPGreen, stix.TLPRed} {
			if diff := gocmp.Diff(tc.latest[i], keys(t, s, collections.Query{MaxTLP: c})); diff != "" {
				t.Errorf("%s: latest under %v (-want +got):\n%s", tc.name, c, diff)
			}
			if diff := gocmp.Diff(tc.first[i], keys(t, s, collections.Query{MaxTLP: c, Versions: collections.VersionFilter{First: true}})); diff != "" {
				t.Errorf("%s: first under %v (-want +got):\n%s", tc.name, c, diff)
			}
		}
		checkConsistent(t, s, key, id)
	}
	for _, d := range versionDocs(t, s, key, id) {
		if slices.ContainsFunc(d.Tags, func(k string) bool { return strings.Contains(k, "@") }) {
			t.Errorf("version %s at red keeps ceiling tags %v", d.Version, d.Tags)
		}
	}
}

// A writer that died after its batch moved the ceiling marks of stored
// versions is rolled back: the marks under every ceiling are as before.
func TestCeilingMarksAfterRollback(t *testing.T) {
	stores := testStores(t, 2)
	s, next := stores[0], stores[1]
	ctx := t.Context()
	id := storetest.NewID("indicator")
	push(t, s, marked(version(id, 10), stix.TLPRed), marked(version(id, 20), stix.TLPGreen), marked(version(id, 30), stix.TLPRed))
	queries := []collections.Query{
		{IDs: []string{id}},
		{IDs: []string{id}, Versions: collections.VersionFilter{First: true}},
		{IDs: []string{id}, Versions: collections.VersionFilter{All: true}},
	}
	var before []map[string][]string
	for _, q := range queries {
		before = append(before, latestUnder(t, s, q))
	}
	coll := collDocOf(t, s)
	docsBefore := versionDocs(t, s, coll.Key, id)

	// The writer adds a clear version before the green one and an amber
	// one after every other: under green the clear one becomes the
	// first, under amber the amber one the latest.
	l, err := s.acquire(ctx, coll, []string{id})
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	b := &batch{s: s, key: l.coll.Key, byID: map[string]*objDoc{}, byObject: map[string][]*objDoc{}}
	if _, _, err := b.plan(ctx, l, []collections.NewObject{marked(version(id, 15), stix.TLPClear), marked(version(id, 40), stix.TLPAmber)}, false); err != nil {
		t.Fatal(err)
	}
	if err := b.write(ctx); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for i, d := range versionDocs(t, s, coll.Key, id)[:len(docsBefore)] {
		if !sameTags(d.Tags, docsBefore[i].Tags) {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("the batch moved no tag of the stored versions")
	}
	// It dies: its lease expires, another process writes.
	if _, err := s.db.Collection(collColls).UpdateOne(ctx, bson.D{{Key: "_id", Value: testColl}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lock.until", Value: time.Now().Add(-time.Second).UnixMilli()}}}}); err != nil {
		t.Fatal(err)
	}
	push(t, next, storetest.Object(storetest.STIX{Type: "malware", Created: at(5)}))

	for i, q := range queries {
		if diff := gocmp.Diff(before[i], latestUnder(t, s, q)); diff != "" {
			t.Errorf("%+v by ceiling after the rollback (-before +after):\n%s", q, diff)
		}
	}
	checkConsistent(t, s, coll.Key, id)
}

// Two processes pushing versions of one object at several levels at once,
// in interleaved order, and deleting some: every version's marks and tags
// and the head agree with the versions stored, and under each ceiling
// exactly the newest version at or below it is the latest.
func TestTwoHandlesOneObjectLeveled(t *testing.T) {
	stores := testStores(t, 2)
	id := storetest.NewID("indicator")
	level := func(n int) stix.TLP { return stix.TLP(1 + n*7%5) }
	var wg sync.WaitGroup
	for w := range 4 {
		s := stores[w%2]
		wg.Go(func() {
			for b := range 3 {
				n := 1 + (b*4+w)*2
				if _, err := s.AddObjects(t.Context(), testRoot, testColl, []collections.NewObject{
					marked(version(id, n+1), level(n+1)), marked(version(id, n), level(n))}, collections.AddOptions{}); err != nil {
					t.Errorf("AddObjects: %v", err)
					return
				}
				if w == 3 && b == 1 {
					if _, err := s.DeleteObject(t.Context(), testRoot, testColl, id,
						collections.VersionFilter{Last: true}, nil); err != nil {
						t.Errorf("DeleteObject: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	s := stores[0]
	key := collDocOf(t, s).Key
	checkConsistent(t, s, key, id)
	docs := versionDocs(t, s, key, id)
	if len(docs) != 23 {
		t.Errorf("%d versions stored, want 23", len(docs))
	}
	for c := stix.TLPClear; c <= stix.TLPRed; c++ {
		var newest *objDoc
		for _, d := range docs {
			if collections.VersionTLP(stix.TLP(d.TLP)) <= c && (newest == nil || d.Version > newest.Version) {
				newest = d
			}
		}
		var want []string
		if newest != nil {
			v, _ := parseVersionKey(newest.Version)
			want = []string{vkey(id, v)}
		}
		if diff := gocmp.Diff(want, keys(t, stores[1], collections.Query{MaxTLP: c})); diff != "" {
			t.Errorf("latest under %v (-want +got):\n%s", c, diff)
		}
	}
}

// Versions at red added to an object with versions below red, each in its
// own batch (older, newer, of a new top spec version), leave its marks
// below red as they were, and take the marks at red.
func TestRedVersionsOfObjectBelowRed(t *testing.T) {
	s := testStores(t, 1)[0]
	id := storetest.NewID("indicator")
	key := collDocOf(t, s).Key
	spec := func(sv string, n int, l stix.TLP) collections.NewObject {
		return marked(storetest.Object(storetest.STIX{Type: "indicator", ID: id, SpecVersion: sv, Created: at(0), Modified: at(n)}), l)
	}
	push(t, s, spec("2.0", 10, stix.TLPGreen))
	push(t, s, spec("2.0", 20, stix.TLPRed))
	push(t, s, spec("2.0", 5, stix.TLPRed))
	push(t, s, spec("2.1", 30, stix.TLPRed))
	checkConsistent(t, s, key, id)
	for _, tc := range []struct {
		name string
		q    collections.Query
		want []string
	}{
		{"latest under green", collections.Query{MaxTLP: stix.TLPGreen}, []string{vkey(id, at(10))}},
		{"first under green", collections.Query{MaxTLP: stix.TLPGreen, Versions: collections.VersionFilter{First: true}}, []string{vkey(id, at(10))}},
		{"2.0 under amber", collections.Query{MaxTLP: stix.TLPAmber, SpecVersions: []string{"2.0"}, Versions: collections.VersionFilter{All: true}}, []string{vkey(id, at(10))}},
		{"latest", collections.Query{}, []string{vkey(id, at(30))}},
		{"first of 2.0", collections.Query{SpecVersions: []string{"2.0"}, Versions: collections.VersionFilter{First: true}}, []string{vkey(id, at(5))}},
		{"last of each spec version", collections.Query{AllSpecVersions: true}, []string{vkey(id, at(20)), vkey(id, at(30))}},
	} {
		if diff := gocmp.Diff(tc.want, keys(t, s, tc.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}
