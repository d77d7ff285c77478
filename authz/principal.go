package authz

import "context"

// Principal is who a request acts for. The zero Principal is anonymous: no
// credentials were given, and only public collections are readable.
type Principal struct {
	UserID         string
	UserName       string
	OrganizationID string
	Role           Role
	// TokenID is the token the request authenticated with; empty for a
	// password or a client certificate.
	TokenID string
}

// Anonymous reports whether p stands for a requester without credentials.
func (p Principal) Anonymous() bool { return p.UserID == "" }

// IsAdmin reports whether p operates the hub.
func (p Principal) IsAdmin() bool { return !p.Anonymous() && p.Role == RoleAdmin }

// CanManageOrganization reports whether p may manage the users, tokens and
// see the grants and audit events of the organization: admins for every
// organization, org-admins for their own.
func (p Principal) CanManageOrganization(orgID string) bool {
	if p.Anonymous() {
		return false
	}
	return p.Role == RoleAdmin || (p.Role == RoleOrgAdmin && orgID != "" && orgID == p.OrganizationID)
}

// CanSeeStatus reports whether p may read a status resource created by a
// request of the organization ownerOrgID: that organization's users and
// admins. Statuses of anonymous requests (ownerOrgID empty) are for admins
// only.
func (p Principal) CanSeeStatus(ownerOrgID string) bool {
	if p.Anonymous() {
		return false
	}
	return p.Role == RoleAdmin || (ownerOrgID != "" && ownerOrgID == p.OrganizationID)
}

type principalKey struct{}

// NewContext returns ctx carrying the principal of the request it serves.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal in ctx; false (and the anonymous
// principal) when there is none.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
