package storetest

// Tests of API roots and collections: round trips, validation, conflicts.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/taxiid/taxiid/collections"
)

var rootsCollectionsTests = []test{
	{"APIRoots", on(testAPIRoots)},
	{"Collections", on(testCollections)},
	{"MissingCollection", on(testMissingCollection)},
	{"InvalidRootsAndCollections", on(testInvalidRootsAndCollections)},
	{"CollectionConflicts", on(testCollectionConflicts)},
}

func testAPIRoots(t *testing.T, s collections.Store) {
	ctx := t.Context()
	roots, err := s.APIRoots(ctx)
	if err != nil || len(roots) != 0 {
		t.Fatalf("APIRoots on an empty store = %v, %v; want none", roots, err)
	}
	want := []collections.APIRoot{
		{Path: "a", Title: "A", Description: "first", MaxContentLength: 100},
		{Path: "b", Title: "B", MaxContentLength: 200},
		{Path: "c", Title: "C", Description: "third", MaxContentLength: 300},
	}
	for _, i := range []int{2, 0, 1} {
		if err := s.PutAPIRoot(ctx, want[i]); err != nil {
			t.Fatalf("PutAPIRoot: %v", err)
		}
	}
	want[1] = collections.APIRoot{Path: "b", Title: "B2", Description: "replaced", MaxContentLength: 1}
	if err := s.PutAPIRoot(ctx, want[1]); err != nil {
		t.Fatalf("PutAPIRoot: %v", err)
	}
	roots, err = s.APIRoots(ctx)
	if err != nil {
		t.Fatalf("APIRoots: %v", err)
	}
	if diff := cmp.Diff(want, roots); diff != "" {
		t.Errorf("APIRoots (-want +got):\n%s", diff)
	}
}

func testCollections(t *testing.T, s collections.Store) {
	ctx := t.Context()
	c := collections.Collection{APIRoot: "api1", ID: "5e5a9b4c-0d3f-4c59-9a8a-6a3c1f1d2b01", Title: "x"}
	if _, err := s.Collections(ctx, "api1"); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("Collections of a missing API root: %v, want ErrNotFound", err)
	}
	if err := s.PutCollection(ctx, c); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("PutCollection in a missing API root: %v, want ErrNotFound", err)
	}
	for _, p := range []string{"api1", "api2"} {
		if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: p, Title: p, MaxContentLength: 1000}); err != nil {
			t.Fatalf("PutAPIRoot: %v", err)
		}
	}
	got, err := s.Collections(ctx, "api1")
	if err != nil || len(got) != 0 {
		t.Fatalf("Collections of an empty API root = %v, %v; want none", got, err)
	}

	want := []collections.Collection{
		{APIRoot: "api1", ID: "11111111-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "one", Title: "One",
			Description: "first", MediaTypes: []string{"application/stix+json;version=2.1"}},
		{APIRoot: "api1", ID: "22222222-0d3f-4c59-9a8a-6a3c1f1d2b01", Title: "Two"},
		{APIRoot: "api1", ID: "33333333-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "three", Title: "Three",
			MediaTypes: []string{"application/stix+json;version=2.0", "application/stix+json;version=2.1"},
			Validation: "strict"},
	}
	other := collections.Collection{APIRoot: "api2", ID: "44444444-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "one",
		Title: "Elsewhere, with an alias used in api1", Validation: "permissive"}
	for _, c := range []collections.Collection{want[2], other, want[0], want[1]} {
		if err := s.PutCollection(ctx, c); err != nil {
			t.Fatalf("PutCollection(%s/%s): %v", c.APIRoot, c.ID, err)
		}
	}

	// Objects survive the replacement of their collection.
	f := &fixture{t: t, s: s, ctx: ctx, root: "api1", coll: want[1].ID, added: map[string]time.Time{}}
	o := Object(STIX{Type: "indicator", Created: ms(0), Modified: ms(0)})
	f.push(o)
	want[1].Title, want[1].Description = "Two, replaced", "now described"
	if err := s.PutCollection(ctx, want[1]); err != nil {
		t.Fatalf("PutCollection: %v", err)
	}
	f.check(collections.Query{}, keyOf(o))

	got, err = s.Collections(ctx, "api1")
	if err != nil {
		t.Fatalf("Collections: %v", err)
	}
	opt := cmpopts.EquateEmpty()
	if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("Collections (-want +got):\n%s", diff)
	}
	for _, w := range append(want, other) {
		c, err := s.Collection(ctx, w.APIRoot, w.ID)
		if err != nil {
			t.Fatalf("Collection(%s, %s): %v", w.APIRoot, w.ID, err)
		}
		if diff := cmp.Diff(w, c, opt); diff != "" {
			t.Errorf("Collection(%s, %s) (-want +got):\n%s", w.APIRoot, w.ID, diff)
		}
	}
	for _, k := range [][2]string{{"api1", other.ID}, {"api2", want[1].ID}, {"nope", want[0].ID}} {
		if _, err := s.Collection(ctx, k[0], k[1]); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("Collection(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
	}
}

