package stix

// Rules on time windows: a later timestamp must not precede an earlier one.

// ruleOrder reports the later timestamp when it is before the earlier one
// or, if strict, not after it. Absent or malformed timestamps are skipped.
func ruleOrder(obj map[string]any, r *ruleReport, earlier, later string, strict bool) {
	e, es, ok1 := ruleTime(obj, earlier)
	l, ls, ok2 := ruleTime(obj, later)
	if !ok1 || !ok2 {
		return
	}
	switch {
	case l.Before(e):
		r.add("/"+later, "%s is before %s %s", ruleQuote(ls), earlier, ruleQuote(es))
	case strict && l.Equal(e):
		r.add("/"+later, "%s must be later than %s %s", ruleQuote(ls), earlier, ruleQuote(es))
	}
}

// checkValidUntil: section 4.7.1, valid_until MUST be greater than
// valid_from.
func checkValidUntil(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "indicator" {
		ruleOrder(obj, r, "valid_from", "valid_until", true)
	}
}

// checkLastSeen: last_seen MUST be greater than or equal to first_seen on
// campaign (4.2.1), infrastructure (4.8.1), intrusion-set (4.9.1), malware
// (4.11.1), threat-actor (4.17.1) and sighting (5.2.1).
func checkLastSeen(obj map[string]any, r *ruleReport) {
	switch ruleType(obj) {
	case "campaign", "infrastructure", "intrusion-set", "malware", "threat-actor", "sighting":
		ruleOrder(obj, r, "first_seen", "last_seen", false)
	}
}

// checkLastObserved: section 4.14.1, last_observed MUST be greater than or
// equal to first_observed.
func checkLastObserved(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "observed-data" {
		ruleOrder(obj, r, "first_observed", "last_observed", false)
	}
}

// checkStopTime: section 5.1.2, stop_time MUST be later than start_time.
func checkStopTime(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "relationship" {
		ruleOrder(obj, r, "start_time", "stop_time", true)
	}
}

// checkNetworkTrafficEnd: section 6.12.1, end MUST be greater than or equal
// to start.
func checkNetworkTrafficEnd(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "network-traffic" {
		ruleOrder(obj, r, "start", "end", false)
	}
}

// checkNetworkTrafficActive: section 6.12.1, if is_active is true, end MUST
// NOT be included.
func checkNetworkTrafficActive(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "network-traffic" && ruleTrue(obj, "is_active") && ruleHas(obj, "end") {
		r.add("/end", "must not be present when is_active is true")
	}
}
