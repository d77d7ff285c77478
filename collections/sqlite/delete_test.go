package sqlite_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/taxiid/taxiid/collections"
)

// BenchmarkDeleteCollection measures the deletion of a collection of
// 20,000 objects of about 1 KB, in batches; one op is one deletion.
func BenchmarkDeleteCollection(b *testing.B) {
	ctx := b.Context()
	s := open(b, filepath.Join(b.TempDir(), "taxiid.db"))
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		b.Fatal(err)
	}
	c := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Title: "C"}
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		b.StopTimer()
		if err := s.PutCollection(ctx, c); err != nil {
			b.Fatal(err)
		}
		for _, batch := range batches(r, 20, 1000) {
			if _, err := s.AddObjects(ctx, c.APIRoot, c.ID, batch, collections.AddOptions{SkipVersionRules: true}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := s.DeleteCollection(ctx, c.APIRoot, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}
