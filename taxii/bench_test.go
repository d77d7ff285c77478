package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

// Benchmarks of the HTTP API on the embedded store, through a real loopback
// listener. See BENCHMARKS.md for the commands and figures.
//
//	go test ./taxii -run '^$' -bench . -benchtime 20000x
//
// TAXIID_BENCH_OBJECTS sets the size of the collection read by
// BenchmarkGetObjects (default 100,000). The benchmarks run with GOGC=400,
// as the taxiid binary does unless GOGC is set.

// indicatorJSON returns a realistic STIX 2.1 indicator of about 900 bytes.
func indicatorJSON(i int) []byte {
	id := uuid.New().String()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
	return fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"%s","modified":"%s","name":"Malicious domain %d","description":"Domain observed in phishing campaign infrastructure; resolves to known command and control servers used for credential harvesting and second-stage payload delivery.","indicator_types":["malicious-activity","attribution"],"pattern":"[domain-name:value = 'host-%d.bad.example.net'] OR [url:value = 'http://host-%d.bad.example.net/login.php']","pattern_type":"stix","valid_from":"%s","kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"command-and-control"}],"labels":["phishing","c2"],"confidence":80,"lang":"en","external_references":[{"source_name":"internal-case","external_id":"CASE-%d","url":"https://tickets.example.org/case/%d"}],"object_marking_refs":["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]}`,
		id, ts, ts, i, i, i, ts, i, i)
}

type benchServer struct {
	url    string
	client *http.Client
	store  *sqlite.Store
	close  func()
	// authorization is the Authorization header of the requests; "" none.
	authorization string
}

func newBenchServer(b *testing.B, syncLimit int, level stix.Level) *benchServer {
	b.Helper()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400) // as cmd/taxiid does
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "taxiid-bench")
	if err != nil {
		b.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "taxiid.db"))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 100 << 20}); err != nil {
		b.Fatal(err)
	}
	if err := store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: collID, Title: "Main",
		MediaTypes: []string{"application/stix+json;version=2.1"}}); err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	ing := collections.NewIngester(store, newValidator(b), collections.IngestConfig{SyncLimit: syncLimit, Logger: logger, Level: level})
	srv, err := taxii.New(ctx, taxii.Config{Store: store, Ingester: ing, Authorizer: allowAll{},
		Logger: logger, PageSize: 100, MaxPageSize: 1000})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	return &benchServer{url: hs.URL, client: client, store: store, close: func() {
		hs.Close()
		ing.Wait()
		store.Close()
		os.RemoveAll(dir)
	}}
}

func (s *benchServer) get(b *testing.B, path string) []byte {
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	if s.authorization != "" {
		req.Header.Set("Authorization", s.authorization)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s = %d %v", path, resp.StatusCode, err)
	}
	return body
}

var (
	readOnce   sync.Once
	readServer *benchServer // shared by the runs of BenchmarkGetObjects
	// readAccess serves readServer's store with access control, once with
	// audit and once without.
	accessOnce sync.Once
	readAccess map[bool]*benchServer
	benchClose []func()
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("TAXIID_MEMORY_SERVER"); dir != "" {
		runMemoryServer(dir)
		return
	}
	code := m.Run()
	for _, f := range slices.Backward(benchClose) {
		f()
	}
	if readServer != nil {
		readServer.close()
	}
	os.Exit(code)
}

