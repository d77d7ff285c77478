package taxii_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/authz/authztest"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/taxii"
	"github.com/taxiid/taxiid/taxii/metrics"
)

const metricsToken = "metrics-token-of-the-tests"

// metered is a taxiid server with metrics, wired as the taxiid binary
// wires them: the stores measured, the ingester observed, access control
// on; alice is an admin.
type metered struct {
	url     string
	metrics http.Handler // MetricsHandler, for a listener of its own
}

type meteredOptions struct {
	metrics     bool // keep metrics at all
	token       string
	ownListener bool
}

const aliceAuth = "Basic YWxpY2U6YWxpY2UgcGFzc3dvcmQ=" // alice:alice password

func newMetered(t *testing.T, opts meteredOptions) *metered {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	must(t, store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}))
	must(t, store.PutCollection(ctx, collections.Collection{
		APIRoot: "api1", ID: collID, Title: "Main", MediaTypes: []string{"application/stix+json;version=2.1"},
	}))
	org, err := store.CreateOrganization(ctx, authz.Organization{Name: "operators"})
	must(t, err)
	hash, err := authz.HashPassword("alice password", authztest.CheapPasswords)
	must(t, err)
	_, err = store.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: org.ID, Role: authz.RoleAdmin, PasswordHash: hash})
	must(t, err)

	var m *metrics.Metrics
	if opts.metrics {
		m = metrics.New(metrics.BuildInfo{Version: "v9.9.9-test", Commit: "0123abc", Date: "2026-01-02T03:04:05Z"})
	}
	served, principals := m.CollectionsStore(store), m.AuthzStore(store)
	logger := slog.New(slog.DiscardHandler)
	watcher := authz.NewWatcher(principals, time.Hour, logger)
	az, err := authz.NewAuthorizer(principals, watcher, logger)
	must(t, err)
	authn, err := authz.NewAuthenticator(authz.AuthenticatorConfig{
		Store: principals, Watcher: watcher, Log: logger, PasswordParams: authztest.CheapPasswords,
		Throttle: authz.ThrottleConfig{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	})
	must(t, err)
	must(t, watcher.Start(ctx))
	ic := collections.IngestConfig{Logger: logger}
	if m != nil {
		ic.Observer = m
	}
	ing := collections.NewIngester(served, newValidator(t), ic)
	srv, err := taxii.New(ctx, taxii.Config{
		Store: served, Ingester: ing, Authorizer: az, Authenticator: authn, Logger: logger,
		MaxMemory: 64 << 20, PageSize: 5, MaxPageSize: 20,
		Metrics: m, MetricsToken: opts.token, MetricsOwnListener: opts.ownListener,
	})
	must(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		ing.Wait()
		watcher.Close()
		authn.Close()
	})
	return &metered{url: hs.URL, metrics: srv.MetricsHandler()}
}

// sendAsAlice makes a request as alice (unless header says otherwise) and
// returns its status.
func sendAsAlice(t *testing.T, method, url string, header map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequest(method, url, r)
	must(t, err)
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	req.Header.Set("Authorization", aliceAuth)
	if body != nil {
		req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, resp.Header, b
}

// scrape reads the metrics at url with the token and parses them.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	status, _, body := sendAsAlice(t, "GET", url, map[string]string{"Authorization": "Bearer " + token, "Accept": ""}, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200\n%s", url, status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, body)
	}
	return families
}

