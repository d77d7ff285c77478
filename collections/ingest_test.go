package collections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// hookStore is a real store whose AddObjects can be intercepted, to produce
// at a chosen moment what a real part cannot produce on demand (a client
// going away mid-push, a crash, a panic).
type hookStore struct {
	collections.Store
	mu   sync.Mutex
	hook func(call int, ctx context.Context) // before each AddObjects
	// createHook runs before each CreateStatus.
	createHook func()
	// after counts the writes that begin once shut is set.
	shut  atomic.Bool
	after atomic.Int64
	call  int
}

func (h *hookStore) AddObjects(ctx context.Context, apiRoot, coll string, objs []collections.NewObject, opts collections.AddOptions) ([]collections.AddResult, error) {
	h.mu.Lock()
	hook, call := h.hook, h.call
	h.call++
	h.mu.Unlock()
	if hook != nil {
		hook(call, ctx)
	}
	if h.shut.Load() {
		h.after.Add(1)
	}
	return h.Store.AddObjects(ctx, apiRoot, coll, objs, opts)
}

func (h *hookStore) CreateStatus(ctx context.Context, st collections.Status) error {
	h.mu.Lock()
	hook := h.createHook
	h.mu.Unlock()
	if hook != nil {
		hook()
	}
	if h.shut.Load() {
		h.after.Add(1)
	}
	return h.Store.CreateStatus(ctx, st)
}

func (h *hookStore) FailPendings(ctx context.Context, apiRoot, id, message string, expires time.Time) (int, error) {
	if h.shut.Load() {
		h.after.Add(1)
	}
	return h.Store.FailPendings(ctx, apiRoot, id, message, expires)
}

// ingestEnv is an ingester on a real store with one collection per
// validation level.
type ingestEnv struct {
	store *hookStore
	ing   *collections.Ingester
	logs  *syncBuffer
	colls map[string]collections.Collection // by Validation
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newIngestEnv(t *testing.T, cfg collections.IngestConfig) *ingestEnv {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	e := &ingestEnv{store: &hookStore{Store: s}, logs: &syncBuffer{}, colls: map[string]collections.Collection{}}
	for i, level := range []string{"", "strict", "permissive"} {
		c := collections.Collection{APIRoot: "api1", ID: fmt.Sprintf("%08d-2ab8-4a5f-8d6d-3f0c1f9a1e11", i),
			Title: "C" + level, Validation: level, MediaTypes: []string{"application/stix+json;version=2.1"}}
		if err := s.PutCollection(ctx, c); err != nil {
			t.Fatal(err)
		}
		e.colls[level] = c
	}
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	e.ing = collections.NewIngester(e.store, v, cfg)
	t.Cleanup(e.ing.Wait)
	return e
}

func raws(objs ...collections.NewObject) []json.RawMessage {
	out := make([]json.RawMessage, len(objs))
	for i, o := range objs {
		out[i] = o.Raw
	}
	return out
}

func indicators(n int) []collections.NewObject {
	objs := make([]collections.NewObject, n)
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range objs {
		ti := t.Add(time.Duration(i) * time.Millisecond)
		objs[i] = storetest.Object(storetest.STIX{Type: "indicator", Created: ti, Modified: ti})
	}
	return objs
}

// stored returns the "id version" of every version in the collection.
func (e *ingestEnv) stored(t *testing.T, c collections.Collection) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	q := collections.Query{APIRoot: c.APIRoot, Collection: c.ID, Limit: 1000, MetadataOnly: true,
		Versions: collections.VersionFilter{All: true}, AllSpecVersions: true}
	for {
		p, err := e.store.Objects(t.Context(), q)
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		for _, o := range p.Objects {
			out[o.ID+" "+stix.FormatTimestamp(o.Version)] = true
		}
		if !p.More {
			return out
		}
		q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
	}
}

