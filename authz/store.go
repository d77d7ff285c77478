package authz

import (
	"context"
	"time"
)

// Store keeps organizations, users, tokens, grants, certificate bindings,
// the policy generation and the audit log.
//
// Contract, held by the suite in authz/authztest:
//   - Implementations are safe for concurrent use, also by several
//     processes on the same database (replicas).
//   - Every write returns only after its effect is durable.
//   - Times are returned in UTC, truncated to the millisecond; zero times
//     stay zero. The store sets CreatedAt and UpdatedAt.
//   - Create methods validate their input (the record's Validate method):
//     an *InvalidError (ErrInvalid) for a bad field, also for a reference
//     to an organization or user that does not exist; ErrConflict for an
//     id or unique name that is taken.
//   - Methods addressing one record by id or name return ErrNotFound when
//     it does not exist.
//   - Every write to organizations, users, tokens, grants or certificate
//     bindings (not TouchTokens, not the audit log) increments the
//     generation in the same transaction, so that a process that sees the
//     new generation also sees the change.
//   - List methods return at most the filter's Limit records (at least 1;
//     above MaxListLimit, MaxListLimit), in the order each method states,
//     starting strictly after the After key, so that a caller pages with
//     the key of the last record it got. Limit < 1 is an *InvalidError.
type Store interface {
	// CreateOrganization stores a new organization (ID from NewID when
	// empty) and returns it as stored.
	CreateOrganization(ctx context.Context, o Organization) (Organization, error)
	// Organization returns the organization with the id.
	Organization(ctx context.Context, id string) (Organization, error)
	// OrganizationByName returns the organization with the name.
	OrganizationByName(ctx context.Context, name string) (Organization, error)
	// Organizations lists organizations ordered by Name; After is a name.
	Organizations(ctx context.Context, f ListFilter) ([]Organization, error)
	// UpdateOrganization replaces the organization id with what update
	// returns from the stored one, atomically; ID and CreatedAt are kept.
	// An error from update is returned as is and changes nothing.
	UpdateOrganization(ctx context.Context, id string, update func(Organization) (Organization, error)) (Organization, error)
	// DeleteOrganization removes the organization and its grants.
	// ErrConflict while users belong to it.
	DeleteOrganization(ctx context.Context, id string) error

	// CreateUser stores a new user (ID from NewID when empty) and returns
	// it as stored. The organization must exist.
	CreateUser(ctx context.Context, u User) (User, error)
	// User returns the user with the id.
	User(ctx context.Context, id string) (User, error)
	// UserByName returns the user with the name (exact match).
	UserByName(ctx context.Context, name string) (User, error)
	// Users lists users ordered by Name, of one organization when
	// f.OrganizationID is set; After is a name.
	Users(ctx context.Context, f UserFilter) ([]User, error)
	// UpdateUser replaces the user id with what update returns from the
	// stored one, atomically; ID and CreatedAt are kept.
	UpdateUser(ctx context.Context, id string, update func(User) (User, error)) (User, error)
	// DeleteUser removes the user, its tokens, its grants and its
	// certificate bindings.
	DeleteUser(ctx context.Context, id string) error

	// CreateToken stores a new token (ID from NewID when empty) and returns
	// it as stored. The user must exist; ErrConflict when the user has a
	// token of that name or the hash is stored already. LastUsedAt is
	// ignored (zero).
	CreateToken(ctx context.Context, t Token) (Token, error)
	// Token returns the token with the id.
	Token(ctx context.Context, id string) (Token, error)
	// TokenByHash returns the token whose Hash is hash, whatever its state
	// (the caller checks Active).
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// Tokens lists tokens ordered by ID (creation order), of one user when
	// f.UserID is set; After is an id.
	Tokens(ctx context.Context, f TokenFilter) ([]Token, error)
	// RevokeToken sets RevokedAt to at, unless the token is revoked
	// already (then it changes nothing and returns the token as is).
	RevokeToken(ctx context.Context, id string, at time.Time) (Token, error)
	// DeleteToken removes the token.
	DeleteToken(ctx context.Context, id string) error
	// TouchTokens moves the LastUsedAt of each token id to the time given,
	// when that is later; ids that do not exist are skipped. It does not
	// change the generation.
	TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error

	// CreateGrant stores a new grant (ID from NewID when empty) and returns
	// it as stored. An organization or user subject must exist;
	// ErrConflict when the same subject, collection and action are granted
	// already.
	CreateGrant(ctx context.Context, g Grant) (Grant, error)
	// Grant returns the grant with the id.
	Grant(ctx context.Context, id string) (Grant, error)
	// Grants lists the grants that match every field set in f, ordered by
	// ID (creation order); After is an id.
	Grants(ctx context.Context, f GrantFilter) ([]Grant, error)
	// UpdateGrantConditions replaces the conditions of the grant id and
	// returns the grant as stored. The conditions must pass
	// Conditions.Validate, and only read grants have any (else an
	// *InvalidError for "conditions").
	UpdateGrantConditions(ctx context.Context, id string, c Conditions) (Grant, error)
	// DeleteGrant removes the grant.
	DeleteGrant(ctx context.Context, id string) error

	// CreateCertificateBinding stores a new binding (ID from NewID when
	// empty) and returns it as stored. The user must exist; ErrConflict
	// when the identity is bound with the same issuer already, to any user.
	CreateCertificateBinding(ctx context.Context, b CertificateBinding) (CertificateBinding, error)
	// CertificateBinding returns the binding with the id.
	CertificateBinding(ctx context.Context, id string) (CertificateBinding, error)
	// CertificateBindings lists bindings ordered by ID (creation order), of
	// one user when f.UserID is set; After is an id.
	CertificateBindings(ctx context.Context, f CertificateBindingFilter) ([]CertificateBinding, error)
	// DeleteCertificateBinding removes the binding.
	DeleteCertificateBinding(ctx context.Context, id string) error
	// MatchCertificateBindings returns, ordered by ID, the bindings of any
	// of identities whose Issuer is empty or one of issuers: those a
	// certificate with these names, verified against these client CAs,
	// may use. At most MaxCertificateIdentities identities and
	// MaxCertificateIssuers issuers (CheckMatch), else an *InvalidError;
	// the answer is bounded by their product, as (identity, issuer) is
	// unique.
	MatchCertificateBindings(ctx context.Context, identities, issuers []string) ([]CertificateBinding, error)

	// Generation returns the policy generation: a counter that every change
	// to organizations, users, tokens, grants and certificate bindings
	// increments. A process
	// watches it to know when what it derived from them (a policy, cached
	// verdicts) is stale. A new store starts at 0 or more.
	Generation(ctx context.Context) (int64, error)

	// AppendAudit stores a batch of events atomically. Each must pass
	// Validate; an event whose ID is stored already is skipped, so that a
	// batch can be retried.
	AppendAudit(ctx context.Context, events []AuditEvent) error
	// AuditEvents lists the events that match f, newest first: by Time,
	// then by ID, descending.
	AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// PurgeAudit removes the events with Time before t and returns how
	// many. Backends may remove them in several transactions.
	PurgeAudit(ctx context.Context, before time.Time) (int64, error)
}

