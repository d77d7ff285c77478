package stix

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// schemaValidDir holds one realistic valid object per STIX type, named
// <type>.json.
const schemaValidDir = "../testdata/stix/valid"

// schemaAllTypes are the types the embedded schemas must cover.
var schemaAllTypes = []string{
	// SDOs
	"attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
	"infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note", "observed-data",
	"opinion", "report", "threat-actor", "tool", "vulnerability",
	// SROs
	"relationship", "sighting",
	// SCOs
	"artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file",
	"ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
	"user-account", "windows-registry-key", "x509-certificate",
	// Meta objects and bundle
	"language-content", "marking-definition", "extension-definition", "bundle",
}

var (
	schemaTestOnce sync.Once
	schemaTestSet  *schemaSet
	schemaTestErr  error
)

// schemasForTest loads the embedded schemas once for all tests.
func schemasForTest(tb testing.TB) *schemaSet {
	tb.Helper()
	schemaTestOnce.Do(func() { schemaTestSet, schemaTestErr = loadSchemas("") })
	if schemaTestErr != nil {
		tb.Fatalf("loadSchemas: %v", schemaTestErr)
	}
	return schemaTestSet
}

func schemaReadObject(tb testing.TB, path string) map[string]any {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return obj
}

func schemaValidObject(t *testing.T, typ string) map[string]any {
	t.Helper()
	return schemaReadObject(t, filepath.Join(schemaValidDir, typ+".json"))
}

// TestEmbeddedSchemas checks every embedded schema compiles, covers the STIX
// 2.1 types, and avoids the keywords gojsonschema makes slow.
func TestEmbeddedSchemas(t *testing.T) {
	s := schemasForTest(t)
	var got []string
	for typ := range s.types {
		got = append(got, typ)
	}
	sort.Strings(got)
	want := append([]string(nil), schemaAllTypes...)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("schema types\n got %v\nwant %v", got, want)
	}
	if len(s.exts) != 0 {
		t.Errorf("embedded extension schemas: %d, want none", len(s.exts))
	}

	entries, err := fs.ReadDir(embeddedSchemas, "schemas")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			b, err := embeddedSchemas.ReadFile("schemas/" + name)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := decodeSchemaJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			if doc["$schema"] != "http://json-schema.org/draft-07/schema#" {
				t.Errorf("$schema = %v, want draft-07", doc["$schema"])
			}
			if _, ok := doc["$id"]; ok {
				t.Errorf("schemas must not set $id")
			}
			schemaWalkJSON(doc, func(key string, v any) {
				switch key {
				case "patternProperties", "format":
					t.Errorf("uses %q: property-name rules belong in Go, formats in patterns", key)
				case "pattern":
					if _, err := regexp.Compile(v.(string)); err != nil {
						t.Errorf("pattern %q: %v", v, err)
					}
				case "x-stix-vocab":
					if s.vocabulary(v.(string)) == nil {
						t.Errorf("unknown open vocabulary %q", v)
					}
				case "$ref":
					ref := v.(string)
					if !strings.HasPrefix(ref, "#/") && !strings.HasPrefix(ref, "common.json#/") {
						t.Errorf("$ref %q: only common.json and local definitions may be referenced", ref)
					}
				}
			})
		})
	}
	if len(s.vocabs) < 20 {
		t.Errorf("open vocabularies: %d", len(s.vocabs))
	}
}

// schemaWalkJSON calls fn for every keyword and its value in a schema; the
// names under properties, definitions and dependencies are not keywords.
func schemaWalkJSON(v any, fn func(key string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			fn(k, x)
			if m, ok := x.(map[string]any); ok && (k == "properties" || k == "definitions" || k == "dependencies") {
				for _, y := range m {
					schemaWalkJSON(y, fn)
				}
				continue
			}
			schemaWalkJSON(x, fn)
		}
	case []any:
		for _, x := range v {
			schemaWalkJSON(x, fn)
		}
	}
}

// TestValidObjects: the realistic object of every type passes, whether its
// numbers are float64 (encoding/json default) or json.Number.
func TestValidObjects(t *testing.T) {
	s := schemasForTest(t)
	for _, typ := range schemaAllTypes {
		t.Run(typ, func(t *testing.T) {
			path := filepath.Join(schemaValidDir, typ+".json")
			obj := schemaReadObject(t, path)
			if obj["type"] != typ {
				t.Fatalf("%s holds a %v", path, obj["type"])
			}
			findings, _, known := s.check(typ, obj)
			if !known {
				t.Errorf("type %s has no schema", typ)
			}
			for _, f := range findings {
				t.Errorf("%s %s: %s", f.Pointer, f.Rule, f.Message)
			}
			b, _ := os.ReadFile(path)
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var num map[string]any
			if err := d.Decode(&num); err != nil {
				t.Fatal(err)
			}
			if findings, _, _ := s.check(typ, num); len(findings) > 0 {
				t.Errorf("with json.Number: %v", findings)
			}
		})
	}
}

