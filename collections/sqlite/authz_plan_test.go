package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// TestAuthzQueryPlans checks with EXPLAIN QUERY PLAN that the listings of
// grants and audit events, which grow with the hub, read an index in the
// order of the listing and never sort what they read, and that the lookup
// of a client certificate's bindings searches the (identity, issuer) index.
func TestAuthzQueryPlans(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	org := authz.OrganizationSubject("o1")
	type tc struct {
		name, query string
		args        []any
		want        string // in the plan
	}
	var cases []tc
	for _, c := range []struct {
		name string
		f    authz.AuditFilter
		want string
	}{
		{"all", authz.AuditFilter{}, "audit_time"},
		{"after", authz.AuditFilter{After: authz.AuditCursor{Time: now, ID: "x"}}, "audit_time"},
		{"range", authz.AuditFilter{Since: now.Add(-time.Hour), Until: now}, "audit_time"},
		{"user", authz.AuditFilter{UserID: "u1", After: authz.AuditCursor{Time: now, ID: "x"}}, "audit_user"},
		{"organization", authz.AuditFilter{OrganizationID: "o1", Since: now}, "audit_organization"},
		{"action", authz.AuditFilter{Action: "objects.read"}, "audit_action"},
		{"collection", authz.AuditFilter{APIRoot: "api1", Collection: "c1", Until: now}, "audit_collection"},
		{"user and organization", authz.AuditFilter{UserID: "u1", OrganizationID: "o1"}, "audit_"},
	} {
		q, args := auditQuery(c.f, 100)
		cases = append(cases, tc{"audit " + c.name, q, args, c.want})
	}
	for _, c := range []struct {
		name string
		f    authz.GrantFilter
		want string
	}{
		{"all", authz.GrantFilter{}, "sqlite_autoindex_grants_1"},
		{"subject", authz.GrantFilter{Subject: &org}, "grants_subject"},
		{"collection", authz.GrantFilter{APIRoot: "api1", Collection: "c1"}, "grants_collection"},
	} {
		q, args := grantsQuery(c.f, 100)
		cases = append(cases, tc{"grants " + c.name, q, args, c.want})
	}
	cases = append(cases,
		tc{"users of an organization", "SELECT " + userColumns + " FROM users WHERE organization_id = ? AND name > ? ORDER BY name LIMIT 100",
			[]any{"o1", ""}, "users_organization"},
		tc{"tokens of a user", "SELECT " + tokenColumns + " FROM tokens WHERE user_id = ? AND id > ? ORDER BY id LIMIT 100",
			[]any{"u1", ""}, "tokens_user"},
		tc{"token by hash", "SELECT " + tokenColumns + " FROM tokens WHERE hash = ?", []any{"h"}, "sqlite_autoindex_tokens"},
		tc{"certificate bindings of a user", "SELECT " + bindingColumns +
			" FROM certificate_bindings WHERE user_id = ? AND id > ? ORDER BY id LIMIT 100", []any{"u1", ""}, "certificate_bindings_user"},
		tc{"certificate bindings", "SELECT " + bindingColumns + " FROM certificate_bindings WHERE id > ? ORDER BY id LIMIT 100",
			[]any{""}, "sqlite_autoindex_certificate_bindings_1"},
	)
	q, args := matchQuery([]string{"subject:CN=a", "dns:a.example", "ip:192.0.2.1"}, []string{"x", "y"})
	cases = append(cases, tc{"certificate bindings of a certificate", q, args,
		"USING INDEX sqlite_autoindex_certificate_bindings_2 (identity=? AND issuer=?)"})
	for _, c := range cases {
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "\n")
		// A scan in index order that stops at the limit is fine; a scan of
		// the table or a sort is not.
		bad := strings.Contains(p, "TEMP B-TREE")
		for _, line := range plan {
			bad = bad || (strings.HasPrefix(line, "SCAN") && !strings.Contains(line, "USING INDEX"))
		}
		if !strings.Contains(p, c.want) || bad {
			t.Errorf("plan of %s:\n%s\nwant %s, no scan of the table, no sort", c.name, p, c.want)
		}
	}
}
