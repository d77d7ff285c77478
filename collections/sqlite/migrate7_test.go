package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// TestMigrate7 opens a database of schema version 6 holding versions with
// TLP 1.0 and 2.0 markings, none, and a granular marking on a required
// property: each gets the level its JSON says (unmarked: red), pages under
// a ceiling show exactly those within it, and the collection's markings
// are counted and dated (listed under an embargo bound exactly as the
// versions added by then reference them). An object whose versions are
// AMBER, GREEN then RED gets its marks under each ceiling (its latest
// under GREEN is the GREEN one) and its head, written before levels,
// BelowRed. The migration reads in chunks: small ones split objects
// across chunks, or fill one with an object.
func TestMigrate7(t *testing.T) {
	for _, chunk := range []int{backfillChunk, 2, 1} {
		t.Run(fmt.Sprintf("chunk %d", chunk), func(t *testing.T) {
			defer func(n int) { backfillChunk = n }(backfillChunk)
			backfillChunk = chunk
			testMigrate7(t)
		})
	}
}

func testMigrate7(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "taxiid.db")
	const (
		coll      = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
		white1    = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
		amber2    = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
		red2      = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
		green2    = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
		campaign  = "campaign--7d2e4f6a-1b3c-4d5e-8f9a-0b1c2d3e4f51"
		statement = "marking-definition--0c3f6b8e-5d2a-4f1e-9b7c-3a8d2e6f1b45"
	)
	type version struct {
		id, extra string
		tlp, gran stix.TLP
	}
	vs := []version{
		{"indicator--6e187abe-1732-4772-b5c3-72f658d88c65", `,"object_marking_refs":["` + white1 + `"]`, stix.TLPClear, stix.TLPNone},
		{"indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11", `,"object_marking_refs":["` + amber2 + `","` + statement + `"]`, stix.TLPAmber, stix.TLPNone},
		{"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", ``, stix.TLPRed, stix.TLPNone},
		{"indicator--3c1f0b7e-2a4d-4f6b-8e9c-1d2a3b4c5d6e", `,"object_marking_refs":["` + white1 + `"],"granular_markings":[{"marking_ref":"` + red2 + `","selectors":["pattern"]}]`, stix.TLPRed, stix.TLPRed},
	}
	db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 6; n++ {
		names, _ := migrations.ReadDir("migrations")
		body, err := migrations.ReadFile("migrations/" + names[n-1].Name())
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(string(body)); err != nil {
			t.Fatalf("migration %d: %v", n, err)
		}
		if fn := goMigrations[n]; fn != nil {
			if err := fn(ctx, tx); err != nil {
				t.Fatalf("migration %d: %v", n, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("PRAGMA user_version = 6")
	exec("INSERT INTO api_roots VALUES ('api1', 'API 1', '', 1000)")
	exec("INSERT INTO collections (coll, api_root, id, title, description, media_types) VALUES (1, 'api1', ?, 'C', '', '[]')", coll)
	ver := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	v := ver.Format(versionLayout)
	for i, o := range vs {
		raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",`+
			`"pattern":"[url:value = 'http://x.example/']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"%s}`, o.id, o.extra)
		exec("INSERT INTO objects VALUES (?, 1, ?, 'indicator', '2.1', ?, 7, ?, ?)", 100+i, o.id, v, packMeta(v, "2.1", "indicator", o.id), []byte(raw))
	}
	// The campaign's three versions, with their marks and head as schema 6
	// stored them (heads in format 1).
	var campaignVersions []collections.StoredVersion
	for i, m := range []string{amber2, green2, red2} {
		cv := ver.Add(time.Duration(i+1) * time.Second)
		v := cv.Format(versionLayout)
		raw := fmt.Sprintf(`{"type":"campaign","spec_version":"2.1","id":"%s","created":"2024-01-01T00:00:00.000Z","modified":"%s",`+
			`"name":"c","object_marking_refs":["%s"]}`, campaign, cv.Format("2006-01-02T15:04:05.000Z"), m)
		campaignVersions = append(campaignVersions, collections.StoredVersion{SpecVersion: "2.1", Version: cv, DateAdded: time.UnixMicro(int64(200 + i)).UTC()})
		flags := map[int]int{0: 6, 1: 4, 2: 5}[i]
		exec("INSERT INTO objects VALUES (?, 1, ?, 'campaign', '2.1', ?, ?, ?, ?)", 200+i, idKey(campaign), v, flags, packMeta(v, "2.1", "campaign", campaign), []byte(raw))
	}
	h, _ := collections.Summarize(campaign, ver, campaignVersions)
	typ, u := collections.SplitID(campaign)
	exec("INSERT INTO heads VALUES (1, ?, ?, ?)", u, typ, append([]byte{headFormat1}, packHead(&h)[2:]...))
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkCeilings(t, s, 1, campaign, "after migration")
	campaignLatest := map[stix.TLP]string{stix.TLPNone: "red", stix.TLPGreen: "green", stix.TLPAmber: "green", stix.TLPRed: "red"}
	for _, ceiling := range []stix.TLP{stix.TLPNone, stix.TLPClear, stix.TLPGreen, stix.TLPAmber, stix.TLPRed} {
		var want []string
		for _, o := range vs {
			if ceiling == stix.TLPNone || o.tlp <= ceiling {
				want = append(want, fmt.Sprintf("%s %v %v", o.id, o.tlp, o.gran))
			}
		}
		if l, ok := campaignLatest[ceiling]; ok {
			want = append(want, fmt.Sprintf("%s %s %v", campaign, l, stix.TLPNone))
		}
		p, err := s.Objects(ctx, collections.Query{APIRoot: "api1", Collection: coll, Limit: 10, MaxTLP: ceiling})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range p.Objects {
			got = append(got, fmt.Sprintf("%s %v %v", o.ID, o.TLP, o.GranularTLP))
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ceiling %q after migration (-want +got):\n%s", ceiling, diff)
		}
	}
	ms, err := s.Markings(ctx, "api1", coll, stix.TLPAmber, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	// red2 is referenced only by red versions; white1 by a clear one,
	// green2 by a green one.
	if diff := cmp.Diff([]string{statement, amber2, white1, green2}, ids); diff != "" {
		t.Errorf("markings under amber (-want +got):\n%s", diff)
	}
	// The versions referencing each marking, with their dates: under an
	// embargo bound only those added at or before it count.
	for _, b := range []struct {
		ceiling stix.TLP
		until   int64 // date_added, µs
		want    []string
	}{
		{stix.TLPNone, 99, nil},
		{stix.TLPNone, 100, []string{white1}},
		{stix.TLPNone, 101, []string{statement, amber2, white1}},
		{stix.TLPClear, 103, []string{white1}},
		{stix.TLPNone, 103, []string{statement, amber2, white1, red2}},
		{stix.TLPGreen, 201, []string{white1, green2}},
		{stix.TLPNone, 202, []string{statement, amber2, white1, green2, red2}},
	} {
		ms, err := s.Markings(ctx, "api1", coll, b.ceiling, time.UnixMicro(b.until))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		if diff := cmp.Diff(b.want, ids); diff != "" {
			t.Errorf("markings under %q until %d µs (-want +got):\n%s", b.ceiling, b.until, diff)
		}
	}
	if c, err := s.Collection(ctx, "api1", coll); err != nil || c.UnmarkedTLP != stix.TLPNone {
		t.Errorf("collection after migration: %+v, %v", c, err)
	}
}
