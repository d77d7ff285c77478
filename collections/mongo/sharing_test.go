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

// pageAll reads every page of q (Limit as given) and returns "id version"
// of each object in order; it fails the test if a page but the last is
// not full or More is wrong.
func pageAll(t *testing.T, s *Store, q collections.Query) []string {
	t.Helper()
	q.APIRoot, q.Collection = testRoot, testColl
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

// TestCeilingPages: under a TLP ceiling every page shape returns exactly the
// versions at or below it, in full pages with More exact, across pages;
// versions stored without a level count as red; the levels are returned.
func TestCeilingPages(t *testing.T) {
	s := testStores(t, 1)[0]
	levels := []stix.TLP{stix.TLPRed, stix.TLPClear, stix.TLPAmber, stix.TLPGreen, stix.TLPNone, stix.TLPAmberStrict, stix.TLPRed, stix.TLPRed}
	level := map[string]stix.TLP{} // "id version" -> level pushed
	gran := map[string]stix.TLP{}  // "id version" -> granular level pushed
	var pushed []string            // "id version" in date_added order
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
	}

	// What an unlimited query returns (every shape is tested without a
	// ceiling by the contract tests), and its levels as read.
	unlimited := func(q collections.Query) []string {
		q.APIRoot, q.Collection, q.Limit = testRoot, testColl, 1000
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
	visible := func(keys []string, ceiling stix.TLP) []string {
		var out []string
		for _, k := range keys {
			l := level[k]
			if l == stix.TLPNone {
				l = stix.TLPRed
			}
			if ceiling == stix.TLPNone || l <= ceiling {
				out = append(out, k)
			}
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
		all := unlimited(tc.q)
		if len(all) == 0 {
			t.Fatalf("%s: nothing without a ceiling", tc.name)
		}
		for _, ceiling := range []stix.TLP{stix.TLPClear, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed} {
			q := tc.q
			q.MaxTLP, q.Limit = ceiling, 4
			want := visible(all, ceiling)
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
// the indexes without it) gets red on every stored version, in several
// backfill steps, and the tlp indexes in place of the old ones; pages
// under a ceiling then work.
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
	var ids []string
	for b := range 3 {
		var batch []collections.NewObject
		for i := range 5 {
			o := marked(storetest.Object(storetest.STIX{Type: "indicator", Created: at(b*10 + i)}), stix.TLPGreen)
			batch = append(batch, o)
			ids = append(ids, vkey(collections.CanonicalID(o.ID), o.Version))
		}
		push(t, s, batch...)
	}
	// Back to schema version 2.
	objects := s.db.Collection(collObjects)
	if _, err := objects.UpdateMany(ctx, bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "tlp", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.dropIndexes(ctx, collObjects, []string{ixObjectsTags, ixObjectsTagsType, ixObjectsIDTags, ixObjectsVersion, ixObjectsTLP, ixObjectsType}); err != nil {
		t.Fatal(err)
	}
	ixKeys := func(names ...string) bson.D {
		var d bson.D
		for _, n := range names {
			d = append(d, bson.E{Key: n, Value: 1})
		}
		return d
	}
	old := []index{ // as migration 1 made them
		{coll: collObjects, name: "objects_tags", keys: ixKeys("c", "k", "da")},
		{coll: collObjects, name: "objects_tags_type", keys: ixKeys("c", "k", "t", "da")},
		{coll: collObjects, name: "objects_id_tags", keys: ixKeys("c", "id", "k", "da")},
		{coll: collObjects, name: "objects_version", keys: ixKeys("c", "v", "da")},
		{coll: collObjects, name: "objects_type", keys: ixKeys("c", "t", "da")},
	}
	if err := s.createIndexes(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Collection(collMeta).UpdateOne(ctx, bson.D{{Key: "_id", Value: schemaDoc}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: 2}}}}); err != nil {
		t.Fatal(err)
	}

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
	if meta.Version != len(migrations) || len(migrations) != 3 {
		t.Errorf("schema version %d after Open, %d migrations; want 3", meta.Version, len(migrations))
	}
	n, err := objects.CountDocuments(ctx, bson.D{{Key: "tlp", Value: int32(stix.TLPRed)}})
	if err != nil || n != int64(len(ids)) {
		t.Errorf("versions at red after migration: %d, %v; want %d", n, err, len(ids))
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
	if got := keys(t, s2, collections.Query{MaxTLP: stix.TLPAmberStrict}); got != nil {
		t.Errorf("versions stored before the migration visible under amber+strict: %v", got)
	}
	if diff := gocmp.Diff(ids, keys(t, s2, collections.Query{MaxTLP: stix.TLPRed})); diff != "" {
		t.Errorf("under red (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(ids, keys(t, s2, collections.Query{})); diff != "" {
		t.Errorf("without a ceiling (-want +got):\n%s", diff)
	}
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
