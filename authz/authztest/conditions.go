package authztest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/stix"
)

// testGrantConditions checks that the conditions of read grants are
// stored, read back and listed as given, and that changing them moves the
// generation.
func testGrantConditions(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a, b := org(t, s, "A"), org(t, s, "B")
	u := user(t, s, a.ID, "alice", authz.RoleMember)
	full := authz.Conditions{MaxTLP: stix.TLPAmber, Embargo: 24 * time.Hour, HideCreator: true,
		HideSources: []string{"internal-ticket", "partner feed é"}}
	create := func(sub authz.Subject, act authz.Action, c authz.Conditions) authz.Grant {
		t.Helper()
		return must[authz.Grant](t, "CreateGrant")(s.CreateGrant(ctx,
			authz.Grant{Subject: sub, APIRoot: "api1", Collection: "c1", Action: act, Conditions: c}))
	}
	gA := create(authz.OrganizationSubject(a.ID), authz.ActionRead, full)
	diff(t, "CreateGrant with conditions", full, gA.Conditions)
	gB := create(authz.OrganizationSubject(b.ID), authz.ActionRead, authz.Conditions{MaxTLP: stix.TLPClear})
	gU := create(authz.UserSubject(u.ID), authz.ActionRead, authz.Conditions{})
	gW := create(authz.UserSubject(u.ID), authz.ActionWrite, authz.Conditions{})
	// An empty list of sources is no list.
	gP := create(authz.Public, authz.ActionRead, authz.Conditions{Embargo: time.Second, HideSources: []string{}})
	want := map[string]authz.Conditions{
		gA.ID: full,
		gB.ID: {MaxTLP: stix.TLPClear},
		gU.ID: {},
		gW.ID: {},
		gP.ID: {Embargo: time.Second},
	}
	check := func(what string) {
		t.Helper()
		for id, c := range want {
			diff(t, what+": Grant "+id, c, must[authz.Grant](t, "Grant")(s.Grant(ctx, id)).Conditions)
		}
		got := map[string]authz.Conditions{}
		for _, g := range must[[]authz.Grant](t, "Grants")(s.Grants(ctx, authz.GrantFilter{Limit: 100})) {
			got[g.ID] = g.Conditions
		}
		diff(t, what+": Grants", want, got)
	}
	check("created")

	// Every level round-trips.
	for l := stix.TLPNone; l <= stix.TLPRed; l++ {
		before := gen(t, s)
		g := must[authz.Grant](t, "UpdateGrantConditions")(s.UpdateGrantConditions(ctx, gB.ID, authz.Conditions{MaxTLP: l}))
		if g.Conditions.MaxTLP != l || g.ID != gB.ID || !g.CreatedAt.Equal(gB.CreatedAt) || g.Subject != gB.Subject {
			t.Errorf("UpdateGrantConditions(%v) = %+v; want grant %s with max TLP %v", l, g, gB.ID, l)
		}
		if after := gen(t, s); after <= before {
			t.Errorf("UpdateGrantConditions(%v): generation %d -> %d; want it to move", l, before, after)
		}
		want[gB.ID] = authz.Conditions{MaxTLP: l}
		check(fmt.Sprintf("max TLP %v", l))
	}
	// Replacing conditions replaces all of them; clearing leaves none.
	want[gU.ID] = full
	mustOK(t, "UpdateGrantConditions", ignore2(s.UpdateGrantConditions(ctx, gU.ID, full)))
	want[gA.ID] = authz.Conditions{HideSources: []string{"other"}}
	mustOK(t, "UpdateGrantConditions", ignore2(s.UpdateGrantConditions(ctx, gA.ID, want[gA.ID])))
	want[gP.ID] = authz.Conditions{}
	mustOK(t, "UpdateGrantConditions", ignore2(s.UpdateGrantConditions(ctx, gP.ID, authz.Conditions{HideSources: []string{}})))
	check("replaced")

	_, err := s.UpdateGrantConditions(ctx, "nope", full)
	wantErr(t, "UpdateGrantConditions(missing)", err, authz.ErrNotFound)
	// A write grant has no conditions; clearing them changes nothing.
	before := gen(t, s)
	_, err = s.UpdateGrantConditions(ctx, gW.ID, authz.Conditions{HideCreator: true})
	wantInvalid(t, "UpdateGrantConditions(write grant)", err, "conditions")
	if after := gen(t, s); after != before {
		t.Errorf("refused UpdateGrantConditions moved the generation %d -> %d", before, after)
	}
	mustOK(t, "UpdateGrantConditions(write grant, none)", ignore2(s.UpdateGrantConditions(ctx, gW.ID, authz.Conditions{})))
	check("after refusals")
}