func successes(st collections.Status) map[string]bool {
	out := map[string]bool{}
	for _, d := range st.Successes {
		out[d.ID+" "+d.Version] = true
	}
	return out
}

func (e *ingestEnv) status(t *testing.T, st collections.Status) collections.Status {
	t.Helper()
	got, err := e.store.Status(t.Context(), st.APIRoot, st.ID)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return got
}

func TestIngestSync(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{})
	c := e.colls[""]
	ok := indicators(3)
	e.ing.Ingest(t.Context(), c, "alice", raws(ok[2]))
	conflict := storetest.Object(storetest.STIX{Type: "indicator", ID: ok[2].ID, Created: ok[2].Version,
		Modified: ok[2].Version, Fields: map[string]any{"name": "other"}})
	in := append(raws(ok[0], ok[1]), json.RawMessage(`{"type":"indicator"}`), ok[2].Raw, conflict.Raw)
	st, err := e.ing.Ingest(collections.WithRequestID(t.Context(), "req-1"), c, "alice", in)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if st.Status != collections.StatusComplete || st.Collection != c.ID || st.Owner != "alice" || st.TotalCount != 5 {
		t.Errorf("status %+v, want complete, of %s, owned by alice, 5 objects", st, c.ID)
	}
	if diff := cmp.Diff(st, e.status(t, st), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("returned status differs from the stored one (-returned +stored):\n%s", diff)
	}
	v := stix.FormatTimestamp
	want := collections.Status{Successes: []collections.StatusDetail{{ID: ok[0].ID, Version: v(ok[0].Version)},
		{ID: ok[1].ID, Version: v(ok[1].Version)}, {ID: ok[2].ID, Version: v(ok[2].Version), Message: collections.MsgUnchanged}}}
	if diff := cmp.Diff(want.Successes, st.Successes); diff != "" {
		t.Errorf("successes (-want +got):\n%s", diff)
	}
	if len(st.Failures) != 2 || st.Failures[0].ID != "objects[2]" || st.Failures[1].Message != collections.MsgConflict {
		t.Errorf("failures %+v, want the invalid object then the conflict", st.Failures)
	}
	if diff := cmp.Diff(successes(st), e.stored(t, c)); diff != "" {
		t.Errorf("stored versions (-successes +stored):\n%s", diff)
	}
}

// TestIngestObjectTooLarge: an object above MaxObjectBytes fails alone,
// named by its place in the push; the others of the push are stored.
func TestIngestObjectTooLarge(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{})
	c := e.colls[""]
	ok := indicators(2)
	big := storetest.Object(storetest.STIX{Type: "indicator", Fields: map[string]any{
		"description": strings.Repeat("x", collections.MaxObjectBytes)}})
	st, err := e.ing.Ingest(t.Context(), c, "alice", raws(ok[0], big, ok[1]))
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if len(st.Failures) != 1 || st.Failures[0].ID != "objects[1]" || !strings.Contains(st.Failures[0].Message, "limit") {
		t.Errorf("failures %+v; want objects[1] over the limit", st.Failures)
	}
	v := stix.FormatTimestamp
	want := map[string]bool{ok[0].ID + " " + v(ok[0].Version): true, ok[1].ID + " " + v(ok[1].Version): true}
	if diff := cmp.Diff(want, e.stored(t, c)); diff != "" {
		t.Errorf("stored versions (-want +got):\n%s", diff)
	}
}