// BenchmarkGetObjects measures GET objects pages of 100 on a large
// collection: clients walk the collection with next tokens, concurrently.
//
// auth=none serves every requester without access control; the others run
// the authenticator, the Casbin authorizer and (audit=on) the audit log of
// the taxiid binary: a member of a granted organization signing in with
// HTTP Basic or a token, or anonymous clients on the collection made
// public.
//
// TAXIID_BENCH_ROUNDS runs the whole list that many times (default 1), so
// that the variants can be compared round by round on a busy machine.
func BenchmarkGetObjects(b *testing.B) {
	loadReadServer(b)
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("TAXIID_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	variants := []struct {
		name  string
		auth  string // "", "basic", "token" or "public"
		audit bool
	}{
		// Each audited run follows its unaudited twin, so that both see
		// the machine in the same state.
		{"auth=none", "", false},
		{"auth=basic", "basic", false},
		{"auth=basic/audit=on", "basic", true},
		{"auth=token", "token", false},
		{"auth=token/audit=on", "token", true},
		{"auth=public", "public", false},
	}
	for range rounds {
		for _, v := range variants {
			b.Run(v.name, func(b *testing.B) {
				s := readServer
				if v.auth != "" {
					accessOnce.Do(func() { readAccess = newAccessServers(b, readServer.store) })
					as := *readAccess[v.audit]
					switch v.auth {
					case "basic":
						as.authorization = basicAuth(benchUser, benchPassword)
					case "token":
						as.authorization = "Bearer " + benchToken
					}
					s = &as
				}
				benchmarkGetObjects(b, s)
			})
		}
	}
}

// The member signing in in BenchmarkGetObjects.
const (
	benchUser     = "reader"
	benchPassword = "password of the reader"
)

var benchToken string

