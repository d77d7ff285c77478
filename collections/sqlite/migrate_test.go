package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taxiid/taxiid/collections"
)

// version2 creates a database as migrations 0001 and 0002 left it, and
// runs fill on it.
func version2(t *testing.T, path string, fill func(db *sql.DB)) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"0001_init.sql", "0002_version_index.sql"} {
		body, err := migrations.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := db.Exec("PRAGMA user_version = 2"); err != nil {
		t.Fatal(err)
	}
	fill(db)
}

// TestMigrate3 opens a database of schema version 2 holding objects whose
// ids have upper-case UUIDs (one also stored in lower case at the same
// version), stale flags and statuses as JSON documents.
func TestMigrate3(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "taxiid.db")
	const (
		coll = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
		u    = "6e187abe-1732-4772-b5c3-72f658d88c65"
	)
	lower, upper := "indicator--"+u, "indicator--6E187ABE-1732-4772-B5C3-72F658D88C65"
	other := "malware--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"
	v := func(ms int) string {
		return time.Date(2024, 1, 1, 0, 0, 0, ms*1e6, time.UTC).Format(versionLayout)
	}
	raw := func(id string, ms int, extra string) string {
		return fmt.Sprintf(`{"type":"indicator","id":"%s","created":"2024-01-01T00:00:00.000Z","modified":"%s"%s}`,
			id, v(ms)[:23]+"Z", extra)
	}
	now := time.Now().UTC()
	version2(t, path, func(db *sql.DB) {
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec("INSERT INTO api_roots VALUES ('api1', 'API 1', '', 1000)")
		exec("INSERT INTO collections (coll, api_root, id, alias, title, description, media_types) VALUES (1, 'api1', ?, 'main', 'C', '', '[]')", coll)
		ins := func(added int64, id, typ, ver, r string) {
			exec("INSERT INTO objects VALUES (?, 1, ?, ?, '2.1', ?, 0, ?, ?)", added, id, typ, ver, packMeta(ver, "2.1", typ, id), r)
		}
		ins(100, upper, "indicator", v(10), raw(upper, 10, ""))
		ins(101, lower, "indicator", v(10), raw(lower, 10, "")) // the same version again: goes
		ins(102, lower, "indicator", v(20), raw(lower, 20, ""))
		ins(103, upper, "indicator", v(30), raw(upper, 30, `,"revoked":true`))
		ins(104, other, "malware", v(5), `{"type":"malware","id":"`+other+`","created":"2024-01-01T00:00:00.005Z"}`)
		doc := func(id string, expires time.Time) string {
			return fmt.Sprintf(`{"id":"%s","api_root":"api1","status":"pending","request_timestamp":"%s","total_count":3,`+
				`"successes":[{"id":"%s","version":"2024-01-01T00:00:00.010Z"}],"failures":[{"id":"objects[1]","message":"bad"}],`+
				`"pendings":[{"id":"%s"}],"expires":"%s"}`, id, now.Format(time.RFC3339Nano), lower, other, expires.Format(time.RFC3339Nano))
		}
		exec("INSERT INTO statuses VALUES ('api1', 'live', ?, ?)", now.Add(time.Hour).UnixMicro(), doc("live", now.Add(time.Hour)))
		exec("INSERT INTO statuses VALUES ('api1', 'gone', ?, ?)", now.Add(-time.Hour).UnixMicro(), doc("gone", now.Add(-time.Hour)))
	})

	// Chunks of two versions: the object of three versions fills a chunk
	// and is read whole on its own.
	defer func(n int) { backfillChunk = n }(backfillChunk)
	backfillChunk = 2
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	page := func(q collections.Query) []string {
		t.Helper()
		q.APIRoot, q.Collection, q.Limit, q.MetadataOnly = "api1", coll, 100, true
		p, err := s.Objects(ctx, q)
		if err != nil {
			t.Fatalf("Objects: %v", err)
		}
		var got []string
		for _, o := range p.Objects {
			got = append(got, fmt.Sprintf("%s %s %d", o.ID, o.Version.Format(versionLayout), o.DateAdded.UnixMicro()))
		}
		return got
	}
	for _, tc := range []struct {
		name string
		q    collections.Query
		want []string
	}{
		{"all", collections.Query{Versions: collections.VersionFilter{All: true}},
			[]string{lower + " " + v(10) + " 100", lower + " " + v(20) + " 102", lower + " " + v(30) + " 103", other + " " + v(5) + " 104"}},
		{"last", collections.Query{}, []string{lower + " " + v(30) + " 103", other + " " + v(5) + " 104"}},
		{"first", collections.Query{Versions: collections.VersionFilter{First: true}}, []string{lower + " " + v(10) + " 100", other + " " + v(5) + " 104"}},
		{"upper-case id", collections.Query{IDs: []string{upper}, Versions: collections.VersionFilter{First: true, Last: true}},
			[]string{lower + " " + v(10) + " 100", lower + " " + v(30) + " 103"}},
	} {
		if diff := cmp.Diff(tc.want, page(tc.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}

	// The heads work: the revocation stops later versions; an older one
	// goes in and becomes the first.
	add := func(ms int) collections.AddResult {
		t.Helper()
		o := collections.NewObject{ID: upper, Type: "indicator", SpecVersion: "2.1",
			Version: time.Date(2024, 1, 1, 0, 0, 0, ms*1e6, time.UTC), Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			Raw: []byte(raw(upper, ms, ""))}
		r, err := s.AddObjects(ctx, "api1", coll, []collections.NewObject{o}, collections.AddOptions{})
		if err != nil {
			t.Fatalf("AddObjects: %v", err)
		}
		return r[0]
	}
	if r := add(40); r.Outcome != collections.Refused {
		t.Errorf("version after the revoked one: %v, want Refused", r.Outcome)
	}
	r := add(1)
	if r.Outcome != collections.Added {
		t.Errorf("older version: %v (%s), want Added", r.Outcome, r.Message)
	}
	if diff := cmp.Diff([]string{other + " " + v(5) + " 104", fmt.Sprint(lower+" "+v(1)+" ", r.DateAdded.UnixMicro())},
		page(collections.Query{Versions: collections.VersionFilter{First: true}})); diff != "" {
		t.Errorf("first after adding an older version (-want +got):\n%s", diff)
	}

	st, err := s.Status(ctx, "api1", "live")
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := collections.Status{ID: "live", APIRoot: "api1", Status: collections.StatusPending,
		RequestTimestamp: now.Truncate(time.Microsecond), TotalCount: 3, Expires: now.Add(time.Hour).Truncate(time.Microsecond),
		Successes: []collections.StatusDetail{{ID: lower, Version: "2024-01-01T00:00:00.010Z"}},
		Failures:  []collections.StatusDetail{{ID: "objects[1]", Message: "bad"}},
		Pendings:  []collections.StatusDetail{{ID: other}}}
	if diff := cmp.Diff(want, st, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("migrated status (-want +got):\n%s", diff)
	}
	if _, err := s.Status(ctx, "api1", "gone"); err == nil {
		t.Error("expired status survived the migration")
	}
	var n int
	if err := s.r.QueryRowContext(context.Background(), "SELECT count(*) FROM sqlite_master WHERE name = 'statuses_0001'").Scan(&n); err != nil || n != 0 {
		t.Errorf("old statuses table: %d, %v; want dropped", n, err)
	}
}
