package storetest

// Tests of AddObjects: what is stored, DateAdded, re-pushes, precision, ids
// that differ in case, the cross-version rules.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/taxiid/taxiid/collections"
)

var objectsAddTests = []test{
	{"RawRoundTrip", on(testRawRoundTrip)},
	{"DateAddedIncreasing", on(testDateAddedIncreasing)},
	{"VersionFallback", on(testVersionFallback)},
	{"Repush", on(testRepush)},
	{"Precision", on(testPrecision)},
	{"UUIDCase", on(testUUIDCase)},
	{"CrossVersionRules", on(testCrossVersionRules)},
	{"SpecVersionBound", on(testSpecVersionBound)},
}

func testRawRoundTrip(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	objs := []collections.NewObject{
		Object(STIX{Type: "indicator", Created: ms(0), Modified: ms(5)}),
		Object(STIX{Type: "malware", Created: ms(1), Fields: map[string]any{
			"description": "unicode é ü 漢字 \u2028 and escapes \"quoted\" <tag> &amp;",
			"labels":      []string{"a", "b"},
			"x_number":    12345678901234567890.5,
		}}),
		Object(STIX{Type: "domain-name", Fields: map[string]any{"value": "example.com"}}),
	}
	// Member order and bytes as pushed, not as a JSON encoder would write them.
	objs = append(objs, collections.NewObject{ID: "tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", Type: "tool",
		SpecVersion: "2.1", Version: ms(7), Raw: []byte(
			`{"type":"tool","spec_version":"2.1","id":"tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"2024-03-01T12:00:00.007Z","created":"2024-03-01T12:00:00.007Z","name":"VNC","x_big":100000000000000000000001}`)})
	res := f.push(objs...)
	p := f.page(collections.Query{})
	if len(p.Objects) != len(objs) {
		t.Fatalf("Objects: %d objects, want %d", len(p.Objects), len(objs))
	}
	for i, o := range p.Objects {
		n := objs[i]
		want := collections.Object{ID: n.ID, Type: n.Type, SpecVersion: n.SpecVersion,
			Version: res[i].Version, DateAdded: res[i].DateAdded, Raw: n.Raw}
		if diff := cmp.Diff(want, o); diff != "" {
			t.Errorf("object %d (-want +got):\n%s", i, diff)
		}
		if o.DateAdded.Location() != time.UTC || o.Version.Location() != time.UTC {
			t.Errorf("object %d: times not in UTC: %v %v", i, o.DateAdded, o.Version)
		}
		if !n.Version.IsZero() && !res[i].Version.Equal(n.Version) {
			t.Errorf("object %d: AddResult.Version %v, want %v", i, res[i].Version, n.Version)
		}
		if got := o.DateAdded.Truncate(time.Microsecond); !got.Equal(o.DateAdded) {
			t.Errorf("object %d: DateAdded %v has sub-microsecond digits", i, o.DateAdded)
		}
	}
}

func testDateAddedIncreasing(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	var all []collections.AddResult
	for b := range 5 {
		var batch []collections.NewObject
		for i := range 20 {
			batch = append(batch, Object(STIX{Type: "indicator", Created: ms(b*100 + i)}))
		}
		all = append(all, f.push(batch...)...)
	}
	for i := 1; i < len(all); i++ {
		if !all[i].DateAdded.After(all[i-1].DateAdded) {
			t.Fatalf("DateAdded %d = %v, not after %v", i, all[i].DateAdded, all[i-1].DateAdded)
		}
	}
	p := f.page(collections.Query{})
	for i, o := range p.Objects {
		if !o.DateAdded.Equal(all[i].DateAdded) {
			t.Fatalf("object %d: DateAdded %v, want %v", i, o.DateAdded, all[i].DateAdded)
		}
	}
}

