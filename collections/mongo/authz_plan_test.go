package mongo

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/mongo/mongotest"
)

// TestAuthzQueryPlans checks with explain, on a real MongoDB, that every
// listing reads the index it hints in the order of the listing (no
// collection scan, no sort), and that the lookups and deletes that run on
// every authentication or delete read an index.
func TestAuthzQueryPlans(t *testing.T) {
	if !mongotest.External() {
		t.Skip("explain needs a real MongoDB: set " + mongotest.EnvURI)
	}
	s, _ := openAuthz(t)
	now := time.Now()
	org := authz.OrganizationSubject("o1")
	after := authz.AuditCursor{Time: now, ID: "x"}
	listings := []struct {
		name   string
		l      listing
		sorted bool // the listing sorts what it reads
	}{
		{"organizations", orgsListing("m"), false},
		{"users", usersListing(authz.UserFilter{After: "m"}), false},
		{"users of an organization", usersListing(authz.UserFilter{OrganizationID: "o1", After: "m"}), false},
		{"tokens", tokensListing(authz.TokenFilter{After: "x"}), false},
		{"tokens of a user", tokensListing(authz.TokenFilter{UserID: "u1", After: "x"}), false},
		{"grants", grantsListing(authz.GrantFilter{After: "x"}), false},
		{"grants of a subject", grantsListing(authz.GrantFilter{Subject: &org, APIRoot: "api1", After: "x"}), false},
		{"grants of a collection", grantsListing(authz.GrantFilter{APIRoot: "api1", Collection: "c1", Action: authz.ActionRead}), false},
		{"grants of an API root", grantsListing(authz.GrantFilter{APIRoot: "api1"}), true},
		{"grants of an action", grantsListing(authz.GrantFilter{Action: authz.ActionWrite}), false},
		{"audit", auditListing(authz.AuditFilter{}), false},
		{"audit after", auditListing(authz.AuditFilter{After: after}), false},
		{"audit range", auditListing(authz.AuditFilter{Since: now.Add(-time.Hour), Until: now}), false},
		{"audit of a user", auditListing(authz.AuditFilter{UserID: "u1", After: after}), false},
		{"audit of an organization", auditListing(authz.AuditFilter{OrganizationID: "o1", Since: now}), false},
		{"audit of an action", auditListing(authz.AuditFilter{Action: "objects.read"}), false},
		{"audit of a collection", auditListing(authz.AuditFilter{APIRoot: "api1", Collection: "c1", Until: now}), false},
		{"audit of a user and an organization", auditListing(authz.AuditFilter{UserID: "u1", OrganizationID: "o1"}), false},
		{"certificate bindings", bindingsListing(authz.CertificateBindingFilter{After: "x"}), false},
		{"certificate bindings of a user", bindingsListing(authz.CertificateBindingFilter{UserID: "u1", After: "x"}), false},
		{"certificate bindings of a certificate", matchListing([]string{"subject:CN=a", "dns:a.example"}, []string{"x"}), false},
	}
	for _, c := range listings {
		stages, indexes := explainFind(t, s, c.l.coll, c.l.filter, c.l.sort, c.l.index)
		if !slices.Contains(indexes, c.l.index) || slices.Contains(stages, "COLLSCAN") {
			t.Errorf("%s: plan stages %v on indexes %v, want a scan of %s", c.name, stages, indexes, c.l.index)
		}
		if sorts := slices.ContainsFunc(stages, func(st string) bool { return strings.Contains(st, "SORT") }); sorts != c.sorted {
			t.Errorf("%s: plan stages %v: sorted %v, want %v", c.name, stages, sorts, c.sorted)
		}
	}

	// Lookups and deletes the planner serves alone.
	for _, c := range []struct {
		name   string
		coll   string
		filter bson.D
	}{
		{"token by hash", collTokens, bson.D{{Key: "hash", Value: "h"}}},
		{"user by name", collUsers, bson.D{{Key: "name", Value: "alice"}}},
		{"organization by name", collOrgs, bson.D{{Key: "name", Value: "ACME"}}},
		{"users of an organization (delete check)", collUsers, bson.D{{Key: "organization_id", Value: "o1"}}},
		{"tokens of a user (delete)", collTokens, bson.D{{Key: "user_id", Value: "u1"}}},
		{"grants of a subject (delete)", collGrants, subjectFilter(org)},
		{"certificate bindings of a user (delete)", collCertBinds, bson.D{{Key: "user_id", Value: "u1"}}},
		{"audit purge", collAudit, bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: now}}}}},
	} {
		stages, _ := explainFind(t, s, c.coll, c.filter, nil, "")
		if slices.Contains(stages, "COLLSCAN") ||
			!slices.ContainsFunc(stages, func(st string) bool { return strings.Contains(st, "IXSCAN") || strings.Contains(st, "IDHACK") }) {
			t.Errorf("%s: plan stages %v, want an index scan", c.name, stages)
		}
	}
}

// explainFind returns the stage names and index names of the plan MongoDB
// chooses for a find, whatever the shape of its explain output (classic or
// slot-based plans).
func explainFind(t *testing.T, s *Store, coll string, filter, sort bson.D, hint string) (stages, indexes []string) {
	t.Helper()
	find := bson.D{{Key: "find", Value: coll}, {Key: "filter", Value: filter}, {Key: "limit", Value: 100}}
	if sort != nil {
		find = append(find, bson.E{Key: "sort", Value: sort})
	}
	if hint != "" {
		find = append(find, bson.E{Key: "hint", Value: hint})
	}
	var res bson.Raw
	err := s.db.RunCommand(t.Context(), bson.D{{Key: "explain", Value: find}, {Key: "verbosity", Value: "queryPlanner"}}).Decode(&res)
	if err != nil {
		t.Fatalf("explain find on %s: %v", coll, err)
	}
	winning, err := res.LookupErr("queryPlanner", "winningPlan")
	if err != nil {
		t.Fatalf("explain find on %s: no winning plan in %v", coll, res)
	}
	var walk func(v bson.RawValue)
	walk = func(v bson.RawValue) {
		var elems []bson.RawElement
		switch v.Type {
		case bson.TypeEmbeddedDocument:
			elems, _ = v.Document().Elements()
		case bson.TypeArray:
			vals, _ := v.Array().Values()
			for _, e := range vals {
				walk(e)
			}
			return
		default:
			return
		}
		for _, e := range elems {
			switch val := e.Value(); {
			case e.Key() == "stage" && val.Type == bson.TypeString:
				stages = append(stages, val.StringValue())
			case e.Key() == "indexName" && val.Type == bson.TypeString:
				indexes = append(indexes, val.StringValue())
			default:
				walk(val)
			}
		}
	}
	walk(winning)
	return stages, indexes
}
