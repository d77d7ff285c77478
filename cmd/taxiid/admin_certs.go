package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/taxiid/taxiid/authz"
)

// `taxiid admin users certs add|list|remove`: the certificate identities
// that stand for a user (authz certificate bindings).

// certList lists a user's bindings ("users certs list USER").
func (c *adminCLI) certList(fs *flag.FlagSet) func([]string) (any, error) {
	return listVerb(1, func(pos []string, pg authz.Page) (any, error) {
		return c.admin.CertificateBindings(c.ctx, c.userRef(pos[0]), pg)
	})(fs)
}

// maxPEMFile bounds a certificate file read by the command.
const maxPEMFile = 1 << 20

// readCertificates reads the PEM certificates of a file, in order.
func readCertificates(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxPEMFile)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return certs, nil
}

// certIssuer returns the client CA that the certificate (followed by its
// intermediates in chain) is verified against by a server whose client CA
// file is caFile, as a binding's issuer.
func certIssuer(chain []*x509.Certificate, caFile string) (string, error) {
	cas, err := readCertificates(caFile)
	if err != nil {
		return "", fmt.Errorf("client CA file: %w", err)
	}
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, ca := range cas {
		opts.Roots.AddCert(ca)
	}
	for _, ic := range chain[1:] {
		opts.Intermediates.AddCert(ic)
	}
	chains, err := chain[0].Verify(opts)
	if err != nil {
		return "", fmt.Errorf("the certificate would be refused by a server with the client CAs of %s: %w", caFile, err)
	}
	var issuers []string
	for _, ch := range chains {
		if fp := authz.KeyFingerprint(ch[len(ch)-1]); !slices.Contains(issuers, fp) {
			issuers = append(issuers, fp)
		}
	}
	if len(issuers) > 1 {
		return "", fmt.Errorf("the certificate chains to %d client CAs (%s): choose one with --issuer",
			len(issuers), strings.Join(issuers, ", "))
	}
	return issuers[0], nil
}

func (c *adminCLI) certAdd(fs *flag.FlagSet) func([]string) (any, error) {
	certFile := fs.String("cert", "", "PEM `file` of the client's certificate (then its intermediates): bind every name it carries")
	issuer := fs.String("issuer", "", "hex SHA-256 of the key of the client CA the certificates must chain to")
	issuerCert := fs.String("issuer-cert", "", "PEM `file` of the client CA the certificates must chain to")
	anyIssuer := fs.Bool("any-issuer", false, "certificates of any client CA (the default for an IDENTITY)")
	clientCA := fs.String("client-ca", c.getenv("TAXIID_TLS_CLIENT_CA"),
		"the server's --tls-client-ca `file`, to find which CA the --cert chains to (env TAXIID_TLS_CLIENT_CA)")
	return func(pos []string) (any, error) {
		if len(pos) < 1 || len(pos) > 2 || (len(pos) == 2) == (*certFile != "") {
			return nil, errors.New("want USER and either an IDENTITY (kind:value) or --cert FILE")
		}
		given := 0
		for _, g := range []bool{*issuer != "", *issuerCert != "", *anyIssuer} {
			if g {
				given++
			}
		}
		if given > 1 {
			return nil, errors.New("--issuer, --issuer-cert and --any-issuer exclude each other")
		}
		iss := *issuer
		if *issuerCert != "" {
			cas, err := readCertificates(*issuerCert)
			if err != nil {
				return nil, fmt.Errorf("--issuer-cert: %w", err)
			}
			if !cas[0].IsCA {
				return nil, fmt.Errorf("--issuer-cert: %s is not a CA certificate", *issuerCert)
			}
			iss = authz.KeyFingerprint(cas[0])
		}
		user := c.userRef(pos[0])
		identities := pos[1:]
		if *certFile != "" {
			chain, err := readCertificates(*certFile)
			if err != nil {
				return nil, fmt.Errorf("--cert: %w", err)
			}
			identities = authz.CertificateIdentities(chain[0])
			if len(identities) == 0 {
				return nil, fmt.Errorf("--cert: %s names nobody: no subject, no alternative name", *certFile)
			}
			if given == 0 {
				if *clientCA == "" {
					return nil, errors.New("--cert: give --client-ca (the server's --tls-client-ca file) to bind the " +
						"names for the CA the certificate chains to, or --issuer, --issuer-cert or --any-issuer")
				}
				if iss, err = certIssuer(chain, *clientCA); err != nil {
					return nil, fmt.Errorf("--cert: %w", err)
				}
			}
		}
		if err := c.checkUnbound(user, identities, iss); err != nil {
			return nil, err
		}
		out := authz.List[authz.CertificateBindingView]{Items: []authz.CertificateBindingView{}}
		for _, id := range identities {
			b, err := c.admin.CreateCertificateBinding(c.ctx, user, authz.CertificateBindingInput{Identity: &id, Issuer: &iss})
			if err != nil {
				if len(out.Items) > 0 {
					c.print(out) // what was bound before the failure
				}
				return nil, fmt.Errorf("%s: %w", id, err)
			}
			out.Items = append(out.Items, b)
		}
		return out, nil
	}
}

