package authztest

import (
	"errors"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// testGeneration checks that every change to principals, grants and
// certificate bindings moves the generation, and that reads, failed
// writes, token uses and audit events do not.
func testGeneration(t *testing.T, s authz.Store) {
	ctx := t.Context()
	var (
		a, b authz.Organization
		u    authz.User
		tok  authz.Token
		g    authz.Grant
		cb   authz.CertificateBinding
	)
	steps := []struct {
		name   string
		change bool
		fn     func() error
	}{
		{"CreateOrganization", true, func() (err error) { a, err = s.CreateOrganization(ctx, authz.Organization{Name: "A"}); return }},
		{"CreateOrganization B", true, func() (err error) { b, err = s.CreateOrganization(ctx, authz.Organization{Name: "B"}); return }},
		{"CreateOrganization duplicate", false, func() error { _, err := s.CreateOrganization(ctx, authz.Organization{Name: "A"}); return ignore(err) }},
		{"UpdateOrganization", true, func() error {
			_, err := s.UpdateOrganization(ctx, a.ID, func(o authz.Organization) (authz.Organization, error) {
				o.Description = "x"
				return o, nil
			})
			return err
		}},
		{"CreateUser", true, func() (err error) {
			u, err = s.CreateUser(ctx, authz.User{Name: "u", OrganizationID: a.ID, Role: authz.RoleMember})
			return
		}},
		{"CreateUser invalid", false, func() error {
			_, err := s.CreateUser(ctx, authz.User{Name: "v", OrganizationID: "nope", Role: authz.RoleMember})
			return ignore(err)
		}},
		{"UpdateUser (password)", true, func() error {
			h, err := authz.HashPassword("p", CheapPasswords)
			if err != nil {
				return err
			}
			_, err = s.UpdateUser(ctx, u.ID, func(u authz.User) (authz.User, error) {
				u.PasswordHash = h
				return u, nil
			})
			return err
		}},
		{"UpdateUser (organization)", true, func() error {
			_, err := s.UpdateUser(ctx, u.ID, func(u authz.User) (authz.User, error) {
				u.OrganizationID = b.ID
				return u, nil
			})
			return err
		}},
		{"CreateToken", true, func() (err error) {
			var hash, prefix string
			if _, hash, prefix, err = authz.NewTokenSecret(); err != nil {
				return err
			}
			tok, err = s.CreateToken(ctx, authz.Token{UserID: u.ID, Name: "t", Hash: hash, Prefix: prefix})
			return
		}},
		{"TouchTokens", false, func() error { return s.TouchTokens(ctx, map[string]time.Time{tok.ID: time.Now()}) }},
		{"AppendAudit", false, func() error {
			return s.AppendAudit(ctx, []authz.AuditEvent{{ID: authz.NewID(), Time: time.Now(), Action: "x"}})
		}},
		{"reads", false, func() error {
			_, err1 := s.User(ctx, u.ID)
			_, err2 := s.Grants(ctx, authz.GrantFilter{Limit: 1})
			_, err3 := s.TokenByHash(ctx, tok.Hash)
			return errors.Join(err1, err2, err3)
		}},
		{"RevokeToken", true, func() error { _, err := s.RevokeToken(ctx, tok.ID, time.Now()); return err }},
		{"DeleteToken", true, func() error { return s.DeleteToken(ctx, tok.ID) }},
		{"DeleteToken missing", false, func() error { return ignore(s.DeleteToken(ctx, tok.ID)) }},
		{"CreateGrant", true, func() (err error) {
			g, err = s.CreateGrant(ctx, authz.Grant{Subject: authz.UserSubject(u.ID), APIRoot: "r", Collection: "c", Action: authz.ActionRead})
			return
		}},
		{"DeleteGrant", true, func() error { return s.DeleteGrant(ctx, g.ID) }},
		{"CreateCertificateBinding", true, func() (err error) {
			cb, err = s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: u.ID, Identity: "dns:u.example"})
			return
		}},
		{"CreateCertificateBinding duplicate", false, func() error {
			_, err := s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: u.ID, Identity: "dns:u.example"})
			return ignore(err)
		}},
		{"MatchCertificateBindings", false, func() error {
			_, err := s.MatchCertificateBindings(ctx, []string{"dns:u.example"}, nil)
			return err
		}},
		{"DeleteCertificateBinding", true, func() error { return s.DeleteCertificateBinding(ctx, cb.ID) }},
		{"DeleteCertificateBinding missing", false, func() error { return ignore(s.DeleteCertificateBinding(ctx, cb.ID)) }},
		{"CreateCertificateBinding again", true, func() (err error) {
			_, err = s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: u.ID, Identity: "dns:u.example"})
			return
		}},
		{"DeleteUser", true, func() error { return s.DeleteUser(ctx, u.ID) }},
		{"DeleteOrganization", true, func() error { return s.DeleteOrganization(ctx, a.ID) }},
	}
	last := gen(t, s)
	if last < 0 {
		t.Errorf("Generation of a new store = %d, want at least 0", last)
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		g := gen(t, s)
		switch {
		case st.change && g <= last:
			t.Errorf("after %s: generation %d, want more than %d", st.name, g, last)
		case !st.change && g != last:
			t.Errorf("after %s: generation %d, want %d (unchanged)", st.name, g, last)
		}
		last = g
	}
}

// ignore turns the expected error of a failing step into success, and
// success into an error.
func ignore(err error) error {
	if err == nil {
		return errUnexpectedSuccess
	}
	return nil
}

var errUnexpectedSuccess = errors.New("the write succeeded, want an error")

func testSharedGeneration(t *testing.T, open func(t *testing.T) (a, b authz.Store)) {
	ctx := t.Context()
	s1, s2 := open(t)
	g1, g2 := gen(t, s1), gen(t, s2)
	if g1 != g2 {
		t.Fatalf("two handles on one database: generations %d and %d", g1, g2)
	}
	o := org(t, s1, "A")
	if g := gen(t, s2); g <= g2 {
		t.Errorf("generation seen by the other handle after a change: %d, want more than %d", g, g2)
	}
	diff(t, "Organization through the other handle", o, must[authz.Organization](t, "Organization")(s2.Organization(ctx, o.ID)))
	g2 = gen(t, s2)
	u := user(t, s2, o.ID, "alice", authz.RoleMember)
	if g := gen(t, s1); g <= g2 {
		t.Errorf("generation seen by the first handle after a change: %d, want more than %d", g, g2)
	}
	diff(t, "User through the first handle", u, must[authz.User](t, "User")(s1.UserByName(ctx, "alice")))
}
