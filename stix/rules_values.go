package stix

// Helpers of the rules: JSON pointers, property values, and the sets of
// object types the specification defines.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
	if !IsUUID(u) {
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
