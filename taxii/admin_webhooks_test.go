package taxii_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/taxii"
)

// TestAdminSubscriptions: an organization's users subscribe it to what
// they and it may read, see and delete its subscriptions only; admins act
// for any organization that may read the collection; refused URLs name
// the field; every answer matches openapi.json and every change is
// audited.
func TestAdminSubscriptions(t *testing.T) {
	h := newHub(t, hubOptions{audit: true, webhooks: &webhook.Guard{AllowHosts: []string{"hooks.test"}}})
	sp := loadSpec(t, h)
	send := func(who, method, path string, body any, want int) response {
		t.Helper()
		var raw []byte
		if body != nil {
			var err error
			raw, err = json.Marshal(body)
			must(t, err)
		}
		r := h.adminRequest(method, path, as(who), raw)
		sp.check(t, method, path, as(who), raw, r)
		if r.status != want {
			t.Fatalf("%s %s %s: %d, want %d\n%s", who, method, path, r.status, want, r.raw)
		}
		return r
	}
	field := func(r response) string { f, _ := r.body["field"].(string); return f }
	sub := func(org, coll, url string) map[string]any {
		m := map[string]any{"api_root": "api1", "collection": coll, "url": url}
		if org != "" {
			m["organization_id"] = org
		}
		return m
	}
	A, B := h.orgs["A"].ID, h.orgs["B"].ID

	created := send("alice", "POST", "/admin/subscriptions", sub("", collA, "https://hooks.test/a"), http.StatusCreated)
	aliceSub, _ := created.body["id"].(string)
	if secret, _ := created.body["secret"].(string); !regexp.MustCompile(`^whsec_[0-9A-Za-z_-]{43}$`).MatchString(secret) {
		t.Errorf("secret %q", secret)
	}
	if created.body["organization_id"] != A || created.body["created_by"] != h.users["alice"].ID {
		t.Errorf("created %s", created.raw)
	}
	rootSub, _ := send("root", "POST", "/admin/subscriptions", sub(B, collB, "https://hooks.test/b"), http.StatusCreated).body["id"].(string)

	for _, tc := range []struct {
		who   string
		body  map[string]any
		want  int
		field string
	}{
		{"bob", sub("", collA, "https://hooks.test/x"), http.StatusNotFound, ""},   // bob may not read collA
		{"alice", sub(B, collA, "https://hooks.test/x"), http.StatusForbidden, ""}, // for another organization
		{"root", sub("", collA, "https://hooks.test/x"), http.StatusBadRequest, "organization_id"},
		{"root", sub(h.orgs["C"].ID, collA, "https://hooks.test/x"), http.StatusNotFound, ""}, // C may not read collA
		{"alice", sub("", collA, "https://127.0.0.1/x"), http.StatusBadRequest, "url"},
		{"alice", sub("", collA, "https://10.0.0.1/x"), http.StatusBadRequest, "url"},
		{"alice", sub("", collA, "http://hooks.example/x"), http.StatusBadRequest, "url"},
		{"alice", sub("", collA, ""), http.StatusBadRequest, "url"},
		{"", sub("", collA, "https://hooks.test/x"), http.StatusUnauthorized, ""},
	} {
		r := send(tc.who, "POST", "/admin/subscriptions", tc.body, tc.want)
		if tc.field != "" && field(r) != tc.field {
			t.Errorf("%s POST %v: field %q, want %q", tc.who, tc.body, field(r), tc.field)
		}
	}

	ids := func(r response) []string {
		out := []string{}
		items, _ := r.body["items"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	all := []string{aliceSub, rootSub}
	slices.Sort(all)
	for _, tc := range []struct {
		who, query string
		want       []string
	}{
		{"alice", "", []string{aliceSub}},
		{"olga", "", []string{aliceSub}},
		{"bob", "", []string{rootSub}},
		{"bob", "?organization_id=" + A, []string{}},
		{"carl", "", []string{}},
		{"root", "", all},
		{"root", "?organization_id=" + B, []string{rootSub}},
	} {
		r := send(tc.who, "GET", "/admin/subscriptions"+tc.query, nil, http.StatusOK)
		if diff := cmp.Diff(tc.want, ids(r)); diff != "" {
			t.Errorf("%s lists%s (-want +got):\n%s", tc.who, tc.query, diff)
		}
	}

	send("bob", "GET", "/admin/subscriptions/"+aliceSub, nil, http.StatusNotFound)
	send("bob", "DELETE", "/admin/subscriptions/"+aliceSub, nil, http.StatusNotFound)
	send("bob", "GET", "/admin/subscriptions/"+aliceSub+"/deliveries", nil, http.StatusNotFound)
	got := send("olga", "GET", "/admin/subscriptions/"+aliceSub, nil, http.StatusOK)
	if _, shown := got.body["secret"]; shown {
		t.Errorf("the secret is shown again: %s", got.raw)
	}
	if r := send("alice", "GET", "/admin/subscriptions/"+aliceSub+"/deliveries", nil, http.StatusOK); len(ids(r)) != 0 {
		t.Errorf("deliveries of a new subscription: %s", r.raw)
	}
	send("alice", "GET", "/admin/subscriptions/"+aliceSub+"/deliveries?limit=0", nil, http.StatusBadRequest)
	send("alice", "POST", "/admin/subscriptions/"+aliceSub+"/deliveries/nope/redeliver", nil, http.StatusNotFound)
	send("alice", "DELETE", "/admin/subscriptions/"+aliceSub, nil, http.StatusNoContent)
	send("alice", "GET", "/admin/subscriptions/"+aliceSub, nil, http.StatusNotFound)

	var changes []string
	for _, e := range h.auditTrail(t) {
		if e.Action == taxii.AuditSubscriptionCreate || e.Action == taxii.AuditSubscriptionDelete {
			changes = append(changes, e.Action+" "+e.User+" "+e.Coll)
		}
	}
	want := []string{
		taxii.AuditSubscriptionCreate + " alice " + collA,
		taxii.AuditSubscriptionCreate + " root " + collB,
		taxii.AuditSubscriptionDelete + " alice " + collA,
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("audited changes (-want +got):\n%s", diff)
	}
}
