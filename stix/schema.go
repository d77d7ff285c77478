package stix

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/xeipuuv/gojsonschema"
)

// The JSON schemas of every STIX 2.1 type, written from the specification
// (OASIS STIX 2.1 with Errata 01): one <type>.json per type, shared
// definitions in common.json, and the open vocabularies in vocab/.
//
//go:embed schemas
var embeddedSchemas embed.FS

// schemaBaseURI is the base URI the schemas are compiled under; it is never
// fetched. Schemas must not set their own $id.
const schemaBaseURI = "https://schemas.taxiid.invalid/stix/"

// schemaMaxFindings caps the findings reported for one object.
const schemaMaxFindings = 50

// schemaSet holds the compiled schemas, keyed by STIX type and by
// extension-definition id. It is safe for concurrent use once loaded.
type schemaSet struct {
	types map[string]*compiledSchema
	// exts validate the content of extensions["extension-definition--<uuid>"].
	exts map[string]*compiledSchema
	// vocabs are the open vocabularies: name → suggested values.
	vocabs map[string]map[string]bool
	// patterns maps the regular expressions of common.json to the kind of
	// value they check, for precise messages.
	patterns map[string]schemaPatternKind
	// tsRE matches any STIX timestamp (common.json#/definitions/timestamp).
	tsRE *regexp.Regexp
	// idRE matches any identifier (common.json#/definitions/identifier).
	idRE *regexp.Regexp
	// predefinedExts are the names of the predefined extensions of all
	// types.
	predefinedExts map[string]bool
	// uuidSuffix is the UUID part of the identifier pattern, "--" to "$",
	// which recognises type-restricted reference patterns.
	uuidSuffix string
	// commonSDO and commonSCO check only the common properties (section
	// 3.2) of SDOs, SROs and meta objects, and of SCOs: the permissive
	// level.
	commonSDO, commonSCO *compiledSchema
}

// compiledSchema is one compiled schema and what the engine learnt from its
// JSON at load time.
type compiledSchema struct {
	name   string
	schema *gojsonschema.Schema
	info   *schemaInfo
}

// schemaInfo is what the schema's JSON says beyond what gojsonschema reports:
// property names, where dictionaries are, and the human meaning of anyOf,
// oneOf, not and dependencies. Paths are JSON pointers in which "*" stands for
// any list index or dictionary key; the root is "".
type schemaInfo struct {
	// known are the top-level property names the schema defines.
	known map[string]bool
	// props are the property names defined at each path.
	props map[string]map[string]bool
	// sco tells the schema is built on common.json's sco_common.
	sco bool
	// keys are the dictionaries whose keys the engine checks.
	keys []schemaKeyCheck
	// descr is the first "description" met at each path.
	descr map[string]string
	// anyOf, oneOf: alternatives made only of "required" lists.
	anyOf map[string][][]string
	oneOf map[string][][]string
	// not: "not": {"required": [...]} lists, with their description.
	not map[string][]schemaNotSpec
	// deps: "dependencies" property lists: path → property → required.
	deps map[string]map[string][]string
	// vocabs: which open vocabulary each property uses (x-stix-vocab).
	vocabs []schemaVocabUse
	// paths are all the paths the schema describes.
	paths map[string]bool
}

type schemaKeyCheck struct {
	path []string
	kind string // "hashes", "dictionary" or "extensions"
}

type schemaNotSpec struct {
	required []string
	descr    string
}

// schemaVocabUse says that the value at path (a JSON pointer with "*" for any
// list index), a string or a list of strings, SHOULD come from the open
// vocabulary vocab.
type schemaVocabUse struct {
	path  string
	vocab string
}

type schemaPatternKind struct {
	kind  string // a common.json definition name
	descr string
}

// schemaReservedProperties may not be used by any STIX object (section 3.8; the
// course-of-action action property is RESERVED too).
var schemaReservedProperties = map[string]bool{
	"severity": true, "username": true, "phone_number": true, "action": true,
}

// schemaQuietLocale gives gojsonschema empty descriptions for validation errors:
// the engine writes its own messages, and gojsonschema renders a text/template
// for every error, including the many it creates and discards while trying
// anyOf, oneOf, not and if alternatives of valid objects. Schema compilation
// messages keep their default text.
type schemaQuietLocale struct{ gojsonschema.DefaultLocale }

