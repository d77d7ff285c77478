// Package stix is taxiid's STIX 2.1 model: object identity and versions,
// timestamps, and the validation every pushed object passes before it is
// stored.
package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/taxiid/taxiid/stix/pattern"
)

// Identity is what the server needs to know about an object to store it,
// and to apply the cross-version rules (see CheckNewVersion).
type Identity struct {
	ID          string
	Type        string
	SpecVersion string
	// Created and Modified are the object's timestamps, zero when absent
	// (cyber-observables have neither, marking definitions no modified).
	Created  time.Time
	Modified time.Time
	// Version is modified, else created; zero when the object has neither
	// (cyber-observables).
	Version time.Time
	// Revoked is the object's revoked property.
	Revoked bool
}

// Finding is one problem found in an object.
type Finding struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending value, "" for
	// the object itself.
	Pointer string
	// Rule is a short, stable code naming the check.
	Rule    string
	Message string
}

func (f Finding) String() string {
	if f.Pointer == "" {
		return f.Message
	}
	return f.Pointer + ": " + f.Message
}

// ValidationError lists every finding that made an object invalid.
type ValidationError struct {
	Findings []Finding
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}

// Level is how strictly objects are checked, mostly a matter of custom
// content (STIX 2.1 section 11).
type Level int

const (
	// LevelDefault accepts custom objects and properties that follow the
	// naming rules; SHOULD findings (a value outside a suggested vocabulary,
	// an unusual UUID version) are warnings.
	LevelDefault Level = iota
	// LevelStrict also fails unknown types and properties, and SHOULD
	// findings.
	LevelStrict
	// LevelPermissive checks the common properties only.
	LevelPermissive
)

// ParseLevel parses "default" (or ""), "strict" or "permissive".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "", "default":
		return LevelDefault, nil
	case "strict":
		return LevelStrict, nil
	case "permissive":
		return LevelPermissive, nil
	}
	return 0, fmt.Errorf("validation level %q is not one of strict, default, permissive", s)
}

func (l Level) String() string {
	switch l {
	case LevelStrict:
		return "strict"
	case LevelPermissive:
		return "permissive"
	}
	return "default"
}

// Options configure a Validator.
type Options struct {
	// SchemaDir holds JSON schemas that add to or override the built-in
	// ones: <type>.json for a type, extension-definition--<uuid>.json for
	// the content of an extension.
	SchemaDir string
}

// Validator checks STIX objects against the JSON schemas of their type and
// the rules schemas cannot express. It is safe for concurrent use.
type Validator struct {
	schemas *schemaSet
}

// NewValidator compiles the schemas once.
func NewValidator(opts Options) (*Validator, error) {
	s, err := loadSchemas(opts.SchemaDir)
	if err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	if _, err := ianaCharsets(); err != nil {
		return nil, err
	}
	return &Validator{schemas: s}, nil
}

// maxFindings caps the findings reported for one object: enough to fix it,
// bounded on hostile input.
const maxFindings = 50

// scoTypes are the STIX 2.1 cyber-observable types (section 6), as
// package pattern lists them. They matter here because an SCO without
// spec_version is 2.1, any other object without it is 2.0 (STIX 2.1
// section 3.2, spec_version).
var scoTypes = pattern.ObservableTypes()

// duplicateOf maps codes of the schema engine's name checks to the rule
// that reports the same problem, so that each problem is reported once.
var duplicateOf = map[string]string{
	"property-name":     "custom-property-name",
	"reserved-property": "reserved-property",
	"extension-key":     "extension-name",
	"extension-type":    "extension-type",
}

