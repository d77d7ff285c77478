package mongo

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mongo/mongotest"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// STIX timestamps with any number of fractional digits (STIX 2.1 section
// 2.16; up to nine: nanoseconds) keep their text in the raw JSON and their
// order as versions: a version without fraction is older than one a
// nanosecond later, which text order alone would get wrong ('Z' > '.').
func TestTimestampDigits(t *testing.T) {
	s := testStores(t, 1)[0]
	id := storetest.NewID("indicator")
	stamps := []string{ // in version order
		"2024-03-01T12:00:00Z",
		"2024-03-01T12:00:00.000000001Z",
		"2024-03-01T12:00:00.05Z",
		"2024-03-01T12:00:00.1Z",
		"2024-03-01T12:00:00.12Z",
		"2024-03-01T12:00:00.123456Z",
		"2024-03-01T12:00:00.123456789Z",
	}
	objs := make([]collections.NewObject, len(stamps))
	want := map[string]string{} // version key -> raw
	for i, ts := range stamps {
		v, err := stix.ParseTimestamp(ts)
		if err != nil {
			t.Fatal(err)
		}
		raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2024-03-01T12:00:00Z","modified":%q,`+
			`"pattern":"[url:value = 'http://evil.example.com/']","pattern_type":"stix","valid_from":"2024-03-01T12:00:00Z"}`, id, ts)
		objs[i] = collections.NewObject{ID: id, Type: "indicator", SpecVersion: "2.1", Version: v, Created: t0, Raw: []byte(raw)}
		want[vkey(id, v)] = raw
	}
	// Pushed out of order, in two batches.
	push(t, s, objs[3], objs[0], objs[6])
	push(t, s, objs[5], objs[1], objs[4], objs[2])

	all := collections.Query{IDs: []string{id}, Versions: collections.VersionFilter{All: true}, Limit: 100}
	all.APIRoot, all.Collection = testRoot, testColl
	p, err := s.Objects(t.Context(), all)
	if err != nil {
		t.Fatalf("Objects: %v", err)
	}
	got := map[string]string{}
	for _, o := range p.Objects {
		got[vkey(o.ID, o.Version)] = string(o.Raw)
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("versions and raw JSON read back (-pushed +read):\n%s", diff)
	}
	v := func(i int) time.Time { return objs[i].Version }
	for _, tc := range []struct {
		name string
		vf   collections.VersionFilter
		want []string
	}{
		{"latest", collections.VersionFilter{}, []string{vkey(id, v(6))}},
		{"first", collections.VersionFilter{First: true}, []string{vkey(id, v(0))}},
		{"exact without fraction", collections.VersionFilter{Exact: []time.Time{v(0)}}, []string{vkey(id, v(0))}},
		{"exact nanosecond", collections.VersionFilter{Exact: []time.Time{v(1)}}, []string{vkey(id, v(1))}},
		{"exact nine digits", collections.VersionFilter{Exact: []time.Time{v(6)}}, []string{vkey(id, v(6))}},
		{"a nanosecond off", collections.VersionFilter{Exact: []time.Time{v(6).Add(time.Nanosecond)}}, nil},
	} {
		if diff := gocmp.Diff(tc.want, keys(t, s, collections.Query{IDs: []string{id}, Versions: tc.vf})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	res, err := s.AddObjects(t.Context(), testRoot, testColl, objs, collections.AddOptions{})
	if err != nil {
		t.Fatalf("AddObjects again: %v", err)
	}
	for i, r := range res {
		if r.Outcome != collections.Unchanged {
			t.Errorf("%s pushed again: %v, want Unchanged", stamps[i], r.Outcome)
		}
	}
}

// TestQueryPlans asserts, on a real MongoDB (TAXIID_TEST_MONGO_URI), that
// the main query shapes (see query.go) read one index, never the
// collection, and examine about as many index keys as they return, with
// and without a TLP ceiling (which reads only the ranges of the ceiling
// tags, holding visible versions only).
func TestQueryPlans(t *testing.T) {
	srv := mongotest.Start(t)
	if srv.Embedded {
		t.Skip("the embedded server has no query planner; set " + mongotest.EnvURI + " to a MongoDB deployment")
	}
	s := testStores(t, 1)[0]
	ctx := t.Context()
	// Many objects of three types, one of them with many versions, and
	// objects with versions of two spec versions.
	many := storetest.NewID("indicator")
	var mid time.Time
	for b := range 10 {
		var batch []collections.NewObject
		for i := range 40 {
			typ := []string{"indicator", "malware", "tool", "indicator"}[i%4]
			o := storetest.Object(storetest.STIX{Type: typ, Created: at(b*100 + i)})
			o.TLP = stix.TLP(1 + i%5) // a ceiling hides some of each type
			batch = append(batch, o)
		}
		for i := range 3 {
			v := version(many, b*10+i+1)
			v.TLP = stix.TLP(1 + (b+i)%5)
			batch = append(batch, v)
		}
		// Below a ceiling that hides its STIX 2.1 version, the 2.0 one is
		// the object's top spec version.
		old := storetest.NewID("indicator")
		v20 := storetest.Object(storetest.STIX{Type: "indicator", ID: old, SpecVersion: "2.0", Created: at(0), Modified: at(1)})
		v20.TLP = stix.TLP(1 + b%5)
		batch = append(batch, v20,
			storetest.Object(storetest.STIX{Type: "indicator", ID: old, SpecVersion: "2.1", Created: at(0), Modified: at(2)}))
		res := push(t, s, batch...)
		if b == 5 {
			mid = res[0].DateAdded
		}
	}
	c := collDocOf(t, s)
	page := func(q collections.Query) collections.Query {
		q.APIRoot, q.Collection = testRoot, testColl
		if q.Limit == 0 {
			q.Limit = 20
		}
		return q
	}
	for _, tc := range []struct {
		name string
		q    collections.Query
	}{
		{"objects page", page(collections.Query{})},
		{"objects page, raw", page(collections.Query{Limit: 100})},
		{"manifest page", page(collections.Query{MetadataOnly: true})},
		{"added_after", page(collections.Query{AddedAfter: mid})},
		{"manifest added_after", page(collections.Query{AddedAfter: mid, MetadataOnly: true})},
		{"match[type]", page(collections.Query{Types: []string{"malware"}})},
		{"match[type] two", page(collections.Query{Types: []string{"malware", "tool"}, AddedAfter: mid})},
		{"object by id", page(collections.Query{IDs: []string{many}})},
		{"versions", page(collections.Query{IDs: []string{many}, Versions: collections.VersionFilter{All: true}, MetadataOnly: true})},
		{"first", page(collections.Query{Versions: collections.VersionFilter{First: true}})},
		{"all versions", page(collections.Query{Versions: collections.VersionFilter{All: true}, AddedAfter: mid})},
		{"spec version 2.0", page(collections.Query{SpecVersions: []string{"2.0"}})},
		// Under a TLP ceiling: one range per visible level, merged.
		{"objects page, ceiling", page(collections.Query{MaxTLP: stix.TLPGreen})},
		{"manifest added_after, ceiling", page(collections.Query{AddedAfter: mid, MetadataOnly: true, MaxTLP: stix.TLPAmber})},
		{"match[type], ceiling", page(collections.Query{Types: []string{"malware", "tool"}, MaxTLP: stix.TLPAmberStrict})},
		{"versions, ceiling", page(collections.Query{IDs: []string{many}, Versions: collections.VersionFilter{All: true}, MaxTLP: stix.TLPClear})},
		{"all versions, ceiling and embargo", page(collections.Query{Versions: collections.VersionFilter{All: true}, MaxTLP: stix.TLPGreen, AddedUntil: mid})},
		{"first, ceiling", page(collections.Query{Versions: collections.VersionFilter{First: true}, MaxTLP: stix.TLPAmber})},
		{"object by id, ceiling", page(collections.Query{IDs: []string{many}, MaxTLP: stix.TLPGreen})},
		{"spec version 2.0, ceiling", page(collections.Query{SpecVersions: []string{"2.0"}, MaxTLP: stix.TLPGreen})},
		{"exact version, ceiling", page(collections.Query{Versions: collections.VersionFilter{Exact: []time.Time{at(1)}}, MaxTLP: stix.TLPAmber})},
		{"export, ceiling", page(collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}, MaxTLP: stix.TLPGreen})},
		{"export of a type, ceiling", page(collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}, Types: []string{"tool"}, MaxTLP: stix.TLPGreen})},
		{"every version of an id, ceiling", page(collections.Query{AllSpecVersions: true, Versions: collections.VersionFilter{All: true}, IDs: []string{many}, MaxTLP: stix.TLPAmberStrict})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := newPageFind(tc.q, c.Key, c.Committed)
			if !ok {
				t.Fatal("query matches nothing")
			}
			var ex bson.Raw
			err := s.db.RunCommand(ctx, bson.D{{Key: "explain", Value: f.command()}, {Key: "verbosity", Value: "executionStats"}}).Decode(&ex)
			if err != nil {
				t.Fatalf("explain: %v", err)
			}
			plan, stats, err := explained(ex)
			if err != nil {
				t.Fatalf("explain output: %v\n%s", err, ex)
			}
			if slices.Contains(plan.stages, "COLLSCAN") {
				t.Errorf("collection scan: stages %v", plan.stages)
			}
			if !slices.Contains(plan.stages, "IXSCAN") {
				t.Errorf("no index scan: stages %v", plan.stages)
			}
			// One extra key per index range (each combination of $in
			// values: tags, types, TLP levels), and the one that ends the
			// range.
			ranges := indexRanges(f)
			if stats.returned == 0 || stats.keys > stats.returned+ranges+1 {
				t.Errorf("%d index keys examined for %d documents returned\n%s", stats.keys, stats.returned, ex)
			}
		})
	}
}

