package authz_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/sqlite"
)

// openStore opens the embedded store at path (a new one in a temporary
// directory when path is empty).
func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "taxiid.db")
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// process is what one taxiid process holds: a store handle, a watcher, an
// authorizer and an authenticator.
type process struct {
	store *sqlite.Store
	w     *authz.Watcher
	az    *authz.Authorizer
	an    *authz.Authenticator
}

func startProcess(t testing.TB, s *sqlite.Store, interval time.Duration) *process {
	t.Helper()
	w := authz.NewWatcher(s, interval, nil)
	az, err := authz.NewAuthorizer(s, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	an, err := authz.NewAuthenticator(authz.AuthenticatorConfig{Store: s, Watcher: w,
		PasswordParams: cheap, Throttle: authz.ThrottleConfig{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Close()
		an.Close()
	})
	return &process{store: s, w: w, az: az, an: an}
}

// refresh makes the process see its own changes at once.
func (p *process) refresh(t testing.TB) {
	t.Helper()
	if err := p.w.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	t     testing.TB
	s     authz.Store
	orgs  map[string]authz.Organization
	users map[string]authz.User
}

func newFixture(t testing.TB, s authz.Store) *fixture {
	return &fixture{t: t, s: s, orgs: map[string]authz.Organization{}, users: map[string]authz.User{}}
}

func (f *fixture) org(name string) authz.Organization {
	f.t.Helper()
	o, err := f.s.CreateOrganization(context.Background(), authz.Organization{Name: name})
	if err != nil {
		f.t.Fatal(err)
	}
	f.orgs[name] = o
	return o
}

func (f *fixture) user(name, org string, role authz.Role, password string) authz.User {
	f.t.Helper()
	u := authz.User{Name: name, OrganizationID: f.orgs[org].ID, Role: role}
	if password != "" {
		h, err := authz.HashPassword(password, cheap)
		if err != nil {
			f.t.Fatal(err)
		}
		u.PasswordHash = h
	}
	u, err := f.s.CreateUser(context.Background(), u)
	if err != nil {
		f.t.Fatal(err)
	}
	f.users[name] = u
	return u
}

func (f *fixture) grant(sub authz.Subject, root, coll string, acts ...authz.Action) []authz.Grant {
	f.t.Helper()
	var out []authz.Grant
	for _, act := range acts {
		g, err := f.s.CreateGrant(context.Background(), authz.Grant{Subject: sub, APIRoot: root, Collection: coll, Action: act})
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

func (f *fixture) principal(name string) authz.Principal {
	u, ok := f.users[name]
	if !ok {
		return authz.Principal{} // anonymous
	}
	return authz.Principal{UserID: u.ID, UserName: u.Name, OrganizationID: u.OrganizationID, Role: u.Role}
}

const (
	cA      = "a0000000-0000-4000-8000-000000000001" // A reads and writes
	cB      = "b0000000-0000-4000-8000-000000000002" // B reads
	cShared = "c0000000-0000-4000-8000-000000000003" // A reads, B writes
	cPublic = "d0000000-0000-4000-8000-000000000004" // everyone reads, A writes
	cUser   = "e0000000-0000-4000-8000-000000000005" // one user of B writes
	cNone   = "f0000000-0000-4000-8000-000000000006" // nobody
)

// isolationFixture is the hub of the tenant isolation test.
func isolationFixture(t testing.TB, s authz.Store) *fixture {
	f := newFixture(t, s)
	for _, o := range []string{"A", "B", "Ops"} {
		f.org(o)
	}
	f.user("a-member", "A", authz.RoleMember, "")
	f.user("a-orgadmin", "A", authz.RoleOrgAdmin, "")
	f.user("b-member", "B", authz.RoleMember, "")
	f.user("b-writer", "B", authz.RoleMember, "")
	f.user("admin", "Ops", authz.RoleAdmin, "")
	A, B := authz.OrganizationSubject(f.orgs["A"].ID), authz.OrganizationSubject(f.orgs["B"].ID)
	f.grant(A, "api1", cA, authz.ActionRead, authz.ActionWrite)
	f.grant(B, "api1", cB, authz.ActionRead)
	f.grant(A, "api1", cShared, authz.ActionRead)
	f.grant(B, "api1", cShared, authz.ActionWrite)
	f.grant(authz.Public, "api1", cPublic, authz.ActionRead)
	f.grant(A, "api1", cPublic, authz.ActionWrite)
	f.grant(authz.UserSubject(f.users["b-writer"].ID), "api1", cUser, authz.ActionWrite)
	return f
}

// TestTenantIsolation checks every decision of every kind of requester on
// every kind of collection: exactly what was granted, nothing else.
func TestTenantIsolation(t *testing.T) {
	s := openStore(t, "")
	f := isolationFixture(t, s)
	p := startProcess(t, s, time.Hour)

	// r: read, w: write, for api1's collections in this order, then cA in
	// api2 (a collection id is only meaningful within its API root).
	colls := []string{cA, cB, cShared, cPublic, cUser, cNone}
	want := map[string][]string{
		"a-member":   {"rw", "", "r", "rw", "", "", ""},
		"a-orgadmin": {"rw", "", "r", "rw", "", "", ""},
		"b-member":   {"", "r", "w", "r", "", "", ""},
		"b-writer":   {"", "r", "w", "r", "w", "", ""},
		"admin":      {"rw", "rw", "rw", "rw", "rw", "rw", "rw"},
		"anonymous":  {"", "", "", "r", "", "", ""},
	}
	for name, w := range want {
		pr := f.principal(name)
		ctx := authz.NewContext(t.Context(), pr)
		var got []string
		for i := range len(colls) + 1 {
			root, coll := "api1", cA
			if i < len(colls) {
				coll = colls[i]
			} else {
				root = "api2"
			}
			d := ""
			if p.az.CanRead(ctx, root, coll) {
				d += "r"
			}
			if p.az.CanWrite(ctx, root, coll) {
				d += "w"
			}
			// Asked twice: the remembered decision is the same.
			if p.az.CanRead(ctx, root, coll) != (d == "r" || d == "rw") {
				t.Errorf("%s: second CanRead(%s/%s) differs", name, root, coll)
			}
			got = append(got, d)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("decisions of %s (-want +got):\n%s", name, diff)
		}
	}
	// Without a principal in the context: anonymous.
	if !p.az.CanRead(t.Context(), "api1", cPublic) || p.az.CanRead(t.Context(), "api1", cA) {
		t.Error("a context without principal is not treated as anonymous")
	}
	// Unknown actions are denied, even to admins.
	if p.az.Can(f.principal("admin"), "api1", cA, "delete") {
		t.Error("admin allowed an unknown action")
	}
}

// propagationLimit bounds how long a change takes to reach another process
// whose watcher reads the store every DefaultWatchInterval: many intervals,
// so that a loaded machine that delays a tick or two does not fail the
// test, while a watcher that stops following the store still does.
const propagationLimit = 20 * authz.DefaultWatchInterval

// TestAuthorizerFollowsChanges checks that grant, membership and role
// changes are enforced at once by the process that made them (after
// Refresh), and by another process on the same store once its watcher has
// read the store (within propagationLimit).
func TestAuthorizerFollowsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxiid.db")
	s1, s2 := openStore(t, path), openStore(t, path)
	f := isolationFixture(t, s1)
	p1 := startProcess(t, s1, time.Hour) // refreshes only when told
	p2 := startProcess(t, s2, 0)         // default interval
	ctx := t.Context()
	bMember := f.principal("b-member")

	steps := []struct {
		name   string
		change func() error
		check  func(az *authz.Authorizer) bool // true once the change is seen
	}{
		{"grant to B", func() error {
			_, err := s1.CreateGrant(ctx, authz.Grant{Subject: authz.OrganizationSubject(f.orgs["B"].ID),
				APIRoot: "api1", Collection: cA, Action: authz.ActionRead})
			return err
		}, func(az *authz.Authorizer) bool { return az.Can(bMember, "api1", cA, authz.ActionRead) }},
		{"revoke from B", func() error {
			gs, err := s1.Grants(ctx, authz.GrantFilter{Subject: &authz.Subject{Kind: authz.SubjectOrganization, ID: f.orgs["B"].ID},
				APIRoot: "api1", Collection: cA, Limit: 10})
			if err != nil || len(gs) != 1 {
				return fmt.Errorf("grants %v, %v", gs, err)
			}
			return s1.DeleteGrant(ctx, gs[0].ID)
		}, func(az *authz.Authorizer) bool { return !az.Can(bMember, "api1", cA, authz.ActionRead) }},
		{"move b-member to A", func() error {
			_, err := s1.UpdateUser(ctx, bMember.UserID, func(u authz.User) (authz.User, error) {
				u.OrganizationID = f.orgs["A"].ID
				return u, nil
			})
			return err
		}, func(az *authz.Authorizer) bool {
			return az.Can(bMember, "api1", cA, authz.ActionWrite) && !az.Can(bMember, "api1", cB, authz.ActionRead)
		}},
		{"make b-member admin", func() error {
			_, err := s1.UpdateUser(ctx, bMember.UserID, func(u authz.User) (authz.User, error) {
				u.Role = authz.RoleAdmin
				return u, nil
			})
			return err
		}, func(az *authz.Authorizer) bool { return az.Can(bMember, "api1", cNone, authz.ActionWrite) }},
		{"delete b-member", func() error { return s1.DeleteUser(ctx, bMember.UserID) },
			func(az *authz.Authorizer) bool { return !az.Can(bMember, "api1", cNone, authz.ActionRead) }},
		{"make a collection public", func() error {
			_, err := s1.CreateGrant(ctx, authz.Grant{Subject: authz.Public, APIRoot: "api1", Collection: cNone, Action: authz.ActionRead})
			return err
		}, func(az *authz.Authorizer) bool { return az.Can(authz.Principal{}, "api1", cNone, authz.ActionRead) }},
	}
	for _, st := range steps {
		if st.check(p1.az) || st.check(p2.az) {
			t.Fatalf("%s: seen before the change", st.name)
		}
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		changed := time.Now()
		p1.refresh(t)
		if !st.check(p1.az) {
			t.Errorf("%s: not enforced at once by the process that made it", st.name)
		}
		for !st.check(p2.az) {
			if time.Since(changed) > propagationLimit {
				t.Fatalf("%s: not enforced by the other process within %v", st.name, propagationLimit)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestAdapter checks that the adapter is a Casbin adapter like any other:
// an enforcer made with it and the embedded model decides as the
// Authorizer does, and it refuses edits made through Casbin.
func TestAdapter(t *testing.T) {
	s := openStore(t, "")
	f := isolationFixture(t, s)
	m, err := authz.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	e, err := casbin.NewEnforcer(m, authz.NewAdapter(s))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sub, coll, act string
		want           bool
	}{
		{"user:" + f.users["a-member"].ID, cA, "write", true},
		{"user:" + f.users["a-member"].ID, cB, "read", false},
		{"user:" + f.users["b-writer"].ID, cUser, "write", true},
		{"user:" + f.users["b-member"].ID, cUser, "write", false},
		{"user:" + f.users["admin"].ID, cNone, "write", true},
		{"anonymous", cPublic, "read", true},
		{"anonymous", cPublic, "write", false},
	} {
		got, err := e.Enforce(tc.sub, "api1", tc.coll, tc.act)
		if err != nil || got != tc.want {
			t.Errorf("Enforce(%s, api1, %s, %s) = %v, %v; want %v", tc.sub, tc.coll, tc.act, got, err, tc.want)
		}
	}
	if _, err := e.AddGroupingPolicy("user:x", "role:admin"); err == nil {
		t.Error("AddGroupingPolicy through the adapter: no error")
	}
	if ok, _ := e.Enforce("user:x", "api1", cA, "read"); ok {
		t.Error("a refused edit took effect")
	}
}

// TestAuthorizerAgreesWithCasbin checks the Authorizer's role manager
// against Casbin's own: an enforcer built by Casbin alone from the same
// model and adapter makes the same decision on every request.
func TestAuthorizerAgreesWithCasbin(t *testing.T) {
	s := openStore(t, "")
	f := isolationFixture(t, s)
	// Chains and overlaps beyond the isolation fixture: a user with grants
	// of its own and through its organization on the same collection.
	f.grant(authz.UserSubject(f.users["a-member"].ID), "api1", cA, authz.ActionRead)
	f.grant(authz.UserSubject(f.users["a-member"].ID), "api2", cB, authz.ActionWrite)
	p := startProcess(t, s, time.Hour)
	m, err := authz.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	e, err := casbin.NewEnforcer(m, authz.NewAdapter(s))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name := range f.users {
		for _, pr := range []authz.Principal{f.principal(name), {}} {
			sub := "anonymous"
			if !pr.Anonymous() {
				sub = "user:" + pr.UserID
			}
			for _, root := range []string{"api1", "api2"} {
				for _, coll := range []string{cA, cB, cShared, cPublic, cUser, cNone} {
					for _, act := range []authz.Action{authz.ActionRead, authz.ActionWrite} {
						want, err := e.Enforce(sub, root, coll, string(act))
						if err != nil {
							t.Fatal(err)
						}
						if got := p.az.Can(pr, root, coll, act); got != want {
							t.Errorf("Can(%s, %s/%s, %s) = %v, Casbin's enforcer says %v", name, root, coll, act, got, want)
						}
						if want {
							n++
						}
					}
				}
			}
		}
	}
	if n == 0 {
		t.Error("no request allowed: the comparison proves nothing")
	}
}

// failingGrants is a store whose grant listing fails on demand: a store
// that stops answering in the middle of a reload cannot be made otherwise.
type failingGrants struct {
	*sqlite.Store
	fail bool
}

func (s *failingGrants) Grants(ctx context.Context, f authz.GrantFilter) ([]authz.Grant, error) {
	if s.fail {
		return nil, fmt.Errorf("store unreachable")
	}
	return s.Store.Grants(ctx, f)
}

// TestAuthorizerFailsClosed checks that when the policy changed but cannot
// be loaded, nothing is allowed until it can: a revoked grant must not keep
// working because the store failed.
func TestAuthorizerFailsClosed(t *testing.T) {
	ctx := t.Context()
	s := &failingGrants{Store: openStore(t, "")}
	f := isolationFixture(t, s)
	w := authz.NewWatcher(s, time.Hour, nil)
	az, err := authz.NewAuthorizer(s, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if az.Can(f.principal("admin"), "api1", cA, authz.ActionRead) {
		t.Error("allowed before the policy was loaded")
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	member := f.principal("a-member")
	if !az.Can(member, "api1", cA, authz.ActionRead) {
		t.Fatal("granted read denied")
	}
	s.fail = true
	f.grant(authz.OrganizationSubject(f.orgs["B"].ID), "api1", cA, authz.ActionRead)
	if err := w.Refresh(ctx); err == nil {
		t.Fatal("Refresh with a failing store: no error")
	}
	for _, name := range []string{"a-member", "admin", "anonymous"} {
		if az.Can(f.principal(name), "api1", cPublic, authz.ActionRead) {
			t.Errorf("%s allowed while the policy cannot be loaded", name)
		}
	}
	s.fail = false
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !az.Can(member, "api1", cA, authz.ActionRead) || !az.Can(f.principal("b-member"), "api1", cA, authz.ActionRead) {
		t.Error("policy not back after the store recovered")
	}
}

// TestDecisionsWhileGranting decides from several goroutines while a grant
// is given and revoked again and again: every decision made under one
// policy generation is the one that generation calls for.
func TestDecisionsWhileGranting(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, "")
	f := isolationFixture(t, s)
	p := startProcess(t, s, time.Hour)
	member := f.principal("b-member")

	var (
		mu   sync.Mutex
		want = map[int64]bool{p.az.Generation(): false} // generation -> b-member reads cA
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				g1 := p.az.Generation()
				got := p.az.Can(member, "api1", cA, authz.ActionRead)
				if p.az.Generation() != g1 {
					continue // the policy changed meanwhile
				}
				mu.Lock()
				w, known := want[g1]
				mu.Unlock()
				if known && got != w {
					errs <- fmt.Errorf("generation %d: decision %v, want %v", g1, got, w)
					return
				}
			}
		}()
	}
	B := authz.OrganizationSubject(f.orgs["B"].ID)
	for i := range 20 {
		if i%2 == 0 {
			f.grant(B, "api1", cA, authz.ActionRead)
		} else {
			gs, err := s.Grants(ctx, authz.GrantFilter{Subject: &B, APIRoot: "api1", Collection: cA, Limit: 1})
			if err != nil || len(gs) != 1 {
				t.Fatalf("Grants = %v, %v", gs, err)
			}
			if err := s.DeleteGrant(ctx, gs[0].ID); err != nil {
				t.Fatal(err)
			}
		}
		g, err := s.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		want[g] = i%2 == 0
		mu.Unlock()
		p.refresh(t)
		if got := p.az.Can(member, "api1", cA, authz.ActionRead); got != (i%2 == 0) {
			t.Fatalf("step %d: decision %v after refresh", i, got)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
