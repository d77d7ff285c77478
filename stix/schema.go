package stix

// The schema engine: the JSON schemas of every STIX type, compiled with
// gojsonschema, and what the engine learns from them (property names,
// dictionaries, vocabularies, the meaning of anyOf/oneOf/not) to write
// precise findings.

import (
	"embed"
	"regexp"

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

// schemaCommonProperties are the common property names (section 3.2), exempt from
// the custom property naming rule on objects without a schema (custom objects
// must support them, section 11.2.1).
var schemaCommonProperties = map[string]bool{
	"type": true, "spec_version": true, "id": true, "created_by_ref": true, "created": true,
	"modified": true, "revoked": true, "labels": true, "confidence": true, "lang": true,
	"external_references": true, "object_marking_refs": true, "granular_markings": true,
	"defanged": true, "extensions": true,
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
