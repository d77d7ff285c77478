package authz_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
)

const (
	coll1 = "4d8b2f4e-8f3c-4a8e-9a34-1c2f0b6d7e01"
	coll2 = "4d8b2f4e-8f3c-4a8e-9a34-1c2f0b6d7e02"
	// declaredColl is declared in the configuration file of adminEnv.
	declaredColl = "4d8b2f4e-8f3c-4a8e-9a34-1c2f0b6d7e03"
)

// adminEnv is an admin service on a real store with two organizations:
// A (org-admin alice, member amy) and B (org-admin bob, member ben), the
// admin root (organization ops), and API root api1 with collections coll1,
// coll2 and declaredColl (declared, with API root conf).
type adminEnv struct {
	t         *testing.T
	store     *sqlite.Store
	admin     *authz.Admin
	refreshes atomic.Int64

	ops, a, b                  authz.OrganizationView
	root, alice, amy, bob, ben authz.UserView
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	e := &adminEnv{t: t, store: openStore(t, "")}
	admin, err := authz.NewAdmin(authz.AdminConfig{
		Store: e.store, Collections: e.store, Passwords: cheap,
		Declared: authz.DeclaredSet{"conf": {declaredColl}},
		Refresh: func(context.Context) error {
			e.refreshes.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.admin = admin
	ctx := e.as(authz.Operator("setup"))
	e.ops, e.a, e.b = e.org(ctx, "ops"), e.org(ctx, "A"), e.org(ctx, "B")
	e.root = e.user(ctx, "root", e.ops.ID, authz.RoleAdmin)
	e.alice = e.user(ctx, "alice", e.a.ID, authz.RoleOrgAdmin)
	e.amy = e.user(ctx, "amy", e.a.ID, authz.RoleMember)
	e.bob = e.user(ctx, "bob", e.b.ID, authz.RoleOrgAdmin)
	e.ben = e.user(ctx, "ben", e.b.ID, authz.RoleMember)
	for _, r := range []string{"api1", "conf"} {
		mustDo(t, e.store.PutAPIRoot(ctx, collections.APIRoot{Path: r, Title: r, MaxContentLength: 1 << 20}))
	}
	for _, c := range []collections.Collection{
		{APIRoot: "api1", ID: coll1, Alias: "one", Title: "One"},
		{APIRoot: "api1", ID: coll2, Title: "Two"},
		{APIRoot: "conf", ID: declaredColl, Title: "Declared"},
	} {
		mustDo(t, e.store.PutCollection(ctx, c))
	}
	e.refreshes.Store(0)
	return e
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// as is a context acting for p.
func (e *adminEnv) as(p authz.Principal) context.Context {
	return authz.NewContext(e.t.Context(), p)
}

// of is the principal of a user.
func of(u authz.UserView) authz.Principal {
	return authz.Principal{UserID: u.ID, UserName: u.Name, OrganizationID: u.OrganizationID, Role: u.Role}
}

func ptr[T any](v T) *T { return &v }

func (e *adminEnv) org(ctx context.Context, name string) authz.OrganizationView {
	e.t.Helper()
	o, err := e.admin.CreateOrganization(ctx, authz.OrganizationInput{Name: &name})
	mustDo(e.t, err)
	return o
}

func (e *adminEnv) user(ctx context.Context, name, org string, role authz.Role) authz.UserView {
	e.t.Helper()
	u, err := e.admin.CreateUser(ctx, authz.UserInput{Name: &name, OrganizationID: &org, Role: &role,
		Password: ptr("correct horse battery")})
	mustDo(e.t, err)
	return u
}

func (e *adminEnv) grant(s authz.SubjectInput, coll string, act authz.Action) authz.GrantView {
	e.t.Helper()
	g, err := e.admin.CreateGrant(e.as(authz.Operator("setup")), authz.GrantInput{Subject: &s,
		APIRoot: ptr("api1"), Collection: &coll, Action: &act})
	mustDo(e.t, err)
	return g
}

// wantErrIs fails unless err matches want (nil: no error).
func wantErrIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("%s: error %v; want %v", what, err, want)
	}
}

// wantField fails unless err is an *InvalidError or *ConflictError naming
// field.
func wantField(t *testing.T, what string, err, kind error, field string) {
	t.Helper()
	var ie *authz.InvalidError
	var ce *authz.ConflictError
	got := "(none)"
	switch {
	case errors.As(err, &ie):
		got = ie.Field
	case errors.As(err, &ce):
		got = ce.Field
	}
	if !errors.Is(err, kind) || got != field {
		t.Errorf("%s: error %v (field %s); want %v naming %q", what, err, got, kind, field)
	}
}

// TestAdminAccess: who may do what, for every method of the service. An
// org-admin gets ErrNotFound for what belongs to another organization,
// exactly as for what does not exist; members may only handle their own
// tokens.
func TestAdminAccess(t *testing.T) {
	e := newAdminEnv(t)
	tokA, err := e.admin.CreateToken(e.as(of(e.amy)), e.amy.ID, authz.TokenInput{Name: ptr("amy's")})
	mustDo(t, err)
	tokB, err := e.admin.CreateToken(e.as(of(e.ben)), e.ben.ID, authz.TokenInput{Name: ptr("ben's")})
	mustDo(t, err)
	gA := e.grant(authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.a.ID}, coll1, authz.ActionRead)
	gAmy := e.grant(authz.SubjectInput{Kind: authz.SubjectUser, ID: e.amy.ID}, coll2, authz.ActionWrite)
	gB := e.grant(authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.b.ID}, coll1, authz.ActionWrite)
	pub := e.grant(authz.SubjectInput{Kind: authz.SubjectPublic}, coll2, authz.ActionRead)

	anon, admin := authz.Principal{}, of(e.root)
	alice, amy, bob := of(e.alice), of(e.amy), of(e.bob)
	pg := authz.Page{}
	unauth, forbid, hidden := authz.ErrUnauthenticated, authz.ErrForbidden, authz.ErrNotFound

	type op struct {
		name string
		fn   func(ctx context.Context) error
	}
	ignore := func(_ any, err error) error { return err }
	ops := map[string]op{}
	add := func(name string, fn func(ctx context.Context) error) { ops[name] = op{name, fn} }
	add("orgs.list", func(ctx context.Context) error { return ignore(e.admin.Organizations(ctx, pg)) })
	add("orgs.get A", func(ctx context.Context) error { return ignore(e.admin.Organization(ctx, e.a.ID)) })
	add("orgs.get B", func(ctx context.Context) error { return ignore(e.admin.Organization(ctx, e.b.ID)) })
	add("orgs.create", func(ctx context.Context) error {
		return ignore(e.admin.CreateOrganization(ctx, authz.OrganizationInput{Name: ptr("new " + authz.NewID())}))
	})
	add("orgs.update A", func(ctx context.Context) error {
		return ignore(e.admin.UpdateOrganization(ctx, e.a.ID, authz.OrganizationInput{Description: ptr("d")}))
	})
	add("orgs.access A", func(ctx context.Context) error { return ignore(e.admin.OrganizationAccess(ctx, e.a.ID, pg)) })
	add("orgs.access B", func(ctx context.Context) error { return ignore(e.admin.OrganizationAccess(ctx, e.b.ID, pg)) })
	add("users.list", func(ctx context.Context) error { return ignore(e.admin.Users(ctx, "", pg)) })
	add("users.list B", func(ctx context.Context) error { return ignore(e.admin.Users(ctx, e.b.ID, pg)) })
	add("users.get amy", func(ctx context.Context) error { return ignore(e.admin.User(ctx, e.amy.ID)) })
	add("users.get ben", func(ctx context.Context) error { return ignore(e.admin.User(ctx, e.ben.ID)) })
	add("users.create in A", func(ctx context.Context) error {
		return ignore(e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("u" + authz.NewID()), OrganizationID: &e.a.ID}))
	})
	add("users.create in B", func(ctx context.Context) error {
		return ignore(e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("u" + authz.NewID()), OrganizationID: &e.b.ID}))
	})
	add("users.update amy", func(ctx context.Context) error {
		return ignore(e.admin.UpdateUser(ctx, e.amy.ID, authz.UserInput{Disabled: ptr(false)}))
	})
	add("users.update ben", func(ctx context.Context) error {
		return ignore(e.admin.UpdateUser(ctx, e.ben.ID, authz.UserInput{Disabled: ptr(false)}))
	})
	add("users.update root", func(ctx context.Context) error {
		return ignore(e.admin.UpdateUser(ctx, e.root.ID, authz.UserInput{Name: ptr("root")}))
	})
	add("users.password amy", func(ctx context.Context) error {
		return ignore(e.admin.SetPassword(ctx, e.amy.ID, authz.PasswordInput{}))
	})
	add("users.password ben", func(ctx context.Context) error {
		return ignore(e.admin.SetPassword(ctx, e.ben.ID, authz.PasswordInput{}))
	})
	add("tokens.list amy", func(ctx context.Context) error { return ignore(e.admin.Tokens(ctx, e.amy.ID, pg)) })
	add("tokens.list ben", func(ctx context.Context) error { return ignore(e.admin.Tokens(ctx, e.ben.ID, pg)) })
	add("tokens.get amy", func(ctx context.Context) error { return ignore(e.admin.Token(ctx, e.amy.ID, tokA.ID)) })
	add("tokens.get ben", func(ctx context.Context) error { return ignore(e.admin.Token(ctx, e.ben.ID, tokB.ID)) })
	add("tokens.get ben's as amy's", func(ctx context.Context) error {
		return ignore(e.admin.Token(ctx, e.amy.ID, tokB.ID))
	})
	add("tokens.create amy", func(ctx context.Context) error {
		return ignore(e.admin.CreateToken(ctx, e.amy.ID, authz.TokenInput{Name: ptr(authz.NewID())}))
	})
	add("tokens.create ben", func(ctx context.Context) error {
		return ignore(e.admin.CreateToken(ctx, e.ben.ID, authz.TokenInput{Name: ptr(authz.NewID())}))
	})
	add("tokens.create root", func(ctx context.Context) error {
		return ignore(e.admin.CreateToken(ctx, e.root.ID, authz.TokenInput{Name: ptr(authz.NewID())}))
	})
	add("tokens.revoke ben", func(ctx context.Context) error { return ignore(e.admin.RevokeToken(ctx, e.ben.ID, tokB.ID)) })
	add("grants.list", func(ctx context.Context) error { return ignore(e.admin.Grants(ctx, authz.GrantQuery{}, pg)) })
	add("grants.list B", func(ctx context.Context) error {
		return ignore(e.admin.Grants(ctx, authz.GrantQuery{SubjectKind: authz.SubjectOrganization, SubjectID: e.b.ID}, pg))
	})
	add("grants.get A", func(ctx context.Context) error { return ignore(e.admin.Grant(ctx, gA.ID)) })
	add("grants.get amy", func(ctx context.Context) error { return ignore(e.admin.Grant(ctx, gAmy.ID)) })
	add("grants.get B", func(ctx context.Context) error { return ignore(e.admin.Grant(ctx, gB.ID)) })
	add("grants.get public", func(ctx context.Context) error { return ignore(e.admin.Grant(ctx, pub.ID)) })
	add("grants.create", func(ctx context.Context) error {
		return ignore(e.admin.CreateGrant(ctx, authz.GrantInput{Subject: &authz.SubjectInput{Kind: authz.SubjectUser, ID: e.amy.ID},
			APIRoot: ptr("api1"), Collection: ptr(coll1), Action: ptr(authz.ActionWrite)}))
	})
	add("grants.delete", func(ctx context.Context) error { return e.admin.DeleteGrant(ctx, "no such grant") })
	add("roots.list", func(ctx context.Context) error { return ignore(e.admin.APIRoots(ctx, pg)) })
	add("roots.get", func(ctx context.Context) error { return ignore(e.admin.APIRoot(ctx, "api1")) })
	add("roots.create", func(ctx context.Context) error {
		return ignore(e.admin.CreateAPIRoot(ctx, authz.APIRootInput{Path: ptr("r" + authz.NewID()[:8]), Title: ptr("R")}))
	})
	add("colls.list", func(ctx context.Context) error { return ignore(e.admin.Collections(ctx, "api1", pg)) })
	add("colls.get", func(ctx context.Context) error { return ignore(e.admin.Collection(ctx, "api1", coll1)) })
	add("colls.create", func(ctx context.Context) error {
		return ignore(e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{Title: ptr("New")}))
	})
	add("colls.update", func(ctx context.Context) error {
		return ignore(e.admin.UpdateCollection(ctx, "api1", coll2, authz.CollectionInput{Description: ptr("d")}))
	})
	add("colls.access", func(ctx context.Context) error { return ignore(e.admin.CollectionAccess(ctx, "api1", coll1, pg)) })
	add("audit", func(ctx context.Context) error { return ignore(e.admin.AuditEvents(ctx, authz.AuditQuery{}, pg)) })
	add("audit B", func(ctx context.Context) error {
		return ignore(e.admin.AuditEvents(ctx, authz.AuditQuery{OrganizationID: e.b.ID}, pg))
	})

	// want[op] per principal; ops not listed for an org-admin or member
	// are forbidden to them, every op is unauthenticated to anonymous and
	// allowed to admins (but for the grant deletion, last).
	orgAdminOK := map[string]error{
		"orgs.list": nil, "orgs.get A": nil, "orgs.get B": hidden, "orgs.access A": nil, "orgs.access B": hidden,
		"users.list": nil, "users.list B": hidden, "users.get amy": nil, "users.get ben": hidden,
		"users.create in A": nil, "users.create in B": authz.ErrInvalid, "users.update amy": nil,
		"users.update ben": hidden, "users.update root": hidden, "users.password amy": nil, "users.password ben": hidden,
		"tokens.list amy": nil, "tokens.list ben": hidden, "tokens.get amy": nil, "tokens.get ben": hidden,
		"tokens.get ben's as amy's": hidden, "tokens.create amy": nil, "tokens.create ben": hidden,
		"tokens.create root": hidden, "tokens.revoke ben": hidden,
		"grants.list": nil, "grants.list B": hidden, "grants.get A": nil, "grants.get amy": nil, "grants.get B": hidden,
		"grants.get public": nil, "audit": nil, "audit B": hidden,
	}
	// bob, org-admin of B, as alice for A.
	bobOK := map[string]error{
		"orgs.list": nil, "orgs.get A": hidden, "orgs.get B": nil, "orgs.access A": hidden, "orgs.access B": nil,
		"users.list": nil, "users.list B": nil, "users.get amy": hidden, "users.get ben": nil,
		"users.create in A": authz.ErrInvalid, "users.create in B": nil, "users.update amy": hidden,
		"users.update ben": nil, "users.update root": hidden, "users.password amy": hidden, "users.password ben": nil,
		"tokens.list amy": hidden, "tokens.list ben": nil, "tokens.get amy": hidden, "tokens.get ben": nil,
		"tokens.get ben's as amy's": hidden, "tokens.create amy": hidden, "tokens.create ben": nil,
		"tokens.create root": hidden, "tokens.revoke ben": nil,
		"grants.list": nil, "grants.list B": nil, "grants.get A": hidden, "grants.get amy": hidden, "grants.get B": nil,
		"grants.get public": nil, "audit": nil, "audit B": nil,
	}
	memberOK := map[string]error{
		"tokens.list amy": nil, "tokens.get amy": nil, "tokens.create amy": nil, "tokens.get ben's as amy's": hidden,
	}
	for _, tc := range []struct {
		who  string
		p    authz.Principal
		want func(op string) error
	}{
		{"anonymous", anon, func(string) error { return unauth }},
		{"member", amy, func(op string) error {
			if err, ok := memberOK[op]; ok {
				return err
			}
			return forbid
		}},
		{"org-admin", alice, func(op string) error {
			if err, ok := orgAdminOK[op]; ok {
				return err
			}
			return forbid
		}},
		{"other org-admin", bob, func(op string) error {
			if err, ok := bobOK[op]; ok {
				return err
			}
			return forbid
		}},
		{"admin", admin, func(op string) error {
			if op == "tokens.get ben's as amy's" || op == "grants.delete" {
				return hidden
			}
			return nil
		}},
	} {
		for name, o := range ops {
			t.Run(tc.who+"/"+name, func(t *testing.T) {
				wantErrIs(t, tc.who+" "+name, o.fn(e.as(tc.p)), tc.want(name))
			})
		}
	}
	wantErrIs(t, "org-admin deletes its own grant", e.admin.DeleteGrant(e.as(alice), gA.ID), authz.ErrForbidden)
	wantErrIs(t, "admin deletes B's grant", e.admin.DeleteGrant(e.as(admin), gB.ID), nil)
	wantErrIs(t, "admin deletes it again", e.admin.DeleteGrant(e.as(admin), gB.ID), authz.ErrNotFound)
}

