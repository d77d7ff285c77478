package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// TestCeilingsStored: after every add (in batches, several versions of one
// object in a batch included) and every delete, each version's stored
// marks under the ceilings below TLP:RED are what SummarizeCeilings makes
// of the object's versions, and each head's BelowRed what Summarize says:
// the write path keeps them current, recomputing only where the plan asks.
func TestCeilingsStored(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ceilings.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const root, collID = "api1", "a8b4e7c4-6d35-4a4e-8f0e-2b9f1c3d5e70"
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: root, Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCollection(ctx, collections.Collection{APIRoot: root, ID: collID, Title: "C",
		MediaTypes: []string{"application/stix+json;version=2.1"}}); err != nil {
		t.Fatal(err)
	}
	coll, err := s.collection(ctx, s.r, root, collID)
	if err != nil {
		t.Fatal(err)
	}
	// Two types of one UUID (heads rows per type) and two other objects.
	ids := []string{
		"indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11",
		"malware--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11",
		"tool--5c3a9e1d-8f2b-4c6d-9a7e-1b3c5d7e9f02",
		"campaign--7d2e4f6a-1b3c-4d5e-8f9a-0b1c2d3e4f51",
	}
	levels := []stix.TLP{stix.TLPNone, stix.TLPClear, stix.TLPGreen, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(7, 11))
	version := func(id string) collections.NewObject {
		typ, _ := collections.SplitID(id)
		spec := []string{"2.0", "2.1"}[r.IntN(2)]
		o := storetest.Object(storetest.STIX{Type: typ, ID: id, SpecVersion: spec, Created: base,
			Modified: base.Add(time.Duration(1+r.IntN(12)) * time.Second)})
		o.TLP = levels[r.IntN(len(levels))]
		return o
	}
	for step := range 300 {
		id := ids[r.IntN(len(ids))]
		op := "add"
		if r.IntN(5) == 0 {
			op = "delete"
			var f collections.VersionFilter
			var specs []string
			switch r.IntN(4) {
			case 0:
				f.Last = true
			case 1:
				f.First = true
			case 2:
				f.Exact = []time.Time{base.Add(time.Duration(1+r.IntN(12)) * time.Second)}
			case 3:
				specs = []string{"2.0"}
			}
			if _, err := s.DeleteObject(ctx, root, collID, id, f, specs); err != nil && !errors.Is(err, collections.ErrNotFound) {
				t.Fatalf("step %d: DeleteObject: %v", step, err)
			}
		} else {
			batch := []collections.NewObject{version(id)}
			for r.IntN(3) == 0 {
				batch = append(batch, version(ids[r.IntN(len(ids))]))
			}
			if _, err := s.AddObjects(ctx, root, collID, batch, collections.AddOptions{SkipVersionRules: true}); err != nil {
				t.Fatalf("step %d: AddObjects: %v", step, err)
			}
		}
		for _, id := range ids {
			checkCeilings(t, s, coll, id, fmt.Sprintf("step %d (%s)", step, op))
		}
	}
}

// checkCeilings compares the stored ceiling marks of id's versions and its
// head's BelowRed with what the domain computes from the versions.
func checkCeilings(t *testing.T, s *Store, coll int64, id, when string) {
	t.Helper()
	rows, err := s.r.Query("SELECT spec_version, version, date_added, tlp, ceilings FROM objects WHERE coll = ? AND id = ? ORDER BY date_added", coll, idKey(id))
	if err != nil {
		t.Fatal(err)
	}
	var (
		vs     []collections.StoredVersion
		stored []int64
	)
	for rows.Next() {
		var (
			v                collections.StoredVersion
			ver              string
			added, tlp, ceil int64
		)
		if err := rows.Scan(&v.SpecVersion, &ver, &added, &tlp, &ceil); err != nil {
			t.Fatal(err)
		}
		if v.Version, err = parseVersion(ver); err != nil {
			t.Fatal(err)
		}
		v.DateAdded, v.TLP = time.UnixMicro(added).UTC(), stix.TLP(tlp)
		vs = append(vs, v)
		stored = append(stored, ceil)
	}
	rows.Close()
	if len(vs) == 0 {
		return
	}
	var want []int64
	for _, m := range collections.SummarizeCeilings(vs) {
		want = append(want, packCeilings(m))
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Fatalf("%s: ceilings of %s's versions %+v (-want +got):\n%s", when, id, vs, diff)
	}
	typ, u := collections.SplitID(id)
	var summary []byte
	err = s.r.QueryRow(headQuery, coll, u, typ).Scan(&summary)
	if errors.Is(err, sql.ErrNoRows) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	h, err := unpackHead(id, typ, summary)
	if err != nil {
		t.Fatal(err)
	}
	if wantHead, _ := collections.Summarize(id, time.Time{}, vs); h.BelowRed != wantHead.BelowRed {
		t.Fatalf("%s: head of %s BelowRed = %v; its versions %+v say %v", when, id, h.BelowRed, vs, wantHead.BelowRed)
	}
}

// TestHeadFormats: a head packs BelowRed, and a head packed before levels
// (format 1, no flags) still reads, as an object without versions below
// TLP:RED.
func TestHeadFormats(t *testing.T) {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ref := collections.VersionRef{Version: at, DateAdded: at.Add(time.Hour)}
	for _, below := range []bool{false, true} {
		h := collections.Head{ID: "campaign--7d2e4f6a-1b3c-4d5e-8f9a-0b1c2d3e4f51", Type: "campaign", Created: at, BelowRed: below,
			Specs: []collections.SpecRange{{SpecVersion: "2.1", First: ref, Last: ref}}}
		b := packHead(&h)
		got, err := unpackHead(h.ID, h.Type, b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(h, *got); diff != "" {
			t.Errorf("BelowRed %v: round trip (-want +got):\n%s", below, diff)
		}
		old := append([]byte{headFormat1}, b[2:]...)
		if got, err = unpackHead(h.ID, h.Type, old); err != nil || got.BelowRed {
			t.Errorf("format 1 head: %+v, %v; want one without BelowRed", got, err)
		}
		if _, err := unpackHead(h.ID, h.Type, append([]byte{headFormat, 0x80}, b[2:]...)); err == nil {
			t.Error("unknown head flags accepted")
		}
	}
}