func testVersionFallback(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	created := Object(STIX{Type: "malware", Created: ms(42)})
	sco := Object(STIX{Type: "domain-name", Fields: map[string]any{"value": "example.com"}})
	if !sco.Version.IsZero() {
		t.Fatal("test object has a version")
	}
	res := f.push(created, sco)
	if !res[0].Version.Equal(ms(42)) {
		t.Errorf("version of an object with created only: %v, want %v", res[0].Version, ms(42))
	}
	if !res[1].Version.Equal(res[1].DateAdded) {
		t.Errorf("version of an object without created: %v, want its DateAdded %v", res[1].Version, res[1].DateAdded)
	}
	again := f.add(sco)
	if diff := cmp.Diff(collections.AddResult{Outcome: collections.Unchanged, Version: res[1].Version,
		DateAdded: res[1].DateAdded}, again[0]); diff != "" {
		t.Errorf("re-push of an unversioned object (-want +got):\n%s", diff)
	}
	changed := sco
	changed.Raw = Object(STIX{Type: "domain-name", ID: sco.ID, Fields: map[string]any{"value": "other.example"}}).Raw
	if r := f.add(changed); r[0].Outcome != collections.Conflict {
		t.Errorf("push of a changed unversioned object: %v, want Conflict", r[0].Outcome)
	}
	f.check(collections.Query{Versions: collections.VersionFilter{All: true}},
		keyOf(created), key(sco.ID, res[1].Version))
	f.check(collections.Query{Versions: collections.VersionFilter{Exact: []time.Time{res[1].Version}}},
		key(sco.ID, res[1].Version))
}

func testRepush(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	o := Object(STIX{Type: "indicator", Created: ms(0), Modified: ms(1), Fields: map[string]any{"name": "n"}})
	first := f.push(o)[0]
	want := collections.AddResult{Outcome: collections.Unchanged, Version: first.Version, DateAdded: first.DateAdded}

	if diff := cmp.Diff(want, f.add(o)[0]); diff != "" {
		t.Errorf("identical re-push (-want +got):\n%s", diff)
	}
	// The same document with members in another order and white space.
	reordered := o
	reordered.Raw = []byte(`{ "name":"n", "pattern_type":"stix","valid_from":"2024-03-01T12:00:00.000Z",
		"pattern":"[url:value = 'http://evil.example.com/']","modified":"2024-03-01T12:00:00.001Z",
		"indicator_types":["malicious-activity"],"id":"` + o.ID + `","created":"2024-03-01T12:00:00.000Z",
		"spec_version":"2.1","type":"indicator"}`)
	if diff := cmp.Diff(want, f.add(reordered)[0]); diff != "" {
		t.Errorf("re-push in another member order (-want +got):\n%s", diff)
	}
	conflict := Object(STIX{Type: "indicator", ID: o.ID, Created: ms(0), Modified: ms(1), Fields: map[string]any{"name": "other"}})
	want.Outcome = collections.Conflict
	if diff := cmp.Diff(want, f.add(conflict)[0]); diff != "" {
		t.Errorf("conflicting push (-want +got):\n%s", diff)
	}
	if p := f.page(collections.Query{AddedAfter: first.DateAdded}); len(p.Objects) != 0 {
		t.Errorf("objects after the first push: %v, want none", keys(p.Objects))
	}
	p := f.page(collections.Query{Versions: collections.VersionFilter{All: true}})
	if len(p.Objects) != 1 || string(p.Objects[0].Raw) != string(o.Raw) || !p.Objects[0].DateAdded.Equal(first.DateAdded) {
		t.Errorf("stored after re-pushes: %+v, want only the original", p.Objects)
	}

	// Within one batch, as in separate calls.
	n := Object(STIX{Type: "malware", Created: ms(5)})
	n2 := Object(STIX{Type: "malware", ID: n.ID, Created: ms(5), Fields: map[string]any{"name": "changed"}})
	res := f.add(n, n, n2)
	got := []collections.Outcome{res[0].Outcome, res[1].Outcome, res[2].Outcome}
	if diff := cmp.Diff([]collections.Outcome{collections.Added, collections.Unchanged, collections.Conflict}, got); diff != "" {
		t.Errorf("one batch with repeats (-want +got):\n%s", diff)
	}
	if !res[1].DateAdded.Equal(res[0].DateAdded) || !res[2].DateAdded.Equal(res[0].DateAdded) {
		t.Errorf("repeats in a batch: DateAdded %v %v, want %v", res[1].DateAdded, res[2].DateAdded, res[0].DateAdded)
	}
	f.check(collections.Query{Versions: collections.VersionFilter{All: true}}, keyOf(o), keyOf(n))
}

