// Package mirrortest is the contract suite of mirror.Store: every backend
// runs it on a store of its own.
package mirrortest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/stix"
)

// RunTests runs the suite; open returns a new, empty store.
func RunTests(t *testing.T, open func(t *testing.T) mirror.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s mirror.Store)
	}{
		{"Sources", testSources},
		{"Lease", testLease},
		{"RecordPage", testRecordPage},
		{"RejectionsBounded", testRejectionsBounded},
		{"DeleteDuringPull", testDeleteDuringPull},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func source(name string) mirror.Source {
	return mirror.Source{Name: name, URL: "https://hub.example/api1/collections/" + name + "/", Username: "u",
		Sealed: []byte{1, 2, 3}, CAFile: "/etc/ca.pem", APIRoot: "api1", Collection: "c-" + name, Direction: mirror.Pull,
		Interval: 90 * time.Second, Created: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testSources(t *testing.T, s mirror.Store) {
	ctx := context.Background()
	for _, n := range []string{"zeta", "alpha", "mid"} {
		must(t, s.CreateSource(ctx, source(n)))
	}
	if err := s.CreateSource(ctx, source("mid")); !errors.Is(err, collections.ErrConflict) {
		t.Errorf("create a taken name: %v, want ErrConflict", err)
	}
	got, err := s.Source(ctx, "alpha")
	must(t, err)
	if diff := cmp.Diff(source("alpha"), got); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
	push := source("pusher")
	push.Direction, push.Sealed, push.AllowHTTP, push.MaxTLP = mirror.Push, nil, true, stix.TLPAmber
	must(t, s.CreateSource(ctx, push))
	got, err = s.Source(ctx, "pusher")
	must(t, err)
	if diff := cmp.Diff(push, got); diff != "" {
		t.Errorf("push source (-want +got):\n%s", diff)
	}
	must(t, s.DeleteSource(ctx, "pusher"))
	all, err := s.Sources(ctx)
	must(t, err)
	var names []string
	for _, src := range all {
		names = append(names, src.Name)
	}
	if diff := cmp.Diff([]string{"alpha", "mid", "zeta"}, names); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	st, err := s.SourceState(ctx, "mid")
	must(t, err)
	if diff := cmp.Diff(mirror.State{}, st); diff != "" {
		t.Errorf("state of a new source (-want +got):\n%s", diff)
	}
	must(t, s.DeleteSource(ctx, "mid"))
	for _, err := range []error{
		s.DeleteSource(ctx, "mid"),
		func() error { _, err := s.Source(ctx, "mid"); return err }(),
		func() error { _, err := s.SourceState(ctx, "mid"); return err }(),
		func() error { _, err := s.AcquireSourceLease(ctx, "mid", "p", time.Now(), time.Minute); return err }(),
	} {
		if !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("deleted source: %v, want ErrNotFound", err)
		}
	}
	// A source created again with the name starts afresh.
	must(t, s.CreateSource(ctx, source("zz")))
	ok, err := s.AcquireSourceLease(ctx, "zz", "p", time.Now(), time.Minute)
	must(t, err)
	if !ok {
		t.Fatal("lease of a new source not given")
	}
	must(t, s.RecordPage(ctx, "zz", "p", mirror.PageRecord{At: time.Now(), Cursor: mirror.Cursor{After: "2026-01-01T00:00:00Z"},
		Batch: mirror.Batch{Objects: 1, Added: 1}, Rejections: []mirror.Rejection{{ID: "x", Reason: "r"}}}))
	must(t, s.DeleteSource(ctx, "zz"))
	must(t, s.CreateSource(ctx, source("zz")))
	st, err = s.SourceState(ctx, "zz")
	must(t, err)
	rej, err := s.Rejections(ctx, "zz", 10)
	must(t, err)
	bat, err := s.Batches(ctx, "zz", 10)
	must(t, err)
	if st != (mirror.State{}) || len(rej) != 0 || len(bat) != 0 {
		t.Errorf("a source created again has the records of the deleted one: %+v %v %v", st, rej, bat)
	}
}

func testLease(t *testing.T, s mirror.Store) {
	ctx := context.Background()
	must(t, s.CreateSource(ctx, source("src")))
	now := time.Now().Truncate(time.Millisecond)
	steps := []struct {
		holder string
		at     time.Time
		want   bool
	}{
		{"a", now, true},
		{"b", now.Add(time.Second), false},      // held by a
		{"a", now.Add(2 * time.Second), true},   // a renews: until now+62s
		{"b", now.Add(61 * time.Second), false}, // still a's after the renewal
		{"b", now.Add(63 * time.Second), true},  // expired: b takes it
		{"a", now.Add(64 * time.Second), false}, // a lost it
		{"b", now.Add(65 * time.Second), true},  // b renews
	}
	for i, st := range steps {
		got, err := s.AcquireSourceLease(ctx, "src", st.holder, st.at, time.Minute)
		must(t, err)
		if got != st.want {
			t.Fatalf("step %d: %s acquires at +%s: %v, want %v", i, st.holder, st.at.Sub(now), got, st.want)
		}
	}
	state, err := s.SourceState(ctx, "src")
	must(t, err)
	if state.Holder != "b" || !state.LeaseUntil.Equal(now.Add(125*time.Second)) {
		t.Errorf("lease %q until %s, want b until %s", state.Holder, state.LeaseUntil, now.Add(125*time.Second))
	}
	// Only the holder releases.
	must(t, s.ReleaseSourceLease(ctx, "src", "a"))
	if got, _ := s.AcquireSourceLease(ctx, "src", "a", now.Add(66*time.Second), time.Minute); got {
		t.Fatal("a released b's lease")
	}
	must(t, s.ReleaseSourceLease(ctx, "src", "b"))
	got, err := s.AcquireSourceLease(ctx, "src", "a", now.Add(67*time.Second), time.Minute)
	must(t, err)
	if !got {
		t.Fatal("a released lease was not given")
	}
}

func testRecordPage(t *testing.T, s mirror.Store) {
	ctx := context.Background()
	must(t, s.CreateSource(ctx, source("src")))
	now := time.Now().UTC().Truncate(time.Millisecond)
	rec := mirror.PageRecord{At: now, Cursor: mirror.Cursor{After: "2026-01-01T00:00:00.5Z", Next: "tok", WalkAfter: "2025-12-31T00:00:00Z"},
		Batch:      mirror.Batch{At: now, First: "2026-01-01T00:00:00Z", Last: "2026-01-01T00:00:00.501Z", Objects: 3, Added: 1, Unchanged: 1, Rejected: 1},
		Rejections: []mirror.Rejection{{At: now, ID: "indicator--1", Version: "2026-01-01T00:00:00Z", Reason: "schema", Message: "bad"}}}
	if err := s.RecordPage(ctx, "src", "p", rec); !errors.Is(err, mirror.ErrLeaseLost) {
		t.Fatalf("record without the lease: %v, want ErrLeaseLost", err)
	}
	if err := s.RecordError(ctx, "src", "p", now, "x"); !errors.Is(err, mirror.ErrLeaseLost) {
		t.Fatalf("record an error without the lease: %v, want ErrLeaseLost", err)
	}
	ok, err := s.AcquireSourceLease(ctx, "src", "p", now, time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("lease not given")
	}
	must(t, s.RecordError(ctx, "src", "p", now, "remote answered 503"))
	must(t, s.RecordPage(ctx, "src", "p", rec))
	st, err := s.SourceState(ctx, "src")
	must(t, err)
	want := mirror.State{Cursor: rec.Cursor, Counters: mirror.Counters{Pages: 1, Objects: 3, Added: 1, Unchanged: 1, Rejected: 1},
		LastPage: now, LastError: "remote answered 503", LastErrorAt: now, Holder: "p", LeaseUntil: now.Add(time.Hour)}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("state after a page (-want +got):\n%s", diff)
	}
	must(t, s.ResetCursor(ctx, "src", "p"))
	later := now.Add(time.Second)
	last := mirror.PageRecord{At: later, Cursor: mirror.Cursor{After: "2026-01-02T00:00:00Z"}, CaughtUp: true,
		Batch: mirror.Batch{At: later, First: "2026-01-01T00:00:01Z", Last: "2026-01-02T00:00:00Z", Objects: 2, Added: 2}}
	must(t, s.RecordPage(ctx, "src", "p", last))
	st, err = s.SourceState(ctx, "src")
	must(t, err)
	want = mirror.State{Cursor: last.Cursor, Counters: mirror.Counters{Pages: 2, Objects: 5, Added: 3, Unchanged: 1, Rejected: 1},
		LastSuccess: later, LastPage: later, Holder: "p", LeaseUntil: now.Add(time.Hour)}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("state after catching up (-want +got):\n%s", diff)
	}
	bat, err := s.Batches(ctx, "src", 10)
	must(t, err)
	if diff := cmp.Diff([]mirror.Batch{last.Batch, rec.Batch}, bat); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	rej, err := s.Rejections(ctx, "src", 10)
	must(t, err)
	if diff := cmp.Diff(rec.Rejections, rej); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	// Another holder's lease, once this one's expired, fences its writes.
	ok, err = s.AcquireSourceLease(ctx, "src", "q", now.Add(2*time.Hour), time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("expired lease not taken over")
	}
	if err := s.RecordPage(ctx, "src", "p", mirror.PageRecord{At: now.Add(2 * time.Hour)}); !errors.Is(err, mirror.ErrLeaseLost) {
		t.Errorf("record by the former holder: %v, want ErrLeaseLost", err)
	}
	if err := s.ResetCursor(ctx, "src", "p"); !errors.Is(err, mirror.ErrLeaseLost) {
		t.Errorf("reset by the former holder: %v, want ErrLeaseLost", err)
	}
}