// schemaMutation edits a decoded object for an invalid variant.
type schemaMutation func(obj map[string]any)

func mutSet(path string, v any) schemaMutation {
	return func(obj map[string]any) { schemaJSONSet(obj, path, v, false) }
}

func mutDel(path string) schemaMutation {
	return func(obj map[string]any) { schemaJSONSet(obj, path, nil, true) }
}

// schemaJSONSet sets (or deletes) the value at a "/"-separated path of keys and
// list indexes.
func schemaJSONSet(obj map[string]any, path string, v any, remove bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var cur any = obj
	for i, seg := range segs {
		last := i == len(segs)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if remove {
					delete(c, seg)
				} else {
					c[seg] = v
				}
				return
			}
			cur = c[seg]
		case []any:
			n := 0
			for _, ch := range seg {
				n = n*10 + int(ch-'0')
			}
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			panic("jsonSet: no container at " + path)
		}
	}
}

// TestInvalidObjects: per type, invalid variants of the valid object fail
// with the expected pointer, rule and message.
func TestInvalidObjects(t *testing.T) {
	s := schemasForTest(t)
	const uuid4 = "9c6f4a43-2b1e-4d5f-8a7b-3c2d1e0f9a8b"
	tests := []struct {
		typ     string
		name    string
		muts    []schemaMutation
		pointer string
		rule    string
		message string // substring of the message
	}{
		{"attack-pattern", "kill chain phase without phase_name", []schemaMutation{mutDel("/kill_chain_phases/0/phase_name")},
			"/kill_chain_phases/0/phase_name", "schema-required", "required property missing"},
		{"attack-pattern", "id of another type", []schemaMutation{mutSet("/id", "malware--"+uuid4)},
			"/id", "schema-pattern", `does not start with the object's type "attack-pattern"`},
		{"campaign", "created without milliseconds", []schemaMutation{mutSet("/created", "2016-04-06T20:03:48Z")},
			"/created", "schema-pattern", `"2016-04-06T20:03:48Z" lacks millisecond precision`},
		{"campaign", "modified not a timestamp", []schemaMutation{mutSet("/modified", "2016-04-06 20:03:48.000")},
			"/modified", "schema-pattern", "is not an RFC 3339 timestamp"},
		{"course-of-action", "reserved action property", []schemaMutation{mutSet("/action", "block")},
			"/action", "reserved-property", `"action" is a reserved property name`},
		{"grouping", "missing context", []schemaMutation{mutDel("/context")},
			"/context", "schema-required", "required property missing"},
		{"identity", "created_by_ref to a malware", []schemaMutation{mutSet("/created_by_ref", "malware--"+uuid4)},
			"/created_by_ref", "schema-pattern", "must reference an object of type identity"},
		{"incident", "missing name", []schemaMutation{mutDel("/name")},
			"/name", "schema-required", "required property missing"},
		{"indicator", "valid_from not a timestamp", []schemaMutation{mutSet("/valid_from", "yesterday")},
			"/valid_from", "schema-pattern", `"yesterday" is not an RFC 3339 timestamp`},
		{"indicator", "spec_version 2.0", []schemaMutation{mutSet("/spec_version", "2.0")},
			"/spec_version", "schema-pattern", `"2.0" must be "2.1"`},
		{"indicator", "bad UUID", []schemaMutation{mutSet("/id", "indicator--not-a-uuid")},
			"/id", "schema-pattern", "is not a UUID"},
		{"infrastructure", "empty list", []schemaMutation{mutSet("/infrastructure_types", []any{})},
			"/infrastructure_types", "schema-min-items", "must not be empty"},
		{"intrusion-set", "confidence over 100", []schemaMutation{mutSet("/confidence", 150.0)},
			"/confidence", "schema-maximum", "150"},
		{"location", "latitude without longitude", []schemaMutation{mutDel("/longitude")},
			"/longitude", "schema-dependency", "required when latitude or precision is present"},
		{"location", "latitude out of range", []schemaMutation{mutSet("/latitude", 91.5)},
			"/latitude", "schema-maximum", "between -90.0 and 90.0"},
		{"location", "nothing located", []schemaMutation{mutDel("/region"), mutDel("/country"), mutDel("/latitude"), mutDel("/longitude"), mutDel("/precision")},
			"", "schema-any-of", "at least one of region, country or (latitude and longitude) must be present"},
		{"malware", "family without name", []schemaMutation{mutDel("/name")},
			"/name", "schema-required", "required property missing"},
		{"malware", "without is_family", []schemaMutation{mutDel("/is_family")},
			"/is_family", "schema-required", "required property missing"},
		{"malware", "sample_refs to an indicator", []schemaMutation{mutSet("/sample_refs/0", "indicator--"+uuid4)},
			"/sample_refs/0", "schema-pattern", "must reference an object of type file, artifact"},
		{"malware-analysis", "neither result nor analysis_sco_refs", []schemaMutation{mutDel("/result")},
			"", "schema-any-of", "at least one of result or analysis_sco_refs must be present"},
		{"note", "object_refs not identifiers", []schemaMutation{mutSet("/object_refs/0", "not-an-id")},
			"/object_refs/0", "schema-pattern", `"not-an-id" is not an identifier of the form <type>--<UUID>`},
		{"observed-data", "objects and object_refs", []schemaMutation{mutSet("/objects", map[string]any{"0": map[string]any{"type": "ipv4-addr", "value": "198.51.100.23"}})},
			"", "schema-one-of", "only one of object_refs or objects may be present"},
		{"observed-data", "number_observed zero", []schemaMutation{mutSet("/number_observed", 0.0)},
			"/number_observed", "schema-minimum", "between 1 and 999,999,999"},
		{"observed-data", "object_refs to an SDO", []schemaMutation{mutSet("/object_refs/0", "malware--"+uuid4)},
			"/object_refs/0", "schema-pattern", "must reference an SCO or an SRO"},
		{"opinion", "opinion outside the enumeration", []schemaMutation{mutSet("/opinion", "maybe")},
			"/opinion", "schema-enum", `"maybe" is not one of`},
		{"report", "missing published", []schemaMutation{mutDel("/published")},
			"/published", "schema-required", "required property missing"},
		{"threat-actor", "external reference with only source_name", []schemaMutation{mutSet("/external_references", []any{map[string]any{"source_name": "acme"}})},
			"/external_references/0", "schema-any-of", "at least one of url, external_id or description must be present"},
		{"tool", "defanged on an SDO", []schemaMutation{mutSet("/defanged", true)},
			"/defanged", "schema-not-allowed", `"defanged" is not applicable to tool objects`},
		{"vulnerability", "unknown external reference property", []schemaMutation{mutSet("/external_references/0/note", "x")},
			"/external_references/0/note", "schema-additional", `property "note" is not allowed here`},
		{"relationship", "source_ref to a marking definition", []schemaMutation{mutSet("/source_ref", "marking-definition--"+uuid4)},
			"/source_ref", "schema-pattern", "must reference an SDO or SCO, not an SRO, a meta object or a bundle"},
		{"relationship", "relationship_type with spaces", []schemaMutation{mutSet("/relationship_type", "Indicates Strongly")},
			"/relationship_type", "schema-pattern", "must be lowercase ASCII letters, digits and hyphens"},
		{"sighting", "sighting_of_ref to an SCO", []schemaMutation{mutSet("/sighting_of_ref", "file--"+uuid4)},
			"/sighting_of_ref", "schema-pattern", "must reference an SDO"},
		{"sighting", "negative count", []schemaMutation{mutSet("/count", -1.0)},
			"/count", "schema-minimum", "between 0 and 999,999,999"},
		{"artifact", "payload_bin and url", []schemaMutation{mutSet("/url", "https://files.example.com/a.zip")},
			"", "schema-not", "payload_bin and url must not all be present"},
		{"artifact", "payload not base64", []schemaMutation{mutSet("/payload_bin", "not base64!")},
			"/payload_bin", "schema-pattern", "must be base64-encoded data"},
		{"autonomous-system", "number as a string", []schemaMutation{mutSet("/number", "64512")},
			"/number", "schema-type", `"64512" must be of type integer, not string`},
		{"directory", "contains_refs to a process", []schemaMutation{mutSet("/contains_refs/0", "process--"+uuid4)},
			"/contains_refs/0", "schema-pattern", "must reference an object of type file, directory"},
		{"domain-name", "created on an SCO", []schemaMutation{mutSet("/created", "2024-03-14T09:26:53.589Z")},
			"/created", "schema-not-allowed", `"created" is not applicable to domain-name objects`},
		{"email-addr", "belongs_to_ref to an identity", []schemaMutation{mutSet("/belongs_to_ref", "identity--"+uuid4)},
			"/belongs_to_ref", "schema-pattern", "must reference an object of type user-account"},
		{"email-message", "body on a multipart message", []schemaMutation{mutSet("/body", "hello")},
			"", "schema-not", "body must not be used when is_multipart is true"},
		{"email-message", "header values not lists", []schemaMutation{mutSet("/additional_header_fields/X-Mailer", "Outlook")},
			"/additional_header_fields/X-Mailer", "schema-type", "must be of type array"},
		{"file", "SHA-256 of the wrong length", []schemaMutation{mutSet("/hashes/SHA-256", "abc123")},
			"/hashes/SHA-256", "schema-pattern", `"abc123" must be a SHA-256 digest: 64 hexadecimal digits`},
		{"file", "hash algorithm name too short", []schemaMutation{mutSet("/hashes/x1", "abc")},
			"/hashes/x1", "hashes-key", `hash algorithm name "x1"`},
		{"file", "magic number in uppercase", []schemaMutation{mutSet("/magic_number_hex", "504B0304")},
			"/magic_number_hex", "schema-pattern", "must be an even number of lowercase hexadecimal digits"},
		{"file", "empty NTFS extension", []schemaMutation{mutSet("/extensions/ntfs-ext", map[string]any{})},
			"/extensions/ntfs-ext", "schema-min-properties", "must not be empty"},
		{"file", "PE timestamp with fractions", []schemaMutation{mutSet("/extensions/windows-pebinary-ext", map[string]any{"pe_type": "exe", "time_date_stamp": "2016-01-22T12:31:12.5Z"})},
			"/extensions/windows-pebinary-ext/time_date_stamp", "schema-pattern", "must be precise to the second"},
		{"ipv4-addr", "octet over 255", []schemaMutation{mutSet("/value", "300.1.1.1")},
			"/value", "schema-pattern", `"300.1.1.1" must be an IPv4 address or CIDR block`},
		{"ipv6-addr", "not an address", []schemaMutation{mutSet("/value", "hello")},
			"/value", "schema-pattern", "must be an IPv6 address or CIDR block"},
		{"mac-addr", "uppercase MAC", []schemaMutation{mutSet("/value", "52:54:00:AB:CD:EF")},
			"/value", "schema-pattern", "lowercase MAC-48 address"},
		{"mutex", "missing name", []schemaMutation{mutDel("/name")},
			"/name", "schema-required", "required property missing"},
		{"network-traffic", "port out of range", []schemaMutation{mutSet("/src_port", 70000.0)},
			"/src_port", "schema-maximum", "port number between 0 and 65535"},
		{"network-traffic", "end while active", []schemaMutation{mutSet("/is_active", true)},
			"/is_active", "schema-const", "true must be false when end is present"},
		{"network-traffic", "no endpoint", []schemaMutation{mutDel("/src_ref"), mutDel("/dst_ref")},
			"", "schema-any-of", "at least one of src_ref or dst_ref must be present"},
		{"process", "no process property", []schemaMutation{func(o map[string]any) {
			for k := range o {
				if k != "type" && k != "id" && k != "spec_version" {
					delete(o, k)
				}
			}
		}}, "", "schema-any-of", "at least one of pid, command_line"},
		{"process", "integrity level outside the enumeration", []schemaMutation{mutSet("/extensions/windows-process-ext/integrity_level", "ultra")},
			"/extensions/windows-process-ext/integrity_level", "schema-enum", `"ultra" is not one of`},
		{"software", "cpe not CPE 2.3", []schemaMutation{mutSet("/cpe", "microsoft word")},
			"/cpe", "schema-pattern", "must be a CPE 2.3 formatted string"},
		{"url", "value not a string", []schemaMutation{mutSet("/value", 42.0)},
			"/value", "schema-type", "42 must be of type string, not integer"},
		{"user-account", "gid as a string", []schemaMutation{mutSet("/extensions/unix-account-ext/gid", "1001")},
			"/extensions/unix-account-ext/gid", "schema-type", "must be of type integer"},
		{"windows-registry-key", "abbreviated hive", []schemaMutation{mutSet("/key", `HKLM\Software\Run`)},
			"/key", "schema-not", "must name the hive in full"},
		{"windows-registry-key", "data type outside the enumeration", []schemaMutation{mutSet("/values/0/data_type", "REG_TEXT")},
			"/values/0/data_type", "schema-enum", `"REG_TEXT" is not one of`},
		{"x509-certificate", "validity date without time", []schemaMutation{mutSet("/validity_not_before", "2024-02-20")},
			"/validity_not_before", "schema-pattern", "is not an RFC 3339 timestamp"},
		{"language-content", "lang on language content", []schemaMutation{mutSet("/lang", "en")},
			"/lang", "schema-not-allowed", `"lang" is not applicable to language-content objects`},
		{"language-content", "empty translation", []schemaMutation{mutSet("/contents/de", map[string]any{})},
			"/contents/de", "schema-min-properties", "must not be empty"},
		{"marking-definition", "versioned marking", []schemaMutation{mutSet("/modified", "2024-05-02T16:41:07.112Z")},
			"/modified", "schema-not-allowed", `"modified" is not applicable to marking-definition objects`},
		{"marking-definition", "home-made TLP marking", []schemaMutation{mutSet("/definition_type", "tlp"), mutSet("/definition", map[string]any{"tlp": "green"})},
			"/id", "schema-enum", "must be one of the four TLP marking definitions"},
		{"marking-definition", "neither definition nor extensions", []schemaMutation{mutDel("/definition_type"), mutDel("/definition")},
			"", "schema-any-of", "at least one of (definition_type and definition) or extensions must be present"},
		{"extension-definition", "missing created_by_ref", []schemaMutation{mutDel("/created_by_ref")},
			"/created_by_ref", "schema-required", "required property missing"},
		{"extension-definition", "extension_properties without toplevel extension", []schemaMutation{mutSet("/extension_properties", []any{"triage_priority"})},
			"/extension_types", "schema-contains", "must include toplevel-property-extension"},
		{"extension-definition", "extension type outside the enumeration", []schemaMutation{mutSet("/extension_types/0", "new-thing")},
			"/extension_types/0", "schema-enum", `"new-thing" is not one of`},
		{"bundle", "empty bundle", []schemaMutation{mutSet("/objects", []any{})},
			"/objects", "schema-min-items", "must not be empty"},
		{"bundle", "spec_version on a bundle", []schemaMutation{mutSet("/spec_version", "2.1")},
			"/spec_version", "schema-not-allowed", `"spec_version" is not applicable to bundle objects`},
		{"indicator", "granular marking with lang and marking_ref", []schemaMutation{mutSet("/granular_markings", []any{map[string]any{
			"lang": "de", "marking_ref": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "selectors": []any{"name"}}})},
			"/granular_markings/0", "schema-one-of", "only one of lang or marking_ref may be present"},
		{"indicator", "granular marking without selectors", []schemaMutation{mutSet("/granular_markings", []any{map[string]any{"lang": "de", "selectors": []any{}}})},
			"/granular_markings/0/selectors", "schema-min-items", "must not be empty"},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.typ] = true
		t.Run(tc.typ+"/"+tc.name, func(t *testing.T) {
			obj := schemaValidObject(t, tc.typ)
			for _, m := range tc.muts {
				m(obj)
			}
			findings, _, known := s.check(tc.typ, obj)
			if !known {
				t.Fatalf("type %s unknown", tc.typ)
			}
			for _, f := range findings {
				if f.Pointer == tc.pointer && f.Rule == tc.rule && strings.Contains(f.Message, tc.message) {
					t.Logf("%q %s: %s", f.Pointer, f.Rule, f.Message)
					return
				}
			}
			t.Errorf("want %q %s %q; got:", tc.pointer, tc.rule, tc.message)
			for _, f := range findings {
				t.Errorf("  %q %s %q", f.Pointer, f.Rule, f.Message)
			}
		})
	}
	for _, typ := range schemaAllTypes {
		if !covered[typ] {
			t.Errorf("no invalid variant of %s", typ)
		}
	}
}

