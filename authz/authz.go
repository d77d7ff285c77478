// Package authz decides who may read and write which collection: the
// principals kept in the store (organizations, users, API tokens), the
// checks of their credentials, the grants that give them collections, the
// Casbin enforcer built from those grants, and the audit log.
//
// Its data lives behind the Store interface, implemented by each storage
// backend and held to one contract, the suite in authz/authztest. This
// package knows nothing of HTTP: the server turns its errors and decisions
// into responses.
package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/stix"
)

// Errors of this package and of Store implementations. Callers compare with
// errors.Is; wrapped errors say which record or field.
var (
	// ErrNotFound: the organization, user, token or grant addressed does
	// not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts what is stored: a name or grant
	// that exists already, an organization that still has users.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a field of the input is malformed or names a record that
	// does not exist. The error is an *InvalidError naming the field.
	ErrInvalid = errors.New("invalid")
	// ErrUnauthenticated: credentials are missing, malformed or wrong, or
	// name a disabled user or a revoked or expired token.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the principal is known but may not do what it asked.
	ErrForbidden = errors.New("forbidden")
)

// InvalidError reports a bad field of an input record. It matches
// ErrInvalid with errors.Is.
type InvalidError struct {
	Field  string // the field's JSON name, e.g. "organization_id"
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// NewID returns a new record identifier: a UUID version 7, whose text order
// is creation order, so that lists ordered by id list oldest first.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Role is what a user may administer. Access to collections comes from
// grants; RoleAdmin alone needs none.
type Role string

const (
	// RoleAdmin operates the hub: every collection, every record.
	RoleAdmin Role = "admin"
	// RoleOrgAdmin manages the users and tokens of its own organization and
	// sees its grants and audit events.
	RoleOrgAdmin Role = "org-admin"
	// RoleMember reads and writes what its organization and it were granted.
	RoleMember Role = "member"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleOrgAdmin || r == RoleMember
}

// Action is what a grant allows on a collection.
type Action string

const (
	// ActionRead: get objects, manifest, versions; can_read.
	ActionRead Action = "read"
	// ActionWrite: add and delete objects; can_write.
	ActionWrite Action = "write"
)

// Valid reports whether a is one of the defined actions.
func (a Action) Valid() bool { return a == ActionRead || a == ActionWrite }

// Organization is a partner of the hub; every user belongs to one.
type Organization struct {
	ID          string
	Name        string // unique
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Validate checks the fields a caller sets.
func (o Organization) Validate() error {
	if err := checkID("id", o.ID); err != nil {
		return err
	}
	if err := checkText("name", o.Name, 1, MaxNameLen); err != nil {
		return err
	}
	return checkText("description", o.Description, 0, MaxDescriptionLen)
}

// User is a person or a program that signs in, with a password (HTTP Basic)
// or with its API tokens.
type User struct {
	ID             string
	Name           string // unique; the user-id of HTTP Basic
	OrganizationID string
	Role           Role
	// PasswordHash is the PHC string HashPassword made; empty: the user
	// cannot sign in with a password (tokens only).
	PasswordHash string
	// Disabled users cannot authenticate by any means.
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate checks the fields a caller sets. It does not check that the
// organization exists (the store does).
func (u User) Validate() error {
	if err := checkID("id", u.ID); err != nil {
		return err
	}
	if err := checkUserName(u.Name); err != nil {
		return err
	}
	if err := checkID("organization_id", u.OrganizationID); err != nil {
		return err
	}
	if !u.Role.Valid() {
		return invalid("role", "%q is not admin, org-admin or member", u.Role)
	}
	if u.PasswordHash != "" {
		if _, err := parsePHC(u.PasswordHash); err != nil {
			return invalid("password_hash", "%v", err)
		}
	}
	return nil
}

// Token is an API token of a user. The secret is shown once, when it is
// made (NewToken); the store keeps only its hash.
type Token struct {
	ID     string
	UserID string
	Name   string // unique among the user's tokens
	// Hash is TokenHash of the secret: lowercase hex SHA-256.
	Hash string
	// Prefix is the start of the secret, enough for a person to tell tokens
	// apart (and to match a leaked secret to its record).
	Prefix string
	// ExpiresAt is when the token stops working; zero: never.
	ExpiresAt time.Time
	// RevokedAt is when the token was revoked; zero: it was not.
	RevokedAt time.Time
	// LastUsedAt is updated in batches (TouchTokens), up to a minute late;
	// zero: never used.
	LastUsedAt time.Time
	CreatedAt  time.Time
}

// Active reports whether the token can authenticate at now (the user's own
// state aside).
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Validate checks the fields a caller sets.
func (t Token) Validate() error {
	if err := checkID("id", t.ID); err != nil {
		return err
	}
	if err := checkID("user_id", t.UserID); err != nil {
		return err
	}
	if err := checkText("name", t.Name, 1, MaxNameLen); err != nil {
		return err
	}
	if len(t.Hash) != 64 || strings.Trim(t.Hash, "0123456789abcdef") != "" {
		return invalid("hash", "not a lowercase hex SHA-256")
	}
	if !strings.HasPrefix(t.Prefix, TokenPrefix) || len(t.Prefix) > 32 {
		return invalid("prefix", "must start with %q and be at most 32 bytes", TokenPrefix)
	}
	return nil
}

// SubjectKind says who a grant is to.
type SubjectKind string

const (
	// SubjectOrganization: every user of the organization.
	SubjectOrganization SubjectKind = "organization"
	// SubjectUser: one user.
	SubjectUser SubjectKind = "user"
	// SubjectPublic: everyone, credentials or not. Only read may be
	// granted to it.
	SubjectPublic SubjectKind = "public"
)

// Subject is who a grant is to: an organization or a user by id, or the
// public (ID empty).
type Subject struct {
	Kind SubjectKind
	ID   string
}

// Public is the subject of grants to everyone.
var Public = Subject{Kind: SubjectPublic}

// OrganizationSubject is the subject of grants to an organization.
func OrganizationSubject(id string) Subject { return Subject{Kind: SubjectOrganization, ID: id} }

// UserSubject is the subject of grants to one user.
func UserSubject(id string) Subject { return Subject{Kind: SubjectUser, ID: id} }

func (s Subject) String() string {
	if s.Kind == SubjectPublic {
		return string(s.Kind)
	}
	return string(s.Kind) + ":" + s.ID
}

// Validate checks the subject's form (not that the organization or user
// exists).
func (s Subject) Validate() error {
	switch s.Kind {
	case SubjectOrganization, SubjectUser:
		return checkID("subject.id", s.ID)
	case SubjectPublic:
		if s.ID != "" {
			return invalid("subject.id", "must be empty for the public")
		}
		return nil
	}
	return invalid("subject.kind", "%q is not organization, user or public", s.Kind)
}

// Grant allows a subject one action on one collection.
//
// Grants are records, not bare tuples, so that sharing conditions (a TLP
// ceiling, source protection, an embargo) can become fields of their own;
// a grant without conditions allows the action on every object.
type Grant struct {
	ID      string
	Subject Subject
	APIRoot string // path of the API root
	// Collection is the collection's id (not its alias).
	Collection string
	Action     Action
	// Conditions limit what a read grant shows (zero: everything).
	Conditions Conditions
	CreatedAt  time.Time
}

// Conditions are the sharing conditions of a read grant: what of the
// collection the grantee sees, and in which form.
type Conditions struct {
	// MaxTLP is the highest TLP level the grantee sees (stix.TLPNone: no
	// ceiling).
	MaxTLP stix.TLP
	// Embargo hides each version until it has been in the collection this
	// long (0: none).
	Embargo time.Duration
	// HideCreator serves created_by_ref as the hub's own identity.
	HideCreator bool
	// HideSources removes the external_references whose source_name is in
	// the list.
	HideSources []string
}

// Bounds of Conditions: an embargo of at most a year, in whole seconds (so
// that it reads and writes exactly as a number of seconds everywhere), and
// at most MaxHideSources source names of at most MaxSourceNameLen bytes.
const (
	MaxEmbargo       = 365 * 24 * time.Hour
	MaxHideSources   = 100
	MaxSourceNameLen = 256
)

// IsZero reports whether c limits nothing.
func (c Conditions) IsZero() bool {
	return c.MaxTLP == stix.TLPNone && c.Embargo == 0 && !c.HideCreator && len(c.HideSources) == 0
}

// Equal reports whether c and d are the same conditions (HideSources in
// the same order; nil and empty are the same).
func (c Conditions) Equal(d Conditions) bool {
	return c.MaxTLP == d.MaxTLP && c.Embargo == d.Embargo && c.HideCreator == d.HideCreator &&
		slices.Equal(c.HideSources, d.HideSources)
}

// Validate checks the conditions' bounds, naming a bad field with prefix
// ("conditions." in a grant).
func (c Conditions) Validate(prefix string) error {
	if c.MaxTLP > stix.TLPRed {
		return invalid(prefix+"max_tlp", "unknown TLP level %d", uint8(c.MaxTLP))
	}
	switch {
	case c.Embargo < 0:
		return invalid(prefix+"embargo_seconds", "must not be negative")
	case c.Embargo > MaxEmbargo:
		return invalid(prefix+"embargo_seconds", "at most %d (365 days)", int64(MaxEmbargo/time.Second))
	case c.Embargo%time.Second != 0:
		return invalid(prefix+"embargo_seconds", "must be whole seconds")
	}
	if len(c.HideSources) > MaxHideSources {
		return invalid(prefix+"hide_sources", "more than %d names", MaxHideSources)
	}
	seen := make(map[string]bool, len(c.HideSources))
	for _, name := range c.HideSources {
		if err := checkText(prefix+"hide_sources", name, 1, MaxSourceNameLen); err != nil {
			return err
		}
		if seen[name] {
			return invalid(prefix+"hide_sources", "%q is listed twice", name)
		}
		seen[name] = true
	}
	return nil
}

// Validate checks the fields a caller sets. It does not check that the
// collection exists: authz knows nothing of collections, the caller does.
func (g Grant) Validate() error {
	if err := checkID("id", g.ID); err != nil {
		return err
	}
	if err := g.Subject.Validate(); err != nil {
		return err
	}
	if err := checkText("api_root", g.APIRoot, 1, MaxNameLen); err != nil {
		return err
	}
	if strings.Contains(g.APIRoot, "/") {
		return invalid("api_root", "must be a single path segment")
	}
	if err := checkText("collection", g.Collection, 1, MaxNameLen); err != nil {
		return err
	}
	if strings.Contains(g.Collection, "/") {
		return invalid("collection", "must not contain '/'")
	}
	if !g.Action.Valid() {
		return invalid("action", "%q is not read or write", g.Action)
	}
	if g.Subject.Kind == SubjectPublic && g.Action != ActionRead {
		return invalid("action", "only read may be granted to the public")
	}
	if !g.Conditions.IsZero() && g.Action != ActionRead {
		return invalid("conditions", "only read grants have conditions")
	}
	return g.Conditions.Validate("conditions.")
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID   string // NewID; appending an id already stored does nothing
	Time time.Time
	// UserID is the principal's user id; empty for anonymous requests and
	// for failed authentications.
	UserID string
	// UserName is the user's name at the time, or the name a failed
	// authentication claimed; kept because users may be deleted.
	UserName       string
	OrganizationID string
	SourceAddress  string
	RequestID      string
	// Action names what happened, e.g. "objects.read", "admin.user.update",
	// "authn.failure", "authz.denied".
	Action     string
	APIRoot    string
	Collection string
	// Details is a JSON object: for admin changes the record before and
	// after (without password hashes or token secrets), for pushes and
	// reads their counts. Empty: none.
	Details json.RawMessage
}

// Validate checks an event before it is stored.
func (e AuditEvent) Validate() error {
	if err := checkID("id", e.ID); err != nil {
		return err
	}
	if e.Time.IsZero() {
		return invalid("time", "missing")
	}
	if err := checkText("action", e.Action, 1, MaxNameLen); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"user_id", e.UserID}, {"user_name", e.UserName}, {"organization_id", e.OrganizationID},
		{"source_address", e.SourceAddress}, {"request_id", e.RequestID},
		{"api_root", e.APIRoot}, {"collection", e.Collection},
	} {
		if err := checkText(f.name, f.v, 0, MaxNameLen); err != nil {
			return err
		}
	}
	if len(e.Details) > MaxAuditDetails {
		return invalid("details", "larger than %d bytes", MaxAuditDetails)
	}
	if len(e.Details) > 0 && !json.Valid(e.Details) {
		return invalid("details", "not valid JSON")
	}
	return nil
}

// Cursor is the position of e in an audit listing (see AuditFilter).
func (e AuditEvent) Cursor() AuditCursor { return AuditCursor{Time: e.Time, ID: e.ID} }

// Bounds of the fields of stored records, in bytes.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
	MaxAuditDetails   = 64 << 10
)

func checkID(field, id string) error {
	if id == "" {
		return invalid(field, "missing")
	}
	return checkText(field, id, 1, 64)
}

// checkText requires valid UTF-8 without control characters, between min
// and max bytes.
func checkText(field, s string, min, max int) error {
	switch {
	case len(s) < min:
		return invalid(field, "missing")
	case len(s) > max:
		return invalid(field, "longer than %d bytes", max)
	case !utf8.ValidString(s):
		return invalid(field, "not valid UTF-8")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return invalid(field, "contains a control character")
	}
	return nil
}

// checkUserName also refuses what HTTP Basic cannot carry: the user-id of
// RFC 7617 section 2 cannot contain a colon. Names are compared exactly,
// so surrounding spaces are refused to avoid look-alikes.
func checkUserName(name string) error {
	if err := checkText("name", name, 1, MaxNameLen); err != nil {
		return err
	}
	if strings.Contains(name, ":") {
		return invalid("name", "must not contain ':'")
	}
	if strings.TrimSpace(name) != name {
		return invalid("name", "must not start or end with a space")
	}
	return nil
}
