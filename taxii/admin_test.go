package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

// adminRequest sends a request to the admin API with a JSON body (raw
// bytes as they are, anything else encoded); the header overrides the
// defaults (Content-Type application/json when there is a body).
func (h *hub) adminRequest(method, path string, header map[string]string, body []byte) response {
	h.t.Helper()
	hdr := map[string]string{"Accept": "application/json"}
	if body != nil {
		hdr["Content-Type"] = "application/json"
	}
	for k, v := range header {
		hdr[k] = v
	}
	r := h.raw(method, path, hdr, body)
	if len(r.raw) > 0 && r.header.Get("Content-Type") != "application/json" {
		h.t.Errorf("%s %s: Content-Type = %q; want application/json", method, path, r.header.Get("Content-Type"))
	}
	return r
}

// wantJSONError checks an admin API error: the status, a JSON body with
// the error, and the challenge of a 401.
func (r response) wantJSONError(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d; want %d\n%s", r.status, status, r.raw)
	}
	if msg, _ := r.body["error"].(string); msg == "" {
		t.Errorf("error body without an error: %s", r.raw)
	}
	if status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") != `Basic realm="taxiid"` {
		t.Errorf("401 with WWW-Authenticate %q; want the Basic challenge", r.header.Get("WWW-Authenticate"))
	}
}

// spec validates requests and answers of the admin API against
// openapi.json, as served.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

