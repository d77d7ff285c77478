package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections/webhook"
)

// TestWebhooksWhileServing: a subscription made with `taxiid admin
// subscriptions create` is notified, signed, of objects pushed to a
// running server, through the CA and allowed host the server was given;
// the delivery is listed with its outcome; a URL to an internal address
// is refused.
func TestWebhooksWhileServing(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var headers []http.Header
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, headers = append(bodies, b), append(headers, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "receiver-ca.pem")
	mustNot(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: recv.Certificate().Raw}), 0o600))
	host := recv.Listener.Addr().String()
	data := filepath.Join(dir, "data")
	_, base, _ := startEnv(t, dir, processEnv("TAXIID_DATA="+data, "TAXIID_WEBHOOK_ALLOW_HOSTS="+host, "TAXIID_WEBHOOK_CA="+ca,
		"TAXIID_PUBLIC_URL=https://taxii.example.org"))
	run := func(args ...string) map[string]any {
		t.Helper()
		stdout, stderr, code := adminRun(t, data, "", args...)
		if code != 0 {
			t.Fatalf("taxiid admin %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		var out map[string]any
		mustNot(t, json.Unmarshal([]byte(stdout), &out))
		return out
	}
	run("orgs", "create", "--name", "ACME")
	run("users", "create", "--name", "alice", "--org", "ACME")
	tok := run("tokens", "create", "alice", "--name", "ci")["secret"].(string)
	coll := run("collections", "create", "api1", "--title", "Feed", "--alias", "feed")["id"].(string)
	for _, act := range []string{"read", "write"} {
		run("grants", "create", "--org", "ACME", "--api-root", "api1", "--collection", "feed", "--action", act)
	}

	if _, stderr, code := adminRun(t, data, "", "subscriptions", "create", "--org", "ACME", "--api-root", "api1",
		"--collection", "feed", "--url", "https://127.0.0.1:1/hook"); code != 1 || !strings.Contains(stderr, "loopback") {
		t.Errorf("subscription to a loopback address: exit %d\n%s", code, stderr)
	}
	sub := run("subscriptions", "create", "--org", "ACME", "--api-root", "api1", "--collection", "feed",
		"--url", recv.URL+"/hook", "--webhook-allow-hosts", host)
	subID, secret := sub["id"].(string), sub["secret"].(string)

	ids := []string{"indicator--1f2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b", "indicator--2f2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"}
	var objs []string
	for _, id := range ids {
		objs = append(objs, `{"type":"indicator","spec_version":"2.1","id":"`+id+`","created":"2026-01-01T00:00:00.000Z",`+
			`"modified":"2026-01-01T00:00:00.000Z","name":"bad","pattern":"[url:value = 'http://evil.example/']",`+
			`"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`)
	}
	envelope := []byte(`{"objects":[` + strings.Join(objs, ",") + `]}`)
	push := func() int {
		req, err := http.NewRequest("POST", base+"/api1/collections/"+coll+"/objects/", bytes.NewReader(envelope))
		mustNot(t, err)
		req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		mustNot(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	// The server sees the grants made by the command within a second.
	status := push()
	for deadline := time.Now().Add(3 * time.Second); status == http.StatusNotFound && time.Now().Before(deadline); status = push() {
		time.Sleep(50 * time.Millisecond)
	}
	if status != http.StatusAccepted {
		t.Fatalf("push: %d", status)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	body, hdr := bodies[0], headers[0]
	mu.Unlock()
	v := &webhook.Verifier{Secret: secret}
	n, err := v.Verify(hdr, body)
	if err != nil {
		t.Fatalf("notification does not verify: %v\n%s", err, body)
	}
	wantLink := "https://taxii.example.org/api1/collections/" + coll + "/objects/?added_after="
	if n.Subscription != subID || n.Collection != coll || n.Count != 2 || !strings.HasPrefix(n.Objects, wantLink) {
		t.Errorf("notification %s; want subscription %s, 2 versions of %s, a link starting %s", body, subID, coll, wantLink)
	}
	if _, err := (&webhook.Verifier{Secret: "whsec_other"}).Verify(hdr, body); err == nil {
		t.Errorf("the notification verifies with another secret")
	}

	deadline = time.Now().Add(5 * time.Second)
	for {
		items := run("subscriptions", "deliveries", subID)["items"].([]any)
		if len(items) == 1 && items[0].(map[string]any)["state"] == webhook.StateDelivered {
			if c := items[0].(map[string]any)["count"]; c != 2.0 {
				t.Errorf("delivery count %v, want 2", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %v", items)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustNot(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
