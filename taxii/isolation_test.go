package taxii_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
)

// Names of things that do not exist, answered like the hidden ones.
const (
	missingColl   = "0f000000-0000-4000-8000-00000000000f"
	missingRoot   = "nope"
	missingStatus = "0f000000-0000-4000-8000-0000000000f5"
)

// isolationRow is one request of the tenant isolation table.
type isolationRow struct {
	who    string // user name; "" anonymous
	method string
	path   string
	body   []byte
	want   int
	// list, when set, names the list of a 200 answer whose items must be
	// exactly items: "api_roots", "collections" (id and the requester's
	// can_read/can_write), "objects" (ids), "versions".
	list  string
	items []string
}

// stixID is the id of the indicator stored in a collection by the setup.
func stixID(coll string) string { return "indicator--" + coll }

// victimID is the id of an indicator stored in a collection to be deleted.
func victimID(coll string) string { return "indicator--" + coll[:len(coll)-4] + "dead" }

func indicator(id string) map[string]any {
	return obj("indicator", strings.TrimPrefix(id, "indicator--"), "2021-01-01T00:00:00.000Z")
}

// listed returns the items of a list of a response, as isolationRow.items
// spells them.
func listed(r response, key string) []string {
	list, _ := r.body[key].([]any)
	out := []string{}
	for _, item := range list {
		switch v := item.(type) {
		case map[string]any:
			if key == "collections" {
				out = append(out, fmt.Sprintf("%v %s", v["id"], rw(v["can_read"] == true, v["can_write"] == true)))
			} else {
				out = append(out, fmt.Sprint(v["id"]))
			}
		default:
			out = append(out, fmt.Sprint(v))
		}
	}
	return out
}

func rw(read, write bool) string {
	b := []byte("--")
	if read {
		b[0] = 'r'
	}
	if write {
		b[1] = 'w'
	}
	return string(b)
}

