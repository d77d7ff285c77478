package sqlite_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// TestMarkingsAfterDelete: deleting versions counts their markings out, so
// that a marking referenced only by deleted versions (or only by versions
// above a ceiling now) is no longer listed.
func TestMarkingsAfterDelete(t *testing.T) {
	const (
		green2    = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
		red1      = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
		statement = "marking-definition--0c3f6b8e-5d2a-4f1e-9b7c-3a8d2e6f1b45"
	)
	ctx := t.Context()
	s, c := benchStore(t)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	greenObj := storetest.Marked(storetest.STIX{Type: "tool", Created: at, Modified: at}, stix.TLPNone,
		map[string]any{"object_marking_refs": []string{green2, statement}})
	redObj := storetest.Marked(storetest.STIX{Type: "tool", Created: at, Modified: at}, stix.TLPNone,
		map[string]any{"object_marking_refs": []string{red1, statement}})
	if _, err := s.AddObjects(ctx, c.APIRoot, c.ID, []collections.NewObject{greenObj, redObj}, collections.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	check := func(step string, ceiling stix.TLP, want ...string) {
		t.Helper()
		ms, err := s.Markings(ctx, c.APIRoot, c.ID, ceiling, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.ID)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s, ceiling %q (-want +got):\n%s", step, ceiling, diff)
		}
	}
	check("both stored", stix.TLPGreen, statement, green2)
	check("both stored", stix.TLPNone, statement, red1, green2)
	if _, err := s.DeleteObject(ctx, c.APIRoot, c.ID, greenObj.ID, collections.VersionFilter{All: true}, nil); err != nil {
		t.Fatal(err)
	}
	check("green deleted", stix.TLPGreen)
	check("green deleted", stix.TLPNone, statement, red1)
	if _, err := s.DeleteObject(ctx, c.APIRoot, c.ID, redObj.ID, collections.VersionFilter{All: true}, nil); err != nil {
		t.Fatal(err)
	}
	check("both deleted", stix.TLPNone)
}
