package taxii_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/taxii"
)

// TestAdminCertificateRoutes: the admin routes of certificate bindings,
// over HTTP, every answer matched against openapi.json; refused requests
// change nothing.
func TestAdminCertificateRoutes(t *testing.T) {
	h := newHub(t, hubOptions{})
	sp := loadSpec(t, h)
	saved := map[string]string{}
	issuer := strings.Repeat("0f", 32)
	certs := func(user string) string { return "/admin/users/{" + user + "}/certificates" }
	var b1 string
	h.run(t, sp, saved, []step{
		{who: "root", method: "POST", path: certs("alice"), body: map[string]any{"identity": "DNS:Feed.A.example."},
			want: 201, save: "b1", check: func(t *testing.T, r response) {
				wantBody(t, r, "identity", "dns:feed.a.example")
				wantBody(t, r, "user_id", h.users["alice"].ID)
				if _, ok := r.body["issuer"]; ok {
					t.Errorf("a binding for any CA has an issuer: %s", r.raw)
				}
				b1, _ = r.body["id"].(string)
			}},
		{who: "root", method: "POST", path: certs("alice"),
			body: map[string]any{"identity": "subject:CN=alice,O=A", "issuer": strings.ToUpper(issuer)}, want: 201, save: "b2",
			check: func(t *testing.T, r response) { wantBody(t, r, "issuer", issuer) }},
		// Refusals: who may not, and bad input.
		{who: "olga", method: "POST", path: certs("bob"), body: map[string]any{"identity": "dns:b.example"}, want: 404, field: "-"},
		// Org-admins do not bind: names are not tied to organizations.
		{who: "olga", method: "POST", path: certs("alice"), body: map[string]any{"identity": "dns:olga.example"}, want: 403, field: "-"},
		{who: "alice", method: "POST", path: certs("alice"), body: map[string]any{"identity": "dns:mine.example"}, want: 403, field: "-"},
		{who: "bob", method: "GET", path: certs("alice"), want: 403, field: "-"},
		{who: "", method: "GET", path: certs("alice"), want: 401, field: "-"},
		{who: "root", method: "POST", path: certs("alice"), body: map[string]any{"identity": "cn:alice"}, want: 400, field: "identity"},
		{who: "root", method: "POST", path: certs("alice"), body: map[string]any{"identity": "dns:x.example", "issuer": "abc"},
			want: 400, field: "issuer"},
		{who: "root", method: "POST", path: certs("alice"), body: map[string]any{"identity": "dns:x.example", "user": "bob"},
			want: 400, field: "user"},
		{who: "root", method: "POST", path: certs("alice"), body: map[string]any{}, want: 400, field: "identity"},
		{who: "root", method: "POST", path: certs("bob"), body: map[string]any{"identity": "dns:FEED.a.example"}, want: 409, field: "identity"},
		// Listings and reads: alice reads her own.
		{who: "alice", method: "GET", path: certs("alice"), want: 200, check: func(t *testing.T, r response) {
			if diff := cmp.Diff([]string{saved["b1"], saved["b2"]}, itemIDs(r)); diff != "" {
				t.Errorf("alice's bindings (-want +got):\n%s", diff)
			}
		}},
		{who: "olga", method: "GET", path: certs("alice") + "?limit=1", want: 200, check: func(t *testing.T, r response) {
			if diff := cmp.Diff([]string{saved["b1"]}, itemIDs(r)); diff != "" || r.body["next"] == nil {
				t.Errorf("first page (-want +got):\n%s\n%s", diff, r.raw)
			}
		}},
		{who: "root", method: "GET", path: certs("alice") + "/{b1}", want: 200,
			check: func(t *testing.T, r response) { wantBody(t, r, "id", b1) }},
		{who: "root", method: "GET", path: certs("bob") + "/{b1}", want: 404, field: "-"},
		{who: "root", method: "DELETE", path: certs("bob") + "/{b1}", want: 404, field: "-"},
		{who: "alice", method: "DELETE", path: certs("alice") + "/{b1}", want: 403, field: "-"},
		{who: "olga", method: "DELETE", path: certs("alice") + "/{b1}", want: 204},
		{who: "root", method: "GET", path: certs("alice") + "/{b1}", want: 404, field: "-"},
		{who: "root", method: "GET", path: certs("alice"), want: 200, check: func(t *testing.T, r response) {
			if diff := cmp.Diff([]string{saved["b2"]}, itemIDs(r)); diff != "" {
				t.Errorf("alice's bindings after the delete (-want +got):\n%s", diff)
			}
		}},
	})
}

// testCA is a client CA made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return &testCA{cert: cert, key: key}
}

