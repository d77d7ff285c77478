package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

const (
	collID   = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	otherID  = "52892447-4d7e-4f70-b94d-d7f22742ff63"
	objects  = "/api1/collections/" + collID + "/objects/"
	manifest = "/api1/collections/" + collID + "/manifest/"
)

// env is a taxiid server on a real listener over the embedded store.
type env struct {
	t     *testing.T
	url   string
	store collections.Store
	srv   *taxii.Server
}

type options struct {
	syncLimit        int
	maxContentLength int64
	maxPageBytes     int
	authorizer       taxii.Authorizer
	// wrap, when set, stands between the server and the store: a fake for
	// failures the real store cannot produce on demand.
	wrap func(collections.Store) collections.Store
	log  io.Writer // the server's log; discarded when nil
	// config, when set, adjusts the server's configuration.
	config func(*taxii.Config)
	// sendBuffer, when set, is the socket send buffer of the server's
	// connections, so that a client that stops reading blocks the server
	// after that many bytes rather than the system's default.
	sendBuffer int
}

// sendBufferListener sets the send buffer of the connections it accepts.
type sendBufferListener struct {
	net.Listener
	size int
}

func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(l.size)
	}
	return c, err
}

func newEnv(t *testing.T, opts options) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	if opts.maxContentLength == 0 {
		opts.maxContentLength = 10 << 20
	}
	if opts.authorizer == nil {
		opts.authorizer = allowAll{}
	}
	must(t, store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: opts.maxContentLength}))
	must(t, store.PutCollection(ctx, collections.Collection{
		APIRoot: "api1", ID: collID, Alias: "main", Title: "Main",
		MediaTypes: []string{"application/stix+json;version=2.1"},
	}))
	must(t, store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: otherID, Title: "Other"}))
	logger := slog.New(slog.DiscardHandler)
	if opts.log != nil {
		logger = slog.New(slog.NewTextHandler(opts.log, nil))
	}
	var served collections.Store = store
	if opts.wrap != nil {
		served = opts.wrap(store)
	}
	ing := collections.NewIngester(served, newValidator(t), collections.IngestConfig{SyncLimit: opts.syncLimit, Logger: logger})
	cfg := taxii.Config{
		Store: served, Ingester: ing, Authorizer: opts.authorizer,
		Title: "test server", PageSize: 5, MaxPageSize: 20, MaxPageBytes: opts.maxPageBytes,
		Logger: logger,
	}
	if opts.config != nil {
		opts.config(&cfg)
	}
	srv, err := taxii.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	if opts.sendBuffer > 0 {
		hs.Listener = sendBufferListener{hs.Listener, opts.sendBuffer}
	}
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		ing.Wait()
		store.Close()
	})
	return &env{t: t, url: hs.URL, store: store, srv: srv}
}

// newValidator returns the validator of the tests, compiled once.
func newValidator(tb testing.TB) *stix.Validator {
	tb.Helper()
	validatorOnce.Do(func() { validator, validatorErr = stix.NewValidator(stix.Options{}) })
	if validatorErr != nil {
		tb.Fatal(validatorErr)
	}
	return validator
}

var (
	validatorOnce sync.Once
	validator     *stix.Validator
	validatorErr  error
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// response is a decoded HTTP response.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// client is the HTTP client of the tests; no test waits for ever.
var client = &http.Client{Timeout: 30 * time.Second}

// do sends a TAXII request and checks that the response is TAXII.
func (e *env) do(method, path string, header map[string]string, body []byte) response {
	e.t.Helper()
	r := e.raw(method, path, header, body)
	if ct := r.header.Get("Content-Type"); ct != taxii.MediaTypeTAXII {
		e.t.Errorf("%s %s: Content-Type = %q; want %q", method, path, ct, taxii.MediaTypeTAXII)
	}
	return r
}

// raw sends a request (with a TAXII Accept header unless header overrides
// it) and decodes the JSON response, whatever its type.
func (e *env) raw(method, path string, header map[string]string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	if body != nil {
		req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return r
}

func (e *env) get(path string) response { return e.do("GET", path, nil, nil) }

func (e *env) push(body any) response {
	e.t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			e.t.Fatal(err)
		}
	}
	r := e.do("POST", objects, nil, b)
	if r.status != http.StatusAccepted {
		e.t.Fatalf("POST objects = %d; want 202\n%s", r.status, r.raw)
	}
	return r
}

