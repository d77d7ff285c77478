package authz

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// AuthenticatorConfig sets up an Authenticator. Store and Watcher are
// required.
type AuthenticatorConfig struct {
	Store   Store
	Watcher *Watcher
	Log     *slog.Logger
	// VerdictTTL is how long a verified credential, or a client
	// certificate's verdict, is trusted without checking it again (default
	// one minute). A change to users, tokens, grants or certificate
	// bindings drops every verdict at once in the process that made it
	// (after Watcher.Refresh) and within the watch interval in the others.
	VerdictTTL time.Duration
	// MaxVerdicts bounds the verdict cache of credentials, and that of
	// client certificates (default 100,000 each).
	MaxVerdicts int
	// MaxHashes bounds the password hashes computed at once (default
	// GOMAXPROCS): each takes the argon2 memory cost, so unbounded
	// concurrency would let a flood of wrong passwords exhaust memory.
	MaxHashes int
	Throttle  ThrottleConfig
	// TouchInterval is how often the last-used times of tokens are written
	// (default 30 s): one batch, not one write per request.
	TouchInterval time.Duration
	// Certificates maps verified TLS client certificates to users; nil:
	// certificates authenticate nobody.
	Certificates CertificateMapper
	// PasswordParams are those new passwords are hashed with (default
	// DefaultPasswordParams); a sign-in with an unknown name checks a dummy
	// hash of that cost, so that it takes as long as a known one.
	PasswordParams PasswordParams
	// Admission, when set, is asked before each credential check the
	// verdict cache does not answer (a password hash, a token lookup), so
	// that a flood of wrong credentials is refused before it costs any.
	Admission Admission
}

// Admission bounds the credential checks made for a source address.
// Admit is called with the source (as given to Authenticate) before a
// check; its error refuses the check, and Authenticate returns that error
// as it is (not an *AuthError: the credential was not judged). Refund is
// called after an admitted check that did not refuse the credential, so
// that only failed checks count in the end.
type Admission interface {
	Admit(source string) error
	Refund(source string)
}

// CertificateMapper maps a TLS client certificate, already verified
// against the configured client CAs, to the id of the user it stands for.
// chains are the handshake's verified chains (tls.ConnectionState's
// VerifiedChains): each starts with the client's certificate and ends with
// a client CA. It returns ErrNotFound when the certificate stands for
// nobody; any other error of ErrConflict or ErrInvalid when it cannot
// stand for anyone (it is ambiguous, or too large to judge).
type CertificateMapper interface {
	UserForCertificate(ctx context.Context, chains [][]*x509.Certificate) (userID string, err error)
}

// AuthError is why an authentication failed. It matches ErrUnauthenticated
// with errors.Is. Its text is for logs and the audit log, not for the
// client, which should only learn that its credentials were refused.
type AuthError struct {
	Scheme   string // "basic", "bearer", "token", "certificate" or the unknown scheme
	UserName string // the user name claimed, for Basic
	Reason   string
	// Identities and Issuers describe a refused client certificate: its
	// names (at most maxLoggedIdentities) and the KeyFingerprint of the
	// client CAs it chains to, as a binding would name them, so that an
	// administrator can copy them from the log.
	Identities []string
	Issuers    []string
}