func testPrecision(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	id := NewID("indicator")
	// Versions a microsecond and a nanosecond apart, pushed out of order.
	v := func(d time.Duration) collections.NewObject {
		o := Object(STIX{Type: "indicator", ID: id, Created: ms(0)})
		o.Version = ms(5).Add(d)
		o.Raw = []byte(strings.Replace(string(o.Raw), `"created"`,
			`"modified":"`+o.Version.Format("2006-01-02T15:04:05.000000000Z")+`","created"`, 1))
		return o
	}
	vNano, vBase, vMicro := v(time.Nanosecond), v(0), v(time.Microsecond)
	f.push(vNano)
	f.push(vBase, vMicro)
	if got := f.add(vBase)[0].Outcome; got != collections.Unchanged {
		t.Errorf("re-push of the millisecond version: %v, want Unchanged", got)
	}
	all := collections.VersionFilter{All: true}
	p := f.page(collections.Query{Versions: all})
	got := map[string]bool{}
	for _, o := range p.Objects {
		got[o.Version.Format(time.RFC3339Nano)] = true
	}
	want := map[string]bool{}
	for _, o := range []collections.NewObject{vNano, vBase, vMicro} {
		want[o.Version.Format(time.RFC3339Nano)] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored versions (-want +got):\n%s", diff)
	}
	f.check(collections.Query{}, keyOf(vMicro))
	f.check(collections.Query{Versions: collections.VersionFilter{First: true}}, keyOf(vBase))
	f.check(collections.Query{Versions: collections.VersionFilter{Exact: []time.Time{vNano.Version}}}, keyOf(vNano))
	f.check(collections.Query{IDs: []string{id}, Versions: collections.VersionFilter{Exact: []time.Time{vMicro.Version}}}, keyOf(vMicro))

	// DateAdded keeps microseconds: the objects of one batch get distinct
	// DateAdded values, most of them less than a millisecond apart.
	var batch []collections.NewObject
	for i := range 50 {
		batch = append(batch, Object(STIX{Type: "malware", Created: ms(i)}))
	}
	res := f.push(batch...)
	subMilli := false
	for i := 1; i < len(res); i++ {
		if d := res[i].DateAdded.Sub(res[i-1].DateAdded); d > 0 && d < time.Millisecond {
			subMilli = true
		}
	}
	if !subMilli {
		t.Errorf("DateAdded of one batch %v...: no two under a millisecond apart", res[:3])
	}
	p = f.page(collections.Query{Types: []string{"malware"}})
	for i, o := range p.Objects {
		if !o.DateAdded.Equal(res[i].DateAdded) {
			t.Errorf("object %d: DateAdded %v read back, %v when added", i, o.DateAdded, res[i].DateAdded)
		}
	}
}

// upper returns id with its UUID in upper case.
func upper(id string) string {
	typ, u, _ := strings.Cut(id, "--")
	return typ + "--" + strings.ToUpper(u)
}

