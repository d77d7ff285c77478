package collections_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

func TestCanonicalID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"indicator--0F6A5C36-6B50-4E3D-A9B8-5D2B8E8F0C11", "indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"},
		{"indicator--0f6a5c36-6B50-4e3d-a9b8-5d2b8e8f0c11", "indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"},
		{"indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11", "indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"},
		{"x-Custom--0F6A5C36-6B50-4E3D-A9B8-5D2B8E8F0C11", "x-Custom--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"}, // types are not UUIDs
		{"indicator--NOT-A-UUID", "indicator--NOT-A-UUID"},
		{"Plain", "Plain"},
	} {
		if got := collections.CanonicalID(tc.in); got != tc.want {
			t.Errorf("CanonicalID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCompareSpecVersions(t *testing.T) {
	ordered := []string{"", "2", "2.0", "2.1", "2.9", "2.10", "2.10.1", "2.x", "3.0", "10.0", "a"}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := collections.CompareSpecVersions(a, b); got != want {
				t.Errorf("CompareSpecVersions(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestSameObject(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[1,2]}`, `{"a":1,"b":[1,2]}`, true},
		{`{"a":1,"b":[1,2]}`, `{ "b" : [1, 2], "a" : 1 }`, true},
		{`{"a":1,"b":[1,2]}`, `{"a":1,"b":[2,1]}`, false},
		{`{"a":1}`, `{"a":1.0}`, false}, // numbers compare by their text
		{`{"a":100000000000000000000001}`, `{"a":100000000000000000000000}`, false},
		{`{"a":"x"}`, `{"a":"x","b":null}`, false},
		{`{"a":`, `{"a":`, true}, // identical bytes
		{`{"a":`, `{"a": `, false},
	} {
		if got := collections.SameObject([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("SameObject(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// PlanAdd touches at most the previous first and last of the spec version;
// a new top spec version unmarks the previous one's versions at once.
func TestPlanAddMarks(t *testing.T) {
	id := "indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"
	at := func(n int) time.Time { return time.Date(2024, 1, 1, 0, 0, n, 0, time.UTC) }
	ref := func(n int) collections.VersionRef {
		return collections.VersionRef{Version: at(n), DateAdded: at(100 + n)}
	}
	head := &collections.Head{ID: id, Type: "indicator", Specs: []collections.SpecRange{
		{SpecVersion: "2.0", First: ref(1), Last: ref(2)},
		{SpecVersion: "2.1", First: ref(10), Last: ref(20)},
	}}
	none := func(time.Time) (collections.Object, bool, error) { return collections.Object{}, false, nil }
	const L, F, T = collections.MarkLast, collections.MarkFirst, collections.MarkTopSpec
	for _, tc := range []struct {
		name    string
		spec    string
		version int
		marks   collections.Marks
		unmark  []collections.Unmark
		top     string
	}{
		{"newest", "2.1", 30, L | T, []collections.Unmark{{VersionRef: ref(20), Marks: L}}, ""},
		{"oldest", "2.1", 5, F | T, []collections.Unmark{{VersionRef: ref(10), Marks: F}}, ""},
		{"between", "2.1", 15, T, nil, ""},
		{"older spec, newest", "2.0", 3, L, []collections.Unmark{{VersionRef: ref(2), Marks: L}}, ""},
		{"new top spec", "2.2", 40, L | F | T, nil, "2.1"},
		{"new lower spec", "1.0", 40, L | F, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := collections.PlanAdd(collections.AddInput{
				Object:    collections.NewObject{ID: id, Type: "indicator", SpecVersion: tc.spec, Version: at(tc.version)},
				Head:      head,
				DateAdded: at(200),
				Stored:    none,
			})
			if err != nil || p.Result.Outcome != collections.Added {
				t.Fatalf("PlanAdd = %+v, %v; want Added", p.Result, err)
			}
			if p.Marks != tc.marks || p.UnmarkTopSpec != tc.top {
				t.Errorf("marks %b, unmark top %q; want %b, %q", p.Marks, p.UnmarkTopSpec, tc.marks, tc.top)
			}
			if diff := cmp.Diff(tc.unmark, p.Unmark); diff != "" {
				t.Errorf("Unmark (-want +got):\n%s", diff)
			}
			// The new head is what Summarize makes of every version.
			var vs []collections.StoredVersion
			for _, r := range p.Head.Specs {
				vs = append(vs, collections.StoredVersion{SpecVersion: r.SpecVersion, Version: r.First.Version, DateAdded: r.First.DateAdded},
					collections.StoredVersion{SpecVersion: r.SpecVersion, Version: r.Last.Version, DateAdded: r.Last.DateAdded})
			}
			h, _ := collections.Summarize(id, time.Time{}, vs)
			if diff := cmp.Diff(p.Head, h); diff != "" {
				t.Errorf("head (-PlanAdd +Summarize):\n%s", diff)
			}
		})
	}
	if len(head.Specs) != 2 || head.Specs[1].Last != ref(20) {
		t.Errorf("PlanAdd changed the head it was given: %+v", head)
	}
}

func TestCeilingsFrom(t *testing.T) {
	for _, tc := range []struct {
		lo, hi stix.TLP
		want   collections.Ceilings
	}{
		{stix.TLPClear, stix.TLPRed, collections.AllCeilings},
		{stix.TLPNone, stix.TLPRed, collections.AllCeilings},
		{stix.TLPClear, stix.TLPClear, 0b00001},
		{stix.TLPGreen, stix.TLPAmberStrict, 0b01110},
		{stix.TLPRed, stix.TLPRed, 0b10000},
		{stix.TLPAmber, stix.TLPGreen, 0},
		{stix.TLPRed, stix.TLP(6), 0b10000},
	} {
		if got := collections.CeilingsFrom(tc.lo, tc.hi); got != tc.want {
			t.Errorf("CeilingsFrom(%v, %v) = %05b, want %05b", tc.lo, tc.hi, got, tc.want)
		}
	}
	c := collections.CeilingsFrom(stix.TLPGreen, stix.TLPAmber)
	for l, want := range []bool{false, false, true, true, false, false} {
		if got := c.Has(stix.TLP(l)); got != want {
			t.Errorf("%05b.Has(%v) = %v, want %v", c, stix.TLP(l), got, want)
		}
	}
	if !collections.AllCeilings.Has(stix.TLPNone) || collections.CeilingsFrom(stix.TLPClear, stix.TLPAmberStrict).Has(stix.TLPNone) {
		t.Errorf("no ceiling is not read as the ceiling TLP:RED")
	}
}

// Under each ceiling a requester sees the object as if the versions above
// it did not exist: its last, first and top spec version are those of the
// versions it sees.
func TestSummarizeCeilings(t *testing.T) {
	at := func(n int) time.Time { return time.Date(2024, 1, 1, 0, 0, n, 0, time.UTC) }
	type version struct {
		spec string
		at   int
		tlp  stix.TLP
	}
	const (
		clear  = stix.TLPClear
		green  = stix.TLPGreen
		amber  = stix.TLPAmber
		strict = stix.TLPAmberStrict
		red    = stix.TLPRed
	)
	r := collections.CeilingsFrom
	all := collections.AllCeilings
	for _, tc := range []struct {
		name     string
		versions []version
		want     []collections.CeilingMarks
	}{
		{"one version", []version{{"2.1", 1, clear}},
			[]collections.CeilingMarks{{Last: all, First: all, TopSpec: all}}},
		{"newest red, previous amber", []version{{"2.1", 1, amber}, {"2.1", 2, red}},
			[]collections.CeilingMarks{
				{Last: r(amber, strict), First: r(amber, red), TopSpec: r(amber, red)},
				{Last: r(red, red), TopSpec: r(red, red)},
			}},
		{"given newest first", []version{{"2.1", 2, red}, {"2.1", 1, amber}},
			[]collections.CeilingMarks{
				{Last: r(red, red), TopSpec: r(red, red)},
				{Last: r(amber, strict), First: r(amber, red), TopSpec: r(amber, red)},
			}},
		{"oldest red, newest clear", []version{{"2.1", 1, red}, {"2.1", 2, clear}},
			[]collections.CeilingMarks{
				{First: r(red, red), TopSpec: r(red, red)},
				{Last: all, First: r(clear, strict), TopSpec: all},
			}},
		{"no level counts as red", []version{{"2.1", 1, stix.TLPNone}, {"2.1", 2, green}},
			[]collections.CeilingMarks{
				{First: r(red, red), TopSpec: r(red, red)},
				{Last: r(green, red), First: r(green, strict), TopSpec: r(green, red)},
			}},
		{"a red version between", []version{{"2.1", 1, green}, {"2.1", 2, red}, {"2.1", 3, amber}},
			[]collections.CeilingMarks{
				{Last: r(green, green), First: r(green, red), TopSpec: r(green, red)},
				{TopSpec: r(red, red)}, // never the last nor the first
				{Last: r(amber, red), TopSpec: r(amber, red)},
			}},
		{"top spec version red", []version{{"2.0", 1, clear}, {"2.1", 2, red}},
			[]collections.CeilingMarks{
				{Last: all, First: all, TopSpec: r(clear, strict)},
				{Last: r(red, red), First: r(red, red), TopSpec: r(red, red)},
			}},
		{"top spec version seen from clear", []version{{"2.0", 1, green}, {"2.1", 2, amber}, {"2.1", 3, clear}},
			[]collections.CeilingMarks{
				{Last: r(green, red), First: r(green, red)},
				{First: r(amber, red), TopSpec: r(amber, red)},
				{Last: all, First: r(clear, green), TopSpec: all},
			}},
		{"none", nil, []collections.CeilingMarks{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var vs []collections.StoredVersion
			for _, v := range tc.versions {
				vs = append(vs, collections.StoredVersion{SpecVersion: v.spec, Version: at(v.at), DateAdded: at(100 + v.at), TLP: v.tlp})
			}
			got := collections.SummarizeCeilings(vs)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SummarizeCeilings (-want +got):\n%s", diff)
			}
			// Under TLP:RED, and without a ceiling, every version is seen:
			// the marks are Summarize's.
			_, marks := collections.Summarize("indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11", time.Time{}, vs)
			for i, m := range got {
				for _, c := range []stix.TLP{stix.TLPNone, stix.TLPRed} {
					if m.Marks(c) != marks[i]&collections.SelectionMarks {
						t.Errorf("version %d under %q: marks %03b, Summarize says %03b", i, c, m.Marks(c), marks[i])
					}
				}
			}
		})
	}
}

// Every assignment of levels to three versions in two spec versions, in
// every order: the marks under each ceiling follow the rule CeilingMarks
// states, from the levels of the newer and older versions.
func TestSummarizeCeilingsRule(t *testing.T) {
	at := func(n int) time.Time { return time.Date(2024, 1, 1, 0, 0, n, 0, time.UTC) }
	specs := []string{"2.0", "2.1"}
	levels := []stix.TLP{stix.TLPNone, stix.TLPClear, stix.TLPGreen, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed}
	var vs [3]collections.StoredVersion
	n := 0
	for a := 0; a < len(levels)*len(specs); a++ {
		for b := 0; b < len(levels)*len(specs); b++ {
			for c := 0; c < len(levels)*len(specs); c++ {
				for i, x := range []int{a, b, c} {
					// Versions given out of order: 3, 1, 2.
					vs[i] = collections.StoredVersion{SpecVersion: specs[x/len(levels)], Version: at((i+2)%3 + 1), TLP: levels[x%len(levels)]}
				}
				got := collections.SummarizeCeilings(vs[:])
				for i, v := range vs {
					want := ruleMarks(v, vs[:])
					if got[i] != want {
						t.Fatalf("%+v: version %d: got %+v, the rule says %+v", vs, i, got[i], want)
					}
					for _, c := range []collections.Ceilings{want.Last, want.First, want.TopSpec, want.Latest(), want.Earliest()} {
						lo, hi := c.Span()
						if c == 0 && lo == hi {
							continue
						}
						if collections.CeilingsFrom(lo, hi-1) != c || lo != collections.VersionTLP(v.TLP) {
							t.Fatalf("%+v: version %d: %05b spans %v to %v", vs, i, c, lo, hi)
						}
					}
				}
				n++
			}
		}
	}
	if n != 1728 {
		t.Errorf("checked %d sets, want 1728", n)
	}
}

// ruleMarks states CeilingMarks' rule directly: v is the last under the
// ceilings from its level up to the lowest level among the newer versions
// of its spec version (excluded), the first likewise with the older ones,
// and of the top spec version under the ceilings where no higher spec
// version has a version seen.
func ruleMarks(v collections.StoredVersion, vs []collections.StoredVersion) collections.CeilingMarks {
	level := func(x collections.StoredVersion) stix.TLP { return collections.VersionTLP(x.TLP) }
	newer, older, higher := stix.TLPRed+1, stix.TLPRed+1, stix.TLPRed+1
	for _, o := range vs {
		switch d := collections.CompareSpecVersions(o.SpecVersion, v.SpecVersion); {
		case d > 0:
			higher = min(higher, level(o))
		case d == 0 && o.Version.After(v.Version):
			newer = min(newer, level(o))
		case d == 0 && o.Version.Before(v.Version):
			older = min(older, level(o))
		}
	}
	return collections.CeilingMarks{
		Last:    collections.CeilingsFrom(level(v), newer-1),
		First:   collections.CeilingsFrom(level(v), older-1),
		TopSpec: collections.CeilingsFrom(level(v), higher-1),
	}
}

// The cost of recomputing an object's marks under every ceiling from all
// its versions, as a store does for each id a write touches: n versions in
// two spec versions, levels varying.
func BenchmarkSummarizeCeilings(b *testing.B) {
	for _, n := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("versions=%d", n), func(b *testing.B) {
			vs := make([]collections.StoredVersion, n)
			for i := range vs {
				spec := "2.1"
				if i < n/4 {
					spec = "2.0"
				}
				vs[i] = collections.StoredVersion{SpecVersion: spec,
					Version: time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC), TLP: stix.TLP(i%5 + 1)}
			}
			b.ReportAllocs()
			for b.Loop() {
				collections.SummarizeCeilings(vs)
			}
		})
	}
}

// TestPlanAddCeilings: an add of a version below TLP:RED to an object
// with versions leaves the ceiling marks to a recompute; otherwise the
// marks it plans are what SummarizeCeilings makes of every version, and
// the other versions' marks below TLP:RED stay as they were (at TLP:RED,
// Marks and Unmark move them).
func TestPlanAddCeilings(t *testing.T) {
	id := "indicator--0f6a5c36-6b50-4e3d-a9b8-5d2b8e8f0c11"
	at := func(n int) time.Time { return time.Date(2024, 1, 1, 0, 0, n, 0, time.UTC) }
	none := func(time.Time) (collections.Object, bool, error) { return collections.Object{}, false, nil }
	sv := func(spec string, n int, l stix.TLP) collections.StoredVersion {
		return collections.StoredVersion{SpecVersion: spec, Version: at(n), DateAdded: at(100 + n), TLP: l}
	}
	for _, tc := range []struct {
		name      string
		stored    []collections.StoredVersion
		add       collections.StoredVersion
		recompute bool
	}{
		{"first version, green", nil, sv("2.1", 1, stix.TLPGreen), false},
		{"first version, red", nil, sv("2.1", 1, stix.TLPRed), false},
		{"red after red", []collections.StoredVersion{sv("2.1", 1, stix.TLPRed)}, sv("2.1", 2, stix.TLPRed), false},
		{"red before red", []collections.StoredVersion{sv("2.1", 2, stix.TLPRed)}, sv("2.1", 1, stix.TLPRed), false},
		{"red in a new top spec", []collections.StoredVersion{sv("2.0", 2, stix.TLPRed)}, sv("2.1", 1, stix.TLPRed), false},
		{"unleveled after red", []collections.StoredVersion{sv("2.1", 1, stix.TLPRed)}, sv("2.1", 2, stix.TLPNone), false},
		{"amber after red", []collections.StoredVersion{sv("2.1", 1, stix.TLPRed)}, sv("2.1", 2, stix.TLPAmber), true},
		{"red after clear", []collections.StoredVersion{sv("2.1", 1, stix.TLPClear)}, sv("2.1", 2, stix.TLPRed), false},
		{"red before clear", []collections.StoredVersion{sv("2.1", 2, stix.TLPClear)}, sv("2.1", 1, stix.TLPRed), false},
		{"red in a new top spec over green", []collections.StoredVersion{sv("2.0", 2, stix.TLPGreen)}, sv("2.1", 1, stix.TLPRed), false},
		{"green after clear", []collections.StoredVersion{sv("2.1", 1, stix.TLPClear)}, sv("2.1", 2, stix.TLPGreen), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var head *collections.Head
			if len(tc.stored) > 0 {
				h, _ := collections.Summarize(id, time.Time{}, tc.stored)
				head = &h
			}
			p, err := collections.PlanAdd(collections.AddInput{
				Object: collections.NewObject{ID: id, Type: "indicator", SpecVersion: tc.add.SpecVersion,
					Version: tc.add.Version, TLP: tc.add.TLP},
				Head: head, DateAdded: tc.add.DateAdded, Stored: none,
			})
			if err != nil || p.Result.Outcome != collections.Added {
				t.Fatalf("PlanAdd = %+v, %v; want Added", p.Result, err)
			}
			all := append(slices.Clone(tc.stored), tc.add)
			wantBelow := collections.VersionTLP(tc.add.TLP) < stix.TLPRed
			for _, v := range tc.stored {
				wantBelow = wantBelow || collections.VersionTLP(v.TLP) < stix.TLPRed
			}
			if want := wantBelow; p.Head.BelowRed != want {
				t.Errorf("head BelowRed = %v; want %v", p.Head.BelowRed, want)
			}
			if h, _ := collections.Summarize(id, time.Time{}, all); h.BelowRed != p.Head.BelowRed {
				t.Errorf("Summarize says BelowRed %v, PlanAdd %v", h.BelowRed, p.Head.BelowRed)
			}
			if p.RecomputeCeilings != tc.recompute {
				t.Fatalf("RecomputeCeilings = %v; want %v", p.RecomputeCeilings, tc.recompute)
			}
			if tc.recompute {
				return
			}
			want := collections.SummarizeCeilings(all)
			if got := p.Ceilings; got != want[len(all)-1] {
				t.Errorf("new version's ceiling marks %+v; SummarizeCeilings says %+v", got, want[len(all)-1])
			}
			below := collections.CeilingsFrom(stix.TLPClear, stix.TLPAmberStrict)
			before := collections.SummarizeCeilings(tc.stored)
			for i, m := range want[:len(tc.stored)] {
				b := before[i]
				if m.Last&below != b.Last&below || m.First&below != b.First&below || m.TopSpec&below != b.TopSpec&below {
					t.Errorf("stored version %d: marks below TLP:RED %+v after the add, %+v before", i, m, b)
				}
			}
		})
	}
}
