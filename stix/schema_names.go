package stix

// The naming rules the schemas leave to Go: custom property names, reserved
// names, hash and dictionary keys, extension keys.

import (
	"fmt"
	"strconv"
	"strings"
)

// checkNames applies the naming rules the schemas leave to Go: custom
// property names (sections 3.1, 11.1.1, 7.3.2), reserved names (3.8), hashes
// and dictionary keys (2.7, 2.3) and extension keys (3.2, 7.3, 11.3).
func (s *schemaSet) checkNames(c *schemaCollector, cs *compiledSchema, typ string, obj map[string]any) {
	var info *schemaInfo
	if cs != nil {
		info = cs.info
	}
	for k := range obj {
		if schemaCommonProperties[k] || info != nil && info.known[k] {
			continue
		}
		switch {
		case schemaReservedProperties[k]:
			c.add("/"+schemaEscape(k), "reserved-property", fmt.Sprintf("%q is a reserved property name and must not be used", k))
		case !schemaValidPropertyName(k):
			c.add("/"+schemaEscape(k), "property-name", fmt.Sprintf("custom property name %q must be 3 to 250 characters of a-z, 0-9 and _, starting with a letter", k))
		}
	}
	if exts, ok := obj["extensions"].(map[string]any); ok {
		sco := (info != nil && info.sco) || (info == nil && scoTypes[typ])
		for key, content := range exts {
			s.checkExtension(c, info, typ, sco, key, content)
		}
	}
	if info == nil {
		return
	}
	for _, kc := range info.keys {
		if kc.kind == "extensions" {
			continue
		}
		schemaEachAt(obj, kc.path, "", func(ptr string, m map[string]any) {
			for k := range m {
				switch kc.kind {
				case "hashes":
					if !schemaValidKey(k, 3) {
						c.add(ptr+"/"+schemaEscape(k), "hashes-key", fmt.Sprintf("hash algorithm name %q must be 3 to 250 characters of a-z, A-Z, 0-9, - and _", k))
					}
				default:
					if !schemaValidKey(k, 1) {
						c.add(ptr+"/"+schemaEscape(k), "dictionary-key", fmt.Sprintf("dictionary key %q must be 1 to 250 characters of a-z, A-Z, 0-9, - and _", k))
					}
				}
			}
		})
	}
}

// checkExtension checks one key of the extensions dictionary and the names of
// the custom properties in its content.
func (s *schemaSet) checkExtension(c *schemaCollector, info *schemaInfo, typ string, sco bool, key string, content any) {
	ptr := "/extensions/" + schemaEscape(key)
	m, _ := content.(map[string]any)
	var defined map[string]bool
	switch {
	case strings.HasPrefix(key, "extension-definition--"):
		if !IsUUID(strings.TrimPrefix(key, "extension-definition--")) {
			c.add(ptr, "extension-key", fmt.Sprintf("%q is not an extension-definition identifier", key))
			return
		}
		if m != nil {
			if _, ok := m["extension_type"]; !ok {
				c.add(ptr+"/extension_type", "extension-type", "required property missing: extensions defined by an extension-definition must give their extension_type")
			}
		}
		defined = map[string]bool{"extension_type": true}
		if es := s.exts[key]; es != nil {
			defined = es.info.known
		}
	case info != nil && info.props["/extensions"][key]:
		defined = info.props["/extensions/"+schemaEscape(key)]
	case s.predefinedExts[key]:
		c.add(ptr, "extension-key", fmt.Sprintf("%q is a predefined extension of other object types, not of %s", key, typ))
		return
	case (sco || info == nil) && schemaValidCustomExtName(key):
		// Deprecated custom extension of an SCO (section 11.3); an object
		// without a schema may be a custom SCO.
	default:
		what := "a predefined extension of " + typ
		if info == nil || len(info.props["/extensions"]) == 0 {
			what = "a predefined extension name"
		}
		c.add(ptr, "extension-key", fmt.Sprintf("%q is neither the id of an extension-definition nor %s", key, what))
		return
	}
	for k := range m {
		if defined[k] || k == "extension_type" {
			continue
		}
		if !schemaValidPropertyName(k) {
			c.add(ptr+"/"+schemaEscape(k), "property-name", fmt.Sprintf("extension property name %q must be 3 to 250 characters of a-z, 0-9 and _, starting with a letter", k))
		}
	}
}

// schemaEachAt calls fn with every object found at path (segments, "*" for any list
// index or dictionary key) in v.
func schemaEachAt(v any, path []string, ptr string, fn func(ptr string, m map[string]any)) {
	if len(path) == 0 {
		if m, ok := v.(map[string]any); ok {
			fn(ptr, m)
		}
		return
	}
	seg, rest := path[0], path[1:]
	switch v := v.(type) {
	case map[string]any:
		if seg == "*" {
			for k, x := range v {
				schemaEachAt(x, rest, ptr+"/"+schemaEscape(k), fn)
			}
		} else if x, ok := v[seg]; ok {
			schemaEachAt(x, rest, ptr+"/"+schemaEscape(seg), fn)
		}
	case []any:
		if seg == "*" {
			for i, x := range v {
				schemaEachAt(x, rest, ptr+"/"+strconv.Itoa(i), fn)
			}
		}
	}
}

// schemaValidPropertyName: 3 to 250 of a-z, 0-9 and _, starting with a letter
// (sections 3.1 and 11.1.1).
func schemaValidPropertyName(s string) bool {
	if len(s) < 3 || len(s) > 250 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// schemaValidKey: min to 250 of a-z, A-Z, 0-9, - and _ (sections 2.3 and 2.7).
func schemaValidKey(s string, min int) bool {
	if len(s) < min || len(s) > 250 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// schemaValidCustomExtName: a deprecated custom SCO extension name, 3 to 250
// of a-z, 0-9 and -, ending in -ext (section 11.3.1).
func schemaValidCustomExtName(s string) bool {
	if len(s) < 3 || len(s) > 250 || !strings.HasSuffix(s, "-ext") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
