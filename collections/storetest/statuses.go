package storetest

// Tests of status resources: creation, reading, settling with objects in
// one transaction, pushes left pending.

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taxiid/taxiid/collections"
)

var statusesTests = []test{
	{"Status", on(testStatus)},
	{"StatusWithObjects", on(testStatusWithObjects)},
	{"PendingStatuses", on(testPendingStatuses)},
}

// getStatus reads a status and compares it with want.
func getStatus(t *testing.T, s collections.Store, want collections.Status) {
	t.Helper()
	got, err := s.Status(t.Context(), want.APIRoot, want.ID)
	if err != nil {
		t.Fatalf("Status(%s): %v", want.ID, err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Status(%s) (-want +got):\n%s", want.ID, diff)
	}
}

func testStatus(t *testing.T, s collections.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	st := collections.Status{
		ID: "2d086da7-4bdc-4f91-900e-d77486753710", APIRoot: "api1", Status: collections.StatusPending,
		Collection: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Owner: "alice",
		RequestTimestamp: now.Add(-time.Second), TotalCount: 4,
		Successes: []collections.StatusDetail{{ID: "indicator--c410e480-e42b-47d1-9476-85307c12bcbf", Version: "2018-05-27T12:02:41.312Z"}},
		Failures: []collections.StatusDetail{{ID: "malware--664fa29d-bf65-4f28-a667-bdb76f29ec98", Version: "2018-05-28T14:03:42.543Z", Message: "Unable to process object"},
			{ID: "objects[3]", Message: "not an object"}},
		Pendings: []collections.StatusDetail{{ID: "tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", Message: "warnings: kept"}},
		Expires:  now.Add(time.Hour),
	}
	if _, err := s.Status(ctx, st.APIRoot, st.ID); !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("Status before CreateStatus: %v, want ErrNotFound", err)
	}
	if err := s.CreateStatus(ctx, st); err != nil {
		t.Fatalf("CreateStatus: %v", err)
	}
	getStatus(t, s, st)
	dup := st
	dup.Owner, dup.Pendings = "mallory", nil
	if err := s.CreateStatus(ctx, dup); !errors.Is(err, collections.ErrConflict) {
		t.Errorf("CreateStatus of a taken id: %v, want ErrConflict", err)
	}
	getStatus(t, s, st)

	// The same id in another API root is another status.
	other := st
	other.APIRoot, other.TotalCount, other.Status = "api2", 1, collections.StatusComplete
	other.Successes, other.Failures, other.Pendings = nil, other.Failures[:1], nil
	if err := s.CreateStatus(ctx, other); err != nil {
		t.Fatalf("CreateStatus: %v", err)
	}
	getStatus(t, s, st)
	getStatus(t, s, other)

	expired := st
	expired.ID = "0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"
	expired.Expires = now.Add(-time.Second)
	if err := s.CreateStatus(ctx, expired); err != nil {
		t.Fatalf("CreateStatus: %v", err)
	}
	for _, k := range [][2]string{{"api1", "a5d6a0b4-6c0d-4a9f-8f19-0b9c5d8c7e21"}, {"api3", st.ID}, {"api1", expired.ID}} {
		if _, err := s.Status(ctx, k[0], k[1]); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("Status(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
		if _, err := s.FailPendings(ctx, k[0], k[1], "x", now.Add(time.Hour)); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("FailPendings(%s, %s): %v, want ErrNotFound", k[0], k[1], err)
		}
	}
}

