package mongo

// Tests of the sharing conditions on MongoDB documents: the TLP ceiling and
// the embargo bound of pages (query.go), the markings documents
// (markings.go), migration 3 (migrate.go).

import (
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mongo/mongotest"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// Marking-definition ids of TLP 1.0 and 2.0 levels, and a custom marking.
const (
	markWhite  = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	markGreen2 = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	markAmber  = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	markStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	markRed2   = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	markCustom = "marking-definition--0f4a2d52-6b1e-4b8a-9a54-6f0e1c2d3b4a"
)

// marked returns o at level l referencing markings.
func marked(o collections.NewObject, l stix.TLP, markings ...string) collections.NewObject {
	o.TLP, o.Markings = l, markings
	return o
}

// pageAll reads every page of q (Limit as given; the test collection when
// q names none) and returns "id version" of each object in order; it
// fails the test if a page but the last is not full or More is wrong.
func pageAll(t *testing.T, s *Store, q collections.Query) []string {
	t.Helper()
	q.APIRoot = testRoot
	if q.Collection == "" {
		q.Collection = testColl
	}
	var out []string
	for range 1000 {
		p, err := s.Objects(t.Context(), q)
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		for _, o := range p.Objects {
			out = append(out, vkey(o.ID, o.Version))
		}
		if !p.More {
			return out
		}
		if len(p.Objects) != q.Limit {
			t.Fatalf("page of %d objects with More, want full pages of %d", len(p.Objects), q.Limit)
		}
		q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
	}
	t.Fatal("more than 1000 pages")
	return nil
}

// TestCeilingPages: under a TLP ceiling every page shape returns exactly
// what it returns, without a ceiling, from a collection holding only the
// versions at or below it (pushed in the same batches), in full pages with
// More exact, across pages; versions stored without a level count as red;
// the levels are returned.
func TestCeilingPages(t *testing.T) {
	s := testStores(t, 1)[0]
	levels := []stix.TLP{stix.TLPRed, stix.TLPClear, stix.TLPAmber, stix.TLPGreen, stix.TLPNone, stix.TLPAmberStrict, stix.TLPRed, stix.TLPRed}
	level := map[string]stix.TLP{} // "id version" -> level pushed
	gran := map[string]stix.TLP{}  // "id version" -> granular level pushed
	var pushed []string            // "id version" in date_added order
	var batches [][]collections.NewObject
	types := []string{"indicator", "malware", "tool"}
	multi := storetest.NewID("indicator") // an object with many versions
	for b := range 3 {
		var batch []collections.NewObject
		for i := range 10 {
			o := storetest.Object(storetest.STIX{Type: types[i%3], Created: at(b*100 + i)})
			l := levels[(b*10+i)%len(levels)]
			o = marked(o, l)
			if i%5 == 0 {
				o.GranularTLP = stix.TLPRed
			}
			batch = append(batch, o)
		}
		for i := range 3 {
			batch = append(batch, marked(version(multi, b*10+i+1), levels[(b*3+i)%len(levels)]))
		}
		for _, o := range batch {
			k := vkey(collections.CanonicalID(o.ID), o.Version)
			level[k], gran[k] = o.TLP, o.GranularTLP
			pushed = append(pushed, k)
		}
		push(t, s, batch...)
		batches = append(batches, batch)
	}
	ceilings := []stix.TLP{stix.TLPClear, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed}
	// The collections of the versions visible under each ceiling.
	only := map[stix.TLP]string{}
	for _, ceiling := range ceilings {
		only[ceiling] = storetest.NewID("x")[len("x--"):]
		if err := s.PutCollection(t.Context(), collections.Collection{APIRoot: testRoot, ID: only[ceiling], Title: "visible"}); err != nil {
			t.Fatal(err)
		}
		for _, batch := range batches {
			var visible []collections.NewObject
			for _, o := range batch {
				if collections.VersionTLP(o.TLP) <= ceiling {
					visible = append(visible, o)
				}
			}
			if len(visible) > 0 {
				if _, err := s.AddObjects(t.Context(), testRoot, only[ceiling], visible, collections.AddOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	// What an unlimited query returns (every shape is tested without a
	// ceiling by the contract tests), and its levels as read.
	unlimited := func(q collections.Query) []string {
		q.APIRoot, q.Limit = testRoot, 1000
		if q.Collection == "" {
			q.Collection = testColl
		}
		p, err := s.Objects(t.Context(), q)
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		var out []string
		for _, o := range p.Objects {
			k := vkey(o.ID, o.Version)
			if o.TLP != level[k] || o.GranularTLP != gran[k] {
				t.Errorf("%s read at TLP %v/%v, pushed at %v/%v", k, o.TLP, o.GranularTLP, level[k], gran[k])
			}
			out = append(out, k)
		}
		return out
	}
	var exact []time.Time
	for i := range 3 {
		exact = append(exact, version(multi, 10+i+1).Version)
	}
	for _, tc := range []struct {
		name string
		q    collections.Query
	}{
		{"latest", collections.Query{}},
		{"manifest", collections.Query{MetadataOnly: true}},
		{"match[type]", collections.Query{Types: []string{"malware", "indicator"}}},
		{"all versions", collections.Query{Versions: collections.VersionFilter{All: true}}},
		{"first and last", collections.Query{Versions: collections.VersionFilter{First: true, Last: true}}},
		{"versions of an object", collections.Query{IDs: []string{multi}, Versions: collections.VersionFilter{All: true}}},
		{"exact versions", collections.Query{Versions: collections.VersionFilter{Exact: exact}}},
		{"exact versions and last", collections.Query{Versions: collections.VersionFilter{Exact: exact, Last: true}}},
		{"spec version list", collections.Query{SpecVersions: []string{"2.1"}, Versions: collections.VersionFilter{All: true}}},
		{"export", collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}}},
		{"export of types", collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}, Types: []string{"tool"}}},
		{"ids, every version", collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}, IDs: []string{multi}}},
	} {
		if len(unlimited(tc.q)) == 0 {
			t.Fatalf("%s: nothing without a ceiling", tc.name)
		}
		for _, ceiling := range ceilings {
			q := tc.q
			q.Collection = only[ceiling]
			want := unlimited(q)
			q.Collection, q.MaxTLP, q.Limit = "", ceiling, 4
			if diff := gocmp.Diff(want, pageAll(t, s, q)); diff != "" {
				t.Errorf("%s under %v (-want +got):\n%s", tc.name, ceiling, diff)
			}
		}
	}
	// The oracle above is the store's own unlimited answer: check it
	// against what was pushed for the plain export.
	if diff := gocmp.Diff(pushed, unlimited(collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}})); diff != "" {
		t.Errorf("export (-pushed +read):\n%s", diff)
	}
	if _, err := s.Objects(t.Context(), collections.Query{APIRoot: testRoot, Collection: testColl, Limit: 1, MaxTLP: stix.TLPRed + 1}); err == nil {
		t.Error("Objects with a ceiling above red: no error")
	}
}

