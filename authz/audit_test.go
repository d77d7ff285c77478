package authz_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
)

func TestAuditLog(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, "")
	old := authz.AuditEvent{ID: authz.NewID(), Time: time.Now().Add(-48 * time.Hour), Action: "objects.read"}
	if err := s.AppendAudit(ctx, []authz.AuditEvent{old}); err != nil {
		t.Fatal(err)
	}
	l, err := authz.NewAuditLog(authz.AuditLogConfig{Store: s, BatchSize: 7, FlushInterval: time.Hour, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Truncate(time.Millisecond)
	var want []string
	for i := range 20 {
		id := fmt.Sprintf("e%02d", i)
		want = append([]string{id}, want...)
		l.Record(authz.AuditEvent{ID: id, Time: start.Add(time.Duration(i) * time.Millisecond), Action: "objects.read",
			UserID: "u1", APIRoot: "api1", Collection: "c1", Details: json.RawMessage(`{"objects":100}`)})
	}
	l.Record(authz.AuditEvent{Action: "authn.failure", UserName: "mallory"}) // id and time filled in
	l.Record(authz.AuditEvent{ID: "bad", Time: time.Now()})                  // no action: dropped
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuditEvents(ctx, authz.AuditFilter{Action: "objects.read", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	// Every recorded read, and not the one older than the retention.
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("events written (-want +got):\n%s", diff)
	}
	fails, err := s.AuditEvents(ctx, authz.AuditFilter{Action: "authn.failure", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) != 1 || fails[0].ID == "" || fails[0].Time.Before(start) || fails[0].UserName != "mallory" {
		t.Errorf("event recorded without id and time: %+v", fails)
	}
}
