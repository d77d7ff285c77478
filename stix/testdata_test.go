package stix

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestValidFixtures: every object in testdata/stix/valid passes, at every
// level, without warnings at the default level.
func TestValidFixtures(t *testing.T) {
	v := newTestValidator(t)
	files, _ := filepath.Glob("../testdata/stix/valid/*.json")
	if len(files) < 40 {
		t.Fatalf("found %d valid fixtures; want one per STIX type", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, level := range []Level{LevelStrict, LevelDefault, LevelPermissive} {
			if _, _, err := v.Validate(raw, level); err != nil {
				t.Errorf("%s at level %s: %v", filepath.Base(f), level, err)
			}
		}
	}
}

// invalidCase is a file of testdata/stix/invalid: an object and the check
// it must trigger.
type invalidCase struct {
	Check       string          `json:"check"`
	Pointer     string          `json:"pointer"`
	Level       string          `json:"level"` // default if empty
	Description string          `json:"description"`
	Object      json.RawMessage `json:"object"`
}

// TestInvalidFixtures: every object in testdata/stix/invalid fails with the
// check and at the JSON pointer its file names.
func TestInvalidFixtures(t *testing.T) {
	v := newTestValidator(t)
	files, _ := filepath.Glob("../testdata/stix/invalid/*.json")
	if len(files) < 150 {
		t.Fatalf("found %d invalid fixtures; want at least 150", len(files))
	}
	checks := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c invalidCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		level, err := ParseLevel(c.Level)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		checks[c.Check] = true
		_, _, err = v.Validate(c.Object, level)
		ve, ok := err.(*ValidationError)
		if !ok {
			t.Errorf("%s (%s): valid; want %s at %q", filepath.Base(f), c.Description, c.Check, c.Pointer)
			continue
		}
		found := false
		for _, fd := range ve.Findings {
			if fd.Rule == c.Check && fd.Pointer == c.Pointer {
				found = true
			}
		}
		if !found {
			t.Errorf("%s (%s): findings %v; want %s at %q", filepath.Base(f), c.Description, ve, c.Check, c.Pointer)
		}
	}
	t.Logf("%d fixtures, %d distinct checks", len(files), len(checks))
}

func newTestValidator(t testing.TB) *Validator {
	t.Helper()
	v, err := NewValidator(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