// TestAdminOrgAdminLimits: an org-admin cannot make an admin, nor touch
// one, nor move a user out of its organization.
func TestAdminOrgAdminLimits(t *testing.T) {
	e := newAdminEnv(t)
	ctx := e.as(of(e.alice))
	// An admin in organization A, which alice manages.
	boss := e.user(e.as(of(e.root)), "boss", e.a.ID, authz.RoleAdmin)

	_, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("eve"), Role: ptr(authz.RoleAdmin)})
	wantErrIs(t, "org-admin creates an admin", err, authz.ErrForbidden)
	_, err = e.admin.UpdateUser(ctx, e.amy.ID, authz.UserInput{Role: ptr(authz.RoleAdmin)})
	wantErrIs(t, "org-admin promotes to admin", err, authz.ErrForbidden)
	_, err = e.admin.UpdateUser(ctx, e.amy.ID, authz.UserInput{OrganizationID: &e.b.ID})
	wantField(t, "org-admin moves a user to B", err, authz.ErrInvalid, "organization_id")
	for name, fn := range map[string]func() error{
		"update": func() error {
			_, err := e.admin.UpdateUser(ctx, boss.ID, authz.UserInput{Disabled: ptr(true)})
			return err
		},
		"password": func() error {
			_, err := e.admin.SetPassword(ctx, boss.ID, authz.PasswordInput{Password: ptr("a new password")})
			return err
		},
		"token": func() error {
			_, err := e.admin.CreateToken(ctx, boss.ID, authz.TokenInput{Name: ptr("t")})
			return err
		},
		"delete": func() error { return e.admin.DeleteUser(ctx, boss.ID) },
	} {
		wantErrIs(t, "org-admin "+name+"s an admin of its organization", fn(), authz.ErrForbidden)
	}
	got, err := e.admin.User(ctx, boss.ID)
	if err != nil || got != boss {
		t.Errorf("the admin after the refused changes = %+v, %v; want %+v unchanged", got, err, boss)
	}
	// A user created by an org-admin lands in its organization.
	u, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("newbie")})
	if err != nil || u.OrganizationID != e.a.ID || u.Role != authz.RoleMember || u.HasPassword {
		t.Errorf("org-admin creates newbie = %+v, %v; want a member of A without password", u, err)
	}
	// An admin cannot lock itself out by accident.
	root := e.as(of(e.root))
	_, err = e.admin.UpdateUser(root, e.root.ID, authz.UserInput{Role: ptr(authz.RoleMember)})
	wantField(t, "admin demotes itself", err, authz.ErrConflict, "role")
	_, err = e.admin.UpdateUser(root, e.root.ID, authz.UserInput{Disabled: ptr(true)})
	wantField(t, "admin disables itself", err, authz.ErrConflict, "role")
	wantErrIs(t, "admin deletes itself", e.admin.DeleteUser(root, e.root.ID), authz.ErrConflict)
}

