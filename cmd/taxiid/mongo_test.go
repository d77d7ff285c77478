package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections/mongo"
	"github.com/taxiid/taxiid/collections/mongo/mongotest"
)

// mongoEnv is processEnv with the store on the MongoDB database db at uri.
// MongoDB calls are bounded by 2 s, so that an outage shows at once, and
// TAXIID_DATA names a directory that must stay absent.
func mongoEnv(t *testing.T, uri, db string, vars ...string) (env []string, data string) {
	data = filepath.Join(t.TempDir(), "must-not-exist")
	return processEnv(append([]string{"TAXIID_MONGO_URI=" + uri, "TAXIID_MONGO_DATABASE=" + db,
		"TAXIID_MONGO_TIMEOUT=2s", "TAXIID_DATA=" + data}, vars...)...), data
}

// noDirectories checks that a taxiid process on MongoDB created neither
// its --data directory nor the default one in its working directory.
func noDirectories(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a process on MongoDB touched the embedded store's directory %s (stat: %v)", d, err)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// indicator returns a valid STIX 2.1 indicator with a new id.
func indicator() map[string]any {
	return map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": "indicator--" + uuid.NewString(),
		"created": "2024-03-01T10:00:00.000Z", "modified": "2024-03-01T10:00:00.000Z",
		"pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix", "valid_from": "2024-03-01T10:00:00Z",
	}
}

func objectIDs(objs []map[string]any) []string {
	ids := make([]string, len(objs))
	for i, o := range objs {
		ids[i] = o["id"].(string)
	}
	return ids
}

// taxiiResponse is a decoded response of a taxiid process.
type taxiiResponse struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// call sends a request to a taxiid process, signed in as the first admin
// unless auth is set, and decodes the JSON response. A transport failure
// is returned, not fatal, so that pollers may retry.
func call(method, url, auth string, body []byte) (taxiiResponse, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	if err != nil {
		return taxiiResponse{}, err
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	if body != nil {
		req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return taxiiResponse{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return taxiiResponse{}, err
	}
	r := taxiiResponse{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: body is not a JSON object: %v\n%s", method, url, err, raw)
		}
	}
	return r, nil
}

// mustCall is call that fails the test unless the status is want.
func mustCall(t *testing.T, method, url string, body []byte, want int) taxiiResponse {
	t.Helper()
	r, err := call(method, url, "", body)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != want {
		t.Fatalf("%s %s = %d; want %d\n%s", method, url, r.status, want, r.raw)
	}
	return r
}

const defaultObjects = "/api1/collections/" + defaultCollectionID + "/objects/"

// pushObjects pushes objs to the default collection through base and
// returns the status resource, which must be complete with every object a
// success.
func pushObjects(t *testing.T, base string, objs []map[string]any) map[string]any {
	t.Helper()
	st, err := tryPush(base, objs)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tryPush is pushObjects for goroutines other than the test's.
func tryPush(base string, objs []map[string]any) (map[string]any, error) {
	b, err := json.Marshal(map[string]any{"objects": objs})
	if err != nil {
		return nil, err
	}
	r, err := call("POST", base+defaultObjects, "", b)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusAccepted || r.body["status"] != "complete" || r.body["success_count"] != float64(len(objs)) {
		return nil, fmt.Errorf("push through %s = %d, want 202 complete with %d successes\n%s", base, r.status, len(objs), r.raw)
	}
	return r.body, nil
}

// ids returns the ids of the objects of an envelope, or of the entries of a
// status list.
func ids(list any) []string {
	var out []string
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["id"]))
		}
	}
	return out
}