// wantError checks a TAXII error resource with the given status.
func (r response) wantError(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d; want %d\n%s", r.status, status, r.raw)
	}
	if r.body["title"] == nil || r.body["title"] == "" {
		t.Errorf("error resource has no title: %s", r.raw)
	}
	if got := r.body["http_status"]; got != fmt.Sprint(status) {
		t.Errorf("http_status = %v; want %d", got, status)
	}
}

// obj returns a valid STIX 2.1 object of type indicator or malware.
func obj(typ, id, modified string, extra ...string) map[string]any {
	o := map[string]any{"type": typ, "spec_version": "2.1", "id": typ + "--" + id, "created": "2020-01-01T00:00:00.000Z", "modified": modified, "name": typ}
	switch typ {
	case "indicator":
		o["pattern"], o["pattern_type"], o["valid_from"] = "[ipv4-addr:value = '198.51.100.7']", "stix", "2020-01-01T00:00:00Z"
	case "malware":
		o["is_family"] = false
	}
	for i := 0; i+1 < len(extra); i += 2 {
		o[extra[i]] = extra[i+1]
	}
	return o
}

func envelope(objs ...map[string]any) map[string]any { return map[string]any{"objects": objs} }

func ids(r response, key string) []string {
	var out []string
	list, _ := r.body[key].([]any)
	for _, o := range list {
		switch v := o.(type) {
		case map[string]any:
			out = append(out, fmt.Sprintf("%v@%v", v["id"], firstOf(v["modified"], v["version"])))
		default:
			out = append(out, fmt.Sprint(v))
		}
	}
	return out
}

func firstOf(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func TestDiscoveryAndAPIRoot(t *testing.T) {
	e := newEnv(t, options{})
	r := e.get("/taxii2/")
	if r.status != 200 {
		t.Fatalf("discovery = %d", r.status)
	}
	want := map[string]any{"title": "test server", "default": "/api1/", "api_roots": []any{"/api1/"}}
	if diff := cmp.Diff(want, r.body); diff != "" {
		t.Errorf("discovery (-want +got):\n%s", diff)
	}

	r = e.get("/api1/")
	want = map[string]any{"title": "API 1", "versions": []any{"application/taxii+json;version=2.1"}, "max_content_length": float64(10 << 20)}
	if diff := cmp.Diff(want, r.body); diff != "" {
		t.Errorf("api root (-want +got):\n%s", diff)
	}
	e.get("/nope/").wantError(t, 404)
	e.get("/nope/collections/").wantError(t, 404)
}

func TestCollections(t *testing.T) {
	e := newEnv(t, options{})
	r := e.get("/api1/collections/")
	if got := ids(r, "collections"); !cmp.Equal(got, []string{otherID + "@<nil>", collID + "@<nil>"}) {
		t.Errorf("collections ids = %v", got)
	}
	main := map[string]any{"id": collID, "alias": "main", "title": "Main", "can_read": true, "can_write": true,
		"media_types": []any{"application/stix+json;version=2.1"}}
	for _, path := range []string{"/api1/collections/" + collID + "/", "/api1/collections/main/", "/api1/collections/" + collID} {
		r := e.get(path)
		if diff := cmp.Diff(main, r.body); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", path, diff)
		}
	}
	e.get("/api1/collections/nope/").wantError(t, 404)
	e.get("/api1/collections/nope/objects/").wantError(t, 404)
}

