package taxii_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

// pollServer is a taxiid server on a real listener over a SQLite file that
// other pollServers may share, as replicas share a store.
type pollServer struct {
	*env
	hs *http.Server
}

// startPollServer opens the store at path (creating the API root and the
// collection when setup) and serves it under az.
func startPollServer(t testing.TB, path string, setup bool, az taxii.Authorizer, adjust func(*taxii.Config)) *pollServer {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if setup {
		if err := store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
			t.Fatal(err)
		}
		if err := store.PutCollection(ctx, collections.Collection{
			APIRoot: "api1", ID: collID, Title: "Main", MediaTypes: []string{"application/stix+json;version=2.1"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	ing := collections.NewIngester(store, newValidator(t), collections.IngestConfig{Logger: logger})
	cfg := taxii.Config{
		Store: store, Ingester: ing, Authorizer: az, Logger: logger, PageSize: 5, MaxPageSize: 20,
		// A waiting request has sent nothing and been sent nothing: the
		// transfer deadlines must not cut it, however short.
		TransferGrace: 500 * time.Millisecond,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	srv, err := taxii.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	hs.RegisterOnShutdown(srv.StopWaiting)
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		ing.Wait()
		store.Close()
	})
	tt, _ := t.(*testing.T) // the env's helpers serve tests only
	return &pollServer{env: &env{t: tt, url: "http://" + ln.Addr().String(), store: store, srv: srv}, hs: hs}
}

// polled is the answer to a waiting request.
type polled struct {
	status  int
	applied string // Preference-Applied
	vary    []string
	ids     []string
	took    time.Duration
	err     error
}

// poll sends GET path with the Prefer header given and returns its answer
// on the channel, with the ids of its objects (objects or manifest).
func poll(ctx context.Context, base, path, prefer string) <-chan polled {
	out := make(chan polled, 1)
	go func() {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			out <- polled{err: err}
			return
		}
		req.Header.Set("Accept", taxii.MediaTypeTAXII)
		if prefer != "" {
			req.Header.Set("Prefer", prefer)
		}
		resp, err := pollClient.Do(req)
		if err != nil {
			out <- polled{err: err}
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		p := polled{status: resp.StatusCode, applied: resp.Header.Get("Preference-Applied"), vary: resp.Header.Values("Vary"),
			took: time.Since(start), err: err}
		var body struct {
			Objects []struct{ ID string } `json:"objects"`
		}
		if err == nil {
			p.err = json.Unmarshal(raw, &body)
		}
		for _, o := range body.Objects {
			p.ids = append(p.ids, o.ID)
		}
		out <- p
	}()
	return out
}

// pollClient is the client of the waiting requests: its timeout is above
// every wait the tests ask for.
var pollClient = &http.Client{Timeout: 30 * time.Second}

func receive(t *testing.T, ch <-chan polled) polled {
	t.Helper()
	select {
	case p := <-ch:
		if p.err != nil {
			t.Fatalf("waiting request: %v", p.err)
		}
		return p
	case <-time.After(30 * time.Second):
		t.Fatal("no answer to the waiting request")
	}
	return polled{}
}

// waitFor waits until the server has n waiting requests.
func waitFor(t *testing.T, srv *taxii.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); srv.Waiting() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests waiting; want %d", srv.Waiting(), n)
		}
	}
}

const (
	pollID1   = "indicator--0d5c1f6e-3a7b-4c2d-9e8f-1a2b3c4d5e61"
	pollID2   = "indicator--0d5c1f6e-3a7b-4c2d-9e8f-1a2b3c4d5e62"
	pollGreen = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" // TLP 1.0 GREEN, STIX 2.1 section 7.2.1.4
)

func pollObject(id string, extra ...string) map[string]any {
	o := obj("indicator", id[len("indicator--"):], "2021-01-01T00:00:00.000Z")
	for i := 0; i+1 < len(extra); i += 2 {
		o[extra[i]] = []string{extra[i+1]}
	}
	return o
}