// TestAdminInvalid: bad input names its field and changes nothing.
func TestAdminInvalid(t *testing.T) {
	e := newAdminEnv(t)
	ctx := e.as(of(e.root))
	gen := func() int64 {
		g, err := e.store.Generation(ctx)
		mustDo(t, err)
		return g
	}
	audit := func() int {
		l, err := e.admin.AuditEvents(ctx, authz.AuditQuery{}, authz.Page{Limit: authz.MaxPageLimit})
		mustDo(t, err)
		return len(l.Items)
	}
	roots := func() []authz.APIRootView {
		l, err := e.admin.APIRoots(ctx, authz.Page{})
		mustDo(t, err)
		return l.Items
	}
	colls := func() []authz.CollectionView {
		l, err := e.admin.Collections(ctx, "api1", authz.Page{})
		mustDo(t, err)
		return l.Items
	}
	gen0, audit0, roots0, colls0 := gen(), audit(), roots(), colls()
	long := strings.Repeat("x", authz.MaxNameLen+1)
	subj := func(kind authz.SubjectKind, id string) *authz.SubjectInput {
		return &authz.SubjectInput{Kind: kind, ID: id}
	}
	for _, tc := range []struct {
		name  string
		fn    func() error
		kind  error
		field string
	}{
		{"org without name", func() error {
			_, err := e.admin.CreateOrganization(ctx, authz.OrganizationInput{})
			return err
		}, authz.ErrInvalid, "name"},
		{"org with long name", func() error {
			_, err := e.admin.CreateOrganization(ctx, authz.OrganizationInput{Name: &long})
			return err
		}, authz.ErrInvalid, "name"},
		{"org duplicate", func() error {
			_, err := e.admin.CreateOrganization(ctx, authz.OrganizationInput{Name: ptr("A")})
			return err
		}, authz.ErrConflict, "name"},
		{"org renamed to a taken name", func() error {
			_, err := e.admin.UpdateOrganization(ctx, e.b.ID, authz.OrganizationInput{Name: ptr("A")})
			return err
		}, authz.ErrConflict, "name"},
		{"org with users deleted", func() error { return e.admin.DeleteOrganization(ctx, e.b.ID) }, authz.ErrConflict, ""},
		{"user without name", func() error {
			_, err := e.admin.CreateUser(ctx, authz.UserInput{OrganizationID: &e.a.ID})
			return err
		}, authz.ErrInvalid, "name"},
		{"user with a colon", func() error {
			_, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("a:b"), OrganizationID: &e.a.ID})
			return err
		}, authz.ErrInvalid, "name"},
		{"user in unknown org", func() error {
			_, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("x"), OrganizationID: ptr("nope")})
			return err
		}, authz.ErrInvalid, "organization_id"},
		{"user without org", func() error {
			_, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("x")})
			return err
		}, authz.ErrInvalid, "organization_id"},
		{"user with bad role", func() error {
			_, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("x"), OrganizationID: &e.a.ID, Role: ptr(authz.Role("root"))})
			return err
		}, authz.ErrInvalid, "role"},
		{"user with short password", func() error {
			_, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("x"), OrganizationID: &e.a.ID, Password: ptr("short")})
			return err
		}, authz.ErrInvalid, "password"},
		{"user duplicate", func() error {
			_, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("amy"), OrganizationID: &e.b.ID})
			return err
		}, authz.ErrConflict, "name"},
		{"user duplicate with password", func() error {
			_, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("amy"), OrganizationID: &e.b.ID, Password: ptr("long enough password")})
			return err
		}, authz.ErrConflict, "name"},
		{"user renamed to a taken name", func() error {
			_, err := e.admin.UpdateUser(ctx, e.ben.ID, authz.UserInput{Name: ptr("amy")})
			return err
		}, authz.ErrConflict, "name"},
		{"user password in an update", func() error {
			_, err := e.admin.UpdateUser(ctx, e.ben.ID, authz.UserInput{Password: ptr("long enough password")})
			return err
		}, authz.ErrInvalid, "password"},
		{"password reset too short", func() error {
			_, err := e.admin.SetPassword(ctx, e.ben.ID, authz.PasswordInput{Password: ptr("short")})
			return err
		}, authz.ErrInvalid, "password"},
		{"token without name", func() error {
			_, err := e.admin.CreateToken(ctx, e.amy.ID, authz.TokenInput{})
			return err
		}, authz.ErrInvalid, "name"},
		{"token expired already", func() error {
			_, err := e.admin.CreateToken(ctx, e.amy.ID, authz.TokenInput{Name: ptr("t"), ExpiresAt: ptr(time.Now().Add(-time.Hour))})
			return err
		}, authz.ErrInvalid, "expires_at"},
		{"grant without subject", func() error {
			_, err := e.admin.CreateGrant(ctx, authz.GrantInput{APIRoot: ptr("api1"), Collection: ptr(coll1), Action: ptr(authz.ActionRead)})
			return err
		}, authz.ErrInvalid, "subject"},
		{"grant to unknown org", func() error {
			_, err := e.admin.CreateGrant(ctx, authz.GrantInput{Subject: subj(authz.SubjectOrganization, "nope"),
				APIRoot: ptr("api1"), Collection: ptr(coll1), Action: ptr(authz.ActionRead)})
			return err
		}, authz.ErrInvalid, "subject.id"},
		{"grant to bad kind", func() error {
			_, err := e.admin.CreateGrant(ctx, authz.GrantInput{Subject: subj("team", e.a.ID),
				APIRoot: ptr("api1"), Collection: ptr(coll1), Action: ptr(authz.ActionRead)})
			return err
		}, authz.ErrInvalid, "subject.kind"},
		{"grant of bad action", func() error {
			_, err := e.admin.CreateGrant(ctx, authz.GrantInput{Subject: subj(authz.SubjectOrganization, e.a.ID),
				APIRoot: ptr("api1"), Collection: ptr(coll1), Action: ptr(authz.Action("delete"))})
			return err
		}, authz.ErrInvalid, "action"},
		{"public write", func() error {
			_, err := e.admin.CreateGrant(ctx, authz.GrantInput{Subject: subj(authz.SubjectPublic, ""),
				APIRoot: ptr("api1"), Collection: ptr(coll1), Action: ptr(authz.ActionWrite)})
			return err
		}, authz.ErrInvalid, "action"},
		{"grant on unknown API root", func() error {
			_, err := e.admin.CreateGrant(ctx, authz.GrantInput{Subject: subj(authz.SubjectOrganization, e.a.ID),
				APIRoot: ptr("nope"), Collection: ptr(coll1), Action: ptr(authz.ActionRead)})
			return err
		}, authz.ErrInvalid, "api_root"},
		{"grant on unknown collection", func() error {
			_, err := e.admin.CreateGrant(ctx, authz.GrantInput{Subject: subj(authz.SubjectOrganization, e.a.ID),
				APIRoot: ptr("api1"), Collection: ptr(declaredColl), Action: ptr(authz.ActionRead)})
			return err
		}, authz.ErrInvalid, "collection"},
		{"API root reserved", func() error {
			_, err := e.admin.CreateAPIRoot(ctx, authz.APIRootInput{Path: ptr("admin"), Title: ptr("x")})
			return err
		}, authz.ErrInvalid, "path"},
		{"API root two segments", func() error {
			_, err := e.admin.CreateAPIRoot(ctx, authz.APIRootInput{Path: ptr("a/b"), Title: ptr("x")})
			return err
		}, authz.ErrInvalid, "path"},
		{"API root without title", func() error {
			_, err := e.admin.CreateAPIRoot(ctx, authz.APIRootInput{Path: ptr("new")})
			return err
		}, authz.ErrInvalid, "title"},
		{"API root negative length", func() error {
			_, err := e.admin.CreateAPIRoot(ctx, authz.APIRootInput{Path: ptr("new"), Title: ptr("x"), MaxContentLength: ptr(int64(-1))})
			return err
		}, authz.ErrInvalid, "max_content_length"},
		{"API root duplicate", func() error {
			_, err := e.admin.CreateAPIRoot(ctx, authz.APIRootInput{Path: ptr("api1"), Title: ptr("x")})
			return err
		}, authz.ErrConflict, "path"},
		{"API root with collections deleted", func() error { return e.admin.DeleteAPIRoot(ctx, "api1") }, authz.ErrConflict, ""},
		{"declared API root updated", func() error {
			_, err := e.admin.UpdateAPIRoot(ctx, "conf", authz.APIRootInput{Title: ptr("x")})
			return err
		}, authz.ErrConflict, ""},
		{"declared API root deleted", func() error { return e.admin.DeleteAPIRoot(ctx, "conf") }, authz.ErrConflict, ""},
		{"collection with bad id", func() error {
			_, err := e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{ID: ptr("ABC"), Title: ptr("x")})
			return err
		}, authz.ErrInvalid, "id"},
		{"collection without title", func() error {
			_, err := e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{})
			return err
		}, authz.ErrInvalid, "title"},
		{"collection with UUID alias", func() error {
			_, err := e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{Title: ptr("x"), Alias: ptr(coll2)})
			return err
		}, authz.ErrInvalid, "alias"},
		{"collection with bad media type", func() error {
			_, err := e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{Title: ptr("x"), MediaTypes: &[]string{"text/plain"}})
			return err
		}, authz.ErrInvalid, "media_types"},
		{"collection with bad validation", func() error {
			_, err := e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{Title: ptr("x"), Validation: ptr("lax")})
			return err
		}, authz.ErrInvalid, "validation"},
		{"collection duplicate id", func() error {
			_, err := e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{ID: ptr(coll1), Title: ptr("x")})
			return err
		}, authz.ErrConflict, "id"},
		{"collection id of another API root", func() error {
			_, err := e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{ID: ptr(declaredColl), Title: ptr("x")})
			return err
		}, authz.ErrConflict, "id"},
		{"collection duplicate alias", func() error {
			_, err := e.admin.CreateCollection(ctx, "api1", authz.CollectionInput{Alias: ptr("one"), Title: ptr("x")})
			return err
		}, authz.ErrConflict, "alias"},
		{"collection given a taken alias", func() error {
			_, err := e.admin.UpdateCollection(ctx, "api1", coll2, authz.CollectionInput{Alias: ptr("one")})
			return err
		}, authz.ErrConflict, "alias"},
		{"collection id changed", func() error {
			_, err := e.admin.UpdateCollection(ctx, "api1", coll2, authz.CollectionInput{ID: ptr(coll1)})
			return err
		}, authz.ErrInvalid, "id"},
		{"declared collection updated", func() error {
			_, err := e.admin.UpdateCollection(ctx, "conf", declaredColl, authz.CollectionInput{Title: ptr("x")})
			return err
		}, authz.ErrConflict, ""},
		{"declared collection deleted", func() error { return e.admin.DeleteCollection(ctx, "conf", declaredColl) }, authz.ErrConflict, ""},
		{"limit too large", func() error {
			_, err := e.admin.Organizations(ctx, authz.Page{Limit: authz.MaxPageLimit + 1})
			return err
		}, authz.ErrInvalid, "limit"},
		{"bad cursor", func() error {
			_, err := e.admin.Users(ctx, "", authz.Page{Cursor: "!!"})
			return err
		}, authz.ErrInvalid, "cursor"},
		{"bad audit cursor", func() error {
			_, err := e.admin.AuditEvents(ctx, authz.AuditQuery{}, authz.Page{Cursor: "eA"})
			return err
		}, authz.ErrInvalid, "cursor"},
		{"audit range backwards", func() error {
			_, err := e.admin.AuditEvents(ctx, authz.AuditQuery{Since: time.Now(), Until: time.Now().Add(-time.Hour)}, authz.Page{})
			return err
		}, authz.ErrInvalid, "until"},
		{"grants subject id without kind", func() error {
			_, err := e.admin.Grants(ctx, authz.GrantQuery{SubjectID: e.a.ID}, authz.Page{})
			return err
		}, authz.ErrInvalid, "subject_kind"},
	} {
		wantField(t, tc.name, tc.fn(), tc.kind, tc.field)
	}
	if g := gen(); g != gen0 {
		t.Errorf("generation after invalid changes = %d; want %d", g, gen0)
	}
	if n := audit(); n != audit0 {
		t.Errorf("audit events after invalid changes = %d; want %d", n, audit0)
	}
	if diff := cmp.Diff(roots0, roots()); diff != "" {
		t.Errorf("API roots changed by invalid changes (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(colls0, colls()); diff != "" {
		t.Errorf("collections changed by invalid changes (-before +after):\n%s", diff)
	}
	if n := e.refreshes.Load(); n != 0 {
		t.Errorf("refreshes after invalid changes = %d; want 0", n)
	}
}

