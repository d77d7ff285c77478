package authztest

import (
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

func testUsersMissing(t *testing.T, s authz.Store) {
	ctx := t.Context()
	_, err := s.User(ctx, "nope")
	wantErr(t, "User(missing)", err, authz.ErrNotFound)
	_, err = s.UserByName(ctx, "nope")
	wantErr(t, "UserByName(missing)", err, authz.ErrNotFound)
	_, err = s.UpdateUser(ctx, "nope", func(u authz.User) (authz.User, error) { return u, nil })
	wantErr(t, "UpdateUser(missing)", err, authz.ErrNotFound)
	wantErr(t, "DeleteUser(missing)", s.DeleteUser(ctx, "nope"), authz.ErrNotFound)
	got, err := s.Users(ctx, authz.UserFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Users of an empty store = %v, %v; want none", got, err)
	}
}

func testUsersInvalid(t *testing.T, s authz.Store) {
	ctx := t.Context()
	o := org(t, s, "A")
	for _, tc := range []struct {
		name  string
		u     authz.User
		field string
	}{
		{"no organization", authz.User{Name: "u", Role: authz.RoleMember}, "organization_id"},
		{"unknown organization", authz.User{Name: "u", OrganizationID: "nope", Role: authz.RoleMember}, "organization_id"},
		{"no name", authz.User{OrganizationID: o.ID, Role: authz.RoleMember}, "name"},
		{"colon", authz.User{Name: "a:b", OrganizationID: o.ID, Role: authz.RoleMember}, "name"},
		{"space", authz.User{Name: " a", OrganizationID: o.ID, Role: authz.RoleMember}, "name"},
		{"role", authz.User{Name: "u", OrganizationID: o.ID, Role: "root"}, "role"},
		{"hash", authz.User{Name: "u", OrganizationID: o.ID, Role: authz.RoleMember, PasswordHash: "plain"}, "password_hash"},
	} {
		_, err := s.CreateUser(ctx, tc.u)
		wantInvalid(t, "CreateUser("+tc.name+")", err, tc.field)
	}
	_, err := s.Users(ctx, authz.UserFilter{})
	wantInvalid(t, "Users(limit 0)", err, "limit")
	got, err := s.Users(ctx, authz.UserFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Users after invalid creates = %v, %v; want none", got, err)
	}
}

func testUsers(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a, b := org(t, s, "A"), org(t, s, "B")
	hash, err := authz.HashPassword("correct horse", CheapPasswords)
	mustOK(t, "HashPassword", err)
	start := time.Now()
	alice, err := s.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: a.ID, Role: authz.RoleOrgAdmin,
		PasswordHash: hash})
	mustOK(t, "CreateUser", err)
	checkStamp(t, "CreatedAt", alice.CreatedAt, start)
	diff(t, "CreateUser", authz.User{ID: alice.ID, Name: "alice", OrganizationID: a.ID, Role: authz.RoleOrgAdmin,
		PasswordHash: hash, CreatedAt: alice.CreatedAt, UpdatedAt: alice.CreatedAt}, alice)
	bob, err := s.CreateUser(ctx, authz.User{ID: "u-bob", Name: "bob", OrganizationID: b.ID, Role: authz.RoleMember,
		Disabled: true})
	mustOK(t, "CreateUser", err)
	carol := user(t, s, a.ID, "carol", authz.RoleAdmin)
	dave := user(t, s, a.ID, "Dave", authz.RoleMember)

	_, err = s.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: b.ID, Role: authz.RoleMember})
	wantErr(t, "CreateUser(duplicate name, other organization)", err, authz.ErrConflict)
	_, err = s.CreateUser(ctx, authz.User{ID: "u-bob", Name: "robert", OrganizationID: b.ID, Role: authz.RoleMember})
	wantErr(t, "CreateUser(duplicate id)", err, authz.ErrConflict)

	diff(t, "User", alice, must[authz.User](t, "User")(s.User(ctx, alice.ID)))
	diff(t, "UserByName", bob, must[authz.User](t, "UserByName")(s.UserByName(ctx, "bob")))
	_, err = s.UserByName(ctx, "Alice")
	wantErr(t, "UserByName(other case)", err, authz.ErrNotFound)

	ids := func(us []authz.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	all := must[[]authz.User](t, "Users")(s.Users(ctx, authz.UserFilter{Limit: 10}))
	diff(t, "Users (by name)", []string{dave.ID, alice.ID, bob.ID, carol.ID}, ids(all))
	inA := must[[]authz.User](t, "Users of A")(s.Users(ctx, authz.UserFilter{OrganizationID: a.ID, Limit: 10}))
	diff(t, "Users of A", []string{dave.ID, alice.ID, carol.ID}, ids(inA))
	page2 := must[[]authz.User](t, "Users of A, page 2")(
		s.Users(ctx, authz.UserFilter{OrganizationID: a.ID, After: "Dave", Limit: 1}))
	diff(t, "Users of A after Dave, limit 1", []string{alice.ID}, ids(page2))
	none := must[[]authz.User](t, "Users of a missing organization")(s.Users(ctx, authz.UserFilter{OrganizationID: "nope", Limit: 10}))
	diff(t, "Users of a missing organization", []string(nil), ids(none))
}

