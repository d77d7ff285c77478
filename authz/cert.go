package authz

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Kinds of certificate identity, the prefix of each identity string.
const (
	CertSubject = "subject" // the subject distinguished name
	CertDNS     = "dns"     // a dNSName of the subject alternative names
	CertEmail   = "email"   // an rfc822Name
	CertIP      = "ip"      // an iPAddress
	CertURI     = "uri"     // a uniformResourceIdentifier
)

// MaxCertIdentityLen bounds an identity given by an administrator.
const MaxCertIdentityLen = 1024

// CertificateIdentities returns the names a client certificate vouches
// for, each as "kind:value" in one normal form, so that a mapping from
// identities to users can look them up by plain string comparison:
//
//   - "subject:" and the subject distinguished name as RFC 4514 writes it,
//     in the certificate's own order (most specific first, as `openssl
//     x509 -subject -nameopt RFC2253` prints it): CN, O, OU, C, L, ST,
//     STREET, POSTALCODE and SERIALNUMBER by name, other attribute types
//     (such as emailAddress) as their dotted OID and the value in hex.
//     Values keep their case. Absent when the subject is empty.
//   - "dns:" and each DNS name, lower-cased, without a final dot.
//   - "email:" and each email address, its domain lower-cased (the local
//     part is case-sensitive, RFC 5280 section 7.5).
//   - "ip:" and each IP address in its canonical text (IPv4-mapped IPv6
//     addresses as IPv4).
//   - "uri:" and each URI, its scheme and host lower-cased (RFC 3986
//     section 6.2.2.1).
//
// The subject comes first, then the subject alternative names by kind in
// the order above, each kind in the certificate's order, without
// duplicates. The certificate must already be verified: the names are
// only as good as the CA that signed them, and with several CAs in the
// pool any of them can sign any name.
func CertificateIdentities(cert *x509.Certificate) []string {
	if cert == nil {
		return nil
	}
	var ids []string
	add := func(kind, value string) {
		if value == "" {
			return
		}
		id := kind + ":" + value
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	add(CertSubject, subjectDN(cert))
	for _, n := range cert.DNSNames {
		add(CertDNS, normalDNS(n))
	}
	for _, e := range cert.EmailAddresses {
		add(CertEmail, normalEmail(e))
	}
	for _, ip := range cert.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			add(CertIP, a.Unmap().String())
		}
	}
	for _, u := range cert.URIs {
		add(CertURI, normalURI(u))
	}
	return ids
}

// subjectDN is the RFC 4514 string of the certificate's subject as
// encoded. pkix.Name.String would rebuild the name in a fixed attribute
// order, which is not the certificate's.
func subjectDN(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) > 0 {
		// x509.ParseCertificate has parsed the same bytes; this cannot
		// fail for a parsed certificate, but a hand-built one may lack
		// RawSubject.
		return cert.Subject.String()
	}
	return rdns.String()
}

func normalDNS(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

func normalEmail(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	return addr[:i+1] + strings.ToLower(addr[i+1:])
}

func normalURI(u *url.URL) string {
	n := *u
	n.Scheme = strings.ToLower(n.Scheme)
	n.Host = strings.ToLower(n.Host)
	return n.String()
}

// NormalizeCertificateIdentity returns identity, "kind:value" as an
// administrator wrote it, in the form CertificateIdentities gives, or an
// *InvalidError (field "identity"). The kind is case-insensitive; a
// subject is kept as written (after trimming spaces around it), since it
// must match the RFC 4514 text exactly.
func NormalizeCertificateIdentity(identity string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", invalid("identity", format, args...)
	}
	if len(identity) > MaxCertIdentityLen {
		return bad("longer than %d bytes", MaxCertIdentityLen)
	}
	if !utf8.ValidString(identity) {
		return bad("not valid UTF-8")
	}
	kind, value, ok := strings.Cut(strings.TrimSpace(identity), ":")
	if !ok {
		return bad("%q is not kind:value (kinds: subject, dns, email, ip, uri)", identity)
	}
	kind, value = strings.ToLower(kind), strings.TrimSpace(value)
	if value == "" {
		return bad("%q has no value", identity)
	}
	switch kind {
	case CertSubject:
	case CertDNS:
		value = normalDNS(value)
	case CertEmail:
		if !strings.Contains(value, "@") {
			return bad("%q is not an email address", value)
		}
		value = normalEmail(value)
	case CertIP:
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" {
			return bad("%q is not an IP address", value)
		}
		value = a.Unmap().String()
	case CertURI:
		u, err := url.Parse(value)
		if err != nil || u.Scheme == "" {
			return bad("%q is not an absolute URI", value)
		}
		value = normalURI(u)
	default:
		return bad("unknown kind %q (kinds: subject, dns, email, ip, uri)", kind)
	}
	if value == "" {
		return bad("%q has no value", identity)
	}
	return fmt.Sprintf("%s:%s", kind, value), nil
}
