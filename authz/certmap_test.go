package authz_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// certCA is a client CA made for a test.
type certCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCertCA(t testing.TB, name string) *certCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &certCA{cert: cert, key: key}
}

// chains signs a client certificate for tmpl's names and returns the
// chains a TLS handshake verifying it against the CA would give.
func (ca *certCA) chains(t testing.TB, tmpl x509.Certificate) [][]*x509.Certificate {
	t.Helper()
	leaf := ca.sign(t, tmpl)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	return chains
}

func (ca *certCA) sign(t testing.TB, tmpl x509.Certificate) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(time.Hour)
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func subjectCN(cn, org string) x509.Certificate {
	return x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: []string{org}}}
}

// certHub is a store with users and certificate bindings, and the
// authenticator of a process on it.
type certHub struct {
	s      authz.Store
	w      *authz.Watcher
	an     *authz.Authenticator
	users  map[string]authz.User
	x, y   *certCA // two partners' client CAs
	tokens map[string]string
}

func newCertHub(t *testing.T, mapper bool) *certHub {
	t.Helper()
	s := openStore(t, "")
	f := newFixture(t, s)
	f.org("A")
	f.org("B")
	h := &certHub{s: s, users: map[string]authz.User{}, tokens: map[string]string{},
		x: newCertCA(t, "Partner A CA"), y: newCertCA(t, "Partner B CA")}
	for _, u := range []struct{ name, org string }{{"alice", "A"}, {"bob", "B"}, {"dora", "A"}} {
		h.users[u.name] = f.user(u.name, u.org, authz.RoleMember, u.name+"'s password")
		_, h.tokens[u.name] = newToken(t, s, h.users[u.name].ID, "ci", time.Time{})
	}
	x := authz.KeyFingerprint(h.x.cert)
	for _, b := range []struct{ user, identity, issuer string }{
		{"alice", "subject:CN=alice,O=Partner A", x},   // alice's certificates of CA X only
		{"bob", "dns:feed.partner-b.example", ""},      // of any client CA
		{"dora", "subject:CN=dora,O=Partner A", x},     // dora is disabled
		{"alice", "email:shared@partner-a.example", x}, // with the next: a certificate carrying both
		{"bob", "dns:shared.partner-a.example", x},     // names two users
	} {
		if _, err := s.CreateCertificateBinding(t.Context(), authz.CertificateBinding{
			UserID: h.users[b.user].ID, Identity: b.identity, Issuer: b.issuer}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateUser(t.Context(), h.users["dora"].ID, func(u authz.User) (authz.User, error) {
		u.Disabled = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	h.w = authz.NewWatcher(s, time.Hour, nil) // changes reach it through Refresh
	t.Cleanup(h.w.Close)
	cfg := authz.AuthenticatorConfig{Store: s, Watcher: h.w, PasswordParams: cheap}
	if mapper {
		cfg.Certificates = authz.NewCertificateMapper(s)
	}
	var err error
	if h.an, err = authz.NewAuthenticator(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.an.Close() })
	if err := h.w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *certHub) principal(name string) authz.Principal {
	u := h.users[name]
	return authz.Principal{UserID: u.ID, UserName: u.Name, OrganizationID: u.OrganizationID, Role: u.Role}
}

// wantRefused checks a refusal: an *AuthError of the certificate scheme
// with the reason, whose text names what an administrator needs to bind
// the certificate.
func wantRefused(t *testing.T, what string, err error, reason string, mentions ...string) {
	t.Helper()
	var ae *authz.AuthError
	if !errors.As(err, &ae) || !errors.Is(err, authz.ErrUnauthenticated) {
		t.Errorf("%s: error %v; want an AuthError", what, err)
		return
	}
	if ae.Reason != reason {
		t.Errorf("%s: reason %q; want %q", what, ae.Reason, reason)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%s: %q does not mention %q", what, err.Error(), m)
		}
	}
}

// TestAuthenticateCertificate: a verified certificate stands for the user
// its names are bound to, within the issuer rule; certificates of no
// user, of several users or of a disabled user are refused, and the
// refusal lists the certificate's identities and client CA.
func TestAuthenticateCertificate(t *testing.T) {
	h := newCertHub(t, true)
	x, y := authz.KeyFingerprint(h.x.cert), authz.KeyFingerprint(h.y.cert)
	feed := x509.Certificate{DNSNames: []string{"Feed.Partner-B.example"}}
	shared := x509.Certificate{EmailAddresses: []string{"shared@partner-a.example"}, DNSNames: []string{"shared.partner-a.example"}}
	many := x509.Certificate{Subject: pkix.Name{CommonName: "alice", Organization: []string{"Partner A"}}}
	for i := range authz.MaxCertificateIdentities + 1 {
		many.DNSNames = append(many.DNSNames, fmt.Sprintf("h%d.partner-a.example", i))
	}
	tests := []struct {
		name     string
		chains   [][]*x509.Certificate
		want     string // user; "" refused
		reason   string
		mentions []string
	}{
		{name: "subject bound with its CA", chains: h.x.chains(t, subjectCN("alice", "Partner A")), want: "alice"},
		{name: "same subject from another partner's CA", chains: h.y.chains(t, subjectCN("alice", "Partner A")),
			reason: "certificate maps to no user", mentions: []string{`"subject:CN=alice,O=Partner A"`, y}},
		{name: "name bound for any CA, CA X", chains: h.x.chains(t, feed), want: "bob"},
		{name: "name bound for any CA, CA Y", chains: h.y.chains(t, feed), want: "bob"},
		{name: "unknown subject", chains: h.x.chains(t, subjectCN("mallory", "Partner A")),
			reason: "certificate maps to no user", mentions: []string{`"subject:CN=mallory,O=Partner A"`, x}},
		{name: "disabled user", chains: h.x.chains(t, subjectCN("dora", "Partner A")), reason: "user disabled"},
		{name: "names of two users", chains: h.x.chains(t, shared), reason: "certificate maps to several users",
			mentions: []string{`"email:shared@partner-a.example"`, `"dns:shared.partner-a.example"`}},
		{name: "too many names", chains: h.x.chains(t, many), reason: "certificate not judged",
			mentions: []string{"... 82 more"}},
		{name: "expired since the handshake", chains: [][]*x509.Certificate{{h.x.sign(t, x509.Certificate{
			Subject:   pkix.Name{CommonName: "alice", Organization: []string{"Partner A"}},
			NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Minute)}), h.x.cert}},
			reason: "certificate expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second answer comes from the verdict cache.
			for i := range 2 {
				got, err := h.an.AuthenticateCertificate(t.Context(), tt.chains)
				what := fmt.Sprintf("AuthenticateCertificate #%d", i+1)
				if tt.want == "" {
					wantRefused(t, what, err, tt.reason, tt.mentions...)
					continue
				}
				if want := h.principal(tt.want); err != nil || got != want {
					t.Errorf("%s = %+v, %v; want %+v", what, got, err, want)
				}
			}
		})
	}

	without := newCertHub(t, false)
	_, err := without.an.AuthenticateCertificate(t.Context(), without.x.chains(t, subjectCN("alice", "Partner A")))
	wantRefused(t, "without a mapper", err, "client certificates are not accepted")
}

