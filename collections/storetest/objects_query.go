package storetest

// Tests of Objects: filters, added_after, pagination, metadata, limits.

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/taxiid/taxiid/collections"
)

var objectsQueryTests = []test{
	{"MatchIDsAndTypes", on(testMatchIDsAndTypes)},
	{"AddedAfter", on(testAddedAfter)},
	{"Pagination", on(testPagination)},
	{"MetadataOnly", on(testMetadataOnly)},
	{"QueryLimits", on(testQueryLimits)},
	{"LongLists", on(testLongLists)},
}

func testMatchIDsAndTypes(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	ind1 := Object(STIX{Type: "indicator", Created: ms(0)})
	ind2 := Object(STIX{Type: "indicator", Created: ms(0)})
	mal := Object(STIX{Type: "malware", Created: ms(0)})
	tool := Object(STIX{Type: "tool", Created: ms(0)})
	ind1b := Object(STIX{Type: "indicator", ID: ind1.ID, Created: ms(0), Modified: ms(9)})
	f.push(ind1, mal, ind2)
	f.push(tool, ind1b)
	K := keyOf
	all := collections.VersionFilter{All: true}
	for _, tc := range []struct {
		name  string
		ids   []string
		types []string
		vf    collections.VersionFilter
		want  []string
	}{
		{"one id", []string{ind1.ID}, nil, collections.VersionFilter{}, []string{K(ind1b)}},
		{"one id all", []string{ind1.ID}, nil, all, []string{K(ind1), K(ind1b)}},
		{"ids", []string{tool.ID, ind1.ID, mal.ID}, nil, collections.VersionFilter{}, []string{K(mal), K(tool), K(ind1b)}},
		{"unknown id", []string{"indicator--00000000-0000-4000-8000-000000000000"}, nil, all, nil},
		{"one type", nil, []string{"indicator"}, collections.VersionFilter{}, []string{K(ind2), K(ind1b)}},
		{"one type all", nil, []string{"indicator"}, all, []string{K(ind1), K(ind2), K(ind1b)}},
		{"one type first", nil, []string{"indicator"}, collections.VersionFilter{First: true}, []string{K(ind1), K(ind2)}},
		{"types", nil, []string{"tool", "malware"}, collections.VersionFilter{}, []string{K(mal), K(tool)}},
		{"types first last", nil, []string{"tool", "indicator"}, collections.VersionFilter{First: true, Last: true},
			[]string{K(ind1), K(ind2), K(tool), K(ind1b)}},
		{"unknown type", nil, []string{"campaign"}, collections.VersionFilter{}, nil},
		{"ids and types", []string{ind1.ID, mal.ID, tool.ID}, []string{"indicator", "tool"}, collections.VersionFilter{},
			[]string{K(tool), K(ind1b)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.check(collections.Query{IDs: tc.ids, Types: tc.types, Versions: tc.vf}, tc.want...)
		})
	}
}

func testAddedAfter(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	var objs []collections.NewObject
	var ks []string
	for i := range 6 {
		o := Object(STIX{Type: []string{"indicator", "malware"}[i%2], Created: ms(i)})
		objs = append(objs, o)
		ks = append(ks, keyOf(o))
	}
	res := f.push(objs[:3]...)
	res = append(res, f.push(objs[3:]...)...)
	for i, r := range res {
		f.check(collections.Query{AddedAfter: r.DateAdded}, ks[i+1:]...)
		f.check(collections.Query{AddedAfter: r.DateAdded.Add(-time.Nanosecond)}, ks[i:]...)
		f.check(collections.Query{AddedAfter: r.DateAdded.Add(-time.Nanosecond), Versions: collections.VersionFilter{First: true, Last: true}}, ks[i:]...)
		var want []string
		if i < 5 {
			want = ks[5:]
		}
		f.check(collections.Query{AddedAfter: r.DateAdded, IDs: []string{objs[0].ID, objs[5].ID}}, want...)
	}
	f.check(collections.Query{AddedAfter: res[0].DateAdded.Add(-time.Hour)}, ks...)
}

