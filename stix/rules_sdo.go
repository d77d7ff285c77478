package stix

// Rules specific to domain objects: location, malware, malware-analysis.

// checkLocationRequired: section 4.10, at least one of region, country, or
// latitude and longitude MUST be provided.
func checkLocationRequired(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "location" {
		return
	}
	if ruleHas(obj, "region") || ruleHas(obj, "country") || ruleHas(obj, "latitude") && ruleHas(obj, "longitude") {
		return
	}
	r.add("", "a location needs region, country, or latitude and longitude")
}

// checkLocationCoordinates: section 4.10.1, latitude and longitude come
// together, and precision requires both.
func checkLocationCoordinates(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "location" {
		return
	}
	lat, lon := ruleHas(obj, "latitude"), ruleHas(obj, "longitude")
	switch {
	case lat && !lon:
		r.add("/latitude", "requires longitude")
	case lon && !lat:
		r.add("/longitude", "requires latitude")
	}
	if ruleHas(obj, "precision") && !(lat && lon) {
		r.add("/precision", "requires latitude and longitude")
	}
}

// checkMalwareFamilyName: section 4.11.1, for a malware family the name
// MUST be defined.
func checkMalwareFamilyName(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "malware" && ruleTrue(obj, "is_family") && !ruleHas(obj, "name") {
		r.add("/name", "required when is_family is true")
	}
}

// checkMalwareAnalysisResult: section 4.12, one of result or
// analysis_sco_refs MUST be provided.
func checkMalwareAnalysisResult(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "malware-analysis" && !ruleHas(obj, "result") && !ruleHas(obj, "analysis_sco_refs") {
		r.add("", "a malware-analysis needs result or analysis_sco_refs")
	}
}
