package taxii_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/taxii"
)

// slowly is a rate of one token per 1,000 seconds: a bucket a test drains
// stays empty until the test ends, and Retry-After says about 1000.
const slowly = 0.001

// sourceClient returns an HTTP client whose connections come from the
// loopback address src (every 127.x.y.z is local on Linux), so that one
// test can be several sources.
func sourceClient(src string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// rawResponse is an HTTP response as a test reads it: safe to produce in
// any goroutine.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// send sends a request with a TAXII Accept header and the headers given.
func send(c *http.Client, method, url string, header map[string]string, body io.Reader) (rawResponse, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return rawResponse{}, err
	}
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	if body != nil {
		req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// statuses sends GET path n times with the headers and returns the
// statuses answered.
func statuses(t *testing.T, c *http.Client, url string, header map[string]string, n int) []int {
	t.Helper()
	var got []int
	for range n {
		r, err := send(c, "GET", url, header, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.status)
	}
	return got
}

func repeat(status, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = status
	}
	return s
}

// wantRateLimited checks a 429 with Retry-After between min and max
// seconds, and the error body of the route: a TAXII error resource, or on
// the operations routes a JSON error.
func wantRateLimited(t *testing.T, r rawResponse, min, max int, ops bool) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status = %d; want 429\n%s", r.status, r.body)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < min || ra > max {
		t.Errorf("Retry-After = %q; want whole seconds in [%d, %d]", r.header.Get("Retry-After"), min, max)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
	if ops {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q; want application/json", ct)
		}
		if msg, _ := body["error"].(string); !strings.Contains(msg, "retry after") {
			t.Errorf("JSON error = %s; want one saying when to retry", r.body)
		}
		return
	}
	if ct := r.header.Get("Content-Type"); ct != taxii.MediaTypeTAXII {
		t.Errorf("Content-Type = %q; want %q", ct, taxii.MediaTypeTAXII)
	}
	if body["title"] != "Too Many Requests" || body["http_status"] != "429" {
		t.Errorf("error resource = %s; want title Too Many Requests and http_status 429", r.body)
	}
	if d, _ := body["description"].(string); !strings.Contains(d, "retry after") {
		t.Errorf("description = %q; want it to say when to retry", d)
	}
}

