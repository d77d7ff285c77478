package taxii_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/authz/authztest"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/taxii"
)

// The hub's API roots and collections. api1 holds collections of both
// organizations and a public one; api2 is reachable by B only; dark has a
// collection nobody was granted; empty has no collection at all.
const (
	collA      = "0a000000-0000-4000-8000-00000000000a" // A reads and writes
	collB      = "0b000000-0000-4000-8000-00000000000b" // B reads and writes
	collAR     = "0a000000-0000-4000-8000-0000000000a1" // A reads only
	collAW     = "0a000000-0000-4000-8000-0000000000a2" // A writes only
	collPublic = "0c000000-0000-4000-8000-00000000000c" // everyone reads, B writes
	collB2     = "0b000000-0000-4000-8000-0000000000b2" // in api2; B reads and writes
	collDark   = "0d000000-0000-4000-8000-00000000000d" // in dark; nobody but admins
)

// Passwords of the hub's users: their names with a suffix.
func password(user string) string { return user + " secret password" }

// hub is a taxiid server with access control on a real listener, and what
// one taxiid process holds besides: the watcher, the authenticator and the
// audit log.
type hub struct {
	*env
	store   *sqlite.Store
	watcher *authz.Watcher
	az      *authz.Authorizer
	authn   *authz.Authenticator
	audit   *authz.AuditLog // nil unless hubOptions.audit
	orgs    map[string]authz.Organization
	users   map[string]authz.User
	tokens  map[string]string // user name -> token secret
	tls     *httptest.Server  // with hubOptions.clientCAs
}

type hubOptions struct {
	audit bool
	// clientCAs, when set, serve the hub over TLS asking for client
	// certificates of these CAs, which stand for the users their
	// identities are bound to; url is then https and h.tls is the server.
	clientCAs *x509.CertPool
	log       io.Writer // the server's log; nil: discarded
	// rateLimits, when set, configures a rate limiter of the server and
	// of its authenticator (failed sign-ins).
	rateLimits *taxii.RateLimitConfig
	// hubIdentity is the server's Config.HubIdentity.
	hubIdentity string
	// trustedProxies are the peers whose X-Forwarded-For is believed.
	trustedProxies []netip.Prefix
	// webhooks, when set, serves webhook subscriptions whose URLs it
	// checks.
	webhooks *webhook.Guard
}

