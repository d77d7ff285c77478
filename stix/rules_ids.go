package stix

// Rules on versioning and identifiers.

import "strings"

// checkModifiedBeforeCreated: section 3.2 (modified) and 3.6.1, modified
// MUST be later than or equal to created.
func checkModifiedBeforeCreated(obj map[string]any, r *ruleReport) {
	c, cs, ok1 := ruleTime(obj, "created")
	m, ms, ok2 := ruleTime(obj, "modified")
	if ok1 && ok2 && m.Before(c) {
		r.add("/modified", "%s is before created %s", ruleQuote(ms), ruleQuote(cs))
	}
}

// checkIDUUID: section 2.9, the UUID of every identifier MUST be an RFC 4122
// compliant UUID (variant 10xx, version 1-5). The UUIDv4 recommendation for
// SDOs, SROs and meta objects and the UUIDv5 one for SCOs are SHOULDs and
// not checked. A malformed id is the validator's "id-format".
func checkIDUUID(obj map[string]any, r *ruleReport) {
	id, ok := ruleString(obj, "id")
	if !ok {
		return
	}
	_, u, found := strings.Cut(id, "--")
	if !found || !IsUUID(u) {
		return
	}
	if p := ruleUUID4122(u); p != "" {
		r.add("/id", "%s: %s", ruleQuote(id), p)
	}
}

// ruleSCOContributing lists, for the SCOs whose ID contributing properties
// are all optional, those properties (section 6, "ID Contributing
// Properties"). Process has none.
var ruleSCOContributing = map[string][]string{
	"artifact":             {"hashes", "payload_bin"},
	"email-message":        {"from_ref", "subject", "body"},
	"file":                 {"hashes", "name", "extensions", "parent_directory_ref"},
	"process":              nil,
	"user-account":         {"account_type", "user_id", "account_login"},
	"windows-registry-key": {"key", "values"},
	"x509-certificate":     {"hashes", "serial_number"},
}

// checkSCOIDVersion: section 2.9, "If the contributing properties are all
// optional, and none are present on the SCO, then a UUIDv4 MUST be used."
func checkSCOIDVersion(obj map[string]any, r *ruleReport) {
	props, ok := ruleSCOContributing[ruleType(obj)]
	if !ok {
		return
	}
	for _, p := range props {
		if ruleHas(obj, p) {
			return
		}
	}
	id, _ := ruleString(obj, "id")
	_, u, found := strings.Cut(id, "--")
	if !found || !IsUUID(u) || u[14] == '4' {
		return
	}
	r.add("/id", "%s: a %s without any ID contributing property (%s) must use a UUIDv4, not version %c",
		ruleQuote(id), ruleType(obj), ruleOr(props, "none"), u[14])
}

func ruleOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ", ")
}
