package stix

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestValidFixtures: every object in testdata/stix/valid passes, at every
// level, without warnings at the default level. A fixture of the form
// {"stored": [...], "object": {...}} is a cross-version case: the stored
// versions and the object are valid, and CheckNewVersion accepts the
// object after them.
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
		var c versionCase
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if c.Stored != nil {
			for _, level := range []Level{LevelStrict, LevelDefault} {
				if fs := checkVersionCase(t, v, filepath.Base(f), c, level); fs != nil {
					t.Errorf("%s at level %s: CheckNewVersion = %v; want nothing", filepath.Base(f), level, fs)
				}
			}
			continue
		}
		for _, level := range []Level{LevelStrict, LevelDefault, LevelPermissive} {
			if _, warns, err := v.Validate(raw, level); err != nil {
				t.Errorf("%s at level %s: %v", filepath.Base(f), level, err)
			} else if level == LevelDefault && len(warns) > 0 {
				t.Errorf("%s: warnings %v", filepath.Base(f), warns)
			}
		}
	}
}

// versionCase is a cross-version fixture: the versions a collection holds
// and an object pushed after them.
type versionCase struct {
	Stored []json.RawMessage `json:"stored"`
	Object json.RawMessage   `json:"object"`
}

// checkVersionCase validates the stored versions and the object, which
// must be valid on their own, and returns what CheckNewVersion says of the
// object after the stored versions.
func checkVersionCase(t *testing.T, v *Validator, name string, c versionCase, level Level) []Finding {
	t.Helper()
	var stored VersionSummary
	for i, raw := range c.Stored {
		id, _, err := v.Validate(raw, level)
		if err != nil {
			t.Fatalf("%s: stored[%d] at level %s: %v", name, i, level, err)
		}
		if fs := CheckNewVersion(stored, id); fs != nil {
			t.Fatalf("%s: stored[%d] does not follow the stored versions before it: %v", name, i, fs)
		}
		stored = stored.Add(id)
	}
	id, _, err := v.Validate(c.Object, level)
	if err != nil {
		t.Fatalf("%s: object at level %s: %v", name, level, err)
	}
	return CheckNewVersion(stored, id)
}

// invalidCase is a file of testdata/stix/invalid: an object and the check
// it must trigger.
type invalidCase struct {
	Check       string          `json:"check"`
	Pointer     string          `json:"pointer"`
	Level       string          `json:"level"` // default if empty
	Description string          `json:"description"`
	Object      json.RawMessage `json:"object"`
	// Stored, for a cross-version case, are the versions the collection
	// holds before the object is pushed; CheckNewVersion must report the
	// check.
	Stored []json.RawMessage `json:"stored"`
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
		if c.Stored != nil {
			fs := checkVersionCase(t, v, filepath.Base(f), versionCase{Stored: c.Stored, Object: c.Object}, level)
			if !slices.ContainsFunc(fs, func(fd Finding) bool { return fd.Rule == c.Check && fd.Pointer == c.Pointer }) {
				t.Errorf("%s (%s): CheckNewVersion = %v; want %s at %q", filepath.Base(f), c.Description, fs, c.Check, c.Pointer)
			}
			continue
		}
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