func testStatusWithObjects(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	x := Object(STIX{Type: "indicator", Created: ms(0)})
	f.push(x)
	xc := Object(STIX{Type: "indicator", ID: x.ID, Created: ms(0), Fields: map[string]any{"name": "changed"}})
	a := Object(STIX{Type: "malware", Created: ms(1)})
	b := Object(STIX{Type: "tool", Created: ms(2)})
	c := Object(STIX{Type: "campaign", Created: ms(3)})
	d := Object(STIX{Type: "threat-actor", Created: ms(4)})
	v := func(o collections.NewObject) string { return Timestamp(o.Version) }
	now := time.Now().UTC().Truncate(time.Microsecond)
	st := collections.Status{ID: "7b3e1a52-0d4c-4e4e-9f0e-3f5f6a1c2d3e", APIRoot: f.root, Collection: f.coll, Owner: "bob",
		Status: collections.StatusPending, RequestTimestamp: now, TotalCount: 5,
		Failures: []collections.StatusDetail{{ID: "objects[0]", Message: "not STIX"}},
		Pendings: []collections.StatusDetail{{ID: a.ID, Version: v(a), Message: "warnings: w"}, {ID: x.ID, Version: v(x)},
			{ID: b.ID, Version: v(b)}, {ID: c.ID, Version: v(c)}},
		Expires: now.Add(time.Hour),
	}
	update := func(create bool, expires time.Time) collections.AddOptions {
		u := &collections.StatusUpdate{APIRoot: st.APIRoot, ID: st.ID, Expires: expires}
		if create {
			u.New = &st
		}
		return collections.AddOptions{Status: u}
	}
	addErr := func(objs []collections.NewObject, opts collections.AddOptions, want error) {
		t.Helper()
		if _, err := s.AddObjects(f.ctx, f.root, f.coll, objs, opts); !errors.Is(err, want) {
			t.Errorf("AddObjects: %v, want %v", err, want)
		}
	}
	// A status update on a missing status stores nothing.
	addErr([]collections.NewObject{a}, update(false, now.Add(time.Hour)), collections.ErrNotFound)
	f.check(collections.Query{}, keyOf(x))

	// Entries settle in order, whatever the objects: below, other objects
	// than those named by the entries settle them.
	t.Run("create with the first batch", func(t *testing.T) {
		f.t = t
		st2 := st
		st2.ID = "9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4"
		u := &collections.StatusUpdate{APIRoot: st2.APIRoot, ID: st2.ID, New: &st2, Expires: now.Add(2 * time.Hour)}
		r, err := s.AddObjects(f.ctx, f.root, f.coll, []collections.NewObject{b, xc}, collections.AddOptions{Status: u})
		if err != nil {
			t.Fatalf("AddObjects: %v", err)
		}
		f.added[keyOf(b)] = r[0].DateAdded
		want := st2
		want.Successes = []collections.StatusDetail{{ID: a.ID, Version: v(b), Message: "warnings: w"}}
		want.Failures = append(want.Failures[:1:1], collections.StatusDetail{ID: x.ID, Version: v(x), Message: collections.MsgConflict})
		want.Pendings = st2.Pendings[2:]
		want.Expires = now.Add(2 * time.Hour)
		getStatus(t, s, want)
		// Creating it again fails, and stores nothing.
		addErr([]collections.NewObject{d}, collections.AddOptions{Status: u}, collections.ErrConflict)
		f.check(collections.Query{Types: []string{"threat-actor"}})
	})
	f.t = t

	// st itself, settled in two batches.
	r, err := s.AddObjects(f.ctx, f.root, f.coll, []collections.NewObject{c, xc}, update(true, now.Add(3*time.Hour)))
	if err != nil {
		t.Fatalf("AddObjects: %v", err)
	}
	if r[0].Outcome != collections.Added || r[1].Outcome != collections.Conflict {
		t.Fatalf("outcomes %v %v, want Added Conflict", r[0].Outcome, r[1].Outcome)
	}
	f.added[keyOf(c)] = r[0].DateAdded
	want := st
	want.Successes = []collections.StatusDetail{{ID: a.ID, Version: v(c), Message: "warnings: w"}}
	want.Failures = []collections.StatusDetail{st.Failures[0], {ID: x.ID, Version: v(x), Message: collections.MsgConflict}}
	want.Pendings = st.Pendings[2:]
	want.Expires = now.Add(3 * time.Hour)
	getStatus(t, s, want)

	// More objects than pending entries: nothing is stored.
	addErr([]collections.NewObject{d, x, b}, update(false, now.Add(time.Hour)), collections.ErrConflict)
	f.check(collections.Query{Types: []string{"threat-actor"}})
	getStatus(t, s, want)

	r, err = s.AddObjects(f.ctx, f.root, f.coll, []collections.NewObject{x, d}, update(false, now.Add(4*time.Hour)))
	if err != nil {
		t.Fatalf("AddObjects: %v", err)
	}
	f.added[keyOf(d)] = r[1].DateAdded
	want.Status = collections.StatusComplete
	want.Successes = append(want.Successes,
		collections.StatusDetail{ID: b.ID, Version: v(x), Message: collections.MsgUnchanged},
		collections.StatusDetail{ID: c.ID, Version: v(d)})
	want.Pendings = nil
	want.Expires = now.Add(4 * time.Hour)
	getStatus(t, s, want)
	if n, err := s.FailPendings(f.ctx, st.APIRoot, st.ID, "late", now.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("FailPendings of a complete status = %d, %v; want 0", n, err)
	}
	getStatus(t, s, want)
	addErr([]collections.NewObject{x}, update(false, now.Add(time.Hour)), collections.ErrConflict)
	f.check(collections.Query{Types: []string{"threat-actor"}}, keyOf(d))
}

