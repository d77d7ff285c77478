package taxii_test

import (
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPagingWhilePushing pages through a collection, once by following next
// tokens and once by polling with added_after, while several clients push:
// each reader must see every pushed object exactly once.
func TestPagingWhilePushing(t *testing.T) {
	e := newEnv(t, options{})
	const writers, rounds, perEnvelope = 4, 10, 15

	var pushers sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		pushers.Add(1)
		go func() {
			defer pushers.Done()
			for r := range rounds {
				var objs []map[string]any
				for i := range perEnvelope {
					objs = append(objs, obj("indicator", fmt.Sprintf("%08d-0000-4000-8000-%012d", w, r*perEnvelope+i), "2021-01-01T00:00:00.000Z"))
				}
				e.push(envelope(objs...))
			}
		}()
	}
	go func() { pushers.Wait(); close(done) }()

	// read pages until the writers are done and a last pass finds nothing
	// new; withNext follows next tokens, else it polls with added_after.
	read := func(withNext bool) map[string]int {
		seen := map[string]int{}
		addedAfter, next := "", ""
		finished := false
		for {
			q := url.Values{"limit": {"7"}}
			if addedAfter != "" {
				q.Set("added_after", addedAfter)
			}
			if next != "" {
				q.Set("next", next)
			}
			r := e.get(objects + "?" + q.Encode())
			if r.status != 200 {
				t.Errorf("GET = %d %s", r.status, r.raw)
				return seen
			}
			for _, id := range ids(r, "objects") {
				seen[id]++
			}
			if withNext && r.body["more"] == true {
				next = r.body["next"].(string)
				continue
			}
			next = ""
			addedAfter = r.header.Get("X-TAXII-Date-Added-Last")
			if r.body["more"] == true {
				continue
			}
			if finished {
				return seen
			}
			select {
			case <-done:
				finished = true // one more pass after the last push
			default:
			}
		}
	}

	var readers sync.WaitGroup
	results := make([]map[string]int, 2)
	for i, withNext := range []bool{true, false} {
		readers.Add(1)
		go func() { defer readers.Done(); results[i] = read(withNext) }()
	}
	readers.Wait()
	wantSeen := map[string]int{}
	for w := range writers {
		for i := range rounds * perEnvelope {
			wantSeen[fmt.Sprintf("indicator--%08d-0000-4000-8000-%012d@2021-01-01T00:00:00.000Z", w, i)] = 1
		}
	}
	for i, seen := range results {
		if diff := cmp.Diff(wantSeen, seen); diff != "" {
			t.Errorf("reader %d: times each object was seen (-want +got):\n%s", i, diff)
		}
	}
}