// loadSpec reads the OpenAPI document from the server and checks it.
func loadSpec(t *testing.T, h *hub) *spec {
	t.Helper()
	r := h.raw("GET", "/admin/openapi.json", as("root"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /admin/openapi.json as an admin = %d\n%s", r.status, r.raw)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.raw)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s; want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &spec{doc: doc, router: router}
}

// check validates one exchange: the request's route must be in the
// document, a request the server took must match it, and the answer must
// be one of its responses, matching its schema (errors included).
func (s *spec) check(t *testing.T, method, path string, hdr map[string]string, body []byte, r response) {
	t.Helper()
	if method == http.MethodHead || r.status == http.StatusMethodNotAllowed {
		return
	}
	req, err := http.NewRequest(method, "http://hub"+path, bytes.NewReader(body))
	must(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json") // as adminRequest sends it
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s answered %d but is not in openapi.json: %v", method, path, r.status, err)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	// A request the server took must be one the document allows.
	if r.status < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s was answered %d but openapi.json does not allow it: %v", method, path, r.status, err)
		}
		in.Request.Body = io.NopCloser(bytes.NewReader(body))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(r.raw)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: the %d answer does not match openapi.json: %v\n%s", method, path, r.status, err, r.raw)
	}
}

// step is one request of TestAdminAPI.
type step struct {
	who    string // user name signing in with its password; "" anonymous
	method string
	path   string // {name} is replaced by the id of an organization, user or saved record
	body   any    // string: sent as is; nil: none; else encoded
	header map[string]string
	want   int
	field  string // of an error; "-" for none
	save   string // name under which to keep the answer's id
	check  func(t *testing.T, r response)
}

// run sends the steps in order, each answer checked against the OpenAPI
// document. A refused one must change nothing: the policy generation, the
// audit log, the API roots and collections are as before it. The ids of
// organizations and users, and those saved by steps, are kept in saved.
func (h *hub) run(t *testing.T, sp *spec, saved map[string]string, steps []step) {
	t.Helper()
	for name, o := range h.orgs {
		saved[name] = o.ID
	}
	for name, u := range h.users {
		saved[name] = u.ID
	}
	expand := func(s string) string {
		for k, v := range saved {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	for i, st := range steps {
		path := expand(st.path)
		var body []byte
		switch b := st.body.(type) {
		case nil:
		case string:
			body = []byte(expand(b))
		default:
			body = []byte(expand(string(mustJSON(t, b))))
		}
		hdr := as(st.who)
		if hdr == nil {
			hdr = map[string]string{}
		}
		for k, v := range st.header {
			hdr[k] = v
		}
		name := fmt.Sprintf("step %d: %s %s %s", i, nameOf(st.who), st.method, st.path)
		before := h.snapshot(t)
		r := h.adminRequest(st.method, path, hdr, body)
		sp.check(t, st.method, path, hdr, body, r)
		if r.status != st.want {
			t.Errorf("%s = %d; want %d\n%s", name, r.status, st.want, r.raw)
			continue
		}
		if st.want >= 400 {
			r.wantJSONError(t, st.want)
			if field, _ := r.body["field"].(string); st.field != "-" && field != st.field {
				t.Errorf("%s: error field %q; want %q\n%s", name, field, st.field, r.raw)
			}
			if diff := cmp.Diff(before, h.snapshot(t)); diff != "" {
				t.Errorf("%s: refused, but the store changed (-before +after):\n%s", name, diff)
			}
		}
		if st.save != "" {
			id, _ := r.body["id"].(string)
			if id == "" {
				id, _ = r.body["path"].(string)
			}
			saved[st.save] = id
			if st.save == "secret" {
				saved[st.save], _ = r.body["secret"].(string)
				saved["token"] = id
			}
		}
		if st.check != nil {
			t.Run(name, func(t *testing.T) { st.check(t, r) })
		}
	}
}

// snapshot is what a refused admin request must leave as it was.
type snapshot struct {
	Generation  int64
	AuditEvents int
	APIRoots    []collections.APIRoot
	Collections []collections.Collection
}

func (h *hub) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	var err error
	s.Generation, err = h.store.Generation(ctx)
	must(t, err)
	evs, err := h.store.AuditEvents(ctx, authz.AuditFilter{Limit: authz.MaxListLimit})
	must(t, err)
	for _, e := range evs {
		if e.Action != taxii.AuditAdminDenied {
			s.AuditEvents++
		}
	}
	s.APIRoots, err = h.store.APIRoots(ctx)
	must(t, err)
	for _, r := range s.APIRoots {
		cs, err := h.store.Collections(ctx, r.Path)
		must(t, err)
		s.Collections = append(s.Collections, cs...)
	}
	return s
}

// itemIDs are the ids of the items of a listing.
func itemIDs(r response) []string {
	out := []string{}
	items, _ := r.body["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, fmt.Sprint(m["id"]))
	}
	return out
}

func wantBody(t *testing.T, r response, key string, want any) {
	t.Helper()
	if got := r.body[key]; !cmp.Equal(got, want) {
		t.Errorf("%s = %v; want %v\n%s", key, got, want, r.raw)
	}
}

// TestAdminAPI: every admin endpoint with good and bad input, over HTTP
// with the real authenticator and store, every answer matched against
// openapi.json. Refused requests change nothing; accepted changes are
// enforced by the TAXII routes when the answer arrives.
func TestAdminAPI(t *testing.T) {
	h := newHub(t, hubOptions{})
	sp := loadSpec(t, h)
	saved := map[string]string{}
	taxiiAs := func(who, path string) response {
		t.Helper()
		return h.do("GET", path, as(who), nil)
	}
	bearer := func(secret string) map[string]string { return map[string]string{"Authorization": "Bearer " + secret} }
	var secret, generated string
	big := `{"name": "` + strings.Repeat("x", 70<<10) + `"}`
	colls := "/admin/api-roots/api1/collections/"
	grantD := map[string]any{"subject": map[string]any{"kind": "organization", "id": "{D}"}, "api_root": "api1", "collection": collA, "action": "read"}
	grantWith := func(change map[string]any) map[string]any {
		g := map[string]any{}
		for k, v := range grantD {
			g[k] = v
		}
		for k, v := range change {
			g[k] = v
		}
		return g
	}

	h.run(t, sp, saved, []step{
		// Organizations.
		{who: "root", method: "POST", path: "/admin/organizations", body: map[string]any{"name": "D", "description": "third"},
			want: 201, save: "D", check: func(t *testing.T, r response) {
				wantBody(t, r, "name", "D")
				wantBody(t, r, "description", "third")
			}},
		{who: "root", method: "POST", path: "/admin/organizations", body: map[string]any{"name": "D"}, want: 409, field: "name"},
		{who: "root", method: "POST", path: "/admin/organizations", body: map[string]any{"name": 5}, want: 400, field: "name"},
		{who: "root", method: "POST", path: "/admin/organizations", body: map[string]any{"name": "D", "color": "red"}, want: 400, field: "color"},
		{who: "root", method: "POST", path: "/admin/organizations", body: map[string]any{"NAME": "D"}, want: 400, field: "NAME"},
		{who: "root", method: "POST", path: "/admin/organizations", body: `{"name": "D", "name": "E"}`, want: 400, field: "name"},
		{who: "root", method: "POST", path: "/admin/organizations", body: `{"name": "D"`, want: 400, field: ""},
		{who: "root", method: "POST", path: "/admin/organizations", body: `{"name": "D"} {}`, want: 400, field: ""},
		{who: "root", method: "POST", path: "/admin/organizations", body: `["D"]`, want: 400, field: ""},
		{who: "root", method: "POST", path: "/admin/organizations", body: `{"name": "D", "description": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {}}}}}}}}}`, want: 400, field: "description.a.b.c.d.e.f.g"},
		{who: "root", method: "POST", path: "/admin/organizations", body: "", want: 400, field: ""},
		{who: "root", method: "POST", path: "/admin/organizations", body: `{"name": "D"}`, header: map[string]string{"Content-Type": "text/plain"}, want: 415, field: ""},
		{who: "root", method: "POST", path: "/admin/organizations", body: big, want: 413, field: ""},
		{who: "root", method: "GET", path: "/admin/organizations/{D}", want: 200, check: func(t *testing.T, r response) { wantBody(t, r, "name", "D") }},
		{who: "root", method: "PATCH", path: "/admin/organizations/{D}", body: map[string]any{"description": "changed"}, want: 200,
			check: func(t *testing.T, r response) {
				wantBody(t, r, "description", "changed")
				wantBody(t, r, "name", "D")
			}},
		{who: "root", method: "PATCH", path: "/admin/organizations/{D}", body: map[string]any{"name": "A"}, want: 409, field: "name"},
		{who: "root", method: "GET", path: "/admin/organizations/nope", want: 404, field: ""},
		{who: "root", method: "DELETE", path: "/admin/organizations/{A}", want: 409, field: ""},
		{who: "root", method: "GET", path: "/admin/organizations?limit=2", want: 200, check: func(t *testing.T, r response) {
			if diff := cmp.Diff([]string{h.orgs["A"].ID, h.orgs["B"].ID}, itemIDs(r)); diff != "" || r.body["next"] == nil {
				t.Errorf("first page of 2 organizations (-want +got):\n%s\n%s", diff, r.raw)
			}
		}},
		{who: "root", method: "GET", path: "/admin/organizations?limit=0", want: 400, field: "limit"},
		{who: "root", method: "GET", path: "/admin/organizations?limit=x", want: 400, field: "limit"},
		{who: "root", method: "GET", path: "/admin/organizations?cursor=***", want: 400, field: "cursor"},
		{who: "root", method: "GET", path: "/admin/organizations?colour=red", want: 400, field: "colour"},
		{who: "root", method: "GET", path: "/admin/organizations?limit=1&limit=2", want: 400, field: "limit"},

		// Users.
		{who: "root", method: "POST", path: "/admin/users", body: map[string]any{"name": "dave", "organization_id": "{D}", "password": password("dave")},
			want: 201, save: "dave", check: func(t *testing.T, r response) {
				wantBody(t, r, "role", "member")
				wantBody(t, r, "has_password", true)
				if strings.Contains(string(r.raw), "argon2") {
					t.Errorf("the answer shows the password hash: %s", r.raw)
				}
				if r := h.adminRequest("GET", "/admin/me", as("dave"), nil); r.status != 200 || r.body["name"] != "dave" {
					t.Errorf("dave signs in with its password: %d %s", r.status, r.raw)
				}
			}},
		{who: "root", method: "POST", path: "/admin/users", body: map[string]any{"name": "dan", "organization_id": "nope"}, want: 400, field: "organization_id"},
		{who: "root", method: "POST", path: "/admin/users", body: map[string]any{"name": "dan"}, want: 400, field: "organization_id"},
		{who: "root", method: "POST", path: "/admin/users", body: map[string]any{"name": "dan", "organization_id": "{D}", "role": "root"}, want: 400, field: "role"},
		{who: "root", method: "POST", path: "/admin/users", body: map[string]any{"name": "dan", "organization_id": "{D}", "disabled": "yes"}, want: 400, field: "disabled"},
		{who: "root", method: "POST", path: "/admin/users", body: map[string]any{"name": "dan:x", "organization_id": "{D}"}, want: 400, field: "name"},
		{who: "root", method: "POST", path: "/admin/users", body: map[string]any{"name": "dan", "organization_id": "{D}", "password": "short"}, want: 400, field: "password"},
		{who: "root", method: "POST", path: "/admin/users", body: map[string]any{"name": "dave", "organization_id": "{A}"}, want: 409, field: "name"},
		{who: "olga", method: "POST", path: "/admin/users", body: map[string]any{"name": "anna"}, want: 201, save: "anna",
			check: func(t *testing.T, r response) { wantBody(t, r, "organization_id", h.orgs["A"].ID) }},
		{who: "olga", method: "POST", path: "/admin/users", body: map[string]any{"name": "eve", "role": "admin"}, want: 403, field: "-"},
		{who: "olga", method: "POST", path: "/admin/users", body: map[string]any{"name": "eve", "organization_id": "{B}"}, want: 400, field: "organization_id"},
		{who: "olga", method: "PATCH", path: "/admin/users/{bob}", body: map[string]any{"disabled": true}, want: 404, field: ""},
		{who: "olga", method: "PATCH", path: "/admin/users/{anna}", body: map[string]any{"role": "org-admin"}, want: 200,
			check: func(t *testing.T, r response) { wantBody(t, r, "role", "org-admin") }},
		{who: "olga", method: "PATCH", path: "/admin/users/{anna}", body: map[string]any{"password": password("anna")}, want: 400, field: "password"},
		{who: "root", method: "PATCH", path: "/admin/users/{root}", body: map[string]any{"role": "member"}, want: 409, field: "role"},
		{who: "root", method: "GET", path: "/admin/users?organization_id={A}", want: 200, check: func(t *testing.T, r response) {
			want := []string{h.users["alice"].ID, saved["anna"], h.users["olga"].ID}
			if diff := cmp.Diff(want, itemIDs(r)); diff != "" {
				t.Errorf("users of A (-want +got):\n%s", diff)
			}
		}},
		{who: "root", method: "POST", path: "/admin/users/{dave}/password", body: map[string]any{}, want: 200,
			check: func(t *testing.T, r response) {
				generated, _ = r.body["password"].(string)
				if len(generated) < authz.MinPasswordLen {
					t.Fatalf("generated password %q", generated)
				}
				if r := h.adminRequest("GET", "/admin/me", as("dave"), nil); r.status != 401 {
					t.Errorf("dave's old password after the reset = %d; want 401", r.status)
				}
				basic := map[string]string{"Authorization": basicAuth("dave", generated)}
				if r := h.adminRequest("GET", "/admin/me", basic, nil); r.status != 200 {
					t.Errorf("dave's new password = %d; want 200\n%s", r.status, r.raw)
				}
			}},
		{who: "root", method: "POST", path: "/admin/users/{dave}/password", want: 200, check: func(t *testing.T, r response) {
			if p, _ := r.body["password"].(string); p == "" || p == generated {
				t.Errorf("a reset without a body made password %q; want a new one", p)
			}
		}},
		{who: "root", method: "POST", path: "/admin/users/{dave}/password", body: map[string]any{"password": "short"}, want: 400, field: "password"},
		{who: "root", method: "POST", path: "/admin/users/{dave}/password", body: map[string]any{"password": password("dave")}, want: 200,
			check: func(t *testing.T, r response) {
				if _, ok := r.body["password"]; ok {
					t.Errorf("a reset to a given password shows a password: %s", r.raw)
				}
			}},

		// Tokens.
		{who: "alice", method: "POST", path: "/admin/users/{alice}/tokens", body: map[string]any{"name": "laptop", "expires_at": "2999-01-01T00:00:00Z"},
			want: 201, save: "secret", check: func(t *testing.T, r response) {
				secret, _ = r.body["secret"].(string)
				if !authz.WellFormedToken(secret) || !strings.HasPrefix(secret, r.body["prefix"].(string)) {
					t.Errorf("token secret %q, prefix %v", secret, r.body["prefix"])
				}
				if r := h.adminRequest("GET", "/admin/me", bearer(secret), nil); r.status != 200 || r.body["name"] != "alice" {
					t.Errorf("the new token signs in as %v (%d); want alice", r.body["name"], r.status)
				}
			}},
		{who: "alice", method: "POST", path: "/admin/users/{alice}/tokens", body: map[string]any{"name": "laptop"}, want: 409, field: "name"},
		{who: "alice", method: "POST", path: "/admin/users/{alice}/tokens", body: map[string]any{"name": "x", "expires_at": "tomorrow"}, want: 400, field: "expires_at"},
		{who: "alice", method: "POST", path: "/admin/users/{alice}/tokens", body: map[string]any{"name": "x", "expires_at": "2000-01-01T00:00:00Z"}, want: 400, field: "expires_at"},
		{who: "alice", method: "POST", path: "/admin/users/{alice}/tokens", body: map[string]any{}, want: 400, field: "name"},
		{who: "alice", method: "GET", path: "/admin/users/{alice}/tokens/{token}", want: 200, check: func(t *testing.T, r response) {
			wantBody(t, r, "name", "laptop")
			if _, ok := r.body["secret"]; ok {
				t.Errorf("a token read shows its secret: %s", r.raw)
			}
		}},
		{who: "bob", method: "GET", path: "/admin/users/{alice}/tokens", want: 403, field: ""},
		{who: "bob", method: "GET", path: "/admin/users/{bob}/tokens/{token}", want: 404, field: ""},
		{who: "alice", method: "POST", path: "/admin/users/{alice}/tokens/{token}/revoke", want: 200, check: func(t *testing.T, r response) {
			wantBody(t, r, "active", false)
			if r := h.adminRequest("GET", "/admin/me", bearer(secret), nil); r.status != 401 {
				t.Errorf("the revoked token = %d; want 401 at once", r.status)
			}
		}},
		{who: "bob", method: "POST", path: "/admin/users/{bob}/tokens/{token}/revoke", want: 404, field: ""},
		{who: "alice", method: "POST", path: "/admin/users/{alice}/tokens/{token}/revoke", body: map[string]any{"now": true}, want: 400, field: "now"},
		{who: "alice", method: "DELETE", path: "/admin/users/{alice}/tokens/{token}", want: 204},
		{who: "alice", method: "GET", path: "/admin/users/{alice}/tokens/{token}", want: 404, field: ""},

		// Grants.
		{who: "root", method: "POST", path: "/admin/grants", body: grantD, want: 201, save: "gD", check: func(t *testing.T, r response) {
			if r := taxiiAs("dave", "/api1/collections/"+collA+"/objects/"); r.status != 200 {
				t.Errorf("dave (of D) reads collA once D was granted read = %d; want 200", r.status)
			}
		}},
		{who: "root", method: "POST", path: "/admin/grants", body: grantD, want: 409, field: ""},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"subject": map[string]any{"kind": "organization", "id": "nope"}}), want: 400, field: "subject.id"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"subject": map[string]any{"kind": "team", "id": "{D}"}}), want: 400, field: "subject.kind"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"subject": map[string]any{"kind": "organization", "id": "{D}", "x": 1}}), want: 400, field: "subject.x"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"subject": "organization"}), want: 400, field: "subject"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"collection": missingColl}), want: 400, field: "collection"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"api_root": "nope"}), want: 400, field: "api_root"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"action": "delete"}), want: 400, field: "action"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"subject": map[string]any{"kind": "public"}, "action": "write"}), want: 400, field: "action"},
		{who: "olga", method: "POST", path: "/admin/grants", body: grantD, want: 403, field: ""},
		{who: "root", method: "GET", path: "/admin/grants?subject_kind=organization&subject_id={D}", want: 200, check: func(t *testing.T, r response) {
			if diff := cmp.Diff([]string{saved["gD"]}, itemIDs(r)); diff != "" {
				t.Errorf("grants of D (-want +got):\n%s", diff)
			}
		}},
		{who: "root", method: "GET", path: "/admin/grants?subject_kind=organization&subject_id=nope", want: 404, field: ""},
		{who: "root", method: "GET", path: "/admin/grants?action=own", want: 400, field: "action"},
		{who: "root", method: "GET", path: colls + collA + "/access", want: 200, check: func(t *testing.T, r response) {
			if !slices.Contains(itemIDs(r), saved["gD"]) {
				t.Errorf("who reaches collA: %s; want D's grant among them", r.raw)
			}
		}},
		{who: "root", method: "GET", path: colls + missingColl + "/access", want: 404, field: ""},
		{who: "root", method: "GET", path: "/admin/organizations/{D}/access", want: 200, check: func(t *testing.T, r response) {
			items, _ := r.body["items"].([]any)
			var got []string
			for _, it := range items {
				g := it.(map[string]any)
				s := g["subject"].(map[string]any)
				got = append(got, fmt.Sprintf("%v %v %v %v", s["kind"], s["name"], g["collection"], g["action"]))
			}
			// In creation order: the public grant is the hub's, older.
			want := []string{"public <nil> " + collPublic + " read", "organization D " + collA + " read"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("what D reaches (-want +got):\n%s", diff)
			}
		}},
		// Sharing conditions: set with a grant or replaced on their own,
		// in force when the answer arrives.
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", want: 200,
			body: map[string]any{"max_tlp": "TLP:AMBER", "embargo_seconds": 86400, "hide_creator": true, "hide_sources": []string{"internal"}},
			check: func(t *testing.T, r response) {
				want := map[string]any{"max_tlp": "amber", "embargo_seconds": 86400.0, "hide_creator": true, "hide_sources": []any{"internal"}}
				wantBody(t, r, "conditions", want)
				wantBody(t, r, "id", saved["gD"])
				got, ok := readConditions(h, "dave", collA)
				if wantC := (authz.Conditions{MaxTLP: stix.TLPAmber, Embargo: 24 * time.Hour, HideCreator: true,
					HideSources: []string{"internal"}}); !ok || !got.Equal(wantC) {
					t.Errorf("dave reads collA with %+v, %v; want %+v at once", got, ok, wantC)
				}
				ev := lastEvent(t, h, "admin.grant.update")
				d := ev["details"].(map[string]any)
				before := d["before"].(map[string]any)["conditions"]
				after := d["after"].(map[string]any)["conditions"]
				if diff := cmp.Diff(map[string]any{"embargo_seconds": 0.0, "hide_creator": false, "hide_sources": []any{}}, before); diff != "" {
					t.Errorf("audited conditions before (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(want, after); diff != "" {
					t.Errorf("audited conditions after (-want +got):\n%s", diff)
				}
				if ev["api_root"] != "api1" || ev["collection"] != collA || ev["user_name"] != "root" {
					t.Errorf("conditions change audited as %v", ev)
				}
			}},
		{who: "root", method: "GET", path: "/admin/grants/{gD}", want: 200, check: func(t *testing.T, r response) {
			wantBody(t, r, "conditions", map[string]any{"max_tlp": "amber", "embargo_seconds": 86400.0, "hide_creator": true, "hide_sources": []any{"internal"}})
		}},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{"max_tlp": "purple"}, want: 400, field: "max_tlp"},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{"embargo_seconds": -1}, want: 400, field: "embargo_seconds"},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{"embargo_seconds": 31536001}, want: 400, field: "embargo_seconds"},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{"embargo_seconds": 1.5}, want: 400, field: "embargo_seconds"},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{"hide_sources": []string{"a", "a"}}, want: 400, field: "hide_sources"},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{"hide_sources": "a"}, want: 400, field: "hide_sources"},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{"max_tlp": "red", "colour": "red"}, want: 400, field: "colour"},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: "", want: 400, field: ""},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: `{"max_tlp": "red"}`, header: map[string]string{"Content-Type": "text/plain"}, want: 415, field: ""},
		{who: "root", method: "PUT", path: "/admin/grants/nope/conditions", body: map[string]any{"max_tlp": "red"}, want: 404, field: ""},
		{who: "olga", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{"max_tlp": "red"}, want: 403, field: ""},
		{who: "root", method: "POST", path: "/admin/grants", want: 201, save: "gDw", body: grantWith(map[string]any{"action": "write"}),
			check: func(t *testing.T, r response) {
				if _, ok := r.body["conditions"]; ok {
					t.Errorf("a write grant shows conditions: %s", r.raw)
				}
			}},
		{who: "root", method: "PUT", path: "/admin/grants/{gDw}/conditions", body: map[string]any{"hide_creator": true}, want: 400, field: ""},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"collection": collPublic, "action": "write",
			"conditions": map[string]any{"max_tlp": "red"}}), want: 400, field: "conditions"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"collection": collPublic,
			"conditions": map[string]any{"max_tlp": "red", "x": 1}}), want: 400, field: "conditions.x"},
		{who: "root", method: "POST", path: "/admin/grants", body: grantWith(map[string]any{"collection": collPublic,
			"conditions": map[string]any{"hide_sources": []string{""}}}), want: 400, field: "conditions.hide_sources"},
		{who: "root", method: "POST", path: "/admin/grants", want: 201, save: "gDp", body: grantWith(map[string]any{"collection": collPublic,
			"conditions": map[string]any{"max_tlp": "white", "hide_creator": true}}),
			check: func(t *testing.T, r response) {
				wantBody(t, r, "conditions", map[string]any{"max_tlp": "clear", "embargo_seconds": 0.0, "hide_creator": true, "hide_sources": []any{}})
				// D's grant, more specific than the public one, decides.
				got, ok := readConditions(h, "dave", collPublic)
				if want := (authz.Conditions{MaxTLP: stix.TLPClear, HideCreator: true}); !ok || !got.Equal(want) {
					t.Errorf("dave reads the public collection with %+v, %v; want %+v", got, ok, want)
				}
				if got, ok := readConditions(h, "", collPublic); !ok || !got.IsZero() {
					t.Errorf("anonymous reads the public collection with %+v, %v; want no conditions", got, ok)
				}
			}},
		{who: "root", method: "PUT", path: "/admin/grants/{gD}/conditions", body: map[string]any{}, want: 200, check: func(t *testing.T, r response) {
			wantBody(t, r, "conditions", map[string]any{"embargo_seconds": 0.0, "hide_creator": false, "hide_sources": []any{}})
			if got, ok := readConditions(h, "dave", collA); !ok || !got.IsZero() {
				t.Errorf("dave reads collA with %+v, %v once the conditions were lifted; want none", got, ok)
			}
		}},
		{who: "root", method: "DELETE", path: "/admin/grants/{gDw}", want: 204},
		{who: "root", method: "DELETE", path: "/admin/grants/{gDp}", want: 204},
		{who: "root", method: "DELETE", path: "/admin/grants/{gD}", want: 204, check: func(t *testing.T, r response) {
			if r := taxiiAs("dave", "/api1/collections/"+collA+"/objects/"); r.status != 404 {
				t.Errorf("dave reads collA after the grant was revoked = %d; want 404 at once", r.status)
			}
		}},
		{who: "root", method: "GET", path: "/admin/grants/{gD}", want: 404, field: ""},

		// API roots and collections, at run time.
		{who: "root", method: "POST", path: "/admin/api-roots", body: map[string]any{"path": "api9", "title": "Nine"}, want: 201,
			check: func(t *testing.T, r response) {
				wantBody(t, r, "max_content_length", float64(authz.DefaultMaxContentLength))
				if r := taxiiAs("root", "/api9/"); r.status != 200 || r.body["title"] != "Nine" {
					t.Errorf("GET /api9/ once created = %d %s", r.status, r.raw)
				}
			}},
		{who: "root", method: "POST", path: "/admin/api-roots", body: map[string]any{"path": "admin", "title": "x"}, want: 400, field: "path"},
		{who: "root", method: "POST", path: "/admin/api-roots", body: map[string]any{"path": "a/b", "title": "x"}, want: 400, field: "path"},
		{who: "root", method: "POST", path: "/admin/api-roots", body: map[string]any{"path": "api9", "title": "x"}, want: 409, field: "path"},
		{who: "root", method: "POST", path: "/admin/api-roots", body: map[string]any{"path": "api8", "title": "x", "max_content_length": "big"}, want: 400, field: "max_content_length"},
		{who: "root", method: "POST", path: "/admin/api-roots", body: map[string]any{"path": "api8", "title": "x", "max_content_length": 1.5}, want: 400, field: "max_content_length"},
		{who: "olga", method: "POST", path: "/admin/api-roots", body: map[string]any{"path": "api8", "title": "x"}, want: 403, field: ""},
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9", body: map[string]any{"title": "Nine!"}, want: 200,
			check: func(t *testing.T, r response) { wantBody(t, r, "title", "Nine!") }},
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9", body: map[string]any{"path": "api7"}, want: 400, field: "path"},
		{who: "root", method: "POST", path: "/admin/api-roots/api9/collections", body: map[string]any{"title": "Fresh", "alias": "fresh"}, want: 201, save: "fresh",
			check: func(t *testing.T, r response) {
				wantBody(t, r, "media_types", []any{"application/stix+json;version=2.1"})
				wantBody(t, r, "unmarked_tlp", "red")
				if r := taxiiAs("root", "/api9/collections/fresh/"); r.status != 200 {
					t.Errorf("the new collection by its alias = %d; want 200\n%s", r.status, r.raw)
				}
				if r := taxiiAs("alice", "/api9/collections/fresh/"); r.status != 404 {
					t.Errorf("the new collection, to a member without grants = %d; want 404", r.status)
				}
			}},
		{who: "root", method: "POST", path: "/admin/api-roots/api9/collections", body: map[string]any{"title": "Other", "alias": "fresh"}, want: 409, field: "alias"},
		{who: "root", method: "POST", path: "/admin/api-roots/api9/collections", body: map[string]any{"id": collA, "title": "Other"}, want: 409, field: "id"},
		{who: "root", method: "POST", path: "/admin/api-roots/api9/collections", body: map[string]any{"id": "NOT-A-UUID", "title": "Other"}, want: 400, field: "id"},
		{who: "root", method: "POST", path: "/admin/api-roots/api9/collections", body: map[string]any{"title": "Other", "media_types": "application/stix+json"}, want: 400, field: "media_types"},
		{who: "root", method: "POST", path: "/admin/api-roots/nope/collections", body: map[string]any{"title": "x"}, want: 404, field: ""},
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9/collections/{fresh}", body: map[string]any{"description": "d", "validation": "strict"}, want: 200,
			check: func(t *testing.T, r response) { wantBody(t, r, "validation", "strict") }},
		{who: "root", method: "GET", path: "/admin/api-roots/api9/collections/{fresh}", want: 200, check: func(t *testing.T, r response) {
			wantBody(t, r, "alias", "fresh")
			wantBody(t, r, "description", "d")
			wantBody(t, r, "declared", false)
		}},
		{who: "root", method: "GET", path: "/admin/api-roots/api9/collections/" + missingColl, want: 404, field: ""},
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9/collections/{fresh}", body: map[string]any{"id": collA}, want: 400, field: "id"},
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9/collections/{fresh}", body: map[string]any{"validation": "lax"}, want: 400, field: "validation"},
		// The level recorded for unmarked versions: red unless set, set by
		// name, stored for ingest, not a property of the TAXII resource.
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9/collections/{fresh}", body: map[string]any{"unmarked_tlp": "TLP:Green"}, want: 200,
			check: func(t *testing.T, r response) {
				wantBody(t, r, "unmarked_tlp", "green")
				wantBody(t, r, "validation", "strict")
				c, err := h.store.Collection(context.Background(), "api9", saved["fresh"])
				if err != nil || c.UnmarkedTLP != stix.TLPGreen {
					t.Errorf("stored collection %+v, %v; want UnmarkedTLP green", c, err)
				}
				if r := taxiiAs("root", "/api9/collections/fresh/"); r.status != 200 || r.body["unmarked_tlp"] != nil {
					t.Errorf("TAXII collection resource = %d %s; want 200 without unmarked_tlp", r.status, r.raw)
				}
			}},
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9/collections/{fresh}", body: map[string]any{"unmarked_tlp": "purple"}, want: 400, field: "unmarked_tlp"},
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9/collections/{fresh}", body: map[string]any{"unmarked_tlp": 2}, want: 400, field: "-"},
		{who: "root", method: "PATCH", path: "/admin/api-roots/api9/collections/{fresh}", body: map[string]any{"unmarked_tlp": ""}, want: 200,
			check: func(t *testing.T, r response) {
				wantBody(t, r, "unmarked_tlp", "red")
				c, err := h.store.Collection(context.Background(), "api9", saved["fresh"])
				if err != nil || c.UnmarkedTLP != stix.TLPNone {
					t.Errorf("stored collection %+v, %v; want UnmarkedTLP none (red)", c, err)
				}
			}},
		{who: "root", method: "POST", path: "/admin/api-roots/api9/collections", body: map[string]any{"title": "Other", "unmarked_tlp": "none"}, want: 400, field: "unmarked_tlp"},
		{who: "root", method: "POST", path: "/admin/api-roots/api9/collections", body: map[string]any{"title": "Graded", "unmarked_tlp": "amber+strict"}, want: 201, save: "graded",
			check: func(t *testing.T, r response) {
				wantBody(t, r, "unmarked_tlp", "amber+strict")
				c, err := h.store.Collection(context.Background(), "api9", r.body["id"].(string))
				if err != nil || c.UnmarkedTLP != stix.TLPAmberStrict {
					t.Errorf("stored collection %+v, %v; want UnmarkedTLP amber+strict", c, err)
				}
			}},
		{who: "root", method: "DELETE", path: "/admin/api-roots/api9/collections/{graded}", want: 204},
		{who: "root", method: "GET", path: "/admin/api-roots", want: 200, check: func(t *testing.T, r response) {
			items, _ := r.body["items"].([]any)
			var paths []string
			for _, it := range items {
				paths = append(paths, it.(map[string]any)["path"].(string))
			}
			if diff := cmp.Diff([]string{"api1", "api2", "api9", "dark", "empty"}, paths); diff != "" {
				t.Errorf("API roots (-want +got):\n%s", diff)
			}
		}},
		{who: "root", method: "GET", path: "/admin/api-roots/api9/collections", want: 200, check: func(t *testing.T, r response) {
			if diff := cmp.Diff([]string{saved["fresh"]}, itemIDs(r)); diff != "" {
				t.Errorf("collections of api9 (-want +got):\n%s", diff)
			}
		}},
		{who: "root", method: "DELETE", path: "/admin/api-roots/api9", want: 409, field: ""},
		{who: "root", method: "DELETE", path: "/admin/api-roots/api9/collections/{fresh}", want: 204, check: func(t *testing.T, r response) {
			if r := taxiiAs("root", "/api9/collections/fresh/"); r.status != 404 {
				t.Errorf("the deleted collection = %d; want 404", r.status)
			}
		}},
		{who: "root", method: "DELETE", path: "/admin/api-roots/api9", want: 204},
		{who: "root", method: "GET", path: "/admin/api-roots/api9", want: 404, field: ""},

		// Audit.
		{who: "root", method: "GET", path: "/admin/audit?action=admin.organization.update", want: 200, check: func(t *testing.T, r response) {
			items, _ := r.body["items"].([]any)
			if len(items) != 1 {
				t.Fatalf("organization updates audited: %s", r.raw)
			}
			ev := items[0].(map[string]any)
			d := ev["details"].(map[string]any)
			if ev["user_name"] != "root" || ev["source_address"] == "" || ev["request_id"] == "" ||
				d["before"].(map[string]any)["description"] != "third" || d["after"].(map[string]any)["description"] != "changed" {
				t.Errorf("the organization update's event: %v", ev)
			}
		}},
		{who: "root", method: "GET", path: "/admin/audit?since=yesterday", want: 400, field: "since"},
		{who: "root", method: "GET", path: "/admin/audit?collection=" + collA, want: 400, field: "api_root"},
		{who: "olga", method: "GET", path: "/admin/audit", want: 200, check: func(t *testing.T, r response) {
			items, _ := r.body["items"].([]any)
			if len(items) == 0 {
				t.Errorf("olga sees no event of A (she created anna)")
			}
			for _, it := range items {
				if ev := it.(map[string]any); ev["organization_id"] != h.orgs["A"].ID {
					t.Errorf("olga sees an event of another organization: %v", ev)
				}
			}
		}},
		{who: "olga", method: "GET", path: "/admin/audit?organization_id={B}", want: 404, field: ""},

		// Deletions take effect at once.
		{who: "root", method: "DELETE", path: "/admin/organizations/{D}", want: 409, field: ""},
		{who: "root", method: "DELETE", path: "/admin/users/{dave}", want: 204, check: func(t *testing.T, r response) {
			if r := h.adminRequest("GET", "/admin/me", as("dave"), nil); r.status != 401 {
				t.Errorf("the deleted user signs in: %d", r.status)
			}
		}},
		{who: "root", method: "DELETE", path: "/admin/organizations/{D}", want: 204},
		{who: "root", method: "DELETE", path: "/admin/users/{root}", want: 409, field: ""},
	})
}

