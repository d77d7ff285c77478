package webhook_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/stix"
)

const (
	root = "api1"
	coll = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	org  = "org-1"
)

// env is a store with one collection, a subscription service, and the
// conditions each organization reads under (an organization not in the
// map may not read).
type env struct {
	t     testing.TB
	path  string
	store *sqlite.Store
	svc   *webhook.Service
	guard *webhook.Guard
	pool  *x509.CertPool

	mu    sync.Mutex
	conds map[string]webhook.Conditions
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "taxiid.db"), conds: map[string]webhook.Conditions{org: {}},
		pool: x509.NewCertPool(), guard: &webhook.Guard{}}
	e.open()
	ctx := t.Context()
	if err := e.store.PutAPIRoot(ctx, collections.APIRoot{Path: root, Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutCollection(ctx, collections.Collection{APIRoot: root, ID: coll, Title: "C"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// open (re)opens the store and the service on it.
func (e *env) open() {
	e.t.Helper()
	s, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	e.store = s
	key, err := s.Secret(context.Background(), webhook.SealKeyName, webhook.NewSealKey)
	if err != nil {
		e.t.Fatal(err)
	}
	sealer, err := webhook.NewSealer(key)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc = &webhook.Service{Store: s, Objects: s, Sealer: sealer, Guard: e.guard, Access: e.access}
}

func (e *env) access(_ context.Context, o, r, c string) (webhook.Conditions, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cond, ok := e.conds[o]
	return cond, ok && r == root && c == coll
}

// push adds objects of the given TLP levels and returns their ids.
func (e *env) push(levels ...stix.TLP) []string {
	e.t.Helper()
	var objs []collections.NewObject
	var ids []string
	for _, l := range levels {
		o := storetest.Object(storetest.STIX{Type: "indicator", Created: time.Now()})
		o.TLP = l
		objs = append(objs, o)
		ids = append(ids, o.ID)
	}
	if _, err := e.store.AddObjects(e.t.Context(), root, coll, objs, collections.AddOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

// receiver is an HTTPS endpoint that answers with the status fail
// returns for each request (0: 204) and keeps what it accepted.
type receiver struct {
	srv      *httptest.Server
	verifier *webhook.Verifier

	mu       sync.Mutex
	requests int
	got      []webhook.Notification
	errs     []error
	fail     func(n int) int
	hold     chan struct{} // when set, requests wait on it
}

func (e *env) receiver(fail func(n int) int) *receiver {
	r := &receiver{verifier: &webhook.Verifier{}, fail: fail}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			<-hold
		}
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if r.fail != nil {
			if code := r.fail(r.requests); code != 0 {
				w.WriteHeader(code)
				return
			}
		}
		n, err := r.verifier.Verify(req.Header, body)
		if err != nil {
			r.errs = append(r.errs, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.got = append(r.got, n)
		w.WriteHeader(http.StatusNoContent)
	}))
	e.t.Cleanup(r.srv.Close)
	e.pool.AddCert(r.srv.Certificate())
	e.guard.AllowHosts = append(e.guard.AllowHosts, r.srv.Listener.Addr().String())
	return r
}

func (r *receiver) notifications() ([]webhook.Notification, []error, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got), slices.Clone(r.errs), r.requests
}

// subscribe subscribes org to the collection and sets the verifier's
// secret.
func (e *env) subscribe(o string, r *receiver) webhook.Subscription {
	e.t.Helper()
	sub, secret, err := e.svc.Subscribe(e.t.Context(), o, root, coll, r.srv.URL+"/hook", "user-1")
	if err != nil {
		e.t.Fatalf("Subscribe: %v", err)
	}
	r.verifier.Secret = secret
	return sub
}

// worker runs a worker with short intervals and backoff until the test
// ends.
func (e *env) worker(owner string) {
	e.t.Helper()
	sealer := e.svc.Sealer
	w, err := webhook.NewWorker(e.store, e.store, e.access, sealer, webhook.Options{
		Owner: owner, BaseURL: "https://taxii.example/", Interval: 20 * time.Millisecond, Lease: time.Second,
		Backoff: func(int) time.Duration { return 30 * time.Millisecond },
		Client:  e.guard.Client(webhook.ClientOptions{Timeout: 2 * time.Second, RootCAs: e.pool}),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond until it holds or 5 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// announced returns the ids of the versions the notifications announce,
// read from the store as the receiver would pull them (every version
// added in (added_after, date_added_last], under cond), in order.
func (e *env) announced(ns []webhook.Notification, cond webhook.Conditions) []string {
	e.t.Helper()
	ids := []string{}
	for _, n := range ns {
		after, err := time.Parse(time.RFC3339Nano, n.AddedAfter)
		if err != nil && n.AddedAfter != "" {
			e.t.Fatalf("added_after %q: %v", n.AddedAfter, err)
		}
		last, err := time.Parse(time.RFC3339Nano, n.DateAddedLast)
		if err != nil {
			e.t.Fatalf("date_added_last %q: %v", n.DateAddedLast, err)
		}
		p, err := e.store.Objects(e.t.Context(), collections.Query{APIRoot: root, Collection: coll,
			Versions: collections.VersionFilter{All: true}, AllSpecVersions: true, AddedAfter: after, AddedUntil: last,
			MaxTLP: cond.MaxTLP, Limit: 1000, MetadataOnly: true})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(p.Objects) != n.Count {
			e.t.Errorf("notification %s counts %d versions, its range holds %d", n.ID, n.Count, len(p.Objects))
		}
		for _, o := range p.Objects {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// TestRetriedUntilReceived: a receiver that fails the first attempts gets,
// once it answers, notifications announcing every version added, each
// once, each verified by its signature.
func TestRetriedUntilReceived(t *testing.T) {
	e := newEnv(t)
	r := e.receiver(func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	sub := e.subscribe(org, r)
	e.worker("p1")
	var want []string
	for range 3 {
		want = append(want, e.push(stix.TLPGreen, stix.TLPAmber)...)
		time.Sleep(30 * time.Millisecond)
	}
	waitFor(t, "every version announced", func() bool {
		ns, _, _ := r.notifications()
		return len(e.announced(ns, webhook.Conditions{})) >= len(want)
	})
	ns, errs, requests := r.notifications()
	if len(errs) > 0 {
		t.Errorf("verification failures: %v", errs)
	}
	if diff := cmp.Diff(want, e.announced(ns, webhook.Conditions{})); diff != "" {
		t.Errorf("announced versions (-pushed +announced):\n%s", diff)
	}
	if requests < 4 {
		t.Errorf("%d requests, want the 3 failed ones and more", requests)
	}
	for _, n := range ns {
		if n.Subscription != sub.ID || n.APIRoot != root || n.Collection != coll || n.Event != webhook.EventObjectsAdded {
			t.Errorf("notification %+v, want of subscription %s, %s/%s", n, sub.ID, root, coll)
		}
		wantLink := "https://taxii.example/" + root + "/collections/" + coll + "/objects/?added_after=" + url.QueryEscape(n.AddedAfter)
		if n.Objects != wantLink {
			t.Errorf("objects link %q, want %q", n.Objects, wantLink)
		}
	}
	// The record shows the failed attempts of the first delivery.
	var ds []webhook.Delivery
	waitFor(t, "the deliveries recorded", func() bool {
		var err error
		ds, err = e.store.Deliveries(t.Context(), sub.ID, 100)
		return err == nil && !slices.ContainsFunc(ds, func(d webhook.Delivery) bool { return d.State == webhook.StatePending })
	})
	first := ds[len(ds)-1]
	if first.State != webhook.StateDelivered || first.Attempts != 4 || first.LastStatus != http.StatusNoContent {
		t.Errorf("first delivery: %s after %d attempts, last status %d; want delivered after 4, 204", first.State, first.Attempts, first.LastStatus)
	}

	// A redelivery announces the same versions again, as a new
	// notification the receiver accepts.
	red, err := e.svc.Redeliver(t.Context(), sub.ID, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redelivery", func() bool {
		d, err := e.store.Delivery(t.Context(), sub.ID, red.ID)
		return err == nil && d.State == webhook.StateDelivered
	})
	again, errs, _ := r.notifications()
	if len(errs) > 0 {
		t.Errorf("verification failures: %v", errs)
	}
	if diff := cmp.Diff(e.announced(ns[:1], webhook.Conditions{}), e.announced(again[len(ns):], webhook.Conditions{})); diff != "" {
		t.Errorf("redelivery announces (-first +redelivered):\n%s", diff)
	}
}

// TestCoalesced: versions added while the receiver is busy with one
// notification come in one further notification.
func TestCoalesced(t *testing.T) {
	e := newEnv(t)
	r := e.receiver(nil)
	hold := make(chan struct{})
	r.hold = hold
	e.subscribe(org, r)
	e.worker("p1")
	first := e.push(stix.TLPGreen)
	waitFor(t, "the first request", func() bool {
		// The handler counts a request only once released; the store
		// shows the delivery sent when its cursor moved.
		ds, _ := e.store.Subscriptions(t.Context(), org)
		return len(ds) == 1 && !ds[0].Cursor.Before(time.Now().Add(-time.Hour)) && hasDelivery(e, ds[0].ID)
	})
	time.Sleep(50 * time.Millisecond) // the first attempt is under way
	var rest []string
	for range 5 {
		rest = append(rest, e.push(stix.TLPGreen)...)
	}
	r.mu.Lock()
	r.hold = nil
	r.mu.Unlock()
	close(hold)
	waitFor(t, "two notifications", func() bool {
		ns, _, _ := r.notifications()
		return len(ns) >= 2
	})
	time.Sleep(100 * time.Millisecond) // a third would have come by now
	ns, errs, _ := r.notifications()
	if len(errs) > 0 {
		t.Errorf("verification failures: %v", errs)
	}
	if len(ns) != 2 {
		t.Fatalf("%d notifications, want 2", len(ns))
	}
	if diff := cmp.Diff(first, e.announced(ns[:1], webhook.Conditions{})); diff != "" {
		t.Errorf("first notification (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(rest, e.announced(ns[1:], webhook.Conditions{})); diff != "" {
		t.Errorf("coalesced notification (-want +got):\n%s", diff)
	}
}

func hasDelivery(e *env, sub string) bool {
	ds, err := e.store.Deliveries(e.t.Context(), sub, 1)
	return err == nil && len(ds) == 1
}

// TestCeiling: versions above the organization's TLP ceiling are neither
// announced nor counted.
func TestCeiling(t *testing.T) {
	e := newEnv(t)
	green := webhook.Conditions{MaxTLP: stix.TLPGreen}
	e.conds = map[string]webhook.Conditions{org: green}
	r := e.receiver(nil)
	sub := e.subscribe(org, r)
	e.worker("p1")
	e.push(stix.TLPAmber, stix.TLPRed)
	time.Sleep(200 * time.Millisecond) // ten worker steps
	if ns, _, requests := r.notifications(); requests != 0 {
		t.Fatalf("notified of versions above the ceiling: %+v", ns)
	}
	ds, err := e.store.Deliveries(t.Context(), sub.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Errorf("deliveries of versions above the ceiling: %+v", ds)
	}
	want := e.push(stix.TLPAmber, stix.TLPGreen, stix.TLPRed)[1:2]
	waitFor(t, "a notification", func() bool {
		ns, _, _ := r.notifications()
		return len(ns) > 0
	})
	ns, _, _ := r.notifications()
	if len(ns) != 1 || ns[0].Count != 1 {
		t.Fatalf("notifications %+v, want one of 1 version", ns)
	}
	if diff := cmp.Diff(want, e.announced(ns, green)); diff != "" {
		t.Errorf("announced (-want +got):\n%s", diff)
	}
}

// TestRestart: a delivery pending when its process stopped is sent by the
// next one, on the store reopened, once the lease of the first expires.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	r := e.receiver(func(int) int { return http.StatusInternalServerError })
	sub := e.subscribe(org, r)
	sealer := e.svc.Sealer
	w, err := webhook.NewWorker(e.store, e.store, e.access, sealer, webhook.Options{
		Owner: "crashed", Lease: 300 * time.Millisecond, Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Client: e.guard.Client(webhook.ClientOptions{Timeout: 2 * time.Second, RootCAs: e.pool}),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := e.push(stix.TLPGreen, stix.TLPClear)
	w.Step(t.Context())
	w.Wait()
	ds, err := e.store.Deliveries(t.Context(), sub.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].State != webhook.StatePending || ds[0].Attempts != 1 || ds[0].LastStatus != 500 {
		t.Fatalf("deliveries after a failed attempt: %+v", ds)
	}
	// The process stops without releasing its lease; the store is
	// reopened, the receiver is back.
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.fail = nil
	r.mu.Unlock()
	e.open()
	e.worker("restarted")
	waitFor(t, "the pending delivery", func() bool {
		ns, _, _ := r.notifications()
		return len(ns) > 0
	})
	ns, errs, _ := r.notifications()
	if len(errs) > 0 {
		t.Errorf("verification failures: %v", errs)
	}
	if diff := cmp.Diff(want, e.announced(ns, webhook.Conditions{})); diff != "" {
		t.Errorf("announced after the restart (-want +got):\n%s", diff)
	}
}

// TestRevokedAccess: once the organization may no longer read the
// collection, its pending deliveries fail without a request.
func TestRevokedAccess(t *testing.T) {
	e := newEnv(t)
	r := e.receiver(func(int) int { return http.StatusServiceUnavailable })
	sub := e.subscribe(org, r)
	e.worker("p1")
	e.push(stix.TLPGreen)
	waitFor(t, "a failed attempt", func() bool {
		_, _, n := r.notifications()
		return n > 0
	})
	e.mu.Lock()
	delete(e.conds, org)
	e.mu.Unlock()
	waitFor(t, "the delivery failed", func() bool {
		ds, err := e.store.Deliveries(t.Context(), sub.ID, 10)
		return err == nil && len(ds) == 1 && ds[0].State == webhook.StateFailed
	})
	_, _, before := r.notifications()
	e.push(stix.TLPGreen)
	time.Sleep(150 * time.Millisecond)
	if _, _, after := r.notifications(); after != before {
		t.Errorf("%d requests after the grant went away", after-before)
	}
	// Subscribing needs read access too.
	_, _, err := e.svc.Subscribe(t.Context(), "org-2", root, coll, r.srv.URL, "user-2")
	if !errors.Is(err, collections.ErrNotFound) {
		t.Errorf("Subscribe without read access: %v, want ErrNotFound", err)
	}
}

// TestTwoProcesses: two workers on two handles of one store send each
// version's notification once between them.
func TestTwoProcesses(t *testing.T) {
	e := newEnv(t)
	r := e.receiver(nil)
	e.subscribe(org, r)
	other, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	e.worker("p1")
	sealer := e.svc.Sealer
	w2, err := webhook.NewWorker(other, other, e.access, sealer, webhook.Options{
		Owner: "p2", Interval: 20 * time.Millisecond, Lease: time.Second,
		Client: e.guard.Client(webhook.ClientOptions{Timeout: 2 * time.Second, RootCAs: e.pool}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w2.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	var want []string
	for range 10 {
		want = append(want, e.push(stix.TLPGreen)...)
		time.Sleep(15 * time.Millisecond)
	}
	waitFor(t, "every version announced", func() bool {
		ns, _, _ := r.notifications()
		return len(e.announced(ns, webhook.Conditions{})) >= len(want)
	})
	time.Sleep(100 * time.Millisecond) // a repeat would have come by now
	ns, errs, _ := r.notifications()
	if len(errs) > 0 {
		t.Errorf("verification failures: %v", errs)
	}
	if diff := cmp.Diff(want, e.announced(ns, webhook.Conditions{})); diff != "" {
		t.Errorf("announced (-pushed +announced):\n%s", diff)
	}
}

// TestStartsAfterExisting: a new subscription announces the versions added
// after it, not those already visible; it starts right after the last of
// them, so that a version being written meanwhile is not missed.
func TestStartsAfterExisting(t *testing.T) {
	e := newEnv(t)
	e.push(stix.TLPGreen, stix.TLPRed)
	p, err := e.store.Objects(t.Context(), collections.Query{APIRoot: root, Collection: coll,
		Versions: collections.VersionFilter{All: true}, AllSpecVersions: true, Limit: 10, MetadataOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r := e.receiver(nil)
	sub := e.subscribe(org, r)
	if last := p.Objects[len(p.Objects)-1].DateAdded; !sub.Cursor.Equal(last) {
		t.Errorf("subscription starts after %v, want after the last version stored, %v", sub.Cursor, last)
	}
	e.worker("p1")
	want := e.push(stix.TLPAmber)
	waitFor(t, "a notification", func() bool {
		ns, _, _ := r.notifications()
		return len(ns) > 0
	})
	time.Sleep(100 * time.Millisecond)
	ns, _, _ := r.notifications()
	if diff := cmp.Diff(want, e.announced(ns, webhook.Conditions{})); diff != "" {
		t.Errorf("announced (-want +got):\n%s", diff)
	}
}