// MaxListLimit caps the Limit of every list filter.
const MaxListLimit = 1000

// ListFilter pages a list.
type ListFilter struct {
	After string // key of the last record of the previous page; "" first page
	Limit int
}

// UserFilter selects users.
type UserFilter struct {
	OrganizationID string // "" every organization
	After          string // a user name
	Limit          int
}

// TokenFilter selects tokens.
type TokenFilter struct {
	UserID string // "" every user
	After  string // a token id
	Limit  int
}

// GrantFilter selects grants: those matching every field set.
type GrantFilter struct {
	Subject *Subject // nil: any subject
	APIRoot string
	// Collection requires APIRoot.
	Collection string
	Action     Action
	After      string // a grant id
	Limit      int
}

// AuditFilter selects audit events: those matching every field set.
type AuditFilter struct {
	UserID         string
	OrganizationID string
	Action         string
	// APIRoot and Collection select the events of one collection; one
	// without the other is invalid.
	APIRoot    string
	Collection string
	// Since (inclusive) and Until (exclusive) bound Time; zero: unbounded.
	Since, Until time.Time
	// After is the cursor of the last event of the previous page (zero:
	// from the newest); the page holds the events that come after it,
	// i.e. older ones.
	After AuditCursor
	Limit int
}

// AuditCursor is a position in a listing of audit events.
type AuditCursor struct {
	Time time.Time
	ID   string
}

// Validate checks the filter's form.
func (f AuditFilter) Validate() error {
	if f.Collection != "" && f.APIRoot == "" {
		return invalid("api_root", "required with collection")
	}
	if f.APIRoot != "" && f.Collection == "" {
		return invalid("collection", "required with api_root")
	}
	return nil
}

// IsZero reports whether c is the start of a listing.
func (c AuditCursor) IsZero() bool { return c.Time.IsZero() && c.ID == "" }

// CheckLimit is the limit rule of the Store contract, for backends: Limit < 1
// is invalid, above MaxListLimit it is MaxListLimit.
func CheckLimit(limit int) (int, error) {
	if limit < 1 {
		return 0, invalid("limit", "must be at least 1")
	}
	return min(limit, MaxListLimit), nil
}

// Validate checks the filter's form.
func (f GrantFilter) Validate() error {
	if f.Subject != nil {
		if err := f.Subject.Validate(); err != nil {
			return err
		}
	}
	if f.Collection != "" && f.APIRoot == "" {
		return invalid("api_root", "required with collection")
	}
	if f.Action != "" && !f.Action.Valid() {
		return invalid("action", "%q is not read or write", f.Action)
	}
	return nil
}