func (schemaQuietLocale) False() string                        { return "" }
func (schemaQuietLocale) Required() string                     { return "" }
func (schemaQuietLocale) InvalidType() string                  { return "" }
func (schemaQuietLocale) NumberAnyOf() string                  { return "" }
func (schemaQuietLocale) NumberOneOf() string                  { return "" }
func (schemaQuietLocale) NumberAllOf() string                  { return "" }
func (schemaQuietLocale) NumberNot() string                    { return "" }
func (schemaQuietLocale) MissingDependency() string            { return "" }
func (schemaQuietLocale) Internal() string                     { return "" }
func (schemaQuietLocale) Const() string                        { return "" }
func (schemaQuietLocale) Enum() string                         { return "" }
func (schemaQuietLocale) ArrayNoAdditionalItems() string       { return "" }
func (schemaQuietLocale) ArrayMinItems() string                { return "" }
func (schemaQuietLocale) ArrayMaxItems() string                { return "" }
func (schemaQuietLocale) Unique() string                       { return "" }
func (schemaQuietLocale) ArrayContains() string                { return "" }
func (schemaQuietLocale) ArrayMinProperties() string           { return "" }
func (schemaQuietLocale) ArrayMaxProperties() string           { return "" }
func (schemaQuietLocale) AdditionalPropertyNotAllowed() string { return "" }
func (schemaQuietLocale) InvalidPropertyPattern() string       { return "" }
func (schemaQuietLocale) InvalidPropertyName() string          { return "" }
func (schemaQuietLocale) StringGTE() string                    { return "" }
func (schemaQuietLocale) StringLTE() string                    { return "" }
func (schemaQuietLocale) DoesNotMatchPattern() string          { return "" }
func (schemaQuietLocale) DoesNotMatchFormat() string           { return "" }
func (schemaQuietLocale) MultipleOf() string                   { return "" }
func (schemaQuietLocale) NumberGTE() string                    { return "" }
func (schemaQuietLocale) NumberGT() string                     { return "" }
func (schemaQuietLocale) NumberLTE() string                    { return "" }
func (schemaQuietLocale) NumberLT() string                     { return "" }
func (schemaQuietLocale) ConditionThen() string                { return "" }
func (schemaQuietLocale) ConditionElse() string                { return "" }

var schemaQuietOnce sync.Once

// schemaCommonProperties are the common property names (section 3.2), exempt from
// the custom property naming rule on objects without a schema (custom objects
// must support them, section 11.2.1).
var schemaCommonProperties = map[string]bool{
	"type": true, "spec_version": true, "id": true, "created_by_ref": true, "created": true,
	"modified": true, "revoked": true, "labels": true, "confidence": true, "lang": true,
	"external_references": true, "object_marking_refs": true, "granular_markings": true,
	"defanged": true, "extensions": true,
}

