package authz

import (
	"net/netip"
	"sync"
	"time"
)

// ThrottleConfig sets how repeated authentication failures are slowed down.
//
// Failures are counted per source address (IPv6 per /64, which one host
// usually holds whole) and per claimed user name. Past FreeFailures, each
// verification that is not answered from the verdict cache first waits
// BaseDelay, doubled with each further failure, up to MaxDelay. Nothing is
// ever locked: a real user whose name is under attack signs in after at
// most MaxDelay, and not even that from an address it signed in from
// before, nor while its verdict is cached. Counts fade: Window after an
// address's or a name's last failure, it starts afresh.
type ThrottleConfig struct {
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	// Window is how long a count is kept after its last failure (and how
	// long an address stays known for a user it signed in).
	Window time.Duration
	// MaxEntries bounds the memory of the counts: past it, the oldest
	// entries found in a sweep are dropped.
	MaxEntries int
}

// DefaultThrottle is the throttling of a zero ThrottleConfig.
var DefaultThrottle = ThrottleConfig{
	FreeFailures: 5,
	BaseDelay:    250 * time.Millisecond,
	MaxDelay:     5 * time.Second,
	Window:       15 * time.Minute,
	MaxEntries:   100_000,
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	d := DefaultThrottle
	if c.FreeFailures > 0 {
		d.FreeFailures = c.FreeFailures
	}
	if c.BaseDelay > 0 {
		d.BaseDelay = c.BaseDelay
	}
	if c.MaxDelay > 0 {
		d.MaxDelay = c.MaxDelay
	}
	if c.Window > 0 {
		d.Window = c.Window
	}
	if c.MaxEntries > 0 {
		d.MaxEntries = c.MaxEntries
	}
	return d
}

// throttle counts failures by key: "a\x00<address>" and "u\x00<name>", and
// remembers successful (name, address) pairs as "k\x00<name>\x00<address>".
type throttle struct {
	cfg     ThrottleConfig
	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	n    int // failures; 0 for a known pair
	last time.Time
}

func newThrottle(cfg ThrottleConfig) *throttle {
	return &throttle{cfg: cfg.withDefaults(), entries: make(map[string]*throttleEntry)}
}

// addressKey groups an address with those its owner likely also holds.
func addressKey(source string) string {
	if ap, err := netip.ParseAddrPort(source); err == nil {
		source = ap.Addr().String()
	}
	a, err := netip.ParseAddr(source)
	if err != nil {
		if len(source) > 64 {
			source = source[:64]
		}
		return "a\x00" + source
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "a\x00" + p.String()
	}
	return "a\x00" + a.String()
}

// Keys hold at most MaxNameLen+1 bytes of a name: no user has a longer
// one, and the map stays bounded in bytes as well as in entries whatever
// names an attacker sends.
func userKey(name string) string          { return "u\x00" + keyName(name) }
func pairKey(name, addrKey string) string { return "k\x00" + keyName(name) + "\x00" + addrKey }

func keyName(name string) string {
	if len(name) > MaxNameLen {
		return name[:MaxNameLen+1]
	}
	return name
}

// delay returns how long a verification for name (empty for tokens) from
// the address must wait.
func (t *throttle) delay(name, addrKey string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.delayOf(addrKey, now)
	if name != "" {
		if e := t.live(pairKey(name, addrKey), now); e == nil {
			d = max(d, t.delayOf(userKey(name), now))
		}
	}
	return d
}

func (t *throttle) live(key string, now time.Time) *throttleEntry {
	e := t.entries[key]
	if e == nil || now.Sub(e.last) > t.cfg.Window {
		return nil
	}
	return e
}

func (t *throttle) delayOf(key string, now time.Time) time.Duration {
	e := t.live(key, now)
	if e == nil || e.n < t.cfg.FreeFailures {
		return 0
	}
	d := t.cfg.BaseDelay
	for i := t.cfg.FreeFailures; i < e.n && d < t.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxDelay)
}

// failed counts a failure of name (empty for tokens) from the address.
func (t *throttle) failed(name, addrKey string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bump(addrKey, now)
	if name != "" {
		t.bump(userKey(name), now)
	}
}

func (t *throttle) bump(key string, now time.Time) {
	e := t.live(key, now)
	if e == nil {
		t.makeRoom(now)
		e = &throttleEntry{}
		t.entries[key] = e
	}
	e.n++
	e.last = now
}

// succeeded remembers that the address signed in as name, so that failures
// others cause under that name do not slow it. The address's own failures
// stay counted: else an attacker holding one account could clear its
// count between guesses at others.
func (t *throttle) succeeded(name, addrKey string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if name == "" {
		return
	}
	k := pairKey(name, addrKey)
	if e := t.entries[k]; e != nil {
		e.last = now
		return
	}
	t.makeRoom(now)
	t.entries[k] = &throttleEntry{last: now}
}

// makeRoom keeps the map under MaxEntries: when full, it drops expired
// entries and then, down to 90% of the bound, the oldest of samples, so
// that a full sweep happens at most once per tenth of the bound of new
// entries. Called with mu held.
func (t *throttle) makeRoom(now time.Time) {
	if len(t.entries) < t.cfg.MaxEntries {
		return
	}
	for k, e := range t.entries {
		if now.Sub(e.last) > t.cfg.Window {
			delete(t.entries, k)
		}
	}
	for len(t.entries) > t.cfg.MaxEntries*9/10 {
		var (
			oldest string
			at     time.Time
			seen   int
		)
		for k, e := range t.entries { // random order: a sample of 64
			if seen == 0 || e.last.Before(at) {
				oldest, at = k, e.last
			}
			if seen++; seen == 64 {
				break
			}
		}
		delete(t.entries, oldest)
	}
}