// auditDetails decodes an event's before/after.
type auditDetails struct {
	Before map[string]any `json:"before"`
	After  map[string]any `json:"after"`
}

// TestAdminAudit: every change is in the audit log before the call
// returns, with the record before and after it and who made it, without
// password hashes or token secrets; and Refresh ran after it.
func TestAdminAudit(t *testing.T) {
	e := newAdminEnv(t)
	p := of(e.root)
	ctx := authz.WithSourceAddress(collections.WithRequestID(e.as(p), "req-1"), "192.0.2.7:4000")
	events := func() []authz.AuditEventView {
		l, err := e.admin.AuditEvents(ctx, authz.AuditQuery{UserID: p.UserID}, authz.Page{Limit: authz.MaxPageLimit})
		mustDo(t, err)
		return l.Items
	}
	last := ""
	check := func(what, action string, wantBefore, wantAfter bool, refreshes int64) auditDetails {
		t.Helper()
		evs := events()
		if len(evs) == 0 || evs[0].ID == last {
			t.Fatalf("%s: no new audit event", what)
		}
		ev := evs[0]
		last = ev.ID
		if ev.Action != action || ev.UserName != "root" || ev.OrganizationID != e.ops.ID ||
			ev.SourceAddress != "192.0.2.7:4000" || ev.RequestID != "req-1" {
			t.Errorf("%s: event %+v; want action %s by root of ops from 192.0.2.7:4000, request req-1", what, ev, action)
		}
		for _, secret := range []string{"argon2id", "password_hash", "hash\"", "secret"} {
			if strings.Contains(string(ev.Details), secret) {
				t.Errorf("%s: details %s contain %q", what, ev.Details, secret)
			}
		}
		var d auditDetails
		mustDo(t, json.Unmarshal(ev.Details, &d))
		if (d.Before != nil) != wantBefore || (d.After != nil) != wantAfter {
			t.Errorf("%s: details %s; want before %v, after %v", what, ev.Details, wantBefore, wantAfter)
		}
		if n := e.refreshes.Load(); n != refreshes {
			t.Errorf("%s: %d refreshes; want %d", what, n, refreshes)
		}
		return d
	}
	o, err := e.admin.CreateOrganization(ctx, authz.OrganizationInput{Name: ptr("C"), Description: ptr("first")})
	mustDo(t, err)
	d := check("create org", "admin.organization.create", false, true, 1)
	if d.After["name"] != "C" || d.After["id"] != o.ID {
		t.Errorf("create org: after = %v; want C", d.After)
	}
	_, err = e.admin.UpdateOrganization(ctx, o.ID, authz.OrganizationInput{Description: ptr("second")})
	mustDo(t, err)
	d = check("update org", "admin.organization.update", true, true, 2)
	if d.Before["description"] != "first" || d.After["description"] != "second" {
		t.Errorf("update org: before %v, after %v; want description first, then second", d.Before, d.After)
	}
	u, err := e.admin.CreateUser(ctx, authz.UserInput{Name: ptr("carl"), OrganizationID: &o.ID, Password: ptr("correct horse battery")})
	mustDo(t, err)
	check("create user", "admin.user.create", false, true, 3)
	res, err := e.admin.SetPassword(ctx, u.ID, authz.PasswordInput{})
	mustDo(t, err)
	if len(res.Password) < authz.MinPasswordLen {
		t.Errorf("generated password %q; want at least %d bytes", res.Password, authz.MinPasswordLen)
	}
	check("password", "admin.user.password", true, true, 4)
	tok, err := e.admin.CreateToken(ctx, u.ID, authz.TokenInput{Name: ptr("ci")})
	mustDo(t, err)
	d = check("create token", "admin.token.create", false, true, 5)
	if strings.Contains(fmt.Sprint(d), tok.Secret) || d.After["prefix"] != tok.Prefix {
		t.Errorf("create token: after %v; want the prefix %s, not the secret", d.After, tok.Prefix)
	}
	_, err = e.admin.RevokeToken(ctx, u.ID, tok.ID)
	mustDo(t, err)
	d = check("revoke token", "admin.token.revoke", true, true, 6)
	if d.Before["revoked_at"] != nil || d.After["revoked_at"] == nil || d.After["active"] != false {
		t.Errorf("revoke token: before %v, after %v; want revoked_at set after only", d.Before, d.After)
	}
	// Revoking again changes nothing, and is not audited again.
	_, err = e.admin.RevokeToken(ctx, u.ID, tok.ID)
	mustDo(t, err)
	if evs := events(); evs[0].ID != last {
		t.Errorf("second revocation audited as %s", evs[0].Action)
	}
	mustDo(t, e.admin.DeleteToken(ctx, u.ID, tok.ID))
	check("delete token", "admin.token.delete", true, false, 7)
	g, err := e.admin.CreateGrant(ctx, authz.GrantInput{Subject: &authz.SubjectInput{Kind: authz.SubjectOrganization, ID: o.ID},
		APIRoot: ptr("api1"), Collection: ptr("one"), Action: ptr(authz.ActionRead)})
	mustDo(t, err)
	d = check("create grant", "admin.grant.create", false, true, 8)
	if g.Collection != coll1 || d.After["collection"] != coll1 {
		t.Errorf("grant by alias: %+v, audited %v; want collection %s", g, d.After, coll1)
	}
	if evs := events(); evs[0].APIRoot != "api1" || evs[0].Collection != coll1 {
		t.Errorf("grant event on %s/%s; want api1/%s", evs[0].APIRoot, evs[0].Collection, coll1)
	}
	mustDo(t, e.admin.DeleteGrant(ctx, g.ID))
	check("delete grant", "admin.grant.delete", true, false, 9)
	_, err = e.admin.CreateAPIRoot(ctx, authz.APIRootInput{Path: ptr("api2"), Title: ptr("Two")})
	mustDo(t, err)
	check("create API root", "admin.api_root.create", false, true, 10)
	_, err = e.admin.UpdateAPIRoot(ctx, "api2", authz.APIRootInput{Description: ptr("d")})
	mustDo(t, err)
	check("update API root", "admin.api_root.update", true, true, 11)
	c, err := e.admin.CreateCollection(ctx, "api2", authz.CollectionInput{Title: ptr("C")})
	mustDo(t, err)
	check("create collection", "admin.collection.create", false, true, 12)
	_, err = e.admin.UpdateCollection(ctx, "api2", c.ID, authz.CollectionInput{Alias: ptr("cee")})
	mustDo(t, err)
	d = check("update collection", "admin.collection.update", true, true, 13)
	if d.Before["alias"] != nil || d.After["alias"] != "cee" {
		t.Errorf("update collection: before %v, after %v; want the alias cee added", d.Before, d.After)
	}
	mustDo(t, e.admin.DeleteCollection(ctx, "api2", c.ID))
	check("delete collection", "admin.collection.delete", true, true, 14)
	mustDo(t, e.admin.DeleteAPIRoot(ctx, "api2"))
	check("delete API root", "admin.api_root.delete", true, false, 15)
	_, err = e.admin.UpdateUser(ctx, u.ID, authz.UserInput{Role: ptr(authz.RoleOrgAdmin)})
	mustDo(t, err)
	d = check("update user", "admin.user.update", true, true, 16)
	if d.Before["role"] != "member" || d.After["role"] != "org-admin" {
		t.Errorf("update user: before %v, after %v; want member, then org-admin", d.Before, d.After)
	}
	mustDo(t, e.admin.DeleteUser(ctx, u.ID))
	check("delete user", "admin.user.delete", true, false, 17)
	mustDo(t, e.admin.DeleteOrganization(ctx, o.ID))
	check("delete org", "admin.organization.delete", true, false, 18)

	// Org-admins see the events of their organization only.
	_, err = e.admin.CreateToken(e.as(of(e.amy)), e.amy.ID, authz.TokenInput{Name: ptr("mine")})
	mustDo(t, err)
	l, err := e.admin.AuditEvents(e.as(of(e.alice)), authz.AuditQuery{}, authz.Page{})
	mustDo(t, err)
	var got []string
	for _, ev := range l.Items {
		got = append(got, ev.UserName+" "+ev.Action)
	}
	if diff := cmp.Diff([]string{"amy admin.token.create"}, got); diff != "" {
		t.Errorf("alice's audit listing (-want +got):\n%s", diff)
	}
}