// TestAdminAuthentication: anonymous requests get 401 with the challenge,
// members 403 on everything but their own tokens, and the API answers
// tokens as it answers passwords.
func TestAdminAuthentication(t *testing.T) {
	h := newHub(t, hubOptions{audit: true})
	paths := []string{
		"/admin/openapi.json", "/admin/me", "/admin/organizations", "/admin/users", "/admin/grants", "/admin/api-roots",
		"/admin/api-roots/api1/collections", "/admin/audit", "/admin/organizations/" + h.orgs["A"].ID,
		"/admin/users/" + h.users["alice"].ID + "/tokens",
	}
	for _, p := range paths {
		h.adminRequest("GET", p, nil, nil).wantJSONError(t, 401)
		h.adminRequest("GET", p, map[string]string{"Authorization": basicAuth("alice", "wrong password")}, nil).wantJSONError(t, 401)
	}
	for _, p := range paths {
		r := h.adminRequest("GET", p, as("alice"), nil)
		switch p {
		case "/admin/me", "/admin/users/" + h.users["alice"].ID + "/tokens":
			if r.status != 200 {
				t.Errorf("alice GET %s = %d; want 200\n%s", p, r.status, r.raw)
			}
		default:
			r.wantJSONError(t, 403)
		}
		token := map[string]string{"Authorization": "Token " + h.tokens["root"]}
		if r := h.adminRequest("GET", p, token, nil); r.status != 200 {
			t.Errorf("root with a token GET %s = %d; want 200\n%s", p, r.status, r.raw)
		}
	}
	// Refusals are audited.
	h.audit.Close()
	evs, err := h.store.AuditEvents(context.Background(), authz.AuditFilter{Action: taxii.AuditAdminDenied, Limit: 100})
	must(t, err)
	denied := map[string]int{}
	for _, e := range evs {
		var d struct{ Status int }
		must(t, json.Unmarshal(e.Details, &d))
		denied[fmt.Sprintf("%s %d", nameOf(e.UserName), d.Status)]++
	}
	if diff := cmp.Diff(map[string]int{"anonymous 401": len(paths), "alice 403": len(paths) - 2}, denied); diff != "" {
		t.Errorf("audited admin refusals (-want +got):\n%s", diff)
	}
}

