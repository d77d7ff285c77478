package stix

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The ids of the TLP marking definitions, as published: TLP 1.0 in STIX 2.1
// section 7.2.1.4, TLP 2.0 by the FIRST TLP 2.0 extension.
const (
	tlp1White       = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	tlp1Green       = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	tlp1Amber       = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	tlp1Red         = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
	tlp2Clear       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	tlp2Green       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	tlp2Amber       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	tlp2AmberStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	tlp2Red         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	statementMark   = "marking-definition--d2a8c5f9-6d3e-4b7a-9f1e-0c5b8a7e6d41"
)

func TestTLPOfMarking(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want TLP
	}{
		{tlp1White, TLPClear}, {tlp1Green, TLPGreen}, {tlp1Amber, TLPAmber}, {tlp1Red, TLPRed},
		{tlp2Clear, TLPClear}, {tlp2Green, TLPGreen}, {tlp2Amber, TLPAmber},
		{tlp2AmberStrict, TLPAmberStrict}, {tlp2Red, TLPRed},
		{statementMark, TLPNone}, {"", TLPNone},
		{"marking-definition--613F2E26-407D-48C7-9ECA-B8E91DF99DC9", TLPNone}, // not the published id
	} {
		if got := TLPOfMarking(tc.id); got != tc.want {
			t.Errorf("TLPOfMarking(%s) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestSharingOf(t *testing.T) {
	const indicator = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` +
		`"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"x","description":"d",` +
		`"pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`
	for _, tc := range []struct {
		name     string
		props    string // appended to indicator
		unmarked TLP
		want     Sharing
	}{
		{"no marking, collection default unset", ``, TLPNone, Sharing{TLP: TLPRed}},
		{"no marking, collection default green", ``, TLPGreen, Sharing{TLP: TLPGreen}},
		{"TLP 1.0 white", `,"object_marking_refs":["` + tlp1White + `"]`, TLPNone,
			Sharing{TLP: TLPClear, Markings: []string{tlp1White}}},
		{"TLP 1.0 amber", `,"object_marking_refs":["` + tlp1Amber + `"]`, TLPNone,
			Sharing{TLP: TLPAmber, Markings: []string{tlp1Amber}}},
		{"TLP 2.0 amber+strict", `,"object_marking_refs":["` + tlp2AmberStrict + `"]`, TLPNone,
			Sharing{TLP: TLPAmberStrict, Markings: []string{tlp2AmberStrict}}},
		{"TLP 2.0 clear", `,"object_marking_refs":["` + tlp2Clear + `"]`, TLPRed,
			Sharing{TLP: TLPClear, Markings: []string{tlp2Clear}}},
		{"statement only takes the default", `,"object_marking_refs":["` + statementMark + `"]`, TLPAmber,
			Sharing{TLP: TLPAmber, Markings: []string{statementMark}}},
		{"several markings: the highest", `,"object_marking_refs":["` + tlp2Green + `","` + statementMark + `","` + tlp1Red + `","` + tlp2Green + `"]`, TLPNone,
			Sharing{TLP: TLPRed, Markings: []string{tlp2Green, statementMark, tlp1Red}}},
		{"granular on an optional property", `,"object_marking_refs":["` + tlp2Green + `"],"granular_markings":[{"marking_ref":"` + tlp2Red + `","selectors":["description"]}]`, TLPNone,
			Sharing{TLP: TLPGreen, GranularTLP: TLPRed, Markings: []string{tlp2Green, tlp2Red}}},
		{"granular on a required property of the type", `,"object_marking_refs":["` + tlp2Green + `"],"granular_markings":[{"marking_ref":"` + tlp2Amber + `","selectors":["name","pattern"]}]`, TLPNone,
			Sharing{TLP: TLPAmber, GranularTLP: TLPAmber, Markings: []string{tlp2Green, tlp2Amber}}},
		{"granular on a common required property", `,"object_marking_refs":["` + tlp1White + `"],"granular_markings":[{"marking_ref":"` + tlp1Amber + `","selectors":["modified"]}]`, TLPNone,
			Sharing{TLP: TLPAmber, GranularTLP: TLPAmber, Markings: []string{tlp1White, tlp1Amber}}},
		{"granular below the object level changes nothing", `,"object_marking_refs":["` + tlp1Red + `"],"granular_markings":[{"marking_ref":"` + tlp2Green + `","selectors":["pattern"]}]`, TLPNone,
			Sharing{TLP: TLPRed, GranularTLP: TLPGreen, Markings: []string{tlp1Red, tlp2Green}}},
		{"granular lang and statement markings", `,"object_marking_refs":["` + tlp2Clear + `"],"granular_markings":[{"lang":"en","selectors":["name"]},{"marking_ref":"` + statementMark + `","selectors":["pattern"]}]`, TLPNone,
			Sharing{TLP: TLPClear, Markings: []string{tlp2Clear, statementMark}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SharingOf([]byte(indicator+tc.props+"}"), tc.unmarked)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SharingOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequiredProperties(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		prop string
		want bool
	}{
		{"indicator", "pattern", true}, {"indicator", "id", true}, {"indicator", "modified", true},
		{"indicator", "description", false}, {"ipv4-addr", "value", true}, {"ipv4-addr", "created", false},
		{"marking-definition", "created", true}, {"x-custom-thing", "created", true}, {"x-custom-thing", "name", false},
	} {
		if got := requiredProperties(tc.typ)[tc.prop]; got != tc.want {
			t.Errorf("%s required %s: %v, want %v", tc.typ, tc.prop, got, tc.want)
		}
	}
}
