package sqlite

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// TestQueryPlans checks with EXPLAIN QUERY PLAN that every query shape reads
// objects through an index range (SEARCH), never a scan, and sorts in a
// temporary B-tree only what is already bounded: the versions of named ids,
// or the Limit+1 rows of each UNION branch.
func TestQueryPlans(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// ANALYZE-like statistics could change plans; INDEXED BY pins them, and
	// this checks the pinned plans are the intended ones.
	ts := []time.Time{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	ids := []string{"indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11", "malware--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"}
	after := time.Now()
	many := func(n int, format string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(format, i)
		}
		return out
	}
	manyTimes := make([]time.Time, collections.MaxQueryValues)
	for i := range manyTimes {
		manyTimes[i] = ts[0].Add(time.Duration(i) * time.Second)
	}
	for _, tc := range []struct {
		name      string
		q         collections.Query
		tempBTree bool // a bounded sort is expected
	}{
		{"default", collections.Query{}, false},
		{"default after", collections.Query{AddedAfter: after}, false},
		{"metadata", collections.Query{MetadataOnly: true}, false},
		{"first", collections.Query{Versions: collections.VersionFilter{First: true}}, false},
		{"all", collections.Query{Versions: collections.VersionFilter{All: true}}, false},
		{"exact", collections.Query{Versions: collections.VersionFilter{Exact: ts}}, false},
		{"exacts", collections.Query{Versions: collections.VersionFilter{Exact: []time.Time{ts[0], ts[0].Add(time.Second)}}}, true},
		{"type exact", collections.Query{Types: []string{"indicator"}, Versions: collections.VersionFilter{Exact: ts}}, false},
		{"type", collections.Query{Types: []string{"indicator"}}, false},
		{"type first", collections.Query{Types: []string{"indicator"}, Versions: collections.VersionFilter{First: true}}, false},
		{"type all", collections.Query{Types: []string{"indicator"}, Versions: collections.VersionFilter{All: true}}, false},
		{"spec", collections.Query{SpecVersions: []string{"2.1"}}, false},
		{"specs", collections.Query{SpecVersions: []string{"2.0", "2.1"}}, true},
		{"spec type", collections.Query{SpecVersions: []string{"2.1"}, Types: []string{"indicator"}}, false},
		{"types", collections.Query{Types: []string{"indicator", "malware"}, AddedAfter: after}, true},
		{"first last exact", collections.Query{Versions: collections.VersionFilter{First: true, Last: true, Exact: ts}}, true},
		{"types first last", collections.Query{Types: []string{"indicator", "malware"},
			Versions: collections.VersionFilter{First: true, Last: true}}, true},
		{"ids", collections.Query{IDs: ids}, true},
		{"many ids", collections.Query{IDs: many(collections.MaxQueryValues, "indicator--0f6a5c36-6b50-4e3d-a9b8-%012d")}, true},
		{"many types", collections.Query{Types: many(collections.MaxQueryValues, "x-t-%d")}, true},
		{"many types, specs, versions", collections.Query{Types: many(collections.MaxQueryValues, "x-t-%d"),
			SpecVersions: many(collections.MaxQueryValues, "2.%d"),
			Versions:     collections.VersionFilter{First: true, Last: true, Exact: manyTimes}}, true},
		{"all specs", collections.Query{AllSpecVersions: true}, false},
		{"all specs all", collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}}, false},
		{"all specs type", collections.Query{AllSpecVersions: true, Types: []string{"indicator"}}, false},
		{"spec types", collections.Query{SpecVersions: []string{"2.1"}, Types: []string{"indicator", "malware"}}, false},
		// Under a ceiling of one level, one index range; else one bounded
		// range per level, merged; under TLP:RED one range, as without.
		{"ceiling", collections.Query{MaxTLP: stix.TLPClear}, false},
		{"ceiling type", collections.Query{MaxTLP: stix.TLPClear, Types: []string{"indicator"}}, false},
		{"ceiling embargo", collections.Query{MaxTLP: stix.TLPClear, AddedUntil: after, AddedAfter: after.Add(-time.Hour)}, false},
		{"ceiling exact", collections.Query{MaxTLP: stix.TLPGreen, Versions: collections.VersionFilter{Exact: ts}}, false},
		{"ceiling amber", collections.Query{MaxTLP: stix.TLPAmber}, true},
		{"ceiling first", collections.Query{MaxTLP: stix.TLPClear, Versions: collections.VersionFilter{First: true}}, false},
		{"ceiling all", collections.Query{MaxTLP: stix.TLPClear, Versions: collections.VersionFilter{All: true}}, false},
		{"ceiling type first", collections.Query{MaxTLP: stix.TLPClear, Types: []string{"indicator"}, Versions: collections.VersionFilter{First: true}}, false},
		{"ceiling spec", collections.Query{MaxTLP: stix.TLPClear, SpecVersions: []string{"2.1"}}, false},
		{"ceiling all specs", collections.Query{MaxTLP: stix.TLPClear, AllSpecVersions: true}, false},
		{"ceiling amber first last", collections.Query{MaxTLP: stix.TLPAmberStrict, Types: []string{"indicator", "malware"},
			Versions: collections.VersionFilter{First: true, Last: true}}, true},
		{"ceiling red", collections.Query{MaxTLP: stix.TLPRed}, false},
		{"ceiling red type", collections.Query{MaxTLP: stix.TLPRed, Types: []string{"indicator"}}, false},
		{"ceiling red embargo", collections.Query{MaxTLP: stix.TLPRed, AddedUntil: after}, false},
		{"embargo", collections.Query{AddedUntil: after, AddedAfter: after.Add(-time.Hour)}, false},
		{"ceiling ids", collections.Query{MaxTLP: stix.TLPAmber, IDs: ids, AddedUntil: after}, true},
		{"ids types versions", collections.Query{IDs: ids, Types: []string{"indicator"},
			Versions: collections.VersionFilter{First: true, Last: true, Exact: ts}, SpecVersions: []string{"2.1"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Limit = 100
			query, args, err := buildQuery(tc.q, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, ctx, s, query, args)
			t.Logf("%s\n%s", query, plan)
			for _, line := range strings.Split(plan, "\n") {
				switch {
				case strings.Contains(line, "SCAN objects"), strings.Contains(line, "SCAN o "):
					t.Errorf("scan of objects: %s", line)
				case strings.Contains(line, "TEMP B-TREE") && !tc.tempBTree:
					t.Errorf("unexpected sort: %s", line)
				}
			}
			if !strings.Contains(plan, "USING INDEX objects_") && !strings.Contains(plan, "USING INTEGER PRIMARY KEY") {
				t.Errorf("plan uses no index")
			}
			// Under a ceiling below TLP:RED the selection ranges are those
			// of the level indexes, which hold the marks under the ceiling:
			// the union's branches read nothing but them.
			if byLevel(tc.q.MaxTLP) && len(tc.q.IDs) == 0 && len(tc.q.Versions.Exact) == 0 {
				for _, line := range strings.Split(plan, "\n") {
					if strings.HasPrefix(line, "SEARCH objects USING") && !strings.Contains(line, "INTEGER PRIMARY KEY") &&
						!strings.Contains(line, "_tlp (") {
						t.Errorf("ceiling range not on a level index: %s", line)
					}
				}
			}
		})
	}
}

