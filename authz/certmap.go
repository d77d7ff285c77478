package authz

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Client certificates stand for users through bindings: a binding says
// that a certificate carrying an identity (a name CertificateIdentities
// gives), verified against a client CA (the issuer, or any when none is
// named), is a user's.
//
// The issuer is the client CA a certificate's verified chain ends at: one
// of the certificates of the server's client CA file (the trust anchor),
// named by the SHA-256 of its SubjectPublicKeyInfo (KeyFingerprint). With
// several partner CAs in that file, each can sign any name; a binding that
// names its issuer matches only certificates of that CA, so that one
// partner's CA cannot issue a certificate that another partner's binding
// accepts. The key rather than the CA's subject name: anyone can make a
// CA with another's name, not with its key. The anchor rather than the
// certificate that signed the leaf: intermediates come and go within a
// partner's hierarchy, while the anchor is what the operator chose to
// trust.

// CertificateBinding maps a certificate identity to a user.
type CertificateBinding struct {
	ID     string
	UserID string
	// Identity is "kind:value" as CertificateIdentities writes it
	// (NormalizeCertificateIdentity makes an administrator's input so).
	Identity string
	// Issuer is the KeyFingerprint of the client CA the certificate must
	// chain to; empty: any client CA.
	Issuer    string
	CreatedAt time.Time
}

// Validate checks the fields a caller sets: Identity and Issuer must be in
// normal form (the store compares them as strings).
func (b CertificateBinding) Validate() error {
	if err := checkID("id", b.ID); err != nil {
		return err
	}
	if err := checkID("user_id", b.UserID); err != nil {
		return err
	}
	norm, err := NormalizeCertificateIdentity(b.Identity)
	if err != nil {
		return err
	}
	if norm != b.Identity {
		return invalid("identity", "%q is not in normal form (%q)", b.Identity, norm)
	}
	if b.Issuer != "" && !isFingerprint(b.Issuer) {
		return invalid("issuer", "not a lowercase hex SHA-256")
	}
	return nil
}

// CertificateBindingFilter selects certificate bindings.
type CertificateBindingFilter struct {
	UserID string // "" every user
	After  string // a binding id
	Limit  int
}

// Bounds of MatchCertificateBindings.
const (
	// MaxCertificateIdentities is the most names of one certificate
	// looked up; a certificate with more stands for nobody.
	MaxCertificateIdentities = 100
	// MaxCertificateIssuers is the most client CAs a certificate's
	// verified chains end at that are looked up.
	MaxCertificateIssuers = 8
)

// CheckMatch checks the bounds of a MatchCertificateBindings call, for
// backends.
func CheckMatch(identities, issuers []string) error {
	if len(identities) > MaxCertificateIdentities {
		return invalid("identities", "more than %d", MaxCertificateIdentities)
	}
	if len(issuers) > MaxCertificateIssuers {
		return invalid("issuers", "more than %d", MaxCertificateIssuers)
	}
	return nil
}

// KeyFingerprint names a CA certificate as the Issuer of bindings: the
// lowercase hex SHA-256 of its DER SubjectPublicKeyInfo, as
//
//	openssl x509 -in ca.pem -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256
//
// prints it.
func KeyFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func isFingerprint(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// NormalizeIssuer returns an issuer as an administrator wrote it (hex, in
// either case, bytes optionally separated by colons) as KeyFingerprint
// writes it, or an *InvalidError (field "issuer"). "" stays "".
func NormalizeIssuer(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > 200 {
		return "", invalid("issuer", "not a SHA-256 in hex")
	}
	n := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if !isFingerprint(n) {
		return "", invalid("issuer", "%q is not a SHA-256 in hex (64 digits)", s)
	}
	return n, nil
}

// clientCertificate returns the leaf of a handshake's verified chains and
// the KeyFingerprint of each client CA they end at (at most
// MaxCertificateIssuers, in the chains' order); nil without a chain.
func clientCertificate(chains [][]*x509.Certificate) (*x509.Certificate, []string) {
	if len(chains) == 0 || len(chains[0]) == 0 {
		return nil, nil
	}
	var issuers []string
	for _, ch := range chains {
		if len(ch) == 0 || len(issuers) == MaxCertificateIssuers {
			continue
		}
		if fp := KeyFingerprint(ch[len(ch)-1]); !slices.Contains(issuers, fp) {
			issuers = append(issuers, fp)
		}
	}
	return chains[0][0], issuers
}

// lookupIdentities are the identities of a certificate that a binding can
// hold; an *InvalidError when there are more than MaxCertificateIdentities.
func lookupIdentities(leaf *x509.Certificate) ([]string, error) {
	var ids []string
	for _, id := range CertificateIdentities(leaf) {
		if len(id) <= MaxCertIdentityLen { // longer ones cannot be bound
			ids = append(ids, id)
		}
	}
	if len(ids) > MaxCertificateIdentities {
		return nil, fmt.Errorf("%w: the certificate carries more than %d names", ErrInvalid, MaxCertificateIdentities)
	}
	return ids, nil
}

// StoreCertificateMapper is the CertificateMapper of the bindings kept in
// a Store. It reads the store on every call: the Authenticator keeps its
// verdicts.
type StoreCertificateMapper struct {
	store Store
}

var _ CertificateMapper = (*StoreCertificateMapper)(nil)

// NewCertificateMapper returns the mapper of the bindings in s.
func NewCertificateMapper(s Store) *StoreCertificateMapper { return &StoreCertificateMapper{store: s} }

// UserForCertificate implements CertificateMapper: the user of the
// bindings that match one of the certificate's identities, with no issuer
// or the issuer of one of its verified chains. ErrNotFound when none
// matches; ErrConflict when they name several users (the certificate is
// ambiguous, so it stands for none of them); ErrInvalid when the
// certificate carries more than MaxCertificateIdentities names.
func (m *StoreCertificateMapper) UserForCertificate(ctx context.Context, chains [][]*x509.Certificate) (string, error) {
	leaf, issuers := clientCertificate(chains)
	if leaf == nil {
		return "", fmt.Errorf("no verified certificate: %w", ErrNotFound)
	}
	ids, err := lookupIdentities(leaf)
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("the certificate carries no name: %w", ErrNotFound)
	}
	bs, err := m.store.MatchCertificateBindings(ctx, ids, issuers)
	if err != nil {
		return "", err
	}
	var users []string
	for _, b := range bs {
		if !slices.Contains(users, b.UserID) {
			users = append(users, b.UserID)
		}
	}
	switch len(users) {
	case 0:
		return "", fmt.Errorf("no binding of its names: %w", ErrNotFound)
	case 1:
		return users[0], nil
	}
	return "", fmt.Errorf("%w: its names are bound to %d users", ErrConflict, len(users))
}
