package storetest

// Tests of Watermarks: what a server asks every second to learn which
// collections its waiting requests should look at again.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
)

var watermarksTests = []test{
	{"Watermarks", on(testWatermarks)},
	{"WatermarksOtherHandle", testWatermarksOtherHandle},
}

// testWatermarks: an empty collection has the zero mark; each push that
// adds versions moves it to the DateAdded of the newest; a push that adds
// nothing leaves it; each collection has its own; missing and deleted
// collections are left out; too many ids is ErrInvalid.
func testWatermarks(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	other := "0f2b4c7e-51a8-4c5d-8d3e-6a1f0b9c2d47"
	if err := s.PutCollection(f.ctx, collections.Collection{APIRoot: f.root, ID: other, Title: "O"}); err != nil {
		t.Fatalf("PutCollection: %v", err)
	}
	missing := "5d3c1a2b-7e6f-4a8b-9c0d-1e2f3a4b5c6d"
	marks := func() map[string]time.Time {
		t.Helper()
		m, err := s.Watermarks(f.ctx, []string{f.coll, other, missing})
		if err != nil {
			t.Fatalf("Watermarks: %v", err)
		}
		return m
	}
	if got, want := marks(), map[string]time.Time{f.coll: {}, other: {}}; !cmp.Equal(got, want) {
		t.Errorf("Watermarks of empty collections = %v; want %v", got, want)
	}

	first := Object(STIX{Type: "indicator", Created: ms(1)})
	res := f.push(first, Object(STIX{Type: "indicator", Created: ms(2)}))
	if got, want := marks(), map[string]time.Time{f.coll: res[1].DateAdded, other: {}}; !cmp.Equal(got, want) {
		t.Errorf("Watermarks after a push of 2 = %v; want %v (the newest DateAdded)", got, want)
	}
	f.add(first) // unchanged: nothing becomes visible
	if got, want := marks(), map[string]time.Time{f.coll: res[1].DateAdded, other: {}}; !cmp.Equal(got, want) {
		t.Errorf("Watermarks after a push that added nothing = %v; want %v", got, want)
	}
	res = f.push(Object(STIX{Type: "malware", Created: ms(3)}))
	if got, want := marks(), map[string]time.Time{f.coll: res[0].DateAdded, other: {}}; !cmp.Equal(got, want) {
		t.Errorf("Watermarks after another push = %v; want %v", got, want)
	}
	if got, _ := s.Watermarks(f.ctx, nil); len(got) != 0 {
		t.Errorf("Watermarks(nil) = %v; want none", got)
	}

	if err := s.DeleteCollection(f.ctx, f.root, other); err != nil {
		t.Fatalf("DeleteCollection: %v", err)
	}
	if got, want := marks(), map[string]time.Time{f.coll: res[0].DateAdded}; !cmp.Equal(got, want) {
		t.Errorf("Watermarks after deleting a collection = %v; want %v", got, want)
	}

	many := make([]string, collections.MaxQueryValues+1)
	for i := range many {
		many[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	if _, err := s.Watermarks(f.ctx, many); !errors.Is(err, collections.ErrInvalid) {
		t.Errorf("Watermarks of %d ids: error %v; want ErrInvalid", len(many), err)
	}
	if _, err := s.Watermarks(f.ctx, many[:collections.MaxQueryValues]); err != nil {
		t.Errorf("Watermarks of %d ids: %v", collections.MaxQueryValues, err)
	}
}

// testWatermarksOtherHandle: a push through one handle moves the mark
// another handle reads, at once: that is how the waiting requests of
// every replica learn of it.
func testWatermarksOtherHandle(t *testing.T, s collections.Store, another func() collections.Store) {
	f := newFixture(t, s)
	s2 := another()
	before, err := s2.Watermarks(f.ctx, []string{f.coll})
	if err != nil {
		t.Fatalf("Watermarks: %v", err)
	}
	res := f.push(Object(STIX{Type: "indicator", Created: ms(1)}))
	after, err := s2.Watermarks(f.ctx, []string{f.coll})
	if err != nil {
		t.Fatalf("Watermarks: %v", err)
	}
	if !before[f.coll].IsZero() || !after[f.coll].Equal(res[0].DateAdded) {
		t.Errorf("Watermarks through another handle: %v before the push, %v after; want zero, then %v",
			before[f.coll], after[f.coll], res[0].DateAdded)
	}
}