// TestLongPollAcrossServers: requests waiting on one server (objects and
// manifest) are answered with the objects pushed through another server
// on the same store, long before their wait ends; the server asks the
// store once per interval, not per request.
func TestLongPollAcrossServers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxiid.db")
	a := startPollServer(t, path, true, allowAll{}, nil)
	b := startPollServer(t, path, false, allowAll{}, nil)

	objs := poll(t.Context(), b.url, objects, "wait=20")
	mani := poll(t.Context(), b.url, manifest, "respond-async, wait=20")
	waitFor(t, b.srv, 2)
	pushed := time.Now()
	a.push(envelope(pollObject(pollID1)))

	for name, ch := range map[string]<-chan polled{"objects": objs, "manifest": mani} {
		p := receive(t, ch)
		if p.status != http.StatusOK || p.applied != "wait" || !cmp.Equal(p.ids, []string{pollID1}) {
			t.Errorf("waiting GET %s = %d, Preference-Applied %q, ids %v; want 200, wait, [%s]", name, p.status, p.applied, p.ids, pollID1)
		}
		// The wait was 20 s: an answer this early was woken by the push.
		if since := time.Since(pushed); since > 10*time.Second {
			t.Errorf("waiting GET %s answered %v after the push", name, since)
		}
	}

	// Objects there already: answered at once, without the preference
	// applied.
	p := receive(t, poll(t.Context(), b.url, objects, "wait=20"))
	if p.applied != "" || !cmp.Equal(p.ids, []string{pollID1}) {
		t.Errorf("GET with objects to answer: Preference-Applied %q, ids %v; want none, [%s]", p.applied, p.ids, pollID1)
	}
	// RFC 7240 section 2: a response a preference may change says so in
	// Vary, also to a request without Prefer.
	if p := receive(t, poll(t.Context(), b.url, manifest, "")); !slices.Contains(p.vary, "Prefer") {
		t.Errorf("GET manifest without Prefer: Vary %q; want Prefer listed", p.vary)
	}
}

// ceilingReader reads every collection under a TLP:GREEN ceiling (and
// maybe an embargo).
type ceilingReader struct {
	allowAll
	cond authz.Conditions
}

func (r ceilingReader) ReadConditions(context.Context, string, string) (authz.Conditions, bool) {
	return r.cond, true
}

// TestLongPollCeiling: a request of a reader under a TLP:GREEN ceiling is
// woken by a push of an object it may not see (unmarked, hence TLP:RED),
// finds nothing, keeps waiting and is answered empty at the end of its
// wait; one woken by an object it may see gets that object only.
func TestLongPollCeiling(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxiid.db")
	w := startPollServer(t, path, true, allowAll{}, nil)
	r := startPollServer(t, path, false, ceilingReader{cond: authz.Conditions{MaxTLP: stix.TLPGreen}}, nil)

	waiting := poll(t.Context(), r.url, objects, "wait=2")
	waitFor(t, r.srv, 1)
	w.push(envelope(pollObject(pollID1))) // TLP:RED
	p := receive(t, waiting)
	if p.status != http.StatusOK || p.applied != "wait" || len(p.ids) != 0 {
		t.Errorf("waiting GET after a push above the ceiling = %d, Preference-Applied %q, ids %v; want 200, wait, none",
			p.status, p.applied, p.ids)
	}
	if p.took < 2*time.Second {
		t.Errorf("waiting GET answered after %v; want the whole wait of 2s (nothing it may see arrived)", p.took)
	}

	waiting = poll(t.Context(), r.url, objects, "wait=20")
	waitFor(t, r.srv, 1)
	w.push(envelope(pollObject(pollID2, "object_marking_refs", pollGreen)))
	if p := receive(t, waiting); p.applied != "wait" || !cmp.Equal(p.ids, []string{pollID2}) {
		t.Errorf("waiting GET after a TLP:GREEN object = Preference-Applied %q, ids %v; want wait, [%s]", p.applied, p.ids, pollID2)
	}
}

// TestLongPollEmbargo: a request of a reader under an embargo is answered
// when the embargo of the new object ends, within its wait.
func TestLongPollEmbargo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxiid.db")
	w := startPollServer(t, path, true, allowAll{}, nil)
	r := startPollServer(t, path, false, ceilingReader{cond: authz.Conditions{Embargo: time.Second}}, nil)

	waiting := poll(t.Context(), r.url, objects, "wait=20")
	waitFor(t, r.srv, 1)
	pushed := time.Now()
	w.push(envelope(pollObject(pollID1)))
	p := receive(t, waiting)
	if p.applied != "wait" || !cmp.Equal(p.ids, []string{pollID1}) {
		t.Errorf("waiting GET under an embargo = Preference-Applied %q, ids %v; want wait, [%s]", p.applied, p.ids, pollID1)
	}
	if since := time.Since(pushed); since < time.Second || since > 10*time.Second {
		t.Errorf("waiting GET under a 1s embargo answered %v after the push; want once the embargo ended", since)
	}
}

// TestLongPollShutdown: shutting the server down answers waiting requests
// at once, with their empty page.
func TestLongPollShutdown(t *testing.T) {
	s := startPollServer(t, filepath.Join(t.TempDir(), "taxiid.db"), true, allowAll{}, nil)
	waiting := poll(t.Context(), s.url, objects, "wait=60")
	waitFor(t, s.srv, 1)
	// A waiting request holds none of the memory budget of requests (once
	// its first query has ended).
	for deadline := time.Now().Add(5 * time.Second); s.srv.MemoryInUse() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("memory budget held while a request waits: %d bytes; want 0", s.srv.MemoryInUse())
			break
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.hs.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a request waiting 60s: %v; want it answered at once", err)
	}
	if p := receive(t, waiting); p.status != http.StatusOK || len(p.ids) != 0 || p.applied != "wait" {
		t.Errorf("request waiting at shutdown = %d, ids %v, Preference-Applied %q; want 200, none, wait", p.status, p.ids, p.applied)
	}
}

