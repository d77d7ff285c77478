package stix

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustObject(t testing.TB, file string, edit func(map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/stix/valid", file))
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(o)
	}
	b, err = json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLevels checks what each level accepts: custom content, SHOULD
// findings and type-specific properties.
func TestLevels(t *testing.T) {
	v := newTestValidator(t)
	customType := []byte(`{"type":"x-acme-note","spec_version":"2.1","id":"x-acme-note--8f0c8b0e-3b1a-4f0e-9d7a-2a3b4c5d6e7f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","x_acme_text":"hello"}`)
	customProp := mustObject(t, "indicator.json", func(o map[string]any) { o["x_acme_score"] = 5 })
	badCustomProp := mustObject(t, "indicator.json", func(o map[string]any) { o["Score-Value"] = 5 })
	outsideVocab := mustObject(t, "indicator.json", func(o map[string]any) { o["indicator_types"] = []any{"suspicious"} })
	noPattern := mustObject(t, "indicator.json", func(o map[string]any) { delete(o, "pattern") })
	badCreated := mustObject(t, "indicator.json", func(o map[string]any) { o["created"] = "2024-03-14T09:26:53Z" })
	// As in MITRE ATT&CK: an empty reference inside custom content.
	customContent := mustObject(t, "attack-pattern.json", func(o map[string]any) { o["x_mitre_data_source_ref"] = "" })

	tests := []struct {
		name         string
		raw          []byte
		level        Level
		wantErr      string // rule that must fail; "" for valid
		wantWarnings int
	}{
		{"custom type, default", customType, LevelDefault, "", 0},
		{"custom type, strict", customType, LevelStrict, "unknown-type", 0},
		{"custom property, default", customProp, LevelDefault, "", 0},
		{"custom property, strict", customProp, LevelStrict, "unknown-property", 0},
		{"badly named custom property, default", badCustomProp, LevelDefault, "custom-property-name", 0},
		{"vocabulary, default warns", outsideVocab, LevelDefault, "", 1},
		{"vocabulary, strict fails", outsideVocab, LevelStrict, "vocabulary", 0},
		{"vocabulary, permissive ignores", outsideVocab, LevelPermissive, "", 0},
		{"type-specific required, default", noPattern, LevelDefault, "schema-required", 0},
		{"type-specific required, permissive", noPattern, LevelPermissive, "", 0},
		{"common property, permissive", badCreated, LevelPermissive, "schema-pattern", 0},
		{"custom property content, default warns", customContent, LevelDefault, "", 1},
		{"custom property content, strict fails", customContent, LevelStrict, "ref-format", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings, err := v.Validate(tt.raw, tt.level)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Validate = %v; want valid", err)
			}
			if tt.wantErr != "" {
				ve, ok := err.(*ValidationError)
				if !ok || !strings.Contains(ruleList(ve.Findings), tt.wantErr) {
					t.Fatalf("Validate = %v; want a %s failure", err, tt.wantErr)
				}
			}
			if len(warnings) != tt.wantWarnings {
				t.Errorf("warnings = %v; want %d", warnings, tt.wantWarnings)
			}
		})
	}
}

func ruleList(fs []Finding) string {
	var rules []string
	for _, f := range fs {
		rules = append(rules, f.Rule)
	}
	return strings.Join(rules, ",")
}

