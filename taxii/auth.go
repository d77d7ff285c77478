package taxii

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
)

// authChallenge is the WWW-Authenticate value of every 401 (RFC 9110
// section 11.6.1 requires one; TAXII 2.1 section 8.2.2 names HTTP Basic).
// Tokens are accepted too, as Bearer or Token, without a challenge of their
// own: clients that hold a token send it unasked.
const authChallenge = `Basic realm="taxiid"`

// Actions of the audit events the server records (authz.AuditEvent.Action).
const (
	// AuditAuthnFailure: credentials were refused. UserName is the name a
	// Basic request claimed; Details give the scheme and the reason.
	AuditAuthnFailure = "authn.failure"
	// AuditDenied: a request was refused for lack of access (401 to an
	// anonymous requester, 403, or a 404 hiding something that exists).
	// Details give the status answered, the endpoint and the reason.
	AuditDenied = "authz.denied"
	// AuditRead: objects, an object, a manifest or versions were served.
	// Details give the endpoint and the number of records served.
	AuditRead = "objects.read"
	// AuditAdd: an envelope was pushed. Details give the status id and its
	// counts when the request was answered (pushes finishing in the
	// background are still pending there).
	AuditAdd = "objects.add"
	// AuditDelete: an object (or some of its versions) was deleted.
	AuditDelete = "objects.delete"
)

// Endpoint names of the audit events and denials.
const (
	endpointDiscovery   = "discovery"
	endpointAPIRoot     = "api-root"
	endpointCollections = "collections"
	endpointCollection  = "collection"
	endpointObjects     = "objects"
	endpointObject      = "object"
	endpointAddObjects  = "add-objects"
	endpointDelete      = "delete-object"
	endpointManifest    = "manifest"
	endpointVersions    = "versions"
	endpointMarkings    = "markings"
	endpointStatus      = "status"
)

// openPaths are probes answered without looking at credentials: a load
// balancer's health check must not depend on the store of principals. So
// is /metrics, whose handler checks a token of its own (metricsToken).
var openPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// authenticate puts the requester's principal in the request's context
// (authz.NewContext), on every route but the probes. Credentials come from
// the Authorization header (Basic, Bearer, Token) and from a verified TLS
// client certificate; with both, they must stand for the same user (see
// authz.Authenticator.AuthenticateRequest). Without either the principal
// is anonymous and each handler decides what anonymous may see. Refused
// credentials end the request with a 401.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		if openPaths[r.URL.Path] {
			return next(c)
		}
		p, err := s.principal(r)
		if err != nil {
			var ae *authz.AuthError
			if !errors.As(err, &ae) {
				return fmt.Errorf("authenticate: %w", err)
			}
			s.log.Info("authentication failed", "request_id", requestID(c), "source", sourceAddress(r), "err", err)
			s.metrics.AuthFailure(ae.Scheme, ae.Reason)
			d := map[string]any{"scheme": ae.Scheme, "reason": ae.Reason}
			if len(ae.Identities) > 0 {
				d["identities"], d["issuers"] = ae.Identities, ae.Issuers
			}
			s.record(c, authz.AuditEvent{
				Action:   AuditAuthnFailure,
				UserName: ae.UserName,
				Details:  details(d),
			})
			// The reason stays in the log and the audit log: telling the
			// client whether the name or the password was wrong would help
			// a guesser.
			return errorf(http.StatusUnauthorized, "the credentials were refused")
		}
		if err := s.policyUnavailable(); err != nil {
			return err
		}
		c.SetRequest(r.WithContext(authz.NewContext(r.Context(), p)))
		return next(c)
	}
}

// policyErrer is an Authorizer that reports a failed policy load
// (*authz.Authorizer does).
type policyErrer interface{ PolicyErr() error }

// policyUnavailable returns the authorizer's load error when its policy
// could not be loaded because the store is unavailable: while it denies
// everything, requests are answered 503, not 403 or 404. A policy that
// failed for another reason keeps denying.
func (s *Server) policyUnavailable() error {
	pe, ok := s.authz.(policyErrer)
	if !ok {
		return nil
	}
	if err := pe.PolicyErr(); errors.Is(err, collections.ErrUnavailable) {
		return fmt.Errorf("access policy: %w", err)
	}
	return nil
}

