package mongo

// Tests of the writer lease (lock.go) that need the documents themselves:
// a writer dying mid-batch, a writer overrunning its lease, two processes
// moving the marks of one object.

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/storetest"
)

const (
	testRoot = "api1"
	testColl = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// testStores opens n handles on one new database holding API root
// testRoot with collection testColl.
func testStores(t *testing.T, n int) []*Store {
	t.Helper()
	stores := openHandles(t, n)
	if err := stores[0].PutAPIRoot(t.Context(), collections.APIRoot{Path: testRoot, Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		t.Fatalf("PutAPIRoot: %v", err)
	}
	if err := stores[0].PutCollection(t.Context(), collections.Collection{APIRoot: testRoot, ID: testColl, Title: "C",
		MediaTypes: []string{"application/stix+json;version=2.1"}}); err != nil {
		t.Fatalf("PutCollection: %v", err)
	}
	return stores
}

func push(t *testing.T, s *Store, objs ...collections.NewObject) []collections.AddResult {
	t.Helper()
	res, err := s.AddObjects(t.Context(), testRoot, testColl, objs, collections.AddOptions{})
	if err != nil {
		t.Fatalf("AddObjects: %v", err)
	}
	for i, r := range res {
		if r.Outcome != collections.Added {
			t.Fatalf("AddObjects: object %d: %v (%s), want Added", i, r.Outcome, r.Message)
		}
	}
	return res
}

// keys runs q in the test collection and returns "id version" of each
// object, in order.
func keys(t *testing.T, s *Store, q collections.Query) []string {
	t.Helper()
	q.APIRoot, q.Collection, q.Limit = testRoot, testColl, 1000
	p, err := s.Objects(t.Context(), q)
	if err != nil {
		t.Fatalf("Objects: %v", err)
	}
	var out []string
	for _, o := range p.Objects {
		out = append(out, o.ID+" "+o.Version.Format(time.RFC3339Nano))
	}
	return out
}

func vkey(id string, v time.Time) string { return id + " " + v.Format(time.RFC3339Nano) }

func version(id string, n int) collections.NewObject {
	return storetest.Object(storetest.STIX{Type: "indicator", ID: id, Created: at(0), Modified: at(n)})
}

func collDocOf(t *testing.T, s *Store) collDoc {
	t.Helper()
	c, err := s.collection(t.Context(), testRoot, testColl)
	if err != nil {
		t.Fatalf("collection: %v", err)
	}
	return c
}

// versionDocs returns the stored versions of id (metadata) in date_added
// order.
func versionDocs(t *testing.T, s *Store, key, id string) []*objDoc {
	t.Helper()
	vs, err := s.storedVersions(t.Context(), key, []string{id})
	if err != nil {
		t.Fatalf("stored versions: %v", err)
	}
	return vs[id]
}

// checkConsistent checks that the marks and tags of every version of id
// and its head are what collections.Summarize and SummarizeCeilings
// compute from its versions.
func checkConsistent(t *testing.T, s *Store, key, id string) {
	t.Helper()
	docs := versionDocs(t, s, key, id)
	stored := make([]collections.StoredVersion, len(docs))
	for i, d := range docs {
		var err error
		if stored[i], err = d.storedVersion(); err != nil {
			t.Fatal(err)
		}
	}
	typ, u := collections.SplitID(id)
	var hd headDoc
	err := s.db.Collection(collHeads).FindOne(t.Context(), bson.D{{Key: "_id", Value: headID(key, u, typ)}}).Decode(&hd)
	if len(docs) == 0 {
		if err == nil {
			t.Errorf("%s: head without versions: %+v", id, hd)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: head: %v", id, err)
	}
	got, err := hd.head()
	if err != nil {
		t.Fatal(err)
	}
	want, marks := collections.Summarize(id, got.Created, stored)
	if diff := gocmp.Diff(&want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s: head (-from versions +stored):\n%s", id, diff)
	}
	cms := collections.SummarizeCeilings(stored)
	for i, d := range docs {
		want := versionTags(marks[i], d.SpecVersion, d.TLP, cms[i])
		if collections.Marks(d.Marks) != marks[i] || !sameTags(d.Tags, want) {
			t.Errorf("%s version %s: marks %b tags %v; want %b %v", id, d.Version, d.Marks, d.Tags, marks[i], want)
		}
	}
}

// A writer that died holding the lease, after writing versions above the
// watermark, unmarking the previous latest version and writing heads, is
// rolled back by the next writer: its versions are gone for good, the
// marks and heads of its ids are as before it started.
func TestRollbackOfDeadWriter(t *testing.T) {
	stores := testStores(t, 2)
	s, next := stores[0], stores[1]
	ctx := t.Context()
	a, c := storetest.NewID("indicator"), storetest.NewID("indicator")
	push(t, s, version(a, 10), version(a, 20))
	coll := collDocOf(t, s)
	key, w := coll.Key, coll.Committed

	// The dead writer, through the driver: its lock (expired), a new
	// latest version of a above the watermark with the old one unmarked,
	// a new object c with its head.
	if _, err := s.db.Collection(collColls).UpdateOne(ctx, bson.D{{Key: "_id", Value: testColl}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lock", Value: writeLock{Token: "dead",
			Until: time.Now().Add(-time.Second).UnixMilli(), IDs: []string{a, c}}}}}}); err != nil {
		t.Fatal(err)
	}
	orphan := func(id string, v time.Time, da int64, m collections.Marks) *objDoc {
		return &objDoc{ID: objectID(key, id, versionKey(v)), C: key, OID: id, Type: "indicator", SpecVersion: "2.1",
			Version: versionKey(v), DateAdded: da, Marks: int32(m), Tags: tags(m, "2.1"), Raw: version(id, 30).Raw}
	}
	all := collections.MarkLast | collections.MarkFirst | collections.MarkTopSpec
	if _, err := s.db.Collection(collObjects).InsertMany(ctx, []any{
		orphan(a, at(30), w+1, collections.MarkLast|collections.MarkTopSpec),
		orphan(c, at(30), w+2, all),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Collection(collObjects).UpdateOne(ctx, bson.D{{Key: "_id", Value: objectID(key, a, versionKey(at(20)))}},
		unmarkUpdate(collections.MarkLast, "2.1")); err != nil {
		t.Fatal(err)
	}
	hs := &headSet{byUUID: map[string][]*headEntry{}}
	for _, id := range []string{a, c} {
		h, _ := collections.Summarize(id, at(0), []collections.StoredVersion{
			{SpecVersion: "2.1", Version: at(30), DateAdded: fromMicros(w + 1), Marks: all}})
		e, _ := hs.lookup(id)
		e.stored = true
		hs.set(e, &h)
	}
	if err := s.writeHeads(ctx, key, hs.dirty); err != nil {
		t.Fatal(err)
	}
	// Readers see neither new version; a has no latest one for now.
	if got := keys(t, s, collections.Query{IDs: []string{a, c}, Versions: collections.VersionFilter{All: true}}); !slices.Equal(got, []string{vkey(a, at(10)), vkey(a, at(20))}) {
		t.Fatalf("before the rollback: %v", got)
	}

	// The next writer, another process, rolls back before its own batch.
	b := storetest.NewID("malware")
	res := push(t, next, storetest.Object(storetest.STIX{Type: "malware", ID: b, Created: at(5)}))
	if res[0].DateAdded.UnixMicro() <= w {
		t.Errorf("DateAdded after the rollback %v, not above the watermark %v", res[0].DateAdded, fromMicros(w))
	}
	for _, tc := range []struct {
		q    collections.Query
		want []string
	}{
		{collections.Query{}, []string{vkey(a, at(20)), vkey(b, at(5))}},
		{collections.Query{Versions: collections.VersionFilter{First: true}}, []string{vkey(a, at(10)), vkey(b, at(5))}},
		{collections.Query{IDs: []string{a}}, []string{vkey(a, at(20))}},
		{collections.Query{Types: []string{"indicator"}}, []string{vkey(a, at(20))}},
		{collections.Query{IDs: []string{a, c}, Versions: collections.VersionFilter{All: true}, AllSpecVersions: true},
			[]string{vkey(a, at(10)), vkey(a, at(20))}},
	} {
		if diff := gocmp.Diff(tc.want, keys(t, s, tc.q)); diff != "" {
			t.Errorf("Objects(%+v) after the rollback (-want +got):\n%s", tc.q, diff)
		}
	}
	for _, id := range []string{a, b, c} {
		checkConsistent(t, s, key, id)
	}
	if n, err := s.db.Collection(collObjects).CountDocuments(ctx, bson.D{{Key: "c", Value: key}, {Key: "id", Value: c}}); err != nil || n != 0 {
		t.Errorf("versions of %s left: %d, %v", c, n, err)
	}
	// The versions the dead writer tried are new to the store.
	for _, o := range []collections.NewObject{version(a, 30), version(c, 30)} {
		if r := push(t, s, o); !r[0].DateAdded.After(res[0].DateAdded) {
			t.Errorf("%s pushed again: DateAdded %v, not after %v", o.ID, r[0].DateAdded, res[0].DateAdded)
		}
	}
	if diff := gocmp.Diff([]string{vkey(b, at(5)), vkey(a, at(30)), vkey(c, at(30))}, keys(t, s, collections.Query{})); diff != "" {
		t.Errorf("latest versions at the end (-want +got):\n%s", diff)
	}
	checkConsistent(t, s, key, a)
	checkConsistent(t, s, key, c)
}

// A writer whose lease expired and was taken over cannot publish its batch:
// its commit fails, and what it wrote is never visible.
func TestLateCommitRefused(t *testing.T) {
	stores := testStores(t, 2)
	s, next := stores[0], stores[1]
	ctx := t.Context()
	id := storetest.NewID("indicator")
	push(t, s, version(id, 10))

	coll := collDocOf(t, s)
	l, err := s.acquire(ctx, coll, []string{id})
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	b := &batch{s: s, key: l.coll.Key, byID: map[string]*objDoc{}, byObject: map[string][]*objDoc{}}
	if _, _, err := b.plan(ctx, l, []collections.NewObject{version(id, 20)}, false); err != nil {
		t.Fatal(err)
	}
	if err := b.write(ctx); err != nil {
		t.Fatal(err)
	}
	// The writer overruns its lease; another one takes over.
	if _, err := s.db.Collection(collColls).UpdateOne(ctx, bson.D{{Key: "_id", Value: testColl}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lock.until", Value: time.Now().Add(-time.Second).UnixMilli()}}}}); err != nil {
		t.Fatal(err)
	}
	other := push(t, next, version(id, 15))
	if err := l.commit(ctx, other[0].DateAdded.UnixMicro()+100); !errors.Is(err, errLeaseLost) || !errors.Is(err, collections.ErrUnavailable) {
		t.Errorf("late commit: %v, want the lease lost (ErrUnavailable)", err)
	}
	want := []string{vkey(id, at(10)), vkey(id, at(15))}
	if diff := gocmp.Diff(want, keys(t, s, collections.Query{Versions: collections.VersionFilter{All: true}})); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff([]string{vkey(id, at(15))}, keys(t, s, collections.Query{})); diff != "" {
		t.Errorf("latest (-want +got):\n%s", diff)
	}
	checkConsistent(t, s, l.coll.Key, id)
}

// A writer waits for the lease another holds, up to its deadline, then
// gives up with ErrUnavailable; once the lease is released, it gets it.
func TestWaitForLease(t *testing.T) {
	s := testStores(t, 1)[0]
	ctx := t.Context()
	l, err := s.acquire(ctx, collDocOf(t, s), nil)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	o := version(storetest.NewID("indicator"), 10)
	if _, err := s.AddObjects(short, testRoot, testColl, []collections.NewObject{o}, collections.AddOptions{}); !errors.Is(err, collections.ErrUnavailable) {
		t.Errorf("AddObjects while the lease is held: %v, want ErrUnavailable", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.AddObjects(ctx, testRoot, testColl, []collections.NewObject{o}, collections.AddOptions{})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l.commit(ctx, 0); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("AddObjects after the lease was released: %v", err)
	}
	if diff := gocmp.Diff([]string{vkey(o.ID, at(10))}, keys(t, s, collections.Query{})); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

// Two processes pushing versions of one object at once, in interleaved
// order, and deleting some: every version's marks and tags and the head
// agree with the versions stored, which have exactly one latest and one
// first.
func TestTwoHandlesOneObject(t *testing.T) {
	stores := testStores(t, 2)
	id := storetest.NewID("indicator")
	var wg sync.WaitGroup
	for w := range 4 {
		s := stores[w%2]
		wg.Go(func() {
			for b := range 4 {
				n := 1 + (b*4+w)*2
				if _, err := s.AddObjects(t.Context(), testRoot, testColl,
					[]collections.NewObject{version(id, n+1), version(id, n)}, collections.AddOptions{}); err != nil {
					t.Errorf("AddObjects: %v", err)
					return
				}
				if w == 3 && b%2 == 1 {
					if _, err := s.DeleteObject(t.Context(), testRoot, testColl, id,
						collections.VersionFilter{First: true}, nil); err != nil {
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
	var last, first []string
	for _, d := range docs {
		if slices.Contains(d.Tags, "L") {
			last = append(last, d.Version)
		}
		if slices.Contains(d.Tags, "F") {
			first = append(first, d.Version)
		}
	}
	// Versions 1 to 32, less the two first ones deleted.
	if len(docs) != 30 {
		t.Errorf("%d versions stored, want 30", len(docs))
	}
	oldest := slices.MinFunc(docs, func(a, b *objDoc) int { return cmp.Compare(a.Version, b.Version) })
	if want := versionKey(at(32)); !slices.Equal(last, []string{want}) {
		t.Errorf("latest versions %v, want [%s]", last, want)
	}
	if !slices.Equal(first, []string{oldest.Version}) {
		t.Errorf("first versions %v, want [%s]", first, oldest.Version)
	}
	for _, vf := range []collections.VersionFilter{{}, {First: true}} {
		if got := keys(t, stores[1], collections.Query{Versions: vf}); len(got) != 1 {
			t.Errorf("Objects(%+v) = %v, want one version", vf, got)
		}
	}
}