// TestAliasChanges: a collection named by its alias is found again after
// the alias moves to another collection, is renamed or goes, as the store
// says at each request (aliases change at run time, also through other
// replicas on the same store).
func TestAliasChanges(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	idAt := func(path string) any {
		t.Helper()
		r := e.get(path)
		if r.status != 200 {
			return r.status
		}
		return r.body["id"]
	}
	if got := idAt("/api1/collections/main/"); got != collID {
		t.Fatalf("GET main = %v; want %s", got, collID)
	}
	// The alias moves: the other collection has it now.
	must(t, e.store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: collID, Title: "Main",
		MediaTypes: []string{"application/stix+json;version=2.1"}}))
	must(t, e.store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: otherID, Alias: "main", Title: "Other"}))
	if got := idAt("/api1/collections/main/"); got != otherID {
		t.Errorf("GET main after the alias moved = %v; want %s", got, otherID)
	}
	// Renamed: the old alias names nothing, the new one the collection.
	must(t, e.store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: otherID, Alias: "renamed", Title: "Other"}))
	if got := idAt("/api1/collections/main/"); got != 404 {
		t.Errorf("GET main after the rename = %v; want 404", got)
	}
	if got := idAt("/api1/collections/renamed/"); got != otherID {
		t.Errorf("GET renamed = %v; want %s", got, otherID)
	}
	// Deleted: gone.
	must(t, e.store.DeleteCollection(ctx, "api1", otherID))
	if got := idAt("/api1/collections/renamed/"); got != 404 {
		t.Errorf("GET renamed after the delete = %v; want 404", got)
	}
}

// readOnly lets everyone read the main collection, write nothing, and see
// nothing of the other.
type readOnly struct{}

func (readOnly) CanRead(_ context.Context, _, coll string) bool  { return coll == collID }
func (readOnly) CanWrite(_ context.Context, _, coll string) bool { return false }
func (readOnly) ReadConditions(_ context.Context, _, coll string) (authz.Conditions, bool) {
	return authz.Conditions{}, coll == collID
}

func TestAuthorizerHidesAndForbids(t *testing.T) {
	e := newEnv(t, options{authorizer: readOnly{}})
	r := e.get("/api1/collections/")
	if got := ids(r, "collections"); !cmp.Equal(got, []string{collID + "@<nil>"}) {
		t.Errorf("visible collections = %v; want only %s", got, collID)
	}
	if r := e.get("/api1/collections/" + collID + "/"); r.body["can_write"] != false || r.body["can_read"] != true {
		t.Errorf("collection access = %s", r.raw)
	}
	// The hidden collection answers exactly like a missing one.
	hidden := e.get("/api1/collections/" + otherID + "/objects/")
	missing := e.get("/api1/collections/00000000-0000-4000-8000-000000000000/objects/")
	hidden.wantError(t, 404)
	missing.wantError(t, 404)
	e.do("POST", objects, nil, []byte(`{"objects":[]}`)).wantError(t, 403)
	e.do("DELETE", objects+"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f/", nil, nil).wantError(t, 403)
}

func TestContentNegotiation(t *testing.T) {
	e := newEnv(t, options{})
	for _, accept := range []string{
		"application/taxii+json;version=2.1", "application/taxii+json", "application/taxii+json ; version=2.1",
		"application/taxii+json; version=2.1", "*/*", "", "text/html, application/taxii+json;version=2.1",
	} {
		if r := e.do("GET", "/taxii2/", map[string]string{"Accept": accept}, nil); r.status != 200 {
			t.Errorf("Accept %q: status %d; want 200", accept, r.status)
		}
	}
	for _, accept := range []string{"application/json", "application/taxii+json;version=2.0", "text/html", "application/stix+json;version=2.1"} {
		e.do("GET", "/taxii2/", map[string]string{"Accept": accept}, nil).wantError(t, 406)
		e.do("GET", objects, map[string]string{"Accept": accept}, nil).wantError(t, 406)
	}
	body := []byte(`{"objects":[]}`)
	for _, ct := range []string{"application/json", "", "application/taxii+json;version=2.0", "text/plain"} {
		e.do("POST", objects, map[string]string{"Content-Type": ct}, body).wantError(t, 415)
	}
}

