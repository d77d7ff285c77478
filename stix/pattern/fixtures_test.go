package pattern

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureReasons says why each invalid indicator fixture of
// testdata/stix/invalid fails: the stix meta-test only sees the rule code,
// so this keeps a fixture from passing for another reason than its own.
var fixtureReasons = map[string]string{
	"rule-indicator-pattern-1.json": "expected ']' to close the observation expression",
	"rule-indicator-pattern-2.json": "must be enclosed in square brackets",
	"rule-indicator-pattern-3.json": `expected a constant after =, found "="`,
	"rule-indicator-pattern-4.json": "expected '[' or '(' to start an observation expression, found end of pattern",
	"rule-indicator-pattern-5.json": "MATCHES takes a PCRE regular expression: missing closing )",
	"rule-indicator-pattern-6.json": "ISSUBSET applies only to the value of an ipv4-addr or ipv6-addr object",
	"rule-indicator-pattern-7.json": "ISSUPERSET on ipv4-addr:value takes an IPv4 address or CIDR block",
	"rule-indicator-pattern-8.json": "> cannot compare with the boolean false",
}

// TestFixtures parses the patterns of the indicator fixtures: the valid
// ones parse, the invalid ones fail for the reason fixtureReasons gives.
func TestFixtures(t *testing.T) {
	pattern := func(file string, obj json.RawMessage) string {
		var ind struct {
			Pattern     string `json:"pattern"`
			PatternType string `json:"pattern_type"`
		}
		if err := json.Unmarshal(obj, &ind); err != nil || ind.PatternType != "stix" {
			t.Fatalf("%s: not an indicator with a STIX pattern: %v", file, err)
		}
		return ind.Pattern
	}
	valid, _ := filepath.Glob("../../testdata/stix/valid/indicator*.json")
	if len(valid) < 8 {
		t.Fatalf("found %d valid indicator fixtures, want at least 8", len(valid))
	}
	for _, f := range valid {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(pattern(f, b)); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	invalid, _ := filepath.Glob("../../testdata/stix/invalid/rule-indicator-pattern-*.json")
	if len(invalid) != len(fixtureReasons) {
		t.Errorf("found %d invalid pattern fixtures, fixtureReasons has %d", len(invalid), len(fixtureReasons))
	}
	for _, f := range invalid {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Object json.RawMessage }
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want, ok := fixtureReasons[filepath.Base(f)]
		if !ok {
			t.Errorf("%s: no entry in fixtureReasons", filepath.Base(f))
			continue
		}
		if _, err := Parse(pattern(f, c.Object)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v; want ...%s...", filepath.Base(f), err, want)
		}
	}
}
