package stix

// This file holds the STIX 2.1 requirements a JSON schema cannot express:
// ordering between timestamps, relations between properties, formats that
// depend on a dictionary key, the naming conventions that apply to custom
// properties, and so on. Each is a named rule; the validator runs every rule
// on every decoded object (see checkRules).
//
// Section numbers refer to STIX Version 2.1 (with Errata 01). Only MUST-level
// requirements are checked; SHOULDs are not findings. Every rule runs in time
// linear in the size of the object, recursion stops at ruleMaxDepth levels and
// each rule reports at most ruleMaxFindings findings (checkRules caps the
// total at the same number).

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/taxiid/taxiid/stix/pattern"
)

const (
	// ruleMaxFindings caps the findings of one rule and of checkRules.
	ruleMaxFindings = 50
	// ruleMaxDepth bounds how deep the walking rules descend.
	ruleMaxDepth = 64
	// ruleMaxQuoted bounds how much of a value a message quotes.
	ruleMaxQuoted = 100
)

// rule is one named check.
type rule struct {
	code  string // short stable code, e.g. "modified-before-created"
	check func(obj map[string]any) []Finding
}

// rules are the checks a schema cannot express, run on every object in order.
var rules = []rule{
	// Versioning and identifiers.
	newRule("modified-before-created", checkModifiedBeforeCreated),
	newRule("id-uuid", checkIDUUID),
	newRule("sco-id-uuid-version", checkSCOIDVersion),
	// References.
	scanRule("ref-format"),
	newRule("ref-target-type", checkRefTargetType),
	newRule("observed-data-objects", checkObservedDataObjects),
	newRule("observed-data-sco-ref", checkObservedDataSCORef),
	scanRule("observable-container-ref"),
	// Markings.
	newRule("marking-self-reference", checkMarkingSelfReference),
	newRule("granular-marking-choice", checkGranularMarkingChoice),
	newRule("granular-marking-selector", checkGranularMarkingSelector),
	newRule("marking-definition-content", checkMarkingDefinitionContent),
	newRule("tlp-marking", checkTLPMarking),
	// Time windows.
	newRule("valid-until-before-valid-from", checkValidUntil),
	newRule("last-seen-before-first-seen", checkLastSeen),
	newRule("last-observed-before-first-observed", checkLastObserved),
	newRule("stop-time-before-start-time", checkStopTime),
	newRule("network-traffic-end-before-start", checkNetworkTrafficEnd),
	newRule("network-traffic-active-end", checkNetworkTrafficActive),
	// Patterns.
	newRule("indicator-pattern", checkIndicatorPattern),
	// Names.
	newRule("custom-property-name", checkCustomPropertyName),
	newRule("extension-property-name", checkExtensionPropertyName),
	newRule("reserved-property", checkReservedProperty),
	scanRule("encoding-property"),
	newRule("extension-name", checkExtensionName),
	newRule("extension-type", checkExtensionType),
	newRule("extension-properties", checkExtensionProperties),
	// Value formats.
	scanRule("hash-value"),
	scanRule("hex-value"),
	scanRule("binary-value"),
	newRule("lang-tag", checkLangTag),
	scanRule("empty-list"),
	scanRule("empty-object"),
	newRule("external-reference", checkExternalReference),
	newRule("external-id-format", checkExternalIDFormat),
	newRule("defanged-non-sco", checkDefangedNonSCO),
	// Object-specific requirements.
	newRule("location-required", checkLocationRequired),
	newRule("location-coordinates", checkLocationCoordinates),
	newRule("malware-family-name", checkMalwareFamilyName),
	newRule("malware-analysis-result", checkMalwareAnalysisResult),
	newRule("artifact-payload", checkArtifactPayload),
	newRule("artifact-url-hashes", checkArtifactURLHashes),
	newRule("artifact-decryption-key", checkArtifactDecryptionKey),
	newRule("file-hashes-or-name", checkFileHashesOrName),
	newRule("email-multipart", checkEmailMultipart),
	newRule("email-mime-part", checkEmailMIMEPart),
	newRule("network-traffic-endpoint", checkNetworkTrafficEndpoint),
	newRule("at-least-one-property", checkAtLeastOneProperty),
	newRule("registry-key-hive", checkRegistryKeyHive),
	newRule("ipv4-value", checkIPv4Value),
	newRule("ipv6-value", checkIPv6Value),
	newRule("mac-addr-value", checkMACAddrValue),
	newRule("domain-name-value", checkDomainNameValue),
	newRule("url-value", checkURLValue),
	newRule("email-addr-value", checkEmailAddrValue),
}

// checkRules runs every rule and returns all findings, at most
// ruleMaxFindings of them.
func checkRules(obj map[string]any) []Finding {
	if obj == nil {
		return nil
	}
	scanned := ruleScan(obj, ruleScanVisitors, ruleScanCodes)
	var out []Finding
	for _, r := range rules {
		if i, ok := ruleScanIndex[r.code]; ok {
			out = append(out, scanned[i].findings()...)
		} else {
			out = append(out, r.check(obj)...)
		}
		if len(out) >= ruleMaxFindings {
			return out[:ruleMaxFindings]
		}
	}
	return out
}

// newRule wraps a check that reports through a ruleReport into a rule.
func newRule(code string, f func(obj map[string]any, r *ruleReport)) rule {
	return rule{code: code, check: func(obj map[string]any) []Finding {
		if obj == nil {
			return nil
		}
		r := ruleReport{code: code}
		f(obj, &r)
		return r.findings()
	}}
}