// TestOneFindingPerProblem: the alternatives of anyOf/oneOf and the branches
// of if/then do not add findings of their own.
func TestOneFindingPerProblem(t *testing.T) {
	s := schemasForTest(t)
	obj := schemaValidObject(t, "threat-actor")
	obj["external_references"] = []any{map[string]any{"source_name": "acme"}}
	findings, _, _ := s.check("threat-actor", obj)
	if len(findings) != 1 {
		t.Errorf("findings = %v, want the any-of one only", findings)
	}
	obj = schemaValidObject(t, "malware")
	delete(obj, "name")
	findings, _, _ = s.check("malware", obj)
	if len(findings) != 1 || findings[0].Pointer != "/name" {
		t.Errorf("findings = %v, want /name required only", findings)
	}
}

// TestPropertyNames covers the naming rules checked in Go.
func TestPropertyNames(t *testing.T) {
	s := schemasForTest(t)
	const extID = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"
	tests := []struct {
		typ     string
		name    string
		muts    []schemaMutation
		pointer string // "" with rule "" means: no finding at all
		rule    string
	}{
		{"indicator", "custom property", []schemaMutation{mutSet("/x_acme_score", 5.0)}, "", ""},
		{"indicator", "custom property with digits", []schemaMutation{mutSet("/x_acme2_rank_9", 5.0)}, "", ""},
		{"indicator", "uppercase custom property", []schemaMutation{mutSet("/X_Acme", 5.0)}, "/X_Acme", "property-name"},
		{"indicator", "two-character custom property", []schemaMutation{mutSet("/xy", 5.0)}, "/xy", "property-name"},
		{"indicator", "custom property with hyphen", []schemaMutation{mutSet("/x-acme", 5.0)}, "/x-acme", "property-name"},
		{"indicator", "custom property starting with a digit", []schemaMutation{mutSet("/1st_seen", "x")}, "/1st_seen", "property-name"},
		{"indicator", "251 characters", []schemaMutation{mutSet("/x"+strings.Repeat("a", 250), 1.0)}, "/x" + strings.Repeat("a", 250), "property-name"},
		{"indicator", "250 characters", []schemaMutation{mutSet("/x"+strings.Repeat("a", 249), 1.0)}, "", ""},
		{"indicator", "pointer escaping", []schemaMutation{func(o map[string]any) { o["a/b~c"] = 1.0 }}, "/a~1b~0c", "property-name"},
		{"indicator", "reserved severity", []schemaMutation{mutSet("/severity", "high")}, "/severity", "reserved-property"},
		{"indicator", "extension by definition", []schemaMutation{mutSet("/extensions", map[string]any{extID: map[string]any{"extension_type": "property-extension", "rank": 5.0}})}, "", ""},
		{"indicator", "extension without extension_type", []schemaMutation{mutSet("/extensions", map[string]any{extID: map[string]any{"rank": 5.0}})}, "/extensions/" + extID + "/extension_type", "extension-type"},
		{"indicator", "extension property name", []schemaMutation{mutSet("/extensions", map[string]any{extID: map[string]any{"extension_type": "property-extension", "Rank": 5.0}})}, "/extensions/" + extID + "/Rank", "property-name"},
		{"indicator", "extension key neither id nor predefined", []schemaMutation{mutSet("/extensions", map[string]any{"acme-ext": map[string]any{"rank": 5.0}})}, "/extensions/acme-ext", "extension-key"},
		{"indicator", "extension id with bad UUID", []schemaMutation{mutSet("/extensions", map[string]any{"extension-definition--1234": map[string]any{"extension_type": "property-extension"}})}, "/extensions/extension-definition--1234", "extension-key"},
		{"file", "predefined extension of another type", []schemaMutation{mutSet("/extensions/tcp-ext", map[string]any{"src_flags_hex": "02"})}, "/extensions/tcp-ext", "extension-key"},
		{"file", "deprecated custom SCO extension", []schemaMutation{mutSet("/extensions/x-acme-forensics-ext", map[string]any{"carved": true})}, "", ""},
		{"file", "custom property in a predefined extension", []schemaMutation{mutSet("/extensions/ntfs-ext/x_acme_volume", "C:")}, "", ""},
		{"file", "bad custom property in a predefined extension", []schemaMutation{mutSet("/extensions/ntfs-ext/Volume", "C:")}, "/extensions/ntfs-ext/Volume", "property-name"},
		{"file", "user-defined hash", []schemaMutation{mutSet("/hashes/x_foo_hash", "aaaabbbb")}, "", ""},
		{"file", "hash name with a dot", []schemaMutation{mutSet("/hashes/sha.256", "aaaabbbb")}, "/hashes/sha.256", "hashes-key"},
		{"email-message", "dictionary key with a space", []schemaMutation{mutSet("/additional_header_fields/Reply To", []any{"x"})}, "/additional_header_fields/Reply To", "dictionary-key"},
		{"network-traffic", "request header key with a colon", []schemaMutation{mutSet("/extensions/http-request-ext/request_header/Host:", []any{"x"})}, "/extensions/http-request-ext/request_header/Host:", "dictionary-key"},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.name, func(t *testing.T) {
			obj := schemaValidObject(t, tc.typ)
			for _, m := range tc.muts {
				m(obj)
			}
			findings, _, _ := s.check(tc.typ, obj)
			if tc.rule == "" {
				for _, f := range findings {
					t.Errorf("unexpected %q %s %q", f.Pointer, f.Rule, f.Message)
				}
				return
			}
			for _, f := range findings {
				if f.Pointer == tc.pointer && f.Rule == tc.rule {
					return
				}
			}
			t.Errorf("want %q %s; got %v", tc.pointer, tc.rule, findings)
		})
	}

	obj := schemaValidObject(t, "attack-pattern")
	obj["external_references"] = []any{map[string]any{"source_name": "acme", "url": "https://acme.example/r", "hashes": map[string]any{"s": "x"}}}
	findings, _, _ := s.check("attack-pattern", obj)
	if len(findings) != 1 || findings[0].Pointer != "/external_references/0/hashes/s" || findings[0].Rule != "hashes-key" {
		t.Errorf("hashes key in an external reference: %v", findings)
	}
}

