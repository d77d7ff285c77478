package stix

// Reading a schema's JSON (following $ref) to learn what gojsonschema does
// not report: property names, dictionaries, descriptions, alternatives.

import (
	"reflect"
	"strings"
)

// schemaWalker reads a schema's JSON, following $ref, to fill a schemaInfo.
type schemaWalker struct {
	info *schemaInfo
	docs map[string]map[string]any
	seen map[schemaWalkKey]bool
}

type schemaWalkKey struct {
	node uintptr
	path string
}

// walk visits node, the schema of the values at path; doc names the document
// node belongs to ("" for the schema being compiled).
func (w *schemaWalker) walk(node any, path, doc string, depth int) {
	m, ok := node.(map[string]any)
	if !ok || depth > 40 {
		return
	}
	k := schemaWalkKey{reflect.ValueOf(m).Pointer(), path}
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	info := w.info
	info.paths[path] = true
	if d, ok := m["description"].(string); ok {
		if _, dup := info.descr[path]; !dup {
			info.descr[path] = d
		}
	}
	if kind, ok := m["x-stix-keys"].(string); ok {
		info.keys = append(info.keys, schemaKeyCheck{path: schemaSplitPath(path), kind: kind})
	}
	if v, ok := m["x-stix-vocab"].(string); ok {
		info.vocabs = append(info.vocabs, schemaVocabUse{path: path, vocab: v})
	}
	if ref, ok := m["$ref"].(string); ok {
		file, ptr, _ := strings.Cut(ref, "#")
		if file == "" {
			file = doc
		}
		if file == "common.json" && strings.HasSuffix(ptr, "/sco_common") && path == "" {
			info.sco = true
		}
		if target := w.resolve(file, ptr); target != nil {
			w.walk(target, path, file, depth+1)
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		set := info.props[path]
		if set == nil {
			set = map[string]bool{}
			info.props[path] = set
		}
		for name, sub := range props {
			set[name] = true
			if path == "" {
				info.known[name] = true
			}
			w.walk(sub, path+"/"+schemaEscape(name), doc, depth+1)
		}
	}
	if items, ok := m["items"]; ok {
		if list, ok := items.([]any); ok {
			for _, it := range list {
				w.walk(it, path+"/*", doc, depth+1)
			}
		} else {
			w.walk(items, path+"/*", doc, depth+1)
		}
	}
	if ap, ok := m["additionalProperties"].(map[string]any); ok {
		w.walk(ap, path+"/*", doc, depth+1)
	}
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		list, ok := m[kw].([]any)
		if !ok {
			continue
		}
		alts := make([][]string, 0, len(list))
		for _, sub := range list {
			w.walk(sub, path, doc, depth+1)
			if req := schemaRequiredOnly(sub); req != nil {
				alts = append(alts, req)
			}
		}
		if len(alts) == len(list) {
			switch kw {
			case "anyOf":
				info.anyOf[path] = alts
			case "oneOf":
				info.oneOf[path] = alts
			}
		}
	}
	if not, ok := m["not"]; ok {
		if req := schemaRequiredOnly(not); req != nil {
			// The description explains the "not" only in a subschema that
			// does nothing else (an if/then branch, say), not in an object's.
			d, _ := m["description"].(string)
			if _, props := m["properties"]; props {
				d = ""
			}
			info.not[path] = append(info.not[path], schemaNotSpec{required: req, descr: d})
		}
		w.walk(not, path, doc, depth+1)
	}
	for _, kw := range []string{"if", "then", "else"} {
		if sub, ok := m[kw]; ok {
			w.walk(sub, path, doc, depth+1)
		}
	}
	if deps, ok := m["dependencies"].(map[string]any); ok {
		for name, d := range deps {
			switch d := d.(type) {
			case []any:
				if info.deps[path] == nil {
					info.deps[path] = map[string][]string{}
				}
				for _, x := range d {
					if s, ok := x.(string); ok {
						info.deps[path][name] = append(info.deps[path][name], s)
					}
				}
			default:
				w.walk(d, path, doc, depth+1)
			}
		}
	}
}

// resolve returns the node a $ref points to, or nil.
func (w *schemaWalker) resolve(file, ptr string) any {
	doc, ok := w.docs[file]
	if !ok {
		return nil
	}
	var node any = doc
	for _, seg := range schemaSplitPath(ptr) {
		m, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = m[seg]
	}
	return node
}

// schemaRequiredOnly returns the list of a {"required": [...]} schema, or nil when
// the schema says more than that.
func schemaRequiredOnly(node any) []string {
	m, ok := node.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	list, ok := m["required"].([]any)
	if !ok || len(list) == 0 {
		return nil
	}
	for k := range m {
		if k != "required" && k != "description" {
			return nil
		}
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

// schemaSplitPath splits a JSON pointer into unescaped segments.
func schemaSplitPath(p string) []string {
	if p == "" || p == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = schemaUnescape(s)
	}
	return parts
}

func schemaEscape(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func schemaUnescape(s string) string {
	if !strings.Contains(s, "~") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}
