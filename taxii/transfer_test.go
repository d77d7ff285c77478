package taxii_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taxiid/taxiid/taxii"
)

// paced is a server configuration with short transfer deadlines.
func paced(rate int64, grace time.Duration) func(*taxii.Config) {
	return func(c *taxii.Config) {
		c.MinTransferRate = rate
		c.TransferGrace = grace
	}
}

// dial opens a raw TCP connection to the server, with a small receive
// buffer when rcvbuf > 0, and a deadline on everything the test does.
func dial(t *testing.T, e *env, rcvbuf int) net.Conn {
	t.Helper()
	u, _ := url.Parse(e.url)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		if rcvbuf > 0 {
			c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
		return nil
	}}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestStalledUploadIsCut: a push that sends its headers and part of its
// body, then stalls, gets a 408 error resource once the minimum rate is
// missed, and its connection is closed.
func TestStalledUploadIsCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{config: paced(64<<10, 300*time.Millisecond)})
	conn := dial(t, e, 0)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAccept: %s\r\nContent-Type: %s\r\nContent-Length: 100000\r\n\r\n{\"objects\":[",
		objects, taxii.MediaTypeTAXII, taxii.MediaTypeTAXII)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled upload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"http_status":"408"`) {
		t.Errorf("stalled upload = %d %s; want a 408 error resource", resp.StatusCode, body)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("the connection of a stalled upload stays open")
	}
}

// TestSteadyUploadPasses: an upload that lasts longer than the grace, at a
// rate above the minimum, is served.
func TestSteadyUploadPasses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{config: paced(512<<10, 300*time.Millisecond)})
	var objs []map[string]any
	for i := range 300 {
		objs = append(objs, obj("indicator", fmt.Sprintf("30000000-0000-4000-8000-%012d", i), "2021-01-01T00:00:00.000Z",
			"description", strings.Repeat("d", 1000)))
	}
	body := mustJSON(t, envelope(objs...)) // about 400 KB: 0.6 s at 640 KiB/s
	req, _ := http.NewRequest("POST", e.url+objects, &throttled{r: bytes.NewReader(body), perSecond: 640 << 10})
	req.ContentLength = int64(len(body))
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(raw), `"success_count":300`) {
		t.Errorf("steady upload over %v = %d %s; want 202 with 300 successes", time.Since(start), resp.StatusCode, raw)
	}
}

// throttled reads at about perSecond bytes per second, in 16 KiB pieces.
type throttled struct {
	r         io.Reader
	perSecond int
}

func (t *throttled) Read(p []byte) (int, error) {
	p = p[:min(len(p), 16<<10)]
	time.Sleep(time.Duration(len(p)) * time.Second / time.Duration(t.perSecond))
	return t.r.Read(p)
}

// TestStalledReaderIsCut: a client that asks for a large page and does not
// read it has its connection cut once the minimum rate is missed; the
// server does not hold the page for ever.
func TestStalledReaderIsCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{config: paced(4<<20, time.Second), sendBuffer: 32 << 10})
	var objs []map[string]any
	for i := range 6 {
		objs = append(objs, obj("indicator", fmt.Sprintf("40000000-0000-4000-8000-%012d", i), "2021-01-01T00:00:00.000Z",
			"description", strings.Repeat("d", 400_000)))
	}
	e.push(envelope(objs...)) // one page of 2.4 MB: far more than the socket buffers hold

	conn := dial(t, e, 4096)
	fmt.Fprintf(conn, "GET %s?limit=10 HTTP/1.1\r\nHost: x\r\nAccept: %s\r\n\r\n", objects, taxii.MediaTypeTAXII)
	time.Sleep(300 * time.Millisecond) // the reader stalls...
	// ...holding, of the memory budget, its page's size, not the 16 MiB
	// page byte budget it was first charged.
	if n := e.srv.MemoryInUse(); n < 2_400_000 || n > 2_500_000 {
		t.Errorf("a stalled reader of a 2.4 MB page holds %d bytes of the memory budget", n)
	}
	time.Sleep(1500 * time.Millisecond) // past the grace
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.Atoi(resp.Header.Get("Content-Length"))
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil || n >= int64(want) {
		t.Errorf("a stalled reader got %d of %d bytes (err %v); want the connection cut", n, want, err)
	}
	// A reader at a fair pace gets the whole page.
	if r := e.get(objects + "?limit=10"); len(ids(r, "objects")) != 6 {
		t.Errorf("a fair reader got %s", r.raw[:min(len(r.raw), 200)])
	}
}