// A large push's status always says exactly what is stored: read before
// the objects, its successes are stored; read after, every stored object
// is among its successes.
func TestIngestAsyncStatusExact(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{SyncLimit: 10})
	c := e.colls[""]
	objs := indicators(2500)
	st, err := e.ing.Ingest(t.Context(), c, "bob", raws(objs...))
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if st.Status != collections.StatusPending || len(st.Pendings) != len(objs) {
		t.Fatalf("status %s with %d pendings, want pending with %d", st.Status, len(st.Pendings), len(objs))
	}
	for {
		before := e.status(t, st)
		stored := e.stored(t, c)
		after := e.status(t, st)
		for k := range successes(before) {
			if !stored[k] {
				t.Fatalf("success %s of the status is not stored", k)
			}
		}
		after2 := successes(after)
		for k := range stored {
			if !after2[k] {
				t.Fatalf("stored %s is not a success of the status read next", k)
			}
		}
		if n := len(after.Successes) + len(after.Pendings); n != len(objs) {
			t.Fatalf("%d successes and pendings, want %d", n, len(objs))
		}
		if after.Status == collections.StatusComplete {
			break
		}
	}
	if p, n := e.ing.Backlog(); p != 0 || n != 0 {
		e.ing.Wait()
		if p, n := e.ing.Backlog(); p != 0 || n != 0 {
			t.Errorf("Backlog after the push = %d, %d; want 0, 0", p, n)
		}
	}
}

func TestIngestLevels(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{Level: stix.LevelDefault})
	now := time.Now()
	custom := storetest.Object(storetest.STIX{Type: "indicator", Created: now, Modified: now, Fields: map[string]any{"x_score": 5}})
	for _, tc := range []struct {
		level string
		ok    bool
	}{{"", true}, {"strict", false}, {"permissive", true}} {
		st, err := e.ing.Ingest(t.Context(), e.colls[tc.level], "", raws(custom))
		if err != nil {
			t.Fatalf("Ingest: %v", err)
		}
		if got := len(st.Successes) == 1; got != tc.ok {
			t.Errorf("collection at level %q: success %v (%+v), want %v", tc.level, got, st, tc.ok)
		}
	}
	// The cross-version rules apply but at the permissive level.
	id := storetest.NewID("indicator")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	v1 := storetest.Object(storetest.STIX{Type: "indicator", ID: id, Created: t0, Modified: t0})
	v2 := storetest.Object(storetest.STIX{Type: "indicator", ID: id, Created: t0.Add(time.Second), Modified: t0.Add(time.Hour)})
	for _, tc := range []struct {
		level string
		ok    bool
	}{{"", false}, {"strict", false}, {"permissive", true}} {
		if _, err := e.ing.Ingest(t.Context(), e.colls[tc.level], "", raws(v1)); err != nil {
			t.Fatal(err)
		}
		st, err := e.ing.Ingest(t.Context(), e.colls[tc.level], "", raws(v2))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(st.Successes) == 1; got != tc.ok {
			t.Errorf("changed created at level %q: success %v (%+v), want %v", tc.level, got, st, tc.ok)
		}
		if !tc.ok && (len(st.Failures) != 1 || !strings.Contains(st.Failures[0].Message, "created")) {
			t.Errorf("changed created at level %q: failures %+v, want one naming created", tc.level, st.Failures)
		}
	}
}

// A client that goes away during validation leaves nothing; one that goes
// away once writing started leaves everything, with its status.
func TestIngestDisconnect(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{})
	c := e.colls[""]
	ctx, cancel := context.WithCancel(collections.WithRequestID(t.Context(), "req-gone"))
	cancel()
	_, err := e.ing.Ingest(ctx, c, "", raws(indicators(3)...))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Ingest with the client gone: %v, want context.Canceled", err)
	}
	if got := e.stored(t, c); len(got) != 0 {
		t.Errorf("stored %v, want nothing", got)
	}

	// Gone after the first of three batches.
	ctx, cancel = context.WithCancel(collections.WithRequestID(t.Context(), "req-late"))
	defer cancel()
	e.store.hook = func(call int, _ context.Context) {
		if call == 1 {
			cancel()
		}
	}
	objs := indicators(2500)
	st, err := e.ing.Ingest(ctx, c, "", raws(objs...))
	if err != nil {
		t.Fatalf("Ingest with the client gone mid-push: %v", err)
	}
	if st.Status != collections.StatusComplete || len(st.Successes) != len(objs) {
		t.Errorf("status %s with %d successes, want complete with %d", st.Status, len(st.Successes), len(objs))
	}
	if diff := cmp.Diff(successes(e.status(t, st)), e.stored(t, c)); diff != "" {
		t.Errorf("stored (-successes +stored):\n%s", diff)
	}
	logs := e.logs.String()
	for _, want := range []string{"request_id=req-gone", "request_id=req-late", "client disconnected"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("a disconnect logged as an error:\n%s", logs)
	}
}

