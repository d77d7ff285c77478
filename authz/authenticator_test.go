package authz_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
)

func basic(name, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+password))
}

// newToken stores a token of the user and returns its secret.
func newToken(t testing.TB, s authz.Store, userID, name string, expires time.Time) (authz.Token, string) {
	t.Helper()
	secret, hash, prefix, err := authz.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken(context.Background(), authz.Token{UserID: userID, Name: name, Hash: hash, Prefix: prefix, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	return tok, secret
}

func TestAuthenticate(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, "")
	f := newFixture(t, s)
	f.org("A")
	alice := f.user("alice", "A", authz.RoleOrgAdmin, "alice's password")
	f.user("nopass", "A", authz.RoleMember, "")
	off := f.user("off", "A", authz.RoleMember, "off's password")
	tok, secret := newToken(t, s, alice.ID, "ci", time.Time{})
	_, revoked := newToken(t, s, alice.ID, "revoked", time.Time{})
	_, expired := newToken(t, s, alice.ID, "expired", time.Now().Add(-time.Minute))
	_, offToken := newToken(t, s, off.ID, "ci", time.Time{})
	if _, err := s.UpdateUser(ctx, off.ID, func(u authz.User) (authz.User, error) { u.Disabled = true; return u, nil }); err != nil {
		t.Fatal(err)
	}
	revTok, err := s.TokenByHash(ctx, authz.TokenHash(revoked))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeToken(ctx, revTok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	unknown, _, _, _ := authz.NewTokenSecret()
	p := startProcess(t, s, time.Hour)

	byPassword := authz.Principal{UserID: alice.ID, UserName: "alice", OrganizationID: alice.OrganizationID, Role: authz.RoleOrgAdmin}
	byToken := byPassword
	byToken.TokenID = tok.ID
	for _, tc := range []struct {
		name   string
		header string
		want   authz.Principal
		reason string // "" for success
	}{
		{"no header", "", authz.Principal{}, ""},
		{"basic", basic("alice", "alice's password"), byPassword, ""},
		{"basic, scheme in lower case", "basic " + basic("alice", "alice's password")[6:], byPassword, ""},
		{"basic, colon in the password", basic("alice", "alice's password:"), authz.Principal{}, "wrong password"},
		{"basic, wrong password", basic("alice", "Alice's password"), authz.Principal{}, "wrong password"},
		{"basic, unknown user", basic("bob", "alice's password"), authz.Principal{}, "no such user"},
		{"basic, user without password", basic("nopass", ""), authz.Principal{}, "user has no password"},
		{"basic, disabled user", basic("off", "off's password"), authz.Principal{}, "user disabled"},
		{"basic, not base64", "Basic %%%", authz.Principal{}, "credentials are not base64"},
		{"basic, no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")), authz.Principal{}, "credentials lack a colon"},
		{"bearer", "Bearer " + secret, byToken, ""},
		{"token (taxii2-client TokenAuth)", "Token " + secret, byToken, ""},
		{"bearer, scheme in upper case", "BEARER " + secret, byToken, ""},
		{"bearer, revoked", "Bearer " + revoked, authz.Principal{}, "token revoked or expired"},
		{"bearer, expired", "Bearer " + expired, authz.Principal{}, "token revoked or expired"},
		{"bearer, unknown", "Bearer " + unknown, authz.Principal{}, "unknown token"},
		{"bearer, malformed", "Bearer " + secret[:len(secret)-1] + "x", authz.Principal{}, "malformed token"},
		{"bearer, disabled user", "Bearer " + offToken, authz.Principal{}, "user disabled"},
		{"bearer, as a password", basic("alice", secret), authz.Principal{}, "wrong password"},
		{"other scheme", "Digest username=alice", authz.Principal{}, "unsupported scheme"},
		{"too long", "Bearer " + strings.Repeat("x", authz.MaxAuthorizationLen), authz.Principal{}, "authorization header too long"},
	} {
		// Twice: the second answer may come from the verdict cache.
		for range 2 {
			got, err := p.an.Authenticate(ctx, tc.header, "192.0.2.1:40000")
			if tc.reason == "" {
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
			} else {
				var ae *authz.AuthError
				if !errors.As(err, &ae) || !errors.Is(err, authz.ErrUnauthenticated) || ae.Reason != tc.reason {
					t.Errorf("%s: error %v, want an AuthError because %s", tc.name, err, tc.reason)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: principal (-want +got):\n%s", tc.name, diff)
			}
		}
	}
}

// TestCredentialChanges checks that a revoked token, an expired token, a
// deleted user and a changed password stop working at once in the process
// that made the change, and in another process on the same store once its
// watcher has read the store (within propagationLimit), although both had
// verified them before.
func TestCredentialChanges(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "taxiid.db")
	s1, s2 := openStore(t, path), openStore(t, path)
	f := newFixture(t, s1)
	f.org("A")
	alice := f.user("alice", "A", authz.RoleMember, "old password")
	bob := f.user("bob", "A", authz.RoleMember, "bob's password")
	carol := f.user("carol", "A", authz.RoleMember, "carol's password")
	tok, secret := newToken(t, s1, alice.ID, "ci", time.Time{})
	_, bobToken := newToken(t, s1, bob.ID, "ci", time.Time{})
	p1 := startProcess(t, s1, time.Hour)
	p2 := startProcess(t, s2, 0)
	// Made last, with time to spare on a busy machine: it must still work
	// when the first step starts.
	expiry := time.Now().Add(1500 * time.Millisecond)
	_, soon := newToken(t, s1, carol.ID, "short", expiry)

	newHash, err := authz.HashPassword("new password", cheap)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		name    string
		headers []string // all work before, none after
		change  func() error
		after   string // works after the change ("" none)
	}{
		// First, so that the token has not expired before the step.
		{"token expires", []string{"Bearer " + soon},
			func() error { time.Sleep(time.Until(expiry) + 10*time.Millisecond); return nil }, ""},
		{"revoke token", []string{"Bearer " + secret, "Token " + secret},
			func() error { _, err := s1.RevokeToken(ctx, tok.ID, time.Now()); return err }, ""},
		{"change password", []string{basic("alice", "old password")},
			func() error {
				_, err := s1.UpdateUser(ctx, alice.ID, func(u authz.User) (authz.User, error) { u.PasswordHash = newHash; return u, nil })
				return err
			}, basic("alice", "new password")},
		{"disable user", []string{basic("alice", "new password")},
			func() error {
				_, err := s1.UpdateUser(ctx, alice.ID, func(u authz.User) (authz.User, error) { u.Disabled = true; return u, nil })
				return err
			}, ""},
		{"delete user", []string{basic("bob", "bob's password"), "Bearer " + bobToken},
			func() error { return s1.DeleteUser(ctx, bob.ID) }, ""},
	} {
		for _, p := range []*process{p1, p2} {
			for _, h := range st.headers {
				if _, err := p.an.Authenticate(ctx, h, "192.0.2.1"); err != nil {
					t.Fatalf("%s: before the change: %v", st.name, err)
				}
			}
		}
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		changed := time.Now()
		p1.refresh(t)
		for _, h := range st.headers {
			if _, err := p1.an.Authenticate(ctx, h, "192.0.2.1"); !errors.Is(err, authz.ErrUnauthenticated) {
				t.Errorf("%s: %.20s... accepted by the process that made the change (error %v)", st.name, h, err)
			}
		}
		if st.after != "" {
			if _, err := p1.an.Authenticate(ctx, st.after, "192.0.2.1"); err != nil {
				t.Errorf("%s: new credentials refused: %v", st.name, err)
			}
		}
		for _, h := range st.headers {
			for {
				_, err := p2.an.Authenticate(ctx, h, "192.0.2.1")
				if errors.Is(err, authz.ErrUnauthenticated) {
					break
				}
				if time.Since(changed) > propagationLimit {
					t.Fatalf("%s: %.20s... still accepted by another process after %v (error %v)", st.name, h, propagationLimit, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}

func TestTokenLastUsed(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, "")
	f := newFixture(t, s)
	f.org("A")
	alice := f.user("alice", "A", authz.RoleMember, "")
	used, secret := newToken(t, s, alice.ID, "used", time.Time{})
	idle, _ := newToken(t, s, alice.ID, "idle", time.Time{})
	w := authz.NewWatcher(s, time.Hour, nil)
	an, err := authz.NewAuthenticator(authz.AuthenticatorConfig{Store: s, Watcher: w, PasswordParams: cheap})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now().Truncate(time.Millisecond)
	for range 3 {
		if _, err := an.Authenticate(ctx, "Bearer "+secret, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	// Uses are written in batches, not per request.
	if got, _ := s.Token(ctx, used.ID); !got.LastUsedAt.IsZero() {
		t.Errorf("LastUsedAt written before the batch: %v", got.LastUsedAt)
	}
	an.Close() // writes the batch
	got, err := s.Token(ctx, used.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt.Before(start) || got.LastUsedAt.After(time.Now()) {
		t.Errorf("LastUsedAt %v, want the time of the last use (after %v)", got.LastUsedAt, start)
	}
	if got, _ := s.Token(ctx, idle.ID); !got.LastUsedAt.IsZero() {
		t.Errorf("LastUsedAt of an unused token: %v", got.LastUsedAt)
	}
}

// admissions counts the checks an Authenticator admits, and refuses those
// beyond limit outstanding (admitted and not refunded).
type admissions struct {
	mu                 sync.Mutex
	admitted, refunded int
	outstanding, limit int
}

func (a *admissions) Admit(string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.outstanding >= a.limit {
		return errors.New("too many checks")
	}
	a.admitted++
	a.outstanding++
	return nil
}

func (a *admissions) Refund(string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refunded++
	a.outstanding--
}

// TestConcurrentChecksCoalesce: requests arriving together with the same
// credentials, none cached, share one check: one hash, one admission, so
// that a bound on outstanding checks per address does not refuse the
// right password under load.
func TestConcurrentChecksCoalesce(t *testing.T) {
	s := openStore(t, "")
	f := newFixture(t, s)
	f.org("A")
	alice := f.user("alice", "A", authz.RoleMember, "alice's password")
	w := authz.NewWatcher(s, time.Hour, nil)
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	adm := &admissions{limit: 1}
	an, err := authz.NewAuthenticator(authz.AuthenticatorConfig{Store: s, Watcher: w, PasswordParams: cheap, Admission: adm,
		Throttle: authz.ThrottleConfig{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { an.Close() })
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			p, err := an.Authenticate(t.Context(), basic("alice", "alice's password"), "192.0.2.1:1234")
			if err == nil && p.UserID != alice.ID {
				err = fmt.Errorf("authenticated as %q; want alice %q", p.UserID, alice.ID)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Authenticate: %v", err)
		}
	}
	if adm.admitted != adm.refunded || adm.admitted > 2 {
		t.Errorf("%d checks admitted, %d refunded; want one or two, all refunded", adm.admitted, adm.refunded)
	}
}
