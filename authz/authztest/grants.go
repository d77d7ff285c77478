package authztest

import (
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

func testGrantsMissing(t *testing.T, s authz.Store) {
	ctx := t.Context()
	_, err := s.Grant(ctx, "nope")
	wantErr(t, "Grant(missing)", err, authz.ErrNotFound)
	wantErr(t, "DeleteGrant(missing)", s.DeleteGrant(ctx, "nope"), authz.ErrNotFound)
	got, err := s.Grants(ctx, authz.GrantFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Grants of an empty store = %v, %v; want none", got, err)
	}
}

func testGrantsInvalid(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	ok := authz.Grant{Subject: authz.OrganizationSubject(a.ID), APIRoot: "api1", Collection: "c1", Action: authz.ActionRead}
	for _, tc := range []struct {
		name   string
		change func(*authz.Grant)
		field  string
	}{
		{"unknown organization", func(g *authz.Grant) { g.Subject = authz.OrganizationSubject("nope") }, "subject.id"},
		{"unknown user", func(g *authz.Grant) { g.Subject = authz.UserSubject("nope") }, "subject.id"},
		{"no subject id", func(g *authz.Grant) { g.Subject.ID = "" }, "subject.id"},
		{"public with id", func(g *authz.Grant) { g.Subject = authz.Subject{Kind: authz.SubjectPublic, ID: a.ID} }, "subject.id"},
		{"unknown kind", func(g *authz.Grant) { g.Subject.Kind = "group" }, "subject.kind"},
		{"public write", func(g *authz.Grant) { g.Subject, g.Action = authz.Public, authz.ActionWrite }, "action"},
		{"unknown action", func(g *authz.Grant) { g.Action = "delete" }, "action"},
		{"no api root", func(g *authz.Grant) { g.APIRoot = "" }, "api_root"},
		{"api root with a slash", func(g *authz.Grant) { g.APIRoot = "a/b" }, "api_root"},
		{"no collection", func(g *authz.Grant) { g.Collection = "" }, "collection"},
	} {
		g := ok
		tc.change(&g)
		_, err := s.CreateGrant(ctx, g)
		wantInvalid(t, "CreateGrant("+tc.name+")", err, tc.field)
	}
	for _, tc := range []struct {
		name  string
		f     authz.GrantFilter
		field string
	}{
		{"limit 0", authz.GrantFilter{}, "limit"},
		{"collection without api root", authz.GrantFilter{Collection: "c1", Limit: 1}, "api_root"},
		{"unknown action", authz.GrantFilter{Action: "x", Limit: 1}, "action"},
		{"bad subject", authz.GrantFilter{Subject: &authz.Subject{Kind: "x"}, Limit: 1}, "subject.kind"},
	} {
		_, err := s.Grants(ctx, tc.f)
		wantInvalid(t, "Grants("+tc.name+")", err, tc.field)
	}
	got, err := s.Grants(ctx, authz.GrantFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Grants after invalid creates = %v, %v; want none", got, err)
	}
}

func testGrants(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a, b := org(t, s, "A"), org(t, s, "B")
	u := user(t, s, a.ID, "alice", authz.RoleMember)
	start := time.Now()
	g1, err := s.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(a.ID), APIRoot: "api1",
		Collection: "c1", Action: authz.ActionRead})
	mustOK(t, "CreateGrant", err)
	checkStamp(t, "CreatedAt", g1.CreatedAt, start)
	diff(t, "CreateGrant", authz.Grant{ID: g1.ID, Subject: authz.OrganizationSubject(a.ID), APIRoot: "api1",
		Collection: "c1", Action: authz.ActionRead, CreatedAt: g1.CreatedAt}, g1)
	diff(t, "Grant", g1, must[authz.Grant](t, "Grant")(s.Grant(ctx, g1.ID)))

	_, err = s.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(a.ID), APIRoot: "api1",
		Collection: "c1", Action: authz.ActionRead})
	wantErr(t, "CreateGrant(duplicate)", err, authz.ErrConflict)

	g2 := grant(t, s, authz.OrganizationSubject(a.ID), "api1", "c1", authz.ActionWrite)
	g3 := grant(t, s, authz.OrganizationSubject(b.ID), "api1", "c1", authz.ActionRead)
	g4 := grant(t, s, authz.UserSubject(u.ID), "api1", "c2", authz.ActionWrite)
	g5 := grant(t, s, authz.Public, "api1", "c2", authz.ActionRead)
	g6 := grant(t, s, authz.OrganizationSubject(a.ID), "api2", "c1", authz.ActionRead)
	_, err = s.CreateGrant(ctx, authz.Grant{Subject: authz.Public, APIRoot: "api1", Collection: "c2", Action: authz.ActionRead})
	wantErr(t, "CreateGrant(duplicate public)", err, authz.ErrConflict)

	ids := func(gs []authz.Grant) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.ID)
		}
		return out
	}
	subA, subU, pub := authz.OrganizationSubject(a.ID), authz.UserSubject(u.ID), authz.Public
	for _, tc := range []struct {
		name string
		f    authz.GrantFilter
		want []authz.Grant
	}{
		{"all", authz.GrantFilter{}, []authz.Grant{g1, g2, g3, g4, g5, g6}},
		{"organization A", authz.GrantFilter{Subject: &subA}, []authz.Grant{g1, g2, g6}},
		{"user", authz.GrantFilter{Subject: &subU}, []authz.Grant{g4}},
		{"public", authz.GrantFilter{Subject: &pub}, []authz.Grant{g5}},
		{"api1/c1", authz.GrantFilter{APIRoot: "api1", Collection: "c1"}, []authz.Grant{g1, g2, g3}},
		{"api2", authz.GrantFilter{APIRoot: "api2"}, []authz.Grant{g6}},
		{"c1 in a missing root", authz.GrantFilter{APIRoot: "api3", Collection: "c1"}, nil},
		{"write", authz.GrantFilter{Action: authz.ActionWrite}, []authz.Grant{g2, g4}},
		{"A on api1/c1, read", authz.GrantFilter{Subject: &subA, APIRoot: "api1", Collection: "c1", Action: authz.ActionRead}, []authz.Grant{g1}},
		{"after g2", authz.GrantFilter{After: g2.ID}, []authz.Grant{g3, g4, g5, g6}},
		{"api1/c1 after g1, limit 1", authz.GrantFilter{APIRoot: "api1", Collection: "c1", After: g1.ID, Limit: 1}, []authz.Grant{g2}},
	} {
		if tc.f.Limit == 0 {
			tc.f.Limit = 100
		}
		got := must[[]authz.Grant](t, "Grants("+tc.name+")")(s.Grants(ctx, tc.f))
		diff(t, "Grants("+tc.name+")", ids(tc.want), ids(got))
	}

	mustOK(t, "DeleteGrant", s.DeleteGrant(ctx, g2.ID))
	_, err = s.Grant(ctx, g2.ID)
	wantErr(t, "Grant(deleted)", err, authz.ErrNotFound)
	wantErr(t, "DeleteGrant(again)", s.DeleteGrant(ctx, g2.ID), authz.ErrNotFound)
	diff(t, "Grants after delete", []authz.Grant{g1, g3, g4, g5, g6},
		must[[]authz.Grant](t, "Grants")(s.Grants(ctx, authz.GrantFilter{Limit: 100})))
	// Granting again after a revocation works.
	grant(t, s, subA, "api1", "c1", authz.ActionWrite)
}
