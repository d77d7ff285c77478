package stix

// Messages of schema findings: what a failed pattern, alternative,
// dependency or range means for the value at hand.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// mustDescr returns the description at path when it states a requirement
// ("must ..."), else "".
func (info *schemaInfo) mustDescr(path string) string {
	if d := info.descr[path]; strings.HasPrefix(d, "must ") {
		return d
	}
	return ""
}

func schemaDescribe(info *schemaInfo, path, fallback string) string {
	if d := info.mustDescr(path); d != "" {
		return d
	}
	return fallback
}

// patternMessage explains why a string does not match a schema pattern.
func (s *schemaSet) patternMessage(info *schemaInfo, pat any, val any, ptr, path, typ string) string {
	p := fmt.Sprint(pat)
	str, _ := val.(string)
	q := schemaRender(val)
	if k, ok := s.patterns[p]; ok {
		if n := fractionDigits(str); n > maxFractionDigits && strings.HasPrefix(k.kind, "timestamp") {
			return q + " " + tooPreciseMessage(n)
		}
		switch k.kind {
		case "timestamp_millis":
			if s.tsRE.MatchString(str) {
				return q + " lacks millisecond precision"
			}
			return q + " is not an RFC 3339 timestamp in UTC (YYYY-MM-DDTHH:mm:ss[.s+]Z)"
		case "timestamp_seconds":
			if s.tsRE.MatchString(str) {
				return q + " must be precise to the second, without fractional seconds"
			}
			return q + " is not an RFC 3339 timestamp in UTC (YYYY-MM-DDTHH:mm:ssZ)"
		case "timestamp":
			return q + " is not an RFC 3339 timestamp in UTC (YYYY-MM-DDTHH:mm:ss[.s+]Z)"
		case "identifier":
			return s.identifierMessage(q, str)
		}
		if strings.HasPrefix(k.descr, "must ") {
			return q + " " + k.descr
		}
	}
	if ptr == "/type" && typ != "" {
		return fmt.Sprintf("%s must be %q", q, typ)
	}
	if types, ok := s.refTypes(p); ok {
		if !s.idRE.MatchString(str) {
			return s.identifierMessage(q, str)
		}
		if ptr == "/id" {
			return fmt.Sprintf("%s does not start with the object's type %q", q, typ)
		}
		if len(types) == 1 {
			return fmt.Sprintf("%s must reference an object of type %s", q, types[0])
		}
		return fmt.Sprintf("%s must reference an object of type %s", q, strings.Join(types, ", ")) // one of
	}
	if strings.HasSuffix(p, s.uuidSuffix) && !s.idRE.MatchString(str) {
		return s.identifierMessage(q, str)
	}
	if d := info.mustDescr(path); d != "" {
		return q + " " + strings.TrimSuffix(strings.SplitN(d, "; ", 2)[0], ".")
	}
	return fmt.Sprintf("%s does not match the pattern %s", q, p)
}

func (s *schemaSet) identifierMessage(q, str string) string {
	if t, u, ok := strings.Cut(str, "--"); ok && checkTypeName(t) == nil {
		if !IsUUID(u) {
			return q + " is not of the form <type>--<UUID>: " + strconv.Quote(u) + " is not a UUID"
		}
		return q + " does not end in an RFC 4122 UUID (version 1 to 5, variant bits 10)"
	}
	return q + " is not an identifier of the form <type>--<UUID>"
}

// refTypes recognises a pattern of the form ^(type1|type2)--<UUID>$ and
// returns its types.
func (s *schemaSet) refTypes(p string) ([]string, bool) {
	if s.uuidSuffix == "" || !strings.HasPrefix(p, "^(") || !strings.HasSuffix(p, ")"+s.uuidSuffix) {
		return nil, false
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(p, "^("), ")"+s.uuidSuffix)
	types := strings.Split(inner, "|")
	for _, t := range types {
		if checkTypeName(t) != nil {
			return nil, false
		}
	}
	return types, true
}

func (s *schemaSet) notMessage(info *schemaInfo, path string, val any) string {
	m, _ := val.(map[string]any)
	for _, n := range info.not[path] {
		all := m != nil
		for _, p := range n.required {
			if _, ok := m[p]; !ok {
				all = false
				break
			}
		}
		if !all {
			continue
		}
		if n.descr != "" {
			return n.descr
		}
		if len(n.required) == 1 {
			return n.required[0] + " must not be present"
		}
		return strings.Join(n.required, " and ") + " must not all be present"
	}
	if d := info.mustDescr(path); d != "" {
		return schemaRender(val) + " " + d
	}
	return schemaRender(val) + " matches a schema it must not match"
}

func schemaDependencyMessage(info *schemaInfo, path, dep string, val any) string {
	m, _ := val.(map[string]any)
	var by []string
	for k, list := range info.deps[path] {
		if _, present := m[k]; !present {
			continue
		}
		for _, d := range list {
			if d == dep {
				by = append(by, k)
			}
		}
	}
	if len(by) == 0 {
		return "required property missing"
	}
	sort.Strings(by)
	return "required when " + strings.Join(by, " or ") + " is present"
}

func schemaRangeMessage(info *schemaInfo, path string, val any, what string, bound any) string {
	if d := info.mustDescr(path); d != "" {
		return schemaRender(val) + " is out of range: " + d
	}
	return fmt.Sprintf("%s is %s %v", schemaRender(val), what, bound)
}

// schemaAltList renders anyOf/oneOf alternatives: "a, b or (c and d)".
func schemaAltList(alts [][]string) string {
	parts := make([]string, len(alts))
	for i, a := range alts {
		if len(a) == 1 {
			parts[i] = a[0]
		} else {
			parts[i] = "(" + strings.Join(a, " and ") + ")"
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// schemaSatisfied counts the alternatives whose properties are all in val.
func schemaSatisfied(alts [][]string, val any) int {
	m, _ := val.(map[string]any)
	n := 0
	for _, a := range alts {
		ok := true
		for _, p := range a {
			if _, present := m[p]; !present {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// schemaRender shows a value in a message: strings quoted (and shortened), other
// scalars as JSON, objects and lists by kind.
func schemaRender(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 80 {
			v = v[:77] + "..."
		}
		return strconv.Quote(v)
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "list"
	default:
		return fmt.Sprint(v)
	}
}
