package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/sqlite"
)

// newStoreDir returns a data directory with an empty store in it.
func newStoreDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// adminRun runs `taxiid admin ARGS` as a process with TAXIID_DATA=data and
// stdin, and returns its output and exit status.
func adminRun(t *testing.T, data, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLI(t, data, strings.NewReader(stdin), append([]string{"admin"}, args...)...)
}

// cliStep is one command of TestAdminCLI.
type cliStep struct {
	args  []string // {name} is replaced by a saved value
	stdin string
	code  int
	// stderr, when set, must appear in the standard error (the field of a
	// refused input, say).
	stderr string
	save   map[string]string // saved name -> member of the JSON output
	check  func(t *testing.T, out map[string]any, stdout string)
}

// TestAdminCLI: `taxiid admin` manages the store without a server, as a
// process: JSON out, errors to stderr with status 1 and the store
// unchanged, names accepted for ids, the configuration file's declarations
// protected, every change audited as the command's.
func TestAdminCLI(t *testing.T) {
	data := newStoreDir(t)
	conf := filepath.Join(t.TempDir(), "taxiid.yaml")
	const declared = "1d000000-0000-4000-8000-000000000001"
	if err := os.WriteFile(conf, []byte("api_roots:\n  - path: conf\n    title: Declared\n    collections:\n      - id: "+declared+"\n        title: Declared\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	saved := map[string]string{}
	ids := func(out map[string]any, member string) []string {
		var got []string
		items, _ := out["items"].([]any)
		for _, it := range items {
			got = append(got, it.(map[string]any)[member].(string))
		}
		return got
	}
	steps := []cliStep{
		{args: []string{"orgs", "create", "--name", "ACME", "--description", "a partner"}, save: map[string]string{"acme": "id"}},
		{args: []string{"orgs", "create", "--name", "ACME"}, code: 1, stderr: "name"},
		{args: []string{"orgs", "create"}, code: 1, stderr: "invalid name: missing"},
		{args: []string{"orgs", "create", "--name", "Beta"}, save: map[string]string{"beta": "id"}},
		{args: []string{"orgs", "list", "--limit", "1"}, check: func(t *testing.T, out map[string]any, _ string) {
			if diff := cmp.Diff([]string{"ACME"}, ids(out, "name")); diff != "" || out["next"] == nil {
				t.Errorf("first page of one organization (-want +got):\n%s\n%v", diff, out)
			}
		}},
		{args: []string{"orgs", "list", "--all", "--limit", "1"}, check: func(t *testing.T, out map[string]any, _ string) {
			if diff := cmp.Diff([]string{"ACME", "Beta"}, ids(out, "name")); diff != "" {
				t.Errorf("every organization, in pages of one (-want +got):\n%s", diff)
			}
		}},
		{args: []string{"orgs", "update", "ACME", "--description", "changed"}, check: func(t *testing.T, out map[string]any, _ string) {
			if out["description"] != "changed" || out["name"] != "ACME" {
				t.Errorf("updated organization: %v", out)
			}
		}},
		{args: []string{"users", "create", "--name", "alice", "--org", "ACME", "--generate-password"},
			save: map[string]string{"alice": "id", "alicepw": "password"}, check: func(t *testing.T, out map[string]any, _ string) {
				if out["organization_id"] != saved["acme"] || out["role"] != "member" || len(out["password"].(string)) < 20 {
					t.Errorf("created user: %v", out)
				}
			}},
		{args: []string{"users", "create", "--name", "olga", "--org", "{acme}", "--role", "org-admin", "--password-stdin"},
			stdin: "olga's long password\n", check: func(t *testing.T, out map[string]any, _ string) {
				if out["has_password"] != true || out["password"] != nil {
					t.Errorf("user created with a password from stdin: %v", out)
				}
			}},
		{args: []string{"users", "create", "--name", "bob", "--org", "nope"}, code: 1, stderr: "organization_id"},
		{args: []string{"users", "create", "--name", "bob", "--org", "Beta", "--role", "root"}, code: 1, stderr: "role"},
		{args: []string{"users", "create", "--name", "bob", "--org", "Beta", "--password-stdin"}, stdin: "short\n", code: 1, stderr: "password"},
		{args: []string{"users", "list", "--org", "ACME", "-o", "table"}, check: func(t *testing.T, _ map[string]any, stdout string) {
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "ORGANIZATION_ID") ||
				!strings.Contains(lines[1], " alice ") || !strings.Contains(lines[2], " olga ") {
				t.Errorf("users of ACME as a table:\n%s", stdout)
			}
		}},
		{args: []string{"users", "update", "alice", "--disabled"}, check: func(t *testing.T, out map[string]any, _ string) {
			if out["disabled"] != true {
				t.Errorf("disabled user: %v", out)
			}
		}},
		{args: []string{"users", "update", "alice", "--disabled=false", "--role", "org-admin"}, check: func(t *testing.T, out map[string]any, _ string) {
			if out["disabled"] != false || out["role"] != "org-admin" {
				t.Errorf("re-enabled user: %v", out)
			}
		}},
		{args: []string{"users", "password", "alice"}, check: func(t *testing.T, out map[string]any, _ string) {
			if pw, _ := out["password"].(string); pw == "" || pw == saved["alicepw"] {
				t.Errorf("password reset: %v", out)
			}
		}},
		{args: []string{"tokens", "create", "alice", "--name", "ci", "--expires-in", "720h"}, save: map[string]string{"token": "id"},
			check: func(t *testing.T, out map[string]any, _ string) {
				exp, _ := time.Parse(time.RFC3339, out["expires_at"].(string))
				if s, _ := out["secret"].(string); !strings.HasPrefix(s, "taxiid_") || time.Until(exp) < 719*time.Hour {
					t.Errorf("token: %v", out)
				}
			}},
		{args: []string{"tokens", "create", "alice", "--name", "ci"}, code: 1, stderr: "name"},
		{args: []string{"tokens", "create", "alice", "--name", "x", "--expires-at", "2000-01-01T00:00:00Z"}, code: 1, stderr: "expires_at"},
		{args: []string{"tokens", "revoke", "alice", "{token}"}, check: func(t *testing.T, out map[string]any, _ string) {
			if out["active"] != false || out["revoked_at"] == nil {
				t.Errorf("revoked token: %v", out)
			}
		}},
		{args: []string{"tokens", "list", "alice"}, check: func(t *testing.T, out map[string]any, _ string) {
			if diff := cmp.Diff([]string{saved["token"]}, ids(out, "id")); diff != "" {
				t.Errorf("alice's tokens (-want +got):\n%s", diff)
			}
		}},
		{args: []string{"tokens", "delete", "alice", "{token}"}},
		{args: []string{"tokens", "get", "alice", "{token}"}, code: 1, stderr: "not found"},
		{args: []string{"api-roots", "create", "--path", "intel", "--title", "Intel"}},
		{args: []string{"api-roots", "create", "--path", "taxii2", "--title", "x"}, code: 1, stderr: "path"},
		{args: []string{"api-roots", "update", "intel", "--max-content-length", "1048576"}, check: func(t *testing.T, out map[string]any, _ string) {
			if out["max_content_length"] != float64(1<<20) {
				t.Errorf("updated API root: %v", out)
			}
		}},
		{args: []string{"collections", "create", "intel", "--title", "Feed", "--alias", "feed", "--validation", "strict"}, save: map[string]string{"feed": "id"}},
		{args: []string{"collections", "create", "intel", "--title", "Other", "--alias", "feed"}, code: 1, stderr: "alias"},
		{args: []string{"collections", "create", "intel", "--title", "Other", "--media-type", "text/plain"}, code: 1, stderr: "media_types"},
		{args: []string{"collections", "update", "intel", "feed", "--description", "the feed"}, check: func(t *testing.T, out map[string]any, _ string) {
			if out["id"] != saved["feed"] || out["description"] != "the feed" || out["validation"] != "strict" {
				t.Errorf("updated collection: %v", out)
			}
		}},
		// The level recorded for versions pushed without a TLP marking.
		{args: []string{"collections", "update", "intel", "feed", "--unmarked-tlp", "green"}, check: func(t *testing.T, out map[string]any, _ string) {
			if out["unmarked_tlp"] != "green" || out["validation"] != "strict" || out["description"] != "the feed" {
				t.Errorf("collection with an unmarked level: %v", out)
			}
		}},
		{args: []string{"collections", "update", "intel", "feed", "--unmarked-tlp", "purple"}, code: 1, stderr: "unmarked_tlp"},
		{args: []string{"audit", "--action", "admin.collection.update"}, check: func(t *testing.T, out map[string]any, _ string) {
			var got []string
			items, _ := out["items"].([]any)
			for _, it := range items {
				d := it.(map[string]any)["details"].(map[string]any)
				got = append(got, fmt.Sprintf("%v -> %v", d["before"].(map[string]any)["unmarked_tlp"], d["after"].(map[string]any)["unmarked_tlp"]))
			}
			// Newest first: the level, then the description.
			if diff := cmp.Diff([]string{"red -> green", "red -> red"}, got); diff != "" {
				t.Errorf("audited unmarked levels (-want +got):\n%s", diff)
			}
		}},
		{args: []string{"collections", "create", "intel", "--title", "Graded", "--unmarked-tlp", "TLP:WHITE"}, save: map[string]string{"graded": "id"},
			check: func(t *testing.T, out map[string]any, _ string) {
				if out["unmarked_tlp"] != "clear" {
					t.Errorf("collection created with an unmarked level: %v", out)
				}
			}},
		{args: []string{"collections", "get", "intel", "{graded}"}, check: func(t *testing.T, out map[string]any, _ string) {
			if out["unmarked_tlp"] != "clear" {
				t.Errorf("stored unmarked level: %v", out)
			}
		}},
		{args: []string{"collections", "delete", "intel", "{graded}"}},
		{args: []string{"grants", "create", "--org", "ACME", "--api-root", "intel", "--collection", "feed", "--action", "read"}, save: map[string]string{"grant": "id"}},
		{args: []string{"grants", "create", "--public", "--api-root", "intel", "--collection", "feed", "--action", "read"}, save: map[string]string{"public": "id"}},
		{args: []string{"grants", "create", "--public", "--api-root", "intel", "--collection", "feed", "--action", "write"}, code: 1, stderr: "action"},
		{args: []string{"grants", "create", "--org", "ACME", "--user", "alice", "--api-root", "intel", "--collection", "feed", "--action", "read"}, code: 1, stderr: "exclude"},
		{args: []string{"grants", "list", "--org", "ACME"}, check: func(t *testing.T, out map[string]any, _ string) {
			if diff := cmp.Diff([]string{saved["grant"]}, ids(out, "id")); diff != "" {
				t.Errorf("grants of ACME (-want +got):\n%s", diff)
			}
		}},
		{args: []string{"collections", "access", "intel", "feed"}, check: func(t *testing.T, out map[string]any, _ string) {
			if diff := cmp.Diff([]string{saved["grant"], saved["public"]}, ids(out, "id")); diff != "" {
				t.Errorf("who reaches the feed (-want +got):\n%s", diff)
			}
		}},
		{args: []string{"orgs", "access", "Beta"}, check: func(t *testing.T, out map[string]any, _ string) {
			if diff := cmp.Diff([]string{saved["public"]}, ids(out, "id")); diff != "" {
				t.Errorf("what Beta reaches (-want +got):\n%s", diff)
			}
		}},
		// Sharing conditions.
		{args: []string{"grants", "conditions", "{grant}", "--max-tlp", "amber", "--embargo", "24h", "--hide-creator",
			"--hide-source", "internal", "--hide-source", "partner x"}, check: func(t *testing.T, out map[string]any, _ string) {
			want := map[string]any{"max_tlp": "amber", "embargo_seconds": 86400.0, "hide_creator": true, "hide_sources": []any{"internal", "partner x"}}
			if diff := cmp.Diff(want, out["conditions"]); diff != "" || out["id"] != saved["grant"] {
				t.Errorf("grant %v after setting conditions (-want +got):\n%s", out["id"], diff)
			}
		}},
		{args: []string{"grants", "get", "{grant}"}, check: func(t *testing.T, out map[string]any, _ string) {
			want := map[string]any{"max_tlp": "amber", "embargo_seconds": 86400.0, "hide_creator": true, "hide_sources": []any{"internal", "partner x"}}
			if diff := cmp.Diff(want, out["conditions"]); diff != "" {
				t.Errorf("stored conditions (-want +got):\n%s", diff)
			}
		}},
		{args: []string{"grants", "conditions", "{grant}"}, code: 1, stderr: "--clear"},
		{args: []string{"grants", "conditions", "{grant}", "--clear", "--max-tlp", "red"}, code: 1, stderr: "exclude"},
		{args: []string{"grants", "conditions", "{grant}", "--max-tlp", "purple"}, code: 1, stderr: "max_tlp"},
		{args: []string{"grants", "conditions", "{grant}", "--embargo", "1500ms"}, code: 1, stderr: "whole seconds"},
		{args: []string{"grants", "conditions", "{grant}", "--embargo", "9000h"}, code: 1, stderr: "embargo_seconds"},
		{args: []string{"grants", "conditions", "{grant}", "--hide-source", "x", "--hide-source", "x"}, code: 1, stderr: "hide_sources"},
		{args: []string{"grants", "conditions", "nope", "--max-tlp", "red"}, code: 1, stderr: "not found"},
		{args: []string{"grants", "conditions", "{grant}", "--clear"}, check: func(t *testing.T, out map[string]any, _ string) {
			want := map[string]any{"embargo_seconds": 0.0, "hide_creator": false, "hide_sources": []any{}}
			if diff := cmp.Diff(want, out["conditions"]); diff != "" {
				t.Errorf("cleared conditions (-want +got):\n%s", diff)
			}
		}},
		{args: []string{"audit", "--action", "admin.grant.update"}, check: func(t *testing.T, out map[string]any, _ string) {
			var got []string
			items, _ := out["items"].([]any)
			for _, it := range items {
				d := it.(map[string]any)["details"].(map[string]any)
				before := d["before"].(map[string]any)["conditions"].(map[string]any)
				after := d["after"].(map[string]any)["conditions"].(map[string]any)
				got = append(got, fmt.Sprintf("%v %v -> %v %v", before["max_tlp"], before["hide_sources"], after["max_tlp"], after["hide_sources"]))
			}
			// Newest first: the clearing, then the setting.
			want := []string{"amber [internal partner x] -> <nil> []", "<nil> [] -> amber [internal partner x]"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("audited condition changes (-want +got):\n%s", diff)
			}
		}},
		{args: []string{"grants", "add", "--user", "alice", "--api-root", "intel", "--collection", "feed", "--action", "read",
			"--max-tlp", "TLP:GREEN", "--hide-source", "internal"}, save: map[string]string{"aliceGrant": "id"},
			check: func(t *testing.T, out map[string]any, _ string) {
				want := map[string]any{"max_tlp": "green", "embargo_seconds": 0.0, "hide_creator": false, "hide_sources": []any{"internal"}}
				if diff := cmp.Diff(want, out["conditions"]); diff != "" {
					t.Errorf("conditions of the added grant (-want +got):\n%s", diff)
				}
			}},
		{args: []string{"grants", "add", "--user", "alice", "--api-root", "intel", "--collection", "feed", "--action", "write",
			"--hide-creator"}, code: 1, stderr: "conditions"},
		{args: []string{"grants", "create", "--user", "alice", "--api-root", "intel", "--collection", "feed", "--action", "read",
			"--embargo", "-1s"}, code: 1, stderr: "conditions.embargo_seconds"},
		{args: []string{"grants", "delete", "{aliceGrant}"}},
		{args: []string{"grants", "delete", "{grant}"}},
		{args: []string{"collections", "delete", "intel", "feed"}},
		{args: []string{"collections", "get", "intel", "{feed}"}, code: 1, stderr: "not found"},
		{args: []string{"api-roots", "delete", "intel"}},
		{args: []string{"api-roots", "create", "--path", "conf", "--title", "Declared", "--config", conf}},
		{args: []string{"collections", "create", "conf", "--id", declared, "--title", "Declared"}},
		{args: []string{"collections", "delete", "conf", declared, "--config", conf}, code: 1, stderr: "declared in the configuration file"},
		{args: []string{"api-roots", "update", "conf", "--title", "x", "--config", conf}, code: 1, stderr: "declared in the configuration file"},
		{args: []string{"orgs", "delete", "ACME"}, code: 1, stderr: "still has users"},
		{args: []string{"audit", "--action", "admin.organization.update"}, check: func(t *testing.T, out map[string]any, _ string) {
			items, _ := out["items"].([]any)
			if len(items) != 1 {
				t.Fatalf("organization updates audited: %v", out)
			}
			ev := items[0].(map[string]any)
			d := ev["details"].(map[string]any)
			if ev["user_name"] != "cli:tester" || ev["source_address"] != "local" ||
				d["before"].(map[string]any)["description"] != "a partner" || d["after"].(map[string]any)["description"] != "changed" {
				t.Errorf("the audited update: %v", ev)
			}
		}},
		{args: []string{"audit", "--since", "yesterday"}, code: 1, stderr: "--since"},
		// Usage errors.
		{args: []string{"things", "list"}, code: 1, stderr: "unknown resource"},
		{args: []string{"orgs", "frob"}, code: 1, stderr: "unknown verb"},
		{args: []string{"orgs", "get"}, code: 1, stderr: "want 1 argument"},
		{args: []string{"orgs", "list", "--bogus"}, code: 1, stderr: "bogus"},
		{args: []string{"orgs", "list", "-o", "xml"}, code: 1, stderr: "json or table"},
	}
	for i, st := range steps {
		args := make([]string, len(st.args))
		for j, a := range st.args {
			for k, v := range saved {
				a = strings.ReplaceAll(a, "{"+k+"}", v)
			}
			args[j] = a
		}
		name := strings.Join(st.args, " ")
		before := storeFile(t, data)
		stdout, stderr, code := adminRun(t, data, st.stdin, args...)
		if code != st.code {
			t.Errorf("step %d: taxiid admin %s: exit %d; want %d\nstdout: %s\nstderr: %s", i, name, code, st.code, stdout, stderr)
			continue
		}
		if st.code != 0 {
			if !strings.Contains(stderr, st.stderr) || stdout != "" {
				t.Errorf("step %d: taxiid admin %s: stderr %q (want it to name %q), stdout %q", i, name, stderr, st.stderr, stdout)
			}
			if after := storeFile(t, data); after != before {
				t.Errorf("step %d: taxiid admin %s failed but changed the store: %s, then %s", i, name, before, after)
			}
			continue
		}
		var out map[string]any
		if strings.HasPrefix(stdout, "{") {
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("step %d: taxiid admin %s: output is not JSON: %v\n%s", i, name, err, stdout)
			}
		}
		for k, member := range st.save {
			saved[k], _ = out[member].(string)
		}
		if st.check != nil {
			t.Run(name, func(t *testing.T) { st.check(t, out, stdout) })
		}
	}
}