// Validate checks one object, given as JSON, at the given level, and returns
// its identity and the warnings that did not make it invalid. The error,
// when not nil, is a *ValidationError listing every failure; the identity
// then holds what could be read (for reporting).
func (v *Validator) Validate(raw []byte, level Level) (Identity, []Finding, error) {
	obj, strict, err := decodeJSONObject(raw)
	switch {
	case errors.Is(err, errJSONNotObject):
		return Identity{}, nil, &ValidationError{[]Finding{{Rule: "object", Message: "not a JSON object"}}}
	case err != nil:
		return Identity{}, nil, &ValidationError{[]Finding{{Rule: "object", Message: "not a valid JSON object: " + err.Error()}}}
	}
	id, errs := identify(obj)
	if id.SpecVersion != "2.1" {
		// The schemas and rules are STIX 2.1's; objects of other versions
		// get the identity and strict JSON checks, and collections decide
		// whether they accept those versions at all.
		strict.add(findingSet{fails: errs})
		return finish(id, strict)
	}

	// The identity checks own their properties: later findings there
	// would say the same thing again.
	owned := func(ptr string) bool {
		for _, f := range errs {
			if f.Pointer == ptr {
				return true
			}
		}
		return false
	}
	// Strict JSON findings come first: they fail an object at every
	// level.
	fs := strict
	fs.add(findingSet{fails: errs})
	if level == LevelPermissive {
		// The common properties only: no type schema, no rules.
		common, more := v.schemas.checkCommon(id.Type, obj)
		for _, f := range common {
			if !owned(f.Pointer) {
				fs.fails = append(fs.fails, f)
			}
		}
		fs.moreFails += more
		return finish(id, fs)
	}

	props := v.schemas.knownProperties(id.Type)
	ruleFs := checkRules(obj, func(ptr, rule string) findingClass {
		switch {
		case owned(ptr):
			return classDrop
		case level == LevelDefault && !namingRules[rule] && isCustom(ptr, props):
			// The content of custom properties is the producer's to
			// define; real feeds (MITRE ATT&CK among them) carry empty
			// lists and empty *_ref strings there. Only strict mode
			// fails them.
			return classWarn
		}
		return classFail
	})
	// A problem both engines find is reported once, by the rule.
	var byRule map[[2]string]bool
	if len(ruleFs.fails) > 0 {
		byRule = make(map[[2]string]bool, 2*len(ruleFs.fails))
		for _, f := range ruleFs.fails {
			byRule[[2]string{f.Pointer, f.Rule}] = true
			byRule[[2]string{f.Pointer, "\x00" + f.Message}] = true
		}
	}
	schemaFs, schemaMore, known := v.schemas.checkSkipping(id.Type, obj, func(ptr, rule, msg string) bool {
		if dup, ok := duplicateOf[rule]; ok && byRule[[2]string{ptr, dup}] {
			return true
		}
		return byRule[[2]string{ptr, "\x00" + msg}] || owned(ptr)
	})
	fs.fails = append(fs.fails, schemaFs...)
	if ruleFs.moreFails > 0 && (len(schemaFs) > 0 || schemaMore > 0) {
		// The schema's findings may repeat problems a rule found but did
		// not keep: count only the rules' ones, a lower bound.
		fs.moreFails -= len(schemaFs)
		fs.atLeast = true
	} else {
		fs.moreFails += schemaMore
	}
	fs.add(ruleFs)

	if id.Type != "" {
		fs.warns = append(fs.warns, v.vocabularyFindings(id.Type, obj)...)
		fs.warns = append(fs.warns, uuidVersionFindings(id)...)
	}
	if level == LevelStrict {
		fs.fails = append(fs.fails, v.unknownFindings(id.Type, obj, known)...)
		fs.fails, fs.warns = append(fs.fails, fs.warns...), nil
		fs.moreFails, fs.moreWarns = fs.moreFails+fs.moreWarns, 0
	}
	return finish(id, fs)
}

// findingClass is what a finding means for the object at the level it is
// checked at.
type findingClass uint8

const (
	classFail findingClass = iota // the object is invalid
	classWarn                     // reported, the object stays valid
	classDrop                     // another check reports the same problem
)

// findingSet gathers the findings of one object. The checks keep a bounded
// number of findings each and count the others, so that the outcome is
// computed from every finding while what is reported stays bounded.
type findingSet struct {
	fails, warns []Finding
	// moreFails and moreWarns count the findings the checks did not keep;
	// atLeast tells they are lower bounds (a check stopped counting, or
	// findings of the schema and the rules may overlap).
	moreFails, moreWarns int
	atLeast              bool
}

func (s *findingSet) add(o findingSet) {
	s.fails = append(s.fails, o.fails...)
	s.warns = append(s.warns, o.warns...)
	s.moreFails += o.moreFails
	s.moreWarns += o.moreWarns
	s.atLeast = s.atLeast || o.atLeast
}

// finish returns the findings as Validate does. An object with any failure
// is invalid, however many findings there are; what is reported is capped
// at maxFindings, failures first, warnings in the room they leave, and a
// "findings-capped" finding says how many more there were (among the
// failures when the object is invalid, else among the warnings).
func finish(id Identity, fs findingSet) (Identity, []Finding, error) {
	invalid := len(fs.fails) > 0 || fs.moreFails > 0
	moreFails, moreWarns := fs.moreFails, fs.moreWarns
	if len(fs.fails) > maxFindings {
		moreFails += len(fs.fails) - maxFindings
		fs.fails = firstOfEachRule(fs.fails, maxFindings)
	}
	moreFails = max(moreFails, 0)
	if room := maxFindings - len(fs.fails); len(fs.warns) > room {
		moreWarns += len(fs.warns) - room
		fs.warns = firstOfEachRule(fs.warns, room)
	}
	if moreFails > 0 || moreWarns > 0 {
		capped := Finding{Rule: "findings-capped", Message: cappedMessage(moreFails, moreWarns, fs.atLeast)}
		if invalid {
			fs.fails = append(fs.fails, capped)
		} else {
			fs.warns = append(fs.warns, capped)
		}
	}
	if len(fs.warns) == 0 {
		fs.warns = nil
	}
	if invalid {
		return id, fs.warns, &ValidationError{fs.fails}
	}
	return id, fs.warns, nil
}

