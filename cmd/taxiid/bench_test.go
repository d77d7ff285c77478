package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runBench runs `taxiid bench ARGS` as a process with env as its whole
// environment and returns its JSON report (args should hold --json),
// its standard error and its exit status.
func runBench(t *testing.T, env []string, args ...string) (benchReport, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"bench"}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("taxiid bench %v did not end\n%s", args, errb.String())
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("taxiid bench %v: output is not a JSON report: %v\n%s\n%s", args, err, out.String(), errb.String())
	}
	return rep, errb.String(), code
}

// findPhase returns the phase of rep with name and target.
func findPhase(t *testing.T, rep benchReport, name, target string) *phaseResult {
	t.Helper()
	for _, p := range rep.Phases {
		if p.Name == name && p.Target == target {
			return p
		}
	}
	t.Fatalf("no phase %q on the %s in the report", name, target)
	return nil
}

// storedIDs lists every stored version in the default collection and
// returns the id of each, sorted.
func storedIDs(t *testing.T, base string) []string {
	t.Helper()
	var ids []string
	next := ""
	for {
		u := base + "/api1/collections/default/objects/?limit=1000&match[version]=all"
		if next != "" {
			u += "&next=" + url.QueryEscape(next)
		}
		page := getJSON(t, u)
		for _, o := range page["objects"].([]any) {
			ids = append(ids, o.(map[string]any)["id"].(string))
		}
		if page["more"] != true {
			break
		}
		next = page["next"].(string)
	}
	slices.Sort(ids)
	return ids
}

// lines returns the lines of the file at path, sorted.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ls []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		ls = append(ls, sc.Text())
	}
	slices.Sort(ls)
	return ls
}

// benchAsAdmin is the environment of a bench process signing in as the
// tests' first admin.
func benchAsAdmin(base string) []string {
	return []string{"TAXIID_URL=" + base, "TAXIID_USER=" + adminUser, "TAXIID_PASSWORD=" + testAdminPassword}
}

// TestBenchPushPullPoll: one run of push, pull at two limits and poll
// from the start against a server on the embedded store, each phase
// beside the yardstick. Every object pushed is in the store (the ids the
// server reported stored are exactly those listed afterwards), each
// client walks every page once, each poller sees every object once and
// then empty answers, and nothing fails.
func TestBenchPushPullPoll(t *testing.T) {
	bundle, err := filepath.Abs("../../testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		push []string
		// wantEnvelopes is the number of envelopes pushed.
		wantEnvelopes int64
	}{
		{"synthetic indicators", []string{"--push", "--push-objects", "250", "--envelope", "100"}, 3},
		{"bundle file", []string{"--push-file", bundle, "--envelope", "3"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd, base, _ := start(t, dir)
			idsFile := filepath.Join(dir, "pushed-ids.txt")
			const pullClients, pollers, pollRequests = 2, 3, 5
			args := append(slices.Clone(tt.push),
				"--push-clients", "2", "--push-ids", idsFile,
				"--pull", "--limit", "100,1000", "--pull-clients", strconv.Itoa(pullClients),
				"--poll", "--pollers", strconv.Itoa(pollers), "--poll-from", "start", "--poll-requests", strconv.Itoa(pollRequests),
				"--yardstick", "--server-pid", strconv.Itoa(cmd.Process.Pid), "--json")
			rep, stderr, code := runBench(t, benchAsAdmin(base), args...)
			if code != 0 {
				t.Fatalf("taxiid bench exit status %d\n%s", code, stderr)
			}
			for _, p := range rep.Phases {
				if len(p.Errors) > 0 || p.SourceError != "" {
					t.Errorf("%s on the %s: errors %v %s", p.Name, p.Target, p.Errors, p.SourceError)
				}
				if p.Target == "server" && p.ServerRSSMiB <= 0 {
					t.Errorf("%s on the server: no server memory reported", p.Name)
				}
			}
			if rep.Interrupted {
				t.Error("report says interrupted")
			}

			// Every version the server reported stored is in the store,
			// and nothing else.
			stored := storedIDs(t, base)
			if diff := cmp.Diff(stored, lines(t, idsFile)); diff != "" {
				t.Errorf("ids reported stored by the push (+) against the ids in the store (-):\n%s", diff)
			}
			push := findPhase(t, rep, "push", "server")
			if push.Objects != int64(len(stored)) || push.Rejected != 0 || push.Pages != tt.wantEnvelopes {
				t.Errorf("push: %d objects stored, %d rejected in %d envelopes; want %d, 0, %d",
					push.Objects, push.Rejected, push.Pages, len(stored), tt.wantEnvelopes)
			}
			if tt.push[0] == "--push-file" {
				var b struct {
					Objects []struct {
						ID string `json:"id"`
					} `json:"objects"`
				}
				raw, _ := os.ReadFile(bundle)
				json.Unmarshal(raw, &b)
				var inFile []string
				for _, o := range b.Objects {
					inFile = append(inFile, o.ID)
				}
				slices.Sort(inFile)
				if diff := cmp.Diff(inFile, stored); diff != "" {
					t.Errorf("ids in the store (+) against those of the file (-):\n%s", diff)
				}
			}
			if y := findPhase(t, rep, "push", "yardstick"); y.Objects != push.Objects+push.Rejected {
				t.Errorf("push on the yardstick: %d objects sent; want %d", y.Objects, push.Objects+push.Rejected)
			}

			// The latest version of each object is what pages hold.
			latest := slices.Compact(slices.Clone(stored))
			n := int64(len(latest))
			for _, limit := range []int64{100, 1000} {
				name := "pull limit=" + strconv.FormatInt(limit, 10)
				p := findPhase(t, rep, name, "server")
				wantPages := pullClients * ((n + limit - 1) / limit)
				if p.Pages != wantPages || p.Objects != pullClients*n {
					t.Errorf("%s: %d pages, %d objects; want %d, %d", name, p.Pages, p.Objects, wantPages, pullClients*n)
				}
				if y := findPhase(t, rep, name, "yardstick"); y.Pages != wantPages || y.MedianBytes != p.MedianBytes {
					t.Errorf("%s on the yardstick: %d pages of %d bytes; want %d of %d", name, y.Pages, y.MedianBytes, wantPages, p.MedianBytes)
				}
			}

			poll := findPhase(t, rep, "poll", "server")
			catchUp := (n + 99) / 100 // pages of the default page size
			wantEmpty := pollers * (pollRequests - catchUp)
			if poll.Requests != pollers*pollRequests || poll.Objects != pollers*n || poll.EmptyAnswers != wantEmpty {
				t.Errorf("poll: %d requests, %d objects, %d empty answers; want %d, %d, %d",
					poll.Requests, poll.Objects, poll.EmptyAnswers, pollers*pollRequests, pollers*n, wantEmpty)
			}
			if y := findPhase(t, rep, "poll", "yardstick"); y.Requests != pollers*pollRequests {
				t.Errorf("poll on the yardstick: %d requests; want %d", y.Requests, pollers*pollRequests)
			}
		})
	}
}

