package collections_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// TestSharingRecordedAtIngest: pushed and imported versions are stored
// with the level their markings say, unmarked ones with the collection's
// unmarked level (red when it has none), and their markings are listed.
func TestSharingRecordedAtIngest(t *testing.T) {
	const (
		amber2 = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
		white1 = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
		red2   = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	obj := func(fields map[string]any) collections.NewObject {
		return storetest.Object(storetest.STIX{Type: "indicator", Created: t0, Modified: t0, Fields: fields})
	}
	unmarked := obj(nil)
	amber := obj(map[string]any{"object_marking_refs": []string{amber2}})
	granular := obj(map[string]any{"object_marking_refs": []string{white1}, "description": "d",
		"granular_markings": []map[string]any{{"marking_ref": red2, "selectors": []string{"description"}}}})
	withheld := obj(map[string]any{"object_marking_refs": []string{white1},
		"granular_markings": []map[string]any{{"marking_ref": amber2, "selectors": []string{"pattern"}}}})
	for _, tc := range []struct {
		name     string
		unmarked stix.TLP
		import_  bool
	}{
		{"push, no unmarked level", stix.TLPNone, false},
		{"push, unmarked green", stix.TLPGreen, false},
		{"import, unmarked clear", stix.TLPClear, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newIngestEnv(t, collections.IngestConfig{})
			c := e.colls[""]
			c.UnmarkedTLP = tc.unmarked
			if err := e.store.PutCollection(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			objs := []json.RawMessage{unmarked.Raw, amber.Raw, granular.Raw, withheld.Raw}
			if tc.import_ {
				if _, err := e.ing.Import(t.Context(), c, objs); err != nil {
					t.Fatal(err)
				}
			} else {
				if _, err := e.ing.Ingest(t.Context(), c, "", objs); err != nil {
					t.Fatal(err)
				}
				e.ing.Wait()
			}
			wantUnmarked := tc.unmarked
			if wantUnmarked == stix.TLPNone {
				wantUnmarked = stix.TLPRed
			}
			want := map[string][2]stix.TLP{
				unmarked.ID: {wantUnmarked, stix.TLPNone},
				amber.ID:    {stix.TLPAmber, stix.TLPNone},
				granular.ID: {stix.TLPClear, stix.TLPRed},
				withheld.ID: {stix.TLPAmber, stix.TLPAmber},
			}
			p, err := e.store.Objects(t.Context(), collections.Query{APIRoot: c.APIRoot, Collection: c.ID, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][2]stix.TLP{}
			for _, o := range p.Objects {
				got[o.ID] = [2]stix.TLP{o.TLP, o.GranularTLP}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stored levels (-want +got):\n%s", diff)
			}
			ms, err := e.store.Markings(t.Context(), c.APIRoot, c.ID, stix.TLPNone, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			wantMs := []collections.Marking{{ID: amber2, TLP: stix.TLPAmber}, {ID: white1, TLP: stix.TLPClear}, {ID: red2, TLP: stix.TLPRed}}
			if diff := cmp.Diff(wantMs, ms); diff != "" {
				t.Errorf("markings (-want +got):\n%s", diff)
			}
		})
	}
}
