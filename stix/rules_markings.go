package stix

// Rules on data markings: marking definitions, TLP, granular markings.

import (
	"fmt"
	"strconv"
	"strings"
)

// checkMarkingSelfReference: sections 3.2 and 7.2, a marking-definition's
// object_marking_refs and granular_markings MUST NOT reference the
// marking-definition itself.
func checkMarkingSelfReference(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "marking-definition" {
		return
	}
	id, ok := ruleString(obj, "id")
	if !ok {
		return
	}
	refs, _ := obj["object_marking_refs"].([]any)
	for i, e := range refs {
		if e == id {
			r.add(rulePointer("object_marking_refs", i), "%s references the marking-definition itself", ruleQuote(id))
		}
	}
	gms, _ := obj["granular_markings"].([]any)
	for i, g := range gms {
		if gm, ok := g.(map[string]any); ok && gm["marking_ref"] == id {
			r.add(rulePointer("granular_markings", i, "marking_ref"), "%s references the marking-definition itself", ruleQuote(id))
		}
	}
}

// checkGranularMarkingChoice: section 7.2.3, one and only one of lang and
// marking_ref MUST be present on each granular marking.
func checkGranularMarkingChoice(obj map[string]any, r *ruleReport) {
	gms, _ := obj["granular_markings"].([]any)
	for i, g := range gms {
		gm, ok := g.(map[string]any)
		if !ok {
			continue
		}
		lang, ref := ruleHas(gm, "lang"), ruleHas(gm, "marking_ref")
		switch {
		case lang && ref:
			r.add(rulePointer("granular_markings", i), "has both lang and marking_ref; exactly one must be present")
		case !lang && !ref:
			r.add(rulePointer("granular_markings", i), "has neither lang nor marking_ref; exactly one must be present")
		}
	}
}

// checkGranularMarkingSelector: section 7.2.3, selectors are components
// separated by "." (a property name or dictionary key, or a list index
// "[n]") and MUST refer to properties or list items present on the object.
func checkGranularMarkingSelector(obj map[string]any, r *ruleReport) {
	gms, _ := obj["granular_markings"].([]any)
	for i, g := range gms {
		gm, ok := g.(map[string]any)
		if !ok {
			continue
		}
		sels, _ := gm["selectors"].([]any)
		for j, s := range sels {
			sel, ok := s.(string)
			if !ok {
				continue
			}
			if prob := ruleResolveSelector(obj, sel); prob != "" {
				r.add(rulePointer("granular_markings", i, "selectors", j), "selector %s %s", ruleQuote(sel), prob)
			}
		}
	}
}

// ruleResolveSelector follows a selector from the object and returns why it
// does not resolve, "" when it does.
func ruleResolveSelector(obj map[string]any, sel string) string {
	if sel == "" {
		return "is empty"
	}
	var cur any = obj
	for start := 0; ; {
		end := strings.IndexByte(sel[start:], '.')
		if end < 0 {
			end = len(sel)
		} else {
			end += start
		}
		comp := sel[start:end]
		at := func() string { // what the component applies to, for messages
			if start == 0 {
				return "the object"
			}
			return ruleQuote(sel[:start-1])
		}
		switch {
		case comp == "":
			return "has an empty component"
		case comp[0] == '[':
			if len(comp) < 3 || comp[len(comp)-1] != ']' || !digits(comp[1:len(comp)-1]) {
				return fmt.Sprintf("has component %s, which is neither a property name nor a list index such as [0]", ruleQuote(comp))
			}
			list, ok := cur.([]any)
			if !ok {
				return fmt.Sprintf("does not resolve: %s is not a list", at())
			}
			n, err := strconv.Atoi(comp[1 : len(comp)-1])
			if err != nil || n >= len(list) {
				return fmt.Sprintf("does not resolve: %s has %s", at(), ruleItems(len(list)))
			}
			cur = list[n]
		case strings.ContainsAny(comp, "[]"):
			return fmt.Sprintf("has component %s, which is neither a property name nor a list index such as [0]", ruleQuote(comp))
		default:
			m, ok := cur.(map[string]any)
			if !ok {
				return fmt.Sprintf("does not resolve: %s is not an object", at())
			}
			v, ok := m[comp]
			if !ok {
				return fmt.Sprintf("does not resolve: %s has no property %s", at(), ruleQuote(comp))
			}
			cur = v
		}
		if end == len(sel) {
			return ""
		}
		start = end + 1
	}
}

func ruleItems(n int) string {
	if n == 1 {
		return "1 item"
	}
	return strconv.Itoa(n) + " items"
}

// checkMarkingDefinitionContent: section 7.2.1, without extensions a
// marking-definition MUST have definition_type and definition; a statement
// marking has definition_type "statement" and a statement, a TLP marking
// definition_type "tlp" and a tlp level.
func checkMarkingDefinitionContent(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "marking-definition" {
		return
	}
	if !ruleHas(obj, "extensions") {
		if !ruleHas(obj, "definition_type") {
			r.add("/definition_type", "required when the marking-definition has no extensions")
		}
		if !ruleHas(obj, "definition") {
			r.add("/definition", "required when the marking-definition has no extensions")
		}
	}
	dt, hasDT := ruleString(obj, "definition_type")
	def, hasDef := obj["definition"].(map[string]any)
	if !hasDT || !hasDef {
		return
	}
	for _, kind := range []string{"statement", "tlp"} {
		_, has := def[kind]
		switch {
		case dt == kind && !has:
			r.add("/definition/"+kind, "required by definition_type %q", kind)
		case dt == kind:
			if _, ok := def[kind].(string); !ok {
				r.add("/definition/"+kind, "must be a string")
			}
		case has:
			r.add("/definition_type", "%s does not match the %s marking in definition, which requires %q", ruleQuote(dt), kind, kind)
		}
	}
}

// ruleTLP maps each TLP level to the only marking-definition permitted to
// represent it (section 7.2.1.4).
var ruleTLP = map[string]string{
	"white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
	"green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
	"amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
	"red":   "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}

// checkTLPMarking: section 7.2.1.4, the four standard TLP marking
// definitions MUST be used; other instances of TLP markings MUST NOT be
// created.
func checkTLPMarking(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "marking-definition" {
		return
	}
	if dt, _ := ruleString(obj, "definition_type"); dt != "tlp" {
		return
	}
	def, _ := obj["definition"].(map[string]any)
	level, ok := def["tlp"].(string)
	if !ok {
		return // marking-definition-content
	}
	want, known := ruleTLP[level]
	if !known {
		r.add("/definition/tlp", "%s is not a TLP level (white, green, amber, red)", ruleQuote(level))
		return
	}
	if id, _ := ruleString(obj, "id"); id != want {
		r.add("/id", "%s is not the standard TLP:%s marking-definition %s", ruleQuote(id), strings.ToUpper(level), want)
	}
}