// samples flattens the families named into "name{label=value,...}" ->
// value (counters, gauges and untyped), "name_count{...}" for histograms.
func samples(families map[string]*dto.MetricFamily, names ...string) map[string]float64 {
	out := map[string]float64{}
	for _, name := range names {
		f := families[name]
		if f == nil {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name+key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name+"_count"+key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestMetricsAfterPushAndPull pushes, re-pushes, pulls and fails to sign
// in, then scrapes /metrics through the listener and checks what each
// counter says, exactly.
func TestMetricsAfterPushAndPull(t *testing.T) {
	s := newMetered(t, meteredOptions{metrics: true, token: metricsToken})
	a := "11111111-1111-4111-8111-111111111111"
	b := "22222222-2222-4222-8222-222222222222"
	c := "33333333-3333-4333-8333-333333333333"
	valid := []map[string]any{obj("indicator", a, "2021-01-01T00:00:00.000Z"), obj("malware", b, "2021-01-01T00:00:00.000Z")}
	// modified before created.
	invalid := obj("indicator", c, "2019-01-01T00:00:00.000Z")
	first, err := json.Marshal(envelope(valid[0], valid[1], invalid))
	must(t, err)
	// The first unchanged, the second a different object with the same
	// id and version: a conflict.
	again, err := json.Marshal(envelope(valid[0], obj("malware", b, "2021-01-01T00:00:00.000Z", "name", "renamed")))
	must(t, err)

	for _, step := range []struct {
		method, path string
		header       map[string]string
		body         []byte
		want         int
	}{
		{"POST", objects, nil, first, 202},
		{"POST", objects, nil, again, 202},
		{"GET", objects, nil, nil, 200},
		{"GET", manifest, nil, nil, 200},
		{"GET", "/taxii2/", map[string]string{"Authorization": "Basic YWxpY2U6d3Jvbmc="}, nil, 401}, // alice:wrong
		{"GET", "/api1/no/such/endpoint/at/all/", nil, nil, 404},
		{"PURGE", "/taxii2/", nil, nil, 405},
		{"GET", "/metrics", map[string]string{"Authorization": ""}, nil, 401},
		{"GET", "/metrics", map[string]string{"Authorization": "Bearer not-the-metrics-token"}, nil, 401},
	} {
		status, _, body := sendAsAlice(t, step.method, s.url+step.path, step.header, step.body)
		if status != step.want {
			t.Fatalf("%s %s = %d; want %d\n%s", step.method, step.path, status, step.want, body)
		}
	}
	scrape(t, s.url+"/metrics", metricsToken) // counted in the next one
	families := scrape(t, s.url+"/metrics", metricsToken)

	objectsRoute := "/:root/collections/:coll/objects/"
	got := samples(families, "taxiid_http_requests_total", "taxiid_http_request_duration_seconds")
	want := map[string]float64{
		"taxiid_http_requests_total{code=202,method=POST,route=" + objectsRoute + "}":                     2,
		"taxiid_http_requests_total{code=200,method=GET,route=" + objectsRoute + "}":                      1,
		"taxiid_http_requests_total{code=200,method=GET,route=/:root/collections/:coll/manifest/}":        1,
		"taxiid_http_requests_total{code=401,method=GET,route=/taxii2/}":                                  1,
		"taxiid_http_requests_total{code=404,method=GET,route=unmatched}":                                 1,
		"taxiid_http_requests_total{code=405,method=other,route=/taxii2/}":                                1,
		"taxiid_http_requests_total{code=401,method=GET,route=/metrics}":                                  2,
		"taxiid_http_requests_total{code=200,method=GET,route=/metrics}":                                  1,
		"taxiid_http_request_duration_seconds_count{method=POST,route=" + objectsRoute + "}":              2,
		"taxiid_http_request_duration_seconds_count{method=GET,route=" + objectsRoute + "}":               1,
		"taxiid_http_request_duration_seconds_count{method=GET,route=/:root/collections/:coll/manifest/}": 1,
		"taxiid_http_request_duration_seconds_count{method=GET,route=/taxii2/}":                           1,
		"taxiid_http_request_duration_seconds_count{method=GET,route=unmatched}":                          1,
		"taxiid_http_request_duration_seconds_count{method=other,route=/taxii2/}":                         1,
		"taxiid_http_request_duration_seconds_count{method=GET,route=/metrics}":                           3,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request metrics (-want +got):\n%s", diff)
	}

	got = samples(families, "taxiid_ingest_objects_total", "taxiid_ingest_rejections_total",
		"taxiid_pages_served_total", "taxiid_objects_served_total", "taxiid_authentication_failures_total",
		"taxiid_request_memory_bytes", "taxiid_request_memory_limit_bytes",
		"taxiid_ingest_pending_pushes", "taxiid_ingest_pending_objects", "taxiid_build_info")
	want = map[string]float64{
		"taxiid_ingest_objects_total{outcome=stored}":                                    2,
		"taxiid_ingest_objects_total{outcome=unchanged}":                                 1,
		"taxiid_ingest_objects_total{outcome=rejected}":                                  2,
		"taxiid_ingest_rejections_total{reason=modified-before-created}":                 1,
		"taxiid_ingest_rejections_total{reason=conflict}":                                1,
		"taxiid_pages_served_total{endpoint=objects}":                                    1,
		"taxiid_pages_served_total{endpoint=manifest}":                                   1,
		"taxiid_objects_served_total{endpoint=objects}":                                  2,
		"taxiid_objects_served_total{endpoint=manifest}":                                 2,
		"taxiid_authentication_failures_total{reason=wrong password,scheme=basic}":       1,
		"taxiid_authentication_failures_total{reason=no metrics token,scheme=bearer}":    1,
		"taxiid_authentication_failures_total{reason=wrong metrics token,scheme=bearer}": 1,
		"taxiid_request_memory_bytes{}":                                                  0,
		"taxiid_request_memory_limit_bytes{}":                                            64 << 20,
		"taxiid_ingest_pending_pushes{}":                                                 0,
		"taxiid_ingest_pending_objects{}":                                                0,
		"taxiid_build_info{build_date=2026-01-02T03:04:05Z,commit=0123abc,goversion=" + runtime.Version() + ",version=v9.9.9-test}": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("taxiid metrics (-want +got):\n%s", diff)
	}

	// Store operations: one batch per push, one page query per read.
	got = samples(families, "taxiid_store_operation_duration_seconds")
	for _, op := range []struct {
		name string
		n    float64
	}{{"AddObjects", 2}, {"CreateStatus", 0}, {"Objects", 2}} {
		if k := "taxiid_store_operation_duration_seconds_count{operation=" + op.name + "}"; got[k] != op.n {
			t.Errorf("%s = %v; want %v", k, got[k], op.n)
		}
	}
	// Sign-ins read the user from the store of principals (how often
	// depends on the verdict cache).
	if k := "taxiid_store_operation_duration_seconds_count{operation=UserByName}"; got[k] < 1 {
		t.Errorf("%s = %v; want at least 1", k, got[k])
	}
	if f := families["taxiid_store_errors_total"]; f != nil && len(f.GetMetric()) > 0 {
		t.Errorf("store errors counted: %v", f)
	}
	if families["go_goroutines"] == nil {
		t.Error("no go_goroutines: the Go runtime's metrics are missing")
	}
}

// TestMetricsAccess: where /metrics is served and who may read it.
func TestMetricsAccess(t *testing.T) {
	bearer := map[string]string{"Authorization": "Bearer " + metricsToken}
	for _, tc := range []struct {
		name   string
		opts   meteredOptions
		header map[string]string // of the request to the main listener
		want   int               // answer of the main listener
		// answer of MetricsHandler, on a listener of its own, to a
		// request with the token and to one without
		wantOwn, wantOwnNoToken int
	}{
		{name: "metrics off", opts: meteredOptions{}, header: bearer, want: 404, wantOwn: 404, wantOwnNoToken: 404},
		{name: "no token", opts: meteredOptions{metrics: true}, header: bearer, want: 404, wantOwn: 200, wantOwnNoToken: 200},
		{name: "token", opts: meteredOptions{metrics: true, token: metricsToken}, header: bearer, want: 200, wantOwn: 200, wantOwnNoToken: 401},
		{name: "token, lower-case scheme", opts: meteredOptions{metrics: true, token: metricsToken},
			header: map[string]string{"Authorization": "bearer " + metricsToken}, want: 200, wantOwn: 200, wantOwnNoToken: 401},
		{name: "token as Basic", opts: meteredOptions{metrics: true, token: metricsToken},
			header: map[string]string{"Authorization": aliceAuth}, want: 401, wantOwn: 200, wantOwnNoToken: 401},
		{name: "token prefix", opts: meteredOptions{metrics: true, token: metricsToken},
			header: map[string]string{"Authorization": "Bearer " + metricsToken[:10]}, want: 401, wantOwn: 200, wantOwnNoToken: 401},
		{name: "own listener without token", opts: meteredOptions{metrics: true, ownListener: true}, header: bearer, want: 404, wantOwn: 200, wantOwnNoToken: 200},
		{name: "own listener with token", opts: meteredOptions{metrics: true, token: metricsToken, ownListener: true}, header: bearer, want: 404, wantOwn: 200, wantOwnNoToken: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newMetered(t, tc.opts)
			status, header, body := sendAsAlice(t, "GET", s.url+"/metrics", tc.header, nil)
			if status != tc.want {
				t.Fatalf("GET /metrics = %d; want %d\n%s", status, tc.want, body)
			}
			checkMetricsAnswer(t, status, header, body)

			own := httptest.NewServer(s.metrics)
			defer own.Close()
			for _, c := range []struct {
				header map[string]string
				want   int
			}{{bearer, tc.wantOwn}, {map[string]string{"Authorization": ""}, tc.wantOwnNoToken}} {
				status, header, body := sendAsAlice(t, "GET", own.URL+"/metrics", c.header, nil)
				if status != c.want {
					t.Errorf("metrics listener: GET /metrics with %v = %d; want %d\n%s", c.header, status, c.want, body)
				}
				checkMetricsAnswer(t, status, header, body)
			}
			if status, _, _ := sendAsAlice(t, "GET", own.URL+"/healthz", bearer, nil); status != 404 {
				t.Errorf("metrics listener: GET /healthz = %d; want 404 (it serves /metrics alone)", status)
			}
		})
	}
}

// checkMetricsAnswer checks the form of an answer of /metrics: the
// metrics, a JSON error, or a 401 with the bearer challenge.
func checkMetricsAnswer(t *testing.T, status int, header http.Header, body []byte) {
	t.Helper()
	if status == 200 {
		if !strings.Contains(string(body), "taxiid_build_info{") {
			t.Errorf("200 without taxiid_build_info:\n%.500s", body)
		}
		return
	}
	var e struct{ Error string }
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Errorf("%d answer is not a JSON error: %s", status, body)
	}
	if status == 401 {
		if got, want := header.Get("WWW-Authenticate"), `Bearer realm="taxiid metrics"`; got != want {
			t.Errorf("WWW-Authenticate = %q; want %q", got, want)
		}
	}
}

// TestMetricsLongPollWaiting: the waiting gauge counts a request held by
// Prefer: wait, and drops back when a push answers it.
func TestMetricsLongPollWaiting(t *testing.T) {
	s := newMetered(t, meteredOptions{metrics: true, token: metricsToken})
	waiting := func() float64 {
		t.Helper()
		v, ok := samples(scrape(t, s.url+"/metrics", metricsToken), "taxiid_longpoll_waiting_requests")["taxiid_longpoll_waiting_requests{}"]
		if !ok {
			t.Fatal("no taxiid_longpoll_waiting_requests gauge")
		}
		return v
	}
	if got := waiting(); got != 0 {
		t.Fatalf("waiting before any request = %v; want 0", got)
	}
	answered := make(chan int, 1)
	go func() {
		status, _, _ := sendAsAlice(t, "GET", s.url+objects, map[string]string{"Prefer": "wait=30"}, nil)
		answered <- status
	}()
	deadline := time.Now().Add(10 * time.Second)
	for waiting() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("waiting = %v 10 s after a request asked to wait; want 1", waiting())
		}
		time.Sleep(20 * time.Millisecond)
	}
	body, err := json.Marshal(envelope(obj("indicator", "44444444-4444-4444-8444-444444444444", "2021-01-01T00:00:00.000Z")))
	must(t, err)
	if status, _, b := sendAsAlice(t, "POST", s.url+objects, nil, body); status != http.StatusAccepted {
		t.Fatalf("POST = %d\n%s", status, b)
	}
	select {
	case status := <-answered:
		if status != http.StatusOK {
			t.Fatalf("waiting GET = %d; want 200", status)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting request was not answered 20 s after a push")
	}
	if got := waiting(); got != 0 {
		t.Errorf("waiting after the answer = %v; want 0", got)
	}
}
