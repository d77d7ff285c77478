package taxii

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
)

// TestTokenBucket: what a take costs and how long a refused one must wait,
// at 10 tokens per second with a burst of 100.
func TestTokenBucket(t *testing.T) {
	const rate, burst = 10.0, 100.0
	s := int64(time.Second)
	for _, tc := range []struct {
		name       string
		tokens     float64 // at time 0
		at         int64   // when the take happens
		n          float64
		wantWait   time.Duration
		wantTokens float64 // after
	}{
		{"fits", 100, 0, 1, 0, 99},
		{"refills with time", 0, s, 10, 0, 0},
		{"refill stops at the burst", 50, 60 * s, 1, 0, 99},
		{"too few: waits for the missing ones", 2, 0, 5, 300 * time.Millisecond, 2},
		{"beyond the burst, full: taken, in debt", 100, 0, 250, 0, -150},
		{"beyond the burst, not full: waits until full", 40, 0, 250, 6 * time.Second, 40},
		{"in debt: waits for the debt and the take", -150, 0, 1, 15100 * time.Millisecond, -150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tokenBucket{tokens: tc.tokens}
			wait := b.take(tc.at, tc.n, rate, burst)
			if wait != tc.wantWait || b.tokens != tc.wantTokens {
				t.Errorf("take(%v) = wait %v, tokens %v; want %v, %v", tc.n, wait, b.tokens, tc.wantWait, tc.wantTokens)
			}
		})
	}
}

// TestRetryAfterSeconds: Retry-After is the wait rounded up to whole
// seconds, at least 1.
func TestRetryAfterSeconds(t *testing.T) {
	for wait, want := range map[time.Duration]int{
		time.Nanosecond:                    1,
		999 * time.Millisecond:             1,
		time.Second:                        1,
		time.Second + time.Nanosecond:      2,
		1000*time.Second - time.Nanosecond: 1000,
	} {
		if got := (&RateLimitError{RetryAfter: wait}).retryAfterSeconds(); got != want {
			t.Errorf("Retry-After of %v = %d; want %d", wait, got, want)
		}
	}
}

// TestSourcePrefix: an IPv4 address stands alone; IPv6 addresses count
// per /64, so that one host cannot rotate through its addresses.
func TestSourcePrefix(t *testing.T) {
	for _, tc := range []struct{ source, want string }{
		{"192.0.2.1:443", "192.0.2.1/32"},
		{"192.0.2.1", "192.0.2.1/32"},
		{"[::ffff:192.0.2.1]:5", "192.0.2.1/32"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:443", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:1", "fe80::/64"},
		{"not an address", "invalid Prefix"},
	} {
		if got := sourcePrefix(tc.source).String(); got != tc.want {
			t.Errorf("sourcePrefix(%q) = %s; want %s", tc.source, got, tc.want)
		}
	}
}

// clock is a settable clock for a limiter.
type clock struct{ now int64 }

func (c *clock) add(d time.Duration) { c.now += int64(d) }

func newTestLimiter(t *testing.T, cfg RateLimitConfig) (*RateLimiter, *clock) {
	t.Helper()
	l, err := NewRateLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: int64(time.Hour)}
	l.now = func() int64 { return c.now }
	return l, c
}

// anonymous admits one request without credentials from source.
func anonymous(l *RateLimiter, source string) error {
	r := httptest.NewRequest("GET", "/taxii2/", nil)
	r.RemoteAddr = source
	_, err := l.admit(context.Background(), authz.Principal{}, r)
	return err
}

