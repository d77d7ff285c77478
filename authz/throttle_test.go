package authz

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	cfg := ThrottleConfig{FreeFailures: 2, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second,
		Window: time.Minute, MaxEntries: 1000}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const ms = time.Millisecond
	attacker, victim := addressKey("198.51.100.7:5555"), addressKey("192.0.2.1:443")

	th := newThrottle(cfg)
	var got []time.Duration
	for i := range 8 {
		got = append(got, th.delay("alice", attacker, t0))
		th.failed("alice", attacker, t0.Add(time.Duration(i)*ms))
	}
	want := []time.Duration{0, 0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delays after 0..7 failures = %v, want %v", got, want)
	}
	now := t0.Add(time.Second)
	for _, tc := range []struct {
		name       string
		user, addr string
		want       time.Duration
	}{
		// The name under attack is slowed from everywhere (bounded)...
		{"attacked name, other address", "alice", victim, time.Second},
		// ...the attacker's address for every name...
		{"attacker, other name", "bob", attacker, time.Second},
		{"attacker, token", "", attacker, time.Second},
		// ...and nobody else.
		{"other name, other address", "bob", victim, 0},
		{"other address, token", "", victim, 0},
		// IPv4 in IPv6 is the same address.
		{"attacker as ::ffff:", "bob", addressKey("[::ffff:198.51.100.7]:1"), time.Second},
	} {
		if got := th.delay(tc.user, tc.addr, now); got != tc.want {
			t.Errorf("%s: delay %v, want %v", tc.name, got, tc.want)
		}
	}

	// Once alice signed in from her address, failures others cause under
	// her name no longer slow her there.
	th.succeeded("alice", victim, now)
	th.failed("alice", attacker, now)
	if got := th.delay("alice", victim, now); got != 0 {
		t.Errorf("known address of alice: delay %v, want 0", got)
	}
	// A success does not clear the address's own count: an attacker with
	// an account of its own cannot reset it between guesses.
	th.succeeded("mallory", attacker, now)
	if got := th.delay("bob", attacker, now); got != time.Second {
		t.Errorf("attacker address after a success: delay %v for bob, want %v", got, time.Second)
	}
	if got := th.delay("alice", addressKey("203.0.113.9"), now); got != time.Second {
		t.Errorf("alice from a new address: delay %v, want %v", got, time.Second)
	}
	// Counts are forgotten after the window.
	later := now.Add(cfg.Window + time.Second)
	if got := th.delay("alice", addressKey("203.0.113.9"), later); got != 0 {
		t.Errorf("after the window: delay %v, want 0", got)
	}
}

func TestThrottleIPv6Prefix(t *testing.T) {
	th := newThrottle(ThrottleConfig{FreeFailures: 1, BaseDelay: time.Second, MaxDelay: time.Second, Window: time.Minute})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	th.failed("", addressKey("[2001:db8:1:2::1]:443"), now)
	for addr, want := range map[string]time.Duration{
		"2001:db8:1:2:ffff::9": time.Second, // same /64
		"2001:db8:1:3::1":      0,
	} {
		if got := th.delay("", addressKey(addr), now); got != want {
			t.Errorf("delay for %s = %v, want %v", addr, got, want)
		}
	}
}

func TestThrottleBounded(t *testing.T) {
	th := newThrottle(ThrottleConfig{MaxEntries: 100})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10_000 {
		th.failed(fmt.Sprint("user", i), addressKey(fmt.Sprintf("10.0.%d.%d", i/256, i%256)), now.Add(time.Duration(i)))
	}
	if n := len(th.entries); n > 100 {
		t.Errorf("%d entries tracked, want at most 100", n)
	}
	// The newest survive.
	if th.live(userKey("user9999"), now.Add(10_000)) == nil {
		t.Error("the latest failure was evicted")
	}
}

// TestThrottleKeyBytes: failures under names longer than any user's are
// tracked under a bounded key, so that long names cannot grow the map's
// bytes; they still count against that name.
func TestThrottleKeyBytes(t *testing.T) {
	th := newThrottle(ThrottleConfig{MaxEntries: 100})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	long := strings.Repeat("n", 64<<10)
	for i := range 10 {
		th.failed(long+fmt.Sprint(i), addressKey("10.0.0.1"), now)
	}
	for k := range th.entries {
		if len(k) > MaxNameLen+64 {
			t.Errorf("key of %d bytes tracked, want at most %d", len(k), MaxNameLen+64)
		}
	}
	if e := th.live(userKey(long), now); e == nil || e.n != 10 {
		t.Errorf("failures under the long name = %+v; want 10 counted", e)
	}
}
