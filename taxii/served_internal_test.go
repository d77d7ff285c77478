package taxii

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

const (
	tlpGreen1  = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	tlpAmber1  = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	tlpRed2    = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	tlpAmberS2 = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	hubID      = "identity--0b3a4f7c-26f1-4c4f-9d39-5f0f3e0a1b2c"
)

// report is a stored object in the compact form objects are stored in,
// with members in an order no encoder would choose.
const report = `{"type":"report","spec_version":"2.1","id":"report--354678f2-6442-4e23-ab12-4e9ae788bba7",` +
	`"created_by_ref":"identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6","created":"2015-12-21T19:59:11.000Z",` +
	`"modified":"2016-05-21T19:59:11.000Z","name":"Vine \u00e9 <b>&","description":"A report","published":"2016-01-20T17:00:00.000Z",` +
	`"report_types":["campaign"],"labels":["l0","l1","l2","l3"],` +
	`"external_references":[{"source_name":"ACME","url":"https://a.example/1"},{"source_name":"partner-x","external_id":"X-1"}],` +
	`"object_refs":["indicator--a5727441-3504-49b7-bf09-a21d167c6756"],` +
	`"object_marking_refs":["` + tlpGreen1 + `"],` +
	`"granular_markings":[{"marking_ref":"` + tlpAmber1 + `","selectors":["description","labels.[1]","external_references.[0].url"]},{"lang":"en","selectors":["name"]}]}`

