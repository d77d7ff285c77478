package mongo

// Tests of what the contract suite cannot reach: the documents a call
// that failed or died leaves behind, and races between handles that only
// a database without transactions can lose.

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/collections"
)

// openMeta opens a store on a fresh database, and a second handle on it.
func openMeta(t *testing.T) (*Store, *Store) {
	s := openHandles(t, 2)
	return s[0], s[1]
}

func mustMeta(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// An aliases document no collection holds (its PutCollection failed or
// died between its steps) blocks the alias only until its claim's
// deadline; one whose collection holds the alias blocks it for good.
func TestAliasLeftOver(t *testing.T) {
	s, _ := openMeta(t)
	ctx := t.Context()
	mustMeta(t, s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "A", MaxContentLength: 1000}))
	holder := collections.Collection{APIRoot: "api1", ID: "11111111-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "held", Title: "H"}
	mustMeta(t, s.PutCollection(ctx, holder))
	renamed := collections.Collection{APIRoot: "api1", ID: "22222222-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "now", Title: "R"}
	mustMeta(t, s.PutCollection(ctx, renamed))

	past, future := time.Now().Add(-time.Minute).UnixMilli(), time.Now().Add(time.Minute).UnixMilli()
	aliases := s.db.Collection(collAliases)
	for _, d := range []aliasDoc{
		{ID: aliasID("api1", "dead"), Coll: "99999999-0d3f-4c59-9a8a-6a3c1f1d2b01", Claim: "x", Until: past},
		{ID: aliasID("api1", "busy"), Coll: "99999999-0d3f-4c59-9a8a-6a3c1f1d2b01", Claim: "x", Until: future},
		// renamed used to be "before" and died before releasing it.
		{ID: aliasID("api1", "before"), Coll: renamed.ID, Claim: "x", Until: past},
	} {
		if _, err := aliases.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	mustMeta(t, aliases.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: aliasID("api1", "held")}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "until", Value: past}}}}).Err())

	for _, tc := range []struct {
		alias string
		want  error
	}{
		{"dead", nil},
		{"busy", collections.ErrConflict},
		{"before", nil},
		{"held", collections.ErrConflict},
	} {
		t.Run(tc.alias, func(t *testing.T) {
			c := collections.Collection{APIRoot: "api1", ID: "33333333-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: tc.alias, Title: "C"}
			err := s.PutCollection(ctx, c)
			if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
				t.Fatalf("PutCollection with alias %q: %v, want %v", tc.alias, err, tc.want)
			}
			if err != nil {
				return
			}
			var d aliasDoc
			mustMeta(t, aliases.FindOne(ctx, bson.D{{Key: "_id", Value: aliasID("api1", tc.alias)}}).Decode(&d))
			var cd collDoc
			mustMeta(t, s.db.Collection(collColls).FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&cd))
			if d.Coll != c.ID || d.Claim != cd.AliasClaim {
				t.Errorf("alias document %+v, want it held by %s under claim %q", d, c.ID, cd.AliasClaim)
			}
		})
	}
	// The collection took "dead", then "before": "dead" is free again,
	// and so nothing else is left of its earlier claims.
	var ids []string
	cur, err := aliases.Find(ctx, bson.D{})
	mustMeta(t, err)
	var docs []aliasDoc
	mustMeta(t, cur.All(ctx, &docs))
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	want := []string{aliasID("api1", "before"), aliasID("api1", "busy"), aliasID("api1", "held"), aliasID("api1", "now")}
	slices.Sort(ids)
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("aliases documents (-want +got):\n%s", diff)
	}
}