func explain(t *testing.T, ctx context.Context, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestWritePlans checks the plans of the write path's statements.
func TestWritePlans(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		query string
		args  []any
		want  string
	}{
		{"SELECT MAX(date_added) FROM objects", nil, "SEARCH objects"},
		{versionsQuery, []any{1, "x"}, "SEARCH objects USING INDEX objects_id (coll=? AND id=?)"},
		{storedQuery, []any{1, "x", "v"}, "SEARCH objects USING INDEX objects_id (coll=? AND id=? AND version=?)"},
		{headsQuery, []any{1, `["a","b"]`}, "SEARCH heads USING PRIMARY KEY (coll=? AND uuid=?)"},
		{headQuery, []any{1, "a", "t"}, "SEARCH heads USING PRIMARY KEY (coll=? AND uuid=? AND type=?)"},
		{knownQuery, []any{1, `["a","b"]`}, "SEARCH o EXISTS USING COVERING INDEX objects_id (coll=? AND id>? AND id<?)"},
		{singlesQuery, []any{1, `["a","b"]`}, "SEARCH o USING INDEX objects_id (coll=? AND id>? AND id<?)"},
		{unmarkTopQuery, []any{1, "x", "2.0"}, "SEARCH objects USING INDEX objects_id (coll=? AND id=?)"},
	} {
		plan := explain(t, ctx, s, tc.query, tc.args)
		t.Logf("%s\n%s", tc.query, plan)
		if !strings.Contains(plan, tc.want) || strings.Contains(plan, "SCAN objects") || strings.Contains(plan, "SCAN o ") {
			t.Errorf("plan of %s:\n%s\nwant %s", tc.query, plan, tc.want)
		}
	}
}

