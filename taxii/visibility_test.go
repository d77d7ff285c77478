package taxii_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/stix"
)

const sharedID = "indicator--6f0c7b0e-1d2c-4b4a-9e55-2f1b7f3f6a01"

// shared is an indicator as a partner pushes it: a creator, two sources,
// a TLP:GREEN marking and an AMBER granular marking on two properties.
const shared = `{"type":"indicator","spec_version":"2.1","id":"` + sharedID + `",` +
	`"created_by_ref":"` + creatorID + `","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z",` +
	`"name":"C2 host","description":"seen by our sensor in the finance network","indicator_types":["malicious-activity"],` +
	`"pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z",` +
	`"labels":["c2","finance"],` +
	`"external_references":[{"source_name":"vendor","url":"https://vendor.example/r/1"},{"source_name":"partner-x","external_id":"PX-7"}],` +
	`"object_marking_refs":["` + tlpGreen1 + `"],` +
	`"granular_markings":[{"marking_ref":"` + tlpAmber1 + `","selectors":["description","labels.[1]"]}]}`

// TestVisibility: /admin/visibility tells, for an organization and an
// object, version by version, whether its members see it and which
// condition decided, following the organization's grant, else the public
// one; only admins may ask.
func TestVisibility(t *testing.T) {
	const embargo = time.Hour
	h := newHub(t, hubOptions{})
	ctx := context.Background()
	// A reads collA under a ceiling, without its creator and a source; C
	// may read it, an hour late.
	gs, err := h.store.Grants(ctx, authz.GrantFilter{Subject: &authz.Subject{Kind: authz.SubjectOrganization, ID: h.orgs["A"].ID},
		APIRoot: "api1", Collection: collA, Action: authz.ActionRead, Limit: 1})
	must(t, err)
	_, err = h.store.UpdateGrantConditions(ctx, gs[0].ID, authz.Conditions{MaxTLP: stix.TLPGreen, HideCreator: true, HideSources: []string{"partner-x"}})
	must(t, err)
	_, err = h.store.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(h.orgs["C"].ID), APIRoot: "api1", Collection: collA,
		Action: authz.ActionRead, Conditions: authz.Conditions{Embargo: embargo}})
	must(t, err)

	// The second version is TLP:RED.
	v2 := strings.Replace(shared, `"modified":"2020-01-01T00:00:00.000Z"`, `"modified":"2021-01-01T00:00:00.000Z"`, 1)
	v2 = strings.Replace(v2, `"object_marking_refs":["`+tlpGreen1+`"]`, `"object_marking_refs":["`+tlpRed2+`"]`, 1)
	for _, p := range []struct{ user, coll, body string }{
		{"alice", collA, `{"objects":[` + shared + `,` + v2 + `]}`},
		{"bob", collPublic, `{"objects":[` + shared + `]}`},
	} {
		r := h.do("POST", "/api1/collections/"+p.coll+"/objects/", as(p.user), []byte(p.body))
		if r.status != http.StatusAccepted || r.body["status"] != "complete" {
			t.Fatalf("push as %s = %d\n%s", p.user, r.status, r.raw)
		}
	}
	sp := loadSpec(t, h)

	type version struct {
		Version           string   `json:"version"`
		DateAdded         string   `json:"date_added"`
		SpecVersion       string   `json:"spec_version"`
		TLP               string   `json:"tlp"`
		Visible           bool     `json:"visible"`
		DecidedBy         string   `json:"decided_by"`
		EmbargoUntil      string   `json:"embargo_until"`
		RemovedProperties []string `json:"removed_properties"`
		RemovedSources    []string `json:"removed_sources"`
		CreatedByRef      string   `json:"created_by_ref"`
	}
	type collection struct {
		APIRoot    string          `json:"api_root"`
		Collection string          `json:"collection"`
		Grant      string          `json:"grant"`
		Conditions json.RawMessage `json:"conditions"`
		Versions   []version       `json:"versions"`
	}
	type answer struct {
		Organization struct{ ID, Name string }
		Object       string
		Collections  []collection
	}
	v := func(ver, tlp string, visible bool, decided string) version {
		return version{Version: ver, SpecVersion: "2.1", TLP: tlp, Visible: visible, DecidedBy: decided}
	}
	const v1t, v2t = "2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z"
	granted := v(v1t, "green", true, "granted")
	granted.RemovedProperties, granted.RemovedSources, granted.CreatedByRef = []string{"description", "labels.[1]"}, []string{"partner-x"}, "removed"
	embargoed := func(ver, tlp string) version { x := v(ver, tlp, false, "embargo"); x.EmbargoUntil = "+1h"; return x }

	tests := []struct {
		name  string
		org   string
		query string
		want  []collection
	}{
		{
			name: "A: ceiling, creator and a source hidden", org: "A",
			want: []collection{
				{APIRoot: "api1", Collection: collA, Grant: "organization",
					Conditions: json.RawMessage(`{"max_tlp":"green","embargo_seconds":0,"hide_creator":true,"hide_sources":["partner-x"]}`),
					Versions:   []version{granted, v(v2t, "red", false, "tlp_above_ceiling")}},
				{APIRoot: "api1", Collection: collPublic, Grant: "public",
					Conditions: json.RawMessage(`{"embargo_seconds":0,"hide_creator":false,"hide_sources":[]}`), Versions: []version{v(v1t, "green", true, "granted")}},
			},
		},
		{
			name: "B: no grant on collA", org: "B", query: "&api_root=api1&collection=" + collA,
			want: []collection{{APIRoot: "api1", Collection: collA, Grant: "none",
				Versions: []version{v(v1t, "green", false, "no_grant"), v(v2t, "red", false, "no_grant")}}},
		},
		{
			name: "C: embargo", org: "C", query: "&api_root=api1",
			want: []collection{
				{APIRoot: "api1", Collection: collA, Grant: "organization",
					Conditions: json.RawMessage(`{"embargo_seconds":3600,"hide_creator":false,"hide_sources":[]}`),
					Versions:   []version{embargoed(v1t, "green"), embargoed(v2t, "red")}},
				{APIRoot: "api1", Collection: collPublic, Grant: "public",
					Conditions: json.RawMessage(`{"embargo_seconds":0,"hide_creator":false,"hide_sources":[]}`), Versions: []version{v(v1t, "green", true, "granted")}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/admin/visibility?organization=" + h.orgs[tt.org].ID + "&object=" + sharedID + tt.query
			r := h.adminRequest("GET", path, as("root"), nil)
			sp.check(t, "GET", path, as("root"), nil, r)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d\n%s", r.status, r.raw)
			}
			var got answer
			must(t, json.Unmarshal(r.raw, &got))
			if got.Organization.ID != h.orgs[tt.org].ID || got.Organization.Name != tt.org || got.Object != sharedID {
				t.Errorf("organization %+v, object %q", got.Organization, got.Object)
			}
			for i, c := range got.Collections {
				for j, ver := range c.Versions {
					added, err := time.Parse(time.RFC3339Nano, ver.DateAdded)
					if err != nil {
						t.Fatalf("date_added %q: %v", ver.DateAdded, err)
					}
					if ver.EmbargoUntil != "" {
						until, err := time.Parse(time.RFC3339Nano, ver.EmbargoUntil)
						if err != nil || !until.Equal(added.Add(embargo)) {
							t.Errorf("embargo_until %q; want date_added %s + %v", ver.EmbargoUntil, ver.DateAdded, embargo)
						}
						got.Collections[i].Versions[j].EmbargoUntil = "+1h"
					}
					got.Collections[i].Versions[j].DateAdded = ""
				}
				if len(c.Conditions) > 0 {
					var compact strings.Builder
					must(t, json.NewEncoder(&compact).Encode(c.Conditions))
					got.Collections[i].Conditions = json.RawMessage(strings.TrimSpace(compact.String()))
				}
			}
			if diff := cmp.Diff(tt.want, got.Collections, cmp.Transformer("raw", func(m json.RawMessage) string { return string(m) })); diff != "" {
				t.Errorf("collections (-want +got):\n%s", diff)
			}
		})
	}

	other := "indicator--00000000-0000-4000-8000-000000000001"
	refusals := []struct {
		name, who, query string
		status           int
	}{
		{"anonymous", "", "organization=" + h.orgs["A"].ID + "&object=" + sharedID, 401},
		{"org-admin", "olga", "organization=" + h.orgs["A"].ID + "&object=" + sharedID, 403},
		{"member", "alice", "organization=" + h.orgs["A"].ID + "&object=" + sharedID, 403},
		{"no organization", "root", "object=" + sharedID, 400},
		{"no object", "root", "organization=" + h.orgs["A"].ID, 400},
		{"not a STIX id", "root", "organization=" + h.orgs["A"].ID + "&object=nothing", 400},
		{"collection without API root", "root", "organization=" + h.orgs["A"].ID + "&object=" + sharedID + "&collection=" + collA, 400},
		{"unknown parameter", "root", "organization=" + h.orgs["A"].ID + "&object=" + sharedID + "&limit=3", 400},
		{"twice", "root", "organization=" + h.orgs["A"].ID + "&organization=" + h.orgs["B"].ID + "&object=" + sharedID, 400},
		{"unknown organization", "root", "organization=" + authz.NewID() + "&object=" + sharedID, 404},
		{"unknown API root", "root", "organization=" + h.orgs["A"].ID + "&object=" + sharedID + "&api_root=" + url.QueryEscape("nope"), 400},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			path := "/admin/visibility?" + tt.query
			r := h.adminRequest("GET", path, as(tt.who), nil)
			sp.check(t, "GET", path, as(tt.who), nil, r)
			r.wantJSONError(t, tt.status)
		})
	}
	t.Run("object nowhere", func(t *testing.T) {
		path := "/admin/visibility?organization=" + h.orgs["A"].ID + "&object=" + other
		r := h.adminRequest("GET", path, as("root"), nil)
		sp.check(t, "GET", path, as("root"), nil, r)
		if r.status != 200 || string(must1(json.Marshal(r.body["collections"]))) != "[]" {
			t.Errorf("= %d\n%s; want 200 with no collections", r.status, r.raw)
		}
	})
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