// TestServedCopy: each condition removes or replaces exactly what it
// names, the rest keeps its bytes and its order.
func TestServedCopy(t *testing.T) {
	const (
		head   = `{"type":"report","spec_version":"2.1","id":"report--354678f2-6442-4e23-ab12-4e9ae788bba7",`
		dates  = `"created":"2015-12-21T19:59:11.000Z","modified":"2016-05-21T19:59:11.000Z",`
		rest   = `"published":"2016-01-20T17:00:00.000Z","report_types":["campaign"],`
		name   = `"name":"Vine \u00e9 <b>&",`
		refs   = `"object_refs":["indicator--a5727441-3504-49b7-bf09-a21d167c6756"],"object_marking_refs":["` + tlpGreen1 + `"],`
		gmAll  = `"granular_markings":[{"marking_ref":"` + tlpAmber1 + `","selectors":["description","labels.[1]","external_references.[0].url"]},{"lang":"en","selectors":["name"]}]}`
		gmLang = `"granular_markings":[{"lang":"en","selectors":["name"]}]}`
		creatr = `"created_by_ref":"identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6",`
		labels = `"labels":["l0","l1","l2","l3"],`
		extAll = `"external_references":[{"source_name":"ACME","url":"https://a.example/1"},{"source_name":"partner-x","external_id":"X-1"}],`
	)
	tests := []struct {
		name string
		raw  string
		sh   sharing
		want string
		ch   changes
	}{
		{
			name: "no condition touches it",
			raw:  report, sh: sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPAmber}},
			want: report,
		},
		{
			name: "creator replaced by the hub identity in place",
			raw:  report, sh: sharing{Conditions: authz.Conditions{HideCreator: true}, hub: hubID},
			want: head + `"created_by_ref":"` + hubID + `",` + dates + name + `"description":"A report",` + rest + labels + extAll + refs + gmAll,
			ch:   changes{Creator: "replaced"},
		},
		{
			name: "creator removed without a hub identity",
			raw:  report, sh: sharing{Conditions: authz.Conditions{HideCreator: true}},
			want: head + dates + name + `"description":"A report",` + rest + labels + extAll + refs + gmAll,
			ch:   changes{Creator: "removed"},
		},
		{
			name: "one source hidden",
			raw:  report, sh: sharing{Conditions: authz.Conditions{HideSources: []string{"partner-x", "other"}}},
			want: head + creatr + dates + name + `"description":"A report",` + rest + labels +
				`"external_references":[{"source_name":"ACME","url":"https://a.example/1"}],` + refs + gmAll,
			ch: changes{Sources: []string{"partner-x"}},
		},
		{
			name: "every source hidden: no empty list",
			raw:  report, sh: sharing{Conditions: authz.Conditions{HideSources: []string{"partner-x", "ACME"}}},
			want: head + creatr + dates + name + `"description":"A report",` + rest + labels + refs + gmAll,
			ch:   changes{Sources: []string{"ACME", "partner-x"}},
		},
		{
			name: "granular marking above the ceiling: its properties and itself removed",
			raw:  report, sh: sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPGreen}},
			want: head + creatr + dates + name + rest + `"labels":["l0","l2","l3"],` +
				`"external_references":[{"source_name":"ACME"},{"source_name":"partner-x","external_id":"X-1"}],` + refs + gmLang,
			ch: changes{Selectors: []string{"description", "labels.[1]", "external_references.[0].url"}},
		},
		{
			name: "granular and sources and creator together",
			raw:  report, sh: sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPClear, HideCreator: true, HideSources: []string{"ACME"}}, hub: hubID},
			want: head + `"created_by_ref":"` + hubID + `",` + dates + name + rest + `"labels":["l0","l2","l3"],` +
				`"external_references":[{"source_name":"partner-x","external_id":"X-1"}],` + refs + gmLang,
			ch: changes{Selectors: []string{"description", "labels.[1]", "external_references.[0].url"}, Sources: []string{"ACME"}, Creator: "replaced"},
		},
		{
			name: "list elements named before removal, whatever the order of selectors",
			raw: `{"type":"x","labels":["a","b","c","d"],"granular_markings":[{"marking_ref":"` + tlpRed2 + `","selectors":["labels.[0]","labels.[2]"]},` +
				`{"marking_ref":"` + tlpAmberS2 + `","selectors":["labels.[3]"]}]}`,
			sh:   sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPAmber}},
			want: `{"type":"x","labels":["b"]}`,
			ch:   changes{Selectors: []string{"labels.[0]", "labels.[2]", "labels.[3]"}},
		},
		{
			name: "ceiling at the marking's level keeps it",
			raw:  `{"type":"x","labels":["a","b"],"granular_markings":[{"marking_ref":"` + tlpAmberS2 + `","selectors":["labels.[0]"]}]}`,
			sh:   sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPAmberStrict}},
			want: `{"type":"x","labels":["a","b"],"granular_markings":[{"marking_ref":"` + tlpAmberS2 + `","selectors":["labels.[0]"]}]}`,
		},
		{
			name: "a list emptied by markings is removed, nested properties too",
			raw: `{"type":"x","labels":["a"],"kill_chain_phases":[{"kill_chain_name":"k","phase_name":"p"}],"extensions":{"e":{"a":1,"b":{"c":"\u003c"}}},` +
				`"granular_markings":[{"marking_ref":"` + tlpRed2 + `","selectors":["labels.[0]","kill_chain_phases.[0].phase_name","extensions.e.a","missing.x"]}]}`,
			sh:   sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPRed - 1}},
			want: `{"type":"x","kill_chain_phases":[{"kill_chain_name":"k"}],"extensions":{"e":{"b":{"c":"\u003c"}}}}`,
			ch:   changes{Selectors: []string{"labels.[0]", "kill_chain_phases.[0].phase_name", "extensions.e.a"}},
		},
		{
			name: "a marking that is not TLP is kept",
			raw:  `{"type":"x","labels":["a"],"granular_markings":[{"marking_ref":"marking-definition--1f5b8e3a-3b4c-4b5d-8e6f-7a8b9c0d1e2f","selectors":["labels"]}]}`,
			sh:   sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPClear}},
			want: `{"type":"x","labels":["a"],"granular_markings":[{"marking_ref":"marking-definition--1f5b8e3a-3b4c-4b5d-8e6f-7a8b9c0d1e2f","selectors":["labels"]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ch, err := servedCopy([]byte(tt.raw), tt.sh)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("served copy (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ch, ch); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServedCopyCached: a version's served copy is computed once per form
// of conditions, readers under other conditions get their own, and pages
// no condition touches keep the stored bytes.
func TestServedCopyCached(t *testing.T) {
	s := &Server{served: newServedCache(1 << 20), hub: hubID}
	col := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116"}
	stored := collections.Object{ID: "report--354678f2-6442-4e23-ab12-4e9ae788bba7", Version: time.Unix(1, 0),
		DateAdded: time.Unix(2, 0), Raw: []byte(report), GranularTLP: stix.TLPAmber}
	page := func() collections.Page { return collections.Page{Objects: []collections.Object{stored}} }
	hide := sharing{Conditions: authz.Conditions{HideCreator: true}, hub: hubID}
	// The same conditions, the sources listed in another order.
	green := sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPGreen, HideSources: []string{"b", "a"}}, hub: hubID}
	greenAgain := sharing{Conditions: authz.Conditions{MaxTLP: stix.TLPGreen, HideSources: []string{"a", "b", "a"}}, hub: hubID}

	type result struct {
		Raw          string
		Hits, Misses int64
	}
	var first []byte
	steps := []struct {
		name string
		sh   sharing
		want result
	}{
		{"first read computes", hide, result{Hits: 0, Misses: 1}},
		{"second read hits", hide, result{Hits: 1, Misses: 1}},
		{"other conditions compute their own", green, result{Hits: 1, Misses: 2}},
		{"same conditions in another order hit", greenAgain, result{Hits: 2, Misses: 2}},
		{"unrestricted reader reads the stored bytes", sharing{hub: hubID}, result{Raw: report, Hits: 2, Misses: 2}},
	}
	for i, st := range steps {
		p := page()
		if err := s.serve(col, &p, st.sh); err != nil {
			t.Fatal(err)
		}
		want, _, _ := servedCopy([]byte(report), st.sh)
		st.want.Raw = string(want)
		got := result{Raw: string(p.Objects[0].Raw), Hits: s.served.hits.Load(), Misses: s.served.misses.Load()}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
		if i == 0 {
			first = p.Objects[0].Raw
		}
		if i == 1 && &p.Objects[0].Raw[0] != &first[0] {
			t.Errorf("%s: the copy was computed again", st.name)
		}
	}
}

// TestServedCacheBound: the cache holds at most its bytes, dropping the
// least recently used copies first.
func TestServedCacheBound(t *testing.T) {
	const size = 1000
	c := newServedCache(4 * (size + 2 + servedEntryOverhead))
	val := []byte(strings.Repeat("x", size))
	for i := range 4 {
		c.put(fmt.Sprint("k", i), val)
	}
	c.get("k0") // k1 is now the least recently used
	c.put("k4", val)
	var kept []string
	for i := range 5 {
		if _, ok := c.get(fmt.Sprint("k", i)); ok {
			kept = append(kept, fmt.Sprint("k", i))
		}
	}
	if diff := cmp.Diff([]string{"k0", "k2", "k3", "k4"}, kept); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	if c.size > c.max {
		t.Errorf("size %d over the bound %d", c.size, c.max)
	}
	c.put("huge", make([]byte, c.max))
	if _, ok := c.get("huge"); ok {
		t.Error("a copy larger than a quarter of the cache was kept")
	}
}
