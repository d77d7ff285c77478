package mirror_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/authz/authztest"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

const (
	remoteColl = "3f0b6d8e-2a41-4c55-9d0e-6f1f0c2b7a11"
	localColl  = "9a7c2e10-5b3d-4f6a-8c1e-2d4b6f8a0c13"
)

var (
	validatorOnce sync.Once
	validator     *stix.Validator
	validatorErr  error
)

func newValidator(t testing.TB) *stix.Validator {
	t.Helper()
	validatorOnce.Do(func() { validator, validatorErr = stix.NewValidator(stix.Options{}) })
	if validatorErr != nil {
		t.Fatal(validatorErr)
	}
	return validator
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// remote is a taxiid server (the TAXII stack on a SQLite store, through a
// real listener) whose collection is mirrored. It can be stopped and
// started again on the same address and store file.
type remote struct {
	t      testing.TB
	path   string
	addr   string
	reader string // token of a user that may read the collection
	writer string // token of a user that may write it

	store   *sqlite.Store
	hs      *http.Server
	ing     *collections.Ingester
	watcher *authz.Watcher
	authn   *authz.Authenticator
	done    chan struct{}
}

func startRemote(t testing.TB) *remote {
	t.Helper()
	r := &remote{t: t, path: filepath.Join(t.TempDir(), "remote.db"), addr: "127.0.0.1:0"}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, r.path)
	must(t, err)
	must(t, store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "remote", MaxContentLength: 10 << 20}))
	must(t, store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: remoteColl, Title: "feed"}))
	org, err := store.CreateOrganization(ctx, authz.Organization{Name: "partners"})
	must(t, err)
	for _, u := range []struct {
		name   string
		action authz.Action
		token  *string
	}{{"reader", authz.ActionRead, &r.reader}, {"writer", authz.ActionWrite, &r.writer}} {
		hash, err := authz.HashPassword("pw-"+u.name, authztest.CheapPasswords)
		must(t, err)
		user, err := store.CreateUser(ctx, authz.User{Name: u.name, OrganizationID: org.ID, Role: authz.RoleMember, PasswordHash: hash})
		must(t, err)
		secret, thash, prefix, err := authz.NewTokenSecret()
		must(t, err)
		_, err = store.CreateToken(ctx, authz.Token{UserID: user.ID, Name: "t", Hash: thash, Prefix: prefix})
		must(t, err)
		*u.token = secret
		_, err = store.CreateGrant(ctx, authz.Grant{Subject: authz.UserSubject(user.ID), APIRoot: "api1", Collection: remoteColl, Action: u.action})
		must(t, err)
	}
	must(t, store.Close())
	r.start()
	t.Cleanup(r.stop)
	return r
}

