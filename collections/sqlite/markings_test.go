package sqlite_test

import (
	"context"
	"math/rand/v2"
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

// BenchmarkMarkings measures the markings endpoint's store call on a
// collection of 100,000 versions referencing six marking definitions: one
// op is one Markings call, without a ceiling and under TLP:GREEN, without
// an embargo bound and with bounds: after every version, halfway, before
// the last 1,000 versions (the only ones referencing the sixth marking),
// and before every version (no marking listed).
func BenchmarkMarkings(b *testing.B) {
	const (
		clear2    = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
		green2    = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
		amber2    = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
		red2      = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
		statement = "marking-definition--0c3f6b8e-5d2a-4f1e-9b7c-3a8d2e6f1b45"
		late      = "marking-definition--7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"
		n, batch  = 100, 1000
	)
	ctx := context.Background()
	s, c := benchStore(b)
	levels := []struct {
		tlp  stix.TLP
		mark string
	}{{stix.TLPClear, clear2}, {stix.TLPGreen, green2}, {stix.TLPAmber, amber2}, {stix.TLPRed, red2}}
	var first, half, lastBatch time.Time
	for i, objs := range batches(rand.New(rand.NewPCG(1, 2)), n, batch) {
		for j := range objs {
			l := levels[j%len(levels)]
			objs[j].TLP, objs[j].Markings = l.tlp, []string{l.mark, statement}
			if i == n-1 {
				objs[j].Markings = append(objs[j].Markings, late)
			}
		}
		rs, err := s.AddObjects(ctx, c.APIRoot, c.ID, objs, collections.AddOptions{SkipVersionRules: true})
		if err != nil {
			b.Fatal(err)
		}
		switch i {
		case 0:
			first = rs[0].DateAdded
		case n / 2:
			half = rs[0].DateAdded
		case n - 1:
			lastBatch = rs[0].DateAdded
		}
	}
	for _, ceiling := range []stix.TLP{stix.TLPNone, stix.TLPGreen} {
		for _, bound := range []struct {
			name  string
			until time.Time
		}{
			{"no bound", time.Time{}},
			{"after every version", time.Now()},
			{"halfway", half},
			{"before the last batch", lastBatch.Add(-time.Microsecond)},
			{"before every version", first.Add(-time.Microsecond)},
		} {
			name := "ceiling " + ceiling.String()
			if ceiling == stix.TLPNone {
				name = "no ceiling"
			}
			b.Run(name+"/"+bound.name, func(b *testing.B) {
				var listed int
				for b.Loop() {
					ms, err := s.Markings(ctx, c.APIRoot, c.ID, ceiling, bound.until)
					if err != nil {
						b.Fatal(err)
					}
					listed = len(ms)
				}
				b.ReportMetric(float64(listed), "markings")
			})
		}
	}
}