// A panic in the background fails what is left of the push; the process
// goes on.
func TestIngestBackgroundPanic(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{SyncLimit: 10})
	c := e.colls[""]
	e.store.hook = func(call int, _ context.Context) {
		if call == 1 {
			panic("boom")
		}
	}
	objs := indicators(2500)
	st, err := e.ing.Ingest(collections.WithRequestID(t.Context(), "req-panic"), c, "", raws(objs...))
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	e.ing.Wait()
	got := e.status(t, st)
	if got.Status != collections.StatusComplete || len(got.Successes) != 1000 || len(got.Failures) != 1500 {
		t.Errorf("status %s, %d successes, %d failures; want complete, 1000, 1500", got.Status, len(got.Successes), len(got.Failures))
	}
	for _, d := range got.Failures {
		if d.Message != collections.MsgInternal {
			t.Fatalf("failure %+v, want %q", d, collections.MsgInternal)
		}
	}
	if diff := cmp.Diff(successes(got), e.stored(t, c)); diff != "" {
		t.Errorf("stored (-successes +stored):\n%s", diff)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "panicked") || !strings.Contains(logs, "request_id=req-panic") {
		t.Errorf("logs lack the panic with its request id:\n%s", logs)
	}
}

// Shutdown stops a long push between batches once its deadline passes; the
// rest fails as interrupted, and the status matches what is stored.
func TestIngestShutdown(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{SyncLimit: 10})
	c := e.colls[""]
	release := make(chan struct{})
	e.store.hook = func(call int, _ context.Context) {
		if call == 1 {
			<-release // the second batch is in flight when the deadline passes
		}
	}
	objs := indicators(4500)
	st, err := e.ing.Ingest(t.Context(), c, "", raws(objs...))
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if p, n := e.ing.Backlog(); p == 1 && n == len(objs)-1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the push never reached its second batch")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error)
	go func() { done <- e.ing.Shutdown(ctx) }()
	<-ctx.Done()
	close(release)
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the deadline", err)
	}
	got := e.status(t, st)
	if got.Status != collections.StatusComplete || len(got.Successes) != 2000 || len(got.Failures) != 2500 {
		t.Errorf("status %s, %d successes, %d failures; want complete, 2000, 2500", got.Status, len(got.Successes), len(got.Failures))
	}
	if i := slices.IndexFunc(got.Failures, func(d collections.StatusDetail) bool { return d.Message != collections.MsgInterrupted }); i >= 0 {
		t.Errorf("failure %+v, want %q", got.Failures[i], collections.MsgInterrupted)
	}
	if diff := cmp.Diff(successes(got), e.stored(t, c)); diff != "" {
		t.Errorf("stored (-successes +stored):\n%s", diff)
	}
	if p, n := e.ing.Backlog(); p != 0 || n != 0 {
		t.Errorf("Backlog after Shutdown = %d, %d; want 0, 0", p, n)
	}
	if _, err := e.ing.Ingest(t.Context(), c, "", raws(indicators(1)...)); !errors.Is(err, collections.ErrShutdown) {
		t.Errorf("Ingest after Shutdown: %v, want ErrShutdown", err)
	}
}