func (e *AuthError) Error() string {
	var b strings.Builder
	if e.UserName != "" {
		fmt.Fprintf(&b, "authentication failed (%s, user %q): %s", e.Scheme, e.UserName, e.Reason)
	} else {
		fmt.Fprintf(&b, "authentication failed (%s): %s", e.Scheme, e.Reason)
	}
	if len(e.Identities) > 0 {
		b.WriteString("; certificate identities:")
		for _, id := range e.Identities {
			fmt.Fprintf(&b, " %q", id)
		}
	}
	if len(e.Issuers) > 0 {
		b.WriteString("; client CA key sha256: " + strings.Join(e.Issuers, ", "))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrUnauthenticated) true.
func (e *AuthError) Is(target error) bool { return target == ErrUnauthenticated }

// MaxAuthorizationLen bounds the Authorization header value accepted.
const MaxAuthorizationLen = 4096

// Authenticator turns credentials into principals (TAXII 2.1 sections
// 1.6.9 and 8.2.2: HTTP Basic, and API tokens as Bearer or Token).
//
// A slow password hash must not cap throughput, so a verified credential
// (password or token) is trusted for VerdictTTL through an in-memory
// verdict, keyed by an HMAC of the credential under a random key of this
// process: the cache holds no password, and its keys are worthless outside
// the process. Verdicts are tied to the policy generation and dropped when
// it moves.
type Authenticator struct {
	store    Store
	watcher  *Watcher
	log      *slog.Logger
	ttl      time.Duration
	certs    CertificateMapper
	hashes   chan struct{} // semaphore of password hashes
	throttle *throttle
	dummy    string // hash checked for unknown users, so they cost the same
	admit    Admission

	macs     sync.Pool // hash.Hash: HMAC-SHA256 under the process key
	verdicts verdictCache
	// checks coalesces concurrent checks of the same credentials, keyed
	// by their verdict key: when a verdict expires under load, one hash
	// (and one admission) serves every request waiting for it.
	checks singleflight.Group
	// certVerdicts are the verdicts on client certificates, refusals
	// included: a certificate is no secret, and mapping it costs a store
	// lookup whatever the answer.
	certVerdicts verdictCache

	touchMu sync.Mutex
	touched map[string]time.Time // token id -> last use, not yet written
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewAuthenticator returns an authenticator; Close it to write the pending
// last-used times.
func NewAuthenticator(cfg AuthenticatorConfig) (*Authenticator, error) {
	if cfg.Store == nil || cfg.Watcher == nil {
		return nil, errors.New("authz: authenticator needs a store and a watcher")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.VerdictTTL <= 0 {
		cfg.VerdictTTL = time.Minute
	}
	if cfg.MaxVerdicts <= 0 {
		cfg.MaxVerdicts = 100_000
	}
	if cfg.MaxHashes <= 0 {
		cfg.MaxHashes = runtime.GOMAXPROCS(0)
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = 30 * time.Second
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("authz: verdict key: %w", err)
	}
	if cfg.PasswordParams == (PasswordParams{}) {
		cfg.PasswordParams = DefaultPasswordParams
	}
	dummy, err := HashPassword("not a password of anyone", cfg.PasswordParams)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{
		store:        cfg.Store,
		watcher:      cfg.Watcher,
		log:          cfg.Log,
		ttl:          cfg.VerdictTTL,
		certs:        cfg.Certificates,
		hashes:       make(chan struct{}, cfg.MaxHashes),
		throttle:     newThrottle(cfg.Throttle),
		dummy:        dummy,
		admit:        cfg.Admission,
		macs:         sync.Pool{New: func() any { return hmac.New(sha256.New, key) }},
		verdicts:     verdictCache{max: cfg.MaxVerdicts, m: make(map[[32]byte]verdict)},
		certVerdicts: verdictCache{max: cfg.MaxVerdicts, m: make(map[[32]byte]verdict)},
		touched:      make(map[string]time.Time),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	go a.touchLoop(cfg.TouchInterval)
	return a, nil
}

// Authenticate returns the principal of an Authorization header value,
// from the client at source (its address, with or without port).
//
// An empty header gives the anonymous principal and no error: whether
// anonymous requests may go on is for the authorizer to say. Schemes are
// "Basic" (RFC 7617), "Bearer" (RFC 6750) and "Token" (as the OASIS
// taxii2-client's TokenAuth sends it), case-insensitive. Wrong, malformed,
// disabled, revoked or expired credentials give an *AuthError
// (ErrUnauthenticated); so does ctx ending while a throttled attempt waits.
// Other errors come from the store.
func (a *Authenticator) Authenticate(ctx context.Context, authorization, source string) (Principal, error) {
	if authorization == "" {
		return Principal{}, nil
	}
	if len(authorization) > MaxAuthorizationLen {
		return Principal{}, &AuthError{Scheme: "unknown", Reason: "authorization header too long"}
	}
	scheme, cred, _ := strings.Cut(authorization, " ")
	scheme = strings.ToLower(scheme)
	cred = strings.TrimLeft(cred, " ")
	switch scheme {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return Principal{}, &AuthError{Scheme: scheme, Reason: "credentials are not base64"}
		}
		name, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return Principal{}, &AuthError{Scheme: scheme, Reason: "credentials lack a colon"}
		}
		return a.authenticate(ctx, scheme, name, password, source)
	case "bearer", "token":
		return a.authenticate(ctx, scheme, "", cred, source)
	}
	if len(scheme) > 20 {
		scheme = scheme[:20]
	}
	return Principal{}, &AuthError{Scheme: scheme, Reason: "unsupported scheme"}
}

// verdict is a verified credential, or the judgement of a client
// certificate.
type verdict struct {
	p       Principal
	gen     int64
	expires time.Time
	// For certificates: refusal is why the certificate was refused (nil:
	// it stands for p); unmapped that it stands for no user at all.
	refusal  *AuthError
	unmapped bool
}

func (a *Authenticator) authenticate(ctx context.Context, scheme, name, secret, source string) (Principal, error) {
	now := time.Now()
	// Read the generation before the store: a change committed during the
	// verification moves it, and the verdict is then never used.
	gen := a.watcher.Generation()
	kind := byte('p')
	if scheme != "basic" {
		kind = 't'
	}
	key := a.verdictKey(kind, name, secret)
	if v, ok := a.verdicts.get(key, gen, now); ok {
		if v.p.TokenID != "" {
			a.touch(v.p.TokenID, now)
		}
		return v.p, nil
	}
	// The check runs once for all requests waiting on these credentials,
	// whichever gives up first; each waits as long as its own context.
	ch := a.checks.DoChan(string(key[:]), func() (any, error) {
		return a.check(context.WithoutCancel(ctx), scheme, name, secret, source, key, gen, now)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Principal{}, r.Err
		}
		p := r.Val.(Principal)
		if p.TokenID != "" {
			a.touch(p.TokenID, now)
		}
		return p, nil
	case <-ctx.Done():
		return Principal{}, &AuthError{Scheme: scheme, UserName: name, Reason: "gave up waiting for the check: " + ctx.Err().Error()}
	}
}

// check verifies credentials whose verdict is not cached, and caches it.
func (a *Authenticator) check(ctx context.Context, scheme, name, secret, source string, key [32]byte, gen int64, now time.Time) (Principal, error) {
	if a.admit != nil {
		if err := a.admit.Admit(source); err != nil {
			return Principal{}, err
		}
	}
	addr := addressKey(source)
	if d := a.throttle.delay(name, addr, now); d > 0 {
		// Requests waiting on this check give up on their own contexts.
		time.Sleep(d)
	}

	var (
		v   verdict
		err error
	)
	if scheme == "basic" {
		v, err = a.checkPassword(ctx, name, secret)
	} else {
		v, err = a.checkToken(ctx, secret)
	}
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			ae.Scheme = scheme
			a.throttle.failed(name, addr, time.Now())
		} else if a.admit != nil {
			a.admit.Refund(source) // the store failed, not the credential
		}
		return Principal{}, err
	}
	if a.admit != nil {
		a.admit.Refund(source)
	}
	a.throttle.succeeded(name, addr, time.Now())
	v.gen = gen
	if lim := now.Add(a.ttl); v.expires.IsZero() || v.expires.After(lim) {
		v.expires = lim
	}
	a.verdicts.put(key, v, now)
	return v.p, nil
}

