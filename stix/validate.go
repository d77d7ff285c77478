// Package stix is taxiid's STIX 2.1 model: object identity and versions,
// timestamps, and the validation every pushed object passes before it is
// stored.
package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Identity is what the server needs to know about an object to store it.
type Identity struct {
	ID          string
	Type        string
	SpecVersion string
	// Version is modified, else created; zero when the object has neither
	// (cyber-observables).
	Version time.Time
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

// Validator checks STIX objects. It is safe for concurrent use.
type Validator struct{}

// NewValidator returns a validator.
func NewValidator() *Validator { return &Validator{} }

// scoTypes are the STIX 2.1 cyber-observable types (section 6). They matter
// here because an SCO without spec_version is 2.1, any other object without
// it is 2.0 (STIX 2.1 section 3.2, spec_version).
var scoTypes = map[string]bool{
	"artifact": true, "autonomous-system": true, "directory": true, "domain-name": true,
	"email-addr": true, "email-message": true, "file": true, "ipv4-addr": true,
	"ipv6-addr": true, "mac-addr": true, "mutex": true, "network-traffic": true,
	"process": true, "software": true, "url": true, "user-account": true,
	"windows-registry-key": true, "x509-certificate": true,
}

// Validate checks one object, given as JSON, and returns its identity. The
// error, when not nil, is a *ValidationError listing every finding; the
// identity then holds what could be read (ID and Version, for reporting).
func (v *Validator) Validate(raw []byte) (Identity, error) {
	var id Identity
	var fs []Finding
	add := func(ptr, rule, format string, args ...any) {
		fs = append(fs, Finding{Pointer: ptr, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}

	var top struct {
		Type        json.RawMessage `json:"type"`
		ID          json.RawMessage `json:"id"`
		SpecVersion json.RawMessage `json:"spec_version"`
		Created     json.RawMessage `json:"created"`
		Modified    json.RawMessage `json:"modified"`
	}
	if b := bytes.TrimLeft(raw, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		add("", "object", "not a JSON object")
		return id, &ValidationError{fs}
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		add("", "object", "not a valid JSON object: %v", err)
		return id, &ValidationError{fs}
	}

	typ, ok := str(top.Type)
	switch {
	case top.Type == nil:
		add("/type", "required", "required property missing")
	case !ok:
		add("/type", "type-string", "must be a string")
	default:
		id.Type = typ
		if err := checkTypeName(typ); err != nil {
			add("/type", "type-name", "%q %v", typ, err)
		}
	}

	sid, ok := str(top.ID)
	switch {
	case top.ID == nil:
		add("/id", "required", "required property missing")
	case !ok:
		add("/id", "id-string", "must be a string")
	default:
		id.ID = sid
		prefix, uuid, found := strings.Cut(sid, "--")
		switch {
		case !found || !isUUID(uuid):
			add("/id", "id-format", "%q is not of the form <type>--<UUID>", sid)
		case id.Type != "" && prefix != id.Type:
			add("/id", "id-type", "%q does not start with the object's type %q", sid, id.Type)
		}
	}

	switch sv, ok := str(top.SpecVersion); {
	case top.SpecVersion == nil:
		// STIX 2.1 section 3.2: absent means 2.0, except for SCOs, which
		// became top-level objects in 2.1.
		if scoTypes[id.Type] {
			id.SpecVersion = "2.1"
		} else {
			id.SpecVersion = "2.0"
		}
	case !ok || !isSpecVersion(sv):
		add("/spec_version", "spec-version", "%s is not a STIX version such as \"2.1\"", top.SpecVersion)
	default:
		id.SpecVersion = sv
	}

	created := timestamp(top.Created, "/created", add)
	modified := timestamp(top.Modified, "/modified", add)
	switch {
	case !modified.IsZero():
		id.Version = modified
	case !created.IsZero():
		id.Version = created
	}

	if len(fs) > 0 {
		return id, &ValidationError{fs}
	}
	return id, nil
}

// timestamp parses an optional timestamp property, reporting problems.
func timestamp(raw json.RawMessage, ptr string, add func(ptr, rule, format string, args ...any)) time.Time {
	if raw == nil {
		return time.Time{}
	}
	s, ok := str(raw)
	if !ok {
		add(ptr, "timestamp", "must be a timestamp string")
		return time.Time{}
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		add(ptr, "timestamp", "%v", err)
		return time.Time{}
	}
	return t
}

// str decodes a JSON string.
func str(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
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

// isUUID reports whether s is a UUID in canonical lowercase-or-uppercase
// 8-4-4-4-12 hex form.
func isUUID(s string) bool {
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

// isSpecVersion reports whether s looks like "2.1": digits, a dot, digits.
func isSpecVersion(s string) bool {
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