// TestAdminPaging: listings come in pages that, followed by their cursors,
// hold every record once, in order, under every filter.
func TestAdminPaging(t *testing.T) {
	e := newAdminEnv(t)
	ctx := e.as(of(e.root))
	var want []string
	for i := range 7 {
		o := e.org(ctx, fmt.Sprintf("org%d", i))
		want = append(want, o.Name)
	}
	want = append([]string{"A", "B", "ops"}, want...)
	var got []string
	pages := 0
	for pg := (authz.Page{Limit: 3}); ; {
		pages++
		l, err := e.admin.Organizations(ctx, pg)
		mustDo(t, err)
		for _, o := range l.Items {
			got = append(got, o.Name)
		}
		if l.Next == "" {
			break
		}
		pg.Cursor = l.Next
	}
	if diff := cmp.Diff(want, got); diff != "" || pages != 4 {
		t.Errorf("organizations in pages of 3 (%d pages, want 4; -want +got):\n%s", pages, diff)
	}

	// Audit events, newest first, filtered by action, in pages of 2.
	l, err := e.admin.AuditEvents(ctx, authz.AuditQuery{Action: "admin.organization.create"}, authz.Page{Limit: authz.MaxPageLimit})
	mustDo(t, err)
	var all []string
	for _, ev := range l.Items {
		all = append(all, ev.ID)
	}
	if len(all) != 10 {
		t.Fatalf("organization creations audited: %d; want 10", len(all))
	}
	var paged []string
	for pg := (authz.Page{Limit: 2}); ; {
		l, err := e.admin.AuditEvents(ctx, authz.AuditQuery{Action: "admin.organization.create"}, pg)
		mustDo(t, err)
		for _, ev := range l.Items {
			paged = append(paged, ev.ID)
		}
		if l.Next == "" {
			break
		}
		pg.Cursor = l.Next
	}
	if diff := cmp.Diff(all, paged); diff != "" {
		t.Errorf("audit events in pages of 2 (-want +got):\n%s", diff)
	}
	// A time range keeps the events in it.
	mid, err := time.Parse(time.RFC3339Nano, l.Items[4].Time.Format(time.RFC3339Nano))
	mustDo(t, err)
	since, err := e.admin.AuditEvents(ctx, authz.AuditQuery{Action: "admin.organization.create", Since: mid}, authz.Page{})
	mustDo(t, err)
	for _, ev := range since.Items {
		if ev.Time.Before(mid) {
			t.Errorf("event %s at %s listed since %s", ev.ID, ev.Time, mid)
		}
	}
}

