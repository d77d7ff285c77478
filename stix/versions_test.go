package stix

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// versionRuleCodes are the rules of CheckNewVersion.
var versionRuleCodes = []string{"id-uuid-reused", "version-created", "version-after-revoked", "version-revoked-not-last"}

func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sdoVersion is a version of indicator--7d1c...: modified, optionally
// revoked, created 2024-01-01.
func sdoVersion(t testing.TB, modified string, revoked bool) Identity {
	created := ts(t, "2024-01-01T00:00:00.000Z")
	m := ts(t, modified)
	return Identity{ID: "indicator--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", Type: "indicator", SpecVersion: "2.1",
		Created: created, Modified: m, Version: m, Revoked: revoked}
}

func summarize(ids ...Identity) VersionSummary {
	var s VersionSummary
	for _, id := range ids {
		s = s.Add(id)
	}
	return s
}

func TestCheckNewVersion(t *testing.T) {
	v1 := sdoVersion(t, "2024-02-01T00:00:00.000Z", false)
	v2 := sdoVersion(t, "2024-03-01T00:00:00.000Z", false)
	v3 := sdoVersion(t, "2024-04-01T00:00:00.000Z", false)
	revoked := func(id Identity) Identity { id.Revoked = true; return id }
	recreated := v3
	recreated.Created = ts(t, "2024-01-15T00:00:00.000Z")
	malware := Identity{ID: "malware--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", Type: "malware", SpecVersion: "2.1", Created: v1.Created, Modified: v1.Modified, Version: v1.Version}
	// Deterministic ids: software and mutex named "lsass" share a UUIDv5.
	software := Identity{ID: "software--c0f9cdc3-8b45-56ec-b329-130b91d5ec70", Type: "software", SpecVersion: "2.1"}
	mutex := Identity{ID: "mutex--c0f9cdc3-8b45-56ec-b329-130b91d5ec70", Type: "mutex", SpecVersion: "2.1"}
	mutex4 := Identity{ID: "mutex--0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d", Type: "mutex", SpecVersion: "2.1"}
	software4 := Identity{ID: "software--0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d", Type: "software", SpecVersion: "2.1"}
	marking := Identity{ID: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Type: "marking-definition", SpecVersion: "2.1", Created: v1.Created, Version: v1.Created}

	tests := []struct {
		code, name string
		stored     []Identity
		next       Identity
		want       []string // pointers of findings of code
	}{
		{"id-uuid-reused", "nothing stored", nil, v1, nil},
		{"id-uuid-reused", "same type", []Identity{v1}, v2, nil},
		{"id-uuid-reused", "deterministic observables", []Identity{software}, mutex, nil},
		{"id-uuid-reused", "another type", []Identity{malware}, v2, []string{"/id"}},
		{"id-uuid-reused", "observables with UUIDv4", []Identity{software4}, mutex4, []string{"/id"}},
		{"id-uuid-reused", "observable after an object", []Identity{v1}, Identity{ID: "ipv4-addr--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", Type: "ipv4-addr"}, []string{"/id"}},

		{"version-created", "kept", []Identity{v1, v2}, v3, nil},
		{"version-created", "earlier version arriving late", []Identity{v1, v3}, v2, nil},
		{"version-created", "not versioned", []Identity{software}, software, nil},
		{"version-created", "changed", []Identity{v1, v2}, recreated, []string{"/created"}},

		{"version-after-revoked", "revocation is the latest", []Identity{v1, v2}, revoked(v3), nil},
		{"version-after-revoked", "earlier than the revocation", []Identity{v1, revoked(v3)}, v2, nil},
		{"version-after-revoked", "marking definition", []Identity{marking}, marking, nil},
		{"version-after-revoked", "after a revocation", []Identity{v1, revoked(v2)}, v3, []string{"/modified"}},
		{"version-after-revoked", "revoked after a revocation", []Identity{revoked(v2)}, revoked(v3), []string{"/modified"}},
		{"version-after-revoked", "after the first of two revocations", []Identity{revoked(v3), revoked(v1)}, v2, []string{"/modified"}},

		{"version-revoked-not-last", "revocation last", []Identity{v1}, revoked(v2), nil},
		{"version-revoked-not-last", "not revoked", []Identity{v1, v3}, v2, nil},
		{"version-revoked-not-last", "revocation before a stored version", []Identity{v1, v3}, revoked(v2), []string{"/revoked"}},
		{"version-revoked-not-last", "revocation before a stored revocation", []Identity{revoked(v3)}, revoked(v2), []string{"/revoked"}},
	}
	for _, tt := range tests {
		t.Run(tt.code+"/"+tt.name, func(t *testing.T) {
			var got []string
			for _, f := range CheckNewVersion(summarize(tt.stored...), tt.next) {
				if f.Message == "" {
					t.Errorf("finding %v has no message", f)
				}
				if f.Rule == tt.code {
					got = append(got, f.Pointer)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pointers of %s findings (-want +got):\n%s", tt.code, diff)
			}
		})
	}

	// Every rule has a positive and a negative case here and a fixture.
	pos, neg := map[string]bool{}, map[string]bool{}
	for _, tt := range tests {
		if tt.want == nil {
			pos[tt.code] = true
		} else {
			neg[tt.code] = true
		}
	}
	fixtures := versionFixtureChecks(t)
	for _, code := range versionRuleCodes {
		if !pos[code] || !neg[code] {
			t.Errorf("rule %s needs a positive and a negative case", code)
		}
		if !fixtures[code] {
			t.Errorf("rule %s has no fixture in testdata/stix/invalid", code)
		}
	}
	for code := range fixtures {
		if !slices.Contains(versionRuleCodes, code) {
			t.Errorf("cross-version fixture names %s, which is not a rule of CheckNewVersion", code)
		}
	}
}

// versionFixtureChecks returns the checks the cross-version fixtures of
// testdata/stix/invalid name (TestInvalidFixtures runs them).
func versionFixtureChecks(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob("../testdata/stix/invalid/*.json")
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
		if c.Stored != nil {
			checks[c.Check] = true
		}
	}
	return checks
}

