package authz_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"

	"github.com/taxiid/taxiid/authz"
)

// BenchmarkAuthenticate measures the cost of authentication per request:
// with a token and with Basic when the verdict is cached (every request but
// the first of a user per minute), and without the cache: a token looked up
// in the store, a password checked with argon2id at the default cost.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, "")
	o, err := s.CreateOrganization(ctx, authz.Organization{Name: "A"})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := authz.HashPassword("alice's password", authz.DefaultPasswordParams)
	if err != nil {
		b.Fatal(err)
	}
	u, err := s.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: o.ID, Role: authz.RoleMember, PasswordHash: hash})
	if err != nil {
		b.Fatal(err)
	}
	_, secret := newToken(b, s, u.ID, "ci", time.Time{})
	w := authz.NewWatcher(s, 0, nil)
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	newAuthn := func(ttl time.Duration) *authz.Authenticator {
		an, err := authz.NewAuthenticator(authz.AuthenticatorConfig{Store: s, Watcher: w, VerdictTTL: ttl})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { an.Close() })
		return an
	}
	cached, uncached := newAuthn(time.Hour), newAuthn(time.Nanosecond)
	for _, bc := range []struct {
		name   string
		an     *authz.Authenticator
		header string
	}{
		{"token", cached, "Bearer " + secret},
		{"basic", cached, basic("alice", "alice's password")},
		{"token-uncached", uncached, "Bearer " + secret},
		{"basic-uncached", uncached, basic("alice", "alice's password")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// The first check of a credential is not what a cached one costs.
			if _, err := bc.an.Authenticate(ctx, bc.header, "192.0.2.1:4000"); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := bc.an.Authenticate(ctx, bc.header, "192.0.2.1:4000"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthorize measures one decision: remembered (every request but
// the first of a principal on a collection per policy generation), computed
// by the Authorizer's enforcer, and computed by an enforcer with Casbin's
// own role manager, for comparison.
func BenchmarkAuthorize(b *testing.B) {
	s := openStore(b, "")
	f := isolationFixture(b, s)
	p := startProcess(b, s, time.Hour)
	member := f.principal("b-writer")
	ctx := authz.NewContext(context.Background(), member)
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			if !p.az.CanWrite(ctx, "api1", cUser) {
				b.Fatal("denied")
			}
		}
	})
	b.Run("computed", func(b *testing.B) {
		// Each request names another collection, so none is remembered.
		colls := make([]string, b.N)
		for i := range colls {
			colls[i] = fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		}
		b.ResetTimer()
		for i := range b.N {
			if p.az.CanRead(ctx, "api1", colls[i]) {
				b.Fatal("allowed")
			}
		}
	})
	m, err := authz.NewModel()
	if err != nil {
		b.Fatal(err)
	}
	e, err := casbin.NewEnforcer(m, authz.NewAdapter(s))
	if err != nil {
		b.Fatal(err)
	}
	sub := "user:" + member.UserID
	b.Run("casbin-role-manager", func(b *testing.B) {
		for b.Loop() {
			if ok, err := e.Enforce(sub, "api1", cNone, "read"); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