// newAccessServers adds a partner organization with a member (password and
// token) to store, grants it read on the collection, makes the collection
// public, and serves the store with access control, without audit (false)
// and with it (true). Passwords are hashed with the default cost, as in
// the binary.
func newAccessServers(b *testing.B, store *sqlite.Store) map[bool]*benchServer {
	ctx := context.Background()
	org, err := store.CreateOrganization(ctx, authz.Organization{Name: "partner"})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := authz.HashPassword(benchPassword, authz.DefaultPasswordParams)
	if err != nil {
		b.Fatal(err)
	}
	u, err := store.CreateUser(ctx, authz.User{Name: benchUser, OrganizationID: org.ID, Role: authz.RoleMember, PasswordHash: hash})
	if err != nil {
		b.Fatal(err)
	}
	secret, tokenHash, prefix, err := authz.NewTokenSecret()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.CreateToken(ctx, authz.Token{UserID: u.ID, Name: "bench", Hash: tokenHash, Prefix: prefix}); err != nil {
		b.Fatal(err)
	}
	benchToken = secret
	for _, sub := range []authz.Subject{authz.OrganizationSubject(org.ID), authz.Public} {
		if _, err := store.CreateGrant(ctx, authz.Grant{Subject: sub, APIRoot: "api1", Collection: collID, Action: authz.ActionRead}); err != nil {
			b.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	out := map[bool]*benchServer{}
	for _, audit := range []bool{false, true} {
		w := authz.NewWatcher(store, 0, logger)
		az, err := authz.NewAuthorizer(store, w, logger)
		if err != nil {
			b.Fatal(err)
		}
		an, err := authz.NewAuthenticator(authz.AuthenticatorConfig{Store: store, Watcher: w, Log: logger})
		if err != nil {
			b.Fatal(err)
		}
		cfg := taxii.Config{Store: store, Authorizer: az, Authenticator: an, Logger: logger, PageSize: 100, MaxPageSize: 1000}
		var al *authz.AuditLog
		if audit {
			if al, err = authz.NewAuditLog(authz.AuditLogConfig{Store: store, Log: logger}); err != nil {
				b.Fatal(err)
			}
			cfg.Audit = al
		}
		if err := w.Start(ctx); err != nil {
			b.Fatal(err)
		}
		srv, err := taxii.New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		out[audit] = &benchServer{url: hs.URL, client: readServer.client, store: store}
		benchClose = append(benchClose, func() {
			hs.Close()
			w.Close()
			an.Close()
			if al != nil {
				al.Close()
			}
		})
	}
	return out
}

// loadReadServer starts readServer, with TAXIID_BENCH_OBJECTS objects
// (default 100,000) in its collection.
func loadReadServer(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("TAXIID_BENCH_OBJECTS")); err == nil && v > 0 {
		n = v
	}
	readOnce.Do(func() {
		defer func(t0 time.Time) { b.Logf("loaded %d objects in %v", n, time.Since(t0)) }(time.Now())
		readServer = newBenchServer(b, 0, stix.LevelDefault)
		ctx := context.Background()
		v := newValidator(b)
		for start := 0; start < n; start += 1000 {
			batch := make([]collections.NewObject, 0, 1000)
			for i := start; i < min(start+1000, n); i++ {
				raw := indicatorJSON(i)
				id, _, err := v.Validate(raw, stix.LevelDefault)
				if err != nil {
					b.Fatal(err)
				}
				batch = append(batch, collections.NewObject{ID: id.ID, Type: id.Type, SpecVersion: id.SpecVersion, Version: id.Version, Raw: raw})
			}
			if _, err := readServer.store.AddObjects(ctx, "api1", collID, batch, collections.AddOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchmarkGetObjects(b *testing.B, s *benchServer) {
	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism(2) // 2×GOMAXPROCS clients
	cpu0 := processCPU(b)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		next := ""
		for pb.Next() {
			q := "?limit=100"
			if next != "" {
				q += "&next=" + url.QueryEscape(next)
			}
			t0 := time.Now()
			body := s.get(b, objects+q)
			local = append(local, time.Since(t0))
			var env struct {
				More bool   `json:"more"`
				Next string `json:"next"`
			}
			// Only the envelope's head is needed; decoding 100 objects
			// would measure the client.
			if i := bytes.Index(body, []byte(`"objects":[`)); i > 1 {
				body = append(body[:i-1:i-1], '}')
			} else if i == 1 {
				body = []byte("{}")
			}
			if err := json.Unmarshal(body, &env); err != nil {
				b.Fatal(err)
			}
			next = env.Next
		}
		mu.Lock()
		latencies = append(latencies, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(latencies) == 0 {
		return // a client failed and reported it
	}
	// CPU per page, of the clients and the server together, counted once
	// the work done after the pages (the audit log's writes, within its
	// flush interval of one second) is over. On a machine shared with
	// other work it varies less than pages/s.
	time.Sleep(1100 * time.Millisecond)
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(len(latencies)), "cpu-µs/page")
	slices.Sort(latencies)
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "pages/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkAddObjects measures POST objects with envelopes of 1,000
// indicators; each op is one envelope. "default" validates them in full;
// "permissive" checks the common properties only, which measures the ingest
// path apart from schema validation.
//
// With clients > 1, that many clients push at once (as partners do), so
// that one envelope is validated while another is written.
func BenchmarkAddObjects(b *testing.B) {
	for _, clients := range []int{1, 2} {
		for _, level := range []stix.Level{stix.LevelDefault, stix.LevelPermissive} {
			b.Run(fmt.Sprintf("%s/clients=%d", level, clients), func(b *testing.B) { benchmarkAddObjects(b, level, clients) })
		}
	}
}

func benchmarkAddObjects(b *testing.B, level stix.Level, clients int) {
	s := newBenchServer(b, 1_000_000, level)
	defer s.close()
	envelope := func(i int) []byte {
		var buf bytes.Buffer
		buf.WriteString(`{"objects":[`)
		for j := range 1000 {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.Write(indicatorJSON(i*1000 + j))
		}
		buf.WriteString(`]}`)
		return buf.Bytes()
	}
	// Envelopes (about 1 MB each) are built before the clock starts.
	bodies := make(chan []byte, b.N)
	for i := range b.N {
		bodies <- envelope(i)
	}
	close(bodies)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range bodies {
				req, _ := http.NewRequest("POST", s.url+objects, bytes.NewReader(body))
				req.Header.Set("Accept", taxii.MediaTypeTAXII)
				req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
				resp, err := s.client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("POST = %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "objects/s")
}

// BenchmarkBaselineFixedPage is the yardstick for BenchmarkGetObjects: a
// bare net/http server answering every request with the same 92 KB page.
func BenchmarkBaselineFixedPage(b *testing.B) {
	page := bytes.Repeat([]byte("x"), 92*1024)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	defer hs.Close()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(2)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(hs.URL)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pages/s")
}