func testRejectionsBounded(t *testing.T, s mirror.Store) {
	ctx := context.Background()
	must(t, s.CreateSource(ctx, source("src")))
	must(t, s.CreateSource(ctx, source("other")))
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, name := range []string{"src", "other"} {
		ok, err := s.AcquireSourceLease(ctx, name, "p", now, time.Hour)
		must(t, err)
		if !ok {
			t.Fatal("lease not given")
		}
	}
	page := func(from, n int) []mirror.Rejection {
		var out []mirror.Rejection
		for i := from; i < from+n; i++ {
			out = append(out, mirror.Rejection{At: now, ID: fmt.Sprintf("indicator--%05d", i), Reason: "schema"})
		}
		return out
	}
	must(t, s.RecordPage(ctx, "other", "p", mirror.PageRecord{At: now, Rejections: page(90000, 3)}))
	must(t, s.RecordPage(ctx, "src", "p", mirror.PageRecord{At: now, Rejections: page(0, mirror.MaxRejections-10)}))
	must(t, s.RecordPage(ctx, "src", "p", mirror.PageRecord{At: now, Rejections: page(mirror.MaxRejections-10, 25)}))
	got, err := s.Rejections(ctx, "src", 2*mirror.MaxRejections)
	must(t, err)
	if len(got) != mirror.MaxRejections {
		t.Fatalf("%d rejections kept, want %d", len(got), mirror.MaxRejections)
	}
	// Newest first: the last one recorded, down to the MaxRejections-th.
	if first, last := got[0].ID, got[len(got)-1].ID; first != fmt.Sprintf("indicator--%05d", mirror.MaxRejections+14) ||
		last != fmt.Sprintf("indicator--%05d", 15) {
		t.Errorf("kept %s .. %s", first, last)
	}
	other, err := s.Rejections(ctx, "other", 10)
	must(t, err)
	if len(other) != 3 {
		t.Errorf("the bound of one source removed %d of another's 3 rejections", 3-len(other))
	}
}

func testDeleteDuringPull(t *testing.T, s mirror.Store) {
	ctx := context.Background()
	must(t, s.CreateSource(ctx, source("src")))
	now := time.Now()
	ok, err := s.AcquireSourceLease(ctx, "src", "p", now, time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("lease not given")
	}
	must(t, s.DeleteSource(ctx, "src"))
	if err := s.RecordPage(ctx, "src", "p", mirror.PageRecord{At: now}); !errors.Is(err, mirror.ErrLeaseLost) {
		t.Errorf("record a page of a deleted source: %v, want ErrLeaseLost", err)
	}
	if _, err := s.Batches(ctx, "src", 10); err != nil {
		t.Errorf("batches of a deleted source: %v", err)
	}
}