func TestRouterErrorsAreTAXIIErrors(t *testing.T) {
	e := newEnv(t, options{})
	e.get("/api1/collections/"+collID+"/objects/x/y/z/w/").wantError(t, 404)
	e.get("/").wantError(t, 404)
	e.do("PUT", "/taxii2/", nil, nil).wantError(t, 405)
	e.do("DELETE", objects, nil, nil).wantError(t, 405)
	e.do("POST", manifest, nil, []byte(`{}`)).wantError(t, 405)
}

func TestAddObjectsRejectsBadBodies(t *testing.T) {
	e := newEnv(t, options{maxContentLength: 2000})
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"not json", `{"objects": [`, 400},
		{"not json at all", `hello`, 400},
		{"array", `[{"type":"indicator"}]`, 422},
		{"string", `"objects"`, 422},
		{"other stix object", `{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, 422},
		{"no objects", `{"more":false}`, 422},
		{"objects not a list", `{"objects":{"a":1}}`, 422},
		{"empty objects", `{"objects":[]}`, 422},
		{"too large", `{"objects":[` + strings.Repeat(`{"type":"x-big","id":"x-big--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},`, 40) + `{}]}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do("POST", objects, nil, []byte(tt.body)).wantError(t, tt.status)
		})
	}
	// An oversized body sent without Content-Length is cut off at the limit.
	req, _ := http.NewRequest("POST", e.url+objects, io.MultiReader(strings.NewReader(`{"objects":[`), strings.NewReader(strings.Repeat(" ", 5000)+"]}")))
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
	req.ContentLength = -1
	resp, err := client.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversized body: status %d; want 413", resp.StatusCode)
	}
	if r := e.get(objects); r.body["objects"] != nil {
		t.Errorf("rejected bodies stored objects: %s", r.raw)
	}
}