// TestUnknownType: objects without a schema are not schema-checked, but their
// property names are.
func TestUnknownType(t *testing.T) {
	s := schemasForTest(t)
	obj := map[string]any{
		"type": "x-acme-widget", "spec_version": "2.1", "id": "x-acme-widget--9c6f4a43-2b1e-4d5f-8a7b-3c2d1e0f9a8b",
		"created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00.000Z", "x_acme_size": 3.0,
		"extensions": map[string]any{"x-acme-widget-ext": map[string]any{"depth": 2.0}},
	}
	findings, _, known := s.check("x-acme-widget", obj)
	if known {
		t.Error("x-acme-widget reported as known")
	}
	if len(findings) != 0 {
		t.Errorf("findings = %v, want none (created is not schema-checked without a schema)", findings)
	}
	obj["Size"] = 3.0
	findings, _, _ = s.check("x-acme-widget", obj)
	if len(findings) != 1 || findings[0].Pointer != "/Size" || findings[0].Rule != "property-name" {
		t.Errorf("findings = %v, want /Size property-name", findings)
	}
	if s.knownProperties("x-acme-widget") != nil {
		t.Error("knownProperties of an unknown type is not nil")
	}
}

// TestKnownProperties: the names come from the schemas, common ones
// included.
func TestKnownProperties(t *testing.T) {
	s := schemasForTest(t)
	for typ, want := range map[string][]string{
		"indicator":          {"type", "id", "spec_version", "created", "modified", "created_by_ref", "pattern", "pattern_type", "valid_from", "kill_chain_phases", "extensions", "lang"},
		"file":               {"type", "id", "hashes", "name", "extensions", "defanged", "object_marking_refs", "parent_directory_ref"},
		"marking-definition": {"definition", "definition_type", "name", "created", "extensions"},
		"bundle":             {"type", "id", "objects"},
	} {
		known := s.knownProperties(typ)
		for _, p := range want {
			if !known[p] {
				t.Errorf("%s: %s not known", typ, p)
			}
		}
		if known["x_acme_score"] {
			t.Errorf("%s: custom property known", typ)
		}
	}
	if known := s.knownProperties("indicator"); known["is_family"] {
		t.Error("indicator knows malware's is_family")
	}
}