// A large push whose status is being created when Shutdown begins is
// waited for: once Shutdown returns (and the server closes the store), the
// ingester writes nothing more, and the push's status is complete.
func TestIngestShutdownDuringAccept(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{SyncLimit: 10})
	c := e.colls[""]
	entered, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	e.store.createHook = func() {
		if first.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
	}
	type result struct {
		st  collections.Status
		err error
	}
	pushed := make(chan result, 1)
	go func() {
		st, err := e.ing.Ingest(context.Background(), c, "", raws(indicators(20)...))
		pushed <- result{st, err}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() {
		err := e.ing.Shutdown(context.Background())
		e.store.shut.Store(true)
		stopped <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := e.ing.Ingest(t.Context(), c, "", nil); errors.Is(err, collections.ErrShutdown) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Shutdown never began")
		}
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	r := <-pushed
	e.ing.Wait()
	if n := e.store.after.Load(); n != 0 {
		t.Errorf("%d store writes after Shutdown returned; want none", n)
	}
	if r.err != nil {
		if !errors.Is(r.err, collections.ErrShutdown) {
			t.Errorf("Ingest: %v; want success or ErrShutdown", r.err)
		}
		return
	}
	got := e.status(t, r.st)
	if got.Status != collections.StatusComplete {
		t.Errorf("status %s; want complete", got.Status)
	}
	if diff := cmp.Diff(successes(got), e.stored(t, c)); diff != "" {
		t.Errorf("stored (-successes +stored):\n%s", diff)
	}
}

// Start completes the statuses that a stopped process left pending, but
// not those of pushes still being written.
func TestIngestRecover(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{SyncLimit: 10, StaleAfter: 50 * time.Millisecond})
	c := e.colls[""]
	now := time.Now().UTC()
	left := collections.Status{ID: "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", APIRoot: c.APIRoot, Collection: c.ID,
		Status: collections.StatusPending, RequestTimestamp: now, TotalCount: 2, Expires: now.Add(time.Hour),
		Pendings: []collections.StatusDetail{{ID: "indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"}, {ID: "tool--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"}}}
	if err := e.store.CreateStatus(t.Context(), left); err != nil {
		t.Fatal(err)
	}
	// A push of this ingester, held in its second batch for longer than
	// StaleAfter.
	release := make(chan struct{})
	e.store.hook = func(call int, _ context.Context) {
		if call == 1 {
			<-release
		}
	}
	own, err := e.ing.Ingest(t.Context(), c, "", raws(indicators(1500)...))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := e.ing.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	got := e.status(t, left)
	if got.Status != collections.StatusComplete || len(got.Failures) != 2 || got.Failures[1].Message != collections.MsgInterrupted {
		t.Errorf("left-over status after Start: %+v, want complete with two interrupted failures", got)
	}
	if s := e.status(t, own); s.Status != collections.StatusPending {
		t.Errorf("own push's status after Start: %s, want pending", s.Status)
	}
	close(release)
	e.ing.Wait()
	if s := e.status(t, own); s.Status != collections.StatusComplete || len(s.Successes) != 1500 {
		t.Errorf("own push: %s with %d successes, want complete with 1500", s.Status, len(s.Successes))
	}
	if err := e.ing.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// A panic while validating an object fails that object; the others go on.
func TestIngestValidationPanic(t *testing.T) {
	e := newIngestEnv(t, collections.IngestConfig{})
	// Without a validator, validating a STIX 2.1 object panics.
	ing := collections.NewIngester(e.store, nil, collections.IngestConfig{Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	st, err := ing.Ingest(collections.WithRequestID(t.Context(), "req-v"), e.colls[""], "", raws(indicators(1)...))
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if len(st.Failures) != 1 || st.Failures[0].ID != "objects[0]" || !strings.Contains(st.Failures[0].Message, "internal error while validating") {
		t.Errorf("failures %+v, want objects[0] failed by an internal error", st.Failures)
	}
	if diff := cmp.Diff(st, e.status(t, st), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored status (-returned +stored):\n%s", diff)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "validation panicked") || !strings.Contains(logs, "request_id=req-v") {
		t.Errorf("logs lack the panic with its request id:\n%s", logs)
	}
}
