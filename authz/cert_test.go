package authz_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
)

// issue returns the parsed DER of a certificate built from tmpl, signed by
// a throwaway key: what a TLS handshake hands the server.
func issue(t *testing.T, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(1)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCertificateIdentities(t *testing.T) {
	oidEmail := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	tests := []struct {
		name string
		tmpl *x509.Certificate
		want []string
	}{
		{
			name: "subject in the certificate's order, most specific first",
			tmpl: &x509.Certificate{Subject: pkix.Name{
				ExtraNames: []pkix.AttributeTypeAndValue{
					{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "DE"},
					{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "Alice"}, // CN before O: kept so
					{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Partner A, Inc."},
				},
			}},
			want: []string{`subject:O=Partner A\, Inc.,CN=Alice,C=DE`},
		},
		{
			name: "attribute types without a short name in hex",
			tmpl: &x509.Certificate{Subject: pkix.Name{
				CommonName: "feed",
				ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidEmail, Value: "a@b.c"}},
			}},
			want: []string{"subject:1.2.840.113549.1.9.1=#0c056140622e63,CN=feed"},
		},
		{
			name: "alternative names normalized, duplicates dropped",
			tmpl: &x509.Certificate{
				Subject:        pkix.Name{CommonName: "feed.partner.example"},
				DNSNames:       []string{"Feed.Partner.Example.", "feed.partner.example", "b.example"},
				EmailAddresses: []string{"SOC@Partner.Example", "soc@partner.example"},
				IPAddresses:    []net.IP{net.ParseIP("192.0.2.7"), net.ParseIP("2001:DB8::0:1")},
				URIs:           []*url.URL{mustURL(t, "SPIFFE://Partner.Example/Feed/Pull")},
			},
			want: []string{
				"subject:CN=feed.partner.example",
				"dns:feed.partner.example", "dns:b.example",
				"email:SOC@partner.example", "email:soc@partner.example",
				"ip:192.0.2.7", "ip:2001:db8::1",
				"uri:spiffe://partner.example/Feed/Pull",
			},
		},
		{
			name: "empty subject left out",
			tmpl: &x509.Certificate{DNSNames: []string{"only.example"}},
			want: []string{"dns:only.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := authz.CertificateIdentities(issue(t, tt.tmpl))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CertificateIdentities (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNormalizeCertificateIdentity checks that what an administrator
// writes meets what CertificateIdentities gives for the same name.
func TestNormalizeCertificateIdentity(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "DNS:Feed.Partner.Example.", want: "dns:feed.partner.example"},
		{in: " email: SOC@Partner.Example ", want: "email:SOC@partner.example"},
		{in: "ip:2001:DB8:0::1", want: "ip:2001:db8::1"},
		{in: "ip:::ffff:192.0.2.7", want: "ip:192.0.2.7"},
		{in: "uri:SPIFFE://Partner.Example/Feed", want: "uri:spiffe://partner.example/Feed"},
		{in: "Subject:CN=Alice,O=Partner A", want: "subject:CN=Alice,O=Partner A"},
		{in: "cn:alice", wantErr: true},
		{in: "alice", wantErr: true},
		{in: "dns:", wantErr: true},
		{in: "dns:.", wantErr: true},
		{in: "email:partner.example", wantErr: true},
		{in: "ip:192.0.2", wantErr: true},
		{in: "ip:fe80::1%eth0", wantErr: true},
		{in: "uri:/relative", wantErr: true},
		{in: "subject:\xff", wantErr: true},
	}
	for _, tt := range tests {
		got, err := authz.NormalizeCertificateIdentity(tt.in)
		if tt.wantErr {
			if !errors.Is(err, authz.ErrInvalid) {
				t.Errorf("NormalizeCertificateIdentity(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeCertificateIdentity(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}

	// An identity written by hand finds the certificate's.
	cert := issue(t, &x509.Certificate{DNSNames: []string{"feed.partner.example"}})
	id, err := authz.NormalizeCertificateIdentity("DNS:FEED.partner.example.")
	if err != nil {
		t.Fatal(err)
	}
	if got := authz.CertificateIdentities(cert); len(got) != 1 || got[0] != id {
		t.Errorf("CertificateIdentities = %q; want [%q]", got, id)
	}
}
