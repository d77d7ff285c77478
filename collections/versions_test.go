package collections_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
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