// TestTwoServersOnOneMongoDatabase runs two taxiid processes, started at
// once, on one MongoDB database, as two replicas behind a load balancer:
// neither touches an embedded store's directory; what is pushed through
// one is readable, pageable with next and status-checkable through the
// other; and a client polling one with added_after while clients push
// through both sees every pushed object exactly once.
func TestTwoServersOnOneMongoDatabase(t *testing.T) {
	srv := mongotest.Start(t)
	db := mongotest.Database(t, srv)
	dir := t.TempDir()
	env, data := mongoEnv(t, srv.URI, db)
	bases := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range bases {
		wg.Go(func() { _, bases[i], _, errs[i] = launch(t, dir, env) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	noDirectories(t, data, filepath.Join(dir, "taxiid-data"))
	a, b := bases[0], bases[1]
	for i, base := range bases {
		cols := ids(getJSON(t, base+"/api1/collections/")["collections"])
		if diff := cmp.Diff([]string{defaultCollectionID}, cols); diff != "" {
			t.Errorf("process %d collections (-want +got):\n%s", i, diff)
		}
	}

	// Pushed through a, read through b.
	first := []map[string]any{indicator(), indicator(), indicator(), indicator(), indicator()}
	want := objectIDs(first)
	st := pushObjects(t, a, first)
	got := mustCall(t, "GET", b+"/api1/status/"+st["id"].(string)+"/", nil, http.StatusOK).body
	if got["status"] != "complete" || got["success_count"] != float64(len(first)) {
		t.Errorf("status through the other process = %v; want complete with %d successes", got, len(first))
	}
	if diff := cmp.Diff(want, ids(got["successes"]), cmpSorted); diff != "" {
		t.Errorf("status successes through the other process (-want +got):\n%s", diff)
	}
	obj := mustCall(t, "GET", b+defaultObjects+want[2]+"/", nil, http.StatusOK).body
	if diff := cmp.Diff([]string{want[2]}, ids(obj["objects"])); diff != "" {
		t.Errorf("object by id through the other process (-want +got):\n%s", diff)
	}
	var paged []string
	pages := 0
	for next := ""; ; pages++ {
		q := url.Values{"limit": {"2"}}
		if next != "" {
			q.Set("next", next)
		}
		page := mustCall(t, "GET", b+defaultObjects+"?"+q.Encode(), nil, http.StatusOK).body
		paged = append(paged, ids(page["objects"])...)
		if page["more"] != true {
			break
		}
		next, _ = page["next"].(string)
		if next == "" || pages > 10 {
			t.Fatalf("page %d has more but next = %q", pages, next)
		}
	}
	// One envelope is stored in its order: date_added increases along it.
	if diff := cmp.Diff(want, paged); diff != "" {
		t.Errorf("pages of 2 through the other process (-want +got):\n%s", diff)
	}
	if pages < 2 {
		t.Errorf("%d objects in pages of 2 came in %d pages", len(want), pages+1)
	}

	// Writers push through both processes while a poller reads b.
	const writers, envelopes, perEnvelope = 2, 8, 4
	pushed := make(chan string, writers*envelopes*perEnvelope)
	writeErrs := make(chan error, writers)
	var writing sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			for range envelopes {
				objs := make([]map[string]any, perEnvelope)
				for i := range objs {
					objs[i] = indicator()
				}
				if _, err := tryPush(bases[w], objs); err != nil {
					writeErrs <- err
					return
				}
				for _, id := range objectIDs(objs) {
					pushed <- id
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { writing.Wait(); close(done) }()

	seen := map[string]int{}
	var order []string
	addedAfter := ""
	poll := func() int {
		q := url.Values{"limit": {"7"}}
		if addedAfter != "" {
			q.Set("added_after", addedAfter)
		}
		r := mustCall(t, "GET", b+defaultObjects+"?"+q.Encode(), nil, http.StatusOK)
		page := ids(r.body["objects"])
		for _, id := range page {
			seen[id]++
			order = append(order, id)
		}
		if last := r.header.Get("X-TAXII-Date-Added-Last"); last != "" {
			addedAfter = last
		}
		return len(page)
	}
	for writersDone := false; ; {
		select {
		case <-done:
			writersDone = true
		default:
		}
		if n := poll(); n == 0 && writersDone {
			break // a poll that began after the last push returned found nothing new
		}
	}
	close(writeErrs)
	for err := range writeErrs {
		t.Fatal(err)
	}
	close(pushed)
	wantSeen := slices.Clone(want)
	for id := range pushed {
		wantSeen = append(wantSeen, id)
	}
	var gotSeen, twice []string
	for id, n := range seen {
		gotSeen = append(gotSeen, id)
		if n > 1 {
			twice = append(twice, id)
		}
	}
	if diff := cmp.Diff(wantSeen, gotSeen, cmpSorted); diff != "" {
		t.Errorf("objects the poller saw (-pushed +seen):\n%s", diff)
	}
	if len(twice) > 0 {
		t.Errorf("the poller saw these objects more than once: %v", twice)
	}
}

// cmpSorted compares string slices as sets of lines.
var cmpSorted = cmp.Transformer("sorted", func(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
})

// TestMongoUnreachableAtStart starts taxiid while nothing listens at its
// MongoDB address: it logs that it retries, without touching the embedded
// store's directory, and serves once a server appears there.
func TestMongoUnreachableAtStart(t *testing.T) {
	addr := closedAddr(t)
	dir := t.TempDir()
	env, data := mongoEnv(t, "mongodb://"+addr+"/", mongo.DefaultDatabase)
	cmd := exec.Command(binary)
	cmd.Dir, cmd.Env = dir, env
	log, listening, err := begin(t, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !log.waitFor("MongoDB not reachable, retrying", 20*time.Second) {
		t.Fatalf("no retry line while MongoDB is unreachable:\n%s", log)
	}
	for _, want := range []string{"mongodb=mongodb://" + addr, "next_attempt_in=1s", "step=connect"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("retry line lacks %q:\n%s", want, log)
		}
	}
	mongotest.StartAt(t, addr)
	var base string
	select {
	case base = <-listening:
	case <-log.done:
		t.Fatalf("taxiid exited instead of serving once MongoDB appeared:\n%s", log)
	case <-time.After(30 * time.Second):
		t.Fatalf("taxiid does not serve 30 s after MongoDB appeared:\n%s", log)
	}
	if d := getJSON(t, base+"/taxii2/"); d["default"] != "/api1/" {
		t.Errorf("discovery default = %v; want /api1/", d["default"])
	}
	if !log.waitFor("connected to MongoDB", time.Second) {
		t.Errorf("no line saying MongoDB was reached:\n%s", log)
	}
	noDirectories(t, data, filepath.Join(dir, "taxiid-data"))
	stop(t, cmd, log)
}

// TestMongoRetryUntilStopped: while MongoDB stays unreachable, taxiid
// retries with a growing wait, its log lines never show the credentials of
// the URI, and SIGTERM ends it at once with status 0.
func TestMongoRetryUntilStopped(t *testing.T) {
	addr := closedAddr(t)
	dir := t.TempDir()
	env, data := mongoEnv(t, "mongodb://taxiid:s3cret@"+addr+"/?authSource=admin", "hub", "TAXIID_MONGO_TIMEOUT=300ms")
	cmd := exec.Command(binary)
	cmd.Dir, cmd.Env = dir, env
	log, _, err := begin(t, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !log.waitFor("next_attempt_in=2s", 20*time.Second) {
		t.Fatalf("no second retry, after a longer wait:\n%s", log)
	}
	for _, want := range []string{"next_attempt_in=1s", "mongodb=mongodb://***@" + addr + " database=hub"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	stopped := time.Now()
	stop(t, cmd, log)
	t.Logf("exited %v after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	if !strings.Contains(log.String(), "stopped before the store could be reached") {
		t.Errorf("no line saying why it stopped:\n%s", log)
	}
	if strings.Contains(log.String(), "s3cret") {
		t.Errorf("the log shows the URI's password:\n%s", log)
	}
	noDirectories(t, data, filepath.Join(dir, "taxiid-data"))
}

// TestMongoStartRefusals: a MongoDB failure that waiting cannot mend stops
// the start at once with status 1 and a message saying what is wrong,
// without retrying and without showing the URI's password.
func TestMongoStartRefusals(t *testing.T) {
	srv := mongotest.StartAt(t, "127.0.0.1:0") // any server will do: the tests need no external one
	newer := mongotest.Database(t, srv.Server)
	// A database that a later taxiid migrated past this one's schema
	// version ("meta" holds it, in the document "schema").
	s, err := mongo.Open(context.Background(), srv.URI, mongo.Options{Database: newer})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	c, err := driver.Connect(options.Client().ApplyURI(srv.URI))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	_, err = c.Database(newer).Collection("meta").UpdateOne(context.Background(),
		bson.D{{Key: "_id", Value: "schema"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: 1000}}}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, uri, db string
		want          []string
	}{
		{"malformed URI", "mongodb://taxiid:s3cret@db1:notaport/", "taxiid", []string{"open MongoDB", "notaport"}},
		{"schema newer than the program", srv.URI, newer, []string{"open MongoDB", "schema version 1000 is newer than this program"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			env, data := mongoEnv(t, tt.uri, tt.db)
			cmd := exec.CommandContext(ctx, binary)
			cmd.Dir, cmd.Env = t.TempDir(), env
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit = %v; want status 1\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, not := range []string{"retrying", "s3cret"} {
				if strings.Contains(string(out), not) {
					t.Errorf("output has %q:\n%s", not, out)
				}
			}
			noDirectories(t, data, filepath.Join(cmd.Dir, "taxiid-data"))
		})
	}
}

// TestMongoOutage takes MongoDB away from a serving taxiid and brings it
// back on the same address and data: meanwhile requests get 503 with
// Retry-After and an error resource (TAXII routes) or JSON error (admin
// routes) saying the store is unavailable, credentials it cannot check
// included, and /readyz says not ready; afterwards taxiid serves again by
// itself, with what was stored before.
func TestMongoOutage(t *testing.T) {
	fdb := mongotest.StartAt(t, "127.0.0.1:0")
	env, _ := mongoEnv(t, fdb.URI, mongo.DefaultDatabase)
	cmd, base, log := startEnv(t, t.TempDir(), env)
	before := []map[string]any{indicator()}
	pushObjects(t, base, before)
	mustCall(t, "GET", base+defaultObjects, nil, http.StatusOK)

	fdb.Stop()
	tests := []struct {
		name, method, path, auth string
		body                     []byte
		taxii                    bool
	}{
		{"objects", "GET", defaultObjects, "", nil, true},
		{"push", "POST", defaultObjects, "", []byte(`{"objects":[]}`), true},
		{"credentials it cannot check", "GET", defaultObjects, basicHeader(adminUser, "a guess"), nil, true},
		{"admin API", "GET", "/admin/organizations", "", nil, false},
		{"readiness", "GET", "/readyz", "", nil, false},
	}
	// Each waits for the store's deadline: sent together, they take one.
	resps := make([]taxiiResponse, len(tests))
	errs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		wg.Go(func() { resps[i], errs[i] = call(tt.method, base+tt.path, tt.auth, tt.body) })
	}
	wg.Wait()
	t.Run("while away", func(t *testing.T) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, err := resps[i], errs[i]
				if err != nil {
					t.Fatal(err)
				}
				if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
					t.Fatalf("%s %s while MongoDB is away = %d with Retry-After %q; want 503 with Retry-After\n%s",
						tt.method, tt.path, r.status, r.header.Get("Retry-After"), r.raw)
				}
				msg, wantType := fmt.Sprint(r.body["error"]), "application/json"
				if tt.taxii {
					msg, wantType = fmt.Sprint(r.body["description"]), "application/taxii+json;version=2.1"
					if r.body["http_status"] != "503" || r.body["title"] == nil {
						t.Errorf("not a TAXII error resource of status 503: %s", r.raw)
					}
				}
				if got := r.header.Get("Content-Type"); got != wantType {
					t.Errorf("Content-Type = %q; want %q", got, wantType)
				}
				if !strings.Contains(msg, "store does not answer") {
					t.Errorf("error %q does not say the store does not answer", msg)
				}
				for _, leak := range []string{"ongo", "atabase", "FerretDB", fdb.Addr} {
					if strings.Contains(string(r.raw), leak) {
						t.Errorf("the error speaks of the database (%q): %s", leak, r.raw)
					}
				}
			})
		}
	})
	if status, _ := statusAs(t, base, "/healthz", ""); status != http.StatusOK {
		t.Errorf("GET /healthz while MongoDB is away = %d; want 200", status)
	}

	fdb.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := call("GET", base+defaultObjects, "", nil)
		if err == nil && r.status == http.StatusOK {
			if diff := cmp.Diff(objectIDs(before), ids(r.body["objects"])); diff != "" {
				t.Errorf("objects after MongoDB came back (-want +got):\n%s", diff)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("taxiid does not serve 30 s after MongoDB came back: %d %v %s\n%s", r.status, err, r.raw, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustCall(t, "GET", base+"/readyz", nil, http.StatusOK)
	pushObjects(t, base, []map[string]any{indicator()})
	stop(t, cmd, log)
}

// TestAdminCLIOnMongo: `taxiid admin --mongo-uri` changes the store a
// server runs on (the server sees the change), and refuses a database
// that no server has started on rather than create it.
func TestAdminCLIOnMongo(t *testing.T) {
	srv := mongotest.Start(t)
	db := mongotest.Database(t, srv)
	admin := func(t *testing.T, db string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		dir := t.TempDir()
		stdout, stderr, code = runIn(t, dir, []string{"TAXIID_MONGO_URI=" + srv.URI, "TAXIID_MONGO_DATABASE=" + db, "USER=tester"},
			nil, append([]string{"admin"}, args...)...)
		if _, err := os.Stat(filepath.Join(dir, "taxiid-data")); err == nil {
			t.Errorf("taxiid admin on MongoDB created ./taxiid-data")
		}
		return stdout, stderr, code
	}

	t.Run("a database no server started on", func(t *testing.T) {
		missing := mongotest.Database(t, srv)
		_, stderr, code := admin(t, missing, "orgs", "list")
		if code != 1 || !strings.Contains(stderr, "no taxiid store in database \""+missing+"\"") {
			t.Errorf("admin orgs list = status %d, %q; want 1 and no taxiid store", code, stderr)
		}
		if _, _, code := admin(t, missing, "orgs", "list"); code != 1 {
			t.Errorf("second admin orgs list = status %d; want 1: the first must not have created the store", code)
		}
	})

	t.Run("changes reach the server", func(t *testing.T) {
		env, _ := mongoEnv(t, srv.URI, db)
		_, base, _ := startEnv(t, t.TempDir(), env)
		stdout, stderr, code := admin(t, db, "orgs", "create", "--name", "ACME")
		if code != 0 {
			t.Fatalf("admin orgs create = status %d\n%s", code, stderr)
		}
		var org map[string]any
		if err := json.Unmarshal([]byte(stdout), &org); err != nil || org["name"] != "ACME" {
			t.Fatalf("admin orgs create printed %q (%v)", stdout, err)
		}
		r := mustCall(t, "GET", base+"/admin/organizations/"+org["id"].(string), nil, http.StatusOK)
		if r.body["name"] != "ACME" {
			t.Errorf("the server answers %s for the organization the CLI created", r.raw)
		}
	})
}