func testPendingStatuses(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	now := time.Now().UTC().Truncate(time.Microsecond)
	mk := func(id string, pendings int, status string) collections.Status {
		st := collections.Status{ID: id, APIRoot: f.root, Collection: f.coll, Status: status,
			RequestTimestamp: now, TotalCount: pendings + 1, Expires: now.Add(time.Hour),
			Successes: []collections.StatusDetail{{ID: "indicator--c410e480-e42b-47d1-9476-85307c12bcbf"}}}
		if pendings == 0 {
			st.TotalCount = 1
		}
		for range pendings {
			st.Pendings = append(st.Pendings, collections.StatusDetail{ID: NewID("tool"), Message: "warnings: w"})
		}
		if err := s.CreateStatus(f.ctx, st); err != nil {
			t.Fatalf("CreateStatus: %v", err)
		}
		return st
	}
	s1 := mk("11111111-4bdc-4f91-900e-d77486753710", 3, collections.StatusPending)
	mk("22222222-4bdc-4f91-900e-d77486753710", 0, collections.StatusComplete)
	s3 := mk("33333333-4bdc-4f91-900e-d77486753710", 2, collections.StatusPending)
	pending := func(before time.Time, want ...string) {
		t.Helper()
		got, err := s.PendingStatuses(f.ctx, before, 10)
		if err != nil {
			t.Fatalf("PendingStatuses: %v", err)
		}
		var ids []string
		for _, st := range got {
			ids = append(ids, st.ID)
			if st.Collection != f.coll || st.Status != collections.StatusPending || st.TotalCount == 0 {
				t.Errorf("PendingStatuses: %+v, want the status's header", st)
			}
		}
		if diff := cmp.Diff(want, ids, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("PendingStatuses(%v) (-want +got):\n%s", before, diff)
		}
	}
	pending(now.Add(-time.Minute))
	pending(time.Now().Add(time.Minute), s1.ID, s3.ID)

	// Settling part of s3 makes it the most recently written.
	o := Object(STIX{Type: "tool", Created: ms(0)})
	_, err := s.AddObjects(f.ctx, f.root, f.coll, []collections.NewObject{o},
		collections.AddOptions{Status: &collections.StatusUpdate{APIRoot: f.root, ID: s3.ID, Expires: now.Add(time.Hour)}})
	if err != nil {
		t.Fatalf("AddObjects: %v", err)
	}
	pending(time.Now().Add(time.Minute), s1.ID, s3.ID)

	exp := now.Add(2 * time.Hour)
	for _, st := range []collections.Status{s1, s3} {
		n, err := s.FailPendings(f.ctx, st.APIRoot, st.ID, collections.MsgInterrupted, exp)
		want := len(st.Pendings)
		if st.ID == s3.ID {
			want--
		}
		if err != nil || n != want {
			t.Errorf("FailPendings(%s) = %d, %v; want %d", st.ID, n, err, want)
		}
	}
	pending(time.Now().Add(time.Minute))
	want := s3
	want.Status, want.Pendings, want.Expires = collections.StatusComplete, nil, exp
	want.Successes = append(want.Successes, collections.StatusDetail{ID: s3.Pendings[0].ID, Version: Timestamp(o.Version), Message: "warnings: w"})
	want.Failures = []collections.StatusDetail{{ID: s3.Pendings[1].ID, Message: collections.MsgInterrupted}}
	getStatus(t, s, want)
}
