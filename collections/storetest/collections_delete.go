package storetest

// Tests of the removal of collections and API roots.

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
)

var collectionsDeleteTests = []test{
	{"DeleteCollection", testDeleteCollection},
	{"DeleteAPIRootThenCreate", testDeleteAPIRootThenCreate},
}

// A deleted collection and its objects are gone for this handle and
// another one; the other collections keep theirs; a collection created
// again with the same id and alias starts empty; an API root is removed
// only once it has no collections.
func testDeleteCollection(t *testing.T, s collections.Store, another func() collections.Store) {
	ctx := t.Context()
	other := another()
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
	r := rand.New(rand.NewPCG(1, 2))
	var keptIDs []string
	for i := range 7 { // more objects than a backend may delete at once
		c := gone
		if i == 0 {
			c = kept
		}
		batch := make([]collections.NewObject, 1000)
		for j := range batch {
			batch[j] = RandomObject(r, ms(i*1000+j), 200)
			if i == 0 {
				keptIDs = append(keptIDs, batch[j].ID)
			}
		}
		_, err := s.AddObjects(ctx, c.APIRoot, c.ID, batch, collections.AddOptions{})
		must(err)
	}
	ids := func(st collections.Store, c collections.Collection) []string {
		t.Helper()
		var out []string
		q := collections.Query{APIRoot: c.APIRoot, Collection: c.ID, Limit: 1000, MetadataOnly: true}
		for {
			p, err := st.Objects(ctx, q)
			must(err)
			for _, o := range p.Objects {
				out = append(out, o.ID)
			}
			if !p.More {
				return out
			}
			q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
		}
	}
	if n := len(ids(other, gone)); n != 6000 {
		t.Fatalf("objects before the deletion, seen by another handle: %d; want 6000", n)
	}

	must(s.DeleteCollection(ctx, gone.APIRoot, gone.ID))
	for name, st := range map[string]collections.Store{"this handle": s, "another handle": other} {
		if _, err := st.Collection(ctx, gone.APIRoot, gone.ID); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("%s: Collection(deleted) = %v; want ErrNotFound", name, err)
		}
		if got := ids(st, gone); len(got) != 0 {
			t.Errorf("%s: %d objects of the deleted collection; want none", name, len(got))
		}
		if diff := cmp.Diff(keptIDs, ids(st, kept)); diff != "" {
			t.Errorf("%s: objects of the other collection (-want +got):\n%s", name, diff)
		}
		// A handle that wrote to the collection before may not write to
		// it after its deletion.
		if _, err := st.AddObjects(ctx, gone.APIRoot, gone.ID, []collections.NewObject{RandomObject(r, ms(0), 200)},
			collections.AddOptions{}); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("%s: AddObjects(deleted collection) = %v; want ErrNotFound", name, err)
		}
	}
	if err := s.DeleteCollection(ctx, gone.APIRoot, gone.ID); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("DeleteCollection(deleted) = %v; want ErrNotFound", err)
	}
	// Its id and alias are free again, and the new collection is empty.
	must(s.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: gone.ID, Alias: "gone", Title: "Again"}))
	if got := ids(other, gone); len(got) != 0 {
		t.Errorf("objects of the collection created again: %d; want none", len(got))
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
	if roots, err := other.APIRoots(ctx); err != nil || len(roots) != 0 {
		t.Errorf("API roots after the deletion = %v, %v; want none", roots, err)
	}
}

// Once a collection and its API root are deleted, handles that read and
// wrote the collection before never see another collection's objects
// under its name (even one created just after), and see the objects of the
// collection when it is created again with the same API root and id.
func testDeleteAPIRootThenCreate(t *testing.T, s collections.Store, another func() collections.Store) {
	ctx := t.Context()
	other := another()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	first := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Title: "First"}
	later := collections.Collection{APIRoot: "api2", ID: "52892447-4d7e-4f70-b94d-d7f22742ff63", Title: "Later"}
	handles := map[string]collections.Store{"this handle": s, "another handle": other}
	ids := func(st collections.Store, c collections.Collection) []string {
		t.Helper()
		p, err := st.Objects(ctx, collections.Query{APIRoot: c.APIRoot, Collection: c.ID, Limit: 100, MetadataOnly: true})
		must(err)
		var out []string
		for _, o := range p.Objects {
			out = append(out, o.ID)
		}
		return out
	}
	add := func(st collections.Store, c collections.Collection, o collections.NewObject) error {
		_, err := st.AddObjects(ctx, c.APIRoot, c.ID, []collections.NewObject{o}, collections.AddOptions{})
		return err
	}

	must(s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}))
	must(s.PutCollection(ctx, first))
	for _, st := range handles { // both handles read and write the collection
		must(add(st, first, Object(STIX{Type: "indicator", Created: ms(1)})))
		ids(st, first)
	}
	must(s.DeleteCollection(ctx, first.APIRoot, first.ID))
	must(s.DeleteAPIRoot(ctx, "api1"))
	must(s.PutAPIRoot(ctx, collections.APIRoot{Path: "api2", Title: "API 2", MaxContentLength: 1 << 20}))
	must(s.PutCollection(ctx, later))
	must(add(s, later, Object(STIX{Type: "indicator", Created: ms(2)})))
	for name, st := range handles {
		if got := ids(st, first); len(got) != 0 {
			t.Errorf("%s: objects under the deleted collection = %v; want none", name, got)
		}
		if err := add(st, first, Object(STIX{Type: "indicator", Created: ms(3)})); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("%s: AddObjects(deleted collection) = %v; want ErrNotFound", name, err)
		}
	}

	must(s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}))
	must(s.PutCollection(ctx, first))
	var want []string
	for name, st := range handles {
		o := Object(STIX{Type: "indicator", Created: ms(4)})
		if err := add(st, first, o); err != nil {
			t.Errorf("%s: AddObjects(collection created again) = %v; want success", name, err)
			continue
		}
		want = append(want, o.ID)
	}
	slices.Sort(want)
	for name, st := range handles {
		got := ids(st, first)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: objects of the collection created again (-want +got):\n%s", name, diff)
		}
	}
}
