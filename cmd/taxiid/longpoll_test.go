package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections/mongo/mongotest"
)

// TestParseLongPollFlags checks the flags bounding long-poll, with their
// environment overrides, and the wait the server is given (0 turns it off).
func TestParseLongPollFlags(t *testing.T) {
	type bounds struct {
		MaxWait, ServerWait time.Duration
		MaxWaits, PerUser   int
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		want     bounds
		wantErrs []string
	}{
		{name: "defaults", want: bounds{60 * time.Second, 60 * time.Second, 10000, 100}},
		{name: "flags", args: []string{"--max-wait", "20s", "--max-waits", "50", "--max-waits-per-user", "5"},
			want: bounds{20 * time.Second, 20 * time.Second, 50, 5}},
		{name: "environment", env: map[string]string{"TAXIID_MAX_WAIT": "2m", "TAXIID_MAX_WAITS": "7", "TAXIID_MAX_WAITS_PER_USER": "3"},
			want: bounds{2 * time.Minute, 2 * time.Minute, 7, 3}},
		{name: "off", args: []string{"--max-wait", "0"}, want: bounds{0, -1, 10000, 100}},
		{name: "bad values", args: []string{"--max-wait", "-1s", "--max-waits", "0"},
			wantErrs: []string{"max-wait must be between 0 and 10m0s, not -1s", "max-waits (0) and max-waits-per-user (100) must be at least 1"}},
		{name: "too long", env: map[string]string{"TAXIID_MAX_WAIT": "1h"}, wantErrs: []string{"max-wait must be between 0 and 10m0s, not 1h0m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := parsedFlags(t, tt.args, env(tt.env), tt.wantErrs)
			if !ok {
				return
			}
			got := bounds{cfg.MaxWait, cfg.maxWait(), cfg.MaxWaits, cfg.MaxWaitsPerUser}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("long-poll bounds (-want +got):\n%s", diff)
			}
		})
	}
}

// waitingGet sends GET url with "Prefer: wait=N" and returns its answer on
// the channel: the status, Preference-Applied, the ids of its objects and
// its X-TAXII-Date-Added-Last.
func waitingGet(url string, wait int) <-chan waited {
	out := make(chan waited, 1)
	go func() {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			out <- waited{err: err}
			return
		}
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		req.Header.Set("Prefer", fmt.Sprintf("wait=%d", wait))
		resp, err := (&http.Client{Timeout: time.Duration(wait+10) * time.Second, Transport: asAdmin{http.DefaultTransport}}).Do(req)
		if err != nil {
			out <- waited{err: err}
			return
		}
		defer resp.Body.Close()
		var body struct {
			Objects []struct{ ID string } `json:"objects"`
		}
		w := waited{status: resp.StatusCode, applied: resp.Header.Get("Preference-Applied"), last: resp.Header.Get("X-TAXII-Date-Added-Last")}
		if w.err = json.NewDecoder(resp.Body).Decode(&body); w.err == nil {
			for _, o := range body.Objects {
				w.ids = append(w.ids, o.ID)
			}
		}
		out <- w
	}()
	return out
}

type waited struct {
	status  int
	applied string
	ids     []string
	last    string
	err     error
}

func receiveWaited(t *testing.T, ch <-chan waited, within time.Duration) waited {
	t.Helper()
	select {
	case w := <-ch:
		if w.err != nil {
			t.Fatalf("waiting GET: %v", w.err)
		}
		return w
	case <-time.After(within):
		t.Fatalf("waiting GET: no answer within %v", within)
	}
	return waited{}
}

// TestLongPollTwoProcessesOnMongo: a request waiting on one taxiid process
// is answered with the object pushed through another process on the same
// MongoDB database, long before its wait ends.
func TestLongPollTwoProcessesOnMongo(t *testing.T) {
	srv := mongotest.Start(t)
	db := mongotest.Database(t, srv)
	dir := t.TempDir()
	env, _ := mongoEnv(t, srv.URI, db)
	bases := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range bases {
		wg.Go(func() { _, bases[i], _, errs[i] = launch(t, dir, env) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	a, b := bases[0], bases[1]
	// The request must be waiting when the push lands: should it arrive
	// late (it then finds the object at once, without waiting), push again.
	after := ""
	for attempt := 1; ; attempt++ {
		q := ""
		if after != "" {
			q = "?" + url.Values{"added_after": {after}}.Encode()
		}
		waiting := waitingGet(b+defaultObjects+q, 20)
		time.Sleep(time.Duration(attempt) * 300 * time.Millisecond)
		obj := indicator()
		pushed := time.Now()
		pushObjects(t, a, []map[string]any{obj})
		w := receiveWaited(t, waiting, 30*time.Second)
		if w.applied != "wait" && attempt < 3 {
			after = w.last
			continue
		}
		if w.status != http.StatusOK || w.applied != "wait" || !cmp.Equal(w.ids, []string{obj["id"].(string)}) {
			t.Errorf("waiting GET through the other process = %d, Preference-Applied %q, ids %v; want 200, wait, [%s]",
				w.status, w.applied, w.ids, obj["id"])
		}
		// It asked to wait 20 s: answered this early, the push woke it.
		if since := time.Since(pushed); since > 10*time.Second {
			t.Errorf("waiting GET answered %v after the push through the other process", since)
		}
		return
	}
}

// TestLongPollShutdownProcess: SIGTERM answers a request waiting for new
// objects at once, and the process exits without waiting for its wait.
func TestLongPollShutdownProcess(t *testing.T) {
	cmd, base, log := start(t, t.TempDir())
	waiting := waitingGet(base+defaultObjects, 60)
	time.Sleep(500 * time.Millisecond) // the request waits
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The shutdown grace is 15 s: an answer before it is the release, not
	// the connection cut at its end.
	w := receiveWaited(t, waiting, 14*time.Second)
	if w.status != http.StatusOK || w.applied != "wait" || len(w.ids) != 0 {
		t.Errorf("request waiting at SIGTERM = %d, Preference-Applied %q, ids %v; want 200, wait, none", w.status, w.applied, w.ids)
	}
	exited := make(chan error, 1)
	go func() {
		<-log.done
		exited <- cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; want status 0\n%s", err, log)
		}
	case <-time.After(14 * time.Second):
		t.Fatalf("still running 14 s after SIGTERM\n%s", log)
	}
}
