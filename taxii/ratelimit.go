package taxii

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
)

// Rate limits: every principal (an authenticated user; for anonymous
// requests, the source address) has a token bucket of requests and one of
// request body bytes. A request takes a token of the first; a body takes a
// token of the second per byte, all of its Content-Length before it is read
// when that is declared, else as it is read. A principal whose bucket lacks
// the tokens is refused at once (429 with Retry-After), never queued, so
// that it cannot slow anyone else. Each process keeps its own buckets.

// Limits are the rates one principal may use. A rate of 0 sets no limit.
type Limits struct {
	// Requests per second, sustained; RequestsBurst requests may come at
	// once after a quiet time (at least 1 is used).
	Requests      float64
	RequestsBurst int64
	// PushBytes is the rate of request body bytes per second, sustained;
	// PushBytesBurst bytes may come at once. A body larger than the burst
	// is accepted only when the bucket is full, and leaves it in debt: the
	// principal then waits until the debt is paid at the sustained rate.
	PushBytes      float64
	PushBytesBurst int64
}

// bursts returns the bursts of l, each at least 1.
func (l Limits) bursts() (requests, bytes float64) {
	return float64(max(l.RequestsBurst, 1)), float64(max(l.PushBytesBurst, 1))
}

// OrganizationSource finds organizations by id; authz.Store is one.
type OrganizationSource interface {
	Organization(ctx context.Context, id string) (authz.Organization, error)
}

// RateLimitConfig configures a RateLimiter.
type RateLimitConfig struct {
	// Default are the limits of each user without an override, and of
	// each source address of anonymous requests (an IPv4 address, or an
	// IPv6 /64, which one host usually holds whole).
	Default Limits
	// Organizations override Default for the users of the organizations
	// they name, by name: each user of the organization has these limits,
	// in buckets of its own. A principal's organization is looked up by id
	// in Orgs (required with Organizations) and again every orgRecheck,
	// so that a renamed or new organization gets its limits.
	Organizations map[string]Limits
	Orgs          OrganizationSource
	// FailedChecks (per second) and FailedChecksBurst bound the credential
	// checks that fail per source address (authz.Admission): past them, a
	// credential the authenticator has not verified recently is refused
	// before it is checked, so that a flood of wrong passwords does not
	// cost a password hash each. 0: no bound.
	FailedChecks      float64
	FailedChecksBurst int64
	// MaxBuckets bounds the principals and addresses whose buckets are
	// kept at once (default DefaultMaxRateBuckets). Buckets that have
	// filled up again are dropped first (nothing is lost: a new bucket is
	// full); past the bound under a flood of new principals, those closest
	// to full.
	MaxBuckets int
	Logger     *slog.Logger
}

// DefaultMaxRateBuckets is the default of RateLimitConfig.MaxBuckets:
// about 15 MiB of buckets at most (some 150 bytes each).
const DefaultMaxRateBuckets = 100_000

// orgRecheck is how often the name of a principal's organization is read
// again, so that overrides follow renames and new organizations;
// orgRetry how soon after a failed read (the store unavailable), so that
// an outage costs one read per organization now and then, not one per
// request.
const (
	orgRecheck = 30 * time.Second
	orgRetry   = 5 * time.Second
)

// maxOrgCache bounds the organizations whose limits are cached; only
// authenticated principals add to it, so it is reached only by a store
// with that many organizations, and then simply starts afresh.
const maxOrgCache = 10_000

// RateLimiter enforces rate limits per principal. It is safe for
// concurrent use; a nil *RateLimiter limits nothing.
type RateLimiter struct {
	def    Limits
	byName map[string]Limits
	orgs   OrganizationSource
	failed Limits // the bound of failed checks, in its Requests fields
	log    *slog.Logger
	table  rateTable
	// now is the limiter's clock, in nanoseconds (monotonic); tests set it.
	now func() int64

	orgMu    sync.Mutex
	orgCache map[string]*orgLimits // organization id -> its limits
}

// orgLimits are the limits of an organization's users, as last looked up.
type orgLimits struct {
	lim     Limits
	next    int64         // when to look the name up again
	looking bool          // a lookup is under way
	ready   chan struct{} // closed once the first lookup is done
}

