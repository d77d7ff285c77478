package mongo_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// BenchmarkAddObjects measures ingest on the test server (the embedded
// FerretDB, which scans: a measure of this store's writes against the same
// server, not of MongoDB): one op is one AddObjects call of 100 objects of
// about 1 KB, at TLP:RED (what an unmarked object is by default) or
// TLP:GREEN. "new": objects not stored before; "versions": a new version
// of each of 100 objects stored with 4 versions at the same level, which
// below TLP:RED reads their versions for the marks under each ceiling.
func BenchmarkAddObjects(b *testing.B) {
	const batch = 100
	for _, bc := range []struct {
		name     string
		tlp      stix.TLP
		versions bool
	}{
		{"new/red", stix.TLPRed, false},
		{"new/green", stix.TLPGreen, false},
		{"versions/red", stix.TLPRed, true},
		{"versions/green", stix.TLPGreen, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, _ := open(b)
			ctx := context.Background()
			const root, coll = "api1", "0b4bb1b4-6a3c-4d3c-9c55-2b33b8b3a1f0"
			if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: root, Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
				b.Fatal(err)
			}
			if err := s.PutCollection(ctx, collections.Collection{APIRoot: root, ID: coll, Title: "C"}); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			objs := make([]collections.NewObject, batch)
			for i := range objs {
				t = t.Add(time.Millisecond)
				objs[i] = storetest.RandomObject(r, t, 1024)
				objs[i].TLP = bc.tlp
			}
			// next returns objs as new objects, or as their next versions.
			next := func() []collections.NewObject {
				out := make([]collections.NewObject, len(objs))
				for i, o := range objs {
					t = t.Add(time.Millisecond)
					if bc.versions {
						o = storetest.Object(storetest.STIX{Type: o.Type, ID: o.ID, Created: o.Created, Modified: t})
					} else {
						o = storetest.RandomObject(r, t, 1024)
					}
					o.TLP = bc.tlp
					out[i] = o
				}
				return out
			}
			if bc.versions {
				for range 4 {
					if _, err := s.AddObjects(ctx, root, coll, next(), collections.AddOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			for b.Loop() {
				b.StopTimer()
				in := next()
				b.StartTimer()
				if _, err := s.AddObjects(ctx, root, coll, in, collections.AddOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