// TestRateLimitPerUser: a user over its request limit is refused with 429,
// Retry-After and an error resource, on TAXII and admin routes alike,
// while another user making requests at the same time is served; the
// probes are never limited.
func TestRateLimitPerUser(t *testing.T) {
	h := newHub(t, hubOptions{rateLimits: &taxii.RateLimitConfig{
		Default: taxii.Limits{Requests: slowly, RequestsBurst: 3},
	}})
	c := &http.Client{Timeout: 30 * time.Second}
	collection := h.url + "/api1/collections/" + collA + "/"

	if got := statuses(t, c, collection, as("alice"), 3); !cmp.Equal(got, repeat(200, 3)) {
		t.Fatalf("alice's first 3 requests = %v; want 200s", got)
	}
	r, err := send(c, "GET", collection, as("alice"), nil)
	must(t, err)
	wantRateLimited(t, r, 990, 1000, false)
	r, err = send(c, "GET", h.url+"/admin/me", as("alice"), nil)
	must(t, err)
	wantRateLimited(t, r, 990, 1000, true)

	// alice keeps asking while bob (another organization) and olga (her
	// own) make requests: they are served, alice is refused.
	const flood = 20
	got := map[string][]int{"alice": make([]int, flood), "bob": make([]int, 3), "olga": make([]int, 3)}
	paths := map[string]string{"alice": collection, "bob": h.url + "/api1/collections/" + collB + "/", "olga": collection}
	errs := make(chan error, flood+6)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for user, sts := range got {
		for i := range sts {
			wg.Go(func() {
				<-start
				r, err := send(c, "GET", paths[user], as(user), nil)
				if err != nil {
					errs <- err
					return
				}
				sts[i] = r.status
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := map[string][]int{"alice": repeat(429, flood), "bob": repeat(200, 3), "olga": repeat(200, 3)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses at the same time (-want +got):\n%s", diff)
	}

	if got := statuses(t, c, h.url+"/healthz", as("alice"), 5); !cmp.Equal(got, repeat(200, 5)) {
		t.Errorf("alice's /healthz = %v; want 200s: probes are not limited", got)
	}
}

// TestRateLimitAnonymousPerSource: requests without credentials are
// limited per source address; another address, and a user signing in from
// the refused address, have buckets of their own.
func TestRateLimitAnonymousPerSource(t *testing.T) {
	h := newHub(t, hubOptions{rateLimits: &taxii.RateLimitConfig{
		Default: taxii.Limits{Requests: slowly, RequestsBurst: 2},
	}})
	public := h.url + "/api1/collections/" + collPublic + "/"
	one, two := sourceClient("127.0.0.1"), sourceClient("127.0.0.2")

	if got := statuses(t, one, public, nil, 2); !cmp.Equal(got, repeat(200, 2)) {
		t.Fatalf("anonymous from 127.0.0.1 = %v; want 200s", got)
	}
	r, err := send(one, "GET", public, nil, nil)
	must(t, err)
	wantRateLimited(t, r, 990, 1000, false)
	if got := statuses(t, one, public, as("alice"), 2); !cmp.Equal(got, repeat(200, 2)) {
		t.Errorf("alice from 127.0.0.1 = %v; want 200s", got)
	}
	if got := statuses(t, two, public, nil, 3); !cmp.Equal(got, []int{200, 200, 429}) {
		t.Errorf("anonymous from 127.0.0.2 = %v; want [200 200 429]", got)
	}
}

// TestRateLimitBehindTrustedProxy: behind a trusted reverse proxy each
// client has its own bucket, named by X-Forwarded-For (the rightmost
// address that is not a trusted proxy); a peer that is not trusted cannot
// pick its bucket with the header.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	h := newHub(t, hubOptions{
		rateLimits:     &taxii.RateLimitConfig{Default: taxii.Limits{Requests: slowly, RequestsBurst: 2}},
		trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.9.0.0/16")},
	})
	public := h.url + "/api1/collections/" + collPublic + "/"
	proxy, other := sourceClient("127.0.0.1"), sourceClient("127.0.0.2")
	from := func(xff string) map[string]string { return map[string]string{"X-Forwarded-For": xff} }

	// Two clients through the proxy: each has its own two requests.
	if got := statuses(t, proxy, public, from("192.0.2.7"), 3); !cmp.Equal(got, []int{200, 200, 429}) {
		t.Errorf("client 192.0.2.7 through the proxy = %v; want [200 200 429]", got)
	}
	// A spoofed leftmost hop and a second trusted proxy are skipped: the
	// client is 192.0.2.8.
	if got := statuses(t, proxy, public, from("203.0.113.1, 192.0.2.8, 10.9.1.1"), 3); !cmp.Equal(got, []int{200, 200, 429}) {
		t.Errorf("client 192.0.2.8 through two proxies = %v; want [200 200 429]", got)
	}
	// An untrusted peer's header is ignored: its own address is limited,
	// whichever client it names.
	got := append(statuses(t, other, public, from("192.0.2.9"), 2), statuses(t, other, public, from("192.0.2.10"), 1)...)
	if !cmp.Equal(got, []int{200, 200, 429}) {
		t.Errorf("untrusted peer naming two clients = %v; want [200 200 429]", got)
	}
}

// TestFailedSignInsLimitedPerSource: past its bound of failed sign-ins, an
// address gets 429 for credentials that would need checking, before any
// check; credentials verified recently still pass, successful sign-ins do
// not count, and other addresses are not affected.
func TestFailedSignInsLimitedPerSource(t *testing.T) {
	h := newHub(t, hubOptions{rateLimits: &taxii.RateLimitConfig{FailedChecks: slowly, FailedChecksBurst: 3}})
	me := "/admin/me"
	one, two, three := sourceClient("127.0.0.1"), sourceClient("127.0.0.2"), sourceClient("127.0.0.3")
	wrong := map[string]string{"Authorization": basicAuth("alice", "not her password")}

	// Four first sign-ins from one address, more than the bound: they do
	// not fail, so they do not count.
	var got []int
	for _, u := range []string{"alice", "olga", "bob", "carl"} {
		got = append(got, statuses(t, three, h.url+me, as(u), 1)...)
	}
	if !cmp.Equal(got, repeat(200, 4)) {
		t.Fatalf("first sign-ins from 127.0.0.3 = %v; want 200s", got)
	}

	if got := statuses(t, one, h.url+me, wrong, 3); !cmp.Equal(got, repeat(401, 3)) {
		t.Fatalf("wrong passwords from 127.0.0.1 = %v; want 401s", got)
	}
	r, err := send(one, "GET", h.url+me, wrong, nil)
	must(t, err)
	wantRateLimited(t, r, 990, 1000, true)
	// A credential not verified recently would need a check: refused too.
	r, err = send(one, "GET", h.url+"/api1/collections/"+collA+"/", map[string]string{"Authorization": "Bearer " + h.tokens["alice"]}, nil)
	must(t, err)
	wantRateLimited(t, r, 990, 1000, false)
	// alice's password, verified a moment ago, needs no check.
	if got := statuses(t, one, h.url+me, as("alice"), 1); !cmp.Equal(got, []int{200}) {
		t.Errorf("alice's verified password from 127.0.0.1 = %v; want 200", got)
	}
	if got := statuses(t, two, h.url+me, wrong, 1); !cmp.Equal(got, []int{401}) {
		t.Errorf("wrong password from 127.0.0.2 = %v; want 401", got)
	}
}

// TestRateLimitOrganizationOverride: the users of an organization with an
// override get its limits, each in a bucket of its own; other users keep
// the default.
func TestRateLimitOrganizationOverride(t *testing.T) {
	h := newHub(t, hubOptions{rateLimits: &taxii.RateLimitConfig{
		Default:       taxii.Limits{Requests: 1000, RequestsBurst: 1000},
		Organizations: map[string]taxii.Limits{"A": {Requests: slowly, RequestsBurst: 2}},
	}})
	c := &http.Client{Timeout: 30 * time.Second}
	got := map[string][]int{}
	for _, u := range []string{"alice", "olga", "bob", "root"} {
		got[u] = statuses(t, c, h.url+"/admin/me", as(u), 4)
	}
	want := map[string][]int{
		"alice": {200, 200, 429, 429},
		"olga":  {200, 200, 429, 429},
		"bob":   repeat(200, 4),
		"root":  repeat(200, 4),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// stixEnvelope returns an envelope of indicators of at least size bytes,
// with ids made from tag, and those ids.
func stixEnvelope(t *testing.T, tag, size int) ([]byte, []string) {
	t.Helper()
	var (
		objs []map[string]any
		ids  []string
		b    []byte
	)
	for i := 0; len(b) < size; i++ {
		id := fmt.Sprintf("%08d-0000-4000-8000-%012d", tag, i)
		objs = append(objs, obj("indicator", id, "2020-01-01T00:00:00.000Z", "description", strings.Repeat("x", 1000)))
		ids = append(ids, "indicator--"+id)
		b = mustJSON(t, envelope(objs...))
	}
	return b, ids
}

// storedIDs returns the ids of the objects of a collection, as root sees
// them.
func storedIDs(t *testing.T, h *hub, coll string) []string {
	t.Helper()
	r := h.do("GET", "/api1/collections/"+coll+"/objects/?limit=1000", as("root"), nil)
	if r.status != 200 {
		t.Fatalf("GET objects = %d\n%s", r.status, r.raw)
	}
	var got []string
	objs, _ := r.body["objects"].([]any)
	for _, o := range objs {
		got = append(got, o.(map[string]any)["id"].(string))
	}
	return got
}

// TestRateLimitPushBytes: request bodies are charged to their user's
// byte bucket: a push that does not fit is refused with 429 before it is
// read when its Content-Length says so, and stopped when the bucket runs
// dry when it does not; a push refused, for its size or for any other
// reason, costs nothing; a push larger than the burst passes when the
// bucket is full and leaves it in debt.
func TestRateLimitPushBytes(t *testing.T) {
	const burst = 64 << 10
	h := newHub(t, hubOptions{rateLimits: &taxii.RateLimitConfig{
		Default: taxii.Limits{PushBytes: 1, PushBytesBurst: burst}, // 1 byte/s: no refill to speak of
	}})
	c := &http.Client{Timeout: 30 * time.Second}
	objectsOf := func(coll string) string { return h.url + "/api1/collections/" + coll + "/objects/" }
	push := func(user, coll string, body io.Reader) rawResponse {
		t.Helper()
		r, err := send(c, "POST", objectsOf(coll), as(user), body)
		must(t, err)
		return r
	}

	first, firstIDs := stixEnvelope(t, 1, 40<<10)
	if r := push("alice", collA, bytes.NewReader(first)); r.status != 202 {
		t.Fatalf("alice's first push = %d; want 202\n%s", r.status, r.body)
	}
	second, _ := stixEnvelope(t, 2, 40<<10)
	r := push("alice", collA, bytes.NewReader(second))
	// About 40 KiB - (64 KiB - 40 KiB) missing, at 1 byte/s.
	lack := len(second) - (burst - len(first))
	wantRateLimited(t, r, lack-60, lack, false)
	small, smallIDs := stixEnvelope(t, 3, 2<<10)
	if r := push("alice", collA, bytes.NewReader(small)); r.status != 202 {
		t.Errorf("alice's small push after a refused one = %d; want 202\n%s", r.status, r.body)
	}
	if diff := cmp.Diff(append(firstIDs, smallIDs...), storedIDs(t, h, collA)); diff != "" {
		t.Errorf("objects in the collection (-want +got):\n%s", diff)
	}

	// Without a Content-Length, the body is read until the bucket is dry.
	large, _ := stixEnvelope(t, 4, 100<<10)
	r = push("bob", collB, io.MultiReader(bytes.NewReader(large))) // hides the length: chunked
	wantRateLimited(t, r, burst-60, burst, false)
	if !bytes.Contains(r.body, []byte("stopped after")) {
		t.Errorf("error = %s; want it to say the body was stopped", r.body)
	}
	if got := storedIDs(t, h, collB); len(got) != 0 {
		t.Errorf("objects stored from a stopped push: %v", got)
	}

	// A push refused before its body is read gives the bytes back...
	if r := push("olga", collAR, bytes.NewReader(second)); r.status != 403 {
		t.Fatalf("olga's push to a collection she may only read = %d; want 403\n%s", r.status, r.body)
	}
	// ...so that the bucket is full again: a push larger than the burst
	// passes then, and the debt is paid before anything else fits.
	if r := push("olga", collA, bytes.NewReader(large)); r.status != 202 {
		t.Fatalf("olga's push larger than the burst = %d; want 202\n%s", r.status, r.body)
	}
	r = push("olga", collA, bytes.NewReader(small))
	lack = len(large) - burst + len(small)
	wantRateLimited(t, r, lack-60, lack, false)
}