// TestAdminAccessViews: who can reach a collection, and what an
// organization can reach, with how.
func TestAdminAccessViews(t *testing.T) {
	e := newAdminEnv(t)
	gA := e.grant(authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.a.ID}, coll1, authz.ActionRead)
	gAmy := e.grant(authz.SubjectInput{Kind: authz.SubjectUser, ID: e.amy.ID}, coll1, authz.ActionWrite)
	gB := e.grant(authz.SubjectInput{Kind: authz.SubjectOrganization, ID: e.b.ID}, coll2, authz.ActionRead)
	pub := e.grant(authz.SubjectInput{Kind: authz.SubjectPublic}, coll2, authz.ActionRead)
	gBen := e.grant(authz.SubjectInput{Kind: authz.SubjectUser, ID: e.ben.ID}, coll1, authz.ActionRead)
	type row struct{ ID, Kind, Name, Coll, Action string }
	rows := func(l authz.List[authz.GrantView]) []row {
		var out []row
		for _, g := range l.Items {
			out = append(out, row{g.ID, string(g.Subject.Kind), g.Subject.Name, g.Collection, string(g.Action)})
		}
		return out
	}
	admin := e.as(of(e.root))
	l, err := e.admin.CollectionAccess(admin, "api1", coll1, authz.Page{})
	mustDo(t, err)
	if diff := cmp.Diff([]row{
		{gA.ID, "organization", "A", coll1, "read"}, {gAmy.ID, "user", "amy", coll1, "write"},
		{gBen.ID, "user", "ben", coll1, "read"},
	}, rows(l)); diff != "" {
		t.Errorf("who reaches coll1 (-want +got):\n%s", diff)
	}
	_, err = e.admin.CollectionAccess(admin, "api1", "4d8b2f4e-8f3c-4a8e-9a34-1c2f0b6d7eff", authz.Page{})
	wantErrIs(t, "access of a missing collection", err, authz.ErrNotFound)

	for _, tc := range []struct {
		who  authz.UserView
		org  authz.OrganizationView
		want []row
	}{
		{e.root, e.a, []row{{gA.ID, "organization", "A", coll1, "read"}, {gAmy.ID, "user", "amy", coll1, "write"},
			{pub.ID, "public", "", coll2, "read"}}},
		{e.bob, e.b, []row{{gB.ID, "organization", "B", coll2, "read"}, {pub.ID, "public", "", coll2, "read"},
			{gBen.ID, "user", "ben", coll1, "read"}}},
	} {
		var got []row
		for pg := (authz.Page{Limit: 1}); ; {
			l, err := e.admin.OrganizationAccess(e.as(of(tc.who)), tc.org.ID, pg)
			mustDo(t, err)
			got = append(got, rows(l)...)
			if l.Next == "" {
				break
			}
			pg.Cursor = l.Next
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("what %s reaches, asked by %s in pages of 1 (-want +got):\n%s", tc.org.Name, tc.who.Name, diff)
		}
	}
	// alice, org-admin of A, sees A's grants and its users', not B's.
	l, err = e.admin.Grants(e.as(of(e.alice)), authz.GrantQuery{}, authz.Page{})
	mustDo(t, err)
	if diff := cmp.Diff([]row{{gA.ID, "organization", "A", coll1, "read"}, {gAmy.ID, "user", "amy", coll1, "write"}}, rows(l)); diff != "" {
		t.Errorf("grants alice lists (-want +got):\n%s", diff)
	}
	l, err = e.admin.Grants(e.as(of(e.alice)), authz.GrantQuery{APIRoot: "api1", Collection: coll1, Action: authz.ActionWrite}, authz.Page{})
	mustDo(t, err)
	if diff := cmp.Diff([]row{{gAmy.ID, "user", "amy", coll1, "write"}}, rows(l)); diff != "" {
		t.Errorf("write grants on coll1 alice lists (-want +got):\n%s", diff)
	}

	// Deleting a collection removes the grants on it.
	mustDo(t, e.admin.DeleteCollection(admin, "api1", coll1))
	l, err = e.admin.Grants(admin, authz.GrantQuery{}, authz.Page{})
	mustDo(t, err)
	if diff := cmp.Diff([]row{{gB.ID, "organization", "B", coll2, "read"}, {pub.ID, "public", "", coll2, "read"}}, rows(l)); diff != "" {
		t.Errorf("grants after coll1 was deleted (-want +got):\n%s", diff)
	}
	_, err = e.store.Collection(admin, "api1", coll1)
	wantErrIs(t, "the deleted collection", err, collections.ErrNotFound)
}

