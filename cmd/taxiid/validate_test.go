package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// TestSplitDocuments: the splitter hands out each object of a bundle,
// envelope or list, or the document when it is one object, with its exact
// bytes, whatever the sizes of the reads.
func TestSplitDocuments(t *testing.T) {
	tricky := `{"type":"x-acme","id":"x-acme--1","note":"braces } ] and \"quotes\\\" [ {","n":[1,{"a":[]}]}`
	tests := []struct {
		name string
		doc  string
		want []string // "where raw" or "where problem"
	}{
		{"bundle", `{"type":"bundle","id":"bundle--1","objects":[{"a":1}, {"b":[2,3]} ]}`,
			[]string{"f: objects[0] {\"a\":1}", "f: objects[1] {\"b\":[2,3]}"}},
		{"bundle with type last", ` {"objects" : [ {"a":1} ] , "id":"bundle--1", "type" : "bundle"} `,
			[]string{"f: objects[0] {\"a\":1}"}},
		{"envelope", `{"more":false,"objects":[` + tricky + `]}`, []string{"f: objects[0] " + tricky}},
		{"empty bundle", `{"type":"bundle","id":"bundle--1","objects":[]}`, nil},
		{"list", `[` + tricky + `, {"c":"]"}]`, []string{"f: objects[0] " + tricky, `f: objects[1] {"c":"]"}`}},
		{"single object", tricky, []string{"f: objects[0] " + tricky}},
		{"observed-data with its objects dictionary", `{"type":"observed-data","objects":{"0":{"type":"ipv4-addr"}},"id":"observed-data--1"}`,
			[]string{`f: objects[0] {"type":"observed-data","objects":{"0":{"type":"ipv4-addr"}},"id":"observed-data--1"}`}},
		{"custom object with an objects list, type first", `{"type":"x-acme-set","objects":[1,2]}`, []string{`f: objects[0] {"type":"x-acme-set","objects":[1,2]}`}},
		{"custom object with an objects list, type last", `{"objects":[{"a":1}],"type":"x-acme-set"}`,
			[]string{`f: objects[0] {"a":1}`, `f: not a STIX bundle, envelope, list or object: type "x-acme-set" follows an objects list`}},
		{"object without members", `{}`, []string{"f: objects[0] {}"}},
		{"duplicate member kept for the validator", `{"type":"x-a","type":"x-b"}`, []string{`f: objects[0] {"type":"x-a","type":"x-b"}`}},
		{"scalar members", `{"n":-1.5e3,"t":true,"z":null}`, []string{`f: objects[0] {"n":-1.5e3,"t":true,"z":null}`}},
		{"truncated", `{"type":"bundle","objects":[{"a":1},{"b":`, []string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: unexpected end of input"}},
		{"missing comma", `[{"a":1} {"b":2}]`, []string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: expected ',' or ']'"}},
		{"empty list item", `[{"a":1},,{"b":2}]`, []string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: expected a value"}},
		{"data after the document", `{"a":1} {"b":2}`, []string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: data after the document"}},
		{"not an object", `"bundle"`, []string{"f: not a STIX bundle, envelope, list or object: the document is neither"}},
		{"empty", ``, []string{"f: not a STIX bundle, envelope, list or object: unexpected end of input"}},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/one byte reads %v", tt.name, oneByte), func(t *testing.T) {
				r := strings.NewReader(tt.doc)
				s := &jsonSplitter{r: r, buf: make([]byte, 0, 8)}
				if oneByte {
					s.r = iotest.OneByteReader(r)
				}
				var got []string
				err := s.document("f", func(where string, raw []byte, problem string) {
					got = append(got, where+" "+string(raw))
				})
				if err != nil {
					var se *splitError
					if !errors.As(err, &se) {
						t.Fatalf("document error %v, want a *splitError", err)
					}
					got = append(got, "f: "+err.Error())
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				for i := range got {
					if !strings.HasPrefix(got[i], tt.want[i]) {
						t.Errorf("item %d = %q, want it to start with %q", i, got[i], tt.want[i])
					}
				}
			})
		}
	}
}

// TestValidateStreaming: the command checks a bundle of many objects on
// several workers and reports them in input order, the same as one worker,
// including a broken end of file.
func TestValidateStreaming(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	var b strings.Builder
	b.WriteString(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[`)
	var wantIDs []string
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		id := fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i)
		created := "2023-03-01T10:00:00.000Z"
		if i%7 == 3 {
			created = "2023-03-01T10:00:00Z" // no milliseconds: invalid
			wantIDs = append(wantIDs, id)
		}
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":%q,"created":%q,"modified":"2023-03-01T10:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2023-03-01T10:00:00Z"}`, id, created, i%256)
	}
	b.WriteString(`]}`)
	if err := os.WriteFile(filepath.Join(dir, "many.json"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// The second file stops in the middle of its second object.
	doc := b.String()
	second := strings.Index(doc, "\n") + 40
	if err := os.WriteFile(filepath.Join(dir, "cut.json"), []byte(doc[:second]), 0o600); err != nil {
		t.Fatal(err)
	}

	run := func(workers string) (string, int) {
		cmd := exec.Command(binary, "validate", "--workers", workers, "many.json", "cut.json")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	one, code := run("1")
	if code != 1 {
		t.Errorf("exit status %d, want 1\n%s", code, one)
	}
	var gotIDs []string
	for _, line := range strings.Split(one, "\n") {
		if strings.HasPrefix(line, "many.json: objects[") && strings.Contains(line, "lacks millisecond precision") {
			gotIDs = append(gotIDs, strings.TrimSuffix(strings.Fields(line)[2], ":"))
		}
	}
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("invalid objects reported (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		"cut.json: not a STIX bundle, envelope, list or object: unexpected end of input",
		fmt.Sprintf("%d objects checked at level default, %d invalid", n+1, len(wantIDs)+1),
	} {
		if !strings.Contains(one, want) {
			t.Errorf("output lacks %q:\n%s", want, one)
		}
	}
	if strings.Contains(one, "cut.json: objects[0] indicator--00000000-0000-4000-8000-000000000000: error") {
		t.Errorf("the complete object of the cut file is reported invalid:\n%s", one)
	}
	many, _ := run("8")
	if many != one {
		t.Errorf("output with 8 workers differs from output with 1 worker:\n%s", cmp.Diff(one, many))
	}
}