func TestIdentity(t *testing.T) {
	v := newTestValidator(t)
	tests := []struct {
		raw                  string
		wantSpec, wantVerson string
	}{
		{`{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2023-03-02T12:00:00.000Z","modified":"2023-04-02T12:00:00.000Z","name":"x","is_family":false}`, "2.1", "2023-04-02T12:00:00Z"},
		{`{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`, "2.1", ""},
		{`{"type":"malware","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-01-01T00:00:00Z","modified":"2016-01-01T00:00:00Z","name":"x","labels":["trojan"]}`, "2.0", "2016-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		id, _, err := v.Validate([]byte(tt.raw), LevelDefault)
		if err != nil {
			t.Errorf("Validate(%s) = %v", tt.raw, err)
			continue
		}
		var version string
		if !id.Version.IsZero() {
			version = id.Version.Format(time.RFC3339Nano)
		}
		if id.SpecVersion != tt.wantSpec || version != tt.wantVerson {
			t.Errorf("Validate(%s) = spec %s version %q; want %s %q", tt.raw, id.SpecVersion, version, tt.wantSpec, tt.wantVerson)
		}
	}
}

// TestUserSchemas: a schema in Options.SchemaDir validates its custom type.
func TestUserSchemas(t *testing.T) {
	dir := t.TempDir()
	schema := `{"type":"object","required":["x_acme_text"],"properties":{"x_acme_text":{"type":"string","maxLength":10}}}`
	if err := os.WriteFile(filepath.Join(dir, "x-acme-note.json"), []byte(schema), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := NewValidator(Options{SchemaDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ok := `{"type":"x-acme-note","spec_version":"2.1","id":"x-acme-note--8f0c8b0e-3b1a-4f0e-9d7a-2a3b4c5d6e7f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","x_acme_text":"hello"}`
	if _, _, err := v.Validate([]byte(ok), LevelStrict); err != nil {
		t.Errorf("custom type with a user schema, strict: %v", err)
	}
	long := strings.Replace(ok, `"hello"`, `"far too long for the schema"`, 1)
	if _, _, err := v.Validate([]byte(long), LevelDefault); err == nil || !strings.Contains(err.Error(), "/x_acme_text") {
		t.Errorf("value breaking the user schema: %v; want a finding at /x_acme_text", err)
	}
	if _, err := NewValidator(Options{SchemaDir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("NewValidator with a missing schema directory succeeded")
	}
}

// FuzzValidate: no input makes the validator panic or hang.
func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob("../testdata/stix/valid/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"indicator","pattern":"[a:b = 'c'] FOLLOWEDBY ([d:e > 5] WITHIN 5 SECONDS)","pattern_type":"stix"}`))
	v, err := NewValidator(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, level := range []Level{LevelStrict, LevelDefault, LevelPermissive} {
			start := time.Now()
			_, _, _ = v.Validate(raw, level)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Validate took %v on %q", d, raw)
			}
		}
	})
}

// TestFindingsCap: the cap on findings limits what is reported, never what
// is checked. Failures are kept before warnings, and a findings-capped
// finding says how many more there were.
func TestFindingsCap(t *testing.T) {
	v := newTestValidator(t)
	badRefs := func(n int) []any {
		refs := make([]any, n)
		for i := range refs {
			refs[i] = fmt.Sprintf("acme-case-%d", i)
		}
		return refs
	}
	tests := []struct {
		name  string
		raw   []byte
		level Level
		// wantFail is a rule and pointer among the failures; "" for a
		// valid object.
		wantFail, wantPtr string
		wantFails         int // failures reported, findings-capped included
		wantWarns         int // warnings reported, findings-capped included
		wantCapped        string
	}{
		{"unterminated pattern behind 50 warnings", mustObject(t, "indicator.json", func(o map[string]any) {
			o["pattern"] = "[file:name = 'dropper.exe'"
			o["x_acme_related_refs"] = badRefs(50)
		}), LevelDefault, "indicator-pattern", "/pattern", 2, 49, "1 more warning not reported"},
		{"bad created_by_ref behind 200 warnings", mustObject(t, "indicator.json", func(o map[string]any) {
			o["created_by_ref"] = "acme"
			o["x_acme_related_refs"] = badRefs(200)
		}), LevelDefault, "ref-format", "/created_by_ref", 2, 49, "151 more warnings not reported"},
		{"warnings only", mustObject(t, "indicator.json", func(o map[string]any) {
			o["x_acme_related_refs"] = badRefs(120)
		}), LevelDefault, "", "", 0, 51, "70 more warnings not reported"},
		{"strict fails the same content", mustObject(t, "indicator.json", func(o map[string]any) {
			o["x_acme_related_refs"] = badRefs(120)
		}), LevelStrict, "unknown-property", "/x_acme_related_refs", 51, 0, "71 more failures not reported"},
		{"failures crowd out warnings", mustObject(t, "report.json", func(o map[string]any) {
			o["object_refs"] = badRefs(60)
			o["x_acme_related_refs"] = badRefs(5)
		}), LevelDefault, "ref-format", "/object_refs/0", 51, 0, "at least 10 more failures and 5 more warnings not reported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns, err := v.Validate(tt.raw, tt.level)
			var fails []Finding
			if err != nil {
				ve, ok := err.(*ValidationError)
				if !ok {
					t.Fatalf("Validate error %T %v", err, err)
				}
				fails = ve.Findings
			}
			if tt.wantFail == "" && err != nil {
				t.Fatalf("Validate = %v; want valid", err)
			}
			if tt.wantFail != "" && !slices.ContainsFunc(fails, func(f Finding) bool { return f.Rule == tt.wantFail && f.Pointer == tt.wantPtr }) {
				t.Errorf("failures %v; want %s at %s", fails, tt.wantFail, tt.wantPtr)
			}
			if len(fails) != tt.wantFails || len(warns) != tt.wantWarns {
				t.Errorf("%d failures and %d warnings reported, want %d and %d", len(fails), len(warns), tt.wantFails, tt.wantWarns)
			}
			var capped string
			for _, f := range append(fails, warns...) {
				if f.Rule == "findings-capped" {
					capped = f.Message
				}
			}
			if capped != tt.wantCapped {
				t.Errorf("findings-capped %q, want %q", capped, tt.wantCapped)
			}
		})
	}
}

// TestStrictJSON: a duplicate member name, invalid UTF-8 and a lone
// surrogate fail an object at every level, even one of another STIX
// version, at the pointer of the offending value.
func TestStrictJSON(t *testing.T) {
	v := newTestValidator(t)
	indicator := string(mustObject(t, "indicator.json", nil))
	tests := []struct {
		name, raw, wantRule, wantPtr string
	}{
		{"second id", strings.Replace(indicator, `"type":`, `"id":"indicator--9b1e2f3a-4c5d-4e6f-8a7b-9c0d1e2f3a4b","type":`, 1), "duplicate-member", "/id"},
		{"second pattern in a kill chain phase", strings.Replace(indicator, `"phase_name":"delivery"`, `"phase_name":"delivery","phase_name":"installation"`, 1), "duplicate-member", "/kill_chain_phases/0/phase_name"},
		{"invalid UTF-8", strings.Replace(indicator, `"Paper Lantern dropper hash"`, "\"Paper Lantern \xff\xfe dropper\"", 1), "invalid-utf8", "/name"},
		{"lone surrogate", strings.Replace(indicator, `"Paper Lantern dropper hash"`, `"Paper Lantern \ud800 dropper"`, 1), "lone-surrogate", "/name"},
		{"STIX 2.0 object", `{"type":"malware","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-01-01T00:00:00Z","modified":"2016-01-01T00:00:00Z","name":"x","labels":["trojan"],"name":"y"}`, "duplicate-member", "/name"},
	}
	for _, tt := range tests {
		for _, level := range []Level{LevelStrict, LevelDefault, LevelPermissive} {
			t.Run(tt.name+"/"+level.String(), func(t *testing.T) {
				_, _, err := v.Validate([]byte(tt.raw), level)
				ve, ok := err.(*ValidationError)
				if !ok {
					t.Fatalf("Validate = %v; want a %s failure at %s", err, tt.wantRule, tt.wantPtr)
				}
				if !slices.ContainsFunc(ve.Findings, func(f Finding) bool { return f.Rule == tt.wantRule && f.Pointer == tt.wantPtr }) {
					t.Errorf("failures %v; want %s at %s", ve, tt.wantRule, tt.wantPtr)
				}
			})
		}
	}
}