func testUUIDCase(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	id := NewID("indicator") // lower case
	v1 := Object(STIX{Type: "indicator", ID: upper(id), Created: ms(0), Modified: ms(10)})
	v2 := Object(STIX{Type: "indicator", ID: id, Created: ms(0), Modified: ms(20)})
	v3 := Object(STIX{Type: "indicator", ID: upper(id), Created: ms(0), Modified: ms(30)})
	f.push(v1)
	f.push(v2, v3)
	// One object: one head, one last and one first.
	f.check(collections.Query{}, key(id, ms(30)))
	f.check(collections.Query{Versions: collections.VersionFilter{First: true}}, key(id, ms(10)))
	for _, qid := range []string{id, upper(id)} {
		f.check(collections.Query{IDs: []string{qid}, Versions: collections.VersionFilter{All: true}},
			key(id, ms(10)), key(id, ms(20)), key(id, ms(30)))
	}
	// The raw JSON stays as pushed; the id read back is canonical.
	p := f.page(collections.Query{IDs: []string{id}, Versions: collections.VersionFilter{All: true}})
	for i, o := range p.Objects {
		if o.ID != id {
			t.Errorf("object %d: ID %s, want %s", i, o.ID, id)
		}
		want := []collections.NewObject{v1, v2, v3}[i].Raw
		if string(o.Raw) != string(want) {
			t.Errorf("object %d: Raw %s, want %s as pushed", i, o.Raw, want)
		}
	}
	// A re-push in the other case is the same version.
	again := v2
	again.ID, again.Raw = upper(id), []byte(strings.Replace(string(v2.Raw), id, upper(id), 1))
	if r := f.add(again)[0]; r.Outcome != collections.Conflict {
		// Same (id, version), other bytes in the id member: the documents
		// differ, so this is a conflict, not a new object.
		t.Errorf("push of a stored version with its id in upper case: %v, want Conflict", r.Outcome)
	}
	if r := f.add(v1)[0]; r.Outcome != collections.Unchanged {
		t.Errorf("re-push of the upper-case version: %v, want Unchanged", r.Outcome)
	}
	// Delete either way.
	if n, err := s.DeleteObject(f.ctx, f.root, f.coll, id, collections.VersionFilter{Exact: []time.Time{ms(10)}}, nil); err != nil || n != 1 {
		t.Errorf("DeleteObject(lower case, first version) = %d, %v; want 1", n, err)
	}
	if n, err := s.DeleteObject(f.ctx, f.root, f.coll, upper(id), collections.VersionFilter{}, nil); err != nil || n != 2 {
		t.Errorf("DeleteObject(upper case) = %d, %v; want 2", n, err)
	}
	f.check(collections.Query{IDs: []string{id}, Versions: collections.VersionFilter{All: true}})
}