// TestDefanged: defanged SCO values need not keep their format.
func TestDefanged(t *testing.T) {
	s := schemasForTest(t)
	obj := schemaValidObject(t, "ipv4-addr")
	obj["value"] = "198.51.100[.]23"
	if findings, _, _ := s.check("ipv4-addr", obj); len(findings) != 1 {
		t.Errorf("not defanged: findings = %v, want one", findings)
	}
	obj["defanged"] = true
	if findings, _, _ := s.check("ipv4-addr", obj); len(findings) != 0 {
		t.Errorf("defanged: findings = %v, want none", findings)
	}
}

// TestFindingsCapped: an object with many problems keeps a bounded number
// of findings and counts the others.
func TestFindingsCapped(t *testing.T) {
	s := schemasForTest(t)
	obj := schemaValidObject(t, "indicator")
	for i := 0; i < 120; i++ {
		obj[strings.Repeat("X", i%5+1)+strings.Repeat("y", i)] = 1.0
	}
	findings, more, _ := s.check("indicator", obj)
	if len(findings) != schemaMaxFindings || more != 120-schemaMaxFindings {
		t.Fatalf("%d findings kept and %d more, want %d and %d", len(findings), more, schemaMaxFindings, 120-schemaMaxFindings)
	}
}

// TestNumbersNotMutated: converting numbers for gojsonschema leaves the
// caller's object alone.
func TestNumbersNotMutated(t *testing.T) {
	s := schemasForTest(t)
	obj := schemaValidObject(t, "network-traffic")
	s.check("network-traffic", obj)
	if _, ok := obj["src_port"].(float64); !ok {
		t.Errorf("src_port is now %T", obj["src_port"])
	}
	// Go values that JSON decoding does not produce still work.
	obj["protocols"] = []string{"ipv4", "tcp"}
	obj["src_port"] = 70000
	findings, _, _ := s.check("network-traffic", obj)
	if len(findings) != 1 || findings[0].Pointer != "/src_port" {
		t.Errorf("findings = %v, want /src_port", findings)
	}
}