func testMissingCollection(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	objs := []collections.NewObject{Object(STIX{Type: "indicator", Created: ms(0)})}
	for _, k := range [][2]string{{f.root, "00000000-0000-4000-8000-000000000000"}, {"nope", f.coll}} {
		if _, err := s.AddObjects(f.ctx, k[0], k[1], objs, collections.AddOptions{}); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("AddObjects(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
		p, err := s.Objects(f.ctx, collections.Query{APIRoot: k[0], Collection: k[1], Limit: 10})
		if err != nil || len(p.Objects) != 0 || p.More {
			t.Errorf("Objects(%s, %s) = %+v, %v; want an empty page", k[0], k[1], p, err)
		}
		_, err = s.DeleteObject(f.ctx, k[0], k[1], objs[0].ID, collections.VersionFilter{}, nil)
		if !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("DeleteObject(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
	}
}

func testInvalidRootsAndCollections(t *testing.T, s collections.Store) {
	ctx := t.Context()
	good := collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1000}
	for _, tc := range []struct {
		name string
		root collections.APIRoot
		want []string // a substring of each problem reported
	}{
		{"empty path", collections.APIRoot{Title: "x", MaxContentLength: 1}, []string{`path ""`}},
		{"two segments", collections.APIRoot{Path: "a/b", Title: "x", MaxContentLength: 1}, []string{`path "a/b"`}},
		{"dot dot", collections.APIRoot{Path: "..", Title: "x", MaxContentLength: 1}, []string{`path ".."`}},
		{"space", collections.APIRoot{Path: "a b", Title: "x", MaxContentLength: 1}, []string{`path "a b"`}},
		{"discovery", collections.APIRoot{Path: "taxii2", Title: "x", MaxContentLength: 1}, []string{"taxii2"}},
		{"admin", collections.APIRoot{Path: "admin", Title: "x", MaxContentLength: 1}, []string{"admin is reserved"}},
		{"healthz", collections.APIRoot{Path: "healthz", Title: "x", MaxContentLength: 1}, []string{"healthz is reserved"}},
		{"readyz", collections.APIRoot{Path: "readyz", Title: "x", MaxContentLength: 1}, []string{"readyz is reserved"}},
		{"metrics", collections.APIRoot{Path: "metrics", Title: "x", MaxContentLength: 1}, []string{"metrics is reserved"}},
		{"everything", collections.APIRoot{Path: "x?", MaxContentLength: -1},
			[]string{`path "x?"`, "title is required", "max_content_length must be positive"}},
	} {
		t.Run("root/"+tc.name, func(t *testing.T) {
			checkInvalid(t, tc.root.Validate(), tc.want)
			checkInvalid(t, s.PutAPIRoot(ctx, tc.root), tc.want)
		})
	}
	if roots, err := s.APIRoots(ctx); err != nil || len(roots) != 0 {
		t.Errorf("APIRoots after invalid puts = %v, %v; want none", roots, err)
	}
	if err := s.PutAPIRoot(ctx, good); err != nil {
		t.Fatalf("PutAPIRoot(%+v): %v", good, err)
	}

	valid := collections.Collection{APIRoot: "api1", ID: "6d9a0f64-2ab8-4a5f-8d6d-3f0c1f9a1e11", Title: "C"}
	for _, tc := range []struct {
		name string
		edit func(c *collections.Collection)
		want []string
	}{
		{"upper-case id", func(c *collections.Collection) { c.ID = "6D9A0F64-2AB8-4A5F-8D6D-3F0C1F9A1E11" }, []string{"lowercase UUID"}},
		{"id not a UUID", func(c *collections.Collection) { c.ID = "default" }, []string{`id "default"`}},
		{"alias a UUID", func(c *collections.Collection) { c.Alias = "0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11" }, []string{"not a UUID"}},
		{"alias two segments", func(c *collections.Collection) { c.Alias = "a/b" }, []string{`alias "a/b"`}},
		{"no title", func(c *collections.Collection) { c.Title = "" }, []string{"title is required"}},
		{"validation level", func(c *collections.Collection) { c.Validation = "lenient" }, []string{`"lenient"`}},
		{"media type", func(c *collections.Collection) {
			c.MediaTypes = []string{"application/stix+json;version=2.1", "text/plain"}
		}, []string{`media type "text/plain"`}},
		{"everything", func(c *collections.Collection) { c.ID, c.Title, c.Alias = "x", "", "." },
			[]string{`id "x"`, "title is required", `alias "."`}},
	} {
		t.Run("collection/"+tc.name, func(t *testing.T) {
			c := valid
			tc.edit(&c)
			checkInvalid(t, c.Validate(), tc.want)
			checkInvalid(t, s.PutCollection(ctx, c), tc.want)
		})
	}
	if cs, err := s.Collections(ctx, "api1"); err != nil || len(cs) != 0 {
		t.Errorf("Collections after invalid puts = %v, %v; want none", cs, err)
	}
	if err := valid.Validate(); err != nil {
		t.Errorf("Validate(%+v): %v", valid, err)
	}
}

// checkInvalid checks that err is ErrInvalid and names each problem.
func checkInvalid(t *testing.T, err error, want []string) {
	t.Helper()
	if !errors.Is(err, collections.ErrInvalid) {
		t.Fatalf("error %v, want ErrInvalid", err)
	}
	var ie *collections.InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v is no *InvalidError", err)
	}
	if len(ie.Problems) != len(want) {
		t.Errorf("problems %q, want %d", ie.Problems, len(want))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func testCollectionConflicts(t *testing.T, s collections.Store) {
	ctx := t.Context()
	for _, p := range []string{"api1", "api2"} {
		if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: p, Title: p, MaxContentLength: 1000}); err != nil {
			t.Fatalf("PutAPIRoot: %v", err)
		}
	}
	a := collections.Collection{APIRoot: "api1", ID: "11111111-0d3f-4c59-9a8a-6a3c1f1d2b01", Alias: "shared", Title: "A"}
	b := collections.Collection{APIRoot: "api1", ID: "22222222-0d3f-4c59-9a8a-6a3c1f1d2b01", Title: "B"}
	for _, c := range []collections.Collection{a, b} {
		if err := s.PutCollection(ctx, c); err != nil {
			t.Fatalf("PutCollection(%s): %v", c.ID, err)
		}
	}
	conflicts := []struct {
		name string
		c    collections.Collection
		want string
	}{
		{"alias of another collection", collections.Collection{APIRoot: "api1", ID: b.ID, Alias: "shared", Title: "B"}, a.ID},
		{"new collection, alias taken", collections.Collection{APIRoot: "api1", ID: "33333333-0d3f-4c59-9a8a-6a3c1f1d2b01",
			Alias: "shared", Title: "C"}, a.ID},
		{"id of another API root", collections.Collection{APIRoot: "api2", ID: a.ID, Title: "A again"}, "api1"},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			err := s.PutCollection(ctx, tc.c)
			if !errors.Is(err, collections.ErrConflict) {
				t.Fatalf("PutCollection: %v, want ErrConflict", err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(strings.ToLower(err.Error()), "constraint") {
				t.Errorf("PutCollection: %q, want a message naming %s and no database words", err, tc.want)
			}
		})
	}
	// Nothing changed.
	got, err := s.Collections(ctx, "api1")
	if err != nil {
		t.Fatalf("Collections: %v", err)
	}
	if diff := cmp.Diff([]collections.Collection{a, b}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Collections after conflicts (-want +got):\n%s", diff)
	}
	if got, err := s.Collections(ctx, "api2"); err != nil || len(got) != 0 {
		t.Errorf("Collections(api2) = %v, %v; want none", got, err)
	}
	// Re-putting a collection with its own alias is no conflict, and an
	// alias freed by its collection is free for another.
	if err := s.PutCollection(ctx, a); err != nil {
		t.Errorf("PutCollection of itself: %v", err)
	}
	a.Alias = "renamed"
	b.Alias = "shared"
	for _, c := range []collections.Collection{a, b} {
		if err := s.PutCollection(ctx, c); err != nil {
			t.Errorf("PutCollection(%s, alias %s): %v", c.ID, c.Alias, err)
		}
	}
}