// TestTenantIsolation: what each kind of requester gets from every
// endpoint, over HTTP with the real authenticator, authorizer and store.
// Members of A see exactly A's collections and the public one; B's are
// absent from their listings and answer 404 with the body of a missing
// collection; anonymous requesters read the public collection and are
// challenged everywhere else; the admin reaches everything.
func TestTenantIsolation(t *testing.T) {
	h := newHub(t, hubOptions{})

	// Every collection holds one indicator, and one more to be deleted.
	push := func(who, root, coll string, objs ...map[string]any) string {
		t.Helper()
		r := h.do("POST", "/"+root+"/collections/"+coll+"/objects/", as(who), mustJSON(t, envelope(objs...)))
		if r.status != http.StatusAccepted || r.body["status"] != "complete" {
			t.Fatalf("push to %s as %s = %d\n%s", coll, who, r.status, r.raw)
		}
		return r.body["id"].(string)
	}
	for _, c := range []struct{ root, coll string }{
		{"api1", collA}, {"api1", collB}, {"api1", collAR}, {"api1", collAW}, {"api1", collPublic},
		{"api2", collB2}, {"dark", collDark},
	} {
		push("root", c.root, c.coll, indicator(stixID(c.coll)), indicator(victimID(c.coll)))
	}
	// Statuses of pushes by A and by B.
	statusA := push("alice", "api1", collA, indicator(stixID(collA)))
	statusB := push("bob", "api1", collB, indicator(stixID(collB)))
	statusRoot := push("root", "api1", collA, indicator(stixID(collA)))

	// hidden maps the names of hidden things to missing ones of the same
	// kind: a 404 (or 401) for the one must be the answer for the other.
	hidden := map[string]string{
		"api2": missingRoot, "dark": missingRoot, "empty": missingRoot,
		collA: missingColl, collB: missingColl, collAR: missingColl, collAW: missingColl,
		collB2: missingColl, collDark: missingColl, collPublic: missingColl,
		statusA: missingStatus, statusB: missingStatus, statusRoot: missingStatus,
	}

	col := func(root, id string) string { return "/" + root + "/collections/" + id + "/" }
	objs := func(root, id string) string { return col(root, id) + "objects/" }
	object := func(root, id string) string { return objs(root, id) + stixID(id) + "/" }
	victim := func(root, id string) string { return objs(root, id) + victimID(id) + "/" }
	pushBody := mustJSON(t, envelope(indicator("indicator--6f000000-0000-4000-8000-000000000001")))

	const all = "rw"
	apiRoots := []string{"/api1/", "/api2/", "/dark/", "/empty/"}
	rows := []isolationRow{
		// Discovery (TAXII 2.1 section 4.1): the API roots where the
		// requester reaches something.
		{"alice", "GET", "/taxii2/", nil, 200, "api_roots", []string{"/api1/"}},
		{"olga", "GET", "/taxii2/", nil, 200, "api_roots", []string{"/api1/"}},
		{"bob", "GET", "/taxii2/", nil, 200, "api_roots", []string{"/api1/", "/api2/"}},
		{"root", "GET", "/taxii2/", nil, 200, "api_roots", apiRoots},
		{"", "GET", "/taxii2/", nil, 200, "api_roots", []string{"/api1/"}},
		{"carl", "GET", "/taxii2/", nil, 200, "api_roots", []string{"/api1/"}},

		// API roots (section 4.2).
		{"alice", "GET", "/api1/", nil, 200, "", nil},
		{"", "GET", "/api1/", nil, 200, "", nil},
		{"alice", "GET", "/api2/", nil, 404, "", nil},
		{"olga", "GET", "/api2/", nil, 404, "", nil},
		{"bob", "GET", "/api2/", nil, 200, "", nil},
		{"", "GET", "/api2/", nil, 401, "", nil},
		{"bob", "GET", "/dark/", nil, 404, "", nil},
		{"root", "GET", "/dark/", nil, 200, "", nil},
		{"alice", "GET", "/empty/", nil, 404, "", nil},
		{"root", "GET", "/empty/", nil, 200, "", nil},
		{"", "GET", "/empty/", nil, 401, "", nil},
		{"root", "GET", "/" + missingRoot + "/", nil, 404, "", nil},

		// Collections (section 5.1): exactly the reachable ones, with the
		// requester's own can_read and can_write.
		{"alice", "GET", "/api1/collections/", nil, 200, "collections",
			[]string{collA + " rw", collAR + " r-", collAW + " -w", collPublic + " r-"}},
		{"olga", "GET", "/api1/collections/", nil, 200, "collections",
			[]string{collA + " rw", collAR + " r-", collAW + " -w", collPublic + " r-"}},
		{"bob", "GET", "/api1/collections/", nil, 200, "collections", []string{collB + " rw", collPublic + " rw"}},
		{"root", "GET", "/api1/collections/", nil, 200, "collections",
			[]string{collA + " " + all, collAR + " " + all, collAW + " " + all, collB + " " + all, collPublic + " " + all}},
		{"", "GET", "/api1/collections/", nil, 200, "collections", []string{collPublic + " r-"}},
		{"carl", "GET", "/api1/collections/", nil, 200, "collections", []string{collPublic + " r-"}},
		{"carl", "GET", "/api2/collections/", nil, 404, "", nil},
		{"bob", "GET", "/api2/collections/", nil, 200, "collections", []string{collB2 + " rw"}},
		{"alice", "GET", "/api2/collections/", nil, 404, "", nil},
		{"", "GET", "/api2/collections/", nil, 401, "", nil},
		{"root", "GET", "/empty/collections/", nil, 200, "collections", []string{}},
		{"olga", "GET", "/empty/collections/", nil, 404, "", nil},
		{"root", "GET", "/dark/collections/", nil, 200, "collections", []string{collDark + " rw"}},

		// One collection (section 5.2).
		{"alice", "GET", col("api1", collA), nil, 200, "", nil},
		{"olga", "GET", col("api1", collA), nil, 200, "", nil},
		{"bob", "GET", col("api1", collA), nil, 404, "", nil},
		{"root", "GET", col("api1", collA), nil, 200, "", nil},
		{"", "GET", col("api1", collA), nil, 401, "", nil},
		{"alice", "GET", col("api1", collB), nil, 404, "", nil},
		{"alice", "GET", col("api1", collAW), nil, 200, "", nil},
		{"bob", "GET", col("api1", collAW), nil, 404, "", nil},
		{"", "GET", col("api1", collPublic), nil, 200, "", nil},
		{"alice", "GET", col("api2", collB2), nil, 404, "", nil},
		{"alice", "GET", col("dark", collDark), nil, 404, "", nil},
		{"root", "GET", col("dark", collDark), nil, 200, "", nil},
		{"", "GET", col("dark", collDark), nil, 401, "", nil},
		{"alice", "GET", col("api1", missingColl), nil, 404, "", nil},
		// A collection's id names it in its own API root only.
		{"alice", "GET", col("api2", collA), nil, 404, "", nil},
		{"root", "GET", col("api2", collA), nil, 404, "", nil},

		// Get objects (section 5.4).
		{"alice", "GET", objs("api1", collA), nil, 200, "objects", []string{stixID(collA), victimID(collA)}},
		{"olga", "GET", objs("api1", collA), nil, 200, "objects", []string{stixID(collA), victimID(collA)}},
		{"root", "GET", objs("api1", collA), nil, 200, "objects", []string{stixID(collA), victimID(collA)}},
		{"bob", "GET", objs("api1", collA), nil, 404, "", nil},
		{"", "GET", objs("api1", collA), nil, 401, "", nil},
		{"bob", "GET", objs("api1", collB), nil, 200, "objects", []string{stixID(collB), victimID(collB)}},
		{"alice", "GET", objs("api1", collB), nil, 404, "", nil},
		{"alice", "GET", objs("api1", collAR), nil, 200, "objects", []string{stixID(collAR), victimID(collAR)}},
		{"alice", "GET", objs("api1", collAW), nil, 403, "", nil},
		{"bob", "GET", objs("api1", collAW), nil, 404, "", nil},
		{"", "GET", objs("api1", collAW), nil, 401, "", nil},
		{"", "GET", objs("api1", collPublic), nil, 200, "objects", []string{stixID(collPublic), victimID(collPublic)}},
		{"carl", "GET", objs("api1", collPublic), nil, 200, "objects", []string{stixID(collPublic), victimID(collPublic)}},
		{"carl", "GET", objs("api1", collA), nil, 404, "", nil},
		{"alice", "GET", objs("api1", collPublic), nil, 200, "objects", []string{stixID(collPublic), victimID(collPublic)}},
		{"bob", "GET", objs("api2", collB2), nil, 200, "objects", []string{stixID(collB2), victimID(collB2)}},
		{"alice", "GET", objs("api2", collB2), nil, 404, "", nil},
		{"root", "GET", objs("dark", collDark), nil, 200, "objects", []string{stixID(collDark), victimID(collDark)}},
		{"bob", "GET", objs("dark", collDark), nil, 404, "", nil},
		{"", "GET", objs("api1", missingColl), nil, 401, "", nil},

		// Get an object (section 5.6).
		{"alice", "GET", object("api1", collA), nil, 200, "objects", []string{stixID(collA)}},
		{"bob", "GET", object("api1", collA), nil, 404, "", nil},
		{"", "GET", object("api1", collA), nil, 401, "", nil},
		{"alice", "GET", object("api1", collAW), nil, 403, "", nil},
		{"", "GET", object("api1", collPublic), nil, 200, "objects", []string{stixID(collPublic)}},
		{"root", "GET", object("dark", collDark), nil, 200, "objects", []string{stixID(collDark)}},

		// Manifest (section 5.3).
		{"alice", "GET", col("api1", collA) + "manifest/", nil, 200, "objects", []string{stixID(collA), victimID(collA)}},
		{"bob", "GET", col("api1", collA) + "manifest/", nil, 404, "", nil},
		{"", "GET", col("api1", collA) + "manifest/", nil, 401, "", nil},
		{"alice", "GET", col("api1", collAW) + "manifest/", nil, 403, "", nil},
		{"", "GET", col("api1", collPublic) + "manifest/", nil, 200, "objects", []string{stixID(collPublic), victimID(collPublic)}},

		// Versions (section 5.8).
		{"alice", "GET", object("api1", collA) + "versions/", nil, 200, "versions", []string{"2021-01-01T00:00:00.000Z"}},
		{"bob", "GET", object("api1", collA) + "versions/", nil, 404, "", nil},
		{"", "GET", object("api1", collA) + "versions/", nil, 401, "", nil},
		{"alice", "GET", object("api1", collAW) + "versions/", nil, 403, "", nil},
		{"", "GET", object("api1", collPublic) + "versions/", nil, 200, "versions", []string{"2021-01-01T00:00:00.000Z"}},

		// Status (section 4.3): the pushing organization's and admins'.
		{"alice", "GET", "/api1/status/" + statusA + "/", nil, 200, "", nil},
		{"olga", "GET", "/api1/status/" + statusA + "/", nil, 200, "", nil},
		{"root", "GET", "/api1/status/" + statusA + "/", nil, 200, "", nil},
		{"bob", "GET", "/api1/status/" + statusA + "/", nil, 404, "", nil},
		{"", "GET", "/api1/status/" + statusA + "/", nil, 401, "", nil},
		{"bob", "GET", "/api1/status/" + statusB + "/", nil, 200, "", nil},
		{"alice", "GET", "/api1/status/" + statusB + "/", nil, 404, "", nil},
		{"alice", "GET", "/api1/status/" + statusRoot + "/", nil, 404, "", nil},
		{"root", "GET", "/api1/status/" + statusRoot + "/", nil, 200, "", nil},
		{"alice", "GET", "/api1/status/" + missingStatus + "/", nil, 404, "", nil},

		// Add objects (section 5.5): write access; the others as for reads.
		{"alice", "POST", objs("api1", collA), pushBody, 202, "", nil},
		{"olga", "POST", objs("api1", collA), pushBody, 202, "", nil},
		{"root", "POST", objs("api1", collA), pushBody, 202, "", nil},
		{"bob", "POST", objs("api1", collA), pushBody, 404, "", nil},
		{"", "POST", objs("api1", collA), pushBody, 401, "", nil},
		{"alice", "POST", objs("api1", collAR), pushBody, 403, "", nil},
		{"alice", "POST", objs("api1", collAW), pushBody, 202, "", nil},
		{"bob", "POST", objs("api1", collAW), pushBody, 404, "", nil},
		{"alice", "POST", objs("api1", collPublic), pushBody, 403, "", nil},
		{"bob", "POST", objs("api1", collPublic), pushBody, 202, "", nil},
		{"", "POST", objs("api1", collPublic), pushBody, 401, "", nil},
		{"carl", "POST", objs("api1", collPublic), pushBody, 403, "", nil},
		{"alice", "POST", objs("api2", collB2), pushBody, 404, "", nil},
		{"root", "POST", objs("dark", collDark), pushBody, 202, "", nil},
		{"alice", "POST", objs("api1", missingColl), pushBody, 404, "", nil},

		// Delete an object (section 5.7 and its table): both can_read and
		// can_write; 403 with one of them; 404 with neither.
		{"bob", "DELETE", victim("api1", collA), nil, 404, "", nil},
		{"", "DELETE", victim("api1", collA), nil, 401, "", nil},
		{"alice", "DELETE", victim("api1", collAR), nil, 403, "", nil},
		{"alice", "DELETE", victim("api1", collAW), nil, 403, "", nil},
		{"alice", "DELETE", victim("api1", collPublic), nil, 403, "", nil},
		{"", "DELETE", victim("api1", collPublic), nil, 401, "", nil},
		{"alice", "DELETE", victim("api1", collA), nil, 200, "", nil},
		{"alice", "GET", objs("api1", collA), nil, 200, "objects",
			[]string{stixID(collA), "indicator--6f000000-0000-4000-8000-000000000001"}},
		{"bob", "DELETE", victim("api1", collPublic), nil, 200, "", nil},
		{"root", "DELETE", victim("dark", collDark), nil, 200, "", nil},
		{"alice", "DELETE", victim("dark", collDark), nil, 404, "", nil},
	}
	rows = append(rows, adminIsolationRows(h)...)

	for _, row := range rows {
		name := fmt.Sprintf("%s %s %s", nameOf(row.who), row.method, row.path)
		r := h.request(row.method, row.path, as(row.who), row.body)
		if r.status != row.want {
			t.Errorf("%s = %d; want %d\n%s", name, r.status, row.want, r.raw)
			continue
		}
		switch {
		case strings.HasPrefix(row.path, "/admin/") && row.want >= 400:
			r.wantJSONError(t, row.want)
		case row.want == http.StatusUnauthorized:
			r.wantChallenge(t)
		case row.want >= 400:
			r.wantError(t, row.want)
		}
		if row.list != "" {
			if diff := cmp.Diff(row.items, listed(r, row.list)); diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", name, row.list, diff)
			}
		}
		if row.want == http.StatusNotFound || row.want == http.StatusUnauthorized {
			h.sameAsMissing(t, name, row, r, hidden)
		}
	}
}