// storeFile summarises what a refused command must leave as it was: the
// policy generation (moved by every change to principals and grants), the
// audit log, the API roots and their collections.
func storeFile(t *testing.T, data string) string {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(data, "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gen, err := s.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.AuditEvents(ctx, authz.AuditFilter{Limit: authz.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	roots, err := s.APIRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("generation %d, %d audit events, API roots", gen, len(evs))
	for _, r := range roots {
		cs, err := s.Collections(ctx, r.Path)
		if err != nil {
			t.Fatal(err)
		}
		sum += fmt.Sprintf(" %+v with %+v", r, cs)
	}
	return sum
}

// TestAdminCLIWhileServing: changes made with `taxiid admin` beside a
// running server are enforced by it within a second, without a restart.
func TestAdminCLIWhileServing(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	_, base, _ := startEnv(t, dir, processEnv("TAXIID_DATA="+data, adminPasswordEnv+"="+testAdminPassword))
	run := func(stdin string, args ...string) map[string]any {
		t.Helper()
		stdout, stderr, code := adminRun(t, data, stdin, args...)
		if code != 0 {
			t.Fatalf("taxiid admin %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	run("", "orgs", "create", "--name", "ACME")
	run("", "users", "create", "--name", "alice", "--org", "ACME")
	tok := run("", "tokens", "create", "alice", "--name", "ci")
	coll := run("", "collections", "create", "api1", "--title", "Feed", "--alias", "feed")
	auth := "Bearer " + tok["secret"].(string)
	objects := "/api1/collections/" + coll["id"].(string) + "/objects/"
	// within waits up to 2 s for GET path with auth to answer status.
	within := func(what, path string, status int) {
		t.Helper()
		var got int
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got, _ = statusAs(t, base, path, auth); got == status {
				return
			}
		}
		t.Errorf("%s: GET %s = %d; want %d within 2 s", what, path, got, status)
	}
	within("a new collection, before any grant", objects, http.StatusNotFound)
	run("", "grants", "create", "--org", "ACME", "--api-root", "api1", "--collection", "feed", "--action", "read")
	within("after the grant", objects, http.StatusOK)
	run("", "tokens", "revoke", "alice", tok["id"].(string))
	within("after the token was revoked", objects, http.StatusUnauthorized)
}