// firstOfEachRule keeps n of the findings fs, in their order: the first
// finding of every rule, then the second of every rule, and so on, so that
// what is reported shows every kind of problem found.
func firstOfEachRule(fs []Finding, n int) []Finding {
	rank := make([]int, len(fs))
	seen := map[string]int{}
	for i, f := range fs {
		rank[i] = seen[f.Rule]
		seen[f.Rule]++
	}
	order := make([]int, len(fs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rank[order[a]] < rank[order[b]] })
	order = order[:n]
	sort.Ints(order)
	kept := make([]Finding, n)
	for i, j := range order {
		kept[i] = fs[j]
	}
	return kept
}

// cappedMessage says how many findings were not reported.
func cappedMessage(fails, warns int, atLeast bool) string {
	count := func(n int, what string) string {
		if n == 1 {
			return "1 more " + what
		}
		return fmt.Sprintf("%d more %ss", n, what)
	}
	var parts []string
	if fails > 0 {
		parts = append(parts, count(fails, "failure"))
	}
	if warns > 0 {
		parts = append(parts, count(warns, "warning"))
	}
	msg := strings.Join(parts, " and ") + " not reported"
	if atLeast {
		msg = "at least " + msg
	}
	return msg
}

// namingRules check the names of custom content, which STIX 2.1 section 11
// constrains at every level.
var namingRules = map[string]bool{
	"custom-property-name": true, "extension-property-name": true, "reserved-property": true,
	"extension-name": true, "extension-type": true,
}

// isCustom reports whether ptr is inside a custom property: one that is
// neither common nor defined by the type's schema (props, nil for a type
// without one).
func isCustom(ptr string, props map[string]bool) bool {
	top := topProperty(ptr)
	return top != "" && !schemaCommonProperties[top] && !props[top]
}

// topProperty returns the first segment of a JSON pointer.
func topProperty(ptr string) string {
	p, _, _ := strings.Cut(strings.TrimPrefix(ptr, "/"), "/")
	return p
}

