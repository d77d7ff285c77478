package stix

// Rules on structure and common properties: empty lists and objects,
// external references, defanged.

import "strings"

// visitEmptyList: section 2.12, empty lists are prohibited. _refs lists are
// reported by ref-format and observable-container-ref.
func visitEmptyList(e *ruleEntry, r *ruleReport) {
	l, ok := e.v.([]any)
	if !ok || len(l) > 0 {
		return
	}
	if k, ok := e.property(); ok && strings.HasSuffix(k, "_refs") {
		return
	}
	r.add(e.ptr(), "empty lists are not allowed; omit the property instead")
}

// visitEmptyObject: section 2.3, empty dictionaries are prohibited; every
// other nested object type of the specification requires at least one
// property too (sections 2.5, 2.11, 6.x "at least one property", 11.3.1),
// so no JSON object in a STIX object may be empty.
func visitEmptyObject(e *ruleEntry, r *ruleReport) {
	if m, ok := e.v.(map[string]any); ok && len(m) == 0 {
		r.add(e.ptr(), "empty objects and dictionaries are not allowed; omit the property instead")
	}
}

// checkExternalReference: section 2.5.2, besides source_name at least one
// of description, url or external_id MUST be present.
func checkExternalReference(obj map[string]any, r *ruleReport) {
	refs, _ := obj["external_references"].([]any)
	for i, e := range refs {
		er, ok := e.(map[string]any)
		if !ok || len(er) == 0 {
			continue
		}
		if !ruleHas(er, "description") && !ruleHas(er, "url") && !ruleHas(er, "external_id") {
			r.add(rulePointer("external_references", i), "needs at least one of description, url or external_id")
		}
	}
}

// checkExternalIDFormat: an attack-pattern's CAPEC reference MUST have an
// external_id of the form CAPEC-[id] (section 4.1.1); a vulnerability's CVE
// reference the exact CVE identifier, CVE-YYYY-NNNN... (section 4.19.1).
func checkExternalIDFormat(obj map[string]any, r *ruleReport) {
	var source, form string
	var ok func(string) bool
	switch ruleType(obj) {
	case "attack-pattern":
		source, form = "capec", "CAPEC-[id]"
		ok = func(s string) bool { id, found := strings.CutPrefix(s, "CAPEC-"); return found && digits(id) }
	case "vulnerability":
		source, form = "cve", "CVE-YYYY-NNNN"
		ok = func(s string) bool {
			rest, found := strings.CutPrefix(s, "CVE-")
			year, num, found2 := strings.Cut(rest, "-")
			return found && found2 && len(year) == 4 && digits(year) && len(num) >= 4 && digits(num)
		}
	default:
		return
	}
	refs, _ := obj["external_references"].([]any)
	for i, e := range refs {
		er, _ := e.(map[string]any)
		if sn, _ := ruleString(er, "source_name"); sn != source {
			continue
		}
		if id, isStr := ruleString(er, "external_id"); isStr && !ok(id) {
			r.add(rulePointer("external_references", i, "external_id"), "%s is not a %s identifier of the form %s", ruleQuote(id), source, form)
		}
	}
}

// checkDefangedNonSCO: section 3.2, defanged MUST NOT be used on objects
// other than SCOs.
func checkDefangedNonSCO(obj map[string]any, r *ruleReport) {
	if t := ruleType(obj); ruleNonSCO(t) && ruleHas(obj, "defanged") {
		r.add("/defanged", "may only be used on cyber-observable objects, not on %s", t)
	}
}