// TestAdminOrgAdminHidden: what an org-admin may not see answers exactly
// as what does not exist.
func TestAdminOrgAdminHidden(t *testing.T) {
	h := newHub(t, hubOptions{})
	bob, missing := h.users["bob"].ID, "01000000-0000-7000-8000-000000000000"
	grants, err := h.store.Grants(context.Background(), authz.GrantFilter{Subject: ptrTo(authz.OrganizationSubject(h.orgs["B"].ID)), Limit: 1})
	must(t, err)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/admin/organizations/{id}", ""},
		{"GET", "/admin/organizations/{id}/access", ""},
		{"GET", "/admin/users?organization_id={id}", ""},
		{"GET", "/admin/audit?organization_id={id}", ""},
		{"GET", "/admin/grants?subject_kind=organization&subject_id={id}", ""},
	} {
		h.sameAnswer(t, "olga", tc.method, tc.path, tc.body, h.orgs["B"].ID, missing)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/admin/users/{id}", ""},
		{"PATCH", "/admin/users/{id}", `{"disabled": true}`},
		{"DELETE", "/admin/users/{id}", ""},
		{"POST", "/admin/users/{id}/password", `{}`},
		{"GET", "/admin/users/{id}/tokens", ""},
		{"POST", "/admin/users/{id}/tokens", `{"name": "stolen"}`},
		{"GET", "/admin/grants?subject_kind=user&subject_id={id}", ""},
	} {
		h.sameAnswer(t, "olga", tc.method, tc.path, tc.body, bob, missing)
	}
	h.sameAnswer(t, "olga", "GET", "/admin/grants/{id}", "", grants[0].ID, missing)
	h.sameAnswer(t, "olga", "POST", "/admin/users", `{"name": "x", "organization_id": "{id}"}`, h.orgs["B"].ID, missing)
	if u, err := h.store.User(context.Background(), bob); err != nil || u.Disabled {
		t.Errorf("bob after olga's refused changes: %+v, %v", u, err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// sameAnswer checks that a request about real (which the requester may not
// see) gets word for word the answer of the same request about missing.
func (h *hub) sameAnswer(t *testing.T, who, method, path, body, real, missing string) {
	t.Helper()
	send := func(id string) response {
		var b []byte
		if body != "" {
			b = []byte(strings.ReplaceAll(body, "{id}", id))
		}
		return h.adminRequest(method, strings.ReplaceAll(path, "{id}", id), as(who), b)
	}
	r, m := send(real), send(missing)
	if r.status != m.status || r.status < 400 {
		t.Errorf("%s %s %s: %d about a hidden record, %d about a missing one; want the same refusal", who, method, path, r.status, m.status)
		return
	}
	got := strings.ReplaceAll(string(r.raw), real, missing)
	if got != string(m.raw) {
		t.Errorf("%s %s %s: the answer about a hidden record differs from that about a missing one:\n%s\n%s", who, method, path, r.raw, m.raw)
	}
}

// TestAdminPaging: following next over HTTP lists every record once, in
// order.
func TestAdminPaging(t *testing.T) {
	h := newHub(t, hubOptions{})
	var want []string
	for _, name := range []string{"A", "B", "C", "operators"} {
		want = append(want, h.orgs[name].ID)
	}
	for i := range 6 {
		r := h.adminRequest("POST", "/admin/organizations", as("root"), mustJSON(t, map[string]any{"name": fmt.Sprintf("p%d", i)}))
		if r.status != 201 {
			t.Fatalf("create = %d %s", r.status, r.raw)
		}
		want = append(want, r.body["id"].(string))
	}
	var got []string
	path := "/admin/organizations?limit=4"
	for range 10 {
		r := h.adminRequest("GET", path, as("root"), nil)
		if r.status != 200 {
			t.Fatalf("GET %s = %d %s", path, r.status, r.raw)
		}
		got = append(got, itemIDs(r)...)
		next, _ := r.body["next"].(string)
		if next == "" {
			break
		}
		path = "/admin/organizations?limit=4&cursor=" + next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("organizations in pages of 4 (-want +got):\n%s", diff)
	}
}

// TestAdminBodyBound: a body larger than the bound is refused without
// being read whole, also when its length is not announced.
func TestAdminBodyBound(t *testing.T) {
	h := newHub(t, hubOptions{})
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"name": "`))
		pw.Write(bytes.Repeat([]byte("x"), 100<<10))
		pw.Write([]byte(`"}`))
		pw.Close()
	}()
	req, err := http.NewRequest("POST", h.url+"/admin/organizations", pr)
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", basicAuth("root", password("root")))
	resp, err := client.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked 100 KiB body = %d; want 413", resp.StatusCode)
	}
}

