package authz_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/stix"
)

// Collections of the conditions fixture.
const (
	condAll    = "10000000-0000-4000-8000-000000000001" // public, A and alice read; B writes
	condOrg    = "10000000-0000-4000-8000-000000000002" // A reads
	condUser   = "10000000-0000-4000-8000-000000000003" // alice and A read
	condPublic = "10000000-0000-4000-8000-000000000004" // everyone reads, without conditions
	condNone   = "10000000-0000-4000-8000-000000000005" // nobody
)

var (
	condsPublic = authz.Conditions{MaxTLP: stix.TLPGreen}
	condsA      = authz.Conditions{MaxTLP: stix.TLPAmber, Embargo: time.Hour}
	condsAOrg   = authz.Conditions{HideCreator: true}
	condsAlice  = authz.Conditions{HideSources: []string{"internal"}}
)

// conditionsFixture: organizations A (alice, amy), B (bob), C (carl), Ops
// (root, an admin), and read grants with conditions at every level.
func conditionsFixture(t testing.TB, s authz.Store) *fixture {
	f := newFixture(t, s)
	for _, o := range []string{"A", "B", "C", "Ops"} {
		f.org(o)
	}
	f.user("alice", "A", authz.RoleMember, "")
	f.user("amy", "A", authz.RoleOrgAdmin, "")
	f.user("bob", "B", authz.RoleMember, "")
	f.user("carl", "C", authz.RoleMember, "")
	f.user("root", "Ops", authz.RoleAdmin, "")
	A, alice := authz.OrganizationSubject(f.orgs["A"].ID), authz.UserSubject(f.users["alice"].ID)
	for _, g := range []authz.Grant{
		{Subject: authz.Public, Collection: condAll, Conditions: condsPublic},
		{Subject: A, Collection: condAll, Conditions: condsA},
		{Subject: alice, Collection: condAll}, // none: the user's grant decides
		{Subject: authz.OrganizationSubject(f.orgs["B"].ID), Collection: condAll, Action: authz.ActionWrite},
		{Subject: A, Collection: condOrg, Conditions: condsAOrg},
		{Subject: A, Collection: condUser},
		{Subject: alice, Collection: condUser, Conditions: condsAlice},
		{Subject: authz.Public, Collection: condPublic},
	} {
		g.APIRoot = "api1"
		if g.Action == "" {
			g.Action = authz.ActionRead
		}
		if _, err := s.CreateGrant(context.Background(), g); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestReadConditions: the most specific read grant decides the conditions
// of a reader (the user's, else its organization's, else the public's),
// admins have none, and whoever may not read gets no answer.
func TestReadConditions(t *testing.T) {
	s := openStore(t, "")
	f := conditionsFixture(t, s)
	p := startProcess(t, s, time.Hour)
	for _, tc := range []struct {
		who, root, coll string
		want            authz.Conditions
		ok              bool
	}{
		{"alice", "api1", condAll, authz.Conditions{}, true},
		{"amy", "api1", condAll, condsA, true},
		{"bob", "api1", condAll, condsPublic, true}, // B writes; reads as the public
		{"carl", "api1", condAll, condsPublic, true},
		{"anonymous", "api1", condAll, condsPublic, true},
		{"root", "api1", condAll, authz.Conditions{}, true},
		{"alice", "api1", condOrg, condsAOrg, true},
		{"amy", "api1", condOrg, condsAOrg, true},
		{"bob", "api1", condOrg, authz.Conditions{}, false},
		{"anonymous", "api1", condOrg, authz.Conditions{}, false},
		{"alice", "api1", condUser, condsAlice, true},
		{"amy", "api1", condUser, authz.Conditions{}, true},
		{"carl", "api1", condUser, authz.Conditions{}, false},
		{"alice", "api1", condPublic, authz.Conditions{}, true},
		{"anonymous", "api1", condPublic, authz.Conditions{}, true},
		{"alice", "api1", condNone, authz.Conditions{}, false},
		{"root", "api1", condNone, authz.Conditions{}, true},
		{"amy", "api2", condAll, authz.Conditions{}, false}, // an id is only meaningful in its API root
		{"amy", "api1/x", condAll, authz.Conditions{}, false},
	} {
		ctx := authz.NewContext(t.Context(), f.principal(tc.who))
		got, ok := p.az.ReadConditions(ctx, tc.root, tc.coll)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s on %s/%s: ReadConditions = %+v, %v; want %+v, %v", tc.who, tc.root, tc.coll, got, ok, tc.want, tc.ok)
		}
		if can := p.az.CanRead(ctx, tc.root, tc.coll); can != ok {
			t.Errorf("%s on %s/%s: CanRead %v but ReadConditions %v", tc.who, tc.root, tc.coll, can, ok)
		}
	}
}

// TestReadConditionsFollowChanges: conditions changed, a user moved to
// another organization and a grant revoked take effect with the next
// policy, and a principal built before a move gets the conditions of the
// organization the user is in now.
func TestReadConditionsFollowChanges(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, "")
	f := conditionsFixture(t, s)
	p := startProcess(t, s, time.Hour)
	amyBefore := f.principal("amy")
	conditions := func(pr authz.Principal, coll string) (authz.Conditions, bool) {
		return p.az.ReadConditions(authz.NewContext(ctx, pr), "api1", coll)
	}
	grantOf := func(sub authz.Subject, coll string) authz.Grant {
		gs, err := s.Grants(ctx, authz.GrantFilter{Subject: &sub, APIRoot: "api1", Collection: coll,
			Action: authz.ActionRead, Limit: 1})
		if err != nil || len(gs) != 1 {
			t.Fatalf("grant of %s on %s: %v, %v", sub, coll, gs, err)
		}
		return gs[0]
	}
	A := authz.OrganizationSubject(f.orgs["A"].ID)
	steps := []struct {
		name   string
		change func() error
		who    authz.Principal
		coll   string
		want   authz.Conditions
		ok     bool
	}{
		{"A's conditions changed", func() error {
			_, err := s.UpdateGrantConditions(ctx, grantOf(A, condAll).ID, authz.Conditions{MaxTLP: stix.TLPRed})
			return err
		}, amyBefore, condAll, authz.Conditions{MaxTLP: stix.TLPRed}, true},
		{"A's conditions cleared", func() error {
			_, err := s.UpdateGrantConditions(ctx, grantOf(A, condAll).ID, authz.Conditions{})
			return err
		}, amyBefore, condAll, authz.Conditions{}, true},
		{"amy moved to C", func() error {
			_, err := s.UpdateUser(ctx, f.users["amy"].ID, func(u authz.User) (authz.User, error) {
				u.OrganizationID = f.orgs["C"].ID
				return u, nil
			})
			return err
		}, amyBefore, condAll, condsPublic, true},
		{"the public grant revoked", func() error {
			return s.DeleteGrant(ctx, grantOf(authz.Public, condAll).ID)
		}, amyBefore, condAll, authz.Conditions{}, false},
		{"alice's own grant revoked", func() error {
			return s.DeleteGrant(ctx, grantOf(authz.UserSubject(f.users["alice"].ID), condUser).ID)
		}, f.principal("alice"), condUser, authz.Conditions{}, true},
	}
	for _, st := range steps {
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		p.refresh(t)
		got, ok := conditions(st.who, st.coll)
		if ok != st.ok || !got.Equal(st.want) {
			t.Errorf("after %s: %s reads %s with %+v, %v; want %+v, %v", st.name, st.who.UserName, st.coll,
				got, ok, st.want, st.ok)
		}
	}
}