// TestPragmas checks the connection settings the design relies on.
func TestPragmas(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "pragmas.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"w", "journal_mode", "wal"},
		{"w", "synchronous", "2"}, // FULL
		{"w", "foreign_keys", "1"},
		{"w", "page_size", "16384"},
		{"w", "wal_autocheckpoint", "0"},
		{"w", "journal_size_limit", "67108864"},
		{"w", "user_version", strconv.Itoa(len(entries))}, // every migration applied
		{"r", "query_only", "1"},
		{"r", "journal_mode", "wal"},
		{"r", "foreign_keys", "1"},
	} {
		db := s.w
		if tc.db == "r" {
			db = s.r
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.db, tc.pragma, got, tc.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, "DELETE FROM secrets"); err == nil {
		t.Error("read pool accepted a write")
	}
}

// TestCeilingTestInIndex checks in the bytecode of pages under a ceiling
// below TLP:RED that the test of the marks under the ceiling reads the
// level index only (its ceilings column), before the row is sought
// (DeferredSeek): an index entry the test rejects costs no row read.
func TestCeilingTestInIndex(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name string
		q    collections.Query
	}{
		{"latest", collections.Query{}},
		{"first", collections.Query{Versions: collections.VersionFilter{First: true}}},
		{"all", collections.Query{Versions: collections.VersionFilter{All: true}}},
		{"type", collections.Query{Types: []string{"indicator"}}},
		{"all specs last", collections.Query{AllSpecVersions: true}},
		{"spec", collections.Query{SpecVersions: []string{"2.1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.MaxTLP, q.Limit = stix.TLPClear, 100
			query, args, err := buildQuery(q, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := s.r.QueryContext(ctx, "EXPLAIN "+query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var (
				ops      []string
				seek     = -1 // index of DeferredSeek
				idx      int64
				testedAt = -1 // the first BitAnd after it
			)
			for rows.Next() {
				var (
					addr, p1, p2, p3 int64
					op               string
					p4               any
					p5               int64
					comment          any
				)
				if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
					t.Fatal(err)
				}
				ops = append(ops, fmt.Sprintf("%s %d %d %d", op, p1, p2, p3))
				switch {
				case op == "DeferredSeek" && seek < 0:
					seek, idx = len(ops)-1, p1
				case seek >= 0 && testedAt < 0 && op == "BitAnd":
					testedAt = len(ops) - 1
				case seek >= 0 && testedAt < 0 && op == "Column" && p1 != idx:
					t.Fatalf("the row is read before the ceiling test:\n%s", strings.Join(ops, "\n"))
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if seek < 0 || testedAt < 0 {
				t.Fatalf("no deferred seek followed by the ceiling test:\n%s", strings.Join(ops, "\n"))
			}
		})
	}
}
