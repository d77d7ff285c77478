package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShutdownWithPushInFlight stops taxiid with SIGTERM while a push is in
// flight: a push whose client goes on sending within the grace completes
// (202, object stored); a push whose client stalls is cut when the grace
// runs out. Either way the process exits with status 0 within the grace.
func TestShutdownWithPushInFlight(t *testing.T) {
	const envelope = `{"objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` +
		`"created":"2023-03-01T10:00:00.000Z","modified":"2023-03-01T10:00:00.000Z","pattern":"[file:name = 'a']",` +
		`"pattern_type":"stix","valid_from":"2023-03-01T10:00:00Z"}]}`
	tests := []struct {
		name        string
		grace       string
		stall       bool
		wantLog     string
		wantSuccess bool // the client gets a 202 listing the object
	}{
		{"client finishes its push", "10s", false, "shutting down", true},
		{"client stalls", "1s", true, "closed the connections of requests still in flight\" connections=1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, base, log := start(t, t.TempDir(), "--shutdown-timeout", tt.grace)
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			head := fmt.Sprintf("POST /api1/collections/%s/objects/ HTTP/1.1\r\nHost: taxiid\r\n"+
				"Accept: application/taxii+json;version=2.1\r\nContent-Type: application/taxii+json;version=2.1\r\n"+
				"Authorization: Basic %s\r\nContent-Length: %d\r\n\r\n", defaultCollectionID,
				base64.StdEncoding.EncodeToString([]byte(adminUser+":"+testAdminPassword)), len(envelope))
			half := len(envelope) / 2
			if _, err := io.WriteString(c, head+envelope[:half]); err != nil {
				t.Fatal(err)
			}
			// Let the server read the headers and start on the body.
			time.Sleep(200 * time.Millisecond)

			stopped := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if !tt.stall {
				time.Sleep(200 * time.Millisecond)
				if _, err := io.WriteString(c, envelope[half:]); err != nil {
					t.Fatal(err)
				}
			}
			resp, respErr := http.ReadResponse(bufio.NewReader(c), nil)

			exited := make(chan error, 1)
			go func() {
				<-log.done
				exited <- cmd.Wait()
			}()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("exit after SIGTERM: %v; want status 0\n%s", err, log)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("still running 15 s after SIGTERM\n%s", log)
			}
			t.Logf("exited %v after SIGTERM", time.Since(stopped).Round(time.Millisecond))
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, log)
			}

			if !tt.wantSuccess {
				if respErr == nil {
					t.Errorf("the stalled push got a response: %s", resp.Status)
				}
				return
			}
			if respErr != nil {
				t.Fatalf("no response to the push: %v\n%s", respErr, log)
			}
			defer resp.Body.Close()
			var status struct {
				Status    string `json:"status"`
				Successes []struct {
					ID string `json:"id"`
				} `json:"successes"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&status); err != nil || resp.StatusCode != 202 {
				t.Fatalf("push: %s, %v", resp.Status, err)
			}
			if status.Status != "complete" || len(status.Successes) != 1 ||
				status.Successes[0].ID != "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f" {
				t.Errorf("push status = %+v", status)
			}
		})
	}
}

// TestDrainBeforeShutdown: after SIGTERM with a drain delay, /readyz
// answers 503 so that a load balancer stops routing here, while TAXII
// requests are still served and long-poll requests are answered at once
// (their clients poll again through a replica that stays); then the
// process stops.
func TestDrainBeforeShutdown(t *testing.T) {
	cmd, base, log := start(t, t.TempDir(), "--drain-delay", "4s")
	client := &http.Client{Timeout: 5 * time.Second}
	status := func(path string, auth bool) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		if auth {
			req.SetBasicAuth(adminUser, testAdminPassword)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/readyz", false); got != http.StatusOK {
		t.Fatalf("GET /readyz before SIGTERM = %d; want 200", got)
	}
	waiting := waitingGet(base+defaultObjects, 60)
	time.Sleep(500 * time.Millisecond) // the request waits
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !log.waitFor("draining", 5*time.Second) {
		t.Fatalf("no draining line after SIGTERM\n%s", log)
	}
	w := receiveWaited(t, waiting, 10*time.Second)
	if w.status != http.StatusOK || len(w.ids) != 0 {
		t.Errorf("request waiting at SIGTERM = %d, ids %v; want 200, none", w.status, w.ids)
	}
	// Answered while draining, not when the server stopped accepting.
	if got := status("/readyz", false); got != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz while draining = %d; want 503", got)
	}
	if got := status("/taxii2/", true); got != http.StatusOK {
		t.Errorf("GET /taxii2/ while draining = %d; want 200", got)
	}
	exited := make(chan error, 1)
	go func() {
		<-log.done
		exited <- cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after draining: %v; want status 0\n%s", err, log)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after SIGTERM\n%s", log)
	}
}