// TestAdminTakesEffect: with the watcher's Refresh as hook, a change made
// through the service is enforced by this process when the call returns:
// a new token authenticates, a revoked one does not, a grant opens a
// collection and its deletion closes it.
func TestAdminTakesEffect(t *testing.T) {
	s := openStore(t, "")
	pr := startProcess(t, s, time.Hour) // no background polling: Refresh alone
	admin, err := authz.NewAdmin(authz.AdminConfig{Store: s, Collections: s, Passwords: cheap, Refresh: pr.w.Refresh})
	mustDo(t, err)
	ctx := authz.NewContext(t.Context(), authz.Operator("test"))
	mustDo(t, s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "api1", MaxContentLength: 1 << 20}))
	mustDo(t, s.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: coll1, Title: "One"}))
	o, err := admin.CreateOrganization(ctx, authz.OrganizationInput{Name: ptr("A")})
	mustDo(t, err)
	u, err := admin.CreateUser(ctx, authz.UserInput{Name: ptr("amy"), OrganizationID: &o.ID})
	mustDo(t, err)
	tok, err := admin.CreateToken(ctx, u.ID, authz.TokenInput{Name: ptr("ci"), ExpiresAt: ptr(time.Now().Add(time.Hour))})
	mustDo(t, err)
	if !authz.WellFormedToken(tok.Secret) || !strings.HasPrefix(tok.Secret, tok.Prefix) {
		t.Fatalf("token secret %q (prefix %q) is not a well-formed taxiid token", tok.Secret, tok.Prefix)
	}
	p, err := pr.an.Authenticate(t.Context(), "Bearer "+tok.Secret, "192.0.2.1:1")
	if err != nil || p.UserID != u.ID {
		t.Fatalf("Authenticate(new token) = %+v, %v; want amy", p, err)
	}
	if pr.az.Can(p, "api1", coll1, authz.ActionRead) {
		t.Errorf("amy reads coll1 before any grant")
	}
	g, err := admin.CreateGrant(ctx, authz.GrantInput{Subject: &authz.SubjectInput{Kind: authz.SubjectOrganization, ID: o.ID},
		APIRoot: ptr("api1"), Collection: ptr(coll1), Action: ptr(authz.ActionRead)})
	mustDo(t, err)
	if !pr.az.Can(p, "api1", coll1, authz.ActionRead) {
		t.Errorf("amy cannot read coll1 once A was granted read")
	}
	mustDo(t, admin.DeleteGrant(ctx, g.ID))
	if pr.az.Can(p, "api1", coll1, authz.ActionRead) {
		t.Errorf("amy reads coll1 after the grant was revoked")
	}
	_, err = admin.RevokeToken(ctx, u.ID, tok.ID)
	mustDo(t, err)
	if _, err := pr.an.Authenticate(t.Context(), "Bearer "+tok.Secret, "192.0.2.1:1"); !errors.Is(err, authz.ErrUnauthenticated) {
		t.Errorf("Authenticate(revoked token) = %v; want ErrUnauthenticated", err)
	}
	res, err := admin.SetPassword(ctx, u.ID, authz.PasswordInput{})
	mustDo(t, err)
	creds := basic("amy", res.Password)
	if p, err := pr.an.Authenticate(t.Context(), creds, "192.0.2.1:1"); err != nil || p.UserID != u.ID {
		t.Errorf("Authenticate(generated password) = %+v, %v; want amy", p, err)
	}
	_, err = admin.SetPassword(ctx, u.ID, authz.PasswordInput{Password: ptr("another long password")})
	mustDo(t, err)
	if _, err := pr.an.Authenticate(t.Context(), creds, "192.0.2.1:1"); !errors.Is(err, authz.ErrUnauthenticated) {
		t.Errorf("Authenticate(old password after a reset) = %v; want ErrUnauthenticated", err)
	}
}