// indexRanges returns the number of ranges f reads of its index: the
// product of the lengths of its $in conditions on the index's fields.
func indexRanges(f pageFind) int64 {
	n := int64(1)
	for _, ix := range objectIndexes {
		if ix.name != f.hint {
			continue
		}
		for _, k := range ix.keys {
			for _, e := range f.filter {
				if e.Key != k.Key {
					continue
				}
				if d, ok := e.Value.(bson.D); ok && len(d) == 1 && d[0].Key == "$in" {
					n *= int64(reflect.ValueOf(d[0].Value).Len())
				}
			}
		}
	}
	return n
}

type planInfo struct{ stages []string }

type execInfo struct{ returned, keys int64 }

// explained reads the stages of the winning plan and the execution counts
// of an explain("executionStats") answer. The stages are those of every
// stage document under queryPlanner.winningPlan: its inputStage(s), its
// queryPlan (slot-based engine), its shards (sharded clusters). The counts
// are executionStats' totals, which mongos sums over the shards.
func explained(ex bson.Raw) (planInfo, execInfo, error) {
	var p planInfo
	win, err := ex.LookupErr("queryPlanner", "winningPlan")
	if err != nil {
		return p, execInfo{}, fmt.Errorf("no queryPlanner.winningPlan: %w", err)
	}
	var walk func(v bson.RawValue)
	walk = func(v bson.RawValue) {
		if d, ok := v.DocumentOK(); ok {
			els, _ := d.Elements()
			for _, e := range els {
				if e.Key() == "stage" {
					if s, ok := e.Value().StringValueOK(); ok {
						p.stages = append(p.stages, s)
					}
					continue
				}
				if e.Key() == "rejectedPlans" || e.Key() == "slotBasedPlan" {
					continue
				}
				walk(e.Value())
			}
		}
		if a, ok := v.ArrayOK(); ok {
			vals, _ := a.Values()
			for _, x := range vals {
				walk(x)
			}
		}
	}
	walk(win)
	var x execInfo
	var ok1, ok2 bool
	x.returned, ok1 = ex.Lookup("executionStats", "nReturned").AsInt64OK()
	x.keys, ok2 = ex.Lookup("executionStats", "totalKeysExamined").AsInt64OK()
	if !ok1 || !ok2 {
		return p, x, fmt.Errorf("no executionStats.nReturned and totalKeysExamined")
	}
	if len(p.stages) == 0 {
		return p, x, fmt.Errorf("no stages in the winning plan")
	}
	return p, x, nil
}