// client returns a TLS certificate for a client named cn of organization
// org.
func (ca *testCA) client(t *testing.T, cn, org string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:   pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	must(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// lockedBuffer is a log the server writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestClientCertificateAuthentication: over TLS, a client certificate
// bound to a user gives that user's access, alone or with that user's
// credentials; one of nobody is refused with a 401 that says nothing of
// it, while the log and the audit log list its identities; one with
// another user's credentials is refused; one of nobody with credentials
// leaves the decision to them.
func TestClientCertificateAuthentication(t *testing.T) {
	ca := newTestCA(t, "Partner A CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	log := &lockedBuffer{}
	h := newHub(t, hubOptions{clientCAs: pool, audit: true, log: log})
	_, err := h.store.CreateCertificateBinding(t.Context(), authz.CertificateBinding{UserID: h.users["alice"].ID,
		Identity: "subject:CN=alice,O=Partner A", Issuer: authz.KeyFingerprint(ca.cert)})
	must(t, err)
	h.refresh(t)

	roots := x509.NewCertPool()
	roots.AddCert(h.tls.Certificate())
	aliceCert, mallory := ca.client(t, "alice", "Partner A"), ca.client(t, "mallory", "Partner A")
	get := func(cert *tls.Certificate, auth string) response {
		t.Helper()
		tc := &tls.Config{RootCAs: roots}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		defer c.CloseIdleConnections()
		req, err := http.NewRequestWithContext(context.Background(), "GET", h.tls.URL+"/api1/collections/", nil)
		must(t, err)
		req.Header.Set("Accept", taxii.MediaTypeTAXII)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		must(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		must(t, err)
		r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
		must(t, json.Unmarshal(raw, &r.body))
		return r
	}
	collectionIDs := func(r response) []string {
		var ids []string
		cs, _ := r.body["collections"].([]any)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			ids = append(ids, m["id"].(string))
		}
		slices.Sort(ids)
		return ids
	}
	aliceSees := []string{collA, collAR, collAW, collPublic}
	slices.Sort(aliceSees)
	bearer := func(user string) string { return "Bearer " + h.tokens[user] }

	tests := []struct {
		name string
		cert *tls.Certificate
		auth string
		want []string // the collections seen; nil: 401
	}{
		{name: "alice's certificate", cert: &aliceCert, want: aliceSees},
		{name: "alice's certificate and token", cert: &aliceCert, auth: bearer("alice"), want: aliceSees},
		{name: "alice's certificate and password", cert: &aliceCert, auth: basicAuth("alice", password("alice")), want: aliceSees},
		{name: "alice's certificate and bob's token", cert: &aliceCert, auth: bearer("bob")},
		{name: "alice's certificate and bob's password", cert: &aliceCert, auth: basicAuth("bob", password("bob"))},
		{name: "certificate of nobody", cert: &mallory},
		{name: "certificate of nobody and alice's token", cert: &mallory, auth: bearer("alice"), want: aliceSees},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(tt.cert, tt.auth)
			if tt.want == nil {
				r.wantChallenge(t)
				if strings.Contains(string(r.raw), "mallory") || strings.Contains(string(r.raw), "CN=") {
					t.Errorf("the refusal tells the client about its certificate: %s", r.raw)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("status %d; want 200\n%s", r.status, r.raw)
			}
			if diff := cmp.Diff(tt.want, collectionIDs(r)); diff != "" {
				t.Errorf("collections seen (-want +got):\n%s", diff)
			}
		})
	}

	// The log says why, with what an administrator needs to bind the
	// certificate.
	fp := authz.KeyFingerprint(ca.cert)
	for _, want := range []string{"certificate maps to no user", `subject:CN=mallory,O=Partner A`, fp,
		"certificate and credentials stand for different users"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not mention %q:\n%s", want, log)
		}
	}
	var refused []map[string]any
	for _, e := range h.auditTrail(t) {
		if e.Action == taxii.AuditAuthnFailure && e.Details["scheme"] == "certificate" {
			refused = append(refused, e.Details)
		}
	}
	want := []map[string]any{
		{"scheme": "certificate", "reason": "certificate and credentials stand for different users",
			"identities": []any{"subject:CN=alice,O=Partner A"}, "issuers": []any{fp}},
		{"scheme": "certificate", "reason": "certificate and credentials stand for different users",
			"identities": []any{"subject:CN=alice,O=Partner A"}, "issuers": []any{fp}},
		{"scheme": "certificate", "reason": "certificate maps to no user",
			"identities": []any{"subject:CN=mallory,O=Partner A"}, "issuers": []any{fp}},
	}
	if diff := cmp.Diff(want, refused); diff != "" {
		t.Errorf("audited certificate refusals (-want +got):\n%s", diff)
	}
}
