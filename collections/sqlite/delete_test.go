package sqlite_test

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/taxiid/taxiid/collections"
)

// TestDeleteCollection: a deleted collection and its objects are gone, for
// this handle and another one on the same file; the other collections keep
// theirs; a collection created again with the same id starts empty; an API
// root is removed only once it has no collections.
func TestDeleteCollection(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "taxiid.db")
	s, other := open(t, path), open(t, path)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}))
	gone := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Alias: "gone", Title: "Gone"}
	kept := collections.Collection{APIRoot: "api1", ID: "52892447-4d7e-4f70-b94d-d7f22742ff63", Title: "Kept"}
	must(s.PutCollection(ctx, gone))
	must(s.PutCollection(ctx, kept))
	// More objects than one deletion batch.
	for i, b := range batches(rand.New(rand.NewPCG(1, 2)), 7, 1000) {
		c := gone
		if i == 0 {
			c = kept
		}
		_, err := s.AddObjects(ctx, c.APIRoot, c.ID, b, collections.AddOptions{SkipVersionRules: true})
		must(err)
	}
	count := func(st collections.Store, c collections.Collection) int {
		t.Helper()
		n := 0
		q := collections.Query{APIRoot: c.APIRoot, Collection: c.ID, Limit: 1000, MetadataOnly: true}
		for {
			p, err := st.Objects(ctx, q)
			must(err)
			n += len(p.Objects)
			if !p.More {
				return n
			}
			q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
		}
	}
	if n := count(other, gone); n != 6000 {
		t.Fatalf("objects before the deletion, seen by another handle: %d; want 6000", n)
	}

	must(s.DeleteCollection(ctx, gone.APIRoot, gone.ID))
	for name, st := range map[string]collections.Store{"this handle": s, "another handle": other} {
		if _, err := st.Collection(ctx, gone.APIRoot, gone.ID); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("%s: Collection(deleted) = %v; want ErrNotFound", name, err)
		}
		if n := count(st, gone); n != 0 {
			t.Errorf("%s: %d objects of the deleted collection; want 0", name, n)
		}
		if n := count(st, kept); n != 1000 {
			t.Errorf("%s: %d objects in the other collection; want 1000", name, n)
		}
	}
	if err := s.DeleteCollection(ctx, gone.APIRoot, gone.ID); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("DeleteCollection(deleted) = %v; want ErrNotFound", err)
	}
	// Its id and alias are free again, and the new collection is empty.
	must(s.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: gone.ID, Alias: "gone", Title: "Again"}))
	if n := count(other, gone); n != 0 {
		t.Errorf("objects of the collection created again: %d; want 0", n)
	}

	if err := s.DeleteAPIRoot(ctx, "api1"); !errors.Is(err, collections.ErrConflict) {
		t.Errorf("DeleteAPIRoot(with collections) = %v; want ErrConflict", err)
	}
	if err := s.DeleteAPIRoot(ctx, "nope"); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("DeleteAPIRoot(missing) = %v; want ErrNotFound", err)
	}
	must(s.DeleteCollection(ctx, "api1", gone.ID))
	must(s.DeleteCollection(ctx, "api1", kept.ID))
	must(s.DeleteAPIRoot(ctx, "api1"))
	roots, err := other.APIRoots(ctx)
	if err != nil || len(roots) != 0 {
		t.Errorf("API roots after the deletion = %v, %v; want none", roots, err)
	}
}

// BenchmarkDeleteCollection measures the deletion of a collection of
// 20,000 objects of about 1 KB, in batches; one op is one deletion.
func BenchmarkDeleteCollection(b *testing.B) {
	ctx := b.Context()
	s := open(b, filepath.Join(b.TempDir(), "taxiid.db"))
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		b.Fatal(err)
	}
	c := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Title: "C"}
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		b.StopTimer()
		if err := s.PutCollection(ctx, c); err != nil {
			b.Fatal(err)
		}
		for _, batch := range batches(r, 20, 1000) {
			if _, err := s.AddObjects(ctx, c.APIRoot, c.ID, batch, collections.AddOptions{SkipVersionRules: true}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := s.DeleteCollection(ctx, c.APIRoot, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}