// adminIsolationRows are the admin API's rows of TestTenantIsolation, with
// the hub's principals: alice and bob members of A and B, olga org-admin
// of A, root admin, "" anonymous. Members get 403 but on their own
// tokens; olga sees A and its users, and what is B's answers 404; every
// endpoint challenges anonymous requesters.
func adminIsolationRows(h *hub) []isolationRow {
	ctx := context.Background()
	org := func(name string) string { return "/admin/organizations/" + h.orgs[name].ID }
	user := func(name string) string { return "/admin/users/" + h.users[name].ID }
	id := func(name string) string { return h.users[name].ID }
	grantsOf := func(subjects ...authz.Subject) []string {
		var out []string
		for _, s := range subjects {
			gs, err := h.store.Grants(ctx, authz.GrantFilter{Subject: &s, Limit: 100})
			must(h.t, err)
			for _, g := range gs {
				out = append(out, g.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	all := grantsOf(authz.OrganizationSubject(h.orgs["A"].ID), authz.OrganizationSubject(h.orgs["B"].ID), authz.Public)
	ofA := grantsOf(authz.OrganizationSubject(h.orgs["A"].ID))
	tokenOf := func(name string) string {
		ts, err := h.store.Tokens(ctx, authz.TokenFilter{UserID: h.users[name].ID, Limit: 10})
		must(h.t, err)
		return ts[0].ID
	}
	access := "/admin/api-roots/api1/collections/" + collA + "/access"
	newUser := func(org string) []byte {
		return []byte(`{"name": "new-` + org + `", "organization_id": "` + h.orgs[org].ID + `"}`)
	}
	rows := []isolationRow{
		{"alice", "GET", "/admin/organizations", nil, 403, "", nil},
		{"olga", "GET", "/admin/organizations", nil, 200, "items", []string{h.orgs["A"].ID}},
		{"root", "GET", "/admin/organizations", nil, 200, "items", []string{h.orgs["A"].ID, h.orgs["B"].ID, h.orgs["C"].ID, h.orgs["operators"].ID}},
		{"olga", "GET", org("A"), nil, 200, "", nil},
		{"olga", "GET", org("B"), nil, 404, "", nil},
		{"bob", "GET", org("B"), nil, 403, "", nil},
		{"olga", "PATCH", org("A"), []byte(`{"description": "x"}`), 403, "", nil},
		{"olga", "POST", "/admin/organizations", []byte(`{"name": "Z"}`), 403, "", nil},
		{"olga", "GET", org("A") + "/access", nil, 200, "", nil},
		{"olga", "GET", org("B") + "/access", nil, 404, "", nil},
		{"alice", "GET", org("A") + "/access", nil, 403, "", nil},
		{"alice", "GET", "/admin/users", nil, 403, "", nil},
		{"olga", "GET", "/admin/users", nil, 200, "items", []string{id("alice"), id("olga")}},
		{"root", "GET", "/admin/users", nil, 200, "items", []string{id("alice"), id("bob"), id("carl"), id("olga"), id("root")}},
		{"olga", "GET", "/admin/users?organization_id=" + h.orgs["B"].ID, nil, 404, "", nil},
		{"olga", "GET", user("bob"), nil, 404, "", nil},
		{"olga", "GET", user("root"), nil, 404, "", nil},
		{"alice", "GET", user("alice"), nil, 403, "", nil},
		{"alice", "GET", "/admin/me", nil, 200, "", nil},
		{"olga", "POST", "/admin/users", newUser("B"), 400, "", nil},
		{"alice", "POST", "/admin/users", newUser("A"), 403, "", nil},
		{"olga", "DELETE", user("bob"), nil, 404, "", nil},
		{"alice", "DELETE", user("bob"), nil, 403, "", nil},
		{"olga", "POST", user("bob") + "/password", []byte(`{}`), 404, "", nil},
		{"alice", "GET", user("alice") + "/tokens", nil, 200, "items", []string{tokenOf("alice")}},
		{"olga", "GET", user("alice") + "/tokens", nil, 200, "items", []string{tokenOf("alice")}},
		{"bob", "GET", user("alice") + "/tokens", nil, 403, "", nil},
		{"olga", "GET", user("bob") + "/tokens", nil, 404, "", nil},
		{"olga", "GET", user("bob") + "/tokens/" + tokenOf("bob"), nil, 404, "", nil},
		{"olga", "POST", user("bob") + "/tokens/" + tokenOf("bob") + "/revoke", nil, 404, "", nil},
		{"alice", "DELETE", user("bob") + "/tokens/" + tokenOf("bob"), nil, 403, "", nil},
		{"alice", "GET", "/admin/grants", nil, 403, "", nil},
		{"olga", "GET", "/admin/grants", nil, 200, "items", ofA},
		{"root", "GET", "/admin/grants", nil, 200, "items", all},
		{"olga", "POST", "/admin/grants", []byte(`{"subject": {"kind": "public"}, "api_root": "api1", "collection": "` + collA + `", "action": "read"}`), 403, "", nil},
		{"olga", "DELETE", "/admin/grants/" + ofA[0], nil, 403, "", nil},
		{"olga", "GET", "/admin/api-roots", nil, 403, "", nil},
		{"root", "GET", "/admin/api-roots/dark", nil, 200, "", nil},
		{"olga", "GET", "/admin/api-roots/api1/collections", nil, 403, "", nil},
		{"olga", "GET", access, nil, 403, "", nil},
		{"root", "GET", access, nil, 200, "", nil},
		{"alice", "GET", "/admin/audit", nil, 403, "", nil},
		{"olga", "GET", "/admin/audit", nil, 200, "", nil},
		{"olga", "GET", "/admin/audit?organization_id=" + h.orgs["B"].ID, nil, 404, "", nil},
		{"alice", "GET", "/admin/openapi.json", nil, 403, "", nil},
		{"olga", "GET", "/admin/openapi.json", nil, 200, "", nil},
	}
	for _, p := range []string{"/admin/openapi.json", "/admin/me", "/admin/organizations", org("A"), "/admin/users",
		user("alice"), user("alice") + "/tokens", "/admin/grants", "/admin/api-roots", access, "/admin/audit"} {
		rows = append(rows, isolationRow{"", "GET", p, nil, 401, "", nil})
	}
	return rows
}

// readConditions asks the hub's authorizer for the conditions under which
// the user (anonymous for "") reads a collection of api1.
func readConditions(h *hub, who, coll string) (authz.Conditions, bool) {
	var p authz.Principal
	if u, ok := h.users[who]; ok {
		p = authz.Principal{UserID: u.ID, UserName: u.Name, OrganizationID: u.OrganizationID, Role: u.Role}
	} else if who != "" {
		u, err := h.store.UserByName(context.Background(), who)
		if err != nil {
			return authz.Conditions{}, false
		}
		p = authz.Principal{UserID: u.ID, UserName: u.Name, OrganizationID: u.OrganizationID, Role: u.Role}
	}
	return h.az.ReadConditions(authz.NewContext(context.Background(), p), "api1", coll)
}

// lastEvent is the newest audit event of the action, as the admin API
// lists it.
func lastEvent(t *testing.T, h *hub, action string) map[string]any {
	t.Helper()
	r := h.adminRequest("GET", "/admin/audit?limit=1&action="+action, as("root"), nil)
	items, _ := r.body["items"].([]any)
	if r.status != 200 || len(items) != 1 {
		t.Fatalf("audit events of %s: %d %s", action, r.status, r.raw)
	}
	return items[0].(map[string]any)
}