// TestUserSchemaDir: a directory of schemas adds types, overrides embedded
// ones and validates extension content.
func TestUserSchemaDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A new custom object type, built on the common SDO properties.
	write("x-acme-widget.json", `{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"type": "object",
		"allOf": [{"$ref": "common.json#/definitions/sdo_sro_common"}],
		"required": ["size"],
		"properties": {"size": {"type": "integer", "minimum": 1}}
	}`)
	// A stricter indicator: name becomes required.
	write("indicator.json", `{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"type": "object",
		"allOf": [{"$ref": "common.json#/definitions/sdo_sro_common"}],
		"required": ["name", "pattern", "pattern_type", "valid_from"],
		"properties": {"name": {"type": "string", "minLength": 3}, "pattern": {"type": "string"},
			"pattern_type": {"type": "string"}, "valid_from": {"$ref": "common.json#/definitions/timestamp"}}
	}`)
	const extID = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"
	write(extID+".json", `{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"type": "object",
		"required": ["extension_type", "rank"],
		"properties": {"extension_type": {"enum": ["property-extension"]}, "rank": {"type": "integer", "maximum": 10}}
	}`)
	write("notes.txt", "not a schema")

	s, err := loadSchemas(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.types["malware"]; !ok {
		t.Error("embedded malware schema lost")
	}

	widget := map[string]any{
		"type": "x-acme-widget", "spec_version": "2.1", "id": "x-acme-widget--9c6f4a43-2b1e-4d5f-8a7b-3c2d1e0f9a8b",
		"created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "size": 0.0,
	}
	findings, _, known := s.check("x-acme-widget", widget)
	if !known || len(findings) != 1 || findings[0].Pointer != "/size" || findings[0].Rule != "schema-minimum" {
		t.Errorf("widget: known=%v findings=%v, want /size schema-minimum", known, findings)
	}
	if !s.knownProperties("x-acme-widget")["size"] || !s.knownProperties("x-acme-widget")["created"] {
		t.Errorf("widget known properties: %v", s.knownProperties("x-acme-widget"))
	}

	ind := schemaValidObject(t, "indicator")
	delete(ind, "name")
	findings, _, _ = s.check("indicator", ind)
	if len(findings) != 1 || findings[0].Pointer != "/name" || findings[0].Rule != "schema-required" {
		t.Errorf("overridden indicator: %v, want /name schema-required", findings)
	}

	ind = schemaValidObject(t, "indicator")
	ind["extensions"] = map[string]any{extID: map[string]any{"extension_type": "property-extension", "rank": 11.0}}
	findings, _, _ = s.check("indicator", ind)
	if len(findings) != 1 || findings[0].Pointer != "/extensions/"+extID+"/rank" || findings[0].Rule != "schema-maximum" {
		t.Errorf("extension content: %v, want /extensions/%s/rank schema-maximum", findings, extID)
	}
	ind["extensions"] = map[string]any{extID: map[string]any{"extension_type": "property-extension", "rank": 3.0}}
	if findings, _, _ = s.check("indicator", ind); len(findings) != 0 {
		t.Errorf("valid extension content: %v", findings)
	}

	// Errors name the file.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "x-broken.json"), []byte(`{"type": "object", "pattern": "("}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSchemas(bad); err == nil || !strings.Contains(err.Error(), "x-broken.json") {
		t.Errorf("broken schema: err = %v", err)
	}
	if err := os.WriteFile(filepath.Join(bad, "x-broken.json"), []byte(`{"type": "object"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "Not_A_Type.json"), []byte(`{"type": "object"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSchemas(bad); err == nil || !strings.Contains(err.Error(), "Not_A_Type.json") {
		t.Errorf("badly named schema: err = %v", err)
	}
	if _, err := loadSchemas(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory accepted")
	}
}

// TestVocabularies: open vocabularies are recorded, not enforced.
func TestVocabularies(t *testing.T) {
	s := schemasForTest(t)
	var found bool
	for _, u := range s.vocabUses("malware") {
		if u.path == "/malware_types" && u.vocab == "malware-type-ov" {
			found = true
		}
	}
	if !found {
		t.Errorf("malware vocab uses: %v", s.vocabUses("malware"))
	}
	if v := s.vocabulary("malware-type-ov"); !v["ransomware"] || v["ransom"] {
		t.Errorf("malware-type-ov = %v", v)
	}
	obj := schemaValidObject(t, "malware")
	obj["malware_types"] = []any{"cryptominer"}
	if findings, _, _ := s.check("malware", obj); len(findings) != 0 {
		t.Errorf("open vocabulary enforced: %v", findings)
	}
}

// TestConcurrentCheck: a schemaSet is safe for concurrent use.
func TestConcurrentCheck(t *testing.T) {
	s := schemasForTest(t)
	var objs []map[string]any
	for _, typ := range schemaAllTypes {
		objs = append(objs, schemaValidObject(t, typ))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				for _, obj := range objs {
					if findings, _, _ := s.check(obj["type"].(string), obj); len(findings) != 0 {
						t.Errorf("%v: %v", obj["type"], findings)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
