package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