func nameOf(who string) string {
	if who == "" {
		return "anonymous"
	}
	return who
}

// request sends a request to a TAXII route (checking that the answer is
// TAXII) or to an operations route (JSON).
func (h *hub) request(method, path string, header map[string]string, body []byte) response {
	h.t.Helper()
	if strings.HasPrefix(path, "/admin/") {
		return h.adminRequest(method, path, header, body)
	}
	return h.do(method, path, header, body)
}

// sameAsMissing checks that the refusal r of row, about a thing that
// exists, is word for word the answer about a thing of the same kind that
// does not exist, so that refusals do not tell what exists. The deepest
// name of the path found in hidden is swapped for its missing
// counterpart.
func (h *hub) sameAsMissing(t *testing.T, name string, row isolationRow, r response, hidden map[string]string) {
	t.Helper()
	segs := strings.Split(row.path, "/")
	for i := len(segs) - 1; i >= 0; i-- {
		missing, ok := hidden[segs[i]]
		if !ok {
			continue
		}
		real := segs[i]
		segs[i] = missing
		m := h.request(row.method, strings.Join(segs, "/"), as(row.who), row.body)
		if m.status != r.status {
			t.Errorf("%s = %d, but with %s for %s = %d", name, r.status, missing, real, m.status)
			return
		}
		var got, want any
		must(t, json.Unmarshal(r.raw, &got))
		must(t, json.Unmarshal([]byte(strings.ReplaceAll(string(m.raw), missing, real)), &want))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: the answer differs from that about %s (-missing +hidden):\n%s", name, missing, diff)
		}
		if r.header.Get("WWW-Authenticate") != m.header.Get("WWW-Authenticate") {
			t.Errorf("%s: WWW-Authenticate %q; about %s %q", name, r.header.Get("WWW-Authenticate"), missing, m.header.Get("WWW-Authenticate"))
		}
		return
	}
}