// verdictKey is the HMAC of the credentials under the process key; kind
// keeps passwords and tokens apart.
func (a *Authenticator) verdictKey(kind byte, name, secret string) [32]byte {
	m := a.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte{kind})
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	var k [32]byte
	m.Sum(k[:0])
	a.macs.Put(m)
	return k
}

func (a *Authenticator) checkPassword(ctx context.Context, name, password string) (verdict, error) {
	fail := func(reason string) (verdict, error) {
		return verdict{}, &AuthError{UserName: name, Reason: reason}
	}
	if len(password) > MaxPasswordLen || len(name) > MaxNameLen {
		return fail("credentials too long")
	}
	u, err := a.store.UserByName(ctx, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return verdict{}, fmt.Errorf("authz: look up user: %w", err)
	}
	encoded := u.PasswordHash
	if err != nil || encoded == "" {
		// Spend the time a real check takes, so that the answer's delay
		// does not tell which names exist.
		encoded = a.dummy
	}
	select {
	case a.hashes <- struct{}{}:
	case <-ctx.Done():
		return fail("gave up waiting to check the password: " + ctx.Err().Error())
	}
	ok, herr := CheckPassword(encoded, password)
	<-a.hashes
	switch {
	case err != nil:
		return fail("no such user")
	case u.PasswordHash == "":
		return fail("user has no password")
	case herr != nil:
		a.log.Error("authz: stored password hash unreadable", "user", u.ID, "err", herr)
		return fail("stored password hash unreadable")
	case !ok:
		return fail("wrong password")
	case u.Disabled:
		return fail("user disabled")
	}
	return verdict{p: principalOf(u, "")}, nil
}

