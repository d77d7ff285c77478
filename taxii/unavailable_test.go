package taxii_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/authz/authztest"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/taxii"
)

// outage stands between a server and its store and plays the store's
// server going away: while down, the calls fail as those of a store whose
// server is unreachable do (collections.ErrUnavailable); while policyDown,
// only the reads of the access policy do; while hung, Ping waits for its
// deadline. A fake: the embedded store cannot be made unreachable on
// demand (the MongoDB outage itself is played in cmd/taxiid's tests).
type outage struct {
	*sqlite.Store
	down, policyDown, hung atomic.Bool
}

func (o *outage) err() error {
	if o.down.Load() {
		return fmt.Errorf("fake driver: %w: server selection timeout, no server at 10.0.0.1:27017", collections.ErrUnavailable)
	}
	return nil
}

func (o *outage) policyErr() error {
	if o.policyDown.Load() {
		return fmt.Errorf("fake driver: %w: connection reset", collections.ErrUnavailable)
	}
	return o.err()
}

func (o *outage) Ping(ctx context.Context) error {
	if o.hung.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if err := o.err(); err != nil {
		return err
	}
	return o.Store.Ping(ctx)
}

func (o *outage) APIRoots(ctx context.Context) ([]collections.APIRoot, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.Store.APIRoots(ctx)
}

func (o *outage) Collections(ctx context.Context, apiRoot string) ([]collections.Collection, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.Store.Collections(ctx, apiRoot)
}

func (o *outage) Collection(ctx context.Context, apiRoot, id string) (collections.Collection, error) {
	if err := o.err(); err != nil {
		return collections.Collection{}, err
	}
	return o.Store.Collection(ctx, apiRoot, id)
}

func (o *outage) AddObjects(ctx context.Context, apiRoot, coll string, objs []collections.NewObject, opts collections.AddOptions) ([]collections.AddResult, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.Store.AddObjects(ctx, apiRoot, coll, objs, opts)
}

func (o *outage) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	if err := o.err(); err != nil {
		return collections.Page{}, err
	}
	return o.Store.Objects(ctx, q)
}

func (o *outage) CreateStatus(ctx context.Context, s collections.Status) error {
	if err := o.err(); err != nil {
		return err
	}
	return o.Store.CreateStatus(ctx, s)
}

func (o *outage) Status(ctx context.Context, apiRoot, id string) (collections.Status, error) {
	if err := o.err(); err != nil {
		return collections.Status{}, err
	}
	return o.Store.Status(ctx, apiRoot, id)
}

func (o *outage) UserByName(ctx context.Context, name string) (authz.User, error) {
	if err := o.err(); err != nil {
		return authz.User{}, err
	}
	return o.Store.UserByName(ctx, name)
}

func (o *outage) User(ctx context.Context, id string) (authz.User, error) {
	if err := o.err(); err != nil {
		return authz.User{}, err
	}
	return o.Store.User(ctx, id)
}

func (o *outage) TokenByHash(ctx context.Context, hash string) (authz.Token, error) {
	if err := o.err(); err != nil {
		return authz.Token{}, err
	}
	return o.Store.TokenByHash(ctx, hash)
}

func (o *outage) Organizations(ctx context.Context, f authz.ListFilter) ([]authz.Organization, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.Store.Organizations(ctx, f)
}

func (o *outage) Users(ctx context.Context, f authz.UserFilter) ([]authz.User, error) {
	if err := o.policyErr(); err != nil {
		return nil, err
	}
	return o.Store.Users(ctx, f)
}

func (o *outage) Grants(ctx context.Context, f authz.GrantFilter) ([]authz.Grant, error) {
	if err := o.policyErr(); err != nil {
		return nil, err
	}
	return o.Store.Grants(ctx, f)
}

func (o *outage) Generation(ctx context.Context) (int64, error) {
	if err := o.err(); err != nil {
		return 0, err
	}
	return o.Store.Generation(ctx)
}

// outageEnv is a server with access control whose store an outage stands
// in front of, with one member of an organization granted the collection
// collID, signed in by password and by token.
type outageEnv struct {
	*env
	o       *outage
	watcher *authz.Watcher
	user    authz.User
	token   string
}

const outagePassword = "alice's password"

