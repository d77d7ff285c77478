package authz_test

import (
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// TestOrganizationConditions: an organization reads under its own grant,
// else the public one; its users' own grants do not count.
func TestOrganizationConditions(t *testing.T) {
	s := openStore(t, "")
	f := conditionsFixture(t, s)
	p := startProcess(t, s, time.Hour)
	for _, tc := range []struct {
		org, root, coll string
		want            authz.Conditions
		ok              bool
	}{
		{"A", "api1", condAll, condsA, true},
		{"B", "api1", condAll, condsPublic, true}, // B writes; reads as the public
		{"A", "api1", condOrg, condsAOrg, true},
		{"B", "api1", condOrg, authz.Conditions{}, false},
		{"A", "api1", condUser, authz.Conditions{}, true}, // alice's own conditions are hers
		{"C", "api1", condUser, authz.Conditions{}, false},
		{"C", "api1", condPublic, authz.Conditions{}, true},
		{"Ops", "api1", condNone, authz.Conditions{}, false}, // an admin's organization has no grant
		{"A", "api2", condAll, authz.Conditions{}, false},
		{"A", "api1/x", condAll, authz.Conditions{}, false},
	} {
		got, ok := p.az.OrganizationConditions(f.orgs[tc.org].ID, tc.root, tc.coll)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s on %s/%s: OrganizationConditions = %+v, %v; want %+v, %v", tc.org, tc.root, tc.coll, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := p.az.OrganizationConditions("", "api1", condPublic); ok {
		t.Errorf("no organization reads a public collection as an organization")
	}
}