func testCrossVersionRules(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	v := func(id string, created, modified int, fields map[string]any) collections.NewObject {
		o := Object(STIX{Type: "indicator", ID: id, Created: ms(created), Modified: ms(modified), Fields: fields})
		o.Created = ms(created)
		o.Revoked = fields["revoked"] == true
		return o
	}
	revoked := map[string]any{"revoked": true}

	a := NewID("indicator")
	f.push(v(a, 0, 10, nil), v(a, 0, 20, nil))
	b := NewID("indicator")
	f.push(v(b, 0, 10, nil), v(b, 0, 20, revoked))
	_, bu := collections.SplitID(b)
	m := Object(STIX{Type: "malware", ID: "malware--" + bu, Created: ms(0)})

	for _, tc := range []struct {
		name    string
		obj     collections.NewObject
		skip    bool
		want    collections.Outcome
		mention []string // in the message of a refusal
	}{
		{"created changed", v(a, 5, 30, nil), false, collections.Refused, []string{a, Timestamp(ms(0)), Timestamp(ms(5)), "created"}},
		{"created changed, older version", v(a, 5, 5, nil), false, collections.Refused, []string{"created"}},
		{"created kept", v(a, 0, 30, nil), false, collections.Added, nil},
		{"after revocation", v(b, 0, 30, nil), false, collections.Refused, []string{b, Timestamp(ms(20)), "revoked"}},
		{"revoked again, later", v(b, 0, 25, revoked), false, collections.Refused, []string{"revoked"}},
		{"before revocation", v(b, 0, 15, nil), false, collections.Added, nil},
		{"the revoked version again", v(b, 0, 20, revoked), false, collections.Unchanged, nil},
		{"UUID under another type", m, false, collections.Refused, []string{m.ID, b}},
		{"permissive: created changed", v(a, 7, 40, nil), true, collections.Added, nil},
		{"permissive: after revocation", v(b, 0, 40, nil), true, collections.Added, nil},
		{"permissive: UUID under another type", m, true, collections.Added, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			res, err := s.AddObjects(f.ctx, f.root, f.coll, []collections.NewObject{tc.obj},
				collections.AddOptions{SkipVersionRules: tc.skip})
			if err != nil {
				t.Fatalf("AddObjects: %v", err)
			}
			r := res[0]
			if r.Outcome != tc.want {
				t.Fatalf("outcome %v (%s), want %v", r.Outcome, r.Message, tc.want)
			}
			for _, w := range tc.mention {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message %q does not mention %q", r.Message, w)
				}
			}
			if r.Outcome == collections.Refused {
				if !r.DateAdded.IsZero() {
					t.Errorf("refused version has DateAdded %v", r.DateAdded)
				}
				f.check(collections.Query{IDs: []string{tc.obj.ID}, Versions: collections.VersionFilter{Exact: []time.Time{tc.obj.Version}}})
			}
			if r.Outcome == collections.Added {
				f.added[keyOf(tc.obj)] = r.DateAdded
			}
		})
	}
	f.t = t
	// A UUID with one version under one type, then one under another, then
	// more versions of the first: each type keeps its own versions and
	// marks, and the rules still see the first one's created.
	c := NewID("indicator")
	c1 := v(c, 0, 10, nil)
	f.push(c1)
	_, cu := collections.SplitID(c)
	cm := Object(STIX{Type: "malware", ID: "malware--" + cu, Created: ms(3)})
	res, err := s.AddObjects(f.ctx, f.root, f.coll, []collections.NewObject{cm}, collections.AddOptions{SkipVersionRules: true})
	if err != nil || res[0].Outcome != collections.Added {
		t.Fatalf("AddObjects(permissive, other type) = %+v, %v; want Added", res, err)
	}
	f.added[keyOf(cm)] = res[0].DateAdded
	if r := f.add(v(c, 9, 20, nil))[0]; r.Outcome != collections.Refused {
		t.Errorf("changed created after the UUID got a second type: %v, want Refused", r.Outcome)
	}
	c2 := v(c, 0, 20, nil)
	f.push(c2)
	f.check(collections.Query{IDs: []string{c, cm.ID}}, keyOf(cm), keyOf(c2))
	f.check(collections.Query{IDs: []string{c, cm.ID}, Versions: collections.VersionFilter{First: true}}, keyOf(c1), keyOf(cm))

	// The latest version of b is the one pushed past the revocation with
	// the rules off; of the malware UUID, both types are there.
	f.check(collections.Query{IDs: []string{b}}, key(b, ms(40)))
	f.check(collections.Query{IDs: []string{m.ID, "indicator--" + bu}, Types: []string{"malware"}}, keyOf(m))
}

func testSpecVersionBound(t *testing.T, s collections.Store) {
	f := newFixture(t, s)
	id := NewID("x-custom")
	for i := range collections.MaxSpecVersions {
		f.push(Object(STIX{Type: "x-custom", ID: id, SpecVersion: fmt.Sprint("2.", i), Created: ms(0), Modified: ms(i)}))
	}
	over := Object(STIX{Type: "x-custom", ID: id, SpecVersion: "3.0", Created: ms(0), Modified: ms(100)})
	if r := f.add(over)[0]; r.Outcome != collections.Refused {
		t.Errorf("version in spec version %d: %v, want Refused", collections.MaxSpecVersions+1, r.Outcome)
	}
	// Within the stored spec versions, versions still go in.
	top := fmt.Sprint("2.", collections.MaxSpecVersions-1)
	more := Object(STIX{Type: "x-custom", ID: id, SpecVersion: top, Created: ms(0), Modified: ms(200)})
	f.push(more)
	f.check(collections.Query{IDs: []string{id}}, keyOf(more))
}