func (a *Authenticator) checkToken(ctx context.Context, secret string) (verdict, error) {
	fail := func(reason string) (verdict, error) { return verdict{}, &AuthError{Reason: reason} }
	if !WellFormedToken(secret) {
		return fail("malformed token")
	}
	t, err := a.store.TokenByHash(ctx, TokenHash(secret))
	if errors.Is(err, ErrNotFound) {
		return fail("unknown token")
	}
	if err != nil {
		return verdict{}, fmt.Errorf("authz: look up token: %w", err)
	}
	if !t.Active(time.Now()) {
		return fail("token revoked or expired")
	}
	u, err := a.store.User(ctx, t.UserID)
	if errors.Is(err, ErrNotFound) {
		return fail("token of a deleted user")
	}
	if err != nil {
		return verdict{}, fmt.Errorf("authz: look up user: %w", err)
	}
	if u.Disabled {
		return verdict{}, &AuthError{UserName: u.Name, Reason: "user disabled"}
	}
	return verdict{p: principalOf(u, t.ID), expires: t.ExpiresAt}, nil
}

// AuthenticateCertificate returns the principal of a verified TLS client
// certificate, given as the handshake's verified chains, through the
// configured CertificateMapper. It is the one place where certificates
// become users. A certificate that stands for no user, for several, for a
// disabled user, or that has expired since the handshake, gives an
// *AuthError (ErrUnauthenticated) listing the certificate's identities
// and client CAs; other errors come from the store.
//
// Verdicts, refusals included, are kept per certificate and client CAs
// for VerdictTTL (and no later than the certificate's expiry), and
// dropped when the policy generation moves.
func (a *Authenticator) AuthenticateCertificate(ctx context.Context, chains [][]*x509.Certificate) (Principal, error) {
	p, _, err := a.certificate(ctx, chains)
	return p, err
}