// NewRateLimiter returns a rate limiter.
func NewRateLimiter(cfg RateLimitConfig) (*RateLimiter, error) {
	if len(cfg.Organizations) > 0 && cfg.Orgs == nil {
		return nil, errors.New("taxii: organization rate limits need an organization source")
	}
	for name, lim := range cfg.Organizations {
		if err := lim.check(); err != nil {
			return nil, fmt.Errorf("taxii: rate limits of organization %q: %w", name, err)
		}
	}
	if err := cfg.Default.check(); err != nil {
		return nil, fmt.Errorf("taxii: default rate limits: %w", err)
	}
	failed := Limits{Requests: cfg.FailedChecks, RequestsBurst: cfg.FailedChecksBurst}
	if err := failed.check(); err != nil {
		return nil, fmt.Errorf("taxii: failed credential checks: %w", err)
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxRateBuckets
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	start := time.Now()
	l := &RateLimiter{
		def:      cfg.Default,
		byName:   cfg.Organizations,
		orgs:     cfg.Orgs,
		failed:   failed,
		log:      cfg.Logger,
		now:      func() int64 { return int64(time.Since(start)) },
		orgCache: make(map[string]*orgLimits),
	}
	l.table.init(cfg.MaxBuckets)
	return l, nil
}

func (l Limits) check() error {
	for _, v := range []float64{l.Requests, l.PushBytes} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("rate %v is not a number of 0 or more", v)
		}
	}
	if l.RequestsBurst < 0 || l.PushBytesBurst < 0 {
		return errors.New("bursts must not be negative")
	}
	return nil
}