// TestConditionsValidate: the bounds of conditions, and that only read
// grants have any.
func TestConditionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     authz.Grant
		field string // "" valid
	}{
		{"none", authz.Grant{}, ""},
		{"all", authz.Grant{Conditions: authz.Conditions{MaxTLP: stix.TLPAmberStrict, Embargo: authz.MaxEmbargo,
			HideCreator: true, HideSources: []string{"a", "b"}}}, ""},
		{"write without", authz.Grant{Action: authz.ActionWrite}, ""},
		{"write with a ceiling", authz.Grant{Action: authz.ActionWrite, Conditions: authz.Conditions{MaxTLP: stix.TLPRed}}, "conditions"},
		{"write hiding the creator", authz.Grant{Action: authz.ActionWrite, Conditions: authz.Conditions{HideCreator: true}}, "conditions"},
		{"unknown level", authz.Grant{Conditions: authz.Conditions{MaxTLP: 9}}, "conditions.max_tlp"},
		{"negative embargo", authz.Grant{Conditions: authz.Conditions{Embargo: -time.Hour}}, "conditions.embargo_seconds"},
		{"embargo beyond a year", authz.Grant{Conditions: authz.Conditions{Embargo: authz.MaxEmbargo + time.Second}}, "conditions.embargo_seconds"},
		{"part of a second", authz.Grant{Conditions: authz.Conditions{Embargo: time.Second + time.Nanosecond}}, "conditions.embargo_seconds"},
		{"duplicate source", authz.Grant{Conditions: authz.Conditions{HideSources: []string{"a", "a"}}}, "conditions.hide_sources"},
		{"empty source", authz.Grant{Conditions: authz.Conditions{HideSources: []string{""}}}, "conditions.hide_sources"},
		{"long source", authz.Grant{Conditions: authz.Conditions{HideSources: []string{string(make([]byte, 257))}}}, "conditions.hide_sources"},
		{"too many sources", authz.Grant{Conditions: authz.Conditions{HideSources: sources(authz.MaxHideSources + 1)}}, "conditions.hide_sources"},
		{"as many sources as allowed", authz.Grant{Conditions: authz.Conditions{HideSources: sources(authz.MaxHideSources)}}, ""},
	} {
		g := tc.g
		g.ID, g.Subject, g.APIRoot, g.Collection = authz.NewID(), authz.OrganizationSubject("o"), "api1", condAll
		if g.Action == "" {
			g.Action = authz.ActionRead
		}
		err := g.Validate()
		field := ""
		if ie, ok := err.(*authz.InvalidError); ok {
			field = ie.Field
		} else if err != nil {
			field = "unexpected: " + err.Error()
		}
		if diff := cmp.Diff(tc.field, field); diff != "" {
			t.Errorf("%s: invalid field (-want +got): %s (%v)", tc.name, diff, err)
		}
	}
}

func sources(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "source " + string(rune('A'+i/26)) + string(rune('a'+i%26))
	}
	return out
}

// BenchmarkReadConditions: the conditions of a reader among 10,000 read
// grants with conditions (map lookups: the count does not matter), through
// each level of specificity.
func BenchmarkReadConditions(b *testing.B) {
	s := openStore(b, "")
	f := conditionsFixture(b, s)
	ctx := context.Background()
	for i := range 10_000 {
		_, err := s.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(f.orgs["B"].ID), APIRoot: "bulk",
			Collection: authz.NewID(), Action: authz.ActionRead, Conditions: authz.Conditions{MaxTLP: stix.TLP(1 + i%5)}})
		if err != nil {
			b.Fatal(err)
		}
	}
	p := startProcess(b, s, time.Hour)
	for _, who := range []string{"alice", "amy", "bob", "anonymous", "root"} {
		ctx := authz.NewContext(ctx, f.principal(who))
		b.Run(who, func(b *testing.B) {
			for b.Loop() {
				if _, ok := p.az.ReadConditions(ctx, "api1", condAll); !ok {
					b.Fatal("denied")
				}
			}
		})
	}
}