// Putting a collection again changes its description only: its key,
// watermark and a writer's lock stay. Deleting it removes its objects and
// heads (by key), not those of another; created
// again, it has a new key.
func TestPutCollectionKeepsWriterState(t *testing.T) {
	s, other := openMeta(t)
	ctx := t.Context()
	mustMeta(t, s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "A", MaxContentLength: 1000}))
	c := collections.Collection{APIRoot: "api1", ID: "11111111-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "a", Title: "C"}
	kept := collections.Collection{APIRoot: "api1", ID: "22222222-0d3f-4c59-9a8a-6a3c1f1d2b01", Title: "K"}
	mustMeta(t, s.PutCollection(ctx, c))
	mustMeta(t, s.PutCollection(ctx, kept))
	d, err := s.collection(ctx, "api1", c.ID)
	mustMeta(t, err)
	kd, err := s.collection(ctx, "api1", kept.ID)
	mustMeta(t, err)
	lock := &writeLock{Token: "t", Until: time.Now().Add(time.Minute).UnixMilli(), IDs: []string{"indicator--x"}}
	_, err = s.db.Collection(collColls).UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "committed", Value: int64(5)}, {Key: "last", Value: int64(7)}, {Key: "lock", Value: lock}}}})
	mustMeta(t, err)

	c.Alias, c.Title, c.MediaTypes = "", "C2", []string{"application/stix+json;version=2.1"}
	mustMeta(t, other.PutCollection(ctx, c))
	got, err := s.collection(ctx, "api1", c.ID)
	mustMeta(t, err)
	want := d
	want.Alias, want.AliasClaim, want.Title, want.MediaTypes = "", "", c.Title, c.MediaTypes
	want.Committed, want.Last = 5, 7
	want.Lock = &writeLock{Token: "t", Until: lock.Until} // the lookup leaves out the lock's ids
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("collection document after PutCollection (-want +got):\n%s", diff)
	}

	const perColl = 50 // objects and heads of each collection
	for _, name := range []string{collObjects, collHeads} {
		var docs []any
		for i := range perColl {
			for _, key := range []string{d.Key, kd.Key} {
				docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("%s\x00%d", key, i)}, {Key: "c", Value: key}})
			}
		}
		_, err := s.db.Collection(name).InsertMany(ctx, docs)
		mustMeta(t, err)
	}
	mustMeta(t, other.DeleteCollection(ctx, "api1", c.ID))
	for _, name := range []string{collObjects, collHeads} {
		for key, want := range map[string]int64{d.Key: 0, kd.Key: perColl} {
			n, err := s.db.Collection(name).CountDocuments(ctx, bson.D{{Key: "c", Value: key}})
			mustMeta(t, err)
			if n != want {
				t.Errorf("%s with c=%s after DeleteCollection: %d, want %d", name, key, n, want)
			}
		}
	}
	mustMeta(t, s.PutCollection(ctx, c))
	again, err := s.collection(ctx, "api1", c.ID)
	mustMeta(t, err)
	if again.Key == d.Key || again.Committed != 0 || again.Last != 0 || again.Lock != nil {
		t.Errorf("collection created again: key %q (was %q), committed %d, last %d, lock %v; want a new key and zeros",
			again.Key, d.Key, again.Committed, again.Last, again.Lock)
	}
}

// An API root deleted while a collection is put in it: whatever the
// interleaving, no collection is left under a missing API root, and each
// call that succeeded did what it said.
func TestDeleteAPIRootRacesPutCollection(t *testing.T) {
	s, other := openMeta(t)
	ctx := t.Context()
	var putWon, deleteWon int
	for i := range 20 {
		mustMeta(t, s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "A", MaxContentLength: 1000}))
		c := collections.Collection{APIRoot: "api1", ID: fmt.Sprintf("%08d-0d3f-4c59-9a8a-6a3c1f1d2b01", i), Alias: fmt.Sprint("a", i), Title: "C"}
		var putErr, delErr error
		var wg sync.WaitGroup
		wg.Go(func() { putErr = s.PutCollection(ctx, c) })
		wg.Go(func() { delErr = other.DeleteAPIRoot(ctx, "api1") })
		wg.Wait()
		if putErr != nil && !errors.Is(putErr, collections.ErrNotFound) {
			t.Fatalf("round %d: PutCollection: %v", i, putErr)
		}
		if delErr != nil && !errors.Is(delErr, collections.ErrConflict) {
			t.Fatalf("round %d: DeleteAPIRoot: %v", i, delErr)
		}
		if putErr == nil && delErr == nil {
			t.Fatalf("round %d: both PutCollection and DeleteAPIRoot succeeded", i)
		}
		ok, err := s.rootExists(ctx, "api1")
		mustMeta(t, err)
		n, err := s.db.Collection(collColls).CountDocuments(ctx, bson.D{{Key: "api_root", Value: "api1"}})
		mustMeta(t, err)
		switch {
		case !ok && n > 0:
			t.Fatalf("round %d: %d collections under a deleted API root", i, n)
		case putErr == nil && n != 1:
			t.Fatalf("round %d: PutCollection succeeded, %d collections", i, n)
		case delErr == nil && ok:
			t.Fatalf("round %d: DeleteAPIRoot succeeded, the API root exists", i)
		}
		if putErr == nil {
			putWon++
			mustMeta(t, s.DeleteCollection(ctx, "api1", c.ID))
		}
		if delErr == nil {
			deleteWon++
		} else {
			mustMeta(t, s.DeleteAPIRoot(ctx, "api1"))
		}
		// A collection that lost leaves no alias behind.
		if n, err := s.db.Collection(collAliases).CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
			t.Fatalf("round %d: %d aliases documents left (%v), want none", i, n, err)
		}
	}
	t.Logf("PutCollection won %d rounds, DeleteAPIRoot %d", putWon, deleteWon)
}
