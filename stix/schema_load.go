package stix

// Loading and compiling the embedded and user schemas.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/xeipuuv/gojsonschema"
)

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
		case isExt && !IsUUID(strings.TrimPrefix(key, "extension-definition--")):
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