func TestAddObjectsStatus(t *testing.T) {
	e := newEnv(t, options{})
	bundle, err := os.ReadFile("../testdata/bundle.json")
	must(t, err)
	r := e.push(bundle)
	if r.body["status"] != "complete" || r.body["total_count"] != float64(7) || r.body["success_count"] != float64(7) {
		t.Fatalf("bundle status = %s", r.raw)
	}

	good := obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", "2021-01-01T00:00:00.000Z")
	conflict := obj("malware", "31b940d4-6f7f-459a-80ea-9c1f17b5891b", "2023-03-02T12:00:00.000Z") // same version, other content
	same := map[string]any{}
	must(t, json.Unmarshal(mustJSON(t, good), &same))
	r = e.push(map[string]any{"objects": []any{
		good,
		conflict,
		same, // identical re-push inside the same envelope
		map[string]any{"type": "indicator", "id": "indicator--not-a-uuid", "spec_version": "2.1"},
		map[string]any{"type": "malware", "spec_version": "2.1", "id": "malware--2b6ec0d4-0d29-4d43-a3f6-5bd1b8a2c0ab", "created": "yesterday"},
		"not an object",
		map[string]any{"type": "malware", "id": "malware--5b6ec0d4-0d29-4d43-a3f6-5bd1b8a2c0ab", "created": "2020-01-01T00:00:00Z"}, // 2.0: not accepted here
	}})
	body := r.body
	if body["total_count"] != float64(7) || body["success_count"] != float64(2) || body["failure_count"] != float64(5) || body["pending_count"] != float64(0) {
		t.Errorf("counts = %s", r.raw)
	}
	if got := len(body["successes"].([]any)); got != 2 {
		t.Errorf("len(successes) = %d", got)
	}
	msgs := map[string]string{}
	for _, f := range body["failures"].([]any) {
		f := f.(map[string]any)
		msgs[fmt.Sprint(f["id"])] += fmt.Sprint(f["message"])
	}
	for id, want := range map[string]string{
		"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b": "a different object with this id and version already exists",
		"indicator--not-a-uuid":                         "/id",
		"malware--2b6ec0d4-0d29-4d43-a3f6-5bd1b8a2c0ab": "/created",
		"objects[5]": "not a JSON object",
		"malware--5b6ec0d4-0d29-4d43-a3f6-5bd1b8a2c0ab": "spec_version 2.0",
	} {
		if !strings.Contains(msgs[id], want) {
			t.Errorf("failure message for %s = %q; want it to contain %q", id, msgs[id], want)
		}
	}

	// The status is stored and readable later.
	st := e.get("/api1/status/" + fmt.Sprint(body["id"]) + "/")
	if diff := cmp.Diff(body, st.body); diff != "" {
		t.Errorf("GET status differs from POST response (-post +get):\n%s", diff)
	}
	e.get("/api1/status/0b9f3d3e-2c5b-4c1e-9a55-000000000000/").wantError(t, 404)

	// The conflict did not replace the stored malware.
	r = e.get(objects + "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b/")
	if got := r.body["objects"].([]any)[0].(map[string]any)["name"]; got != "Poison Ivy" {
		t.Errorf("stored malware name = %v; want the original", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

func TestObjectsFiltersAndVersions(t *testing.T) {
	e := newEnv(t, options{})
	bundle, err := os.ReadFile("../testdata/bundle.json")
	must(t, err)
	e.push(bundle)
	const ind = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	tests := []struct {
		query string
		want  []string
	}{
		{"?limit=20", []string{
			"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff@2023-02-10T08:00:00.000Z",
			ind + "@2023-04-15T09:30:00.000Z",
			"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b@2023-03-02T12:00:00.000Z",
			"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad@2023-03-02T12:05:00.000Z",
			"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5@<nil>",
			"x-acme-campaign-note--2b6ec0d4-0d29-4d43-a3f6-5bd1b8a2c0aa@2023-05-05T05:05:05.505Z",
		}},
		{"?match[type]=indicator", []string{ind + "@2023-04-15T09:30:00.000Z"}},
		{"?match[type]=indicator&match[version]=first", []string{ind + "@2023-03-01T10:00:00.000Z"}},
		{"?match[type]=indicator&match[version]=all", []string{ind + "@2023-03-01T10:00:00.000Z", ind + "@2023-04-15T09:30:00.000Z"}},
		{"?match[type]=indicator&match[version]=first,last", []string{ind + "@2023-03-01T10:00:00.000Z", ind + "@2023-04-15T09:30:00.000Z"}},
		{"?match[id]=" + ind + "&match[version]=2023-03-01T10:00:00.000Z", []string{ind + "@2023-03-01T10:00:00.000Z"}},
		{"?match[id]=" + ind + "&match[version]=2023-03-01T10:00:00Z", []string{ind + "@2023-03-01T10:00:00.000Z"}},
		{"?match[type]=malware,relationship", []string{
			"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b@2023-03-02T12:00:00.000Z",
			"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad@2023-03-02T12:05:00.000Z",
		}},
		{"?match[type]=malware&match[id]=" + ind, nil},
		{"?match[spec_version]=2.0", nil},
		{"?match[spec_version]=2.1&match[type]=identity", []string{"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff@2023-02-10T08:00:00.000Z"}},
		{"?match[type]=campaign", nil},
	}
	for _, tt := range tests {
		r := e.get(objects + tt.query)
		if r.status != 200 {
			t.Errorf("GET %s = %d %s", tt.query, r.status, r.raw)
			continue
		}
		if diff := cmp.Diff(tt.want, ids(r, "objects")); diff != "" {
			t.Errorf("GET objects%s (-want +got):\n%s", tt.query, diff)
		}
		if tt.want == nil && string(r.raw) != "{}" {
			t.Errorf("GET objects%s: empty result = %s; want {}", tt.query, r.raw)
		}
		for _, h := range []string{"X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"} {
			if _, err := time.Parse("2006-01-02T15:04:05.000000Z", r.header.Get(h)); err != nil {
				t.Errorf("GET objects%s: %s = %q: %v", tt.query, h, r.header.Get(h), err)
			}
		}
	}

	// added_after keeps objects added strictly after the given time.
	all := e.get(objects + "?match[version]=all&limit=20")
	list := all.body["objects"].([]any)
	m := e.get(manifest + "?match[version]=all&limit=20")
	recs := m.body["objects"].([]any)
	if len(recs) != len(list) {
		t.Fatalf("manifest has %d records, objects %d", len(recs), len(list))
	}
	third := recs[2].(map[string]any)
	after := e.get(objects + "?match[version]=all&limit=20&added_after=" + url.QueryEscape(third["date_added"].(string)))
	if got := ids(after, "objects"); !cmp.Equal(got, ids(all, "objects")[3:]) {
		t.Errorf("added_after %v = %v; want %v", third["date_added"], got, ids(all, "objects")[3:])
	}
	if after.header.Get("X-TAXII-Date-Added-First") != recs[3].(map[string]any)["date_added"] ||
		after.header.Get("X-TAXII-Date-Added-Last") != recs[len(recs)-1].(map[string]any)["date_added"] {
		t.Errorf("date added headers %v / %v do not match the manifest", after.header.Get("X-TAXII-Date-Added-First"), after.header.Get("X-TAXII-Date-Added-Last"))
	}
	wantRec := map[string]any{"id": ind, "version": "2023-03-01T10:00:00.000Z", "media_type": "application/stix+json;version=2.1"}
	got := recs[1].(map[string]any)
	delete(got, "date_added")
	if diff := cmp.Diff(wantRec, got); diff != "" {
		t.Errorf("manifest record (-want +got):\n%s", diff)
	}

	// One object, its versions, then deletion.
	r := e.get(objects + ind + "/")
	if got := ids(r, "objects"); !cmp.Equal(got, []string{ind + "@2023-04-15T09:30:00.000Z"}) {
		t.Errorf("GET object = %v", got)
	}
	r = e.get(objects + ind + "/versions/")
	if diff := cmp.Diff([]any{"2023-03-01T10:00:00.000Z", "2023-04-15T09:30:00.000Z"}, r.body["versions"]); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if r.header.Get("X-TAXII-Date-Added-Last") == "" {
		t.Error("versions has no X-TAXII-Date-Added-Last")
	}
	e.get(objects+"indicator--00000000-0000-4000-8000-000000000000/").wantError(t, 404)
	e.get(objects+"indicator--00000000-0000-4000-8000-000000000000/versions/").wantError(t, 404)

	if r := e.do("DELETE", objects+ind+"/?match[version]=2023-04-15T09:30:00.000Z", nil, nil); r.status != 200 {
		t.Fatalf("DELETE version = %d %s", r.status, r.raw)
	}
	r = e.get(objects + ind + "/")
	if got := ids(r, "objects"); !cmp.Equal(got, []string{ind + "@2023-03-01T10:00:00.000Z"}) {
		t.Errorf("after deleting the latest version, GET object = %v; want the earlier version", got)
	}
	if r := e.do("DELETE", objects+ind+"/", nil, nil); r.status != 200 {
		t.Fatalf("DELETE = %d %s", r.status, r.raw)
	}
	e.get(objects+ind+"/").wantError(t, 404)
	e.get(objects+ind+"/versions/").wantError(t, 404)
	e.do("DELETE", objects+ind+"/", nil, nil).wantError(t, 404)
	if got := ids(e.get(objects+"?match[version]=all&match[type]=indicator"), "objects"); got != nil {
		t.Errorf("deleted object still listed: %v", got)
	}
	if got := ids(e.get(manifest+"?match[id]="+ind), "objects"); got != nil {
		t.Errorf("deleted object still in manifest: %v", got)
	}
}

func TestMalformedFilters(t *testing.T) {
	e := newEnv(t, options{})
	for _, q := range []string{
		"limit=0", "limit=-1", "limit=abc", "limit=1.5", "limit=",
		"added_after=yesterday", "added_after=2020-01-01T00:00:00+01:00", "added_after=2020-01-01T00:00:00Z&added_after=2021-01-01T00:00:00Z",
		"match[type]=indicator&match[type]=malware", "match[type]=indicator,,malware",
		"match[version]=all,last", "match[version]=last,last", "match[version]=2020-13-01T00:00:00Z", "match[version]=newest",
		"match[spec_version]=two", "next=garbage",
	} {
		e.get(objects+"?"+q).wantError(t, 400)
		if strings.HasPrefix(q, "match[id]") || strings.HasPrefix(q, "match[type]") {
			continue
		}
		e.get(manifest+"?"+q).wantError(t, 400)
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t, options{})
	var objs []map[string]any
	var want []string // every object, in the order pushed
	for i := range 23 {
		o := obj("indicator", fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "2021-01-01T00:00:00.000Z")
		objs = append(objs, o)
		want = append(want, fmt.Sprintf("%v@2021-01-01T00:00:00.000Z", o["id"]))
	}
	e.push(envelope(objs...))

	for _, base := range []string{objects, manifest} {
		var seen []string
		r := e.get(base + "?limit=10")
		for pages := 1; ; pages++ {
			seen = append(seen, ids(r, "objects")...)
			if r.body["more"] != true {
				if pages != 3 {
					t.Errorf("%s: %d pages; want 3", base, pages)
				}
				break
			}
			next, _ := r.body["next"].(string)
			if next == "" {
				t.Fatalf("%s: more without next: %s", base, r.raw)
			}
			r = e.get(base + "?limit=10&next=" + url.QueryEscape(next))
		}
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("%s: objects paged through (-want +got):\n%s", base, diff)
		}
	}

	// Default and maximum page sizes (5 and 20 in this server).
	if got := ids(e.get(objects), "objects"); !cmp.Equal(got, want[:5]) {
		t.Errorf("default page = %v; want %v", got, want[:5])
	}
	if got := ids(e.get(objects+"?limit=1000000000000"), "objects"); !cmp.Equal(got, want[:20]) {
		t.Errorf("limit above the maximum = %v; want %v", got, want[:20])
	}

	// A token is bound to its query and cannot be forged.
	r := e.get(objects + "?limit=10&match[type]=indicator")
	next := r.body["next"].(string)
	e.get(objects+"?limit=10&next="+url.QueryEscape(next)).wantError(t, 400)
	e.get(objects+"?limit=10&match[type]=malware&next="+url.QueryEscape(next)).wantError(t, 400)
	e.get(manifest+"?limit=10&match[type]=indicator&next="+url.QueryEscape(next)).wantError(t, 400)
	tampered := []byte(next)
	tampered[3] ^= 1
	e.get(objects+"?limit=10&match[type]=indicator&next="+url.QueryEscape(string(tampered))).wantError(t, 400)
	// ... but the page size may change.
	if got := ids(e.get(objects+"?limit=3&match[type]=indicator&next="+url.QueryEscape(next)), "objects"); !cmp.Equal(got, want[10:13]) {
		t.Errorf("token with another limit = %v; want %v", got, want[10:13])
	}
}

func TestEmptyCollection(t *testing.T) {
	e := newEnv(t, options{})
	for _, path := range []string{objects, manifest} {
		r := e.get(path)
		if r.status != 200 || string(r.raw) != "{}" {
			t.Errorf("GET %s on an empty collection = %d %s; want 200 {}", path, r.status, r.raw)
		}
		if r.header.Get("X-TAXII-Date-Added-Last") == "" {
			t.Errorf("GET %s: no X-TAXII-Date-Added-Last", path)
		}
	}
}

func TestAsyncIngestCompletes(t *testing.T) {
	e := newEnv(t, options{syncLimit: 10})
	var objs []map[string]any
	var want []string
	for i := range 2500 {
		o := obj("indicator", fmt.Sprintf("10000000-0000-4000-8000-%012d", i), "2021-01-01T00:00:00.000Z")
		objs = append(objs, o)
		want = append(want, fmt.Sprintf("%v@2021-01-01T00:00:00.000Z", o["id"]))
	}
	r := e.push(envelope(objs...))
	if r.body["status"] != "pending" {
		t.Fatalf("large envelope status = %v; want pending", r.body["status"])
	}
	id := fmt.Sprint(r.body["id"])
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := e.get("/api1/status/" + id + "/")
		b := st.body
		sum := b["success_count"].(float64) + b["failure_count"].(float64) + b["pending_count"].(float64)
		if sum != 2500 || b["total_count"] != float64(2500) {
			t.Fatalf("counts do not add up: %s", st.raw)
		}
		if b["status"] == "complete" {
			if b["success_count"] != float64(2500) || b["pending_count"] != float64(0) {
				t.Fatalf("complete status = %s", st.raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ingest did not complete")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := ids(e.get(manifest+"?limit=20"), "objects"); !cmp.Equal(got, want[:20]) {
		t.Errorf("first manifest page after async ingest = %v; want %v", got, want[:20])
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t, options{})
	must(t, e.store.Close())
	r := e.get(objects)
	r.wantError(t, 500)
	if d := fmt.Sprint(r.body["description"]); strings.Contains(strings.ToLower(d), "sql") || strings.Contains(d, "closed") {
		t.Errorf("500 description leaks detail: %q", d)
	}
	if r.body["error_id"] == nil || r.body["error_id"] != r.header.Get("X-Request-Id") {
		t.Errorf("error_id %v does not match X-Request-Id %q", r.body["error_id"], r.header.Get("X-Request-Id"))
	}
}

// writeOnly lets everyone push to the main collection without reading it.
type writeOnly struct{}

func (writeOnly) CanRead(_ context.Context, _, coll string) bool  { return false }
func (writeOnly) CanWrite(_ context.Context, _, coll string) bool { return coll == collID }
func (writeOnly) ReadConditions(context.Context, string, string) (authz.Conditions, bool) {
	return authz.Conditions{}, false
}

func TestWriteOnlyCollection(t *testing.T) {
	e := newEnv(t, options{authorizer: writeOnly{}})
	e.push(envelope(obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", "2021-01-01T00:00:00.000Z")))
	e.get(objects).wantError(t, 403)
	e.get(manifest).wantError(t, 403)
	e.get(objects+"malware--6b616fc1-1505-48e3-8b2c-0d19337bff38/versions/").wantError(t, 403)
	// TAXII 2.1 section 5.7: deleting needs can_read too.
	e.do("DELETE", objects+"malware--6b616fc1-1505-48e3-8b2c-0d19337bff38/", nil, nil).wantError(t, 403)
}

// TestPageByteBudget: pages of objects stop at the byte budget, with more
// and next, and paging still returns every object once.
func TestPageByteBudget(t *testing.T) {
	e := newEnv(t, options{maxPageBytes: 1000})
	var objs []map[string]any
	var want []string
	for i := range 6 {
		o := obj("indicator", fmt.Sprintf("20000000-0000-4000-8000-%012d", i), "2021-01-01T00:00:00.000Z",
			"description", strings.Repeat("x", 600))
		objs = append(objs, o)
		want = append(want, fmt.Sprintf("%v@2021-01-01T00:00:00.000Z", o["id"]))
	}
	e.push(envelope(objs...))
	var seen []string
	r := e.get(objects + "?limit=20")
	for pages := 1; ; pages++ {
		got := ids(r, "objects")
		if len(got) > 2 {
			t.Fatalf("page of %d objects of ~900 bytes with a 1000-byte budget", len(got))
		}
		seen = append(seen, got...)
		if r.body["more"] != true {
			break
		}
		r = e.get(objects + "?limit=20&next=" + url.QueryEscape(r.body["next"].(string)))
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("objects paged through (-want +got):\n%s", diff)
	}
	// The manifest carries no object bytes: one page.
	if m := e.get(manifest + "?limit=20"); !cmp.Equal(ids(m, "objects"), want) || m.body["more"] != nil {
		t.Errorf("manifest = %s; want the 6 records on one page", m.raw)
	}
}
