package mongo

// Tests of statuses stored in chunks: sizes no single document could
// hold, settling across chunks and from several handles at once, a header
// left behind by a crash, and the removal of expired statuses.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/collections"
)

// pendingStatus returns a status with the given numbers of entries.
func pendingStatus(id string, successes, failures, pendings int, expires time.Time) collections.Status {
	now := time.Now().UTC().Truncate(time.Microsecond)
	st := collections.Status{ID: id, APIRoot: "api1", Collection: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Owner: "o",
		Status: collections.StatusComplete, RequestTimestamp: now, TotalCount: successes + failures + pendings, Expires: expires}
	for i := range successes {
		st.Successes = append(st.Successes, collections.StatusDetail{ID: fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i), Version: "2024-01-01T00:00:00Z"})
	}
	for i := range failures {
		st.Failures = append(st.Failures, collections.StatusDetail{ID: fmt.Sprintf("objects[%d]", i), Message: "not STIX"})
	}
	for i := range pendings {
		st.Pendings = append(st.Pendings, collections.StatusDetail{ID: fmt.Sprintf("tool--%08d-0000-4000-8000-000000000000", i), Message: fmt.Sprint("warnings: ", i)})
	}
	if pendings > 0 {
		st.Status = collections.StatusPending
	}
	return st
}

// added returns n results of added objects, versions from v on, and
// applies them to want as the next pending entries.
func added(want *collections.Status, v time.Time, n int) []collections.AddResult {
	rs := make([]collections.AddResult, n)
	for i := range rs {
		rs[i] = collections.AddResult{Outcome: collections.Added, Version: v.Add(time.Duration(i) * time.Millisecond)}
		if i%3 == 2 {
			rs[i].Outcome = collections.Refused
			rs[i].Message = "refused " + fmt.Sprint(i)
		}
		ok, version, msg := collections.Settle(rs[i])
		d := want.Pendings[i]
		d.Version = version
		if msg != "" {
			d.Message = msg
		}
		if ok {
			want.Successes = append(want.Successes, d)
		} else {
			want.Failures = append(want.Failures, d)
		}
	}
	want.Pendings = want.Pendings[n:]
	if len(want.Pendings) == 0 {
		want.Status = collections.StatusComplete
	}
	return rs
}

// chunksOf returns the chunk documents of a status, every revision.
func chunksOf(t *testing.T, s *Store, st collections.Status) []statusChunk {
	t.Helper()
	h, err := s.readStatusHeader(t.Context(), st.APIRoot, st.ID)
	mustMeta(t, err)
	cur, err := s.db.Collection(collStatusParts).Find(t.Context(), bson.D{{Key: "s", Value: h.EntriesKey}})
	mustMeta(t, err)
	var cs []statusChunk
	mustMeta(t, cur.All(t.Context(), &cs))
	return cs
}