// ruleReport collects one rule's findings, at most ruleMaxFindings.
type ruleReport struct {
	code string
	out  []Finding
}

func (r *ruleReport) full() bool { return len(r.out) >= ruleMaxFindings }

func (r *ruleReport) add(ptr, format string, args ...any) {
	if r.full() {
		return
	}
	r.out = append(r.out, Finding{Pointer: ptr, Rule: r.code, Message: fmt.Sprintf(format, args...)})
}

// findings returns the findings ordered by pointer, so that the output does
// not depend on map iteration order.
func (r *ruleReport) findings() []Finding {
	if len(r.out) < 2 {
		return r.out
	}
	sort.SliceStable(r.out, func(i, j int) bool { return r.out[i].Pointer < r.out[j].Pointer })
	return r.out
}

// ---------------------------------------------------------------------------
// JSON pointers, values and type sets.

// rulePointer builds an RFC 6901 pointer from property names (string) and
// list indices (int).
func rulePointer(parts ...any) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		switch x := p.(type) {
		case string:
			ruleEscapeInto(&b, x)
		case int:
			b.WriteString(strconv.Itoa(x))
		}
	}
	return b.String()
}

func ruleEscapeInto(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, "~/") {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '~':
			b.WriteString("~0")
		case '/':
			b.WriteString("~1")
		default:
			b.WriteByte(s[i])
		}
	}
}

// rulePath is the position of a walk: property names and list indices.
type rulePath []ruleSeg

type ruleSeg struct {
	key string
	idx int // list index when key is ""; property names are never "" here
	arr bool
}

func (p *rulePath) push(key string) { *p = append(*p, ruleSeg{key: key}) }
func (p *rulePath) pushIdx(i int)   { *p = append(*p, ruleSeg{idx: i, arr: true}) }
func (p *rulePath) pop()            { *p = (*p)[:len(*p)-1] }

// pointer renders the path followed by extra parts (see rulePointer).
func (p rulePath) pointer(extra ...any) string {
	var b strings.Builder
	for _, s := range p {
		b.WriteByte('/')
		if s.arr {
			b.WriteString(strconv.Itoa(s.idx))
		} else {
			ruleEscapeInto(&b, s.key)
		}
	}
	b.WriteString(rulePointer(extra...))
	return b.String()
}

