package taxii_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

// The memory benchmarks run the server in a child process (this test
// binary, started with TAXIID_MEMORY_SERVER set) so that its resident
// memory can be read apart from the clients': the child reports the peak
// resident set (VmHWM of /proc/self/status) of each phase, reset between
// phases through /proc/self/clear_refs. Linux only.
//
//	go test ./taxii -run '^$' -bench Memory -benchtime 1x
//
// The child runs with GOGC=400 unless the environment sets GOGC, as the
// taxiid binary does; GOMEMLIMIT, when set, applies to it as well.

// memoryServer is the child process.
type memoryServer struct {
	url string
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startMemoryServer(b *testing.B) *memoryServer {
	b.Helper()
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		b.Skip("needs Linux /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TAXIID_MEMORY_SERVER="+b.TempDir())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &memoryServer{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	s.url = s.call(b, "url")
	return s
}

// call sends one command to the child and returns its one-line answer.
func (s *memoryServer) call(b *testing.B, command string) string {
	b.Helper()
	if _, err := fmt.Fprintln(s.in, command); err != nil {
		b.Fatal(err)
	}
	if !s.out.Scan() {
		b.Fatalf("memory server: no answer to %q", command)
	}
	return s.out.Text()
}

// peakMiB returns the child's peak resident memory since the last reset.
func (s *memoryServer) peakMiB(b *testing.B) float64 {
	kb, err := strconv.ParseFloat(s.call(b, "hwm"), 64)
	if err != nil {
		b.Fatal(err)
	}
	return kb / 1024
}

// runMemoryServer is the child: a taxiid server over a store in dir,
// answering commands on standard input (see memoryServer).
func runMemoryServer(dir string) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "memory server:", err)
		os.Exit(1)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "taxiid.db"))
	if err != nil {
		fail(err)
	}
	if err := store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 100 << 20}); err != nil {
		fail(err)
	}
	if err := store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: collID, Title: "Main",
		MediaTypes: []string{"application/stix+json;version=2.1"}}); err != nil {
		fail(err)
	}
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		fail(err)
	}
	logger := slog.New(slog.DiscardHandler)
	ing := collections.NewIngester(store, v, collections.IngestConfig{Logger: logger})
	srv, err := taxii.New(ctx, taxii.Config{Store: store, Ingester: ing, Authorizer: allowAll{},
		Logger: logger, PageSize: 100, MaxPageSize: 1000})
	if err != nil {
		fail(err)
	}
	hs := &http.Server{Addr: "127.0.0.1:0", Handler: srv}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	go hs.Serve(ln)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch f[0] {
		case "url":
			fmt.Println("http://" + ln.Addr().String())
		case "reset": // restart the peak resident set from the current one
			if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
				fail(err)
			}
			fmt.Println("ok")
		case "hwm":
			fmt.Println(procStatus("VmHWM"))
		case "wait": // background ingestion finished
			ing.Wait()
			fmt.Println("ok")
		case "load": // load N objects of SIZE bytes straight into the store
			n, _ := strconv.Atoi(f[1])
			size, _ := strconv.Atoi(f[2])
			for start := 0; start < n; start += 100 {
				batch := make([]collections.NewObject, 0, 100)
				for i := start; i < min(start+100, n); i++ {
					raw := bigIndicatorJSON(i, size)
					id, _, err := v.Validate(raw, stix.LevelDefault)
					if err != nil {
						fail(err)
					}
					batch = append(batch, collections.NewObject{ID: id.ID, Type: id.Type, SpecVersion: id.SpecVersion, Version: id.Version, Raw: raw})
				}
				if _, err := store.AddObjects(ctx, "api1", collID, batch, collections.AddOptions{}); err != nil {
					fail(err)
				}
			}
			fmt.Println("ok")
		}
	}
	hs.Close()
	ing.Wait()
	store.Close()
}

// procStatus returns a kB figure of /proc/self/status.
func procStatus(field string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "0"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return "0"
}

// bigIndicatorJSON returns an indicator of about size bytes (its
// description fills it up).
func bigIndicatorJSON(i, size int) []byte {
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
	head := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":"%s","modified":"%s","name":"Indicator %d","pattern":"[domain-name:value = 'host-%d.example.net']","pattern_type":"stix","valid_from":"%s","description":"`,
		uuid.New(), ts, ts, i, i, ts)
	pad := max(0, size-len(head)-2)
	return []byte(head + strings.Repeat("a", pad) + `"}`)
}