// loadSchemas compiles the embedded schemas (go:embed schemas) once, then adds
// or overrides them with the *.json files of userDir if not empty: a file
// named `<type>.json` validates that type; a file named
// `extension-definition--<uuid>.json` validates the content of that
// extension (the value of extensions["extension-definition--<uuid>"]). A
// common.json in userDir replaces the embedded shared definitions; schemas
// may $ref "common.json#/definitions/..." and their own "#/..." only.
func loadSchemas(userDir string) (*schemaSet, error) {
	schemaQuietOnce.Do(func() { gojsonschema.Locale = schemaQuietLocale{} })
	files := map[string][]byte{}
	entries, err := fs.ReadDir(embeddedSchemas, "schemas")
	if err != nil {
		return nil, fmt.Errorf("embedded schemas: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := embeddedSchemas.ReadFile("schemas/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("embedded schema %s: %w", e.Name(), err)
		}
		files[e.Name()] = b
	}
	if userDir != "" {
		names, err := filepath.Glob(filepath.Join(userDir, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("schema directory %s: %w", userDir, err)
		}
		if names == nil {
			if _, err := os.Stat(userDir); err != nil {
				return nil, fmt.Errorf("schema directory: %w", err)
			}
		}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, fmt.Errorf("schema %s: %w", n, err)
			}
			files[filepath.Base(n)] = b
		}
	}

	s := &schemaSet{
		types:    map[string]*compiledSchema{},
		exts:     map[string]*compiledSchema{},
		vocabs:   map[string]map[string]bool{},
		patterns: map[string]schemaPatternKind{},

		predefinedExts: map[string]bool{},
	}
	common, ok := files["common.json"]
	if !ok {
		return nil, fmt.Errorf("schemas: common.json missing")
	}
	commonDoc, err := decodeSchemaJSON(common)
	if err != nil {
		return nil, fmt.Errorf("schema common.json: %w", err)
	}
	if err := s.learnCommon(commonDoc); err != nil {
		return nil, err
	}
	if err := s.loadVocabs(); err != nil {
		return nil, err
	}

	for _, c := range []struct {
		dst  **compiledSchema
		name string
	}{{&s.commonSDO, "sdo_sro_common"}, {&s.commonSCO, "sco_common"}} {
		doc := `{"allOf":[{"$ref":"common.json#/definitions/` + c.name + `"}]}`
		if *c.dst, err = compileSchema(c.name+".json", []byte(doc), common, commonDoc); err != nil {
			return nil, err
		}
	}

	names := make([]string, 0, len(files))
	for n := range files {
		if n != "common.json" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		key := strings.TrimSuffix(n, ".json")
		isExt := strings.HasPrefix(key, "extension-definition--")
		switch {
		case isExt && !isUUID(strings.TrimPrefix(key, "extension-definition--")):
			return nil, fmt.Errorf("schema %s: not named extension-definition--<UUID>.json", n)
		case !isExt && checkTypeName(key) != nil:
			return nil, fmt.Errorf("schema %s: %q is not a STIX type name: %v", n, key, checkTypeName(key))
		}
		cs, err := compileSchema(n, files[n], common, commonDoc)
		if err != nil {
			return nil, err
		}
		if isExt {
			s.exts[key] = cs
		} else {
			s.types[key] = cs
			for name := range cs.info.props["/extensions"] {
				s.predefinedExts[name] = true
			}
		}
	}
	return s, nil
}

