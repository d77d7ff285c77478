package authz_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/stix"
)

// TestAdminGrantConditions: an admin creates a read grant with conditions
// and changes them; each change is audited with the grant before and
// after, the grant's views show them, and only admins may change them.
func TestAdminGrantConditions(t *testing.T) {
	e := newAdminEnv(t)
	ctx := e.as(of(e.root))
	amber := authz.ConditionsInput{MaxTLP: "TLP:AMBER", EmbargoSeconds: 86400, HideCreator: true,
		HideSources: []string{"internal", "partner-x"}}
	g, err := e.admin.CreateGrant(ctx, authz.GrantInput{Subject: &authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.a.ID},
		APIRoot: ptr("api1"), Collection: ptr("one"), Action: ptr(authz.ActionRead), Conditions: &amber})
	mustDo(t, err)
	wantAmber := &authz.ConditionsView{MaxTLP: stix.TLPAmber, EmbargoSeconds: 86400, HideCreator: true,
		HideSources: []string{"internal", "partner-x"}}
	if diff := cmp.Diff(wantAmber, g.Conditions); diff != "" {
		t.Errorf("created grant's conditions (-want +got):\n%s", diff)
	}
	stored, err := e.store.Grant(ctx, g.ID)
	mustDo(t, err)
	if want := (authz.Conditions{MaxTLP: stix.TLPAmber, Embargo: 86400e9, HideCreator: true,
		HideSources: []string{"internal", "partner-x"}}); !stored.Conditions.Equal(want) {
		t.Errorf("stored conditions %+v; want %+v", stored.Conditions, want)
	}
	// A grant without conditions shows none; a write grant shows no
	// conditions member at all.
	plain := e.grant(authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.b.ID}, coll1, authz.ActionRead)
	if diff := cmp.Diff(&authz.ConditionsView{HideSources: []string{}}, plain.Conditions); diff != "" {
		t.Errorf("read grant without conditions (-want +got):\n%s", diff)
	}
	w := e.grant(authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.b.ID}, coll2, authz.ActionWrite)
	if w.Conditions != nil {
		t.Errorf("write grant shows conditions %+v", w.Conditions)
	}
	b, _ := json.Marshal(w)
	if strings.Contains(string(b), "conditions") {
		t.Errorf("write grant as JSON: %s; want no conditions", b)
	}

	lastEvent := func() (authz.AuditEventView, auditDetails) {
		t.Helper()
		l, err := e.admin.AuditEvents(ctx, authz.AuditQuery{Action: "admin.grant.update"}, authz.Page{Limit: 1})
		mustDo(t, err)
		if len(l.Items) == 0 {
			t.Fatal("no admin.grant.update event")
		}
		var d auditDetails
		mustDo(t, json.Unmarshal(l.Items[0].Details, &d))
		return l.Items[0], d
	}
	refreshes := e.refreshes.Load()
	red, err := e.admin.UpdateGrantConditions(ctx, g.ID, authz.ConditionsInput{MaxTLP: "red"})
	mustDo(t, err)
	if diff := cmp.Diff(&authz.ConditionsView{MaxTLP: stix.TLPRed, HideSources: []string{}}, red.Conditions); diff != "" {
		t.Errorf("replaced conditions (-want +got):\n%s", diff)
	}
	if red.ID != g.ID || red.Collection != coll1 || !red.CreatedAt.Equal(g.CreatedAt) {
		t.Errorf("grant after the change %+v; want grant %s on %s as created", red, g.ID, coll1)
	}
	ev, d := lastEvent()
	if ev.APIRoot != "api1" || ev.Collection != coll1 || ev.UserID != e.root.ID {
		t.Errorf("event %+v; want by root on api1/%s", ev, coll1)
	}
	wantDetails := auditDetails{
		Before: map[string]any{"max_tlp": "amber", "embargo_seconds": 86400.0, "hide_creator": true,
			"hide_sources": []any{"internal", "partner-x"}},
		After: map[string]any{"max_tlp": "red", "embargo_seconds": 0.0, "hide_creator": false, "hide_sources": []any{}},
	}
	gotDetails := auditDetails{Before: d.Before["conditions"].(map[string]any), After: d.After["conditions"].(map[string]any)}
	if diff := cmp.Diff(wantDetails, gotDetails); diff != "" {
		t.Errorf("audited conditions (-want +got):\n%s", diff)
	}
	if d.Before["id"] != g.ID || d.After["id"] != g.ID {
		t.Errorf("audited grants %v, %v; want %s both", d.Before["id"], d.After["id"], g.ID)
	}
	if n := e.refreshes.Load(); n != refreshes+1 {
		t.Errorf("refreshes after the change: %d; want %d", n, refreshes+1)
	}
	got, err := e.admin.Grant(ctx, g.ID)
	mustDo(t, err)
	if diff := cmp.Diff(red, got); diff != "" {
		t.Errorf("Grant after the change (-want +got):\n%s", diff)
	}
	// Org-admins see the conditions of their organization's grants.
	l, err := e.admin.Grants(e.as(of(e.alice)), authz.GrantQuery{}, authz.Page{})
	mustDo(t, err)
	if len(l.Items) != 1 || l.Items[0].ID != g.ID || cmp.Diff(red.Conditions, l.Items[0].Conditions) != "" {
		t.Errorf("alice's grants %+v; want %s with its conditions", l.Items, g.ID)
	}
	// An empty input lifts every condition.
	cleared, err := e.admin.UpdateGrantConditions(ctx, g.ID, authz.ConditionsInput{})
	mustDo(t, err)
	if diff := cmp.Diff(&authz.ConditionsView{HideSources: []string{}}, cleared.Conditions); diff != "" {
		t.Errorf("cleared conditions (-want +got):\n%s", diff)
	}
	if _, d := lastEvent(); d.Before["conditions"].(map[string]any)["max_tlp"] != "red" ||
		d.After["conditions"].(map[string]any)["max_tlp"] != nil {
		t.Errorf("clearing audited %v -> %v; want red, then none", d.Before["conditions"], d.After["conditions"])
	}

	// Refusals change nothing and are not audited.
	before, _ := lastEvent()
	for _, tc := range []struct {
		name  string
		who   authz.UserView
		id    string
		in    authz.ConditionsInput
		want  error
		field string
	}{
		{"org-admin", e.alice, g.ID, authz.ConditionsInput{MaxTLP: "green"}, authz.ErrForbidden, ""},
		{"member", e.amy, g.ID, authz.ConditionsInput{MaxTLP: "green"}, authz.ErrForbidden, ""},
		{"missing grant", e.root, "nope", authz.ConditionsInput{MaxTLP: "green"}, authz.ErrNotFound, ""},
		{"write grant", e.root, w.ID, authz.ConditionsInput{HideCreator: true}, authz.ErrInvalid, ""},
		{"unknown level", e.root, g.ID, authz.ConditionsInput{MaxTLP: "purple"}, authz.ErrInvalid, "max_tlp"},
		{"blank level", e.root, g.ID, authz.ConditionsInput{MaxTLP: " "}, authz.ErrInvalid, "max_tlp"},
		{"negative embargo", e.root, g.ID, authz.ConditionsInput{EmbargoSeconds: -1}, authz.ErrInvalid, "embargo_seconds"},
		{"embargo over a year", e.root, g.ID, authz.ConditionsInput{EmbargoSeconds: 366 * 86400}, authz.ErrInvalid, "embargo_seconds"},
		{"huge embargo", e.root, g.ID, authz.ConditionsInput{EmbargoSeconds: 1 << 62}, authz.ErrInvalid, "embargo_seconds"},
		{"duplicate source", e.root, g.ID, authz.ConditionsInput{HideSources: []string{"a", "a"}}, authz.ErrInvalid, "hide_sources"},
	} {
		_, err := e.admin.UpdateGrantConditions(e.as(of(tc.who)), tc.id, tc.in)
		wantErrIs(t, tc.name, err, tc.want)
		if tc.want == authz.ErrInvalid {
			wantField(t, tc.name, err, authz.ErrInvalid, tc.field)
		}
	}
	_, err = e.admin.CreateGrant(ctx, authz.GrantInput{Subject: &authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.a.ID},
		APIRoot: ptr("api1"), Collection: ptr(coll2), Action: ptr(authz.ActionWrite), Conditions: &authz.ConditionsInput{MaxTLP: "red"}})
	wantField(t, "write grant with conditions", err, authz.ErrInvalid, "conditions")
	_, err = e.admin.CreateGrant(ctx, authz.GrantInput{Subject: &authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.a.ID},
		APIRoot: ptr("api1"), Collection: ptr(coll2), Action: ptr(authz.ActionRead), Conditions: &authz.ConditionsInput{EmbargoSeconds: -5}})
	wantField(t, "negative embargo on create", err, authz.ErrInvalid, "conditions.embargo_seconds")
	if after, _ := lastEvent(); after.ID != before.ID {
		t.Errorf("a refused change was audited: %+v", after)
	}
	now, err := e.store.Grant(ctx, g.ID)
	mustDo(t, err)
	if !now.Conditions.IsZero() {
		t.Errorf("conditions after refused changes %+v; want none", now.Conditions)
	}
}
