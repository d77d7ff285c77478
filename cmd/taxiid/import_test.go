package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
)

// bulkCollID is the collection the import and export tests work on, in
// the API root "bulk", alias "intel".
const bulkCollID = "5e0c3f1a-8b2d-4c6e-9f1a-2b3c4d5e6f70"

// bulkStore returns a data directory with a store holding the API root
// "bulk" and its collection bulkCollID, alias "intel", accepting the STIX
// versions of mediaTypes (default: 2.1 only).
func bulkStore(t *testing.T, mediaTypes ...string) string {
	t.Helper()
	if len(mediaTypes) == 0 {
		mediaTypes = []string{"application/stix+json;version=2.1"}
	}
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), filepath.Join(dir, "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutAPIRoot(t.Context(), collections.APIRoot{Path: "bulk", Title: "Bulk", MaxContentLength: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCollection(t.Context(), collections.Collection{APIRoot: "bulk", ID: bulkCollID, Alias: "intel",
		Title: "Intel", MediaTypes: mediaTypes}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stored is one stored version as the store returns it.
type stored struct {
	ID, Version string
	Raw         string
}

// storedVersions returns every version stored in the collection, of every
// spec version, in the order they were added.
func storedVersions(t *testing.T, data string) []stored {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(data, "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []stored
	q := collections.Query{APIRoot: "bulk", Collection: bulkCollID, Limit: 1000,
		Versions: collections.VersionFilter{All: true}, AllSpecVersions: true}
	for {
		p, err := s.Objects(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Objects {
			out = append(out, stored{ID: o.ID, Version: stix.FormatTimestamp(o.Version), Raw: string(o.Raw)})
		}
		if !p.More {
			return out
		}
		q.AddedAfter = p.Objects[len(p.Objects)-1].DateAdded
	}
}

// idVersions lists "id version" of each stored version.
func idVersions(s []stored) []string {
	out := make([]string, len(s))
	for i, o := range s {
		out[i] = o.ID + " " + o.Version
	}
	return out
}

// runCLI runs taxiid with args, TAXIID_DATA=data and USER=tester (the name
// the admin commands audit), standard input stdin (may be nil), and
// returns its output and exit status.
func runCLI(t *testing.T, data string, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runIn(t, "", []string{"TAXIID_DATA=" + data, "USER=tester"}, stdin, args...)
}

// runIn runs taxiid with args in dir ("": the test's directory) with
// exactly the environment env and standard input stdin (may be nil), and
// returns its output and exit status.
func runIn(t *testing.T, dir string, env []string, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// reportLine is one line of an import's --report.
type reportLine struct {
	File    string `json:"file"`
	Index   int    `json:"index"`
	ID      string `json:"id"`
	Version string `json:"version"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func readReport(t *testing.T, path string) []reportLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []reportLine
	for l := range strings.Lines(string(b)) {
		var r reportLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("report line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

var summaryCount = regexp.MustCompile(`(?m)^ {2,4}(\S+) +(\d+)$`)

// summaryCounts reads the counts of an import's summary: stored,
// unchanged, rejected and the count of each reason.
func summaryCounts(stdout string) map[string]int {
	out := map[string]int{}
	for _, m := range summaryCount.FindAllStringSubmatch(stdout, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	return out
}

// The objects of testdata/import/mixed.json.
const (
	mixedIdentity  = "identity--6f1d7a54-2c1b-4f7e-9d3a-8b5e4c2a1f00"
	mixedIndicator = "indicator--3a8e7c21-94b6-4d0f-8e5a-1c7b2d9f6e40"
	mixedNoPattern = "indicator--c4d2e9b7-51a3-4f86-b0e2-7a9d3c5f1b62"
	mixedMalware20 = "malware--8d2f4a6c-0b1e-4c3d-9a5f-7e6b8c1d2a30"
	mixedAddress   = "ipv4-addr--e7c0a1b2-3d4f-5a6b-8c7d-9e0f1a2b3c4d"
	mixedMalware   = "malware--5b9e1c3d-7f2a-4e6b-8d0c-2a4f6e8b1d93"
)

// TestImport: a bundle of valid, repeated and invalid objects is imported
// with the rules of a push: the summary counts each outcome and each
// reason, the report says what happened to each object, and the store
// holds exactly the valid versions. Importing it again changes nothing
// stored: what was stored is unchanged, what was rejected is rejected
// again.
func TestImport(t *testing.T) {
	data := bulkStore(t)
	const file = "../../testdata/import/mixed.json"
	wantStored := []string{mixedIdentity + " 2024-05-01T08:00:00.000Z", mixedIndicator + " 2024-05-02T10:00:00.000Z",
		mixedIndicator + " 2024-06-20T16:45:00.000Z", mixedAddress + " ?", mixedMalware + " 2024-05-06T11:00:00.000Z"}
	// The rejected objects: a different identity under a stored version, an
	// indicator without pattern, a malware without id, a version with
	// another created, a STIX 2.0 object the collection does not accept.
	rejected := []reportLine{
		{Index: 4, ID: mixedIdentity, Version: "2024-05-01T08:00:00.000Z", Outcome: "rejected", Reason: collections.ReasonConflict},
		{Index: 5, ID: mixedNoPattern, Version: "2024-05-03T09:00:00.000Z", Outcome: "rejected", Reason: "schema-required"},
		{Index: 6, Version: "2024-05-04T09:00:00.000Z", Outcome: "rejected", Reason: "required"},
		{Index: 7, ID: mixedIndicator, Version: "2024-07-01T12:00:00.000Z", Outcome: "rejected", Reason: collections.ReasonCrossVersion},
		{Index: 8, ID: mixedMalware20, Version: "2024-05-05T09:00:00.000Z", Outcome: "rejected", Reason: collections.ReasonSpecVersion},
	}
	// Outcomes of the valid objects, by index, on the first run; the
	// indicator at 3 repeats the one at 1 (other member order and spacing).
	firstRun := map[int]string{0: "stored", 1: "stored", 2: "stored", 3: "unchanged", 9: "stored", 10: "stored"}
	ids := map[int]string{0: mixedIdentity, 1: mixedIndicator, 2: mixedIndicator, 3: mixedIndicator, 9: mixedAddress, 10: mixedMalware}
	versions := map[int]string{0: "2024-05-01T08:00:00.000Z", 1: "2024-05-02T10:00:00.000Z", 2: "2024-06-20T16:45:00.000Z",
		3: "2024-05-02T10:00:00.000Z", 10: "2024-05-06T11:00:00.000Z"}

	var first []stored
	for run, outcomes := range []map[int]string{firstRun, {0: "unchanged", 1: "unchanged", 2: "unchanged", 3: "unchanged", 9: "unchanged", 10: "unchanged"}} {
		t.Run(fmt.Sprintf("run %d", run+1), func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.jsonl")
			stdout, stderr, code := runCLI(t, data, nil, "import", "--api-root", "bulk", "--collection", "intel", "--report", report, file)
			if code != 1 {
				t.Fatalf("import exit status %d, want 1 (objects rejected); stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			got := storedVersions(t, data)
			if run == 0 {
				first = got
			}
			// The address has no timestamp: its version is the time of its
			// first import.
			address := ""
			for _, s := range got {
				if s.ID == mixedAddress {
					address = s.Version
				}
			}
			versions[9] = address
			want := slicesReplace(wantStored, mixedAddress+" ?", mixedAddress+" "+address)
			if diff := cmp.Diff(want, idVersions(got)); diff != "" {
				t.Errorf("stored versions (-want +got):\n%s", diff)
			}
			if run > 0 {
				if diff := cmp.Diff(first, got); diff != "" {
					t.Errorf("the second import changed the store (-first +second):\n%s", diff)
				}
			}

			wantReport := append([]reportLine(nil), rejected...)
			for i, outcome := range outcomes {
				wantReport = append(wantReport, reportLine{Index: i, ID: ids[i], Version: versions[i], Outcome: outcome})
			}
			gotReport := readReport(t, report)
			for i := range gotReport {
				if gotReport[i].File != file {
					t.Errorf("report line %d names file %q, want %q", i, gotReport[i].File, file)
				}
				if gotReport[i].Outcome == "rejected" && gotReport[i].Message == "" {
					t.Errorf("report line %d: a rejected object without message", i)
				}
				if gotReport[i].Outcome == "unchanged" && gotReport[i].Message != collections.MsgUnchanged {
					t.Errorf("report line %d: message %q, want %q", i, gotReport[i].Message, collections.MsgUnchanged)
				}
				gotReport[i].File, gotReport[i].Message = "", ""
			}
			sortByIndex(wantReport)
			if diff := cmp.Diff(wantReport, gotReport); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}

			wantCounts := map[string]int{"stored": 0, "unchanged": 0, "rejected": len(rejected)}
			for _, o := range outcomes {
				wantCounts[o]++
			}
			for _, r := range rejected {
				wantCounts[r.Reason]++
			}
			if diff := cmp.Diff(wantCounts, summaryCounts(stdout)); diff != "" {
				t.Errorf("summary counts (-want +got):\n%s\nsummary:\n%s", diff, stdout)
			}
			if !strings.Contains(stdout, "objects[5] "+mixedNoPattern+": /pattern:") {
				t.Errorf("summary does not list the indicator without pattern with its problem:\n%s", stdout)
			}
		})
	}
}

func slicesReplace(s []string, old, new string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		if out[i] == old {
			out[i] = new
		}
	}
	return out
}

func sortByIndex(r []reportLine) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j].Index < r[j-1].Index; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

// indicatorBundle returns a bundle of n indicators, each with its own id,
// and the offset in it just after the object at index cut and its comma.
func indicatorBundle(n, cut int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString(`{"type":"bundle","id":"bundle--1f6b4c2a-9d3e-4a7b-8c5d-0e1f2a3b4c5d","objects":[` + "\n")
	at := 0
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		if i == cut {
			at = b.Len()
		}
		ts := stix.FormatTimestamp(t0.Add(time.Duration(i) * time.Minute))
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-7d1e-4c2b-9a3f-%012x","created":"%s","modified":"%s",`+
			`"name":"host %d","pattern":"[ipv4-addr:value = '203.0.113.%d']","pattern_type":"stix","valid_from":"%s"}`,
			i, i, ts, ts, i, i%256, ts)
	}
	b.WriteString("\n]}\n")
	return b.Bytes(), at
}

var progressObjects = regexp.MustCompile(`(?m)^(\d+) objects imported`)

// TestImportInterrupted: an import cut short, by a kill while it reads or
// by a file that ends too early, leaves the objects it had stored; running
// it again on the whole file ends with the store a single import gives,
// the objects stored before unchanged.
func TestImportInterrupted(t *testing.T) {
	const n, cut = 2000, 1500
	bundle, at := indicatorBundle(n, cut)
	whole := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(whole, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	once := bulkStore(t)
	if stdout, stderr, code := runCLI(t, once, nil, "import", "--api-root", "bulk", "--collection", bulkCollID, whole); code != 0 {
		t.Fatalf("import exit status %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := storedVersions(t, once)
	if len(want) != n {
		t.Fatalf("a single import stored %d versions, want %d", len(want), n)
	}

	tests := []struct {
		name      string
		interrupt func(t *testing.T, data string)
	}{
		{"killed while reading", func(t *testing.T, data string) {
			// The first objects come through a pipe that stays open: the
			// process stores them and waits for more, and is killed then.
			cmd := exec.Command(binary, "import", "--api-root", "bulk", "--collection", "intel",
				"--progress", "lines", "--progress-interval", "20ms", "-")
			cmd.Env = []string{"TAXIID_DATA=" + data}
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			if _, err := in.Write(bundle[:at]); err != nil {
				t.Fatal(err)
			}
			stored := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					if m := progressObjects.FindStringSubmatch(sc.Text()); m != nil && m[1] == strconv.Itoa(cut) {
						stored <- true
						io.Copy(io.Discard, stderr)
						return
					}
				}
				stored <- false
			}()
			select {
			case ok := <-stored:
				if !ok {
					t.Fatalf("import ended before reporting %d objects imported", cut)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("import did not report %d objects imported within 30 s", cut)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}},
		{"file ending early", func(t *testing.T, data string) {
			// Cut in the middle of the object after the last whole one.
			part := filepath.Join(t.TempDir(), "part.json")
			if err := os.WriteFile(part, bundle[:at+40], 0o600); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := runCLI(t, data, nil, "import", "--api-root", "bulk", "--collection", "intel", part)
			if code != 1 || !strings.Contains(stdout, part+": not a STIX bundle, envelope, list or object: unexpected end of input") {
				t.Errorf("import of a cut file: exit status %d, want 1 and the file's problem; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bulkStore(t)
			tt.interrupt(t, data)
			if got := storedVersions(t, data); !cmp.Equal(idVersions(got), idVersions(want[:cut])) {
				t.Fatalf("after the interruption the store holds %d versions, want the %d read", len(got), cut)
			}
			report := filepath.Join(t.TempDir(), "report.jsonl")
			stdout, stderr, code := runCLI(t, data, nil, "import", "--api-root", "bulk", "--collection", "intel", "--report", report, whole)
			if code != 0 {
				t.Fatalf("import again: exit status %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if diff := cmp.Diff(want, storedVersions(t, data)); diff != "" {
				t.Errorf("store after the import again differs from a single import (-single +again):\n%s", diff)
			}
			for i, l := range readReport(t, report) {
				wantOutcome := "unchanged"
				if i >= cut {
					wantOutcome = "stored"
				}
				if l.Index != i || l.Outcome != wantOutcome {
					t.Fatalf("report line %d: objects[%d] %s, want objects[%d] %s", i, l.Index, l.Outcome, i, wantOutcome)
				}
			}
		})
	}
}

// TestImportRefused: an import that cannot run stores nothing and says
// why, with exit status 1.
func TestImportRefused(t *testing.T) {
	const file = "../../testdata/import/mixed.json"
	tests := []struct {
		name string
		args []string
		want string // in standard error
	}{
		{"no collection", []string{"--api-root", "bulk", file}, "--collection is required"},
		{"unknown collection", []string{"--api-root", "bulk", "--collection", "nope", file}, `no collection "nope"`},
		{"unknown API root", []string{"--api-root", "nope", "--collection", "intel", file}, `no API root "nope"`},
		{"a missing file among others", []string{"--api-root", "bulk", "--collection", "intel", file, "missing.json"}, "missing.json"},
		{"no file", []string{"--api-root", "bulk", "--collection", "intel"}, "name the files"},
		{"standard input twice", []string{"--api-root", "bulk", "--collection", "intel", "-", "-"}, "standard input (-) can be read once"},
		{"unknown level", []string{"--api-root", "bulk", "--collection", "intel", "--validation", "lax", file}, "--validation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bulkStore(t)
			_, stderr, code := runCLI(t, data, strings.NewReader(""), append([]string{"import"}, tt.args...)...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit status %d, stderr %q; want 1 and %q", code, stderr, tt.want)
			}
			if got := storedVersions(t, data); len(got) != 0 {
				t.Errorf("the store holds %v, want nothing", idVersions(got))
			}
		})
	}
	t.Run("no store", func(t *testing.T) {
		data := t.TempDir()
		_, stderr, code := runCLI(t, data, nil, "import", "--api-root", "bulk", "--collection", "intel", file)
		if code != 1 || !strings.Contains(stderr, "no store at") {
			t.Errorf("exit status %d, stderr %q; want 1 and no store", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(data, "taxiid.db")); err == nil {
			t.Error("import created a store")
		}
	})
}