// ruleQuote quotes a string for a message, shortening long values.
func ruleQuote(s string) string {
	if len(s) > ruleMaxQuoted {
		cut := ruleMaxQuoted
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

func ruleString(m map[string]any, k string) (string, bool) {
	s, ok := m[k].(string)
	return s, ok
}

func ruleType(obj map[string]any) string {
	s, _ := obj["type"].(string)
	return s
}

func ruleHas(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

func ruleTrue(m map[string]any, k string) bool {
	b, ok := m[k].(bool)
	return ok && b
}

// ruleTime parses a timestamp property; ok is false when it is absent or
// malformed (the schema reports those).
func ruleTime(m map[string]any, k string) (t time.Time, raw string, ok bool) {
	raw, ok = ruleString(m, k)
	if !ok {
		return time.Time{}, "", false
	}
	t, err := ParseTimestamp(raw)
	if err != nil {
		return time.Time{}, "", false
	}
	return t, raw, true
}

// ruleSDOTypes are the STIX Domain Objects of section 4.
var ruleSDOTypes = map[string]bool{
	"attack-pattern": true, "campaign": true, "course-of-action": true, "grouping": true,
	"identity": true, "incident": true, "indicator": true, "infrastructure": true,
	"intrusion-set": true, "location": true, "malware": true, "malware-analysis": true,
	"note": true, "observed-data": true, "opinion": true, "report": true,
	"threat-actor": true, "tool": true, "vulnerability": true,
}

// ruleSROTypes are the STIX Relationship Objects of section 5.
var ruleSROTypes = map[string]bool{"relationship": true, "sighting": true}

// ruleMetaTypes are the STIX Meta Objects of section 7.
var ruleMetaTypes = map[string]bool{
	"language-content": true, "marking-definition": true, "extension-definition": true,
}

// ruleNonSCO reports whether t is a specification-defined type that is not
// a cyber-observable (custom types are unknown, so false).
func ruleNonSCO(t string) bool {
	return ruleSDOTypes[t] || ruleSROTypes[t] || ruleMetaTypes[t] || t == "bundle"
}

// ruleSpecType reports whether t is defined by the specification.
func ruleSpecType(t string) bool { return ruleNonSCO(t) || scoTypes[t] }

// ruleIdentifier checks the identifier form of section 2.9: <type>--<UUID>,
// with a valid type name and an RFC 4122 UUID. It returns the type and a
// problem, "" when the identifier is valid.
func ruleIdentifier(s string) (typ, problem string) {
	i := strings.Index(s, "--")
	if i < 0 {
		return "", "is not an identifier of the form <type>--<UUID>"
	}
	typ, u := s[:i], s[i+2:]
	if err := checkTypeName(typ); err != nil {
		return "", fmt.Sprintf("is not an identifier of the form <type>--<UUID>: type %v", err)
	}
	if !isUUID(u) {
		return "", "is not an identifier of the form <type>--<UUID>: the UUID is malformed"
	}
	if p := ruleUUID4122(u); p != "" {
		return "", "is not an identifier of the form <type>--<UUID>: " + p
	}
	return typ, ""
}

// ruleUUID4122 checks that a well-formed UUID is RFC 4122 compliant: the
// RFC 4122 variant (10xx) and a version from 1 to 5.
func ruleUUID4122(u string) string {
	switch u[19] {
	case '8', '9', 'a', 'b', 'A', 'B':
	default:
		return fmt.Sprintf("the UUID is not of the RFC 4122 variant (variant digit %q)", u[19])
	}
	if v := u[14]; v < '1' || v > '5' {
		return fmt.Sprintf("the UUID has no RFC 4122 version (version digit %q)", v)
	}
	return ""
}

// ruleRefType returns the type part of a valid identifier, "" otherwise.
func ruleRefType(v any) string {
	s, ok := v.(string)
	if !ok {
		return ""
	}
	t, p := ruleIdentifier(s)
	if p != "" {
		return ""
	}
	return t
}

// ---------------------------------------------------------------------------
// Walking.
//
// The rules that look at every nested value (references, hashes, _hex, _bin
// and _enc properties, empty lists and objects, container references) are
// visitors of one walk, ruleScan: checkRules walks an object once for all of
// them, and each such rule's own check walks it with just its visitor.

// ruleDataDicts are dictionary properties whose keys are data (hash names,
// header names, language codes...), not property names.
var ruleDataDicts = map[string]bool{
	"hashes": true, "additional_header_fields": true, "environment_variables": true,
	"startup_info": true, "request_header": true, "ipfix": true, "options": true,
	"document_info_dict": true, "exif_tags": true, "contents": true,
}

func ruleIsDataDict(k string) bool {
	return ruleDataDicts[k] || strings.HasSuffix(k, "_hashes")
}

// ruleKind says what the keys of a JSON object are.
type ruleKind uint8

const (
	ruleKindProps     ruleKind = iota // property names: an object, extension instance, list item...
	ruleKindData                      // data keys: a data dictionary or anything inside one
	ruleKindExt                       // extension names: the extensions dictionary
	ruleKindContainer                 // local keys: the deprecated observable container
)

// ruleEntry is what a visitor sees: one entry of a JSON object (key, value
// and the object holding it) or one item of a list.
type ruleEntry struct {
	m         map[string]any // the object holding the entry; nil for a list item
	key       string         // the entry's key; "" for a list item
	idx       int            // the item's index in its list
	item      bool           // a list item rather than an object entry
	v         any            // the value
	props     bool           // key is a property name (m is not a dictionary)
	container bool           // within the observable container
	objects   map[string]any // the observable container, if any
	path      *rulePath      // the path of m, or of the list
}

// ptr returns the JSON pointer of the entry followed by extra parts.
func (e *ruleEntry) ptr(extra ...any) string {
	if e.item {
		return e.path.pointer(append([]any{e.idx}, extra...)...)
	}
	return e.path.pointer(append([]any{e.key}, extra...)...)
}

// property returns the name of a property entry (see ruleEntry.props).
func (e *ruleEntry) property() (string, bool) {
	return e.key, !e.item && e.props
}

// ruleVisitor checks one entry.
type ruleVisitor func(e *ruleEntry, r *ruleReport)

// ruleScanner walks an object once, calling every visitor on every entry.
type ruleScanner struct {
	path     rulePath
	entry    ruleEntry
	visitors []ruleVisitor
	reports  []ruleReport
	observed bool
	objects  map[string]any
}

// ruleScan walks obj with the visitors and returns their reports.
func ruleScan(obj map[string]any, visitors []ruleVisitor, codes []string) []ruleReport {
	s := ruleScanner{path: make(rulePath, 0, 8), visitors: visitors, reports: make([]ruleReport, len(visitors))}
	for i := range s.reports {
		s.reports[i].code = codes[i]
	}
	if ruleType(obj) == "observed-data" {
		s.observed = true
		s.objects, _ = obj["objects"].(map[string]any)
	}
	s.entry.path = &s.path
	s.object(obj, 0, ruleKindProps, false)
	return s.reports
}

func (s *ruleScanner) full() bool {
	for i := range s.reports {
		if !s.reports[i].full() {
			return false
		}
	}
	return true
}

func (s *ruleScanner) visit(container bool) {
	s.entry.container = container
	if container {
		s.entry.objects = s.objects
	} else {
		s.entry.objects = nil
	}
	for i, f := range s.visitors {
		if !s.reports[i].full() {
			f(&s.entry, &s.reports[i])
		}
	}
}

func (s *ruleScanner) object(m map[string]any, depth int, kind ruleKind, container bool) {
	if depth > ruleMaxDepth || s.full() {
		return
	}
	for k, v := range m {
		s.entry = ruleEntry{m: m, key: k, v: v, props: kind == ruleKindProps, path: &s.path}
		s.visit(container)
		var child ruleKind
		switch {
		case kind == ruleKindData:
			child = ruleKindData
		case kind != ruleKindProps:
			child = ruleKindProps // extension instances, container objects
		case k == "extensions":
			child = ruleKindExt
		case depth == 0 && k == "objects" && s.observed:
			child = ruleKindContainer
		case ruleIsDataDict(k):
			child = ruleKindData
		default:
			child = ruleKindProps
		}
		s.path.push(k)
		s.value(v, depth+1, child, container || child == ruleKindContainer)
		s.path.pop()
	}
}

// value descends into v; kind is what the keys of objects found there are.
func (s *ruleScanner) value(v any, depth int, kind ruleKind, container bool) {
	switch x := v.(type) {
	case map[string]any:
		s.object(x, depth, kind, container)
	case []any:
		if depth > ruleMaxDepth || s.full() {
			return
		}
		if kind != ruleKindData {
			kind = ruleKindProps
		}
		for i, item := range x {
			s.entry = ruleEntry{idx: i, item: true, v: item, path: &s.path}
			s.visit(container)
			s.path.pushIdx(i)
			s.value(item, depth+1, kind, container)
			s.path.pop()
		}
	}
}

// ruleScanned are the rules implemented as visitors of the shared walk.
var ruleScanned = []struct {
	code  string
	visit ruleVisitor
}{
	{"ref-format", visitRefFormat},
	{"observable-container-ref", visitObservableContainerRef},
	{"encoding-property", visitEncodingProperty},
	{"hash-value", visitHashValue},
	{"hex-value", visitHexValue},
	{"binary-value", visitBinaryValue},
	{"empty-list", visitEmptyList},
	{"empty-object", visitEmptyObject},
}

// ruleScanVisitors, ruleScanCodes and ruleScanIndex index ruleScanned.
var (
	ruleScanVisitors []ruleVisitor
	ruleScanCodes    []string
	ruleScanIndex    = map[string]int{}
)

func init() {
	for i, sr := range ruleScanned {
		ruleScanVisitors = append(ruleScanVisitors, sr.visit)
		ruleScanCodes = append(ruleScanCodes, sr.code)
		ruleScanIndex[sr.code] = i
	}
}

// scanRule is the rule of a visitor of ruleScanned, walking alone.
func scanRule(code string) rule {
	return rule{code: code, check: func(obj map[string]any) []Finding {
		if obj == nil {
			return nil
		}
		i, ok := ruleScanIndex[code]
		if !ok {
			return nil
		}
		r := ruleScan(obj, ruleScanVisitors[i:i+1], ruleScanCodes[i:i+1])
		return r[0].findings()
	}}
}

// ---------------------------------------------------------------------------
// Versioning and identifiers.

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
	if !found || !isUUID(u) {
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
	if !found || !isUUID(u) || u[14] == '4' {
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

// ---------------------------------------------------------------------------
// References.

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

// ---------------------------------------------------------------------------
// Markings.

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

// ---------------------------------------------------------------------------
// Time windows.

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

// ---------------------------------------------------------------------------
// Patterns.

// checkIndicatorPattern: sections 4.7 and 9, an indicator whose pattern_type
// is "stix" holds a STIX pattern.
func checkIndicatorPattern(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "indicator" {
		return
	}
	if pt, _ := ruleString(obj, "pattern_type"); pt != "stix" {
		return
	}
	p, ok := ruleString(obj, "pattern")
	if !ok {
		return
	}
	if off, msg, bad := rulePatternSyntax(p); bad {
		if off >= 0 {
			r.add("/pattern", "invalid STIX pattern at offset %d: %s", off, msg)
		} else {
			r.add("/pattern", "invalid STIX pattern: %s", msg)
		}
	}
}

// rulePatternSyntax parses a STIX pattern and returns the offset (-1 when
// unknown) and message of its syntax error.
func rulePatternSyntax(s string) (offset int, msg string, bad bool) {
	_, err := pattern.Parse(s)
	if err == nil {
		return 0, "", false
	}
	var se *pattern.SyntaxError
	if errors.As(err, &se) {
		return se.Offset, se.Msg, true
	}
	return -1, err.Error(), true
}

// ---------------------------------------------------------------------------
// Names.

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

// ---------------------------------------------------------------------------
// Value formats.

// ruleHashFormats gives the value format of each hash-algorithm-ov entry
// (section 10.7): a hex digest of the given length, or a fuzzy hash.
var ruleHashFormats = map[string]int{
	"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128, "SHA3-256": 64, "SHA3-512": 128,
	"SSDEEP": -1, "TLSH": -2,
}

// visitHashValue: sections 2.7 and 10.7, a hash value MUST be in the format
// of the algorithm its key names. Applies to every hashes dictionary
// (hashes and *_hashes properties), including external references,
// extensions and the deprecated observable container.
func visitHashValue(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || k != "hashes" && !strings.HasSuffix(k, "_hashes") {
		return
	}
	hs, _ := e.v.(map[string]any)
	for alg, hv := range hs {
		s, ok := hv.(string)
		f, known := ruleHashFormats[alg]
		if !ok || !known {
			continue
		}
		if prob := ruleHashProblem(f, s); prob != "" {
			r.add(e.ptr(alg), "%s is not a valid %s value: %s", ruleQuote(s), alg, prob)
		}
	}
}

func ruleHashProblem(format int, s string) string {
	switch format {
	case -1:
		if !ruleIsSSDEEP(s) {
			return "expected blocksize:hash:hash (ssdeep)"
		}
	case -2:
		h := s
		if len(h) == 72 && (h[:2] == "T1" || h[:2] == "t1") {
			h = h[2:]
		}
		if len(h) != 70 || !ruleIsHexAnyCase(h) {
			return "expected a 35-byte TLSH digest (70 hexadecimal digits, optionally prefixed T1)"
		}
	default:
		if len(s) != format || !ruleIsHexAnyCase(s) {
			return fmt.Sprintf("expected %d hexadecimal digits", format)
		}
	}
	return ""
}

func ruleIsHexAnyCase(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// ruleIsSSDEEP checks the ssdeep form blocksize:hash1:hash2, the hashes in
// the base64 alphabet (possibly empty, as for empty input).
func ruleIsSSDEEP(s string) bool {
	bs, rest, ok := strings.Cut(s, ":")
	if !ok || !digits(bs) {
		return false
	}
	h1, h2, ok := strings.Cut(rest, ":")
	return ok && ruleIsBase64Alphabet(h1) && ruleIsBase64Alphabet(h2)
}

func ruleIsBase64Alphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// visitHexValue: sections 2.8 and 3.1, a property whose name ends in _hex
// holds the hex type: an even number of characters 0-9 and a-f.
func visitHexValue(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || !strings.HasSuffix(k, "_hex") {
		return
	}
	s, ok := e.v.(string)
	if !ok {
		return
	}
	if len(s)%2 != 0 {
		r.add(e.ptr(), "%s has an odd number of hexadecimal characters", ruleQuote(s))
		return
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			r.add(e.ptr(), "%s must consist of the characters 0-9 and a-f (lowercase)", ruleQuote(s))
			return
		}
	}
}

// visitBinaryValue: sections 2.1 and 3.1, a property whose name ends in _bin
// holds the binary type, base64 (RFC 4648, padded) in JSON.
func visitBinaryValue(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || !strings.HasSuffix(k, "_bin") {
		return
	}
	if s, ok := e.v.(string); ok && !ruleIsBase64(s) {
		r.add(e.ptr(), "%s is not base64 (RFC 4648, with padding)", ruleQuote(s))
	}
}

func ruleIsBase64(s string) bool {
	if len(s)%4 != 0 {
		return false
	}
	n := len(s)
	for pad := 0; pad < 2 && n > 0 && s[n-1] == '='; pad++ {
		n--
	}
	return ruleIsBase64Alphabet(s[:n])
}

// checkLangTag: RFC 5646 language tags where the specification requires
// them: lang (section 3.2), granular marking lang (7.2.3), language-content
// contents keys (7.1.1) and software languages (6.14.1).
func checkLangTag(obj map[string]any, r *ruleReport) {
	bad := func(v any) (string, bool) {
		s, ok := v.(string)
		return s, ok && !ruleIsLangTag(s)
	}
	const msg = "%s is not an RFC 5646 language tag"
	if s, ok := bad(obj["lang"]); ok {
		r.add("/lang", msg, ruleQuote(s))
	}
	gms, _ := obj["granular_markings"].([]any)
	for i, g := range gms {
		if gm, ok := g.(map[string]any); ok {
			if s, ok := bad(gm["lang"]); ok {
				r.add(rulePointer("granular_markings", i, "lang"), msg, ruleQuote(s))
			}
		}
	}
	switch ruleType(obj) {
	case "language-content":
		contents, _ := obj["contents"].(map[string]any)
		for k := range contents {
			if !ruleIsLangTag(k) {
				r.add(rulePointer("contents", k), "key %s is not an RFC 5646 language tag", ruleQuote(k))
			}
		}
	case "software":
		langs, _ := obj["languages"].([]any)
		for i, l := range langs {
			if s, ok := bad(l); ok {
				r.add(rulePointer("languages", i), msg, ruleQuote(s))
			}
		}
	}
}

// ruleGrandfathered are the irregular grandfathered tags of RFC 5646 (the
// regular ones are also well-formed langtags).
var ruleGrandfathered = map[string]bool{
	"en-gb-oed": true, "i-ami": true, "i-bnn": true, "i-default": true, "i-enochian": true,
	"i-hak": true, "i-klingon": true, "i-lux": true, "i-mingo": true, "i-navajo": true,
	"i-pwn": true, "i-tao": true, "i-tay": true, "i-tsu": true, "sgn-be-fr": true,
	"sgn-be-nl": true, "sgn-ch-de": true,
}

// ruleIsLangTag reports whether s is a well-formed RFC 5646 language tag
// (section 2.1 syntax; the registry is not consulted).
func ruleIsLangTag(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	if len(s) <= 10 && ruleGrandfathered[strings.ToLower(s)] {
		return true
	}
	tags := strings.Split(s, "-")
	alpha := func(t string, lo, hi int) bool {
		if len(t) < lo || len(t) > hi {
			return false
		}
		for i := 0; i < len(t); i++ {
			if c := t[i] | 0x20; c < 'a' || c > 'z' {
				return false
			}
		}
		return true
	}
	alnum := func(t string, lo, hi int) bool {
		if len(t) < lo || len(t) > hi {
			return false
		}
		for i := 0; i < len(t); i++ {
			c := t[i]
			if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
				return false
			}
		}
		return true
	}
	isX := func(t string) bool { return t == "x" || t == "X" }
	privateUse := func(i int) bool { // tags[i] is x
		i++
		n := 0
		for ; i < len(tags) && alnum(tags[i], 1, 8); i++ {
			n++
		}
		return n > 0 && i == len(tags)
	}
	if isX(tags[0]) {
		return privateUse(0)
	}
	if !alpha(tags[0], 2, 8) {
		return false
	}
	i := 1
	if len(tags[0]) <= 3 { // up to three extlang subtags
		for n := 0; n < 3 && i < len(tags) && alpha(tags[i], 3, 3); n++ {
			i++
		}
	}
	if i < len(tags) && alpha(tags[i], 4, 4) { // script
		i++
	}
	if i < len(tags) && (alpha(tags[i], 2, 2) || len(tags[i]) == 3 && digits(tags[i])) { // region
		i++
	}
	for i < len(tags) && (alnum(tags[i], 5, 8) || len(tags[i]) == 4 && tags[i][0] >= '0' && tags[i][0] <= '9' && alnum(tags[i], 4, 4)) { // variants
		i++
	}
	for i < len(tags) && len(tags[i]) == 1 && alnum(tags[i], 1, 1) && !isX(tags[i]) { // extensions
		i++
		n := 0
		for ; i < len(tags) && alnum(tags[i], 2, 8); i++ {
			n++
		}
		if n == 0 {
			return false
		}
	}
	if i < len(tags) && isX(tags[i]) {
		return privateUse(i)
	}
	return i == len(tags)
}

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

// ---------------------------------------------------------------------------
// Object-specific requirements.

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

// checkArtifactPayload: section 6.1, one of payload_bin or url MUST be
// provided, and each MUST NOT be present with the other.
func checkArtifactPayload(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "artifact" {
		return
	}
	bin, url := ruleHas(obj, "payload_bin"), ruleHas(obj, "url")
	switch {
	case bin && url:
		r.add("/url", "must not be present together with payload_bin")
	case !bin && !url:
		r.add("", "an artifact needs payload_bin or url")
	}
}

// checkArtifactURLHashes: section 6.1.1, hashes MUST be present when url is.
func checkArtifactURLHashes(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "artifact" && ruleHas(obj, "url") && !ruleHas(obj, "hashes") {
		r.add("/hashes", "required when url is present")
	}
}

// checkArtifactDecryptionKey: section 6.1.1, decryption_key MUST NOT be
// present when encryption_algorithm is absent.
func checkArtifactDecryptionKey(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "artifact" && ruleHas(obj, "decryption_key") && !ruleHas(obj, "encryption_algorithm") {
		r.add("/decryption_key", "must not be present without encryption_algorithm")
	}
}

// checkFileHashesOrName: section 6.7, a file MUST contain at least one of
// hashes or name.
func checkFileHashesOrName(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "file" && !ruleHas(obj, "hashes") && !ruleHas(obj, "name") {
		r.add("", "a file needs hashes or name")
	}
}

// checkEmailMultipart: section 6.6.1, body MUST NOT be used if is_multipart
// is true, body_multipart MUST NOT be used if it is false.
func checkEmailMultipart(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "email-message" {
		return
	}
	mp, ok := obj["is_multipart"].(bool)
	switch {
	case !ok:
	case mp && ruleHas(obj, "body"):
		r.add("/body", "must not be used when is_multipart is true; use body_multipart")
	case !mp && ruleHas(obj, "body_multipart"):
		r.add("/body_multipart", "must not be used when is_multipart is false; use body")
	}
}

// checkEmailMIMEPart: section 6.6.2, one of body or body_raw_ref MUST be
// included in each MIME part.
func checkEmailMIMEPart(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "email-message" {
		return
	}
	parts, _ := obj["body_multipart"].([]any)
	for i, e := range parts {
		if part, ok := e.(map[string]any); ok && len(part) > 0 && !ruleHas(part, "body") && !ruleHas(part, "body_raw_ref") {
			r.add(rulePointer("body_multipart", i), "a MIME part needs body or body_raw_ref")
		}
	}
}

// checkNetworkTrafficEndpoint: section 6.12, a network-traffic MUST contain
// at least one of src_ref or dst_ref.
func checkNetworkTrafficEndpoint(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "network-traffic" && !ruleHas(obj, "src_ref") && !ruleHas(obj, "dst_ref") {
		r.add("", "a network-traffic needs src_ref or dst_ref")
	}
}

// ruleOneOfTypes lists, for objects that MUST contain at least one of their
// own properties, those properties: process (6.13), user-account (6.16),
// windows-registry-key (6.17), x509-certificate (6.18).
var ruleOneOfTypes = map[string][]string{
	"process": {"is_hidden", "pid", "created_time", "cwd", "command_line", "environment_variables",
		"opened_connection_refs", "creator_user_ref", "image_ref", "parent_ref", "child_refs", "extensions"},
	"user-account": {"user_id", "credential", "account_login", "account_type", "display_name",
		"is_service_account", "is_privileged", "can_escalate_privs", "is_disabled", "account_created",
		"account_expires", "credential_last_changed", "account_first_login", "account_last_login", "extensions"},
	"windows-registry-key": {"key", "values", "modified_time", "creator_user_ref", "number_of_subkeys"},
	"x509-certificate": {"is_self_signed", "hashes", "version", "serial_number", "signature_algorithm",
		"issuer", "validity_not_before", "validity_not_after", "subject", "subject_public_key_algorithm",
		"subject_public_key_modulus", "subject_public_key_exponent", "x509_v3_extensions"},
}

// ruleOneOfExtensions does the same for predefined extensions: ntfs-ext
// (6.7.3), pdf-ext (6.7.4), raster-image-ext (6.7.5), windows-pebinary-ext
// other than pe_type (6.7.6), tcp-ext (6.12.5), windows-process-ext
// (6.13.2), windows-service-ext (6.13.3), unix-account-ext (6.16.2).
var ruleOneOfExtensions = map[string][]string{
	"ntfs-ext":         {"sid", "alternate_data_streams"},
	"pdf-ext":          {"version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"},
	"raster-image-ext": {"image_height", "image_width", "bits_per_pixel", "exif_tags"},
	"windows-pebinary-ext": {"imphash", "machine_hex", "number_of_sections", "time_date_stamp",
		"pointer_to_symbol_table_hex", "number_of_symbols", "size_of_optional_header",
		"characteristics_hex", "file_header_hashes", "optional_header", "sections"},
	"tcp-ext": {"src_flags_hex", "dst_flags_hex"},
	// The property table spells window_title "windows_title"; accept both.
	"windows-process-ext": {"aslr_enabled", "dep_enabled", "priority", "owner_sid", "window_title",
		"windows_title", "startup_info", "integrity_level"},
	"windows-service-ext": {"service_name", "descriptions", "display_name", "group_name", "start_type",
		"service_dll_refs", "service_type", "service_status"},
	"unix-account-ext": {"gid", "groups", "home_dir", "shell"},
}

// rulePEOptionalHeader are the windows-pe-optional-header-type properties
// (section 6.7.6), at least one of which MUST be included.
var rulePEOptionalHeader = []string{"magic_hex", "major_linker_version", "minor_linker_version",
	"size_of_code", "size_of_initialized_data", "size_of_uninitialized_data", "address_of_entry_point",
	"base_of_code", "base_of_data", "image_base", "section_alignment", "file_alignment",
	"major_os_version", "minor_os_version", "major_image_version", "minor_image_version",
	"major_subsystem_version", "minor_subsystem_version", "win32_version_value_hex", "size_of_image",
	"size_of_headers", "checksum_hex", "subsystem_hex", "dll_characteristics_hex", "size_of_stack_reserve",
	"size_of_stack_commit", "size_of_heap_reserve", "size_of_heap_commit", "loader_flags_hex",
	"number_of_rva_and_sizes", "hashes"}

// ruleX509V3 are the x509-v3-extensions-type properties (section 6.18.2).
var ruleX509V3 = []string{"basic_constraints", "name_constraints", "policy_constraints", "key_usage",
	"extended_key_usage", "subject_key_identifier", "authority_key_identifier", "subject_alternative_name",
	"issuer_alternative_name", "subject_directory_attributes", "crl_distribution_points",
	"inhibit_any_policy", "private_key_usage_period_not_before", "private_key_usage_period_not_after",
	"certificate_policies", "policy_mappings"}

// ruleRegistryValue are the windows-registry-value-type properties (section
// 6.17.2).
var ruleRegistryValue = []string{"name", "data", "data_type"}

func ruleHasAny(m map[string]any, props []string) bool {
	for _, p := range props {
		if ruleHas(m, p) {
			return true
		}
	}
	return false
}

// checkAtLeastOneProperty: the "MUST contain at least one property"
// requirements of sections 6.7.3-6.7.6, 6.12.5, 6.13-6.13.3, 6.16-6.16.2,
// 6.17-6.17.2 and 6.18-6.18.2. Empty objects are reported by empty-object.
func checkAtLeastOneProperty(obj map[string]any, r *ruleReport) {
	t := ruleType(obj)
	if props, ok := ruleOneOfTypes[t]; ok && !ruleHasAny(obj, props) {
		r.add("", "a %s needs at least one of its own properties (%s)", t, strings.Join(props, ", "))
	}
	// lacks reports a non-empty object without any of props.
	lacks := func(v any, props []string) bool {
		m, ok := v.(map[string]any)
		return ok && len(m) > 0 && !ruleHasAny(m, props)
	}
	const msg = "%s needs at least one of %s"
	exts, _ := obj["extensions"].(map[string]any)
	for name, e := range exts {
		if props, ok := ruleOneOfExtensions[name]; ok && lacks(e, props) {
			r.add(rulePointer("extensions", name), msg, name, strings.Join(props, ", "))
		}
	}
	if pe, ok := exts["windows-pebinary-ext"].(map[string]any); ok && lacks(pe["optional_header"], rulePEOptionalHeader) {
		r.add("/extensions/windows-pebinary-ext/optional_header", msg, "optional_header", strings.Join(rulePEOptionalHeader, ", "))
	}
	switch t {
	case "windows-registry-key":
		values, _ := obj["values"].([]any)
		for i, v := range values {
			if lacks(v, ruleRegistryValue) {
				r.add(rulePointer("values", i), msg, "a registry value", strings.Join(ruleRegistryValue, ", "))
			}
		}
	case "x509-certificate":
		if lacks(obj["x509_v3_extensions"], ruleX509V3) {
			r.add("/x509_v3_extensions", msg, "x509_v3_extensions", strings.Join(ruleX509V3, ", "))
		}
	}
}

// ruleHiveAbbrev are abbreviated registry hive names.
var ruleHiveAbbrev = map[string]string{
	"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER", "HKCR": "HKEY_CLASSES_ROOT",
	"HKU": "HKEY_USERS", "HKCC": "HKEY_CURRENT_CONFIG", "HKPD": "HKEY_PERFORMANCE_DATA",
}

// checkRegistryKeyHive: section 6.17.1, the hive portion of the key MUST be
// fully expanded (HKEY_LOCAL_MACHINE, not HKLM).
func checkRegistryKeyHive(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "windows-registry-key" {
		return
	}
	key, ok := ruleString(obj, "key")
	if !ok {
		return
	}
	hive, _, _ := strings.Cut(key, `\`)
	if len(hive) <= 4 {
		if full, abbrev := ruleHiveAbbrev[strings.ToUpper(hive)]; abbrev {
			r.add("/key", "%s abbreviates the hive; use %s", ruleQuote(key), full)
		}
	}
}

// ruleSCOValue returns the value property of an SCO of type t, unless the
// object is defanged (section 3.2: defanged values are altered on purpose).
func ruleSCOValue(obj map[string]any, t string) (string, bool) {
	if ruleType(obj) != t || ruleTrue(obj, "defanged") {
		return "", false
	}
	return ruleString(obj, "value")
}

// checkIPv4Value: section 6.8.1, one or more IPv4 addresses in CIDR
// notation (the /32 suffix may be omitted).
func checkIPv4Value(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "ipv4-addr")
	if !ok {
		return
	}
	addr, bits, hasBits := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil || !a.Is4():
		r.add("/value", "%s is not an IPv4 address or CIDR block", ruleQuote(v))
	case hasBits && !ruleCIDRBits(bits, 32):
		r.add("/value", "%s has an invalid prefix length (0 to 32)", ruleQuote(v))
	}
}

// checkIPv6Value: section 6.9.1, one or more IPv6 addresses in CIDR
// notation.
func checkIPv6Value(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "ipv6-addr")
	if !ok {
		return
	}
	addr, bits, hasBits := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil || !a.Is6() || a.Zone() != "":
		r.add("/value", "%s is not an IPv6 address or CIDR block", ruleQuote(v))
	case hasBits && !ruleCIDRBits(bits, 128):
		r.add("/value", "%s has an invalid prefix length (0 to 128)", ruleQuote(v))
	}
}

func ruleCIDRBits(s string, max int) bool {
	if len(s) == 0 || len(s) > 3 || !digits(s) || len(s) > 1 && s[0] == '0' {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n <= max
}

// checkMACAddrValue: section 6.10.1, a single colon-delimited, lowercase
// MAC-48 address with leading zeros.
func checkMACAddrValue(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "mac-addr")
	if !ok {
		return
	}
	good := len(v) == 17
	for i := 0; good && i < len(v); i++ {
		c := v[i]
		if i%3 == 2 {
			good = c == ':'
		} else {
			good = c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
		}
	}
	if !good {
		r.add("/value", "%s is not a colon-delimited, lowercase MAC-48 address such as 00:00:ab:cd:ef:01", ruleQuote(v))
	}
}

// checkDomainNameValue: section 6.4.1, the value MUST conform to RFC 1034
// with RFC 5890 labels. Checked: dot-separated non-empty labels of at most
// 63 octets, 253 octets in all, letters, digits, hyphens (not leading or
// trailing) and underscores (as in service names), or non-ASCII U-labels.
func checkDomainNameValue(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "domain-name")
	if !ok {
		return
	}
	if prob := ruleDomainProblem(v); prob != "" {
		r.add("/value", "%s is not a domain name: %s", ruleQuote(v), prob)
	}
}

func ruleDomainProblem(s string) string {
	s = strings.TrimSuffix(s, ".")
	switch {
	case s == "":
		return "it is empty"
	case len(s) > 253:
		return "it is longer than 253 octets"
	}
	for len(s) > 0 {
		label, rest, _ := strings.Cut(s, ".")
		switch {
		case label == "":
			return "it has an empty label"
		case len(label) > 63:
			return "a label is longer than 63 octets"
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Sprintf("label %s starts or ends with a hyphen", ruleQuote(label))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return fmt.Sprintf("label %s contains %q", ruleQuote(label), c)
			}
		}
		if len(rest) == 0 && len(label) < len(s) {
			return "it has an empty label"
		}
		s = rest
	}
	return ""
}

// checkURLValue: section 6.15.1, the value MUST be a URL per RFC 3986.
// Checked: a scheme (letter, then letters, digits, +, - or .) and ":",
// something after it, no whitespace or control characters, and percent
// signs followed by two hex digits.
func checkURLValue(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "url")
	if !ok {
		return
	}
	if prob := ruleURLProblem(v); prob != "" {
		r.add("/value", "%s is not a URL: %s", ruleQuote(v), prob)
	}
}

func ruleURLProblem(s string) string {
	colon := strings.IndexByte(s, ':')
	if colon < 1 {
		return "it has no scheme"
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "it has no valid scheme"
		}
	}
	if colon == len(s)-1 {
		return "nothing follows the scheme"
	}
	for i := colon + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return "it contains whitespace or a control character"
		case c == '%':
			if i+2 >= len(s) || !ruleIsHexAnyCase(s[i+1:i+3]) {
				return "a % is not followed by two hexadecimal digits"
			}
		}
	}
	return ""
}

// checkEmailAddrValue: section 6.5.1, the value is an RFC 5322 addr-spec and
// MUST NOT include the display name. Checked: local-part@domain, the
// local part a dot-atom or quoted string, the domain a dot-atom or a
// bracketed literal (UTF-8 allowed, as in RFC 6532).
func checkEmailAddrValue(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "email-addr")
	if !ok {
		return
	}
	if prob := ruleAddrSpecProblem(v); prob != "" {
		r.add("/value", "%s is not a bare email address (addr-spec): %s", ruleQuote(v), prob)
	}
}

func ruleAddrSpecProblem(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "it has no @"
	}
	local, domain := s[:at], s[at+1:]
	switch {
	case local == "":
		return "the local part is empty"
	case domain == "":
		return "the domain is empty"
	}
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		for i := 1; i < len(local)-1; i++ {
			if c := local[i]; c < ' ' && c != '\t' || c == 0x7f {
				return "the quoted local part contains a control character"
			}
		}
	} else if !ruleIsDotAtom(local) {
		return "the local part is not a dot-atom (a display name or angle brackets are not allowed)"
	}
	if domain[0] == '[' {
		if domain[len(domain)-1] != ']' || strings.ContainsAny(domain[1:len(domain)-1], "[]\\ ") {
			return "the domain literal is malformed"
		}
		return ""
	}
	if !ruleIsDotAtom(domain) {
		return "the domain is not a dot-atom"
	}
	return ""
}

// ruleIsDotAtom checks RFC 5322 dot-atom-text: atext runs separated by
// single dots.
func ruleIsDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80, c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