// Buckets returns the number of principals and addresses whose buckets
// are kept.
func (l *RateLimiter) Buckets() int {
	n := 0
	for i := range l.table.shards {
		sh := &l.table.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// RateLimitError refuses a request over a rate limit: a 429 (RFC 6585
// section 4; TAXII 2.1 section 3.6 uses HTTP's statuses beyond those its
// endpoint tables list) with a Retry-After header.
type RateLimitError struct {
	// RetryAfter is how long until the refused request would be accepted.
	RetryAfter time.Duration
	// Description says which limit, for the client.
	Description string
}

func (e *RateLimitError) Error() string { return "rate limited: " + e.Description }

// retryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1
// (RFC 9110 section 10.2.3: a delay in seconds).
func (e *RateLimitError) retryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// header sets Retry-After on the response.
func (e *RateLimitError) header(h http.Header) {
	h.Set("Retry-After", strconv.Itoa(e.retryAfterSeconds()))
}

func rateLimited(wait time.Duration, format string, args ...any) *RateLimitError {
	e := &RateLimitError{RetryAfter: wait}
	e.Description = fmt.Sprintf(format, args...) + fmt.Sprintf("; retry after %ds", e.retryAfterSeconds())
	return e
}

// Kinds of rate keys.
const (
	keyUser     byte = iota + 1 // an authenticated user, by id
	keyAddress                  // anonymous requests of a source
	keyFailures                 // failed credential checks of a source
)

// rateKey names a set of buckets.
type rateKey struct {
	kind byte
	user string       // keyUser
	addr netip.Prefix // keyAddress, keyFailures; zero when unreadable
}

// sourcePrefix groups a source address (host:port, or a bare address) with
// those its owner likely also holds: IPv4 addresses stand alone (an
// IPv4-mapped IPv6 address is its IPv4 address), IPv6 addresses count per
// /64, the block one host or site usually holds whole, so that rotating
// through its addresses does not give a host new buckets. An address that
// does not parse (not TCP) gives the zero prefix: one bucket for all such.
func sourcePrefix(source string) netip.Prefix {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(source); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(source); err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	bits := 64
	if a.Is4() {
		bits = 32
	}
	p, _ := a.Prefix(bits)
	return p
}

// keyOf is the key of a request's buckets: its user, or its source address
// when anonymous.
func keyOf(p authz.Principal, remoteAddr string) rateKey {
	if !p.Anonymous() {
		return rateKey{kind: keyUser, user: p.UserID}
	}
	return rateKey{kind: keyAddress, addr: sourcePrefix(remoteAddr)}
}

// limitsOf returns the limits of the principal: its organization's
// override, else the default.
func (l *RateLimiter) limitsOf(ctx context.Context, p authz.Principal) Limits {
	if len(l.byName) == 0 || p.Anonymous() || p.OrganizationID == "" {
		return l.def
	}
	now := l.now()
	l.orgMu.Lock()
	o := l.orgCache[p.OrganizationID]
	if o != nil && (o.looking || now < o.next) {
		l.orgMu.Unlock()
		<-o.ready // closed but for the first lookup
		l.orgMu.Lock()
		lim := o.lim
		l.orgMu.Unlock()
		return lim
	}
	first := o == nil
	if first {
		if len(l.orgCache) >= maxOrgCache {
			clear(l.orgCache)
		}
		o = &orgLimits{lim: l.def, ready: make(chan struct{})}
		l.orgCache[p.OrganizationID] = o
	}
	o.looking = true
	l.orgMu.Unlock()

	// The lookup is the limiter's, not the request's: a client that goes
	// away must not leave its organization without limits.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	org, err := l.orgs.Organization(lctx, p.OrganizationID)
	cancel()

	l.orgMu.Lock()
	defer l.orgMu.Unlock()
	switch {
	case err == nil:
		o.lim = l.def
		if lim, ok := l.byName[org.Name]; ok {
			o.lim = lim
		}
		o.next = now + int64(orgRecheck)
	case errors.Is(err, authz.ErrNotFound):
		o.lim, o.next = l.def, now+int64(orgRecheck)
	default:
		// Keep what was known (the default at first): a store that does
		// not answer must not fail requests here.
		l.log.Warn("rate limits: look up organization", "organization_id", p.OrganizationID, "err", err)
		o.next = now + int64(orgRetry)
	}
	o.looking = false
	if first {
		close(o.ready)
	}
	return o.lim
}

// admit takes a request token of the request's principal and, for a
// request with a body, reserves its declared length in the byte bucket or
// returns a body that charges bytes as they are read. The returned body,
// when not nil, replaces the request's and must be settled when the
// request ends.
func (l *RateLimiter) admit(ctx context.Context, p authz.Principal, r *http.Request) (*limitedBody, error) {
	lim := l.limitsOf(ctx, p)
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	countBytes := hasBody && lim.PushBytes > 0
	if lim.Requests <= 0 && !countBytes {
		return nil, nil
	}
	k := keyOf(p, r.RemoteAddr)
	reqBurst, byteBurst := lim.bursts()
	now := l.now()
	sh, e := l.table.lock(k, now, lim)
	defer sh.unlock(e, lim)
	if lim.Requests > 0 {
		if wait := e.requests.take(now, 1, lim.Requests, reqBurst); wait > 0 {
			return nil, rateLimited(wait, "too many requests from this %s: at most %s per second, in bursts of up to %d",
				subject(p), formatRate(lim.Requests), int64(reqBurst))
		}
	}
	if !countBytes {
		return nil, nil
	}
	reserved := int64(-1)
	if r.ContentLength > 0 {
		if wait := e.bytes.take(now, float64(r.ContentLength), lim.PushBytes, byteBurst); wait > 0 {
			return nil, rateLimited(wait, "request bodies from this %s exceed its limit of %s bytes per second, in bursts of up to %d bytes: this one of %d bytes fits later",
				subject(p), formatRate(lim.PushBytes), int64(byteBurst), r.ContentLength)
		}
		reserved = r.ContentLength
	}
	e.busy++
	return &limitedBody{ReadCloser: r.Body, l: l, p: p, sh: sh, e: e, lim: lim, reserved: reserved}, nil
}

// subject names the principal refused, in an error.
func subject(p authz.Principal) string {
	if p.Anonymous() {
		return "address"
	}
	return "user"
}

func formatRate(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// limitedBody is a request body charged to its principal's byte bucket:
// ahead of reading when its length was declared (reserved), as it is read
// otherwise.
type limitedBody struct {
	io.ReadCloser
	l        *RateLimiter
	p        authz.Principal
	sh       *rateShard
	e        *rateEntry // kept in its shard while busy
	lim      Limits
	reserved int64 // bytes taken ahead; -1: charged as read
	n        int64 // bytes read
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.reserved >= 0 {
		n, err := b.ReadCloser.Read(p)
		b.n += int64(n)
		return n, err
	}
	_, burst := b.lim.bursts()
	now := b.l.now()
	b.sh.mu.Lock()
	avail := b.e.bytes.available(now, b.lim.PushBytes, burst)
	if avail < 1 {
		// The size is unknown: the whole burst is the best a retry can hope
		// for.
		wait := b.e.bytes.wait(burst, b.lim.PushBytes)
		b.sh.mu.Unlock()
		return 0, rateLimited(wait, "request bodies from this %s exceed its limit of %s bytes per second, in bursts of up to %d bytes: this one was stopped after %d bytes",
			subject(b.p), formatRate(b.lim.PushBytes), int64(burst), b.n)
	}
	b.sh.mu.Unlock()
	if float64(len(p)) > avail {
		p = p[:int(avail)]
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	b.sh.mu.Lock()
	b.e.bytes.tokens -= float64(n) // another body of the principal may have taken some meanwhile: a small debt
	b.sh.mu.Unlock()
	return n, err
}

// settle gives back what was reserved and not read (a request refused
// before its body was read), and lets the bucket be dropped again.
func (b *limitedBody) settle() {
	b.sh.mu.Lock()
	if b.reserved > b.n {
		_, burst := b.lim.bursts()
		b.e.bytes.give(float64(b.reserved-b.n), burst)
	}
	b.e.busy--
	b.sh.unlock(b.e, b.lim) // unlocks
}

// Admit implements authz.Admission: a credential check from the source
// takes a token of the source's bucket of failed checks, given back by
// Refund when the check does not fail.
func (l *RateLimiter) Admit(source string) error {
	if l == nil || l.failed.Requests <= 0 {
		return nil
	}
	k := rateKey{kind: keyFailures, addr: sourcePrefix(source)}
	burst, _ := l.failed.bursts()
	now := l.now()
	sh, e := l.table.lock(k, now, l.failed)
	defer sh.unlock(e, l.failed)
	if wait := e.requests.take(now, 1, l.failed.Requests, burst); wait > 0 {
		return rateLimited(wait, "too many failed sign-ins from this address: at most %s per second, in bursts of up to %d",
			formatRate(l.failed.Requests), int64(burst))
	}
	return nil
}

// Refund implements authz.Admission.
func (l *RateLimiter) Refund(source string) {
	if l == nil || l.failed.Requests <= 0 {
		return
	}
	k := rateKey{kind: keyFailures, addr: sourcePrefix(source)}
	burst, _ := l.failed.bursts()
	sh, e := l.table.lock(k, l.now(), l.failed)
	e.requests.give(1, burst)
	sh.unlock(e, l.failed)
}

// limitRate enforces the rate limits of the request's principal; it runs
// after authenticate. Probes are never limited.
func (s *Server) limitRate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		if s.limiter == nil || openPaths[r.URL.Path] {
			return next(c)
		}
		body, err := s.limiter.admit(r.Context(), requester(c), r)
		if err != nil {
			return err
		}
		if body != nil {
			limited := *r // handlers leave the given request as it is
			limited.Body = body
			c.SetRequest(&limited)
			defer body.settle()
		}
		return next(c)
	}
}

// tokenBucket holds tokens that refill at a rate up to a burst. Its rate
// and burst are given with each use, so that a principal whose limits
// change keeps its bucket.
type tokenBucket struct {
	tokens float64 // may be negative: a debt
	at     int64   // when tokens was last brought up to date
}

// refill brings the tokens up to now.
func (b *tokenBucket) refill(now int64, rate, burst float64) {
	if now > b.at {
		b.tokens += float64(now-b.at) * rate / 1e9
		b.at = now
	}
	b.tokens = min(b.tokens, burst)
}

// take takes n tokens if the bucket holds them (n beyond the burst: if the
// bucket is full, leaving it in debt), and returns 0; otherwise it takes
// nothing and returns how long until it would.
func (b *tokenBucket) take(now int64, n, rate, burst float64) time.Duration {
	b.refill(now, rate, burst)
	need := min(n, burst)
	if b.tokens >= need {
		b.tokens -= n
		return 0
	}
	return b.wait(need, rate)
}

// wait returns how long until the bucket holds n tokens.
func (b *tokenBucket) wait(n, rate float64) time.Duration {
	d := time.Duration(math.Ceil((n - b.tokens) / rate * 1e9))
	return max(d, 1)
}

// available returns the whole tokens the bucket holds now.
func (b *tokenBucket) available(now int64, rate, burst float64) float64 {
	b.refill(now, rate, burst)
	return math.Floor(b.tokens)
}

// give puts n tokens back.
func (b *tokenBucket) give(n, burst float64) { b.tokens = min(b.tokens+n, burst) }

// fullAt returns when the bucket will be full if left alone.
func (b *tokenBucket) fullAt(rate, burst float64) int64 {
	if b.tokens >= burst || rate <= 0 {
		return b.at
	}
	return b.at + int64(math.Ceil((burst-b.tokens)/rate*1e9))
}

// rateShards is the number of independently locked parts of the bucket
// table: requests of different principals rarely wait for one another.
const rateShards = 64

// rateTable maps keys to buckets, bounded in size.
type rateTable struct {
	seed     maphash.Seed
	perShard int
	shards   [rateShards]rateShard
}

type rateShard struct {
	mu sync.Mutex
	m  map[rateKey]*rateEntry
	_  [48]byte // a cache line of its own
}

// rateEntry holds the buckets of one key.
type rateEntry struct {
	requests tokenBucket
	bytes    tokenBucket
	// fullAt is when both buckets will be full if left alone: from then
	// on the entry can be dropped without changing anything.
	fullAt int64
	busy   int // request bodies being read and charged here: not dropped meanwhile
}

func (t *rateTable) init(maxEntries int) {
	t.seed = maphash.MakeSeed()
	t.perShard = max(1, maxEntries/rateShards)
	for i := range t.shards {
		t.shards[i].m = make(map[rateKey]*rateEntry)
	}
}

func (t *rateTable) shard(k rateKey) *rateShard {
	var h uint64
	if k.kind == keyUser {
		h = maphash.String(t.seed, k.user)
	} else {
		a := k.addr.Addr().As16()
		h = maphash.Bytes(t.seed, a[:]) + uint64(k.kind)
	}
	return &t.shards[h%rateShards]
}

// lock returns the entry of k, new (with full buckets) if need be, with
// its shard locked; release it with unlock.
func (t *rateTable) lock(k rateKey, now int64, lim Limits) (*rateShard, *rateEntry) {
	sh := t.shard(k)
	sh.mu.Lock()
	e := sh.m[k]
	if e == nil {
		if len(sh.m) >= t.perShard {
			sh.makeRoom(now, t.perShard)
		}
		rb, bb := lim.bursts()
		e = &rateEntry{requests: tokenBucket{tokens: rb, at: now}, bytes: tokenBucket{tokens: bb, at: now}}
		sh.m[k] = e
	}
	return sh, e
}

// unlock records when e will be full again and unlocks its shard.
func (sh *rateShard) unlock(e *rateEntry, lim Limits) {
	rb, bb := lim.bursts()
	e.fullAt = max(e.requests.fullAt(lim.Requests, rb), e.bytes.fullAt(lim.PushBytes, bb))
	sh.mu.Unlock()
}

// makeRoom shrinks a full shard: it drops the entries that are full again
// (a new entry would be the same), then, if the shard is still above 90%
// of its bound, the entries closest to full among samples of 64, so that
// a sweep happens at most once per tenth of the bound of new entries.
// Entries with a body being read stay. Called with mu held.
func (sh *rateShard) makeRoom(now int64, bound int) {
	for k, e := range sh.m {
		if e.busy == 0 && e.fullAt <= now {
			delete(sh.m, k)
		}
	}
	for len(sh.m) > bound*9/10 {
		var (
			victim rateKey
			at     int64
			found  bool
			seen   int
		)
		for k, e := range sh.m { // random order: a sample
			if e.busy == 0 && (!found || e.fullAt < at) {
				victim, at, found = k, e.fullAt, true
			}
			if seen++; seen == 64 {
				break
			}
		}
		if !found {
			return // every sampled entry is busy: grow past the bound for now
		}
		delete(sh.m, victim)
	}
}