// checkUnbound refuses, before anything is bound, identities that are
// bound for the issuer already: the certificate's names are bound all or
// none.
func (c *adminCLI) checkUnbound(user string, identities []string, issuer string) error {
	norm := make([]string, 0, len(identities))
	for _, id := range identities {
		n, err := authz.NormalizeCertificateIdentity(id)
		if err != nil {
			return err
		}
		norm = append(norm, n)
	}
	iss, err := authz.NormalizeIssuer(issuer)
	if err != nil {
		return err
	}
	if len(norm) > authz.MaxCertificateIdentities {
		return fmt.Errorf("more than %d names", authz.MaxCertificateIdentities)
	}
	bound, err := c.store.MatchCertificateBindings(c.ctx, norm, []string{iss})
	if err != nil {
		return err
	}
	var taken []string
	for _, b := range bound {
		if b.Issuer == iss {
			taken = append(taken, fmt.Sprintf("%q", b.Identity))
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("bound already for that issuer: %s (remove those bindings first)", strings.Join(taken, ", "))
	}
	return nil
}

func (c *adminCLI) certRemove(fs *flag.FlagSet) func([]string) (any, error) {
	issuer := fs.String("issuer", "", "with an IDENTITY bound for several client CAs: the one to remove (hex SHA-256 of its key; \"\" for any)")
	return func(pos []string) (any, error) {
		if err := wantArgs(pos, 2); err != nil {
			return nil, err
		}
		user := c.userRef(pos[0])
		if b, err := c.admin.CertificateBinding(c.ctx, user, pos[1]); err == nil {
			return nil, c.admin.DeleteCertificateBinding(c.ctx, user, b.ID)
		}
		// Not a binding id of the user: an identity.
		id, err := authz.NormalizeCertificateIdentity(pos[1])
		if err != nil {
			return nil, fmt.Errorf("%q is neither a binding id of the user nor an identity: %w", pos[1], err)
		}
		iss, err := authz.NormalizeIssuer(*issuer)
		if err != nil {
			return nil, err
		}
		byIssuer := set(fs, "issuer", iss) != nil
		var match []authz.CertificateBindingView
		pg := authz.Page{Limit: authz.MaxPageLimit}
		for {
			l, err := c.admin.CertificateBindings(c.ctx, user, pg)
			if err != nil {
				return nil, err
			}
			for _, b := range l.Items {
				if b.Identity == id && (!byIssuer || b.Issuer == iss) {
					match = append(match, b)
				}
			}
			if l.Next == "" {
				break
			}
			pg.Cursor = l.Next
		}
		switch len(match) {
		case 0:
			if byIssuer {
				return nil, fmt.Errorf("the user has no binding of %q for that issuer", id)
			}
			return nil, fmt.Errorf("the user has no binding of %q", id)
		case 1:
			return nil, c.admin.DeleteCertificateBinding(c.ctx, user, match[0].ID)
		}
		var issuers []string
		for _, b := range match {
			issuers = append(issuers, fmt.Sprintf("%q", b.Issuer))
		}
		return nil, fmt.Errorf("the user has %d bindings of %q, for the issuers %s: choose one with --issuer",
			len(match), id, strings.Join(issuers, ", "))
	}
}