// TestBenchFailures: a run whose password is refused reports the 401 of
// every request; a push file cut short is pushed up to its break, and the
// report names the file. Both exit with status 1.
func TestBenchFailures(t *testing.T) {
	dir := t.TempDir()
	_, base, _ := start(t, dir)
	broken := filepath.Join(dir, "broken.json")
	writeFile(t, broken, []byte(`{"type":"bundle","objects":[{"type":"identity","spec_version":"2.1",`+
		`"id":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2023-02-10T08:00:00.000Z",`+
		`"modified":"2023-02-10T08:00:00.000Z","name":"Example CERT","identity_class":"organization"},{"type":`))
	tests := []struct {
		name     string
		password string
		args     []string
		// wantErrors are the failed requests of each phase.
		wantErrors  map[string]map[string]int64
		wantObjects map[string]int64
		wantSource  string // in the push's source error
	}{
		{
			name:        "wrong password",
			password:    "not the password",
			args:        []string{"--push", "--push-objects", "20", "--envelope", "10", "--pull", "--pull-clients", "1"},
			wantErrors:  map[string]map[string]int64{"push": {"401": 2}, "pull limit=100": {"401": 1}},
			wantObjects: map[string]int64{"push": 0, "pull limit=100": 0},
		},
		{
			name:        "push file cut short",
			password:    testAdminPassword,
			args:        []string{"--push-file", broken, "--envelope", "1"},
			wantErrors:  map[string]map[string]int64{"push": {}},
			wantObjects: map[string]int64{"push": 1},
			wantSource:  broken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"TAXIID_URL=" + base, "TAXIID_USER=" + adminUser, "TAXIID_PASSWORD=" + tt.password}
			rep, stderr, code := runBench(t, env, append(tt.args, "--json")...)
			if code != 1 || !strings.Contains(stderr, "failed") {
				t.Errorf("exit status %d, stderr %q; want 1 and a word on the failure", code, stderr)
			}
			gotErrors, gotObjects := map[string]map[string]int64{}, map[string]int64{}
			for _, p := range rep.Phases {
				gotErrors[p.Name], gotObjects[p.Name] = p.Errors, p.Objects
				if !strings.Contains(p.SourceError, tt.wantSource) || (tt.wantSource == "") != (p.SourceError == "") {
					t.Errorf("%s: source error %q; want one naming %q", p.Name, p.SourceError, tt.wantSource)
				}
			}
			if diff := cmp.Diff(tt.wantErrors, gotErrors); diff != "" {
				t.Errorf("errors by phase (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantObjects, gotObjects); diff != "" {
				t.Errorf("objects by phase (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBenchInterrupted: Ctrl-C (SIGINT) stops a run midway, and what was
// measured until then is printed.
func TestBenchInterrupted(t *testing.T) {
	_, base, _ := start(t, t.TempDir())
	cmd := exec.Command(binary, "bench", "--poll", "--pollers", "2", "--poll-interval", "10ms", "--poll-duration", "1m", "--json")
	cmd.Env = benchAsAdmin(base)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	time.Sleep(time.Second)
	started := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v\n%s", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("taxiid bench did not stop on SIGINT")
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("no JSON report after SIGINT: %v\n%s\n%s", err, out.String(), errb.String())
	}
	if !rep.Interrupted || len(rep.Phases) != 1 {
		t.Fatalf("report: interrupted %v with %d phases; want interrupted with the poll phase", rep.Interrupted, len(rep.Phases))
	}
	p := rep.Phases[0]
	if p.Requests == 0 || p.Pages != p.Requests || len(p.Errors) != 0 || p.Duration > time.Since(started).Seconds()+2 {
		t.Errorf("poll cut short: %d requests, %d pages, errors %v, %.1f s", p.Requests, p.Pages, p.Errors, p.Duration)
	}
}

// TestBenchTLS: over HTTPS the bench trusts the CA it is given, or with
// --insecure-skip-verify any certificate; otherwise it reports the
// certificate's refusal as failed requests. Its yardstick speaks TLS too.
func TestBenchTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "taxiid test CA")
	certFile, keyFile := tlsFiles(t, dir, ca.serverCert(t))
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, ca.pem)
	_, base, _ := start(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("server at %s, not HTTPS", base)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		// wantErrors is the kind of the failures of the pull phase.
		wantErrors map[string]int64
	}{
		{"CA given", []string{"--ca-file", caFile}, 0, map[string]int64{}},
		{"any certificate", []string{"--insecure-skip-verify"}, 0, map[string]int64{}},
		{"certificate not trusted", nil, 1, map[string]int64{"transport": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(slices.Clone(tt.args), "--pull", "--pull-clients", "1", "--yardstick", "--json")
			rep, stderr, code := runBench(t, benchAsAdmin(base), args...)
			if code != tt.wantCode {
				t.Errorf("exit status %d; want %d\n%s", code, tt.wantCode, stderr)
			}
			p := findPhase(t, rep, "pull limit=100", "server")
			if diff := cmp.Diff(tt.wantErrors, p.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.wantCode != 0 {
				if !strings.Contains(p.ErrorSamples["transport"], "certificate") {
					t.Errorf("error sample %q does not name the certificate", p.ErrorSamples["transport"])
				}
				return
			}
			if p.Pages != 1 {
				t.Errorf("pull: %d pages of the empty collection; want 1", p.Pages)
			}
			if y := findPhase(t, rep, "pull limit=100", "yardstick"); y.Pages != 1 || len(y.Errors) != 0 {
				t.Errorf("yardstick over TLS: %d pages, errors %v; want 1 page", y.Pages, y.Errors)
			}
		})
	}
}

// TestBenchBoundedByDuration: a phase given a duration runs that long,
// its clients walking the collection again from the start as often as
// they can, and its pollers polling until it is over.
func TestBenchBoundedByDuration(t *testing.T) {
	// As fast as they can, the clients pass the default rate limits.
	_, base, _ := start(t, t.TempDir(), "--rate-requests", "0")
	rep, stderr, code := runBench(t, benchAsAdmin(base), "--push", "--push-objects", "150", "--envelope", "150",
		"--pull", "--limit", "100", "--pull-clients", "2", "--pull-duration", "500ms",
		"--poll", "--pollers", "2", "--poll-duration", "500ms", "--json")
	if code != 0 {
		for _, p := range rep.Phases {
			t.Logf("%s: errors %v %v", p.Name, p.Errors, p.ErrorSamples)
		}
		t.Fatalf("exit status %d\n%s", code, stderr)
	}
	for _, p := range rep.Phases[1:] {
		if len(p.Errors) != 0 || p.Duration < 0.5 || p.Duration > 2 {
			t.Errorf("%s: %.2f s, errors %v; want about 0.5 s without errors", p.Name, p.Duration, p.Errors)
		}
	}
	// Each walk is a page of 100 objects and one of 50; the phase may
	// end between them.
	pull := findPhase(t, rep, "pull limit=100", "server")
	if pull.Pages < 4 || pull.Objects < 50*pull.Pages || pull.Objects > 100*pull.Pages {
		t.Errorf("pull: %d pages of %d objects in all; want two walks or more, of 150 objects in two pages each", pull.Pages, pull.Objects)
	}
	if poll := findPhase(t, rep, "poll", "server"); poll.Requests < 4 || poll.Objects != 0 || poll.EmptyAnswers != poll.Pages {
		t.Errorf("poll: %d requests, %d objects, %d of %d answers empty; want several empty answers", poll.Requests, poll.Objects, poll.EmptyAnswers, poll.Pages)
	}
}