// decodeSchemaJSON decodes a schema document with json.Number numbers, as
// gojsonschema wants them.
func decodeSchemaJSON(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// compileSchema compiles one schema against common.json.
func compileSchema(name string, b, common []byte, commonDoc map[string]any) (*compiledSchema, error) {
	doc, err := decodeSchemaJSON(b)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	// Each schema gets a loader of its own, where it and common.json live
	// under one base URI, so that "common.json#/..." resolves.
	sl := gojsonschema.NewSchemaLoader()
	sl.Draft = gojsonschema.Draft7
	if err := sl.AddSchema(schemaBaseURI+"common.json", gojsonschema.NewBytesLoader(common)); err != nil {
		return nil, fmt.Errorf("schema common.json: %w", err)
	}
	if err := sl.AddSchema(schemaBaseURI+name, gojsonschema.NewBytesLoader(b)); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	schema, err := sl.Compile(gojsonschema.NewReferenceLoader(schemaBaseURI + name))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	w := &schemaWalker{
		info: &schemaInfo{
			known: map[string]bool{}, props: map[string]map[string]bool{},
			descr: map[string]string{}, anyOf: map[string][][]string{}, oneOf: map[string][][]string{},
			not: map[string][]schemaNotSpec{}, deps: map[string]map[string][]string{}, paths: map[string]bool{"": true},
		},
		docs: map[string]map[string]any{"": doc, "common.json": commonDoc},
		seen: map[schemaWalkKey]bool{},
	}
	w.walk(doc, "", "", 0)
	return &compiledSchema{name: strings.TrimSuffix(name, ".json"), schema: schema, info: w.info}, nil
}

// learnCommon reads the patterns of common.json to recognise them in errors.
func (s *schemaSet) learnCommon(doc map[string]any) error {
	defs, _ := doc["definitions"].(map[string]any)
	for name, d := range defs {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		p, ok := m["pattern"].(string)
		if !ok {
			continue
		}
		descr, _ := m["description"].(string)
		s.patterns[p] = schemaPatternKind{kind: name, descr: descr}
		re, err := regexp.Compile(p)
		if err != nil {
			return fmt.Errorf("schema common.json: definition %s: %w", name, err)
		}
		switch name {
		case "timestamp":
			s.tsRE = re
		case "identifier":
			s.idRE = re
			if i := strings.LastIndex(p, "--"); i >= 0 {
				s.uuidSuffix = p[i:]
			}
		}
	}
	if s.tsRE == nil || s.idRE == nil {
		return fmt.Errorf("schema common.json: the timestamp and identifier definitions must have a pattern")
	}
	return nil
}

func (s *schemaSet) loadVocabs() error {
	b, err := embeddedSchemas.ReadFile("schemas/vocab/open-vocabularies.json")
	if err != nil {
		return fmt.Errorf("open vocabularies: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("open vocabularies: %w", err)
	}
	for name, r := range raw {
		if strings.HasPrefix(name, "$") {
			continue
		}
		var values []string
		if err := json.Unmarshal(r, &values); err != nil {
			return fmt.Errorf("open vocabulary %s: %w", name, err)
		}
		set := make(map[string]bool, len(values))
		for _, v := range values {
			set[v] = true
		}
		s.vocabs[name] = set
	}
	return nil
}

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

// knownProperties returns the property names the type's schema defines (for
// strict mode: unknown properties are findings there); computed once at load
// time from the schemas. The map is shared: do not modify it. It is nil when
// the type has no schema.
func (s *schemaSet) knownProperties(typ string) map[string]bool {
	if cs := s.types[typ]; cs != nil {
		return cs.info.known
	}
	return nil
}

// check validates one decoded object against the schema of its type (and of
// any extension with a schema) and returns its findings. known reports whether
// the type has a schema. Objects without a schema still get the property
// name and extension checks.
func (s *schemaSet) check(typ string, obj map[string]any) (findings []Finding, known bool) {
	cs := s.types[typ]
	c := &schemaCollector{}
	doc := obj
	if cs != nil || len(s.exts) > 0 {
		var err error
		if doc, err = schemaJSONNumbers(obj); err != nil {
			c.add("", "object", "not a JSON object: "+err.Error())
			return c.out, cs != nil
		}
	}
	if cs != nil {
		s.validate(c, cs, typ, doc, "")
	}
	s.checkNames(c, cs, typ, obj)
	if exts, ok := doc["extensions"].(map[string]any); ok && len(s.exts) > 0 {
		for key, content := range exts {
			es := s.exts[key]
			if es == nil {
				continue
			}
			if m, ok := content.(map[string]any); ok {
				s.validate(c, es, typ, m, "/extensions/"+schemaEscape(key))
			} else {
				c.add("/extensions/"+schemaEscape(key), "schema-type", schemaRender(content)+" must be of type object")
			}
		}
	}
	if b, _ := obj["defanged"].(bool); b {
		// Defanged values (e.g. "198.51.100[.]3") need not keep their format.
		kept := c.out[:0]
		for _, f := range c.out {
			if f.Rule != "schema-pattern" || f.Pointer != "/value" {
				kept = append(kept, f)
			}
		}
		c.out = kept
	}
	sort.SliceStable(c.out, func(i, j int) bool { return c.out[i].Pointer < c.out[j].Pointer })
	if c.dropped > 0 || len(c.out) > schemaMaxFindings {
		n := c.dropped + len(c.out) - schemaMaxFindings
		if len(c.out) > schemaMaxFindings {
			c.out = c.out[:schemaMaxFindings]
		}
		c.out = append(c.out, Finding{Rule: "findings-capped", Message: fmt.Sprintf("%d more findings not reported", n)})
	}
	return c.out, cs != nil
}

// checkCommon validates only the common properties of an object (section
// 3.2), whatever its type.
func (s *schemaSet) checkCommon(typ string, obj map[string]any) []Finding {
	cs := s.commonSDO
	switch {
	case scoTypes[typ]:
		cs = s.commonSCO
	case typ == "marking-definition" && s.types[typ] != nil:
		// Section 3.2 gives marking definitions their own, shorter list
		// of common properties (no modified, for one); their schema is
		// little more than that list.
		cs = s.types[typ]
	}
	doc, err := schemaJSONNumbers(obj)
	if err != nil {
		return []Finding{{Rule: "object", Message: "not a JSON object: " + err.Error()}}
	}
	c := &schemaCollector{}
	s.validate(c, cs, typ, doc, "")
	return c.out
}

// schemaCollector gathers findings up to a limit.
type schemaCollector struct {
	out     []Finding
	dropped int
}

func (c *schemaCollector) add(ptr, rule, msg string) {
	if len(c.out) >= schemaMaxFindings+1 {
		c.dropped++
		return
	}
	c.out = append(c.out, Finding{Pointer: ptr, Rule: rule, Message: msg})
}

// validate runs one compiled schema over doc and turns its errors into
// findings whose pointers start with prefix.
func (s *schemaSet) validate(c *schemaCollector, cs *compiledSchema, typ string, doc map[string]any, prefix string) {
	var res *gojsonschema.Result
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		res, err = cs.schema.Validate(gojsonschema.NewRawLoader(doc))
	}()
	if err != nil {
		c.add(prefix, "schema-internal", "schema "+cs.name+" failed: "+err.Error())
		return
	}
	if res.Valid() {
		return
	}
	errs := res.Errors()
	skip := make([]bool, len(errs))
	for i, e := range errs {
		if skip[i] {
			continue
		}
		segs := schemaContextSegments(e.Context())
		ptr := schemaPointer(segs)
		d := e.Details()
		path := cs.info.normalize(segs, doc)
		val := e.Value()
		switch e.(type) {
		case *gojsonschema.RequiredError:
			p, _ := d["property"].(string)
			c.add(prefix+ptr+"/"+schemaEscape(p), "schema-required", "required property missing")
		case *gojsonschema.InvalidTypeError:
			c.add(prefix+ptr, "schema-type", fmt.Sprintf("%s must be of type %s, not %s", schemaRender(val), d["expected"], d["given"]))
		case *gojsonschema.EnumError:
			if m := cs.info.mustDescr(path); m != "" {
				c.add(prefix+ptr, "schema-enum", schemaRender(val)+" "+m)
			} else {
				c.add(prefix+ptr, "schema-enum", fmt.Sprintf("%s is not one of %s", schemaRender(val), d["allowed"]))
			}
		case *gojsonschema.ConstError:
			if m := cs.info.mustDescr(path); m != "" {
				c.add(prefix+ptr, "schema-const", schemaRender(val)+" "+m)
			} else {
				c.add(prefix+ptr, "schema-const", fmt.Sprintf("%s must be %s", schemaRender(val), d["allowed"]))
			}
		case *gojsonschema.DoesNotMatchPatternError:
			c.add(prefix+ptr, "schema-pattern", s.patternMessage(cs.info, d["pattern"], val, ptr, path, typ))
		case *gojsonschema.ArrayMinItemsError:
			if fmt.Sprint(d["min"]) == "1" {
				c.add(prefix+ptr, "schema-min-items", "list must not be empty")
			} else {
				c.add(prefix+ptr, "schema-min-items", fmt.Sprintf("list must have at least %v items", d["min"]))
			}
		case *gojsonschema.ArrayMaxItemsError:
			c.add(prefix+ptr, "schema-max-items", fmt.Sprintf("list must have at most %v items", d["max"]))
		case *gojsonschema.ItemsMustBeUniqueError:
			c.add(prefix+ptr, "schema-unique-items", fmt.Sprintf("list items %v and %v are equal", d["i"], d["j"]))
		case *gojsonschema.ArrayMinPropertiesError:
			if fmt.Sprint(d["min"]) == "1" {
				c.add(prefix+ptr, "schema-min-properties", "must not be empty")
			} else {
				c.add(prefix+ptr, "schema-min-properties", fmt.Sprintf("must have at least %v properties", d["min"]))
			}
		case *gojsonschema.ArrayMaxPropertiesError:
			c.add(prefix+ptr, "schema-max-properties", fmt.Sprintf("must have at most %v properties", d["max"]))
		case *gojsonschema.AdditionalPropertyNotAllowedError:
			p, _ := d["property"].(string)
			c.add(prefix+ptr+"/"+schemaEscape(p), "schema-additional", fmt.Sprintf("property %q is not allowed here", p))
		case *gojsonschema.FalseError:
			if len(segs) == 1 && prefix == "" {
				c.add(prefix+ptr, "schema-not-allowed", fmt.Sprintf("property %q is not applicable to %s objects", segs[0], typ))
			} else {
				c.add(prefix+ptr, "schema-not-allowed", "property not allowed here")
			}
		case *gojsonschema.NumberAnyOfError:
			if alts, ok := cs.info.anyOf[path]; ok {
				c.add(prefix+ptr, "schema-any-of", "at least one of "+schemaAltList(alts)+" must be present")
				schemaSkipRequired(errs, skip, i, ptr, alts)
			} else {
				c.add(prefix+ptr, "schema-any-of", schemaDescribe(cs.info, path, "does not match any of the allowed alternatives"))
			}
		case *gojsonschema.NumberOneOfError:
			if alts, ok := cs.info.oneOf[path]; ok {
				if schemaSatisfied(alts, val) > 1 {
					c.add(prefix+ptr, "schema-one-of", "only one of "+schemaAltList(alts)+" may be present")
				} else {
					c.add(prefix+ptr, "schema-one-of", "exactly one of "+schemaAltList(alts)+" must be present")
				}
				schemaSkipRequired(errs, skip, i, ptr, alts)
			} else {
				c.add(prefix+ptr, "schema-one-of", schemaDescribe(cs.info, path, "must match exactly one of the allowed alternatives"))
			}
		case *gojsonschema.NumberAllOfError, *gojsonschema.ConditionThenError, *gojsonschema.ConditionElseError:
			// The errors of the failing subschemas follow and say more.
		case *gojsonschema.NumberNotError:
			c.add(prefix+ptr, "schema-not", s.notMessage(cs.info, path, val))
		case *gojsonschema.MissingDependencyError:
			dep, _ := d["dependency"].(string)
			c.add(prefix+ptr+"/"+schemaEscape(dep), "schema-dependency", schemaDependencyMessage(cs.info, path, dep, val))
		case *gojsonschema.StringLengthGTEError:
			if fmt.Sprint(d["min"]) == "1" {
				c.add(prefix+ptr, "schema-min-length", "must not be empty")
			} else {
				c.add(prefix+ptr, "schema-min-length", fmt.Sprintf("%s must be at least %v characters long", schemaRender(val), d["min"]))
			}
		case *gojsonschema.StringLengthLTEError:
			c.add(prefix+ptr, "schema-max-length", fmt.Sprintf("%s must be at most %v characters long", schemaRender(val), d["max"]))
		case *gojsonschema.NumberGTEError, *gojsonschema.NumberGTError:
			c.add(prefix+ptr, "schema-minimum", schemaRangeMessage(cs.info, path, val, "less than the minimum", d["min"]))
		case *gojsonschema.NumberLTEError, *gojsonschema.NumberLTError:
			c.add(prefix+ptr, "schema-maximum", schemaRangeMessage(cs.info, path, val, "more than the maximum", d["max"]))
		case *gojsonschema.ArrayContainsError:
			c.add(prefix+ptr, "schema-contains", schemaDescribe(cs.info, path, "does not contain a required value"))
		case *gojsonschema.MultipleOfError:
			c.add(prefix+ptr, "schema-multiple-of", fmt.Sprintf("%s must be a multiple of %v", schemaRender(val), d["multiple"]))
		case *gojsonschema.ArrayNoAdditionalItemsError:
			c.add(prefix+ptr, "schema-additional-items", "list has more items than allowed")
		case *gojsonschema.InvalidPropertyNameError:
			c.add(prefix+ptr, "schema-property-name", fmt.Sprintf("property name %v is not allowed", d["property"]))
		case *gojsonschema.DoesNotMatchFormatError:
			c.add(prefix+ptr, "schema-format", fmt.Sprintf("%s is not a valid %v", schemaRender(val), d["format"]))
		default:
			c.add(prefix+ptr, "schema-"+strings.ReplaceAll(e.Type(), "_", "-"), schemaRender(val)+" is invalid: "+e.Type())
		}
	}
}

// schemaSkipRequired marks the "required" errors that gojsonschema merged from the
// closest alternative of an anyOf/oneOf at ptr: the alternatives' finding
// already names them.
func schemaSkipRequired(errs []gojsonschema.ResultError, skip []bool, at int, ptr string, alts [][]string) {
	names := map[string]bool{}
	for _, a := range alts {
		for _, n := range a {
			names[n] = true
		}
	}
	for j := at + 1; j < len(errs); j++ {
		if _, ok := errs[j].(*gojsonschema.RequiredError); !ok {
			continue
		}
		p, _ := errs[j].Details()["property"].(string)
		if names[p] && schemaPointer(schemaContextSegments(errs[j].Context())) == ptr {
			skip[j] = true
		}
	}
}

// schemaContextSegments returns the path of an error as unescaped segments, without
// the "(root)" head.
func schemaContextSegments(ctx *gojsonschema.JsonContext) []string {
	if ctx == nil {
		return nil
	}
	parts := strings.Split(ctx.String("\x00"), "\x00")
	if len(parts) > 0 && parts[0] == gojsonschema.STRING_CONTEXT_ROOT {
		parts = parts[1:]
	}
	return parts
}

// schemaPointer renders segments as an RFC 6901 JSON pointer.
func schemaPointer(segs []string) string {
	if len(segs) == 0 {
		return ""
	}
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(schemaEscape(s))
	}
	return b.String()
}

