package taxii_test

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/taxiid/taxiid/taxii"
)

// TestMemoryBudget: requests hold their share of the memory budget while
// they run, one request at most half of it; a request that does not fit
// waits, then gets a 503 with Retry-After; freed memory serves the next.
func TestMemoryBudget(t *testing.T) {
	t.Parallel()
	const budget = 1 << 20
	e := newEnv(t, options{config: func(c *taxii.Config) { c.MaxMemory = budget }})

	// Two pushes that send their headers and then wait hold the budget:
	// each declares 800,000 bytes and is charged half the budget.
	var stalled []*io.PipeWriter
	var wg sync.WaitGroup
	for i := range 2 {
		pr, pw := io.Pipe()
		stalled = append(stalled, pw)
		req, _ := http.NewRequest("POST", e.url+objects, pr)
		req.ContentLength = 800_000
		req.Header.Set("Accept", taxii.MediaTypeTAXII)
		req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		want := int64(i+1) * budget / 2
		for deadline := time.Now().Add(5 * time.Second); e.srv.MemoryInUse() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("memory in use = %d; want %d after %d stalled pushes", e.srv.MemoryInUse(), want, i+1)
			}
		}
	}

	// Pages and pushes now wait, then are refused.
	var busy sync.WaitGroup
	for _, try := range []func() response{
		func() response { return e.get(objects) },
		func() response { return e.do("POST", objects, nil, []byte(`{"objects":[{}]}`)) },
	} {
		busy.Add(1)
		go func() {
			defer busy.Done()
			r := try()
			r.wantError(t, 503)
			if r.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		}()
	}
	busy.Wait()
	if r := e.get("/taxii2/"); r.status != 200 {
		t.Errorf("discovery while the budget is taken = %d; want 200", r.status)
	}

	// The stalled pushes end; their memory serves the next requests.
	for _, pw := range stalled {
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}
	wg.Wait()
	for deadline := time.Now().Add(5 * time.Second); e.srv.MemoryInUse() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("memory in use = %d after the requests ended; want 0", e.srv.MemoryInUse())
		}
	}
	if r := e.get(objects); r.status != 200 {
		t.Errorf("GET objects after the budget was freed = %d %s", r.status, r.raw)
	}
}