// BenchmarkMemoryPush pushes one envelope of 99 MiB (about 106,000
// indicators of 980 bytes) and reports the server's peak resident memory
// during the request and the background ingestion that follows, and that
// peak as a multiple of the body size (target: under 3).
func BenchmarkMemoryPush(b *testing.B) {
	s := startMemoryServer(b)
	var body bytes.Buffer
	body.WriteString(`{"objects":[`)
	for i := 0; body.Len() < 99<<20-2000; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(bigIndicatorJSON(i, 980))
	}
	body.WriteString(`]}`)
	client := &http.Client{Timeout: 10 * time.Minute}
	idle := s.peakMiB(b)
	var peak float64
	b.ResetTimer()
	for range b.N {
		s.call(b, "reset")
		req, _ := http.NewRequest("POST", s.url+objects, bytes.NewReader(body.Bytes()))
		req.Header.Set("Accept", taxii.MediaTypeTAXII)
		req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("POST = %d %s", resp.StatusCode, raw)
		}
		s.call(b, "wait")
		peak = max(peak, s.peakMiB(b))
	}
	b.StopTimer()
	size := float64(body.Len()) / (1 << 20)
	b.ReportMetric(idle, "idle-MiB")
	b.ReportMetric(peak, "peak-MiB")
	b.ReportMetric(peak/size, "peak/body")
}

// BenchmarkMemoryPages has 16 clients read pages of limit=1000 at once from
// a collection of 100 KB objects (each page stops at the 16 MiB byte
// budget; each client reads two), and reports the server's peak resident memory (target: under
// 600 MiB).
func BenchmarkMemoryPages(b *testing.B) {
	s := startMemoryServer(b)
	const clients, objSize = 16, 100_000
	n := 2*(16<<20)/objSize + 10 // each client reads the first two pages
	s.call(b, fmt.Sprintf("load %d %d", n, objSize))
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	idle := s.peakMiB(b)
	var peak float64
	b.ResetTimer()
	for range b.N {
		s.call(b, "reset")
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := ""
				for range 2 {
					q := "?limit=1000"
					if next != "" {
						q += "&next=" + url.QueryEscape(next)
					}
					req, _ := http.NewRequest("GET", s.url+objects+q, nil)
					req.Header.Set("Accept", taxii.MediaTypeTAXII)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					var env struct {
						More bool   `json:"more"`
						Next string `json:"next"`
					}
					err = json.NewDecoder(resp.Body).Decode(&env)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || err != nil {
						b.Errorf("GET = %d %v", resp.StatusCode, err)
						return
					}
					if !env.More {
						return
					}
					next = env.Next
				}
			}()
		}
		wg.Wait()
		peak = max(peak, s.peakMiB(b))
	}
	b.StopTimer()
	b.ReportMetric(idle, "idle-MiB")
	b.ReportMetric(peak, "peak-MiB")
}

// BenchmarkMemoryStalledReaders has 100 clients ask for a limit=1000 page
// of 100 KB objects (16 MiB each, at the page byte budget) and read nothing
// for 5 seconds, then close, and reports the server's peak resident memory
// meanwhile and how many were answered at all (the others wait for the
// memory budget, then get a 503).
func BenchmarkMemoryStalledReaders(b *testing.B) {
	s := startMemoryServer(b)
	const clients, objSize = 100, 100_000
	s.call(b, fmt.Sprintf("load %d %d", (16<<20)/objSize+10, objSize))
	u, _ := url.Parse(s.url)
	idle := s.peakMiB(b)
	var peak float64
	var busy int
	b.ResetTimer()
	for range b.N {
		s.call(b, "reset")
		conns := make([]net.Conn, 0, clients)
		for range clients {
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(c, "GET %s?limit=1000 HTTP/1.1\r\nHost: x\r\nAccept: %s\r\n\r\n", objects, taxii.MediaTypeTAXII)
			conns = append(conns, c)
		}
		time.Sleep(5 * time.Second)
		peak = max(peak, s.peakMiB(b))
		busy = 0
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			line, _ := bufio.NewReader(c).ReadString('\n')
			if strings.Contains(line, " 503 ") {
				busy++
			}
			c.Close()
		}
	}
	b.StopTimer()
	b.ReportMetric(idle, "idle-MiB")
	b.ReportMetric(peak, "peak-MiB")
	b.ReportMetric(float64(busy), "503s")
}
