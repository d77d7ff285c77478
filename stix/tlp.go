package stix

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"sync"
)

// TLP is a Traffic Light Protocol level, ordered from the least to the most
// restrictive, so that a ceiling compares with <=. The zero value means no
// level (no ceiling, or no TLP marking).
type TLP uint8

// TLP levels. TLP:WHITE (TLP 1.0, STIX 2.1 section 7.2.1.4) and TLP:CLEAR
// (TLP 2.0) are the same level; AMBER+STRICT exists in TLP 2.0 only.
const (
	TLPNone TLP = iota
	TLPClear
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

var tlpNames = [...]string{"", "clear", "green", "amber", "amber+strict", "red"}

// String returns the level's name in lower case ("" for TLPNone).
func (l TLP) String() string {
	if int(l) < len(tlpNames) {
		return tlpNames[l]
	}
	return fmt.Sprintf("tlp(%d)", uint8(l))
}

// ParseTLP reads a level by name, with or without the "TLP:" prefix, in any
// case; "white" is "clear". "" is TLPNone.
func ParseTLP(s string) (TLP, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	n = strings.TrimPrefix(n, "tlp:")
	if n == "white" {
		return TLPClear, nil
	}
	for i, name := range tlpNames {
		if n == name {
			return TLP(i), nil
		}
	}
	return TLPNone, fmt.Errorf("unknown TLP level %q (clear, white, green, amber, amber+strict, red)", s)
}

// MarshalText and UnmarshalText make levels read and write by name.
func (l TLP) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func (l *TLP) UnmarshalText(b []byte) error {
	v, err := ParseTLP(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// tlpMarkings maps the marking-definition ids that stand for a TLP level
// to it. TLP 1.0: the four marking definitions STIX 2.1 section 7.2.1.4
// predefines (no other instance may be created). TLP 2.0: the five that
// the FIRST TLP 2.0 extension
// (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d) publishes.
var tlpMarkings = map[string]TLP{
	// TLP 1.0
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLPClear, // white
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLPRed,
	// TLP 2.0
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TLPClear,
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TLPGreen,
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TLPAmber,
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TLPAmberStrict,
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TLPRed,
}

// TLPOfMarking returns the TLP level a marking-definition id stands for,
// TLPNone for an id that is not one of the TLP 1.0 or 2.0 markings. Ids
// are compared as written: STIX ids are lower case, and so are these.
func TLPOfMarking(id string) TLP { return tlpMarkings[id] }

// Sharing is what an object's markings say about who may see it.
type Sharing struct {
	// TLP is the level deciding who may see the object: the highest TLP
	// among its object_marking_refs (the collection's unmarked level when
	// it has none), raised to the level of granular markings on
	// properties the object cannot be served without (its required
	// properties). Never TLPNone.
	TLP TLP
	// GranularTLP is the highest TLP among its granular markings (TLPNone:
	// none): a requester below it gets a copy without the marked
	// properties.
	GranularTLP TLP
	// Markings are the marking-definition ids the object references
	// (object_marking_refs, then granular marking_refs), each once.
	Markings []string
}

// SharingOf reads an object's markings from its JSON. unmarked is the
// level of an object without TLP in object_marking_refs; TLPNone there
// means TLPRed, the most restrictive, so that an unmarked object is never
// shown below it by accident.
func SharingOf(raw []byte, unmarked TLP) (Sharing, error) {
	var obj struct {
		Type    string   `json:"type"`
		Refs    []string `json:"object_marking_refs"`
		Granule []struct {
			Ref       string   `json:"marking_ref"`
			Selectors []string `json:"selectors"`
		} `json:"granular_markings"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Sharing{}, fmt.Errorf("markings: %w", err)
	}
	var s Sharing
	seen := map[string]bool{}
	note := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			s.Markings = append(s.Markings, id)
		}
	}
	for _, id := range obj.Refs {
		note(id)
		s.TLP = max(s.TLP, TLPOfMarking(id))
	}
	if s.TLP == TLPNone {
		s.TLP = unmarked
		if s.TLP == TLPNone {
			s.TLP = TLPRed
		}
	}
	var required map[string]bool
	for _, g := range obj.Granule {
		note(g.Ref) // lang granular markings have no marking_ref
		l := TLPOfMarking(g.Ref)
		if l == TLPNone {
			continue
		}
		s.GranularTLP = max(s.GranularTLP, l)
		if l <= s.TLP {
			continue
		}
		if required == nil {
			required = requiredProperties(obj.Type)
		}
		for _, sel := range g.Selectors {
			// Section 7.2.3: a selector's first component is the
			// top-level property it marks (in whole or in part).
			top, _, _ := strings.Cut(sel, ".")
			if required[top] {
				s.TLP = l
				break
			}
		}
	}
	return s, nil
}

// requiredProperties returns the top-level properties the type's embedded
// schema requires, with those of the common definitions it builds on
// (sdo_sro_common, sco_common). Properties required only as one of
// several alternatives (anyOf, oneOf) are not included. A type without an
// embedded schema gets the common SDO/SRO ones (section 3.2), the most a
// custom object can be assumed to need.
func requiredProperties(typ string) map[string]bool {
	requiredOnce.Do(loadRequired)
	if r, ok := requiredByType[typ]; ok {
		return r
	}
	return requiredByType[""]
}

var (
	requiredOnce   sync.Once
	requiredByType map[string]map[string]bool
)

func loadRequired() {
	requiredByType = map[string]map[string]bool{}
	type schemaDoc struct {
		Required    []string                   `json:"required"`
		AllOf       []map[string]any           `json:"allOf"`
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	var common schemaDoc
	if b, err := embeddedSchemas.ReadFile("schemas/common.json"); err == nil {
		_ = json.Unmarshal(b, &common)
	}
	commonRequired := func(name string) []string {
		var d schemaDoc
		_ = json.Unmarshal(common.Definitions[name], &d)
		return d.Required
	}
	set := func(lists ...[]string) map[string]bool {
		m := map[string]bool{}
		for _, l := range lists {
			for _, p := range l {
				m[p] = true
			}
		}
		return m
	}
	requiredByType[""] = set(commonRequired("sdo_sro_common"))
	entries, _ := fs.ReadDir(embeddedSchemas, "schemas")
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || name == "common" {
			continue
		}
		b, err := embeddedSchemas.ReadFile("schemas/" + e.Name())
		if err != nil {
			continue
		}
		var d schemaDoc
		if json.Unmarshal(b, &d) != nil {
			continue
		}
		lists := [][]string{d.Required}
		for _, a := range d.AllOf {
			ref, _ := a["$ref"].(string)
			if def, ok := strings.CutPrefix(ref, "common.json#/definitions/"); ok {
				lists = append(lists, commonRequired(def))
			}
		}
		requiredByType[name] = set(lists...)
	}
}
