package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// conn is a raw client connection that sends requests one after another.
type conn struct {
	net.Conn
	r *bufio.Reader
}

// dial connects to addr from the loopback address src (every 127.x.y.z is
// local on Linux), so that one test can be several sources.
func dial(t *testing.T, addr, src string) *conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{Conn: c, r: bufio.NewReader(c)}
}

// get sends GET path on c, signed in as the first admin, and returns the
// response status and body.
func (c *conn) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: taxiid\r\nAccept: application/taxii+json;version=2.1\r\n"+
		"Authorization: "+basicHeader(adminUser, testAdminPassword)+"\r\n\r\n")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, b
}

// TestConnectionCaps holds connections open from several sources against
// caps of 4 in all and 2 per source: a connection over either cap is
// answered 503 at once, while the connections held and other sources
// under their cap are still served, and a closed connection frees its
// place.
func TestConnectionCaps(t *testing.T) {
	_, base, log := start(t, t.TempDir(), "--max-connections", "4", "--max-connections-per-ip", "2")
	addr := strings.TrimPrefix(base, "http://")

	conns := map[string]*conn{}
	steps := []struct {
		conn, src  string // src "": a connection already open
		wantStatus int
	}{
		{"a1", "127.0.0.1", 200},
		{"a2", "127.0.0.1", 200},
		{"a3", "127.0.0.1", 503}, // over the cap of the source
		{"b1", "127.0.0.2", 200}, // another source is still served
		{"b2", "127.0.0.2", 200},
		{"c1", "127.0.0.3", 503}, // over the cap in all
		{"a1", "", 200},          // connections held are still served
		{"b2", "", 200},
	}
	for _, s := range steps {
		c := conns[s.conn]
		if s.src != "" {
			c = dial(t, addr, s.src)
			conns[s.conn] = c
		}
		status, body := c.get(t, "/taxii2/")
		if status != s.wantStatus {
			t.Fatalf("%s from %s: status %d; want %d\n%s", s.conn, s.src, status, s.wantStatus, body)
		}
		if status == 503 {
			var e map[string]any
			if err := json.Unmarshal(body, &e); err != nil || e["http_status"] != "503" {
				t.Errorf("%s: the 503 is not a TAXII error resource: %s", s.conn, body)
			}
		}
	}
	if !log.waitFor("connections refused", 5*time.Second) {
		t.Errorf("refusals not logged:\n%s", log)
	}

	// A place freed by a close is taken by the next connection (once the
	// server has seen the close).
	conns["a1"].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _ := dial(t, addr, "127.0.0.3").get(t, "/taxii2/")
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a close, a new connection still gets %d", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConnectionCapFitsFileLimit runs taxiid with a limit of 300 open
// files: the cap on connections comes down to keep 256 descriptors for
// the store and the rest, so the 45th connection is refused while the
// server goes on serving.
func TestConnectionCapFitsFileLimit(t *testing.T) {
	dir := t.TempDir()
	_, base, log, err := launchShell(t, dir, "ulimit -n 300 && exec "+binary+" --max-connections-per-ip 0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "max-connections lowered to fit the limit of open files") {
		t.Errorf("no warning about the lowered cap:\n%s", log)
	}
	addr := strings.TrimPrefix(base, "http://")
	var held []*conn
	for i := range 44 {
		c := dial(t, addr, "127.0.0.1")
		if status, body := c.get(t, "/taxii2/"); status != 200 {
			t.Fatalf("connection %d: status %d\n%s", i+1, status, body)
		}
		held = append(held, c)
	}
	if status, _ := dial(t, addr, "127.0.0.1").get(t, "/taxii2/"); status != 503 {
		t.Errorf("connection 45: status %d; want 503", status)
	}
	if status, body := held[0].get(t, "/api1/collections/"); status != 200 {
		t.Errorf("a held connection: status %d\n%s", status, body)
	}
}

// TestHeaderSizeCap sends requests with headers of several sizes: small
// ones are served, large ones (above the HTTP server's cap of 128 KiB,
// well below Go's default of 1 MiB) get 431 without being read further.
func TestHeaderSizeCap(t *testing.T) {
	_, base, _ := start(t, t.TempDir())
	tests := []struct {
		name       string
		headerSize int
		wantStatus int
	}{
		{"small", 100, 200},
		{"32 KiB", 32 << 10, 200},
		{"200 KiB", 200 << 10, 431},
		{"1 MiB", 1 << 20, 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", base+"/taxii2/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", "application/taxii+json;version=2.1")
			req.Header.Set("X-Padding", strings.Repeat("x", tt.headerSize))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d; want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
}