// TestNothingPublic: once the last public grant is gone, anonymous
// requesters are challenged everywhere, discovery included, at once.
func TestNothingPublic(t *testing.T) {
	h := newHub(t, hubOptions{})
	ctx := context.Background()
	if r := h.get("/taxii2/"); r.status != http.StatusOK {
		t.Fatalf("discovery with a public collection = %d; want 200\n%s", r.status, r.raw)
	}
	grants, err := h.store.Grants(ctx, authz.GrantFilter{Subject: &authz.Public, Limit: 10})
	must(t, err)
	for _, g := range grants {
		must(t, h.store.DeleteGrant(ctx, g.ID))
	}
	h.refresh(t)
	for _, path := range []string{"/taxii2/", "/api1/", "/api1/collections/", "/api1/collections/" + collPublic + "/objects/"} {
		h.get(path).wantChallenge(t)
	}
	if r := h.do("GET", "/taxii2/", as("bob"), nil); !cmp.Equal(listed(r, "api_roots"), []string{"/api1/", "/api2/"}) {
		t.Errorf("discovery as bob = %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api1/collections/", as("bob"), nil); !cmp.Equal(listed(r, "collections"), []string{collB + " rw", collPublic + " -w"}) {
		t.Errorf("collections as bob = %s", r.raw)
	}
}
