package storetest

// Tests of two handles on one database: what one writes, the other reads
// at once, as replicas on one store do.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
)

var handlesTests = []test{
	{"HandlesPagingWhilePushing", testHandlesPagingWhilePushing},
	{"HandlesVisibilityOrder", testHandlesVisibilityOrder},
	{"HandlesConcurrentVersions", testHandlesConcurrentVersions},
	{"HandlesConcurrentAlias", testHandlesConcurrentAlias},
	{"HandlesShareSettings", testHandlesShareSettings},
	{"HandlesSecret", testHandlesSecret},
}

// Both handles push while a client pages through the second one: it sees
// every version exactly once.
func testHandlesPagingWhilePushing(t *testing.T, s collections.Store, another func() collections.Store) {
	s2 := another()
	pagingWhilePushing(t, newFixture(t, s), []collections.Store{s, s2}, s2)
}

func testHandlesVisibilityOrder(t *testing.T, s collections.Store, another func() collections.Store) {
	f := newFixture(t, s)
	s2 := another()
	visibilityOrder(t, f, []collections.Store{s, s2}, s2)
}

func testHandlesConcurrentVersions(t *testing.T, s collections.Store, another func() collections.Store) {
	f := newFixture(t, s)
	concurrentVersions(t, f, []collections.Store{s, another()})
}

func testHandlesConcurrentAlias(t *testing.T, s collections.Store, another func() collections.Store) {
	if err := s.PutAPIRoot(t.Context(), collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1000}); err != nil {
		t.Fatalf("PutAPIRoot: %v", err)
	}
	concurrentAlias(t, []collections.Store{s, another()})
}

// What one handle writes (roots, collections with their settings,
// statuses) the other reads, also after the first one closes.
func testHandlesShareSettings(t *testing.T, s collections.Store, another func() collections.Store) {
	f := newFixture(t, s)
	s2 := another()
	c := collections.Collection{APIRoot: f.root, ID: "0b6b3c2e-8a1f-4d6e-9b7c-5a4d3e2f1a0b", Alias: "strict",
		Title: "Strict", Validation: "strict", MediaTypes: []string{"application/stix+json;version=2.1"}}
	if err := s.PutCollection(f.ctx, c); err != nil {
		t.Fatalf("PutCollection: %v", err)
	}
	got, err := s2.Collection(f.ctx, c.APIRoot, c.ID)
	if err != nil {
		t.Fatalf("Collection: %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("Collection through the other handle (-want +got):\n%s", diff)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	st := collections.Status{ID: "5c4b3a29-1807-4f6e-8d5c-4b3a29180766", APIRoot: f.root, Collection: f.coll, Owner: "carol",
		Status: collections.StatusPending, RequestTimestamp: now, TotalCount: 2, Expires: now.Add(time.Hour),
		Pendings: []collections.StatusDetail{{ID: "a"}, {ID: "b"}}}
	if err := s2.CreateStatus(f.ctx, st); err != nil {
		t.Fatalf("CreateStatus: %v", err)
	}
	o := Object(STIX{Type: "indicator", Created: ms(0)})
	_, err = s.AddObjects(f.ctx, f.root, f.coll, []collections.NewObject{o},
		collections.AddOptions{Status: &collections.StatusUpdate{APIRoot: f.root, ID: st.ID, Expires: now.Add(time.Hour)}})
	if err != nil {
		t.Fatalf("AddObjects with the other handle's status: %v", err)
	}
	st.Successes = []collections.StatusDetail{{ID: "a", Version: Timestamp(o.Version)}}
	st.Pendings = st.Pendings[1:]
	getStatus(t, s2, st)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	getStatus(t, s2, st)
	p, err := s2.Objects(f.ctx, collections.Query{APIRoot: f.root, Collection: f.coll, Limit: 10})
	if err != nil || len(p.Objects) != 1 || p.Objects[0].ID != o.ID {
		t.Errorf("Objects after the first handle closed = %v, %v; want %s", p.Objects, err, o.ID)
	}
}

// Handles creating one secret at once agree on it.
func testHandlesSecret(t *testing.T, s collections.Store, another func() collections.Store) {
	s2 := another()
	stores := []collections.Store{s, s2}
	got := make([]string, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			v, err := stores[i%2].Secret(t.Context(), "key", func() ([]byte, error) { return []byte(fmt.Sprint("v", i)), nil })
			if err != nil {
				t.Errorf("Secret: %v", err)
			}
			got[i] = string(v)
		})
	}
	wg.Wait()
	for i, g := range got {
		if g != got[0] {
			t.Errorf("Secret through handle %d = %q, through handle 0 %q", i%2, g, got[0])
		}
	}
	for i, h := range stores {
		v, err := h.Secret(t.Context(), "key", func() ([]byte, error) { return []byte("late"), nil })
		if err != nil || string(v) != got[0] {
			t.Errorf("Secret through handle %d later = %q, %v; want %q", i, v, err, got[0])
		}
	}
}
