package main

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTwoProcessesStartOnOneEmptyStore starts two taxiid processes at once
// on one empty data directory, as two replicas of a deployment would: both
// must serve, and both must list the same single default collection.
func TestTwoProcessesStartOnOneEmptyStore(t *testing.T) {
	for round := range 3 {
		dir := t.TempDir()
		var wg sync.WaitGroup
		bases := make([]string, 2)
		errs := make([]error, 2)
		for i := range bases {
			wg.Go(func() {
				_, bases[i], _, errs[i] = launch(t, dir, processEnv(), "--data", "shared")
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: process %d: %v", round, i, err)
			}
		}
		for i, base := range bases {
			cols := getJSON(t, base+"/api1/collections/")["collections"].([]any)
			var ids []string
			for _, c := range cols {
				ids = append(ids, c.(map[string]any)["id"].(string))
			}
			if diff := cmp.Diff([]string{defaultCollectionID}, ids); diff != "" {
				t.Errorf("round %d: process %d collections (-want +got):\n%s", round, i, diff)
			}
		}
	}
}
