package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
)

// bothSpecVersions are the media types of a collection that accepts STIX
// 2.0 and 2.1 objects.
var bothSpecVersions = []string{"application/stix+json;version=2.0", "application/stix+json;version=2.1"}

// exportFixture returns a store whose collection holds the valid objects
// of testdata/import/mixed.json and versions.json, of two spec versions.
func exportFixture(t *testing.T) string {
	t.Helper()
	data := bulkStore(t, bothSpecVersions...)
	stdout, stderr, code := runCLI(t, data, nil, "import", "--api-root", "bulk", "--collection", "intel",
		"../../testdata/import/mixed.json", "../../testdata/import/versions.json")
	if code != 1 || summaryCounts(stdout)["stored"] != 8 {
		t.Fatalf("import: exit status %d, want 1 with 8 objects stored; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	return data
}

// dateAdded returns the date_added of the version "id version" of the
// collection.
func dateAdded(t *testing.T, data, idVersion string) string {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(data, "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, _, _ := strings.Cut(idVersion, " ")
	p, err := s.Objects(t.Context(), collections.Query{APIRoot: "bulk", Collection: bulkCollID, IDs: []string{id}, Limit: 100,
		Versions: collections.VersionFilter{All: true}, AllSpecVersions: true, MetadataOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range p.Objects {
		if o.ID+" "+stix.FormatTimestamp(o.Version) == idVersion {
			return stix.FormatTimestamp(o.DateAdded)
		}
	}
	t.Fatalf("%s is not stored", idVersion)
	return ""
}

// exportedBundle is what export writes.
type exportedBundle struct {
	Type    string            `json:"type"`
	ID      string            `json:"id"`
	Objects []json.RawMessage `json:"objects"`
}

var bundleID = regexp.MustCompile(`^bundle--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// readBundle parses an exported bundle and checks its shape: a STIX
// bundle with a UUIDv4 id, and no other member.
func readBundle(t *testing.T, b []byte) exportedBundle {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		t.Fatalf("export is not a JSON object: %v\n%s", err, b)
	}
	for k := range members {
		if k != "type" && k != "id" && k != "objects" {
			t.Errorf("bundle member %q, want type, id and objects only", k)
		}
	}
	var bundle exportedBundle
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatal(err)
	}
	if bundle.Type != "bundle" || !bundleID.MatchString(bundle.ID) {
		t.Errorf("bundle type %q id %q, want bundle and bundle--<UUIDv4>", bundle.Type, bundle.ID)
	}
	return bundle
}

// TestExport: export writes the versions the flags select, in the order
// they were added, each exactly as stored, as one STIX bundle, to a file
// or to standard output; an empty selection is a bundle without objects.
func TestExport(t *testing.T) {
	data := exportFixture(t)
	const (
		identity = mixedIdentity + " 2024-05-01T08:00:00.000Z"
		ind1     = mixedIndicator + " 2024-05-02T10:00:00.000Z"
		ind2     = mixedIndicator + " 2024-06-20T16:45:00.000Z"
		ind3     = mixedIndicator + " 2024-09-01T07:15:00.000Z"
		mal20    = mixedMalware20 + " 2024-05-05T09:00:00.000Z" // STIX 2.0
		mal21    = mixedMalware20 + " 2024-08-01T09:00:00.000Z" // the same object in STIX 2.1
		malware  = mixedMalware + " 2024-05-06T11:00:00.000Z"
	)
	all := storedVersions(t, data)
	raw := map[string]string{}
	address := ""
	for _, s := range all {
		raw[s.ID+" "+s.Version] = s.Raw
		if s.ID == mixedAddress {
			address = s.ID + " " + s.Version
		}
	}
	if diff := cmp.Diff([]string{identity, ind1, ind2, mal20, address, malware, ind3, mal21}, idVersions(all)); diff != "" {
		t.Fatalf("fixture: stored versions (-want +got):\n%s", diff)
	}

	tests := []struct {
		name   string
		args   []string
		stdout bool // the bundle on standard output rather than in a file
		want   []string
	}{
		{"all versions", nil, false, []string{identity, ind1, ind2, mal20, address, malware, ind3, mal21}},
		{"all versions to standard output", []string{"--versions", "all"}, true, []string{identity, ind1, ind2, mal20, address, malware, ind3, mal21}},
		{"last version within each spec version", []string{"--versions", "last"}, false, []string{identity, mal20, address, malware, ind3, mal21}},
		{"added after", []string{"--added-after", dateAdded(t, data, malware)}, false, []string{ind3, mal21}},
		{"last versions added after", []string{"--versions", "last", "--added-after", dateAdded(t, data, ind2)}, false,
			[]string{mal20, address, malware, ind3, mal21}},
		{"nothing added after", []string{"--added-after", dateAdded(t, data, mal21)}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "export.json")
			args := append([]string{"export", "--api-root", "bulk", "--collection", "intel"}, tt.args...)
			if !tt.stdout {
				args = append(args, "-o", out)
			}
			stdout, stderr, code := runCLI(t, data, nil, args...)
			if code != 0 {
				t.Fatalf("export exit status %d; stderr:\n%s", code, stderr)
			}
			b := []byte(stdout)
			if !tt.stdout {
				if stdout != "" {
					t.Errorf("export to a file wrote %q to standard output", stdout)
				}
				var err error
				if b, err = os.ReadFile(out); err != nil {
					t.Fatal(err)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 1 {
					t.Errorf("the output directory holds %d files, want the export alone", len(entries))
				}
			}
			bundle := readBundle(t, b)
			var want, got []string
			for _, v := range tt.want {
				want = append(want, raw[v])
			}
			for _, o := range bundle.Objects {
				got = append(got, string(o))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("exported objects (-want stored +got):\n%s", diff)
			}
			if tt.want == nil && strings.Contains(string(b), `"objects"`) {
				t.Errorf("an empty export has an objects member (STIX lists may not be empty): %s", b)
			}
		})
	}
}

// TestExportRoundTrip: importing the export of every version into a new
// store gives it the same versions, with the same content, in the same
// order, whose export is the same objects again.
func TestExportRoundTrip(t *testing.T) {
	a := exportFixture(t)
	file := filepath.Join(t.TempDir(), "a.json")
	if _, stderr, code := runCLI(t, a, nil, "export", "--api-root", "bulk", "--collection", bulkCollID, "-o", file); code != 0 {
		t.Fatalf("export: exit status %d; stderr:\n%s", code, stderr)
	}
	b := bulkStore(t, bothSpecVersions...)
	stdout, stderr, code := runCLI(t, b, nil, "import", "--api-root", "bulk", "--collection", "intel", file)
	if code != 0 {
		t.Fatalf("import of the export: exit status %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// A cyber-observable without timestamps is versioned by its first
	// push: in the new store, by the import.
	versioned := func(s []stored) []stored {
		for i := range s {
			if s[i].ID == mixedAddress {
				s[i].Version = "(its first push)"
			}
		}
		return s
	}
	if diff := cmp.Diff(versioned(storedVersions(t, a)), versioned(storedVersions(t, b))); diff != "" {
		t.Errorf("versions of the new store (-exported +imported):\n%s", diff)
	}
	again := filepath.Join(t.TempDir(), "b.json")
	if _, stderr, code := runCLI(t, b, nil, "export", "--api-root", "bulk", "--collection", "intel", "-o", again); code != 0 {
		t.Fatalf("export of the new store: exit status %d; stderr:\n%s", code, stderr)
	}
	first, _ := os.ReadFile(file)
	second, _ := os.ReadFile(again)
	if diff := cmp.Diff(readBundle(t, first).Objects, readBundle(t, second).Objects); diff != "" {
		t.Errorf("objects of the two exports (-first +second):\n%s", diff)
	}
}

// TestExportRefused: an export that cannot run says why, with exit status
// 1, and writes no file.
func TestExportRefused(t *testing.T) {
	data := bulkStore(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown versions", []string{"--collection", "intel", "--versions", "first"}, "--versions must be all or last"},
		{"bad added-after", []string{"--collection", "intel", "--added-after", "yesterday"}, "--added-after"},
		{"unknown collection", []string{"--collection", "nope"}, `no collection "nope"`},
		{"positional argument", []string{"--collection", "intel", "extra.json"}, `unexpected argument "extra.json"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"export", "--api-root", "bulk", "-o", filepath.Join(dir, "out.json")}, tt.args...)
			_, stderr, code := runCLI(t, data, nil, args...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit status %d, stderr %q; want 1 and %q", code, stderr, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused export left %d files", len(entries))
			}
		})
	}
}