func testUsersUpdate(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a, b := org(t, s, "A"), org(t, s, "B")
	alice, bob := user(t, s, a.ID, "alice", authz.RoleMember), user(t, s, a.ID, "bob", authz.RoleMember)
	hash, err := authz.HashPassword("new password", CheapPasswords)
	mustOK(t, "HashPassword", err)
	time.Sleep(2 * time.Millisecond)

	got, err := s.UpdateUser(ctx, alice.ID, func(u authz.User) (authz.User, error) {
		diff(t, "UpdateUser's input", alice, u)
		u.ID, u.CreatedAt = "changed", time.Time{} // ignored
		u.Name, u.OrganizationID, u.Role, u.PasswordHash, u.Disabled = "alice2", b.ID, authz.RoleOrgAdmin, hash, true
		return u, nil
	})
	mustOK(t, "UpdateUser", err)
	if !got.UpdatedAt.After(alice.UpdatedAt) {
		t.Errorf("UpdatedAt %v not after %v", got.UpdatedAt, alice.UpdatedAt)
	}
	want := authz.User{ID: alice.ID, Name: "alice2", OrganizationID: b.ID, Role: authz.RoleOrgAdmin, PasswordHash: hash,
		Disabled: true, CreatedAt: alice.CreatedAt, UpdatedAt: got.UpdatedAt}
	diff(t, "UpdateUser", want, got)
	diff(t, "User after update", want, must[authz.User](t, "User")(s.User(ctx, alice.ID)))

	for _, tc := range []struct {
		name   string
		change func(*authz.User)
		field  string // "" for a conflict
	}{
		{"taken name", func(u *authz.User) { u.Name = "bob" }, ""},
		{"unknown organization", func(u *authz.User) { u.OrganizationID = "nope" }, "organization_id"},
		{"bad role", func(u *authz.User) { u.Role = "" }, "role"},
	} {
		_, err := s.UpdateUser(ctx, alice.ID, func(u authz.User) (authz.User, error) {
			tc.change(&u)
			return u, nil
		})
		if tc.field == "" {
			wantErr(t, "UpdateUser("+tc.name+")", err, authz.ErrConflict)
		} else {
			wantInvalid(t, "UpdateUser("+tc.name+")", err, tc.field)
		}
	}
	diff(t, "User after failed updates", want, must[authz.User](t, "User")(s.User(ctx, alice.ID)))
	diff(t, "other User", bob, must[authz.User](t, "User")(s.User(ctx, bob.ID)))
}

func testUsersDelete(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	alice, bob := user(t, s, a.ID, "alice", authz.RoleMember), user(t, s, a.ID, "bob", authz.RoleMember)
	ta, _ := token(t, s, alice.ID, "ci")
	tb, _ := token(t, s, bob.ID, "ci")
	ga := grant(t, s, authz.UserSubject(alice.ID), "api1", "c1", authz.ActionRead)
	gb := grant(t, s, authz.UserSubject(bob.ID), "api1", "c1", authz.ActionRead)
	gorg := grant(t, s, authz.OrganizationSubject(a.ID), "api1", "c1", authz.ActionRead)

	mustOK(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	_, err := s.User(ctx, alice.ID)
	wantErr(t, "User(deleted)", err, authz.ErrNotFound)
	_, err = s.UserByName(ctx, "alice")
	wantErr(t, "UserByName(deleted)", err, authz.ErrNotFound)
	_, err = s.TokenByHash(ctx, ta.Hash)
	wantErr(t, "TokenByHash(token of a deleted user)", err, authz.ErrNotFound)
	_, err = s.Grant(ctx, ga.ID)
	wantErr(t, "Grant(to a deleted user)", err, authz.ErrNotFound)
	wantErr(t, "DeleteUser(again)", s.DeleteUser(ctx, alice.ID), authz.ErrNotFound)

	diff(t, "tokens left", []authz.Token{tb}, must[[]authz.Token](t, "Tokens")(s.Tokens(ctx, authz.TokenFilter{Limit: 10})))
	diff(t, "grants left", []authz.Grant{gb, gorg}, must[[]authz.Grant](t, "Grants")(s.Grants(ctx, authz.GrantFilter{Limit: 10})))
	// The name is free again.
	user(t, s, a.ID, "alice", authz.RoleMember)
}
