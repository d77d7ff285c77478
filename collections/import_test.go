package collections_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// outcomes lists a status's entries as "success|failure id version
// message", sorted.
func statusOutcomes(st collections.Status) []string {
	var out []string
	for _, d := range st.Successes {
		out = append(out, fmt.Sprintf("success %s %s %s", d.ID, d.Version, d.Message))
	}
	for _, d := range st.Failures {
		out = append(out, fmt.Sprintf("failure %s %s %s", d.ID, d.Version, d.Message))
	}
	slices.Sort(out)
	return out
}

func importOutcomes(rs []collections.ImportResult) []string {
	var out []string
	for _, r := range rs {
		word := "failure"
		if r.Stored() {
			word = "success"
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", word, r.Detail.ID, r.Detail.Version, r.Detail.Message))
	}
	slices.Sort(out)
	return out
}

// storedRaw returns "id version raw" of every version in the collection,
// in the order they were added.
func (e *ingestEnv) storedRaw(t *testing.T, c collections.Collection) []string {
	t.Helper()
	var out []string
	q := collections.Query{APIRoot: c.APIRoot, Collection: c.ID, Limit: 1000,
		Versions: collections.VersionFilter{All: true}, AllSpecVersions: true}
	for {
		p, err := e.store.Objects(t.Context(), q)
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		for _, o := range p.Objects {
			out = append(out, o.ID+" "+stix.FormatTimestamp(o.Version)+" "+string(o.Raw))
		}
		if !p.More {
			return out
		}
		q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
	}
}

// TestImportMatchesIngest: Import decides as a push does, at every
// validation level: the same objects succeed and fail with the same
// messages, and the same versions are stored. Each result is in input
// order, with the reason of a failure.
func TestImportMatchesIngest(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ind := storetest.Object(storetest.STIX{Type: "indicator", Created: t0, Modified: t0})
	other := storetest.Object(storetest.STIX{Type: "indicator", Created: t0, Modified: t0.Add(time.Hour)})
	custom := storetest.Object(storetest.STIX{Type: "indicator", Created: t0, Modified: t0, Fields: map[string]any{"x_score": 5}})
	conflict := storetest.Object(storetest.STIX{Type: "indicator", ID: ind.ID, Created: t0, Modified: t0, Fields: map[string]any{"name": "other"}})
	moved := storetest.Object(storetest.STIX{Type: "indicator", ID: ind.ID, Created: t0.Add(time.Minute), Modified: t0.Add(2 * time.Hour)})
	old := storetest.Object(storetest.STIX{Type: "malware", SpecVersion: "2.0", Created: t0, Modified: t0})
	pushes := [][]json.RawMessage{
		{ind.Raw, json.RawMessage(`{"type":"indicator"}`), other.Raw, custom.Raw},
		{ind.Raw, conflict.Raw, moved.Raw, old.Raw, json.RawMessage(`[]`)},
	}
	// The reasons of the second push, by index, at each level.
	wantReasons := map[string][]string{
		"":           {"", collections.ReasonConflict, collections.ReasonCrossVersion, collections.ReasonSpecVersion, "object"},
		"strict":     {"", collections.ReasonConflict, collections.ReasonCrossVersion, collections.ReasonSpecVersion, "object"},
		"permissive": {"", collections.ReasonConflict, "", collections.ReasonSpecVersion, "object"},
	}
	for _, level := range []string{"", "strict", "permissive"} {
		t.Run("level "+level, func(t *testing.T) {
			e := newIngestEnv(t, collections.IngestConfig{})
			pushed := e.colls[level]
			imported := pushed
			imported.ID = "99999999-2ab8-4a5f-8d6d-3f0c1f9a1e11"
			if err := e.store.PutCollection(t.Context(), imported); err != nil {
				t.Fatal(err)
			}
			var last []collections.ImportResult
			for i, objs := range pushes {
				st, err := e.ing.Ingest(t.Context(), pushed, "", objs)
				if err != nil {
					t.Fatalf("Ingest: %v", err)
				}
				rs, err := e.ing.Import(t.Context(), imported, objs)
				if err != nil {
					t.Fatalf("Import: %v", err)
				}
				if len(rs) != len(objs) {
					t.Fatalf("Import returned %d results for %d objects", len(rs), len(objs))
				}
				if diff := cmp.Diff(statusOutcomes(st), importOutcomes(rs)); diff != "" {
					t.Errorf("push %d: outcomes (-push +import):\n%s", i, diff)
				}
				last = rs
			}
			if diff := cmp.Diff(e.storedRaw(t, pushed), e.storedRaw(t, imported)); diff != "" {
				t.Errorf("stored versions (-pushed +imported):\n%s", diff)
			}
			var reasons []string
			for _, r := range last {
				reasons = append(reasons, r.Reason)
			}
			if diff := cmp.Diff(wantReasons[level], reasons); diff != "" {
				t.Errorf("reasons of the second push (-want +got):\n%s", diff)
			}
			if last[0].Outcome != collections.Unchanged || last[1].Outcome != collections.Conflict {
				t.Errorf("outcomes %v, %v; want the repeated object unchanged and the other content a conflict", last[0].Outcome, last[1].Outcome)
			}
		})
	}
}
