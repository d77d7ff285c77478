package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
)

// collectionVersions returns "id version" of every version stored in a
// collection of the embedded store in data, sorted. The store may be in
// use by a running server.
func collectionVersions(t *testing.T, data, apiRoot, coll string) []string {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(data, "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []string
	q := collections.Query{APIRoot: apiRoot, Collection: coll, Limit: 1000, MetadataOnly: true,
		Versions: collections.VersionFilter{All: true}, AllSpecVersions: true}
	for {
		p, err := s.Objects(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Objects {
			out = append(out, o.ID+" "+stix.FormatTimestamp(o.Version))
			q.AddedAfter = o.DateAdded
		}
		if !p.More {
			slices.Sort(out)
			return out
		}
	}
}

// pushTo posts a bundle to the default collection of a running server.
func pushTo(t *testing.T, base string, bundle []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/api1/collections/default/objects/", bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("push: %s", resp.Status)
	}
}

// newerVersions returns a bundle of a new version of each of the first n
// indicators of indicatorBundle.
func newerVersions(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"bundle","id":"bundle--2f6b4c2a-9d3e-4a7b-8c5d-0e1f2a3b4c5d","objects":[`)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		created := stix.FormatTimestamp(t0.Add(time.Duration(i) * time.Minute))
		modified := stix.FormatTimestamp(t0.Add(time.Duration(i)*time.Minute + time.Hour*24*365))
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-7d1e-4c2b-9a3f-%012x","created":"%s","modified":"%s",`+
			`"name":"host %d, revised","pattern":"[ipv4-addr:value = '203.0.113.%d']","pattern_type":"stix","valid_from":"%s"}`,
			i, i, created, modified, i, i%256, created)
	}
	b.WriteString("]}")
	return b.Bytes()
}

var mirroredSummary = regexp.MustCompile(`source b: (\d+) pages, (\d+) objects in \S+: (\d+) added, (\d+) unchanged, (\d+) rejected`)

// TestMirrorCommand: `taxiid mirror --once` pulls a collection of another
// taxiid server into a local one, every version, with its progress on
// standard error; killed in the middle and run again it ends with exactly
// the remote's versions; a server on the store then keeps pulling what is
// pushed to the remote.
func TestMirrorCommand(t *testing.T) {
	remoteData := filepath.Join(t.TempDir(), "remote")
	_, base, _ := start(t, t.TempDir(), "--data", remoteData, "--max-page-size", "100")
	bundle, _ := indicatorBundle(1500, -1)
	pushTo(t, base, bundle)
	pushTo(t, base, newerVersions(200))
	want := collectionVersions(t, remoteData, "api1", defaultCollectionID)
	if len(want) != 1700 {
		t.Fatalf("the remote holds %d versions, want 1700", len(want))
	}

	local := bulkStore(t)
	out, errOut, code := runCLI(t, local, strings.NewReader(testAdminPassword+"\n"), "admin", "sources", "create", "b",
		"--url", base+"/api1/collections/default/", "--username", adminUser, "--password-stdin",
		"--api-root", "bulk", "--collection", "intel", "--interval", "200ms")
	if code != 0 {
		t.Fatalf("sources create: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, testAdminPassword) || !strings.Contains(out, `"has_password": true`) {
		t.Errorf("sources create printed:\n%s", out)
	}

	// Killed once it has stored some pages.
	cmd := exec.Command(binary, "mirror", "--once", "b", "--progress", "lines", "--progress-interval", "10ms", "--lease", "1s")
	cmd.Env = []string{"TAXIID_DATA=" + local}
	log, _, err := begin(t, cmd)
	if err != nil {
		t.Fatal(err)
	}
	progressed := regexp.MustCompile(`(?m)^[1-9]\d* objects mirrored`)
	for deadline := time.Now().Add(20 * time.Second); !progressed.MatchString(log.String()) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	partial := collectionVersions(t, local, "bulk", bulkCollID)
	t.Logf("%d versions stored when killed", len(partial))

	out, errOut, code = runCLI(t, local, nil, "mirror", "--once", "b", "--progress", "lines", "--progress-interval", "10ms")
	if code != 0 {
		t.Fatalf("mirror --once: exit %d\n%s%s", code, out, errOut)
	}
	m := mirroredSummary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in:\n%s", out)
	}
	if m[5] != "0" {
		t.Errorf("rejections: %s", out)
	}
	if diff := cmp.Diff(want, collectionVersions(t, local, "bulk", bulkCollID)); diff != "" {
		t.Fatalf("mirrored versions (-remote +local):\n%s", diff)
	}
	// What the killed run stored is not added again.
	if added := m[3]; added != fmt.Sprint(1700-len(partial)) {
		t.Errorf("the second run added %s versions, want %d", added, 1700-len(partial))
	}
	if !strings.Contains(errOut, "objects mirrored") {
		t.Errorf("no progress on standard error:\n%s", errOut)
	}

	// A server on the local store pulls what the remote gets next.
	const metricsToken = "metrics-token-of-the-mirror-test"
	_, localBase, serverLog := start(t, t.TempDir(), "--data", local, "--metrics-token", metricsToken)
	extra, _ := indicatorBundle(1520, -1) // 20 new ids after the 1500
	pushTo(t, base, extra)
	want = collectionVersions(t, remoteData, "api1", defaultCollectionID)
	if len(want) != 1720 {
		t.Fatalf("the remote holds %d versions, want 1720", len(want))
	}
	var got []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = collectionVersions(t, local, "bulk", bulkCollID); cmp.Equal(want, got) {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("versions pulled by the server (-remote +local):\n%s\nserver log:\n%s", diff, serverLog)
	}
	// The operations view: the source's counters and health as metrics.
	status, body := scrapeMetrics(t, localBase, metricsToken)
	for _, line := range []string{
		`taxiid_mirror_objects_total{outcome="rejected",source="b"} 0`,
		`taxiid_mirror_failing{source="b"} 0`,
	} {
		if status != http.StatusOK || !strings.Contains(body, line+"\n") {
			t.Errorf("metrics (%d) without %s:\n%s", status, line, body)
		}
	}
	if !regexp.MustCompile(`(?m)^taxiid_mirror_last_success_timestamp_seconds\{source="b"\} [1-9]`).MatchString(body) {
		t.Errorf("no last success in the metrics:\n%s", body)
	}
	out, _, code = runCLI(t, local, nil, "admin", "sources", "get", "b")
	if code != 0 || !strings.Contains(out, `"rejected": 0`) || !strings.Contains(out, `"last_success": "`) {
		t.Errorf("sources get: exit %d\n%s", code, out)
	}
}
