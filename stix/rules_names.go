package stix

// Rules on names: custom properties, reserved properties, extensions and
// _enc companions.

import "strings"

// ruleIsPropertyName reports whether s is 3 to 250 characters of a-z, 0-9
// and underscore: the rule for custom property names (section 11.1.1, and
// 11.2.1 for custom objects), extension property names (sections 7.3.2 and
// 11.3.1), and which every specification-defined property but id follows.
const rulePropertyNameRule = "must be 3 to 250 characters of a-z, 0-9 and _, starting with a letter"

// checkCustomPropertyName: section 11.1.1 (and 3.1), custom property names
// MUST be ASCII a-z, 0-9 and _, 3 to 250 characters. Property names defined
// by the specification all satisfy this (except id), so the check needs no
// per-type property lists: a top-level name that fails it is a malformed
// custom property.
func checkCustomPropertyName(obj map[string]any, r *ruleReport) {
	for k := range obj {
		if k != "id" && !schemaValidPropertyName(k) {
			r.add(rulePointer(k), "property name %s %s", ruleQuote(k), rulePropertyNameRule)
		}
	}
}

// checkExtensionPropertyName: sections 7.3.2 and 11.3.1, property names
// inside an extension MUST be ASCII a-z, 0-9 and _, 3 to 250 characters.
func checkExtensionPropertyName(obj map[string]any, r *ruleReport) {
	exts, _ := obj["extensions"].(map[string]any)
	for name, e := range exts {
		inst, ok := e.(map[string]any)
		if !ok {
			continue
		}
		for k := range inst {
			if k != "extension_type" && !schemaValidPropertyName(k) {
				r.add(rulePointer("extensions", name, k), "property name %s %s", ruleQuote(k), rulePropertyNameRule)
			}
		}
	}
}

// checkReservedProperty: section 3.8, reserved property names MUST NOT be
// present.
func checkReservedProperty(obj map[string]any, r *ruleReport) {
	for k := range obj {
		if schemaReservedProperties[k] {
			r.add(rulePointer(k), "%s is a reserved property name and must not be used", ruleQuote(k))
		}
	}
}

// visitEncodingProperty: section 3.1, an _enc property MUST NOT be present
// when the property whose encoding it gives is not.
func visitEncodingProperty(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok {
		return
	}
	if base, ok := strings.CutSuffix(k, "_enc"); ok && !ruleHas(e.m, base) {
		r.add(e.ptr(), "%s is present without %s", ruleQuote(k), ruleQuote(base))
	}
}

const ruleExtDefPrefix = "extension-definition--"

// checkExtensionName: the keys of extensions. A key is either the id of an
// extension-definition (section 7.3) or, on SCOs only, a predefined or
// custom extension name (sections 3.10, 11.3.1: a-z, 0-9 and hyphen, 3 to
// 250 characters, ending in "-ext"). Objects the specification defines
// other than SCOs have no predefined extensions and custom extensions are
// for SCOs only (section 11.3), so their keys must be extension-definition
// ids.
func checkExtensionName(obj map[string]any, r *ruleReport) {
	exts, _ := obj["extensions"].(map[string]any)
	if len(exts) == 0 {
		return
	}
	t := ruleType(obj)
	for name := range exts {
		if strings.HasPrefix(name, ruleExtDefPrefix) {
			if _, prob := ruleIdentifier(name); prob != "" {
				r.add(rulePointer("extensions", name), "%s %s", ruleQuote(name), prob)
			}
			continue
		}
		if ruleNonSCO(t) {
			r.add(rulePointer("extensions", name), "%s is not an extension-definition id; a %s has no predefined or custom extensions", ruleQuote(name), t)
			continue
		}
		if !schemaValidCustomExtName(name) {
			r.add(rulePointer("extensions", name), "%s is neither an extension-definition id nor an extension name (3 to 250 characters of a-z, 0-9 and -, ending in -ext)", ruleQuote(name))
		}
	}
}

// checkExtensionType: sections 3.2 (extensions) and 7.3. An extension keyed
// by an extension-definition id uses the extension facility and MUST have
// extension_type; one without extension_type is a predefined extension, so
// extension_type belongs only under an extension-definition id; and an
// extension MUST NOT redefine standard objects, so new-sdo, new-sco and
// new-sro cannot appear on a type the specification defines.
func checkExtensionType(obj map[string]any, r *ruleReport) {
	exts, _ := obj["extensions"].(map[string]any)
	t := ruleType(obj)
	for name, e := range exts {
		inst, ok := e.(map[string]any)
		if !ok {
			continue
		}
		et, has := inst["extension_type"]
		byDef := strings.HasPrefix(name, ruleExtDefPrefix)
		switch {
		case byDef && !has:
			r.add(rulePointer("extensions", name, "extension_type"), "required for an extension defined by an extension-definition")
		case !byDef && has:
			r.add(rulePointer("extensions", name, "extension_type"), "only extensions keyed by an extension-definition id have extension_type; %s is not one", ruleQuote(name))
		}
		if s, ok := et.(string); ok && strings.HasPrefix(s, "new-") && ruleSpecType(t) {
			r.add(rulePointer("extensions", name, "extension_type"), "%s cannot extend %s, a type the specification defines", ruleQuote(s), t)
		}
	}
}

// checkExtensionProperties: section 7.3.1, extension_properties MUST only be
// used when extension_types includes toplevel-property-extension.
func checkExtensionProperties(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "extension-definition" || !ruleHas(obj, "extension_properties") {
		return
	}
	types, _ := obj["extension_types"].([]any)
	for _, t := range types {
		if t == "toplevel-property-extension" {
			return
		}
	}
	r.add("/extension_properties", "may only be used when extension_types includes \"toplevel-property-extension\"")
}