// certificate is AuthenticateCertificate; mapped is false when the
// certificate stands for no user at all (or certificates are not
// accepted), as opposed to standing for one or being refused for another
// reason.
func (a *Authenticator) certificate(ctx context.Context, chains [][]*x509.Certificate) (p Principal, mapped bool, err error) {
	leaf, issuers := clientCertificate(chains)
	if a.certs == nil || leaf == nil {
		return Principal{}, false, &AuthError{Scheme: "certificate", Reason: "client certificates are not accepted"}
	}
	now := time.Now()
	if now.After(leaf.NotAfter) {
		// The handshake checked it; a connection kept open may outlive it.
		return Principal{}, true, certRefusal("certificate expired", leaf, issuers)
	}
	gen := a.watcher.Generation()
	key := certVerdictKey(leaf, issuers)
	v, ok := a.certVerdicts.get(key, gen, now)
	if !ok {
		if v, err = a.checkCertificate(ctx, leaf, issuers, chains); err != nil {
			return Principal{}, true, err
		}
		v.gen = gen
		v.expires = now.Add(a.ttl)
		if leaf.NotAfter.Before(v.expires) {
			v.expires = leaf.NotAfter
		}
		a.certVerdicts.put(key, v, now)
	}
	if v.refusal != nil {
		e := *v.refusal // the caller may change it
		return Principal{}, !v.unmapped, &e
	}
	return v.p, true, nil
}

// checkCertificate judges a certificate without the verdict cache.
func (a *Authenticator) checkCertificate(ctx context.Context, leaf *x509.Certificate, issuers []string,
	chains [][]*x509.Certificate) (verdict, error) {
	id, err := a.certs.UserForCertificate(ctx, chains)
	switch {
	case errors.Is(err, ErrNotFound):
		return verdict{refusal: certRefusal("certificate maps to no user", leaf, issuers), unmapped: true}, nil
	case errors.Is(err, ErrConflict):
		return verdict{refusal: certRefusal("certificate maps to several users", leaf, issuers)}, nil
	case errors.Is(err, ErrInvalid):
		return verdict{refusal: certRefusal("certificate not judged", leaf, issuers)}, nil
	case err != nil:
		return verdict{}, fmt.Errorf("authz: map certificate: %w", err)
	}
	u, err := a.store.User(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return verdict{refusal: certRefusal("certificate maps to a deleted user", leaf, issuers)}, nil
	}
	if err != nil {
		return verdict{}, fmt.Errorf("authz: look up user: %w", err)
	}
	if u.Disabled {
		r := certRefusal("user disabled", leaf, issuers)
		r.UserName = u.Name
		return verdict{refusal: r}, nil
	}
	return verdict{p: principalOf(u, "")}, nil
}

// maxLoggedIdentities bounds the identities a refusal lists, each cut at
// MaxCertIdentityLen: a refusal is logged and audited, and the names are
// the client's choice (within what its CA signs).
const maxLoggedIdentities = 20

// certRefusal is the refusal of a certificate, with what an
// administrator needs to bind it.
func certRefusal(reason string, leaf *x509.Certificate, issuers []string) *AuthError {
	e := &AuthError{Scheme: "certificate", Reason: reason, Issuers: issuers}
	ids := CertificateIdentities(leaf)
	for i, id := range ids {
		if i == maxLoggedIdentities {
			e.Identities = append(e.Identities, fmt.Sprintf("... %d more", len(ids)-i))
			break
		}
		if len(id) > MaxCertIdentityLen {
			id = strings.ToValidUTF8(id[:MaxCertIdentityLen], "") + "..."
		}
		e.Identities = append(e.Identities, id)
	}
	return e
}

