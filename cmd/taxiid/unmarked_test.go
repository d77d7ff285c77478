package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TLP 2.0 marking definitions of the FIRST extension.
const (
	tlp2Green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	tlp2Amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
)

// TestUnmarkedTLPDeclared: a collection declared with unmarked_tlp green
// records objects pushed without a TLP marking at GREEN, so that a grantee
// whose ceiling is GREEN reads them, while a collection declared without it
// records them at RED and withholds them. Marked objects follow their
// marking in both. A level changed in the file applies, after the restart,
// to objects pushed from then on: those stored before keep theirs.
func TestUnmarkedTLPDeclared(t *testing.T) {
	const (
		graded = "0b7c1a52-3f4e-4d6a-9b8c-2e1f0a9d8c7b" // unmarked_tlp: green
		plain  = "5e2d4c6b-8a9f-4e1d-a3b2-c4d5e6f7a8b9" // no unmarked_tlp
	)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	declare := func(plainLevel string) {
		t.Helper()
		conf := "api_roots:\n  - path: intel\n    title: Intel\n    collections:\n" +
			"      - id: " + graded + "\n        title: Graded\n        unmarked_tlp: green\n" +
			"      - id: " + plain + "\n        title: Plain\n" + plainLevel
		if err := os.WriteFile(filepath.Join(dir, "taxiid.yaml"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	declare("")
	cmd, base, log := startEnv(t, dir, processEnv("TAXIID_DATA="+data), "serve", "--config", "taxiid.yaml")

	run := func(args ...string) map[string]any {
		t.Helper()
		stdout, stderr, code := adminRun(t, data, "", args...)
		if code != 0 {
			t.Fatalf("taxiid admin %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	run("orgs", "create", "--name", "Partner")
	run("users", "create", "--name", "bob", "--org", "Partner")
	auth := "Bearer " + run("tokens", "create", "bob", "--name", "feed")["secret"].(string)
	for _, coll := range []string{graded, plain} {
		run("grants", "create", "--org", "Partner", "--api-root", "intel", "--collection", coll, "--action", "read", "--max-tlp", "green")
	}

	objects := func(coll string) string { return base + "/intel/collections/" + coll + "/objects/" }
	// seen returns the ids of the objects of coll that auth ("": the
	// admin, who reads without conditions) gets, sorted.
	seen := func(coll, auth string) []string {
		t.Helper()
		r, err := call("GET", objects(coll), auth, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d\n%s", objects(coll), r.status, r.raw)
		}
		ids := []string{}
		objs, _ := r.body["objects"].([]any)
		for _, o := range objs {
			ids = append(ids, o.(map[string]any)["id"].(string))
		}
		slices.Sort(ids)
		return ids
	}
	push := func(coll string, objs ...map[string]any) {
		t.Helper()
		b, err := json.Marshal(map[string]any{"objects": objs})
		if err != nil {
			t.Fatal(err)
		}
		r, err := call("POST", objects(coll), "", b)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusAccepted || r.body["status"] != "complete" || r.body["success_count"] != float64(len(objs)) {
			t.Fatalf("push to %s = %d, want 202 complete with %d successes\n%s", coll, r.status, len(objs), r.raw)
		}
	}
	// The grants reach the serving process within a second.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if status, _ := statusAs(t, base, "/intel/collections/"+plain+"/objects/", auth); status == http.StatusOK {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the partner's grant is not in force after 2 s: %d", status)
		}
	}

	gradedUnmarked := markedIndicator(1, nil)
	gradedAmber := markedIndicator(2, []string{tlp2Amber})
	plainUnmarked := markedIndicator(3, nil)
	plainGreen := markedIndicator(4, []string{tlp2Green})
	push(graded, gradedUnmarked, gradedAmber)
	push(plain, plainUnmarked, plainGreen)

	check := func(what, coll, auth string, want ...map[string]any) {
		t.Helper()
		var ids []string
		for _, o := range want {
			ids = append(ids, o["id"].(string))
		}
		slices.Sort(ids)
		if diff := cmp.Diff(ids, seen(coll, auth)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	check("the GREEN partner in the collection whose unmarked level is green", graded, auth, gradedUnmarked)
	check("the GREEN partner in the collection without an unmarked level", plain, auth, plainGreen)
	check("the admin in the collection without an unmarked level", plain, "", plainUnmarked, plainGreen)

	// The level is the operator's, not a TAXII property of the collection.
	r, err := call("GET", base+"/intel/collections/"+graded+"/", auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.body["unmarked_tlp"]; r.status != http.StatusOK || ok {
		t.Errorf("the TAXII collection resource = %d %s; want 200 without unmarked_tlp", r.status, r.raw)
	}

	// The plain collection gets an unmarked level of green at the next
	// start: the unmarked object stored before stays RED.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-log.done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, log)
	}
	declare("        unmarked_tlp: green\n")
	_, base, _ = startEnv(t, dir, processEnv("TAXIID_DATA="+data), "serve", "--config", "taxiid.yaml")
	later := markedIndicator(5, nil)
	push(plain, later)
	check("the GREEN partner after the level changed", plain, auth, plainGreen, later)
}

// markedIndicator returns an indicator numbered n with the object markings refs
// (none: unmarked).
func markedIndicator(n int, refs []string) map[string]any {
	ts := fmt.Sprintf("2024-05-0%dT10:00:00.000Z", n)
	o := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": fmt.Sprintf("indicator--%08d-4a1b-4c2d-8e3f-0a1b2c3d4e5f", n),
		"created": ts, "modified": ts, "name": fmt.Sprintf("indicator %d", n),
		"pattern": fmt.Sprintf("[ipv4-addr:value = '198.51.100.%d']", n), "pattern_type": "stix", "valid_from": ts,
	}
	if refs != nil {
		o["object_marking_refs"] = refs
	}
	return o
}