// normalize maps the segments of a value's location in doc to the schema path
// that describes it ("*" for list indexes and dictionary keys).
func (info *schemaInfo) normalize(segs []string, doc map[string]any) string {
	var b strings.Builder
	var cur any = doc
	for _, seg := range segs {
		switch v := cur.(type) {
		case []any:
			b.WriteString("/*")
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		case map[string]any:
			named := b.String() + "/" + schemaEscape(seg)
			if info.paths[named] {
				b.WriteString("/" + schemaEscape(seg))
			} else {
				b.WriteString("/*")
			}
			cur = v[seg]
		default:
			b.WriteString("/" + schemaEscape(seg))
			cur = nil
		}
	}
	return b.String()
}

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
		if !isUUID(u) {
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
		if !isUUID(strings.TrimPrefix(key, "extension-definition--")) {
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

// schemaJSONNumbers returns obj with its numbers as json.Number, which gojsonschema
// needs to check types and ranges (with float64 it silently skips them). The
// object is copied only where it holds other number types.
func schemaJSONNumbers(obj map[string]any) (map[string]any, error) {
	v, changed, ok := schemaNumbersIn(obj)
	if !ok {
		// Not a decoded JSON document (Go slices or maps of other types):
		// take the slow road through encoding/json.
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		m, err := decodeSchemaJSON(b)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	if !changed {
		return obj, nil
	}
	return v.(map[string]any), nil
}

// schemaNumbersIn converts the numbers of v; changed reports a copy was made, ok
// false a value of a type JSON decoding does not produce.
func schemaNumbersIn(v any) (out any, changed, ok bool) {
	switch v := v.(type) {
	case nil, string, bool, json.Number:
		return v, false, true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false, false
		}
		if v == math.Trunc(v) && math.Abs(v) < 1e21 {
			return json.Number(strconv.FormatFloat(v, 'f', -1, 64)), true, true
		}
		return json.Number(strconv.FormatFloat(v, 'g', -1, 64)), true, true
	case int:
		return json.Number(strconv.Itoa(v)), true, true
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), true, true
	case map[string]any:
		var cp map[string]any
		for k, x := range v {
			y, ch, ok := schemaNumbersIn(x)
			if !ok {
				return nil, false, false
			}
			if ch {
				if cp == nil {
					cp = make(map[string]any, len(v))
					for k2, x2 := range v {
						cp[k2] = x2
					}
				}
				cp[k] = y
			}
		}
		if cp == nil {
			return v, false, true
		}
		return cp, true, true
	case []any:
		var cp []any
		for i, x := range v {
			y, ch, ok := schemaNumbersIn(x)
			if !ok {
				return nil, false, false
			}
			if ch {
				if cp == nil {
					cp = make([]any, len(v))
					copy(cp, v)
				}
				cp[i] = y
			}
		}
		if cp == nil {
			return v, false, true
		}
		return cp, true, true
	default:
		return nil, false, false
	}
}

// vocabUses returns which properties of typ take values from an open
// vocabulary, for a later step that warns about values outside it.
func (s *schemaSet) vocabUses(typ string) []schemaVocabUse {
	if cs := s.types[typ]; cs != nil {
		return cs.info.vocabs
	}
	return nil
}

// vocabulary returns the suggested values of an open vocabulary (e.g.
// "malware-type-ov"), nil if unknown.
func (s *schemaSet) vocabulary(name string) map[string]bool {
	return s.vocabs[name]
}