// certVerdictKey identifies a certificate and the client CAs it was
// verified against: the same certificate may chain to other CAs once the
// client CA file changes.
func certVerdictKey(leaf *x509.Certificate, issuers []string) [32]byte {
	h := sha256.New()
	h.Write(leaf.Raw)
	for _, is := range issuers {
		h.Write([]byte{0})
		h.Write([]byte(is))
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// AuthenticateRequest returns the principal of a request: its
// Authorization header value (authorization, "" for none, as
// Authenticate takes it) and the verified chains of its TLS client
// certificate (nil without one).
//
//   - Credentials alone: Authenticate decides.
//   - A certificate alone: AuthenticateCertificate decides.
//   - Both: the credentials must be valid, and when the certificate
//     stands for a user, it must be the same user; a certificate that
//     stands for a user other than the credentials', or that is refused
//     for any reason but standing for no user (ambiguous, disabled user,
//     expired), refuses the request. A certificate that stands for no user
//     only proves the TLS client, and the credentials decide.
func (a *Authenticator) AuthenticateRequest(ctx context.Context, authorization, source string,
	chains [][]*x509.Certificate) (Principal, error) {
	if len(chains) == 0 {
		return a.Authenticate(ctx, authorization, source)
	}
	if authorization == "" {
		return a.AuthenticateCertificate(ctx, chains)
	}
	p, err := a.Authenticate(ctx, authorization, source)
	if err != nil {
		return Principal{}, err
	}
	cp, mapped, err := a.certificate(ctx, chains)
	var ae *AuthError
	switch {
	case err == nil && cp.UserID == p.UserID:
		return p, nil
	case err == nil:
		leaf, issuers := clientCertificate(chains)
		r := certRefusal("certificate and credentials stand for different users", leaf, issuers)
		r.UserName = p.UserName
		return Principal{}, r
	case !mapped:
		return p, nil
	case errors.As(err, &ae):
		ae.UserName = p.UserName
		return Principal{}, ae
	}
	return Principal{}, err
}

func principalOf(u User, tokenID string) Principal {
	return Principal{UserID: u.ID, UserName: u.Name, OrganizationID: u.OrganizationID, Role: u.Role, TokenID: tokenID}
}

// touch notes a use of a token; touchLoop writes the notes in batches.
func (a *Authenticator) touch(id string, now time.Time) {
	a.touchMu.Lock()
	a.touched[id] = now
	a.touchMu.Unlock()
}

func (a *Authenticator) touchLoop(interval time.Duration) {
	defer close(a.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.flushTouches()
		}
	}
}

// flushTouches writes the pending last-used times. On failure they are
// kept for the next round (unless newer ones arrived).
func (a *Authenticator) flushTouches() {
	a.touchMu.Lock()
	batch := a.touched
	a.touched = make(map[string]time.Time)
	a.touchMu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.store.TouchTokens(ctx, batch); err != nil {
		a.log.Warn("authz: write token last-used times", "err", err)
		a.touchMu.Lock()
		for id, at := range batch {
			if _, newer := a.touched[id]; !newer {
				a.touched[id] = at
			}
		}
		a.touchMu.Unlock()
	}
}

// Close stops the background writer after writing the pending last-used
// times. Safe to call more than once.
func (a *Authenticator) Close() error {
	a.once.Do(func() {
		close(a.stop)
		<-a.done
		a.flushTouches()
	})
	return nil
}

// verdictCache holds verdicts of one generation; a lookup or insert with
// another generation empties it.
type verdictCache struct {
	mu  sync.RWMutex
	gen int64
	max int
	m   map[[32]byte]verdict
}

func (c *verdictCache) get(k [32]byte, gen int64, now time.Time) (verdict, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || v.gen != gen || gen < 0 || !now.Before(v.expires) {
		return verdict{}, false
	}
	return v, true
}

func (c *verdictCache) put(k [32]byte, v verdict, now time.Time) {
	if v.gen < 0 {
		return // the watcher has not seen the store yet, or a reload failed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v.gen != c.gen {
		if v.gen < c.gen {
			return // verified under an older generation than cached ones
		}
		clear(c.m)
		c.gen = v.gen
	}
	if len(c.m) >= c.max {
		for k, old := range c.m {
			if !now.Before(old.expires) {
				delete(c.m, k)
			}
		}
		for k := range c.m { // still full: drop arbitrary entries
			if len(c.m) < c.max*9/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[k] = v
}