// TestRateBucketsBounded: a flood of requests from distinct addresses
// (IPv6 /64s) keeps the buckets under their bound, and what is dropped
// first is what costs nothing: buckets closer to full than those of a
// principal over its limit, which keeps its state.
func TestRateBucketsBounded(t *testing.T) {
	const bound = 4 * rateShards
	l, c := newTestLimiter(t, RateLimitConfig{Default: Limits{Requests: 1, RequestsBurst: 5}, MaxBuckets: bound})
	const x = "198.51.100.7:1"
	var got []bool
	for range 6 {
		got = append(got, anonymous(l, x) == nil)
	}
	if want := []bool{true, true, true, true, true, false}; !cmp.Equal(got, want) {
		t.Fatalf("admitted = %v; want %v", got, want)
	}
	c.add(2 * time.Second) // x now holds 2 tokens, full in 3 s

	most := 0
	for i := range 50_000 {
		if err := anonymous(l, fmt.Sprintf("[2001:db8:%x:%x::1]:443", i>>16, i&0xffff)); err != nil {
			t.Fatalf("new address %d refused: %v", i, err)
		}
		most = max(most, l.Buckets())
	}
	if most > bound {
		t.Errorf("buckets reached %d; want at most %d", most, bound)
	}

	got = got[:0]
	for range 3 {
		got = append(got, anonymous(l, x) == nil)
	}
	if want := []bool{true, true, false}; !cmp.Equal(got, want) {
		t.Errorf("x after the flood: admitted = %v; want %v (its 2 tokens, not a fresh bucket)", got, want)
	}

	// Once idle buckets are full again, they are dropped for new ones.
	c.add(time.Minute)
	for i := range bound {
		if err := anonymous(l, fmt.Sprintf("203.0.113.%d:1", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Buckets(); n > bound {
		t.Errorf("buckets = %d after a second wave; want at most %d", n, bound)
	}
}

// TestOrganizationOverrideFollowsRename: an organization's override is
// looked up by name, again after orgRecheck, so that a renamed
// organization takes the limits of its new name.
func TestOrganizationOverrideFollowsRename(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	org, err := store.CreateOrganization(ctx, authz.Organization{Name: "Beta"})
	if err != nil {
		t.Fatal(err)
	}
	def := Limits{Requests: 100, RequestsBurst: 100}
	acme := Limits{Requests: 1, RequestsBurst: 1}
	l, c := newTestLimiter(t, RateLimitConfig{Default: def, Organizations: map[string]Limits{"ACME": acme}, Orgs: store})
	p := authz.Principal{UserID: "u1", OrganizationID: org.ID}

	if got := l.limitsOf(ctx, p); got != def {
		t.Fatalf("limits of Beta = %+v; want the default %+v", got, def)
	}
	if _, err := store.UpdateOrganization(ctx, org.ID, func(o authz.Organization) (authz.Organization, error) {
		o.Name = "ACME"
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	c.add(orgRecheck - time.Second)
	if got := l.limitsOf(ctx, p); got != def {
		t.Errorf("limits before the recheck = %+v; want those known, %+v", got, def)
	}
	c.add(2 * time.Second)
	if got := l.limitsOf(ctx, p); got != acme {
		t.Errorf("limits after the rename = %+v; want ACME's %+v", got, acme)
	}
	if got := l.limitsOf(ctx, authz.Principal{}); got != def {
		t.Errorf("limits of anonymous = %+v; want the default", got)
	}
}

// TestNewRateLimiterRefusesBadLimits: negative or non-finite limits, and
// overrides without a way to look organizations up, are refused.
func TestNewRateLimiterRefusesBadLimits(t *testing.T) {
	for name, cfg := range map[string]RateLimitConfig{
		"negative rate":           {Default: Limits{Requests: -1}},
		"negative burst":          {Default: Limits{PushBytes: 1, PushBytesBurst: -1}},
		"override without source": {Organizations: map[string]Limits{"A": {}}},
		"bad override":            {Organizations: map[string]Limits{"A": {Requests: -2}}, Orgs: noOrgs{}},
		"bad failed checks":       {FailedChecks: -1},
	} {
		if _, err := NewRateLimiter(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// noOrgs is an organization source that is never asked: the limiter
// refuses its configuration first.
type noOrgs struct{}

func (noOrgs) Organization(context.Context, string) (authz.Organization, error) {
	return authz.Organization{}, errors.New("not asked")
}

// countingOrgs is an organization source whose store does not answer: a
// failure the embedded store cannot produce on demand. It counts the
// look-ups.
type countingOrgs struct{ calls int }

func (o *countingOrgs) Organization(context.Context, string) (authz.Organization, error) {
	o.calls++
	return authz.Organization{}, fmt.Errorf("find organization: %w", collections.ErrUnavailable)
}

// TestOrganizationLookupFailing: while organizations cannot be looked up,
// requests get the limits last known (the default at first), and the
// store is asked again every orgRetry, not at every request.
func TestOrganizationLookupFailing(t *testing.T) {
	ctx := context.Background()
	orgs := &countingOrgs{}
	def := Limits{Requests: 100, RequestsBurst: 100}
	l, c := newTestLimiter(t, RateLimitConfig{Default: def, Organizations: map[string]Limits{"ACME": {Requests: 1, RequestsBurst: 1}},
		Orgs: orgs, Logger: slog.New(slog.DiscardHandler)})
	p := authz.Principal{UserID: "u1", OrganizationID: "o1"}
	var calls []int
	for _, step := range []time.Duration{0, time.Second, orgRetry - time.Second, 0, orgRetry} {
		c.add(step)
		if got := l.limitsOf(ctx, p); got != def {
			t.Errorf("limits = %+v; want the default", got)
		}
		calls = append(calls, orgs.calls)
	}
	if want := []int{1, 1, 2, 2, 3}; !cmp.Equal(calls, want) {
		t.Errorf("look-ups after each request = %v; want %v", calls, want)
	}
}
