package stix

// Rules on references: the form of *_ref and *_refs values, the types they
// may point to, and references inside the observable container.

import "strings"

// visitRefFormat: sections 2.9 and 3.1, a property whose name ends in _ref
// holds an identifier and one ending in _refs a list of identifiers;
// section 2.12, lists are never empty. Custom properties and nested objects
// (extensions, list items) are included; the deprecated observable
// container, whose references are local keys, is checked by
// "observable-container-ref".
func visitRefFormat(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || e.container {
		return
	}
	switch {
	case strings.HasSuffix(k, "_ref"):
		s, ok := e.v.(string)
		if !ok {
			r.add(e.ptr(), "a _ref property must hold an identifier string")
			return
		}
		if _, prob := ruleIdentifier(s); prob != "" {
			r.add(e.ptr(), "%s %s", ruleQuote(s), prob)
		}
	case strings.HasSuffix(k, "_refs"):
		list, ok := e.v.([]any)
		if !ok {
			r.add(e.ptr(), "a _refs property must hold a list of identifiers")
			return
		}
		if len(list) == 0 {
			r.add(e.ptr(), "a _refs list must not be empty")
		}
		for i, item := range list {
			s, ok := item.(string)
			if !ok {
				r.add(e.ptr(i), "must be an identifier string")
				continue
			}
			if _, prob := ruleIdentifier(s); prob != "" {
				r.add(e.ptr(i), "%s %s", ruleQuote(s), prob)
			}
		}
	}
}

// ruleRefCheck reports the reference obj[k] if its type is not accepted.
func ruleRefCheck(r *ruleReport, obj map[string]any, k string, ok func(t string) bool, want string) {
	v, has := obj[k]
	if !has {
		return
	}
	if t := ruleRefType(v); t != "" && !ok(t) {
		r.add("/"+k, "%s must reference %s, not %s", ruleQuote(v.(string)), want, t)
	}
}

// ruleRefList reports the items of the list property obj[k] whose type is
// not accepted.
func ruleRefList(r *ruleReport, obj map[string]any, k string, ok func(t string) bool, want string) {
	list, _ := obj[k].([]any)
	for i, e := range list {
		if t := ruleRefType(e); t != "" && !ok(t) {
			r.add(rulePointer(k, i), "%s must reference %s, not %s", ruleQuote(e.(string)), want, t)
		}
	}
}

// Reference target predicates.
var (
	ruleIsIdentity = func(t string) bool { return t == "identity" }
	ruleIsMarking  = func(t string) bool { return t == "marking-definition" }
	ruleIsObserved = func(t string) bool { return t == "observed-data" }
	ruleIsWhere    = func(t string) bool { return t == "identity" || t == "location" }
	ruleIsSDOorSCO = func(t string) bool { return !ruleNonSCO(t) || ruleSDOTypes[t] }
	ruleIsSDO      = func(t string) bool { return ruleSDOTypes[t] || !ruleSpecType(t) }
	ruleIsSCOorSRO = func(t string) bool { return !ruleNonSCO(t) || ruleSROTypes[t] }
)

// checkRefTargetType: the reference targets the specification fixes
// regardless of the referring object's schema:
//   - created_by_ref is an identity (section 3.2);
//   - object_marking_refs and granular marking_ref are marking-definitions
//     (sections 3.2, 7.2.2, 7.2.3);
//   - relationship source_ref/target_ref are SDOs or SCOs, never an SRO,
//     bundle, language-content, marking-definition or extension-definition
//     (section 5.1.2);
//   - sighting_of_ref is an SDO, observed_data_refs are observed-data,
//     where_sighted_refs are identity or location (section 5.2.1);
//   - observed-data object_refs are SCOs or SROs (section 4.14.1).
//
// Custom types are unknown and accepted where an SDO or SCO is expected.
func checkRefTargetType(obj map[string]any, r *ruleReport) {
	ruleRefCheck(r, obj, "created_by_ref", ruleIsIdentity, "an identity")
	ruleRefList(r, obj, "object_marking_refs", ruleIsMarking, "a marking-definition")
	gms, _ := obj["granular_markings"].([]any)
	for i, g := range gms {
		if gm, ok := g.(map[string]any); ok {
			if t := ruleRefType(gm["marking_ref"]); t != "" && !ruleIsMarking(t) {
				r.add(rulePointer("granular_markings", i, "marking_ref"), "%s must reference a marking-definition, not %s", ruleQuote(gm["marking_ref"].(string)), t)
			}
		}
	}
	switch ruleType(obj) {
	case "relationship":
		ruleRefCheck(r, obj, "source_ref", ruleIsSDOorSCO, "an SDO or SCO")
		ruleRefCheck(r, obj, "target_ref", ruleIsSDOorSCO, "an SDO or SCO")
	case "sighting":
		ruleRefCheck(r, obj, "sighting_of_ref", ruleIsSDO, "an SDO")
		ruleRefList(r, obj, "observed_data_refs", ruleIsObserved, "an observed-data")
		ruleRefList(r, obj, "where_sighted_refs", ruleIsWhere, "an identity or location")
	case "observed-data":
		ruleRefList(r, obj, "object_refs", ruleIsSCOorSRO, "an SCO or SRO")
	}
}

// checkObservedDataObjects: section 4.14, either objects or object_refs
// MUST be provided, but not both.
func checkObservedDataObjects(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "observed-data" {
		return
	}
	objs, refs := ruleHas(obj, "objects"), ruleHas(obj, "object_refs")
	switch {
	case objs && refs:
		r.add("/objects", "must not be present together with object_refs")
	case !objs && !refs:
		r.add("/object_refs", "one of object_refs or the deprecated objects must be present")
	}
}

// checkObservedDataSCORef: section 4.14.1, object_refs MUST contain at least
// one SCO reference. Reported only when every reference is to a
// specification-defined type that is not an SCO.
func checkObservedDataSCORef(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "observed-data" {
		return
	}
	list, ok := obj["object_refs"].([]any)
	if !ok || len(list) == 0 {
		return
	}
	for _, e := range list {
		t := ruleRefType(e)
		if t == "" || !ruleNonSCO(t) {
			return // an SCO, a custom type, or malformed (ref-format)
		}
	}
	r.add("/object_refs", "must contain at least one SCO reference")
}

// visitObservableContainerRef: sections 2.9 and 2.13, inside the deprecated
// observable container (observed-data objects) references are keys of the
// container and MUST resolve within it.
func visitObservableContainerRef(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || !e.container {
		return
	}
	// problem describes why v does not resolve, "" when it does.
	problem := func(v any) string {
		s, ok := v.(string)
		if !ok {
			return "must be a key of the observable container (a string)"
		}
		if _, found := e.objects[s]; !found {
			return ruleQuote(s) + " is not a key of the observable container"
		}
		return ""
	}
	switch {
	case strings.HasSuffix(k, "_ref"):
		if p := problem(e.v); p != "" {
			r.add(e.ptr(), "%s", p)
		}
	case strings.HasSuffix(k, "_refs"):
		list, ok := e.v.([]any)
		if !ok || len(list) == 0 {
			r.add(e.ptr(), "must be a non-empty list of observable container keys")
			return
		}
		for i, item := range list {
			if p := problem(item); p != "" {
				r.add(e.ptr(i), "%s", p)
			}
		}
	}
}