func testPagination(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	var latest, first, typed []string
	typeOf := func(n int) string { return []string{"indicator", "malware", "tool"}[n%7%3] }
	for b := range 4 {
		var batch []collections.NewObject
		for i := range 7 {
			typ := typeOf(b*7 + i)
			o := Object(STIX{Type: typ, Created: ms(b*10 + i), Modified: ms(b*10 + i)})
			batch = append(batch, o)
			latest = append(latest, keyOf(o))
			first = append(first, keyOf(o))
			if typ != "malware" {
				typed = append(typed, keyOf(o))
			}
		}
		f.push(batch...)
	}
	// New versions of a few: they move to the end for "latest".
	var again []collections.NewObject
	for _, i := range []int{0, 4, 9} {
		o := Object(STIX{Type: typeOf(i), ID: f.idOf(first[i]), Created: ms(0), Modified: ms(1000 + i)})
		again = append(again, o)
	}
	f.push(again...)
	for _, o := range again {
		old := slices.IndexFunc(latest, func(k string) bool { return f.idOf(k) == o.ID })
		latest = append(slices.Delete(latest, old, old+1), keyOf(o))
		if o.Type != "malware" {
			old = slices.IndexFunc(typed, func(k string) bool { return f.idOf(k) == o.ID })
			typed = append(slices.Delete(typed, old, old+1), keyOf(o))
		}
	}
	all := append(slices.Clone(first), keyOf(again[0]), keyOf(again[1]), keyOf(again[2]))

	for _, tc := range []struct {
		name string
		q    collections.Query
		want []string
	}{
		{"latest", collections.Query{}, latest},
		{"first", collections.Query{Versions: collections.VersionFilter{First: true}}, first},
		{"all", collections.Query{Versions: collections.VersionFilter{All: true}}, all},
		{"first last", collections.Query{Versions: collections.VersionFilter{First: true, Last: true}}, all},
		{"types", collections.Query{Types: []string{"indicator", "tool"}}, typed},
		{"ids", collections.Query{IDs: []string{f.idOf(all[0]), f.idOf(all[5]), f.idOf(all[4])},
			Versions: collections.VersionFilter{All: true}}, []string{all[0], all[4], all[5], all[28], all[29]}},
	} {
		for _, limit := range []int{1, 2, 3, 5, 7, 100} {
			t.Run(fmt.Sprintf("%s/limit%d", tc.name, limit), func(t *testing.T) {
				f.t = t
				q := tc.q
				q.Limit = limit
				if diff := cmp.Diff(tc.want, keys(f.walk(q))); diff != "" {
					t.Errorf("walk (-want +got):\n%s", diff)
				}
			})
		}
		// A byte budget ends pages early, never empty, and a walk still
		// visits everything once.
		for _, maxBytes := range []int{1, 500, 2000} {
			t.Run(fmt.Sprintf("%s/maxbytes%d", tc.name, maxBytes), func(t *testing.T) {
				f.t = t
				q := tc.q
				q.Limit, q.MaxBytes = 100, maxBytes
				if maxBytes == 1 {
					if p := f.page(q); len(p.Objects) != 1 || p.More != (len(tc.want) > 1) {
						t.Errorf("page with a 1-byte budget: %d objects, More %v; want 1 object", len(p.Objects), p.More)
					}
				}
				if diff := cmp.Diff(tc.want, keys(f.walk(q))); diff != "" {
					t.Errorf("walk (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func testMetadataOnly(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	objs := []collections.NewObject{
		Object(STIX{Type: "indicator", Created: ms(0)}),
		Object(STIX{Type: "malware", Created: ms(0), Modified: ms(1)}),
	}
	f.push(objs...)
	for _, q := range []collections.Query{
		{},
		{Types: []string{"indicator", "malware"}},
		{IDs: []string{objs[0].ID, objs[1].ID}},
		{Versions: collections.VersionFilter{First: true, Last: true}},
	} {
		full := f.page(q)
		q.MetadataOnly = true
		meta := f.page(q)
		for i := range full.Objects {
			if len(full.Objects[i].Raw) == 0 {
				t.Errorf("object %d: empty Raw without MetadataOnly", i)
			}
			full.Objects[i].Raw = nil
		}
		if diff := cmp.Diff(full, meta, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("MetadataOnly %s (-want +got):\n%s", describe(q), diff)
		}
	}
}

func testQueryLimits(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	f.push(Object(STIX{Type: "indicator", Created: ms(0)}))
	over := collections.MaxQueryValues + 1
	strs := func(n int, format string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(format, i)
		}
		return out
	}
	times := make([]time.Time, over)
	for i := range times {
		times[i] = ms(i)
	}
	for _, tc := range []struct {
		name string
		q    collections.Query
	}{
		{"limit 0", collections.Query{Limit: -1}},
		{"ids", collections.Query{IDs: strs(over, "indicator--00000000-0000-4000-8000-%012d")}},
		{"types", collections.Query{Types: strs(over, "x-type-%d")}},
		{"versions", collections.Query{Versions: collections.VersionFilter{Exact: times}}},
		{"spec versions", collections.Query{SpecVersions: strs(over, "2.%d")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.APIRoot, q.Collection = f.root, f.coll
			if q.Limit == 0 {
				q.Limit = 10
			}
			if q.Limit < 0 {
				q.Limit = 0
			}
			if _, err := s.Objects(f.ctx, q); !errors.Is(err, collections.ErrInvalid) {
				t.Errorf("Objects: %v, want ErrInvalid", err)
			}
		})
	}
}

func testLongLists(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	const n = collections.MaxQueryValues
	// A few objects in two spec versions, among lists of n values each.
	var objs []collections.NewObject
	for i, typ := range []string{"indicator", "malware", "tool", "x-custom", "campaign"} {
		for j, spec := range []string{"2.0", "2.1"} {
			objs = append(objs, Object(STIX{Type: typ, SpecVersion: spec, Created: ms(0), Modified: ms(10*i + j)}))
		}
	}
	f.push(objs...)
	types := []string{"malware", "x-custom"}
	for i := len(types); i < n; i++ {
		types = append(types, fmt.Sprintf("x-absent-%d", i))
	}
	ids := []string{objs[0].ID, objs[3].ID, objs[9].ID}
	for len(ids) < n {
		ids = append(ids, NewID("indicator"))
	}
	specs := []string{"2.0", "2.1"}
	for i := len(specs); i < n; i++ {
		specs = append(specs, fmt.Sprintf("3.%d", i))
	}
	exact := []time.Time{ms(10), ms(21), ms(41)}
	for i := len(exact); i < n; i++ {
		exact = append(exact, ms(1000+i))
	}
	K := keyOf
	for _, tc := range []struct {
		name string
		q    collections.Query
		want []string
	}{
		{"types", collections.Query{Types: types}, []string{K(objs[2]), K(objs[3]), K(objs[6]), K(objs[7])}},
		{"ids", collections.Query{IDs: ids}, []string{K(objs[0]), K(objs[3]), K(objs[9])}},
		{"ids all specs", collections.Query{IDs: ids, SpecVersions: specs}, []string{K(objs[0]), K(objs[3]), K(objs[9])}},
		{"spec versions", collections.Query{SpecVersions: specs, Types: types[:2]},
			[]string{K(objs[2]), K(objs[3]), K(objs[6]), K(objs[7])}},
		{"exact", collections.Query{Versions: collections.VersionFilter{Exact: exact}}, []string{K(objs[2]), K(objs[5]), K(objs[9])}},
		{"everything at once", collections.Query{Types: types, SpecVersions: specs,
			Versions: collections.VersionFilter{First: true, Last: true, Exact: exact}},
			[]string{K(objs[2]), K(objs[3]), K(objs[6]), K(objs[7])}},
		{"ids and everything", collections.Query{IDs: ids, Types: types, SpecVersions: specs,
			Versions: collections.VersionFilter{First: true, Last: true, Exact: exact}}, []string{K(objs[3])}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.check(tc.q, tc.want...)
			q := tc.q
			q.Limit = 1
			if diff := cmp.Diff(tc.want, keys(f.walk(q)), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("walk one by one (-want +got):\n%s", diff)
			}
		})
	}
}