// newHub starts a hub whose organizations A and B each have a member
// (alice, bob) and A an org-admin (olga); C has a member without any grant
// (carl); operators has the admin (root).
// Every user has a password (password(name)) and a token.
func newHub(t *testing.T, opts hubOptions) *hub {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, r := range []struct {
		path string
		cols []string
	}{
		{"api1", []string{collA, collB, collAR, collAW, collPublic}},
		{"api2", []string{collB2}},
		{"dark", []string{collDark}},
		{"empty", nil},
	} {
		must(t, store.PutAPIRoot(ctx, collections.APIRoot{Path: r.path, Title: r.path, MaxContentLength: 1 << 20}))
		for _, id := range r.cols {
			must(t, store.PutCollection(ctx, collections.Collection{APIRoot: r.path, ID: id, Title: "collection " + id[:2]}))
		}
	}
	h := &hub{store: store, orgs: map[string]authz.Organization{}, users: map[string]authz.User{}, tokens: map[string]string{}}
	for _, name := range []string{"A", "B", "C", "operators"} {
		o, err := store.CreateOrganization(ctx, authz.Organization{Name: name})
		must(t, err)
		h.orgs[name] = o
	}
	for _, u := range []struct {
		name, org string
		role      authz.Role
	}{
		{"alice", "A", authz.RoleMember},
		{"olga", "A", authz.RoleOrgAdmin},
		{"bob", "B", authz.RoleMember},
		{"carl", "C", authz.RoleMember},
		{"root", "operators", authz.RoleAdmin},
	} {
		hash, err := authz.HashPassword(password(u.name), authztest.CheapPasswords)
		must(t, err)
		user, err := store.CreateUser(ctx, authz.User{Name: u.name, OrganizationID: h.orgs[u.org].ID, Role: u.role, PasswordHash: hash})
		must(t, err)
		h.users[u.name] = user
		h.tokens[u.name] = h.newToken(t, u.name, "ci", time.Time{})
	}
	for _, g := range []struct {
		sub  authz.Subject
		root string
		coll string
		act  authz.Action
	}{
		{authz.OrganizationSubject(h.orgs["A"].ID), "api1", collA, authz.ActionRead},
		{authz.OrganizationSubject(h.orgs["A"].ID), "api1", collA, authz.ActionWrite},
		{authz.OrganizationSubject(h.orgs["B"].ID), "api1", collB, authz.ActionRead},
		{authz.OrganizationSubject(h.orgs["B"].ID), "api1", collB, authz.ActionWrite},
		{authz.OrganizationSubject(h.orgs["A"].ID), "api1", collAR, authz.ActionRead},
		{authz.OrganizationSubject(h.orgs["A"].ID), "api1", collAW, authz.ActionWrite},
		{authz.Public, "api1", collPublic, authz.ActionRead},
		{authz.OrganizationSubject(h.orgs["B"].ID), "api1", collPublic, authz.ActionWrite},
		{authz.OrganizationSubject(h.orgs["B"].ID), "api2", collB2, authz.ActionRead},
		{authz.OrganizationSubject(h.orgs["B"].ID), "api2", collB2, authz.ActionWrite},
	} {
		_, err := store.CreateGrant(ctx, authz.Grant{Subject: g.sub, APIRoot: g.root, Collection: g.coll, Action: g.act})
		must(t, err)
	}

	logger := slog.New(slog.DiscardHandler)
	if opts.log != nil {
		logger = slog.New(slog.NewTextHandler(opts.log, nil))
	}
	h.watcher = authz.NewWatcher(store, time.Hour, logger) // changes are applied with Refresh, as the admin API does
	az, err := authz.NewAuthorizer(store, h.watcher, logger)
	must(t, err)
	h.az = az
	ac := authz.AuthenticatorConfig{
		Store: store, Watcher: h.watcher, Log: logger, PasswordParams: authztest.CheapPasswords,
		Throttle: authz.ThrottleConfig{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	}
	if opts.clientCAs != nil {
		ac.Certificates = authz.NewCertificateMapper(store)
	}
	var limiter *taxii.RateLimiter
	if opts.rateLimits != nil {
		rc := *opts.rateLimits
		rc.Orgs, rc.Logger = store, logger
		limiter, err = taxii.NewRateLimiter(rc)
		must(t, err)
		ac.Admission = limiter
	}
	h.authn, err = authz.NewAuthenticator(ac)
	must(t, err)
	if opts.audit {
		h.audit, err = authz.NewAuditLog(authz.AuditLogConfig{Store: store, Log: logger})
		must(t, err)
	}
	must(t, h.watcher.Start(ctx))
	ing := collections.NewIngester(store, newValidator(t), collections.IngestConfig{Logger: logger})
	admin, err := authz.NewAdmin(authz.AdminConfig{Store: store, Collections: store, Refresh: h.watcher.Refresh,
		Passwords: authztest.CheapPasswords, Log: logger})
	must(t, err)
	var hooks *webhook.Service
	if opts.webhooks != nil {
		key, err := store.Secret(ctx, webhook.SealKeyName, webhook.NewSealKey)
		must(t, err)
		sealer, err := webhook.NewSealer(key)
		must(t, err)
		hooks = &webhook.Service{Store: store, Objects: store, Sealer: sealer, Guard: opts.webhooks, Access: taxii.WebhookAccess(az)}
	}
	srv, err := taxii.New(ctx, taxii.Config{
		Store: store, Ingester: ing, Authorizer: az, Authenticator: h.authn, Audit: h.audit,
		Title: "hub", DefaultAPIRoot: "api1", Logger: logger, Admin: admin, RateLimiter: limiter, Grants: store,
		TrustedProxies: opts.trustedProxies, HubIdentity: opts.hubIdentity, Webhooks: hooks,
	})
	must(t, err)
	hs := httptest.NewUnstartedServer(srv)
	if opts.clientCAs != nil {
		hs.TLS = &tls.Config{ClientCAs: opts.clientCAs, ClientAuth: tls.VerifyClientCertIfGiven}
		hs.StartTLS()
		h.tls = hs
	} else {
		hs.Start()
	}
	t.Cleanup(func() {
		hs.Close()
		ing.Wait()
		h.watcher.Close()
		h.authn.Close()
		if h.audit != nil {
			h.audit.Close()
		}
	})
	h.env = &env{t: t, url: hs.URL, store: store, srv: srv}
	return h
}

// newToken stores a token of the user and returns its secret.
func (h *hub) newToken(t *testing.T, user, name string, expires time.Time) string {
	t.Helper()
	secret, hash, prefix, err := authz.NewTokenSecret()
	must(t, err)
	_, err = h.store.CreateToken(context.Background(), authz.Token{UserID: h.users[user].ID, Name: name, Hash: hash, Prefix: prefix, ExpiresAt: expires})
	must(t, err)
	return secret
}

// refresh applies the changes made to the store in this process at once,
// as the admin API does after each change.
func (h *hub) refresh(t *testing.T) {
	t.Helper()
	must(t, h.watcher.Refresh(context.Background()))
}

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// as returns the request headers of a user signing in with its password
// ("" for anonymous).
func as(user string) map[string]string {
	if user == "" {
		return nil
	}
	return map[string]string{"Authorization": basicAuth(user, password(user))}
}

// wantChallenge checks a 401 error resource with the Basic challenge.
func (r response) wantChallenge(t *testing.T) {
	t.Helper()
	r.wantError(t, http.StatusUnauthorized)
	if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="taxiid"` {
		t.Errorf("WWW-Authenticate = %q; want %q", got, `Basic realm="taxiid"`)
	}
}

// allowAll lets every requester read and write every collection: the
// server tests that are not about access control run with it.
type allowAll struct{}

func (allowAll) CanRead(context.Context, string, string) bool  { return true }
func (allowAll) CanWrite(context.Context, string, string) bool { return true }
func (allowAll) ReadConditions(context.Context, string, string) (authz.Conditions, bool) {
	return authz.Conditions{}, true
}

// TestAuthentication: each way of presenting credentials, good and bad,
// on a collection only organization A may read.
func TestAuthentication(t *testing.T) {
	h := newHub(t, hubOptions{})
	path := "/api1/collections/" + collA + "/"
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{"none", "", http.StatusUnauthorized},
		{"basic", basicAuth("alice", password("alice")), http.StatusOK},
		{"basic of another organization", basicAuth("bob", password("bob")), http.StatusNotFound},
		{"basic, wrong password", basicAuth("alice", password("bob")), http.StatusUnauthorized},
		{"basic, unknown user", basicAuth("mallory", password("alice")), http.StatusUnauthorized},
		{"basic, not base64", "Basic alice:password", http.StatusUnauthorized},
		{"bearer", "Bearer " + h.tokens["alice"], http.StatusOK},
		{"token, as taxii2-client sends it", "Token " + h.tokens["alice"], http.StatusOK},
		{"bearer, scheme in lower case", "bearer " + h.tokens["alice"], http.StatusOK},
		{"bearer, unknown token", "Bearer " + h.tokens["alice"][:20] + "0000000000000000000000000000000000000", http.StatusUnauthorized},
		{"bearer, a password", "Bearer " + password("alice"), http.StatusUnauthorized},
		{"unknown scheme", "Digest username=alice", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("GET", path, map[string]string{"Authorization": tc.header}, nil)
			if tc.want == http.StatusUnauthorized {
				r.wantChallenge(t)
				return
			}
			if r.status != tc.want {
				t.Fatalf("GET %s with %q = %d; want %d\n%s", path, tc.header, r.status, tc.want, r.raw)
			}
			if tc.want == http.StatusOK && r.body["id"] != collA {
				t.Errorf("collection = %s", r.raw)
			}
		})
	}

	t.Run("two Authorization headers", func(t *testing.T) {
		req, err := http.NewRequest("GET", h.url+path, nil)
		must(t, err)
		req.Header.Set("Accept", taxii.MediaTypeTAXII)
		req.Header.Add("Authorization", basicAuth("alice", password("alice")))
		req.Header.Add("Authorization", "Bearer "+h.tokens["alice"])
		resp, err := client.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status = %d; want 401", resp.StatusCode)
		}
	})

	// The operations routes are behind the same middleware and answer
	// their own JSON errors; health stays open whatever the credentials.
	wrong := map[string]string{"Authorization": basicAuth("alice", "wrong")}
	r := h.raw("GET", "/admin/no-such-route", wrong, nil)
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != `Basic realm="taxiid"` || r.body["error"] == nil {
		t.Errorf("GET /admin/no-such-route with wrong credentials = %d %v %s; want a 401 JSON error with the challenge",
			r.status, r.header.Get("WWW-Authenticate"), r.raw)
	}
	if r := h.raw("GET", "/admin/no-such-route", as("alice"), nil); r.status != http.StatusNotFound {
		t.Errorf("GET /admin/no-such-route as alice = %d; want 404\n%s", r.status, r.raw)
	}
	for _, hdr := range []map[string]string{nil, wrong} {
		if r := h.raw("GET", "/healthz", hdr, nil); r.status != http.StatusOK {
			t.Errorf("GET /healthz with %v = %d; want 200", hdr, r.status)
		}
	}
}

// TestCredentialChangesApplyAtOnce: a change made through the admin API
// voids the credentials it concerns on the very next request to the same
// process, though they were verified (and their verdict cached) just
// before; an expiring token fails as soon as it expires.
func TestCredentialChangesApplyAtOnce(t *testing.T) {
	ctx := context.Background()
	path := "/api1/collections/" + collA + "/"
	// admin makes a change as root, through the admin API.
	admin := func(t *testing.T, h *hub, method, path string, body any) {
		t.Helper()
		var b []byte
		if body != nil {
			b = mustJSON(t, body)
		}
		if r := h.adminRequest(method, path, as("root"), b); r.status >= 300 {
			t.Fatalf("%s %s = %d\n%s", method, path, r.status, r.raw)
		}
	}
	tokenID := func(t *testing.T, h *hub, secret string) string {
		tok, err := h.store.TokenByHash(ctx, authz.TokenHash(secret))
		must(t, err)
		return tok.ID
	}
	for _, tc := range []struct {
		name string
		// change voids the credentials returned by setup.
		setup  func(t *testing.T, h *hub) string
		change func(t *testing.T, h *hub)
		// still are credentials that keep working after the change.
		still func(h *hub) string
	}{
		{
			name:  "revoked token",
			setup: func(t *testing.T, h *hub) string { return "Bearer " + h.tokens["alice"] },
			change: func(t *testing.T, h *hub) {
				admin(t, h, "POST", "/admin/users/"+h.users["alice"].ID+"/tokens/"+tokenID(t, h, h.tokens["alice"])+"/revoke", nil)
			},
			still: func(h *hub) string { return basicAuth("alice", password("alice")) },
		},
		{
			name: "expired token",
			setup: func(t *testing.T, h *hub) string {
				return "Token " + h.newToken(t, "alice", "short", time.Now().Add(300*time.Millisecond))
			},
			change: func(t *testing.T, h *hub) { time.Sleep(400 * time.Millisecond) },
			still:  func(h *hub) string { return "Token " + h.tokens["alice"] },
		},
		{
			name:  "deleted user, password",
			setup: func(t *testing.T, h *hub) string { return basicAuth("alice", password("alice")) },
			change: func(t *testing.T, h *hub) {
				admin(t, h, "DELETE", "/admin/users/"+h.users["alice"].ID, nil)
			},
			still: func(h *hub) string { return basicAuth("olga", password("olga")) },
		},
		{
			name:  "deleted user, token",
			setup: func(t *testing.T, h *hub) string { return "Bearer " + h.tokens["alice"] },
			change: func(t *testing.T, h *hub) {
				admin(t, h, "DELETE", "/admin/users/"+h.users["alice"].ID, nil)
			},
			still: func(h *hub) string { return "Bearer " + h.tokens["olga"] },
		},
		{
			name:  "changed password",
			setup: func(t *testing.T, h *hub) string { return basicAuth("alice", password("alice")) },
			change: func(t *testing.T, h *hub) {
				admin(t, h, "POST", "/admin/users/"+h.users["alice"].ID+"/password", map[string]any{"password": "a new password"})
			},
			still: func(h *hub) string { return basicAuth("alice", "a new password") },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t, hubOptions{})
			creds := tc.setup(t, h)
			if r := h.do("GET", path, map[string]string{"Authorization": creds}, nil); r.status != http.StatusOK {
				t.Fatalf("before the change: status = %d; want 200\n%s", r.status, r.raw)
			}
			tc.change(t, h)
			h.do("GET", path, map[string]string{"Authorization": creds}, nil).wantChallenge(t)
			if r := h.do("GET", path, map[string]string{"Authorization": tc.still(h)}, nil); r.status != http.StatusOK {
				t.Errorf("other credentials after the change: status = %d; want 200\n%s", r.status, r.raw)
			}
		})
	}
}

// auditEntry is what the tests compare of an audit event.
type auditEntry struct {
	Action, User, Org, Root, Coll, RequestID string
	Details                                  map[string]any
}

// auditTrail closes the hub's audit log (writing what it queued) and
// returns the events, oldest first, without their ids and times.
func (h *hub) auditTrail(t *testing.T) []auditEntry {
	t.Helper()
	must(t, h.audit.Close())
	events, err := h.store.AuditEvents(context.Background(), authz.AuditFilter{Limit: authz.MaxListLimit})
	must(t, err)
	slices.Reverse(events)
	var out []auditEntry
	for _, e := range events {
		if e.SourceAddress != "127.0.0.1" {
			t.Errorf("event %s: source address %q; want 127.0.0.1", e.Action, e.SourceAddress)
		}
		if e.Time.IsZero() {
			t.Errorf("event %s has no time", e.Action)
		}
		var d map[string]any
		if len(e.Details) > 0 {
			must(t, json.Unmarshal(e.Details, &d))
		}
		out = append(out, auditEntry{e.Action, e.UserName, e.OrganizationID, e.APIRoot, e.Collection, e.RequestID, d})
	}
	return out
}

// TestAudit: refused credentials, denied requests, pushes, reads and
// deletions are recorded with who, which organization, which collection
// and which request.
func TestAudit(t *testing.T) {
	h := newHub(t, hubOptions{audit: true})
	a, b := h.orgs["A"].ID, h.orgs["B"].ID
	id := func(r response) string { return r.header.Get("X-Request-Id") }
	objPath := "/api1/collections/" + collA + "/objects/"
	ind := obj("indicator", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "2021-01-01T00:00:00.000Z")
	var want []auditEntry

	r := h.do("GET", objPath, map[string]string{"Authorization": basicAuth("alice", "wrong")}, nil)
	want = append(want, auditEntry{"authn.failure", "alice", "", "", "", id(r),
		map[string]any{"scheme": "basic", "reason": "wrong password"}})

	r = h.do("POST", objPath, as("alice"), mustJSON(t, envelope(ind, map[string]any{"type": "indicator"})))
	if r.status != http.StatusAccepted {
		t.Fatalf("push = %d\n%s", r.status, r.raw)
	}
	want = append(want, auditEntry{"objects.add", "alice", a, "api1", collA, id(r),
		map[string]any{"status": r.body["id"], "total": 2.0, "successes": 1.0, "failures": 1.0, "pending": 0.0}})

	r = h.do("GET", objPath, map[string]string{"Authorization": "Bearer " + h.tokens["alice"]}, nil)
	want = append(want, auditEntry{"objects.read", "alice", a, "api1", collA, id(r),
		map[string]any{"endpoint": "objects", "served": 1.0}})

	r = h.do("GET", "/api1/collections/"+collA+"/manifest/", as("alice"), nil)
	want = append(want, auditEntry{"objects.read", "alice", a, "api1", collA, id(r),
		map[string]any{"endpoint": "manifest", "served": 1.0}})

	r = h.do("GET", objPath, as("bob"), nil)
	r.wantError(t, http.StatusNotFound)
	want = append(want, auditEntry{"authz.denied", "bob", b, "api1", collA, id(r),
		map[string]any{"status": 404.0, "endpoint": "objects", "reason": "no grant"}})

	r = h.do("POST", "/api1/collections/"+collAR+"/objects/", as("alice"), mustJSON(t, envelope(ind)))
	r.wantError(t, http.StatusForbidden)
	want = append(want, auditEntry{"authz.denied", "alice", a, "api1", collAR, id(r),
		map[string]any{"status": 403.0, "endpoint": "add-objects", "reason": "no write grant"}})

	r = h.do("GET", objPath, nil, nil)
	r.wantChallenge(t)
	want = append(want, auditEntry{"authz.denied", "", "", "api1", collA, id(r),
		map[string]any{"status": 401.0, "endpoint": "objects", "reason": "no grant"}})

	r = h.do("DELETE", objPath+"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f/", as("alice"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("delete = %d\n%s", r.status, r.raw)
	}
	want = append(want, auditEntry{"objects.delete", "alice", a, "api1", collA, id(r),
		map[string]any{"object": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "versions_deleted": 1.0}})

	// Public reads are audited too, without a principal.
	r = h.do("GET", "/api1/collections/"+collPublic+"/objects/", nil, nil)
	want = append(want, auditEntry{"objects.read", "", "", "api1", collPublic, id(r),
		map[string]any{"endpoint": "objects", "served": 0.0}})

	if diff := cmp.Diff(want, h.auditTrail(t)); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
}