func newOutageEnv(t *testing.T) *outageEnv {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "taxiid.db"))
	must(t, err)
	t.Cleanup(func() { store.Close() })
	o := &outage{Store: store}
	must(t, store.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}))
	must(t, store.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: collID, Title: "Main"}))
	org, err := store.CreateOrganization(ctx, authz.Organization{Name: "A"})
	must(t, err)
	hash, err := authz.HashPassword(outagePassword, authztest.CheapPasswords)
	must(t, err)
	// An org-admin, so that the admin API has something to answer too.
	user, err := store.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: org.ID, Role: authz.RoleOrgAdmin, PasswordHash: hash})
	must(t, err)
	for _, act := range []authz.Action{authz.ActionRead, authz.ActionWrite} {
		_, err = store.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(org.ID), APIRoot: "api1", Collection: collID, Action: act})
		must(t, err)
	}
	secret, thash, prefix, err := authz.NewTokenSecret()
	must(t, err)
	_, err = store.CreateToken(ctx, authz.Token{UserID: user.ID, Name: "ci", Hash: thash, Prefix: prefix})
	must(t, err)

	logger := slog.New(slog.DiscardHandler)
	watcher := authz.NewWatcher(o, time.Hour, logger) // refreshed by the test
	az, err := authz.NewAuthorizer(o, watcher, logger)
	must(t, err)
	authn, err := authz.NewAuthenticator(authz.AuthenticatorConfig{
		Store: o, Watcher: watcher, Log: logger, PasswordParams: authztest.CheapPasswords,
		Throttle: authz.ThrottleConfig{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	})
	must(t, err)
	must(t, watcher.Start(ctx))
	admin, err := authz.NewAdmin(authz.AdminConfig{Store: o, Collections: o, Refresh: watcher.Refresh,
		Passwords: authztest.CheapPasswords, Log: logger})
	must(t, err)
	ing := collections.NewIngester(o, newValidator(t), collections.IngestConfig{Logger: logger})
	srv, err := taxii.New(ctx, taxii.Config{
		Store: o, Ingester: ing, Authorizer: az, Authenticator: authn, Admin: admin, Logger: logger,
		Ready: o.Ping, ReadyTimeout: 200 * time.Millisecond,
	})
	must(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		ing.Wait()
		watcher.Close()
		authn.Close()
	})
	return &outageEnv{
		env: &env{t: t, url: hs.URL, store: o, srv: srv},
		o:   o, watcher: watcher, user: user, token: secret,
	}
}

// outageRequest is one request of TestStoreUnavailable.
type outageRequest struct {
	name        string
	method      string
	path        string
	auth        string // Authorization header
	body        []byte
	taxii       bool // a TAXII route: its errors are TAXII error resources
	wantWhileUp int  // status once the store answers
}

func (e *outageEnv) requests() []outageRequest {
	password := basicAuth("alice", outagePassword)
	push, _ := json.Marshal(envelope(obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", "2021-01-01T00:00:00.000Z")))
	return []outageRequest{
		{"objects, credentials verified before", "GET", objects, password, nil, true, http.StatusOK},
		{"push", "POST", objects, password, push, true, http.StatusAccepted},
		{"collections", "GET", "/api1/collections/", password, nil, true, http.StatusOK},
		{"discovery", "GET", "/taxii2/", password, nil, true, http.StatusOK},
		// The store cannot say whether these credentials are good: not a 401.
		{"token not verified yet", "GET", objects, "Bearer " + e.token, nil, true, http.StatusOK},
		{"wrong password", "GET", objects, basicAuth("alice", "guess"), nil, true, http.StatusUnauthorized},
		{"unknown user", "GET", objects, basicAuth("mallory", "guess"), nil, true, http.StatusUnauthorized},
		{"admin API", "GET", "/admin/users", password, nil, false, http.StatusOK},
		{"readiness", "GET", "/readyz", "", nil, false, http.StatusOK},
	}
}

// send sends rq and checks, when the store is unavailable (want 503), the
// answer a client can act on: 503, Retry-After, and an error resource
// (TAXII or the operations routes' JSON) that says the store is
// unavailable without quoting it.
func (e *outageEnv) send(t *testing.T, rq outageRequest, want int) {
	t.Helper()
	hdr := map[string]string{"Authorization": rq.auth}
	if !rq.taxii {
		hdr["Accept"] = "application/json"
	}
	r := e.raw(rq.method, rq.path, hdr, rq.body)
	if r.status != want {
		t.Fatalf("%s %s = %d; want %d\n%s", rq.method, rq.path, r.status, want, r.raw)
	}
	if want != http.StatusServiceUnavailable {
		return
	}
	if got := r.header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q; want %q", got, "5")
	}
	if got := r.header.Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate = %q; want none", got)
	}
	description, _ := r.body["description"].(string)
	wantType := taxii.MediaTypeTAXII
	if rq.taxii {
		r.wantError(t, http.StatusServiceUnavailable)
	} else {
		wantType = "application/json"
		description, _ = r.body["error"].(string)
	}
	if got := r.header.Get("Content-Type"); got != wantType {
		t.Errorf("Content-Type = %q; want %q", got, wantType)
	}
	if !strings.Contains(description, "store") || !strings.Contains(description, "not") {
		t.Errorf("error %q does not say that the store does not answer", description)
	}
	for _, leak := range []string{"fake", "driver", "10.0.0.1", "selection", "reset"} {
		if strings.Contains(string(r.raw), leak) {
			t.Errorf("error quotes the store's failure (%q): %s", leak, r.raw)
		}
	}
}

