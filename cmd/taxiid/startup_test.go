package main

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections/sqlite"
)

// TestDeclareDefaultsConcurrently runs the start-up declarations of two
// replicas at once on one empty store, each through its own handle: they
// must end with one API root holding one collection, not one each.
func TestDeclareDefaultsConcurrently(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "taxiid.db")
		var stores [2]*sqlite.Store
		for i := range stores {
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		var wg sync.WaitGroup
		ready := make(chan struct{})
		errs := make([]error, len(stores))
		for i, s := range stores {
			wg.Go(func() {
				<-ready
				errs[i] = declare(ctx, s, FileConfig{})
			})
		}
		close(ready)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: declare of replica %d: %v", round, i, err)
			}
		}

		roots, err := stores[0].APIRoots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, r := range roots {
			paths = append(paths, r.Path)
		}
		if diff := cmp.Diff([]string{"api1"}, paths); diff != "" {
			t.Errorf("round %d: API roots (-want +got):\n%s", round, diff)
		}
		cols, err := stores[0].Collections(ctx, "api1")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range cols {
			ids = append(ids, c.ID+" "+c.Alias)
		}
		if diff := cmp.Diff([]string{defaultCollectionID + " default"}, ids); diff != "" {
			t.Errorf("round %d: collections of api1 (-want +got):\n%s", round, diff)
		}
	}
}