// TestLongPollBounds: beyond the waiting requests a requester (here: an
// address, anonymous) or the server may have, a request is answered at
// once without waiting; one whose client leaves frees its place.
func TestLongPollBounds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(*taxii.Config)
	}{
		{"per user", func(c *taxii.Config) { c.MaxWaitsPerUser = 2 }},
		{"total", func(c *taxii.Config) { c.MaxWaits = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startPollServer(t, filepath.Join(t.TempDir(), "taxiid.db"), true, allowAll{}, tc.config)
			first := poll(t.Context(), s.url, objects, "wait=20")
			leaving, leave := context.WithCancel(t.Context())
			second := poll(leaving, s.url, objects, "wait=20")
			waitFor(t, s.srv, 2)
			p := receive(t, poll(t.Context(), s.url, objects, "wait=20"))
			if p.status != http.StatusOK || p.applied != "" || len(p.ids) != 0 {
				t.Errorf("third waiting GET = %d, Preference-Applied %q, ids %v; want 200 at once, none, none", p.status, p.applied, p.ids)
			}
			leave()
			if p := <-second; !errors.Is(p.err, context.Canceled) {
				t.Errorf("request whose client left: %v; want canceled", p.err)
			}
			waitFor(t, s.srv, 1)
			third := poll(t.Context(), s.url, objects, "wait=20")
			waitFor(t, s.srv, 2)
			s.push(envelope(pollObject(pollID2)))
			for _, ch := range []<-chan polled{first, third} {
				if p := receive(t, ch); p.applied != "wait" || !cmp.Equal(p.ids, []string{pollID2}) {
					t.Errorf("waiting GET = Preference-Applied %q, ids %v; want wait, [%s]", p.applied, p.ids, pollID2)
				}
			}
		})
	}
}

// TestLongPollOff: with long-poll off (a negative MaxWait) a request
// asking to wait is answered at once.
func TestLongPollOff(t *testing.T) {
	s := startPollServer(t, filepath.Join(t.TempDir(), "taxiid.db"), true, allowAll{},
		func(c *taxii.Config) { c.MaxWait = -1 })
	if p := receive(t, poll(t.Context(), s.url, objects, "wait=20")); p.applied != "" || p.took > 10*time.Second {
		t.Errorf("GET with long-poll off: Preference-Applied %q after %v; want none, at once", p.applied, p.took)
	}
}

// slowStore answers Objects after a delay, as a store across a network
// does: the queries of requests woken together overlap.
type slowStore struct {
	collections.Store
	delay    time.Duration
	inFlight atomic.Int64
}

func (s *slowStore) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	time.Sleep(s.delay)
	return s.Store.Objects(ctx, q)
}

// TestLongPollWokenShareQueries: requests woken by one push that ask the
// same query share store calls (thousands of pollers of a feed must not
// cost a query each), and each still gets the page.
func TestLongPollWokenShareQueries(t *testing.T) {
	counted, slow := &countingStore{}, &slowStore{delay: 50 * time.Millisecond}
	s := startPollServer(t, filepath.Join(t.TempDir(), "taxiid.db"), true, allowAll{}, func(c *taxii.Config) {
		slow.Store = c.Store
		counted.Store = slow
		c.Store = counted
	})
	const nObjects, nManifest = 30, 10
	var chans []<-chan polled
	for range nObjects {
		chans = append(chans, poll(t.Context(), s.url, objects, "wait=20"))
	}
	for range nManifest {
		chans = append(chans, poll(t.Context(), s.url, manifest, "wait=20"))
	}
	waitFor(t, s.srv, nObjects+nManifest)
	// Every request has run its first query and waits.
	for deadline := time.Now().Add(10 * time.Second); counted.objects.Load() < nObjects+nManifest || slow.inFlight.Load() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d first queries, %d in flight", counted.objects.Load(), slow.inFlight.Load())
		}
	}
	before := counted.objects.Load()
	s.push(envelope(pollObject(pollID1)))
	for i, ch := range chans {
		if p := receive(t, ch); p.status != http.StatusOK || !cmp.Equal(p.ids, []string{pollID1}) {
			t.Errorf("waiting request %d = %d, ids %v; want 200, [%s]", i, p.status, p.ids, pollID1)
		}
	}
	// Two queries (objects and manifest) woken together: one call each,
	// and a few more for requests that woke after a shared call ended.
	if calls := counted.objects.Load() - before; calls > (nObjects+nManifest)/2 {
		t.Errorf("%d store queries for %d woken requests of two queries; want them shared", calls, nObjects+nManifest)
	}
}