// start serves the store's file on r.addr (the same port after a stop).
func (r *remote) start() {
	t := r.t
	t.Helper()
	ctx := context.Background()
	var err error
	r.store, err = sqlite.Open(ctx, r.path)
	must(t, err)
	log := slog.New(slog.DiscardHandler)
	r.watcher = authz.NewWatcher(r.store, 50*time.Millisecond, log)
	az, err := authz.NewAuthorizer(r.store, r.watcher, log)
	must(t, err)
	r.authn, err = authz.NewAuthenticator(authz.AuthenticatorConfig{Store: r.store, Watcher: r.watcher, Log: log,
		PasswordParams: authztest.CheapPasswords})
	must(t, err)
	must(t, r.watcher.Start(ctx))
	r.ing = collections.NewIngester(r.store, newValidator(t), collections.IngestConfig{Logger: log})
	srv, err := taxii.New(ctx, taxii.Config{Store: r.store, Ingester: r.ing, Authorizer: az, Authenticator: r.authn,
		Logger: log, Title: "remote", DefaultAPIRoot: "api1", PageSize: 10, MaxPageSize: 50})
	must(t, err)
	var ln net.Listener
	for i := 0; ; i++ { // the port of a stopped server may take a moment to be free again
		ln, err = net.Listen("tcp", r.addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, err)
	if a := ln.Addr().String(); a != r.addr {
		r.addr = a // the first start: later ones listen on this address
	}
	r.hs = &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	r.done = make(chan struct{})
	go func() { defer close(r.done); r.hs.Serve(ln) }()
}

// stop closes the listener and every connection at once, as a crash
// would for the clients, and closes the store.
func (r *remote) stop() {
	if r.hs == nil {
		return
	}
	r.hs.Close()
	<-r.done
	r.ing.Wait()
	r.watcher.Close()
	r.authn.Close()
	r.store.Close()
	r.hs = nil
}

func (r *remote) collectionURL() string {
	return "http://" + r.addr + "/api1/collections/" + remoteColl + "/"
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// push posts objects to the remote's collection as the writer and checks
// that each is stored (or was already).
func (r *remote) push(objs []map[string]any) error {
	body, err := json.Marshal(map[string]any{"objects": objs})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, r.collectionURL()+"objects/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	req.Header.Set("Authorization", "Bearer "+r.writer)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st struct {
		Status       string `json:"status"`
		SuccessCount int    `json:"success_count"`
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("push: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return err
	}
	if st.Status != "complete" || st.SuccessCount != len(objs) {
		return fmt.Errorf("push: status %s with %d successes of %d", st.Status, st.SuccessCount, len(objs))
	}
	return nil
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// stamp is the STIX timestamp layout, to the millisecond (STIX 2.1
// section 3.2: created and modified are precise to the millisecond).
const stamp = "2006-01-02T15:04:05.000Z"

// indicator returns a version of indicator id, modified at the given
// second after a fixed creation time.
func indicator(id string, version int) map[string]any {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": id,
		"created":  created.Format(stamp),
		"modified": created.Add(time.Duration(version) * time.Second).Format(stamp),
		"name":     fmt.Sprintf("indicator version %d", version), "pattern": "[ipv4-addr:value = '198.51.100.7']",
		"pattern_type": "stix", "valid_from": created.Format(stamp),
	}
}

// indicator20 returns a STIX 2.0 version of indicator id (no
// spec_version; labels required), modified at the given second.
func indicator20(id string, version int) map[string]any {
	o := indicator(id, version)
	delete(o, "spec_version")
	delete(o, "pattern_type")
	o["labels"] = []string{"malicious-activity"}
	return o
}

// versions returns every (id, version) stored in a collection.
func versions(t testing.TB, s collections.Store, apiRoot, coll string) []string {
	t.Helper()
	var out []string
	q := collections.Query{APIRoot: apiRoot, Collection: coll, Versions: collections.VersionFilter{All: true},
		AllSpecVersions: true, Limit: 1000, MetadataOnly: true}
	for {
		p, err := s.Objects(context.Background(), q)
		must(t, err)
		for _, o := range p.Objects {
			out = append(out, o.ID+" "+o.Version.Format(time.RFC3339Nano))
			q.AddedAfter = o.DateAdded
		}
		if !p.More {
			break
		}
	}
	sort.Strings(out)
	return out
}

// local is the mirroring side: a store with the collection to fill, the
// service and a puller on it.
type local struct {
	store  *sqlite.Store
	svc    *mirror.Service
	ing    *collections.Ingester
	puller *mirror.Puller
}

func openLocal(t testing.TB, path, holder string) *local {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	must(t, err)
	t.Cleanup(func() { store.Close() })
	must(t, store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "local", MaxContentLength: 10 << 20}))
	must(t, store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: localColl, Alias: "mirrored", Title: "mirrored"}))
	l := &local{store: store, svc: mirror.NewService(store, store)}
	l.ing = collections.NewIngester(store, newValidator(t), collections.IngestConfig{Logger: slog.New(slog.DiscardHandler)})
	l.puller = &mirror.Puller{Service: l.svc, Ingester: l.ing, Holder: holder, Lease: 5 * time.Second,
		Limits: mirror.Limits{PageObjects: 7, RequestTimeout: 5 * time.Second}}
	return l
}

func (l *local) runner() *mirror.Runner {
	return &mirror.Runner{Puller: l.puller, Log: slog.New(slog.DiscardHandler), Tick: 20 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
}

// run starts a runner; the returned function stops it and waits for it.
func (l *local) run() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := l.runner()
	go func() { defer close(done); r.Run(ctx) }()
	return func() { cancel(); <-done }
}