// TestCertificateVerdictsFollowChanges: verdicts on certificates, refusals
// included, are dropped when bindings or users change.
func TestCertificateVerdictsFollowChanges(t *testing.T) {
	ctx := t.Context()
	h := newCertHub(t, true)
	alice := h.x.chains(t, subjectCN("alice", "Partner A"))
	carol := h.x.chains(t, subjectCN("carol", "Partner A"))
	auth := func(chains [][]*x509.Certificate) (authz.Principal, error) {
		return h.an.AuthenticateCertificate(ctx, chains)
	}
	if _, err := auth(carol); err == nil {
		t.Fatal("an unbound certificate was accepted")
	}
	b, err := h.s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: h.users["bob"].ID,
		Identity: "subject:CN=carol,O=Partner A", Issuer: authz.KeyFingerprint(h.x.cert)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := auth(carol); err != nil || got != h.principal("bob") {
		t.Errorf("after binding: %+v, %v; want bob", got, err)
	}
	if err := h.s.DeleteCertificateBinding(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = auth(carol)
	wantRefused(t, "after unbinding", err, "certificate maps to no user")

	if got, err := auth(alice); err != nil || got != h.principal("alice") {
		t.Fatalf("alice: %+v, %v", got, err)
	}
	if _, err := h.s.UpdateUser(ctx, h.users["alice"].ID, func(u authz.User) (authz.User, error) {
		u.Disabled = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = auth(alice)
	wantRefused(t, "after disabling the user", err, "user disabled")
	if err := h.s.DeleteUser(ctx, h.users["alice"].ID); err != nil {
		t.Fatal(err)
	}
	if err := h.w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = auth(alice)
	wantRefused(t, "after deleting the user", err, "certificate maps to no user")
}

// TestAuthenticateRequest: a request with credentials and a certificate
// is the user both stand for; a certificate of another user refuses it,
// and one that stands for nobody leaves the decision to the credentials.
func TestAuthenticateRequest(t *testing.T) {
	h := newCertHub(t, true)
	aliceCert := h.x.chains(t, subjectCN("alice", "Partner A"))
	nobody := h.x.chains(t, subjectCN("mallory", "Partner A"))
	shared := h.x.chains(t, x509.Certificate{DNSNames: []string{"shared.partner-a.example"}, EmailAddresses: []string{"shared@partner-a.example"}})
	dora := h.x.chains(t, subjectCN("dora", "Partner A"))
	bearer := func(user string) string { return "Bearer " + h.tokens[user] }
	tokenOf := func(user string) string {
		t.Helper()
		tok, err := h.s.TokenByHash(t.Context(), authz.TokenHash(h.tokens[user]))
		if err != nil {
			t.Fatal(err)
		}
		return tok.ID
	}
	withToken := func(user string) authz.Principal {
		p := h.principal(user)
		p.TokenID = tokenOf(user)
		return p
	}
	tests := []struct {
		name   string
		auth   string
		chains [][]*x509.Certificate
		want   authz.Principal
		reason string // of a refusal
	}{
		{name: "nothing", want: authz.Principal{}},
		{name: "token alone", auth: bearer("alice"), want: withToken("alice")},
		{name: "certificate alone", chains: aliceCert, want: h.principal("alice")},
		{name: "certificate of nobody alone", chains: nobody, reason: "certificate maps to no user"},
		{name: "certificate and token of the same user", auth: bearer("alice"), chains: aliceCert, want: withToken("alice")},
		{name: "certificate and password of the same user", auth: basic("alice", "alice's password"), chains: aliceCert,
			want: h.principal("alice")},
		{name: "certificate and token of different users", auth: bearer("bob"), chains: aliceCert,
			reason: "certificate and credentials stand for different users"},
		{name: "certificate and password of different users", auth: basic("bob", "bob's password"), chains: aliceCert,
			reason: "certificate and credentials stand for different users"},
		{name: "certificate of nobody and a token", auth: bearer("bob"), chains: nobody, want: withToken("bob")},
		{name: "ambiguous certificate and a token", auth: bearer("alice"), chains: shared, reason: "certificate maps to several users"},
		{name: "certificate of a disabled user and a token", auth: bearer("alice"), chains: dora, reason: "user disabled"},
		{name: "certificate and a wrong token", auth: "Bearer taxiid_wrong", chains: aliceCert, reason: "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.an.AuthenticateRequest(t.Context(), tt.auth, "192.0.2.7", tt.chains)
			if tt.reason != "" {
				var ae *authz.AuthError
				if !errors.As(err, &ae) || ae.Reason != tt.reason {
					t.Errorf("AuthenticateRequest = %+v, %v; want refused: %s", got, err, tt.reason)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("AuthenticateRequest = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}

	// Without a mapper, a certificate with credentials changes nothing.
	without := newCertHub(t, false)
	got, err := without.an.AuthenticateRequest(t.Context(), "Bearer "+without.tokens["bob"], "192.0.2.7",
		without.x.chains(t, subjectCN("alice", "Partner A")))
	if err != nil || got.UserID != without.users["bob"].ID {
		t.Errorf("without a mapper, a certificate and bob's token = %+v, %v; want bob", got, err)
	}
}

// TestNormalizeIssuer: the fingerprints people paste are accepted in the
// forms tools print them.
func TestNormalizeIssuer(t *testing.T) {
	ca := newCertCA(t, "CA")
	fp := authz.KeyFingerprint(ca.cert)
	colons := strings.ToUpper(fp[:2])
	for i := 2; i < len(fp); i += 2 {
		colons += ":" + strings.ToUpper(fp[i:i+2])
	}
	for _, in := range []string{fp, strings.ToUpper(fp), colons, " " + fp + "\n"} {
		if got, err := authz.NormalizeIssuer(in); err != nil || got != fp {
			t.Errorf("NormalizeIssuer(%q) = %q, %v; want %q", in, got, err, fp)
		}
	}
	for _, in := range []string{fp[:63], fp + "0", "sha256:" + fp, strings.Repeat("g", 64)} {
		if got, err := authz.NormalizeIssuer(in); !errors.Is(err, authz.ErrInvalid) {
			t.Errorf("NormalizeIssuer(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
	if got, err := authz.NormalizeIssuer(""); err != nil || got != "" {
		t.Errorf(`NormalizeIssuer("") = %q, %v; want ""`, got, err)
	}
}

// BenchmarkAuthenticateCertificate measures the cost of a request's
// client certificate: with the verdict cached (every request but the first
// of a certificate per minute), and without the cache (the bindings of the
// certificate's names looked up in the store, then its user).
func BenchmarkAuthenticateCertificate(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, "")
	o, err := s.CreateOrganization(ctx, authz.Organization{Name: "A"})
	if err != nil {
		b.Fatal(err)
	}
	u, err := s.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: o.ID, Role: authz.RoleMember})
	if err != nil {
		b.Fatal(err)
	}
	ca := newCertCA(b, "Partner A CA")
	chains := ca.chains(b, x509.Certificate{Subject: pkix.Name{CommonName: "alice", Organization: []string{"Partner A"}},
		DNSNames: []string{"alice.partner-a.example", "feed.partner-a.example"}})
	if _, err := s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: u.ID,
		Identity: "subject:CN=alice,O=Partner A", Issuer: authz.KeyFingerprint(ca.cert)}); err != nil {
		b.Fatal(err)
	}
	w := authz.NewWatcher(s, 0, nil)
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Hour}, {"uncached", time.Nanosecond}} {
		an, err := authz.NewAuthenticator(authz.AuthenticatorConfig{Store: s, Watcher: w, VerdictTTL: bc.ttl,
			Certificates: authz.NewCertificateMapper(s)})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			if _, err := an.AuthenticateCertificate(ctx, chains); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := an.AuthenticateCertificate(ctx, chains); err != nil {
					b.Fatal(err)
				}
			}
		})
		an.Close()
	}
}
