package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the taxiid command built once for the tests below.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "taxiid-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "taxiid")
	// Linked as the container image links it, so that the tests run what
	// the image runs and see its version stamped (TestImageBuildStampsVersion).
	ldflags, err := imageLinkerFlags()
	if err != nil {
		panic(err)
	}
	if out, err := exec.Command("go", "build", "-ldflags="+ldflags, "-o", binary, ".").CombinedOutput(); err != nil {
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var listening = regexp.MustCompile(`taxiid listening" addr=(https?://\S+)/taxii2/`)

// processEnv is the whole environment of a taxiid process under test:
// vars ("NAME=value") on top of a listener on a free loopback port and the
// password of the first admin. The test process's own environment never
// leaks in (a TAXIID_DATA set there would point the tests at a real
// store).
func processEnv(vars ...string) []string {
	return append([]string{"TAXIID_LISTEN=127.0.0.1:0", adminPasswordEnv + "=" + testAdminPassword}, vars...)
}

// testAdminPassword is the password of the first admin of the stores the
// tests start taxiid on; client signs in with it.
const testAdminPassword = "password of the tests' admin"

// start runs taxiid with args in dir and returns its base URL once it
// listens.
func start(t *testing.T, dir string, args ...string) (*exec.Cmd, string, *syncLog) {
	t.Helper()
	return startEnv(t, dir, processEnv(), args...)
}

// startEnv is start with the process's whole environment given.
func startEnv(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, string, *syncLog) {
	t.Helper()
	cmd, base, log, err := launch(t, dir, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, base, log
}

// launch runs taxiid and waits until it listens or fails. It may run in a
// goroutine other than the test's: it reports failure as an error.
func launch(t testing.TB, dir string, env []string, args ...string) (*exec.Cmd, string, *syncLog, error) {
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = env
	return launchCmd(t, cmd)
}

// launchShell runs the shell script script, which must exec taxiid (so
// that signals reach it), in dir with the default test environment.
func launchShell(t testing.TB, dir, script string) (*exec.Cmd, string, *syncLog, error) {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = processEnv()
	return launchCmd(t, cmd)
}

// launchCmd starts cmd, a taxiid process, and waits until it listens.
func launchCmd(t testing.TB, cmd *exec.Cmd) (*exec.Cmd, string, *syncLog, error) {
	log, found, err := begin(t, cmd)
	if err != nil {
		return nil, "", nil, err
	}
	select {
	case u := <-found:
		return cmd, u, log, nil
	case <-log.done:
		return nil, "", nil, fmt.Errorf("taxiid exited without listening:\n%s", log)
	case <-time.After(30 * time.Second):
		return nil, "", nil, fmt.Errorf("taxiid did not start:\n%s", log)
	}
}

// begin starts cmd, a taxiid process killed when the test ends, and
// returns its log and a channel that gets its base URL once it listens.
func begin(t testing.TB, cmd *exec.Cmd) (*syncLog, <-chan string, error) {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	log := &syncLog{done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(log.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.add(sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	return log, found, nil
}

// syncLog collects a process's log lines while the test reads them.
type syncLog struct {
	mu   sync.Mutex
	b    strings.Builder
	done chan struct{} // closed at the end of the output
}

func (l *syncLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

// waitFor reports whether the log shows s within timeout.
func (l *syncLog) waitFor(s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(l.String(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// client is the tests' HTTP client; a hung server fails a test instead of
// stalling it. It signs requests in as the first admin.
var client = &http.Client{Timeout: 10 * time.Second, Transport: asAdmin{http.DefaultTransport}}

// asAdmin signs in as the first admin the requests that carry no
// credentials of their own.
type asAdmin struct{ next http.RoundTripper }

func (a asAdmin) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.SetBasicAuth(adminUser, testAdminPassword)
	}
	return a.next.RoundTrip(r)
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestServeDefaults starts taxiid as a new user would, with no flags in an
// empty directory: one API root with one collection, data in ./taxiid-data,
// a clean exit on SIGTERM, and the same collection after a restart. The
// test's own TAXIID_DATA must not reach the process.
func TestServeDefaults(t *testing.T) {
	dir := t.TempDir()
	decoy := filepath.Join(t.TempDir(), "decoy")
	t.Setenv("TAXIID_DATA", decoy)
	cmd, base, log := start(t, dir)
	d := getJSON(t, base+"/taxii2/")
	if d["default"] != "/api1/" {
		t.Fatalf("discovery default = %v; want /api1/", d["default"])
	}
	cols := getJSON(t, base+"/api1/collections/")["collections"].([]any)
	if len(cols) != 1 {
		t.Fatalf("collections = %v; want one", cols)
	}
	id := cols[0].(map[string]any)["id"]
	if _, err := os.Stat(filepath.Join(dir, "taxiid-data", "taxiid.db")); err != nil {
		t.Errorf("store not in ./taxiid-data: %v", err)
	}
	if _, err := os.Stat(decoy); err == nil {
		t.Errorf("the test's TAXIID_DATA reached the process: %s exists", decoy)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-log.done // all output read before Wait closes the pipe
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, log)
	}
	if !strings.Contains(log.String(), "shutting down") {
		t.Errorf("no shutdown line in the log:\n%s", log)
	}

	_, base, _ = start(t, dir)
	cols = getJSON(t, base+"/api1/collections/")["collections"].([]any)
	if len(cols) != 1 || cols[0].(map[string]any)["id"] != id {
		t.Errorf("after restart collections = %v; want the same single collection %v", cols, id)
	}
}

func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	config := `
title: Partner hub
default_api_root: trustgroup
api_roots:
  - path: trustgroup
    title: Trust group
    max_content_length: 1048576
    collections:
      - id: 6d9a0f64-2ab8-4a5f-8d6d-3f0c1f9a1e11
        alias: indicators
        title: Indicators
`
	if err := os.WriteFile(filepath.Join(dir, "taxiid.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base, _ := start(t, dir, "serve", "--config", "taxiid.yaml", "--data", "store")
	d := getJSON(t, base+"/taxii2/")
	if d["title"] != "Partner hub" || d["default"] != "/trustgroup/" {
		t.Errorf("discovery = %v", d)
	}
	root := getJSON(t, base+"/trustgroup/")
	if root["max_content_length"] != float64(1048576) {
		t.Errorf("api root = %v", root)
	}
	c := getJSON(t, base+"/trustgroup/collections/indicators/")
	if c["id"] != "6d9a0f64-2ab8-4a5f-8d6d-3f0c1f9a1e11" || c["media_types"].([]any)[0] != "application/stix+json;version=2.1" {
		t.Errorf("collection = %v", c)
	}
}

// TestBadConfigurationNamesEveryProblem checks that a bad configuration
// stops the start with one message naming each problem.
func TestBadConfigurationNamesEveryProblem(t *testing.T) {
	dir := t.TempDir()
	config := `
default_api_root: missing
api_roots:
  - path: "a/b"
    title: ""
    collections:
      - id: not-a-uuid
        title: x
        media_types: ["text/plain"]
        unmarked_tlp: purple
`
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "--config", "bad.yaml", "--page-size", "0")
	cmd.Dir = dir
	cmd.Env = processEnv("TAXIID_MAX_PAGE_SIZE=lots")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v; want status 1\n%s", err, out)
	}
	for _, want := range []string{
		"TAXIID_MAX_PAGE_SIZE", "page-size must be at least 1", `path "a/b"`, "api_roots[0]: title is required",
		`id "not-a-uuid"`, `media type "text/plain"`, `default_api_root "missing"`,
		`api_roots[0].collections[0] (collection not-a-uuid): unmarked_tlp: unknown TLP level "purple"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not mention %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "taxiid-data")); err == nil {
		t.Error("a bad configuration still created the data directory")
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	bad := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
	  {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2023-03-01T10:00:00Z","modified":"2023-03-01T10:00:00.000Z","pattern":"[file:name = 'a'","pattern_type":"stix","valid_from":"2023-03-01T10:00:00Z"},
	  {"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2023-03-02T12:00:00.000Z","modified":"2023-03-02T12:00:00.000Z","name":"x","is_family":false}]}`
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := filepath.Abs("../../testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		want     []string
	}{
		{"valid bundle", []string{good}, "", 0, []string{"7 objects checked at level default, 0 invalid"}},
		{"invalid bundle", []string{"bad.json"}, "", 1, []string{
			"bad.json: objects[0] indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: error: /created: \"2023-03-01T10:00:00Z\" lacks millisecond precision",
			"/pattern:", "[indicator-pattern]", "2 objects checked at level default, 1 invalid",
		}},
		{"single object on stdin, strict", []string{"--level", "strict", "-"}, `{"type":"x-acme","spec_version":"2.1","id":"x-acme--8f0c8b0e-3b1a-4f0e-9d7a-2a3b4c5d6e7f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z"}`, 1, []string{"[unknown-type]"}},
		{"single object on stdin, default", []string{"-"}, `{"type":"x-acme","spec_version":"2.1","id":"x-acme--8f0c8b0e-3b1a-4f0e-9d7a-2a3b4c5d6e7f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z"}`, 0, []string{"1 objects checked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"validate"}, tt.args...)...)
			cmd.Dir = dir
			cmd.Env = []string{}
			cmd.Stdin = strings.NewReader(tt.stdin)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit status %d; want %d\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