// testGrantConditionsInvalid checks the bounds of conditions on create and
// on update: refused with the field named, and nothing changed.
func testGrantConditionsInvalid(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	stored := authz.Conditions{MaxTLP: stix.TLPGreen}
	g := must[authz.Grant](t, "CreateGrant")(s.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(a.ID),
		APIRoot: "api1", Collection: "c1", Action: authz.ActionRead, Conditions: stored}))
	many := make([]string, authz.MaxHideSources+1)
	for i := range many {
		many[i] = fmt.Sprintf("source-%d", i)
	}
	for _, tc := range []struct {
		name  string
		c     authz.Conditions
		field string
	}{
		{"unknown TLP", authz.Conditions{MaxTLP: stix.TLPRed + 1}, "conditions.max_tlp"},
		{"negative embargo", authz.Conditions{Embargo: -time.Second}, "conditions.embargo_seconds"},
		{"embargo over a year", authz.Conditions{Embargo: authz.MaxEmbargo + time.Second}, "conditions.embargo_seconds"},
		{"embargo in milliseconds", authz.Conditions{Embargo: 1500 * time.Millisecond}, "conditions.embargo_seconds"},
		{"too many sources", authz.Conditions{HideSources: many}, "conditions.hide_sources"},
		{"long source", authz.Conditions{HideSources: []string{strings.Repeat("x", authz.MaxSourceNameLen+1)}}, "conditions.hide_sources"},
		{"empty source", authz.Conditions{HideSources: []string{""}}, "conditions.hide_sources"},
		{"duplicate source", authz.Conditions{HideSources: []string{"a", "b", "a"}}, "conditions.hide_sources"},
		{"control character", authz.Conditions{HideSources: []string{"a\nb"}}, "conditions.hide_sources"},
		{"invalid UTF-8", authz.Conditions{HideSources: []string{"\xff"}}, "conditions.hide_sources"},
	} {
		_, err := s.CreateGrant(ctx, authz.Grant{Subject: authz.Public, APIRoot: "api1", Collection: "c1",
			Action: authz.ActionRead, Conditions: tc.c})
		wantInvalid(t, "CreateGrant("+tc.name+")", err, tc.field)
		before := gen(t, s)
		_, err = s.UpdateGrantConditions(ctx, g.ID, tc.c)
		wantInvalid(t, "UpdateGrantConditions("+tc.name+")", err, tc.field)
		if after := gen(t, s); after != before {
			t.Errorf("UpdateGrantConditions(%s) moved the generation %d -> %d", tc.name, before, after)
		}
	}
	_, err := s.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(a.ID), APIRoot: "api1",
		Collection: "c1", Action: authz.ActionWrite, Conditions: authz.Conditions{Embargo: time.Hour}})
	wantInvalid(t, "CreateGrant(write with conditions)", err, "conditions")
	// The bounds themselves are allowed.
	edge := authz.Conditions{MaxTLP: stix.TLPRed, Embargo: authz.MaxEmbargo, HideSources: many[:authz.MaxHideSources]}
	edge.HideSources[0] = strings.Repeat("é", authz.MaxSourceNameLen/2)
	diff(t, "UpdateGrantConditions(at the bounds)", edge,
		must[authz.Grant](t, "UpdateGrantConditions")(s.UpdateGrantConditions(ctx, g.ID, edge)).Conditions)
	diff(t, "Grant at the bounds", edge, must[authz.Grant](t, "Grant")(s.Grant(ctx, g.ID)).Conditions)
	gs := must[[]authz.Grant](t, "Grants")(s.Grants(ctx, authz.GrantFilter{Limit: 100}))
	if len(gs) != 1 || gs[0].ID != g.ID {
		t.Errorf("Grants after invalid creates = %v; want only %s", gs, g.ID)
	}
}

func ignore2[T any](_ T, err error) error { return err }