// identify reads and checks the properties that identify an object: type,
// id, spec_version, created and modified.
func identify(obj map[string]any) (Identity, []Finding) {
	var id Identity
	var fs []Finding
	add := func(ptr, rule, format string, args ...any) {
		fs = append(fs, Finding{Pointer: ptr, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}

	switch typ, ok := obj["type"].(string); {
	case obj["type"] == nil:
		add("/type", "required", "required property missing")
	case !ok:
		add("/type", "type-string", "must be a string")
	default:
		id.Type = typ
		if err := checkTypeName(typ); err != nil {
			add("/type", "type-name", "%q %v", typ, err)
		}
	}

	switch sid, ok := obj["id"].(string); {
	case obj["id"] == nil:
		add("/id", "required", "required property missing")
	case !ok:
		add("/id", "id-string", "must be a string")
	default:
		id.ID = sid
		prefix, uuid, found := strings.Cut(sid, "--")
		switch {
		case !found || !IsUUID(uuid):
			add("/id", "id-format", "%q is not of the form <type>--<UUID>", sid)
		case id.Type != "" && prefix != id.Type:
			add("/id", "id-type", "%q does not start with the object's type %q", sid, id.Type)
		}
	}

	switch sv, ok := obj["spec_version"].(string); {
	case obj["spec_version"] == nil:
		// STIX 2.1 section 3.2: absent means 2.0, except for SCOs, which
		// became top-level objects in 2.1.
		if scoTypes[id.Type] {
			id.SpecVersion = "2.1"
		} else {
			id.SpecVersion = "2.0"
		}
	case !ok || !IsSpecVersion(sv):
		add("/spec_version", "spec-version", "%s is not a STIX version such as \"2.1\"", render(obj["spec_version"]))
	default:
		id.SpecVersion = sv
	}

	id.Created = timestamp(obj, "created", add)
	id.Modified = timestamp(obj, "modified", add)
	switch {
	case !id.Modified.IsZero():
		id.Version = id.Modified
	case !id.Created.IsZero():
		id.Version = id.Created
	}
	id.Revoked, _ = obj["revoked"].(bool)
	return id, fs
}

// vocabularyFindings warns about values outside the suggested values of an
// open vocabulary (STIX 2.1 section 10: SHOULD).
func (v *Validator) vocabularyFindings(typ string, obj map[string]any) []Finding {
	var fs []Finding
	for _, use := range v.schemas.vocabUses(typ) {
		vocab := v.schemas.vocabulary(use.vocab)
		if vocab == nil {
			continue
		}
		walkPath(obj, schemaSplitPath(use.path), "", func(ptr string, val any) {
			check := func(ptr string, s string) {
				if !vocab[s] {
					fs = append(fs, Finding{Pointer: ptr, Rule: "vocabulary",
						Message: fmt.Sprintf("%q is not in the suggested vocabulary %s", s, use.vocab)})
				}
			}
			switch val := val.(type) {
			case string:
				check(ptr, val)
			case []any:
				for i, e := range val {
					if s, ok := e.(string); ok {
						check(fmt.Sprintf("%s/%d", ptr, i), s)
					}
				}
			}
		})
	}
	return fs
}

// walkPath calls fn for every value at the schema path segs ("*" matches
// every list element or dictionary value).
func walkPath(node any, segs []string, ptr string, fn func(ptr string, val any)) {
	if len(segs) == 0 {
		fn(ptr, node)
		return
	}
	switch n := node.(type) {
	case map[string]any:
		if segs[0] == "*" {
			for k, v := range n {
				walkPath(v, segs[1:], ptr+"/"+schemaEscape(k), fn)
			}
		} else if v, ok := n[segs[0]]; ok {
			walkPath(v, segs[1:], ptr+"/"+schemaEscape(segs[0]), fn)
		}
	case []any:
		if segs[0] == "*" {
			for i, v := range n {
				walkPath(v, segs[1:], fmt.Sprintf("%s/%d", ptr, i), fn)
			}
		}
	}
}

// uuidVersionFindings warns when an id's UUID is not of the version STIX 2.1
// section 2.9 recommends: v5 for cyber-observables, v4 for other objects.
func uuidVersionFindings(id Identity) []Finding {
	_, u, ok := strings.Cut(id.ID, "--")
	if !ok || !IsUUID(u) {
		return nil
	}
	want := byte('4')
	if scoTypes[id.Type] {
		want = '5'
	}
	if got := u[14]; got != want && !(scoTypes[id.Type] && got == '4') {
		return []Finding{{Pointer: "/id", Rule: "id-uuid-version",
			Message: fmt.Sprintf("%q is a version %c UUID; STIX recommends version %c", id.ID, got, want)}}
	}
	return nil
}

// unknownFindings fails, in strict mode, a type without a schema and
// top-level properties its schema does not define.
func (v *Validator) unknownFindings(typ string, obj map[string]any, known bool) []Finding {
	if typ == "" {
		return nil
	}
	if !known {
		return []Finding{{Pointer: "/type", Rule: "unknown-type",
			Message: fmt.Sprintf("%q has no schema; strict validation accepts only STIX 2.1 types and types with a schema of the server", typ)}}
	}
	props := v.schemas.knownProperties(typ)
	var fs []Finding
	for k := range obj {
		if !props[k] && !schemaCommonProperties[k] {
			fs = append(fs, Finding{Pointer: "/" + schemaEscape(k), Rule: "unknown-property",
				Message: fmt.Sprintf("%q is not a property of %s; strict validation accepts no custom properties", k, typ)})
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Pointer < fs[j].Pointer })
	return fs
}

// timestamp parses an optional timestamp property, reporting problems.
func timestamp(obj map[string]any, name string, add func(ptr, rule, format string, args ...any)) time.Time {
	v, ok := obj[name]
	if !ok {
		return time.Time{}
	}
	s, ok := v.(string)
	if !ok {
		add("/"+name, "timestamp", "%s must be a timestamp string", render(v))
		return time.Time{}
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		add("/"+name, "timestamp", "%v", err)
		return time.Time{}
	}
	return t
}

// render shows a JSON value in a message.
func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 80 {
		return fmt.Sprintf("%T value", v)
	}
	return string(b)
}

// checkTypeName applies STIX 2.1 section 3.1 (type names): 3 to 250
// characters of a-z, 0-9 and hyphen, starting with a letter, without two
// consecutive hyphens.
func checkTypeName(s string) error {
	if len(s) < 3 || len(s) > 250 {
		return fmt.Errorf("must be between 3 and 250 characters")
	}
	if s[0] < 'a' || s[0] > 'z' {
		return fmt.Errorf("must start with a lowercase letter")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i > 0 && s[i-1] == '-' {
				return fmt.Errorf("must not contain two consecutive hyphens")
			}
		default:
			return fmt.Errorf("may contain only a-z, 0-9 and hyphens")
		}
	}
	return nil
}

// IsUUID reports whether s has the form of a UUID: 8-4-4-4-12 hexadecimal
// digits, in either case.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// IsSpecVersion reports whether s has the form of a STIX version, such as
// "2.1": digits, a dot, digits.
func IsSpecVersion(s string) bool {
	major, minor, ok := strings.Cut(s, ".")
	return ok && digits(major) && digits(minor)
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