// TestStoreUnavailable: while the store does not answer, every request
// that needs it, its authentication included, is answered 503 with
// Retry-After and an error resource saying so (never a 401, 403, 404 or
// 500); /readyz says not ready; /healthz still answers. When the store
// answers again, the same requests are served with nothing else done:
// no failure was remembered.
func TestStoreUnavailable(t *testing.T) {
	e := newOutageEnv(t)
	reqs := e.requests()
	// Verify the password before the outage, as a client already at work.
	e.send(t, reqs[0], http.StatusOK)

	e.o.down.Store(true)
	for _, rq := range reqs {
		t.Run("down/"+rq.name, func(t *testing.T) { e.send(t, rq, http.StatusServiceUnavailable) })
	}
	if r := e.raw("GET", "/healthz", nil, nil); r.status != http.StatusOK {
		t.Errorf("GET /healthz while the store is down = %d; want 200", r.status)
	}

	e.o.down.Store(false)
	for _, rq := range reqs {
		t.Run("up/"+rq.name, func(t *testing.T) { e.send(t, rq, rq.wantWhileUp) })
	}
}

// TestPolicyUnavailable: when the access policy could not be loaded
// because the store did not answer, requests get 503, not the denials of
// an empty policy (403, or 404 for collections that exist); once a reload
// succeeds they are served again.
func TestPolicyUnavailable(t *testing.T) {
	e := newOutageEnv(t)
	reqs := e.requests()
	e.send(t, reqs[0], http.StatusOK)

	// A change moves the policy generation; its reload fails.
	_, err := e.o.Store.CreateOrganization(context.Background(), authz.Organization{Name: "B"})
	must(t, err)
	e.o.policyDown.Store(true)
	if err := e.watcher.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh succeeded while the policy could not be read")
	}
	for _, rq := range reqs[:4] {
		t.Run("down/"+rq.name, func(t *testing.T) { e.send(t, rq, http.StatusServiceUnavailable) })
	}

	e.o.policyDown.Store(false)
	must(t, e.watcher.Refresh(context.Background()))
	for _, rq := range reqs[:4] {
		t.Run("up/"+rq.name, func(t *testing.T) { e.send(t, rq, rq.wantWhileUp) })
	}
}

// TestReadyzDeadline: a store that does not answer within the readiness
// deadline reads as not ready, without the probe waiting for the store.
func TestReadyzDeadline(t *testing.T) {
	e := newOutageEnv(t)
	e.o.hung.Store(true)
	r := e.raw("GET", "/readyz", map[string]string{"Accept": "application/json"}, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("GET /readyz with a store that hangs = %d, Retry-After %q; want 503 with Retry-After\n%s",
			r.status, r.header.Get("Retry-After"), r.raw)
	}
	e.o.hung.Store(false)
	r = e.raw("GET", "/readyz", map[string]string{"Accept": "application/json"}, nil)
	if r.status != http.StatusOK || r.body["status"] != "ready" {
		t.Errorf("GET /readyz = %d %s; want 200 {\"status\":\"ready\"}", r.status, r.raw)
	}
}
