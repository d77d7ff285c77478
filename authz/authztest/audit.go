package authztest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// auditBase is an arbitrary time audit tests count from.
var auditBase = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return auditBase.Add(time.Duration(ms) * time.Millisecond) }

func eventIDs(es []authz.AuditEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testAuditInvalid(t *testing.T, s authz.Store) {
	ctx := t.Context()
	good := authz.AuditEvent{ID: "e1", Time: at(0), Action: "x"}
	for _, tc := range []struct {
		name  string
		e     authz.AuditEvent
		field string
	}{
		{"no id", authz.AuditEvent{Time: at(0), Action: "x"}, "id"},
		{"no time", authz.AuditEvent{ID: "e2", Action: "x"}, "time"},
		{"no action", authz.AuditEvent{ID: "e2", Time: at(0)}, "action"},
		{"details not JSON", authz.AuditEvent{ID: "e2", Time: at(0), Action: "x", Details: json.RawMessage("{")}, "details"},
		{"details too large", authz.AuditEvent{ID: "e2", Time: at(0), Action: "x",
			Details: json.RawMessage(`"` + string(make([]byte, authz.MaxAuditDetails)) + `"`)}, "details"},
		{"control character", authz.AuditEvent{ID: "e2", Time: at(0), Action: "x", UserName: "a\x1bb"}, "user_name"},
	} {
		// The good event of the batch is not stored either.
		wantInvalid(t, "AppendAudit("+tc.name+")", s.AppendAudit(ctx, []authz.AuditEvent{good, tc.e}), tc.field)
	}
	_, err := s.AuditEvents(ctx, authz.AuditFilter{})
	wantInvalid(t, "AuditEvents(limit 0)", err, "limit")
	_, err = s.AuditEvents(ctx, authz.AuditFilter{Collection: "c", Limit: 1})
	wantInvalid(t, "AuditEvents(collection without api root)", err, "api_root")
	_, err = s.AuditEvents(ctx, authz.AuditFilter{APIRoot: "api1", Limit: 1})
	wantInvalid(t, "AuditEvents(api root without collection)", err, "collection")
	got, err := s.AuditEvents(ctx, authz.AuditFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("AuditEvents after invalid appends = %v, %v; want none", got, err)
	}
	mustOK(t, "AppendAudit(no events)", s.AppendAudit(ctx, nil))
}

func testAudit(t *testing.T, s authz.Store) {
	ctx := t.Context()
	e1 := authz.AuditEvent{ID: "e1", Time: time.Date(2030, 6, 1, 14, 0, 0, 1_234_567, time.FixedZone("X", 7200)),
		UserID: "u1", UserName: "alice", OrganizationID: "o1", SourceAddress: "192.0.2.1:5555", RequestID: "r1",
		Action: "admin.user.update", Details: json.RawMessage(`{"before":{"role":"member"},"after":{"role":"org-admin"}}`)}
	e2 := authz.AuditEvent{ID: "e2", Time: at(1), Action: "authn.failure", UserName: "mallory", SourceAddress: "2001:db8::1"}
	e3 := authz.AuditEvent{ID: "e3", Time: at(1), Action: "objects.read", UserID: "u1", UserName: "alice",
		OrganizationID: "o1", APIRoot: "api1", Collection: "c1", Details: json.RawMessage(`{"objects":100}`)}
	mustOK(t, "AppendAudit", s.AppendAudit(ctx, []authz.AuditEvent{e2, e1, e3}))
	// Retrying a batch stores nothing twice.
	mustOK(t, "AppendAudit(retry)", s.AppendAudit(ctx, []authz.AuditEvent{e3, e1}))

	got, err := s.AuditEvents(ctx, authz.AuditFilter{Limit: 10})
	mustOK(t, "AuditEvents", err)
	// e1 is at 12:00:00.001 UTC, like e2 and e3: ties go by id, descending.
	want1 := e1
	want1.Time = at(1)
	diff(t, "AuditEvents (newest first, UTC, milliseconds)", []authz.AuditEvent{e3, e2, want1}, got)
}

func testAuditFilters(t *testing.T, s authz.Store) {
	ctx := t.Context()
	var events []authz.AuditEvent
	add := func(id string, ms int, user, org, action, root, coll string) {
		events = append(events, authz.AuditEvent{ID: id, Time: at(ms), UserID: user, OrganizationID: org,
			Action: action, APIRoot: root, Collection: coll})
	}
	add("a", 0, "u1", "o1", "objects.read", "api1", "c1")
	add("b", 10, "u2", "o1", "objects.push", "api1", "c1")
	add("c", 20, "u3", "o2", "objects.read", "api1", "c2")
	add("d", 30, "u1", "o1", "objects.read", "api2", "c1")
	add("e", 30, "", "", "authn.failure", "", "")
	add("f", 40, "u3", "o2", "admin.grant.create", "api1", "c1")
	mustOK(t, "AppendAudit", s.AppendAudit(ctx, events[:3]))
	mustOK(t, "AppendAudit", s.AppendAudit(ctx, events[3:]))

	for _, tc := range []struct {
		name string
		f    authz.AuditFilter
		want []string
	}{
		{"all", authz.AuditFilter{}, []string{"f", "e", "d", "c", "b", "a"}},
		{"user u1", authz.AuditFilter{UserID: "u1"}, []string{"d", "a"}},
		{"organization o2", authz.AuditFilter{OrganizationID: "o2"}, []string{"f", "c"}},
		{"action", authz.AuditFilter{Action: "objects.read"}, []string{"d", "c", "a"}},
		{"collection", authz.AuditFilter{APIRoot: "api1", Collection: "c1"}, []string{"f", "b", "a"}},
		{"since (inclusive)", authz.AuditFilter{Since: at(30)}, []string{"f", "e", "d"}},
		{"until (exclusive)", authz.AuditFilter{Until: at(30)}, []string{"c", "b", "a"}},
		{"range and organization", authz.AuditFilter{OrganizationID: "o1", Since: at(5), Until: at(31)}, []string{"d", "b"}},
		{"nothing", authz.AuditFilter{UserID: "u9"}, nil},
		{"after a tie", authz.AuditFilter{After: authz.AuditCursor{Time: at(30), ID: "e"}}, []string{"d", "c", "b", "a"}},
		{"after, limited", authz.AuditFilter{After: authz.AuditCursor{Time: at(40), ID: "f"}, Limit: 2}, []string{"e", "d"}},
		{"after, filtered", authz.AuditFilter{UserID: "u1", After: authz.AuditCursor{Time: at(30), ID: "d"}}, []string{"a"}},
	} {
		if tc.f.Limit == 0 {
			tc.f.Limit = 100
		}
		got := must[[]authz.AuditEvent](t, "AuditEvents("+tc.name+")")(s.AuditEvents(ctx, tc.f))
		diff(t, "AuditEvents("+tc.name+")", tc.want, eventIDs(got))
	}

	// Paging with the cursor of each page's last event sees every event once.
	var seen []string
	f := authz.AuditFilter{Limit: 4}
	for range 5 {
		page := must[[]authz.AuditEvent](t, "AuditEvents")(s.AuditEvents(ctx, f))
		seen = append(seen, eventIDs(page)...)
		if len(page) < f.Limit {
			break
		}
		f.After = page[len(page)-1].Cursor()
	}
	diff(t, "paged AuditEvents", []string{"f", "e", "d", "c", "b", "a"}, seen)
}

func testAuditPurge(t *testing.T, s authz.Store) {
	ctx := t.Context()
	var events []authz.AuditEvent
	for i, id := range []string{"a", "b", "c", "d"} {
		events = append(events, authz.AuditEvent{ID: id, Time: at(i * 10), Action: "x"})
	}
	mustOK(t, "AppendAudit", s.AppendAudit(ctx, events))
	n, err := s.PurgeAudit(ctx, at(20))
	mustOK(t, "PurgeAudit", err)
	if n != 2 {
		t.Errorf("PurgeAudit removed %d events, want 2", n)
	}
	got := must[[]authz.AuditEvent](t, "AuditEvents")(s.AuditEvents(ctx, authz.AuditFilter{Limit: 10}))
	diff(t, "AuditEvents after purge", []string{"d", "c"}, eventIDs(got))
	n, err = s.PurgeAudit(ctx, at(20))
	if err != nil || n != 0 {
		t.Errorf("PurgeAudit again = %d, %v; want 0", n, err)
	}
}