func checkStatus(t *testing.T, s *Store, want collections.Status) {
	t.Helper()
	got, err := s.Status(t.Context(), want.APIRoot, want.ID)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

// A status is stored in chunks and settles batch after batch across them, keeping every entry
// in its order; its chunks never expire before it.
func TestStatusChunks(t *testing.T) {
	s, other := openMeta(t)
	ctx := t.Context()
	expires := time.Now().UTC().Truncate(time.Microsecond).Add(time.Hour)
	st := pendingStatus("2d086da7-4bdc-4f91-900e-d77486753710", 3, 2, chunkEntries+300, expires)
	mustMeta(t, s.CreateStatus(ctx, st))
	if n := len(chunksOf(t, s, st)); n != 2 {
		t.Errorf("%d entries in %d chunks, want 2", st.TotalCount, n)
	}
	want := st
	checkStatus(t, other, want)

	v := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, n := range []int{7, 1000, 1, 292} { // the last ones settle every pending entry
		upd := &collections.StatusUpdate{APIRoot: st.APIRoot, ID: st.ID, Expires: expires.Add(time.Duration(i+1) * time.Hour)}
		handle := []*Store{s, other}[i%2]
		mustMeta(t, handle.beginStatus(ctx, upd, n))
		mustMeta(t, handle.settleStatus(ctx, upd, added(&want, v.Add(time.Duration(i)*time.Hour), n)))
		want.Expires = upd.Expires
		checkStatus(t, s, want)
	}
	if p, err := s.PendingStatuses(ctx, time.Now().Add(time.Hour), 10); err != nil || len(p) != 0 {
		t.Errorf("PendingStatuses of a settled status = %v, %v; want none", p, err)
	}
	upd := &collections.StatusUpdate{APIRoot: st.APIRoot, ID: st.ID, Expires: expires}
	if err := s.beginStatus(ctx, upd, 1); !errors.Is(err, collections.ErrConflict) {
		t.Errorf("beginStatus on a complete status: %v, want ErrConflict", err)
	}
	for _, c := range chunksOf(t, s, st) {
		if c.Expires.Time().Before(want.Expires) {
			t.Errorf("chunk %d expires at %v, before its status (%v)", c.N, c.Expires.Time(), want.Expires)
		}
	}
}

// Handles settling one status at once settle each entry once: none is
// lost or settled twice.
func TestStatusSettleConcurrently(t *testing.T) {
	s, other := openMeta(t)
	ctx := t.Context()
	const workers, each = 4, 25
	// Its pending entries start near the end of the first chunk.
	st := pendingStatus("7b3e1a52-0d4c-4e4e-9f0e-3f5f6a1c2d3e", chunkEntries-each, 0, workers*each, time.Now().Add(time.Hour))
	mustMeta(t, s.CreateStatus(ctx, st))
	var wg sync.WaitGroup
	var want []string
	for w := range workers {
		rs := make([]collections.AddResult, each)
		for i := range rs {
			rs[i] = collections.AddResult{Outcome: collections.Added, Version: time.Date(2024, 1, 1, w, 0, i, 0, time.UTC)}
			_, version, _ := collections.Settle(rs[i])
			want = append(want, version)
		}
		wg.Go(func() {
			upd := &collections.StatusUpdate{APIRoot: st.APIRoot, ID: st.ID, Expires: st.Expires}
			if err := []*Store{s, other}[w%2].settleStatus(ctx, upd, rs); err != nil {
				t.Errorf("settleStatus %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Status(ctx, st.APIRoot, st.ID)
	mustMeta(t, err)
	var versions []string
	for _, d := range got.Successes[chunkEntries-each:] {
		versions = append(versions, d.Version)
	}
	slices.Sort(want)
	slices.Sort(versions)
	if diff := cmp.Diff(want, versions); diff != "" {
		t.Errorf("versions of the settled entries (-want +got):\n%s", diff)
	}
	if got.Status != collections.StatusComplete || len(got.Pendings) != 0 || len(got.Failures) != 0 {
		t.Errorf("status %s with %d pendings and %d failures, want complete and none", got.Status, len(got.Pendings), len(got.Failures))
	}
	if n := len(chunksOf(t, s, st)); n != 2 {
		t.Errorf("%d chunk revisions left, want 2 (older ones deleted)", n)
	}
}

// A process that dies between settling a status's chunks and its header
// leaves a header that counts pendings there are no longer: the status
// reads complete, recovery lists it, and FailPendings fails nothing and
// corrects the header.
func TestStatusHeaderBehind(t *testing.T) {
	s, _ := openMeta(t)
	ctx := t.Context()
	st := pendingStatus("33333333-4bdc-4f91-900e-d77486753710", 1, 0, 3, time.Now().UTC().Truncate(time.Microsecond).Add(time.Hour))
	mustMeta(t, s.CreateStatus(ctx, st))
	want := st
	upd := &collections.StatusUpdate{APIRoot: st.APIRoot, ID: st.ID, Expires: st.Expires}
	rs := added(&want, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 3)
	mustMeta(t, s.settleStatus(ctx, upd, rs))
	// The header as before the settlement.
	_, err := s.db.Collection(collStatuses).UpdateOne(ctx, bson.D{{Key: "_id", Value: statusID(st.APIRoot, st.ID)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "pendings", Value: 3}, {Key: "pending", Value: true}}}})
	mustMeta(t, err)

	checkStatus(t, s, want)
	if err := s.beginStatus(ctx, upd, 1); !errors.Is(err, collections.ErrConflict) {
		t.Errorf("beginStatus: %v, want ErrConflict (no entry is pending)", err)
	}
	p, err := s.PendingStatuses(ctx, time.Now().Add(time.Minute), 10)
	if err != nil || len(p) != 1 || p[0].ID != st.ID {
		t.Fatalf("PendingStatuses = %v, %v; want %s", p, err, st.ID)
	}
	later := want.Expires.Add(time.Hour)
	if n, err := s.FailPendings(ctx, st.APIRoot, st.ID, collections.MsgInterrupted, later); err != nil || n != 0 {
		t.Errorf("FailPendings = %d, %v; want 0", n, err)
	}
	if p, err := s.PendingStatuses(ctx, time.Now().Add(time.Minute), 10); err != nil || len(p) != 0 {
		t.Errorf("PendingStatuses after FailPendings = %v, %v; want none", p, err)
	}
	want.Expires = later
	checkStatus(t, s, want)
}

// Creating a status removes expired ones: headers at once, chunks once
// their own later date has passed; live statuses stay whole.
func TestStatusSweep(t *testing.T) {
	s, _ := openMeta(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	long := pendingStatus("11111111-4bdc-4f91-900e-d77486753710", 1, 1, chunkEntries, now.Add(-chunkExpiryMargin-time.Minute))
	recent := pendingStatus("22222222-4bdc-4f91-900e-d77486753710", 1, 0, 1, now.Add(-time.Second))
	live := pendingStatus("33333333-4bdc-4f91-900e-d77486753710", 2, 0, chunkEntries, now.Add(time.Hour))
	keys := map[string]string{} // status id -> entries key
	for _, st := range []collections.Status{long, recent, live} {
		mustMeta(t, s.CreateStatus(ctx, st))
		h, err := s.readStatusHeader(ctx, st.APIRoot, st.ID)
		mustMeta(t, err)
		keys[st.ID] = h.EntriesKey
	}
	for _, st := range []collections.Status{long, recent} {
		if _, err := s.Status(ctx, st.APIRoot, st.ID); !errors.Is(err, collections.ErrNotFound) {
			t.Errorf("Status(%s) expired: %v, want ErrNotFound", st.ID, err)
		}
	}
	mustMeta(t, s.CreateStatus(ctx, pendingStatus("44444444-4bdc-4f91-900e-d77486753710", 1, 0, 0, now.Add(time.Hour))))
	for _, tc := range []struct {
		st             collections.Status
		header, chunks int64
	}{{long, 0, 0}, {recent, 0, 1}, {live, 1, 2}} {
		h, err := s.db.Collection(collStatuses).CountDocuments(ctx, bson.D{{Key: "_id", Value: statusID(tc.st.APIRoot, tc.st.ID)}})
		mustMeta(t, err)
		c, err := s.db.Collection(collStatusParts).CountDocuments(ctx, bson.D{{Key: "s", Value: keys[tc.st.ID]}})
		mustMeta(t, err)
		if h != tc.header || c != tc.chunks {
			t.Errorf("status %s: %d header, %d chunks; want %d, %d", tc.st.ID, h, c, tc.header, tc.chunks)
		}
	}
	checkStatus(t, s, live)
}

// Chunks close at chunkEntries entries or about chunkBytes of text,
// whichever comes first; entries keep their order and state.
func TestSplitChunks(t *testing.T) {
	big := strings.Repeat("w", chunkBytes/2)
	withBig := pendingStatus("x", 3, 2, 20, time.Time{})
	for _, i := range []int{10, 11, 12} {
		withBig.Pendings[i].Message = big
	}
	for _, tc := range []struct {
		name  string
		st    collections.Status
		sizes []int // entries per chunk
	}{
		{"none", collections.Status{}, nil},
		{"one", pendingStatus("x", 1, 0, 0, time.Time{}), []int{1}},
		{"full", pendingStatus("x", 0, 0, chunkEntries, time.Time{}), []int{chunkEntries}},
		{"by count", pendingStatus("x", 10, 5, 2*chunkEntries, time.Time{}), []int{chunkEntries, chunkEntries, 15}},
		// Entries 15 and 16 are half a chunk's bytes each, with more.
		{"by size", withBig, []int{16, 1, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks := splitChunks("k", tc.st, 0)
			var sizes []int
			var got collections.Status
			for i, c := range chunks {
				sizes = append(sizes, len(c.Entries))
				pending := 0
				for _, e := range c.Entries {
					d := collections.StatusDetail{ID: e.ID, Version: e.Version, Message: e.Message}
					switch e.State {
					case entrySuccess:
						got.Successes = append(got.Successes, d)
					case entryFailure:
						got.Failures = append(got.Failures, d)
					default:
						got.Pendings = append(got.Pendings, d)
						pending++
					}
				}
				if c.N != i || c.Rev != 0 || c.ID != chunkID("k", i, 0) || c.Pending != pending {
					t.Errorf("chunk %d: n %d, rev %d, id %q, %d pending; want %d, 0, %q, %d", i, c.N, c.Rev, c.ID, c.Pending, i, chunkID("k", i, 0), pending)
				}
			}
			if diff := cmp.Diff(tc.sizes, sizes); diff != "" {
				t.Errorf("entries per chunk (-want +got):\n%s", diff)
			}
			want := collections.Status{Successes: tc.st.Successes, Failures: tc.st.Failures, Pendings: tc.st.Pendings}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}