// TestMirrorFollowsWriters: a mirror of a collection that writers push
// to (several versions of some ids) ends with exactly the remote's
// versions, each added once, although the remote restarts and the mirror
// is stopped and started again on a new handle meanwhile.
func TestMirrorFollowsWriters(t *testing.T) {
	ctx := context.Background()
	b := startRemote(t)
	// Versions stored before the source is declared come across too.
	shared := []string{"indicator--" + newUUID(), "indicator--" + newUUID(), "indicator--" + newUUID()}
	var first []map[string]any
	for i, id := range shared {
		first = append(first, indicator(id, 0), indicator(id, 1+i))
	}
	// An object with a STIX 2.0 version besides its 2.1 ones: a pull
	// without match[spec_version] would bring only the 2.1 ones.
	first = append(first, indicator20(shared[0], 5))
	must(t, b.push(first))

	path := filepath.Join(t.TempDir(), "local.db")
	a := openLocal(t, path, "a-1")
	view, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "partner", URL: b.collectionURL(), Token: b.reader,
		APIRoot: "api1", Collection: "mirrored", Interval: "100ms"})
	must(t, err)
	if !view.HasToken || view.Collection != localColl {
		t.Fatalf("source view %+v", view)
	}
	stopA := a.run()

	// Writers: new ids, and new versions of the shared ids.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 3 {
		wg.Go(func() {
			for round := range 12 {
				objs := []map[string]any{indicator("indicator--"+newUUID(), 0), indicator("indicator--"+newUUID(), 0)}
				objs = append(objs, indicator(shared[(w+round)%len(shared)], 10+w*100+round))
				var err error
				for range 50 { // the remote may be restarting
					if err = b.push(objs); err == nil {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				if err != nil {
					errs <- err
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	time.Sleep(150 * time.Millisecond)
	b.stop() // the remote goes away in the middle of pulls and pushes
	time.Sleep(100 * time.Millisecond)
	b.start()
	time.Sleep(150 * time.Millisecond)
	stopA() // the mirror stops in the middle, and comes back on a new handle
	a.store.Close()
	a = openLocal(t, path, "a-2")
	stopA = a.run()
	defer func() { stopA() }()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	want := versions(t, b.store, "api1", remoteColl)
	if len(want) != 7+3*12*3 {
		t.Fatalf("remote holds %d versions, want %d", len(want), 7+3*12*3)
	}
	var got []string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if got = versions(t, a.store, "api1", localColl); cmp.Equal(want, got) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("mirrored versions (-remote +local):\n%s", diff)
	}
	stopA()
	stopA = func() {}
	st, err := a.store.SourceState(ctx, "partner")
	must(t, err)
	// Each remote version was added once; re-reads were unchanged.
	if st.Counters.Added != int64(len(want)) || st.Counters.Rejected != 0 {
		t.Errorf("counters %+v, want %d added and none rejected", st.Counters, len(want))
	}
	if st.LastSuccess.IsZero() {
		t.Error("no success recorded")
	}
	batches, err := a.store.Batches(ctx, "partner", mirror.MaxBatches)
	must(t, err)
	added := 0
	for _, bt := range batches {
		added += bt.Added
	}
	if added != len(want) {
		t.Errorf("batches record %d added versions, want %d", added, len(want))
	}
	// The bytes stored are the remote's.
	for _, id := range shared[:1] {
		q := collections.Query{APIRoot: "api1", IDs: []string{id}, Versions: collections.VersionFilter{All: true}, Limit: 100}
		q.Collection = remoteColl
		rp, err := b.store.Objects(ctx, q)
		must(t, err)
		q.Collection = localColl
		lp, err := a.store.Objects(ctx, q)
		must(t, err)
		if len(rp.Objects) != len(lp.Objects) {
			t.Fatalf("%s: %d versions remote, %d local", id, len(rp.Objects), len(lp.Objects))
		}
		for i := range rp.Objects {
			if !bytes.Equal(rp.Objects[i].Raw, lp.Objects[i].Raw) {
				t.Errorf("%s: local bytes %s differ from remote %s", id, lp.Objects[i].Raw, rp.Objects[i].Raw)
			}
		}
	}
}

// fakeRemote is a minimal TAXII objects endpoint serving fixed pages
// (for what a taxiid server would never serve).
type fakeRemote struct {
	mu       sync.Mutex
	pages    []string // envelope bodies, served in turn
	served   int
	inFlight int
	maxIn    int
	delay    time.Duration
	requests []string
}

func (f *fakeRemote) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
	f.requests = append(f.requests, r.URL.RawQuery)
	body := f.pages[min(f.served, len(f.pages)-1)]
	f.served++
	n := f.served
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	time.Sleep(f.delay)
	if r.Header.Get("Authorization") != "Bearer secret-token" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
	w.Header().Set("X-TAXII-Date-Added-First", fmt.Sprintf("2026-02-01T00:00:%02d.000000Z", n))
	w.Header().Set("X-TAXII-Date-Added-Last", fmt.Sprintf("2026-02-01T00:00:%02d.000000Z", n))
	fmt.Fprint(w, body)
}

func serveFake(t *testing.T, f *fakeRemote) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	hs := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String() + "/api1/collections/" + remoteColl + "/"
}

// TestMirrorRejections: objects a push would refuse are recorded as
// rejections of the source, with their id and reason; the others are
// stored.
func TestMirrorRejections(t *testing.T) {
	ctx := context.Background()
	good := "indicator--" + newUUID()
	bad := "indicator--" + newUUID()
	goodJSON, _ := json.Marshal(indicator(good, 0))
	badObj := indicator(bad, 0)
	delete(badObj, "pattern") // required
	badJSON, _ := json.Marshal(badObj)
	f := &fakeRemote{pages: []string{`{"objects":[` + string(goodJSON) + `,` + string(badJSON) + `,{"type":"x"}]}`}}
	url := serveFake(t, f)
	a := openLocal(t, filepath.Join(t.TempDir(), "local.db"), "a")
	_, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "odd", URL: url, Token: "secret-token", APIRoot: "api1", Collection: localColl})
	must(t, err)
	pages, err := a.puller.Pull(ctx, "odd")
	must(t, err)
	if pages != 1 {
		t.Errorf("%d pages, want 1", pages)
	}
	if got := versions(t, a.store, "api1", localColl); len(got) != 1 || got[0][:len(good)] != good {
		t.Errorf("stored %v, want only %s", got, good)
	}
	rej, err := a.store.Rejections(ctx, "odd", 10)
	must(t, err)
	var ids []string
	for _, r := range rej {
		if r.Reason == "" || r.Message == "" {
			t.Errorf("rejection without a reason or message: %+v", r)
		}
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	if diff := cmp.Diff([]string{bad, "objects[2]"}, ids); diff != "" {
		t.Errorf("rejected ids (-want +got):\n%s", diff)
	}
	st, err := a.store.SourceState(ctx, "odd")
	must(t, err)
	if want := (mirror.Counters{Pages: 1, Objects: 3, Added: 1, Rejected: 2}); st.Counters != want {
		t.Errorf("counters %+v, want %+v", st.Counters, want)
	}
	if st.Cursor.After != "2026-02-01T00:00:01.000000Z" || st.LastSuccess.IsZero() {
		t.Errorf("cursor %q, last success %s", st.Cursor.After, st.LastSuccess)
	}
	// The next pull asks for what was added after the cursor.
	if _, err := a.puller.Pull(ctx, "odd"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	last := f.requests[len(f.requests)-1]
	f.mu.Unlock()
	if !bytes.Contains([]byte(last), []byte("added_after=2026-02-01T00%3A00%3A01.000000Z")) ||
		!bytes.Contains([]byte(last), []byte("match%5Bversion%5D=all")) {
		t.Errorf("second pull asked %q", last)
	}
}

// TestMirrorLease: of two processes on one store, one pulls a source at a
// time.
func TestMirrorLease(t *testing.T) {
	ctx := context.Background()
	obj, _ := json.Marshal(indicator("indicator--"+newUUID(), 0))
	// A walk that never ends while the test runs: every page says more.
	f := &fakeRemote{pages: []string{`{"more":true,"next":"n","objects":[` + string(obj) + `]}`}, delay: 20 * time.Millisecond}
	url := serveFake(t, f)
	path := filepath.Join(t.TempDir(), "local.db")
	a1 := openLocal(t, path, "p-1")
	a2 := openLocal(t, path, "p-2")
	_, err := a1.svc.CreateSource(ctx, mirror.SourceInput{Name: "busy", URL: url, Token: "secret-token", APIRoot: "api1",
		Collection: localColl, Interval: "100ms"})
	must(t, err)
	stop1, stop2 := a1.run(), a2.run()
	deadline := time.Now().Add(10 * time.Second)
	var st mirror.State
	for time.Now().Before(deadline) {
		st, err = a1.store.SourceState(ctx, "busy")
		must(t, err)
		if st.Counters.Pages >= 10 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Counters.Pages < 10 {
		t.Fatalf("only %d pages pulled", st.Counters.Pages)
	}
	// While one holds the lease the other is refused.
	other := a2.puller
	if st.Holder == "p-2" {
		other = a1.puller
	}
	if _, err := other.Pull(ctx, "busy"); !errors.Is(err, mirror.ErrBusy) {
		t.Errorf("pull by the other process: %v, want ErrBusy", err)
	}
	stop1()
	stop2()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.maxIn != 1 {
		t.Errorf("%d requests at once, want 1", f.maxIn)
	}
}