// TestCheckNewVersionMessages: each failure names the stored version it
// conflicts with.
func TestCheckNewVersionMessages(t *testing.T) {
	v1 := sdoVersion(t, "2024-02-01T00:00:00.000Z", false)
	v2 := sdoVersion(t, "2024-03-01T00:00:00.000Z", true)
	v3 := sdoVersion(t, "2024-04-01T00:00:00.000Z", false)
	recreated := v3
	recreated.Created = ts(t, "2024-01-15T00:00:00.000Z")
	other := v1
	other.ID, other.Type = "malware--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "malware"
	early := sdoVersion(t, "2024-01-10T00:00:00.000Z", true)
	tests := []struct {
		stored []Identity
		next   Identity
		want   string
	}{
		{[]Identity{v1}, recreated, `/created: "2024-01-15T00:00:00.000Z" differs from created "2024-01-01T00:00:00.000Z" of the stored version "2024-02-01T00:00:00.000Z" of indicator--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f`},
		{[]Identity{v1, v2}, v3, `/modified: version "2024-04-01T00:00:00.000Z" is later than the stored version "2024-03-01T00:00:00.000Z" of indicator--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f, which is revoked`},
		{[]Identity{v1}, early, `/revoked: this version "2024-01-10T00:00:00.000Z" is revoked but the stored version "2024-02-01T00:00:00.000Z" of indicator--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f is later`},
		{[]Identity{other}, v3, `/id: the UUID of "indicator--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f" is already used by the stored version "2024-02-01T00:00:00.000Z" of malware--7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f in this collection`},
	}
	for _, tt := range tests {
		fs := CheckNewVersion(summarize(tt.stored...), tt.next)
		if len(fs) != 1 || !strings.HasPrefix(fs[0].String(), tt.want) {
			t.Errorf("CheckNewVersion = %v; want one finding starting %q", fs, tt.want)
		}
	}
}

// TestVersionSummaryAdd: the summary does not depend on the order in
// which versions are added.
func TestVersionSummaryAdd(t *testing.T) {
	vs := []Identity{
		sdoVersion(t, "2024-02-01T00:00:00.000Z", false),
		sdoVersion(t, "2024-05-01T00:00:00.000Z", true),
		sdoVersion(t, "2024-03-01T00:00:00.000Z", true),
		sdoVersion(t, "2024-04-01T00:00:00.000Z", false),
	}
	want := VersionSummary{ID: vs[0].ID, Type: "indicator", Created: vs[0].Created, Latest: vs[1].Version, Revoked: true, FirstRevoked: vs[2].Version}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
		var got VersionSummary
		for _, i := range order {
			got = got.Add(vs[i])
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("order %v (-want +got):\n%s", order, diff)
		}
	}
}

// TestIdentityVersionFacts: Validate returns what the cross-version rules
// need.
func TestIdentityVersionFacts(t *testing.T) {
	v := newTestValidator(t)
	tests := []struct {
		file string
		edit func(map[string]any)
		want Identity
	}{
		{"indicator.json", func(o map[string]any) { o["revoked"] = true }, Identity{
			ID: "indicator--ddf56dd4-915a-40d0-aa29-29aa8c935c3f", Type: "indicator", SpecVersion: "2.1",
			Created: ts(t, "2024-03-14T09:26:53.589Z"), Modified: ts(t, "2024-05-02T16:41:07.112Z"),
			Version: ts(t, "2024-05-02T16:41:07.112Z"), Revoked: true}},
		{"marking-definition.json", nil, Identity{
			ID: "marking-definition--5660c1c9-f45e-4957-acbc-6adc04d686bd", Type: "marking-definition", SpecVersion: "2.1",
			Created: ts(t, "2023-11-02T08:00:00.000Z"), Version: ts(t, "2023-11-02T08:00:00.000Z")}},
		{"ipv4-addr.json", nil, Identity{ID: "ipv4-addr--cec0294c-86c8-52cc-8448-ba43593736df", Type: "ipv4-addr", SpecVersion: "2.1"}},
	}
	for _, tt := range tests {
		id, _, err := v.Validate(mustObject(t, tt.file, tt.edit), LevelDefault)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if diff := cmp.Diff(tt.want, id); diff != "" {
			t.Errorf("%s: identity (-want +got):\n%s", tt.file, diff)
		}
	}
}