// principal authenticates the request.
func (s *Server) principal(r *http.Request) (authz.Principal, error) {
	headers := r.Header.Values("Authorization")
	if len(headers) > 1 {
		return authz.Principal{}, &authz.AuthError{Scheme: "unknown", Reason: "several Authorization headers"}
	}
	header := ""
	if len(headers) == 1 {
		header = headers[0]
	}
	if s.authn == nil {
		if header != "" {
			return authz.Principal{}, &authz.AuthError{Scheme: "unknown", Reason: "this server checks no credentials"}
		}
		return authz.Principal{}, nil
	}
	return s.authn.AuthenticateRequest(r.Context(), header, r.RemoteAddr, verifiedChains(r))
}

// verifiedChains returns the chains the TLS handshake verified the
// client's certificate with, against the configured client CAs; nil
// otherwise (no TLS, no certificate, or a certificate requested but not
// verified).
func verifiedChains(r *http.Request) [][]*x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains
}

// sourceAddress is the client's address without its port.
func sourceAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// requester returns the principal of the request (anonymous when the
// middleware did not run).
func requester(c *echo.Context) authz.Principal {
	p, _ := authz.FromContext(c.Request().Context())
	return p
}

// record queues an audit event of the request, filling in who, from where
// and which request; it does nothing when auditing is off. It never blocks:
// the audit log writes in batches off the request path.
func (s *Server) record(c *echo.Context, e authz.AuditEvent) {
	if s.audit == nil {
		return
	}
	r := c.Request()
	p := requester(c)
	if e.UserID == "" && !p.Anonymous() {
		e.UserID, e.UserName, e.OrganizationID = p.UserID, p.UserName, p.OrganizationID
	}
	e.SourceAddress = sourceAddress(r)
	e.RequestID = collections.RequestID(r.Context())
	// Names come from the path: bound them so that an oversized one cannot
	// make the event invalid (and dropped).
	e.APIRoot, e.Collection = clipName(e.APIRoot), clipName(e.Collection)
	s.audit.Record(e)
}

// clipName bounds a name for an audit event, which holds valid UTF-8 only.
func clipName(s string) string { return strings.ToValidUTF8(cut(s, authz.MaxNameLen), "") }

// details encodes the details of an audit event.
func details(v map[string]any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// deny refuses a request the requester may not make, and records it. err
// is the answer to an authenticated requester: the error of a missing
// resource when the refused one must not be known to exist, else a 403
// saying what is refused. An anonymous requester gets a 401 instead,
// whatever the reason: it learns only that credentials are needed (unless
// the server checks no credentials, when a challenge would be a lie).
func (s *Server) deny(c *echo.Context, endpoint, root, coll, reason string, err error) error {
	if s.challenges(c) {
		err = errorf(http.StatusUnauthorized, "this resource needs credentials")
	}
	status := http.StatusInternalServerError
	var te *Error
	if errors.As(err, &te) {
		status = te.Status
	}
	s.record(c, authz.AuditEvent{
		Action: AuditDenied, APIRoot: root, Collection: coll,
		Details: details(map[string]any{"status": status, "endpoint": endpoint, "reason": reason}),
	})
	return err
}

// absent answers a request for a resource that does not exist: err, but
// to an anonymous requester the 401 of a resource that exists and is not
// public, so that anonymous requesters cannot probe what exists.
func (s *Server) absent(c *echo.Context, endpoint, root, coll string, err error) error {
	if !s.challenges(c) {
		return err
	}
	return s.deny(c, endpoint, root, coll, "does not exist", err)
}

// challenges reports whether a refusal of the request is a 401: the
// requester gave no credentials, and giving some could help.
func (s *Server) challenges(c *echo.Context) bool {
	return s.authn != nil && requester(c).Anonymous()
}
