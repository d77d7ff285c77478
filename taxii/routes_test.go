package taxii_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
)

// TestOperationsRoutes: the operations routes live beside the TAXII ones,
// speak plain JSON whatever the Accept header, and answer errors as
// {"error": ...}; TAXII paths keep their negotiation and error resources.
func TestOperationsRoutes(t *testing.T) {
	e := newEnv(t, options{})
	tests := []struct {
		name       string
		method     string
		path       string
		accept     string
		wantStatus int
		wantBody   map[string]any
	}{
		{"health, JSON accepted", "GET", "/healthz", "application/json", 200, map[string]any{"status": "ok"}},
		{"health, no Accept", "GET", "/healthz", "", 200, map[string]any{"status": "ok"}},
		{"health, trailing slash", "GET", "/healthz/", "application/json", 200, map[string]any{"status": "ok"}},
		{"health, TAXII accepted", "GET", "/healthz", "application/taxii+json;version=2.1", 200, map[string]any{"status": "ok"}},
		{"readiness, store answers", "GET", "/readyz", "application/json", 200, map[string]any{"status": "ready"}},
		{"unknown operations path", "GET", "/healthz/deep", "application/json", 404, nil},
		{"unknown admin path", "GET", "/admin/nothing", "application/json", 404, nil},
		{"wrong method", "POST", "/healthz", "application/json", 405, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw(tt.method, tt.path, map[string]string{"Accept": tt.accept}, nil)
			if r.status != tt.wantStatus {
				t.Fatalf("%s %s = %d; want %d\n%s", tt.method, tt.path, r.status, tt.wantStatus, r.raw)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			if tt.wantBody != nil {
				if diff := cmp.Diff(tt.wantBody, r.body); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				return
			}
			if msg, _ := r.body["error"].(string); msg == "" || len(r.body) != 1 {
				t.Errorf("error body = %s; want {\"error\": \"...\"}", r.raw)
			}
		})
	}
	// TAXII paths still negotiate and answer TAXII errors.
	e.do("GET", "/taxii2/", map[string]string{"Accept": "application/json"}, nil).wantError(t, 406)
	e.do("GET", "/healthzz/", nil, nil).wantError(t, 404)
}

// conflictStore answers every page query with a conflict carrying a
// database message, a failure the real store cannot produce on demand.
type conflictStore struct{ collections.Store }

func (conflictStore) Objects(context.Context, collections.Query) (collections.Page, error) {
	return collections.Page{}, fmt.Errorf("UNIQUE constraint failed: objects.raw_id: %w", collections.ErrConflict)
}

func TestConflictIs409(t *testing.T) {
	e := newEnv(t, options{wrap: func(s collections.Store) collections.Store { return conflictStore{s} }})
	r := e.get(objects)
	r.wantError(t, 409)
	if d := fmt.Sprint(r.body["description"]); strings.Contains(d, "UNIQUE") || strings.Contains(d, "raw_id") {
		t.Errorf("409 description leaks the database message: %q", d)
	}
}

// panicStore panics on every page query.
type panicStore struct{ collections.Store }

func (panicStore) Objects(context.Context, collections.Query) (collections.Page, error) {
	panic("index out of range in a page query")
}

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPanicIsInternalError: a panic in a handler is answered with a 500
// TAXII error whose error_id is the request id, is logged with that id, and
// leaves the server serving.
func TestPanicIsInternalError(t *testing.T) {
	var log syncBuffer
	e := newEnv(t, options{log: &log, wrap: func(s collections.Store) collections.Store { return panicStore{s} }})
	r := e.get(objects)
	r.wantError(t, 500)
	id := r.header.Get("X-Request-Id")
	if id == "" || r.body["error_id"] != id {
		t.Errorf("error_id = %v; want the request id %q", r.body["error_id"], id)
	}
	if d := fmt.Sprint(r.body["description"]); strings.Contains(d, "index out of range") {
		t.Errorf("500 description leaks the panic: %q", d)
	}
	if l := log.String(); !strings.Contains(l, "msg=panic") || !strings.Contains(l, "request_id="+id) || !strings.Contains(l, "index out of range") {
		t.Errorf("the panic was not logged with its request id:\n%s", l)
	}
	if r := e.get("/taxii2/"); r.status != 200 {
		t.Errorf("after a panic, discovery = %d", r.status)
	}
}

// idStore records the request id each store call carries in its context.
type idStore struct {
	collections.Store
	mu  sync.Mutex
	ids map[string][]string // method name -> request ids seen
}

func (s *idStore) seen(method string, ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[method] = append(s.ids[method], collections.RequestID(ctx))
}

func (s *idStore) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	s.seen("Objects", ctx)
	return s.Store.Objects(ctx, q)
}

func (s *idStore) AddObjects(ctx context.Context, root, coll string, objs []collections.NewObject, opts collections.AddOptions) ([]collections.AddResult, error) {
	s.seen("AddObjects", ctx)
	return s.Store.AddObjects(ctx, root, coll, objs, opts)
}

// TestRequestIDInContext: the store (directly and through the ingester)
// sees the request id the client gets in X-Request-Id.
func TestRequestIDInContext(t *testing.T) {
	st := &idStore{ids: map[string][]string{}}
	e := newEnv(t, options{wrap: func(s collections.Store) collections.Store { st.Store = s; return st }})
	post := e.push(envelope(obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", "2021-01-01T00:00:00.000Z")))
	get := e.get(objects)
	want := map[string][]string{
		"AddObjects": {post.header.Get("X-Request-Id")},
		"Objects":    {get.header.Get("X-Request-Id")},
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if diff := cmp.Diff(want, st.ids); diff != "" {
		t.Errorf("request ids seen by the store (-want +got):\n%s", diff)
	}
}