// TestAddedUntil: the embargo bound keeps versions added at or before it,
// with added_after and under a ceiling.
func TestAddedUntil(t *testing.T) {
	s := testStores(t, 1)[0]
	var keysOf [3][]string
	var added [3][]time.Time
	for b := range 3 {
		var batch []collections.NewObject
		for i := range 4 {
			batch = append(batch, marked(storetest.Object(storetest.STIX{Type: "indicator", Created: at(b*10 + i)}),
				[]stix.TLP{stix.TLPGreen, stix.TLPRed}[i%2]))
		}
		res := push(t, s, batch...)
		for i, r := range res {
			keysOf[b] = append(keysOf[b], vkey(collections.CanonicalID(batch[i].ID), r.Version))
			added[b] = append(added[b], r.DateAdded)
		}
		time.Sleep(2 * time.Millisecond) // batches apart in date_added
	}
	greens := func(ks []string) []string {
		var out []string
		for i, k := range ks {
			if i%2 == 0 {
				out = append(out, k)
			}
		}
		return out
	}
	cat := func(l ...[]string) []string { return slices.Concat(l...) }
	for _, tc := range []struct {
		name  string
		q     collections.Query
		want  []string
		limit int
	}{
		{"until the end of the second batch", collections.Query{AddedUntil: added[1][3]}, cat(keysOf[0], keysOf[1]), 0},
		{"until within the second batch", collections.Query{AddedUntil: added[1][1]}, cat(keysOf[0], keysOf[1][:2]), 0},
		{"until a nanosecond before a version", collections.Query{AddedUntil: added[1][1].Add(-time.Nanosecond)}, cat(keysOf[0], keysOf[1][:1]), 0},
		{"after and until", collections.Query{AddedAfter: added[0][3], AddedUntil: added[1][3]}, keysOf[1], 0},
		{"after at until", collections.Query{AddedAfter: added[1][3], AddedUntil: added[1][3]}, nil, 0},
		{"until before everything", collections.Query{AddedUntil: added[0][0].Add(-time.Microsecond)}, nil, 0},
		{"until in the future", collections.Query{AddedUntil: time.Now().Add(time.Hour)}, cat(keysOf[0], keysOf[1], keysOf[2]), 0},
		{"until with a ceiling, in pages", collections.Query{AddedUntil: added[1][2], MaxTLP: stix.TLPAmber},
			cat(greens(keysOf[0]), greens(keysOf[1])), 1},
	} {
		var got []string
		if tc.limit > 0 {
			q := tc.q
			q.Limit = tc.limit
			got = pageAll(t, s, q)
		} else {
			got = keys(t, s, tc.q)
		}
		if diff := gocmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestMarkingsDocuments: the markings of a collection are those its
// versions referenced, each visible at the lowest level of a version
// referencing it, with the marking's own TLP level; they survive the
// deletion of their versions (as documented) and go with the collection.
func TestMarkingsDocuments(t *testing.T) {
	stores := testStores(t, 2)
	s := stores[0]
	ctx := t.Context()
	obj := func(n int) collections.NewObject {
		return storetest.Object(storetest.STIX{Type: "indicator", Created: at(n)})
	}
	gone := obj(4)
	push(t, s,
		marked(obj(1), stix.TLPRed, markRed2, markCustom),
		marked(obj(2), stix.TLPAmberStrict, markAmber, markStrict),
		gone,
	)
	// A later batch, by another handle, lowers the custom marking's level
	// and adds one; the one already seen lower stays lower.
	push(t, stores[1],
		marked(obj(3), stix.TLPGreen, markGreen2, markCustom),
		marked(obj(5), stix.TLPRed, markAmber),
		marked(obj(6), stix.TLPNone, markWhite), // no level: red
	)
	all := []collections.Marking{
		{ID: markStrict, TLP: stix.TLPAmberStrict},
		{ID: markWhite, TLP: stix.TLPClear},
		{ID: markGreen2, TLP: stix.TLPGreen},
		{ID: markCustom, TLP: stix.TLPNone},
		{ID: markRed2, TLP: stix.TLPRed},
		{ID: markAmber, TLP: stix.TLPAmber},
	}
	slices.SortFunc(all, func(a, b collections.Marking) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	only := func(ids ...string) []collections.Marking {
		var out []collections.Marking
		for _, m := range all {
			if slices.Contains(ids, m.ID) {
				out = append(out, m)
			}
		}
		return out
	}
	check := func(name string, ceiling stix.TLP, want []collections.Marking) {
		t.Helper()
		got, err := s.Markings(ctx, testRoot, testColl, ceiling, time.Time{})
		if err != nil {
			t.Fatalf("%s: Markings: %v", name, err)
		}
		if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	check("no ceiling", stix.TLPNone, all)
	check("red", stix.TLPRed, all)
	check("clear", stix.TLPClear, nil)
	check("green", stix.TLPGreen, only(markGreen2, markCustom))
	check("amber", stix.TLPAmber, only(markGreen2, markCustom)) // TLP:AMBER only on amber+strict and red versions
	check("amber+strict", stix.TLPAmberStrict, only(markGreen2, markCustom, markAmber, markStrict))

	// Deleting the only version referencing a marking keeps it listed.
	if _, err := s.DeleteObject(ctx, testRoot, testColl, collections.CanonicalID(gone.ID), collections.VersionFilter{All: true}, nil); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	check("after a deletion", stix.TLPNone, all)

	if got, err := s.Markings(ctx, testRoot, "00000000-0000-4000-8000-000000000000", stix.TLPNone, time.Time{}); err != nil || got != nil {
		t.Errorf("Markings of a missing collection: %v, %v; want none", got, err)
	}
	key := collDocOf(t, s).Key
	if err := s.DeleteCollection(ctx, testRoot, testColl); err != nil {
		t.Fatalf("DeleteCollection: %v", err)
	}
	n, err := s.db.Collection(collMarkings).CountDocuments(ctx, bson.D{{Key: "c", Value: key}})
	if err != nil || n != 0 {
		t.Errorf("markings documents left after DeleteCollection: %d, %v", n, err)
	}
	// The same id again starts without markings.
	if err := s.PutCollection(ctx, collections.Collection{APIRoot: testRoot, ID: testColl, Title: "C"}); err != nil {
		t.Fatal(err)
	}
	check("collection created again", stix.TLPNone, []collections.Marking{})
}

// TestUnmarkedTLPStored: the collection's level for unmarked versions is
// stored, returned, changed by PutCollection, and checked.
func TestUnmarkedTLPStored(t *testing.T) {
	s := testStores(t, 1)[0]
	ctx := t.Context()
	for _, l := range []stix.TLP{stix.TLPGreen, stix.TLPNone, stix.TLPAmberStrict} {
		c := collections.Collection{APIRoot: testRoot, ID: testColl, Title: "C", UnmarkedTLP: l}
		if err := s.PutCollection(ctx, c); err != nil {
			t.Fatalf("PutCollection at %v: %v", l, err)
		}
		got, err := s.Collection(ctx, testRoot, testColl)
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.Collections(ctx, testRoot)
		if err != nil || len(list) != 1 {
			t.Fatalf("Collections: %v, %v", list, err)
		}
		if got.UnmarkedTLP != l || list[0].UnmarkedTLP != l {
			t.Errorf("UnmarkedTLP put %v: Collection %v, Collections %v", l, got.UnmarkedTLP, list[0].UnmarkedTLP)
		}
	}
	err := s.PutCollection(ctx, collections.Collection{APIRoot: testRoot, ID: testColl, Title: "C", UnmarkedTLP: stix.TLPRed + 1})
	if err == nil {
		t.Error("PutCollection with an unmarked level above red: no error")
	}
}

// TestMigration3: a database of schema version 2 (versions without tlp,
// heads without below_red, objects_version without tlp) gets red on every
// stored version, in several backfill steps, keeps the tags it had (no
// ceiling tags: every version is red), and gets objects_version_tlp in
// place of objects_version. Pages under a ceiling then work, and versions
// below red pushed afterwards move the ceiling marks of the old versions.
func TestMigration3(t *testing.T) {
	ctx := t.Context()
	srv := mongotest.Start(t)
	db := mongotest.Database(t, srv)
	open := func() *Store {
		s, err := Open(ctx, srv.URI, Options{Database: db})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: testRoot, Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCollection(ctx, collections.Collection{APIRoot: testRoot, ID: testColl, Title: "C"}); err != nil {
		t.Fatal(err)
	}
	// Versions as schema version 2 stored them: no level. a has three
	// versions, b one of STIX 2.0 and one of 2.1, and single versions
	// around them.
	a, b := storetest.NewID("indicator"), storetest.NewID("indicator")
	bv := func(sv string, n int) collections.NewObject {
		return storetest.Object(storetest.STIX{Type: "indicator", ID: b, SpecVersion: sv, Created: at(0), Modified: at(n)})
	}
	var ids []string
	var all []string // "id version" of every version, in date_added order
	for i := range 3 {
		batch := []collections.NewObject{version(a, 10*(i+1))}
		if i < 2 {
			batch = append(batch, bv([]string{"2.0", "2.1"}[i], 10*(i+1)))
		}
		for j := range 3 {
			batch = append(batch, storetest.Object(storetest.STIX{Type: "indicator", Created: at(100 + i*10 + j)}))
		}
		for _, o := range batch {
			id := collections.CanonicalID(o.ID)
			all = append(all, vkey(id, o.Version))
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		push(t, s, batch...)
	}
	objects := s.db.Collection(collObjects)
	if _, err := objects.UpdateMany(ctx, bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "tlp", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Collection(collHeads).UpdateMany(ctx, bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "below_red", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.dropIndexes(ctx, collObjects, []string{ixObjectsVersion}); err != nil {
		t.Fatal(err)
	}
	old := []index{ // as migration 1 made it
		{coll: collObjects, name: "objects_version", keys: bson.D{{Key: "c", Value: 1}, {Key: "v", Value: 1}, {Key: "da", Value: 1}}},
	}
	if err := s.createIndexes(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Collection(collMeta).UpdateOne(ctx, bson.D{{Key: "_id", Value: schemaDoc}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: 2}}}}); err != nil {
		t.Fatal(err)
	}
	tagsBefore := storedTags(t, s)

	prev := backfillBatch
	backfillBatch = 4 // several steps
	t.Cleanup(func() { backfillBatch = prev })
	s2 := open()

	var meta struct {
		Version int `bson:"version"`
	}
	if err := s2.db.Collection(collMeta).FindOne(ctx, bson.D{{Key: "_id", Value: schemaDoc}}).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.Version != len(migrations) || len(migrations) < 3 {
		t.Errorf("schema version %d after Open, %d migrations; want every one, at least 3", meta.Version, len(migrations))
	}
	n, err := objects.CountDocuments(ctx, bson.D{{Key: "tlp", Value: int32(stix.TLPRed)}})
	if err != nil || n != int64(len(all)) {
		t.Errorf("versions at red after migration: %d, %v; want %d", n, err, len(all))
	}
	if diff := gocmp.Diff(tagsBefore, storedTags(t, s2)); diff != "" {
		t.Errorf("tags changed by the migration (-before +after):\n%s", diff)
	}
	key := collDocOf(t, s2).Key
	for _, id := range ids {
		checkConsistent(t, s2, key, id)
	}
	specs, err := objects.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	for _, ix := range objectIndexes {
		if ix.coll == collObjects && !slices.Contains(names, ix.name) {
			t.Errorf("index %s missing after migration 3 (indexes %v)", ix.name, names)
		}
	}
	for _, name := range replacedObjectIndexes {
		if slices.Contains(names, name) {
			t.Errorf("index %s left after migration 3", name)
		}
	}
	everything := collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}}
	for _, q := range []collections.Query{{}, everything, {Versions: collections.VersionFilter{Exact: []time.Time{at(10)}}}} {
		q.MaxTLP = stix.TLPAmberStrict
		if got := keys(t, s2, q); got != nil {
			t.Errorf("versions stored before the migration visible under amber+strict: %v", got)
		}
	}
	latest := keys(t, s2, collections.Query{})
	for _, ceiling := range []stix.TLP{stix.TLPNone, stix.TLPRed} {
		if diff := gocmp.Diff(all, keys(t, s2, collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}, MaxTLP: ceiling})); diff != "" {
			t.Errorf("every version under %v (-want +got):\n%s", ceiling, diff)
		}
		if diff := gocmp.Diff(latest, keys(t, s2, collections.Query{MaxTLP: ceiling})); diff != "" {
			t.Errorf("latest under %v (-without a ceiling +under it):\n%s", ceiling, diff)
		}
	}

	// A green version of a between its red ones, a clear STIX 2.0 version
	// of b: under green they are the objects' only versions, first and
	// last; without a ceiling the red ones stay the last and first.
	push(t, s2, marked(version(a, 25), stix.TLPGreen), marked(bv("2.0", 5), stix.TLPClear))
	for _, tc := range []struct {
		name string
		q    collections.Query
		want []string
	}{
		{"latest under green", collections.Query{MaxTLP: stix.TLPGreen}, []string{vkey(a, at(25)), vkey(b, at(5))}},
		{"first under clear", collections.Query{MaxTLP: stix.TLPClear, Versions: collections.VersionFilter{First: true}}, []string{vkey(b, at(5))}},
		{"latest", collections.Query{IDs: []string{a, b}}, []string{vkey(b, at(20)), vkey(a, at(30))}},
		{"first", collections.Query{IDs: []string{a, b}, Versions: collections.VersionFilter{First: true}}, []string{vkey(a, at(10)), vkey(b, at(20))}},
		{"latest of 2.0", collections.Query{IDs: []string{a, b}, SpecVersions: []string{"2.0"}}, []string{vkey(b, at(10))}},
		{"first of 2.0 under red", collections.Query{IDs: []string{b}, SpecVersions: []string{"2.0"}, Versions: collections.VersionFilter{First: true}, MaxTLP: stix.TLPRed}, []string{vkey(b, at(5))}},
	} {
		if diff := gocmp.Diff(tc.want, keys(t, s2, tc.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	checkConsistent(t, s2, key, a)
	checkConsistent(t, s2, key, b)
}

// storedTags returns the tags of every stored version, by _id.
func storedTags(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	cur, err := s.db.Collection(collObjects).Find(t.Context(), bson.D{}, options.Find().SetProjection(bson.D{{Key: "k", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []objDoc
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]string, len(docs))
	for _, d := range docs {
		out[d.ID] = d.Tags
	}
	return out
}

// TestCeilingPollWhilePushing: a poller under a ceiling, paging while
// another process pushes, receives every visible version exactly once, in
// date_added order, and no hidden one.
func TestCeilingPollWhilePushing(t *testing.T) {
	stores := testStores(t, 2)
	writer, reader := stores[0], stores[1]
	levels := []stix.TLP{stix.TLPRed, stix.TLPGreen, stix.TLPRed, stix.TLPAmberStrict, stix.TLPClear, stix.TLPRed, stix.TLPAmber}
	var want []string
	done := make(chan error, 1)
	var batches [][]collections.NewObject
	for b := range 8 {
		var batch []collections.NewObject
		for i := range 8 {
			o := marked(storetest.Object(storetest.STIX{Type: "indicator", Created: at(b*10 + i)}), levels[(b*8+i)%len(levels)])
			batch = append(batch, o)
			if o.TLP <= stix.TLPAmber {
				want = append(want, vkey(collections.CanonicalID(o.ID), o.Version))
			}
		}
		batches = append(batches, batch)
	}
	go func() {
		for _, batch := range batches {
			if _, err := writer.AddObjects(t.Context(), testRoot, testColl, batch, collections.AddOptions{}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	q := collections.Query{APIRoot: testRoot, Collection: testColl, Limit: 3, MaxTLP: stix.TLPAmber}
	var got []string
	finished := false
	for range 10000 {
		p, err := reader.Objects(t.Context(), q)
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		for _, o := range p.Objects {
			got = append(got, vkey(o.ID, o.Version))
			q.AddedAfter = o.DateAdded
		}
		if p.More && len(p.Objects) != q.Limit {
			t.Fatalf("page of %d with More, want %d", len(p.Objects), q.Limit)
		}
		if len(p.Objects) == 0 && finished {
			break
		}
		if !finished {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("AddObjects: %v", err)
				}
				finished = true
			default:
			}
		}
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("versions polled under amber (-pushed and visible +polled):\n%s", diff)
	}
}