// The explain reader finds the stages of the plan shapes MongoDB answers
// with: classic, slot-based (queryPlan), sharded (shards), and leaves the
// rejected plans out.
func TestExplained(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		stages     []string
		exec       execInfo
	}{
		{"classic", `{"queryPlanner": {"winningPlan": {"stage": "LIMIT", "inputStage": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN", "indexName": "objects_tags"}}},
			"rejectedPlans": [{"stage": "COLLSCAN"}]}, "executionStats": {"nReturned": 21, "totalKeysExamined": {"$numberLong": "22"}}}`,
			[]string{"LIMIT", "FETCH", "IXSCAN"}, execInfo{21, 22}},
		{"merge", `{"queryPlanner": {"winningPlan": {"stage": "SORT_MERGE", "inputStages": [{"stage": "IXSCAN"}, {"stage": "IXSCAN"}]}},
			"executionStats": {"nReturned": 3, "totalKeysExamined": 5}}`,
			[]string{"SORT_MERGE", "IXSCAN", "IXSCAN"}, execInfo{3, 5}},
		{"slot-based", `{"queryPlanner": {"winningPlan": {"queryPlan": {"stage": "COLLSCAN"}, "slotBasedPlan": {"stages": "scan"}}},
			"executionStats": {"nReturned": 1, "totalKeysExamined": 0}}`,
			[]string{"COLLSCAN"}, execInfo{1, 0}},
		{"sharded", `{"queryPlanner": {"winningPlan": {"stage": "SINGLE_SHARD", "shards": [{"shardName": "s0", "winningPlan": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN"}}}]}},
			"executionStats": {"nReturned": 2, "totalKeysExamined": 3}}`,
			[]string{"SINGLE_SHARD", "FETCH", "IXSCAN"}, execInfo{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw bson.Raw
			if err := bson.UnmarshalExtJSON([]byte(strings.Join(strings.Fields(tc.json), " ")), false, &raw); err != nil {
				t.Fatal(err)
			}
			p, x, err := explained(raw)
			if err != nil {
				t.Fatalf("explained: %v", err)
			}
			if diff := gocmp.Diff(tc.stages, p.stages); diff != "" {
				t.Errorf("stages (-want +got):\n%s", diff)
			}
			if x != tc.exec {
				t.Errorf("counts %+v, want %+v", x, tc.exec)
			}
		})
	}
}
