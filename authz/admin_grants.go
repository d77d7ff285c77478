package authz

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// SubjectView is a grant's subject as the admin API shows it, with the
// organization's or user's name for people to read.
type SubjectView struct {
	Kind SubjectKind `json:"kind"`
	ID   string      `json:"id,omitempty"`
	Name string      `json:"name,omitempty"`
}

// GrantView is a grant as the admin API shows it. Read grants show their
// conditions, none included; write grants have none and show none.
type GrantView struct {
	ID         string          `json:"id"`
	Subject    SubjectView     `json:"subject"`
	APIRoot    string          `json:"api_root"`
	Collection string          `json:"collection"`
	Action     Action          `json:"action"`
	Conditions *ConditionsView `json:"conditions,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
}

// ConditionsView is the sharing conditions of a read grant as the admin
// API shows them: every member present but max_tlp, absent for no
// ceiling.
type ConditionsView struct {
	MaxTLP         stix.TLP `json:"max_tlp,omitempty"`
	EmbargoSeconds int64    `json:"embargo_seconds"`
	HideCreator    bool     `json:"hide_creator"`
	HideSources    []string `json:"hide_sources"`
}

func viewConditions(c Conditions) *ConditionsView {
	v := &ConditionsView{MaxTLP: c.MaxTLP, EmbargoSeconds: int64(c.Embargo / time.Second),
		HideCreator: c.HideCreator, HideSources: c.HideSources}
	if v.HideSources == nil {
		v.HideSources = []string{}
	}
	return v
}

// ConditionsInput sets the sharing conditions of a read grant. A member
// left out is no condition: max_tlp a TLP level name (clear or white,
// green, amber, amber+strict, red), embargo_seconds at most a year.
type ConditionsInput struct {
	MaxTLP         string   `json:"max_tlp"`
	EmbargoSeconds int64    `json:"embargo_seconds"`
	HideCreator    bool     `json:"hide_creator"`
	HideSources    []string `json:"hide_sources"`
}

// conditions checks the input, naming a bad member with prefix.
func (in ConditionsInput) conditions(prefix string) (Conditions, error) {
	var c Conditions
	if in.MaxTLP != "" {
		l, err := stix.ParseTLP(in.MaxTLP)
		if err != nil || l == stix.TLPNone {
			return c, invalid(prefix+"max_tlp", "%q is not clear, white, green, amber, amber+strict or red", in.MaxTLP)
		}
		c.MaxTLP = l
	}
	// Compared in seconds first: a larger number would overflow a
	// Duration.
	if in.EmbargoSeconds < 0 || in.EmbargoSeconds > int64(MaxEmbargo/time.Second) {
		return c, invalid(prefix+"embargo_seconds", "must be between 0 and %d (365 days)", int64(MaxEmbargo/time.Second))
	}
	c.Embargo = time.Duration(in.EmbargoSeconds) * time.Second
	c.HideCreator = in.HideCreator
	if len(in.HideSources) > 0 {
		c.HideSources = in.HideSources
	}
	return c, c.Validate(prefix)
}

// SubjectInput names who a grant is to: Kind organization or user with ID,
// or public without.
type SubjectInput struct {
	Kind SubjectKind `json:"kind"`
	ID   string      `json:"id"`
}

// GrantInput grants an action on a collection (by id or alias) to a
// subject, a read under the conditions given (none when left out).
type GrantInput struct {
	Subject    *SubjectInput    `json:"subject"`
	APIRoot    *string          `json:"api_root"`
	Collection *string          `json:"collection"`
	Action     *Action          `json:"action"`
	Conditions *ConditionsInput `json:"conditions"`
}

// GrantQuery selects grants: those matching every field set.
type GrantQuery struct {
	SubjectKind SubjectKind
	SubjectID   string
	APIRoot     string
	Collection  string
	Action      Action
}

// names resolves the names of grant subjects, once each.
type names struct {
	a    *Admin
	seen map[Subject]string
}

func (a *Admin) names() *names { return &names{a: a, seen: map[Subject]string{}} }

func (n *names) view(ctx context.Context, g Grant) GrantView {
	name, ok := n.seen[g.Subject]
	if !ok {
		switch g.Subject.Kind {
		case SubjectOrganization:
			if o, err := n.a.store.Organization(ctx, g.Subject.ID); err == nil {
				name = o.Name
			}
		case SubjectUser:
			if u, err := n.a.store.User(ctx, g.Subject.ID); err == nil {
				name = u.Name
			}
		}
		n.seen[g.Subject] = name
	}
	v := GrantView{ID: g.ID, Subject: SubjectView{Kind: g.Subject.Kind, ID: g.Subject.ID, Name: name},
		APIRoot: g.APIRoot, Collection: g.Collection, Action: g.Action, CreatedAt: g.CreatedAt}
	if g.Action == ActionRead {
		v.Conditions = viewConditions(g.Conditions)
	}
	return v
}

func (n *names) list(ctx context.Context, gs []Grant, limit int) List[GrantView] {
	return page(gs, limit, func(g Grant) string { return g.ID }, func(g Grant) GrantView { return n.view(ctx, g) })
}

// subjectOf checks the subject of a query or input.
func subjectOf(kind SubjectKind, id string) (Subject, error) {
	s := Subject{Kind: kind, ID: id}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

// visibleSubject reports whether p may see the grants of s: admins every
// subject; org-admins their organization, its users and the public.
func (a *Admin) visibleSubject(ctx context.Context, p Principal, s Subject) (bool, error) {
	switch {
	case p.IsAdmin() || s.Kind == SubjectPublic:
		return true, nil
	case s.Kind == SubjectOrganization:
		return p.CanManageOrganization(s.ID), nil
	}
	u, err := a.store.User(ctx, s.ID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return p.CanManageOrganization(u.OrganizationID), nil
}

// Grants lists grants in creation order. Admins see every grant;
// org-admins the grants to their organization and its users (those to
// the public too, when they ask for them by subject). A subject an
// org-admin may not see is ErrNotFound.
func (a *Admin) Grants(ctx context.Context, q GrantQuery, pg Page) (List[GrantView], error) {
	p, err := orgManager(ctx)
	if err != nil {
		return List[GrantView]{}, err
	}
	limit, after, err := pg.check()
	if err != nil {
		return List[GrantView]{}, err
	}
	f := GrantFilter{APIRoot: q.APIRoot, Collection: q.Collection, Action: q.Action, After: after, Limit: limit + 1}
	if q.SubjectKind == "" && q.SubjectID != "" {
		return List[GrantView]{}, invalid("subject_kind", "required with subject_id")
	}
	if q.SubjectKind != "" {
		s, err := subjectOf(q.SubjectKind, q.SubjectID)
		if err != nil {
			return List[GrantView]{}, err
		}
		ok, err := a.visibleSubject(ctx, p, s)
		if err != nil {
			return List[GrantView]{}, err
		}
		if !ok {
			return List[GrantView]{}, ErrHidden
		}
		if s.Kind == SubjectOrganization {
			if _, err := a.store.Organization(ctx, s.ID); err != nil {
				return List[GrantView]{}, err
			}
		} else if s.Kind == SubjectUser {
			if _, err := a.store.User(ctx, s.ID); err != nil {
				return List[GrantView]{}, err
			}
		}
		f.Subject = &s
	}
	if err := f.Validate(); err != nil {
		return List[GrantView]{}, err
	}
	var gs []Grant
	if f.Subject != nil || p.IsAdmin() {
		gs, err = a.store.Grants(ctx, f)
	} else {
		gs, err = a.organizationGrants(ctx, p.OrganizationID, false, f)
	}
	if err != nil {
		return List[GrantView]{}, err
	}
	return a.names().list(ctx, gs, limit), nil
}

// organizationGrants returns the first f.Limit grants (after f.After, in id
// order) that reach the users of the organization: those to it, to each of
// its users and, with public, to the public. It merges one id-ordered
// listing per subject.
func (a *Admin) organizationGrants(ctx context.Context, orgID string, public bool, f GrantFilter) ([]Grant, error) {
	subjects := []Subject{OrganizationSubject(orgID)}
	if public {
		subjects = append(subjects, Public)
	}
	for after := ""; ; {
		users, err := a.store.Users(ctx, UserFilter{OrganizationID: orgID, After: after, Limit: MaxListLimit})
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			subjects = append(subjects, UserSubject(u.ID))
		}
		if len(users) < MaxListLimit {
			break
		}
		after = users[len(users)-1].Name
	}
	var all []Grant
	for _, s := range subjects {
		sf := f
		sf.Subject = &s
		gs, err := a.store.Grants(ctx, sf)
		if err != nil {
			return nil, err
		}
		all = append(all, gs...)
	}
	slices.SortFunc(all, func(x, y Grant) int { return strings.Compare(x.ID, y.ID) })
	if len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, nil
}

// Grant returns one grant, to admins, and to org-admins when it is to
// their organization, one of its users or the public.
func (a *Admin) Grant(ctx context.Context, id string) (GrantView, error) {
	p, err := orgManager(ctx)
	if err != nil {
		return GrantView{}, err
	}
	g, err := a.store.Grant(ctx, id)
	if err != nil {
		return GrantView{}, err
	}
	ok, err := a.visibleSubject(ctx, p, g.Subject)
	if err != nil {
		return GrantView{}, err
	}
	if !ok {
		return GrantView{}, ErrHidden
	}
	return a.names().view(ctx, g), nil
}

// collectionRef resolves the collection of an input, by id or alias, and
// reports a missing API root or collection as the field to blame.
func (a *Admin) collectionRef(ctx context.Context, root, coll string) (collections.Collection, error) {
	if root == "" {
		return collections.Collection{}, invalid("api_root", "missing")
	}
	if coll == "" {
		return collections.Collection{}, invalid("collection", "missing")
	}
	cs, err := a.colls.Collections(ctx, root)
	if errors.Is(err, collections.ErrNotFound) {
		return collections.Collection{}, invalid("api_root", "no API root %q", root)
	}
	if err != nil {
		return collections.Collection{}, err
	}
	for _, c := range cs {
		if c.ID == coll || (c.Alias != "" && c.Alias == coll) {
			return c, nil
		}
	}
	return collections.Collection{}, invalid("collection", "no collection %q in API root %q", coll, root)
}

// CreateGrant grants an action on a collection (admins only). The subject
// must exist; the collection may be named by its alias (the grant keeps
// its id).
func (a *Admin) CreateGrant(ctx context.Context, in GrantInput) (GrantView, error) {
	p, err := adminOnly(ctx)
	if err != nil {
		return GrantView{}, err
	}
	if in.Subject == nil {
		return GrantView{}, invalid("subject", "missing")
	}
	s, err := subjectOf(in.Subject.Kind, in.Subject.ID)
	if err != nil {
		return GrantView{}, err
	}
	if in.Action == nil {
		return GrantView{}, invalid("action", "missing")
	}
	var conds Conditions
	if in.Conditions != nil {
		if conds, err = in.Conditions.conditions("conditions."); err != nil {
			return GrantView{}, err
		}
		if !conds.IsZero() && *in.Action != ActionRead {
			return GrantView{}, invalid("conditions", "only read grants have conditions")
		}
	}
	c, err := a.collectionRef(ctx, deref(in.APIRoot), deref(in.Collection))
	if err != nil {
		return GrantView{}, err
	}
	g, err := a.store.CreateGrant(ctx, Grant{Subject: s, APIRoot: c.APIRoot, Collection: c.ID, Action: *in.Action,
		Conditions: conds})
	if errors.Is(err, ErrConflict) {
		return GrantView{}, conflict("", "%s already has %s on %s/%s", s, *in.Action, c.APIRoot, c.ID)
	}
	if err != nil {
		return GrantView{}, err
	}
	v := a.names().view(ctx, g)
	return v, a.record(ctx, p, "grant", actionCreate, g.APIRoot, g.Collection, nil, v)
}

// UpdateGrantConditions replaces the sharing conditions of a read grant
// (admins only): every condition the input leaves out is lifted. The audit
// event records the grant before and after.
func (a *Admin) UpdateGrantConditions(ctx context.Context, id string, in ConditionsInput) (GrantView, error) {
	p, err := adminOnly(ctx)
	if err != nil {
		return GrantView{}, err
	}
	conds, err := in.conditions("")
	if err != nil {
		return GrantView{}, err
	}
	before, err := a.store.Grant(ctx, id)
	if err != nil {
		return GrantView{}, err
	}
	if before.Action != ActionRead && !conds.IsZero() {
		return GrantView{}, invalid("", "grant %s allows %s: only read grants have conditions", id, before.Action)
	}
	g, err := a.store.UpdateGrantConditions(ctx, id, conds)
	if err != nil {
		return GrantView{}, err
	}
	n := a.names()
	v := n.view(ctx, g)
	return v, a.record(ctx, p, "grant", actionUpdate, g.APIRoot, g.Collection, n.view(ctx, before), v)
}

// DeleteGrant revokes a grant (admins only).
func (a *Admin) DeleteGrant(ctx context.Context, id string) error {
	p, err := adminOnly(ctx)
	if err != nil {
		return err
	}
	g, err := a.store.Grant(ctx, id)
	if err != nil {
		return err
	}
	v := a.names().view(ctx, g)
	if err := a.store.DeleteGrant(ctx, id); err != nil {
		return err
	}
	return a.record(ctx, p, "grant", actionDelete, g.APIRoot, g.Collection, v, nil)
}

// CollectionAccess answers "who can reach this collection, and how": the
// grants on it, in creation order, each naming its subject (an
// organization's grant reaches all its users; a public one, everyone).
// Admins reach every collection without grants. Admins only.
func (a *Admin) CollectionAccess(ctx context.Context, root, id string, pg Page) (List[GrantView], error) {
	if _, err := adminOnly(ctx); err != nil {
		return List[GrantView]{}, err
	}
	limit, after, err := pg.check()
	if err != nil {
		return List[GrantView]{}, err
	}
	if _, err := a.collection(ctx, root, id); err != nil {
		return List[GrantView]{}, err
	}
	gs, err := a.store.Grants(ctx, GrantFilter{APIRoot: root, Collection: id, After: after, Limit: limit + 1})
	if err != nil {
		return List[GrantView]{}, err
	}
	return a.names().list(ctx, gs, limit), nil
}

// OrganizationAccess answers "what can this organization reach, and how":
// the grants that reach its users, in creation order: to the
// organization, to one of its users (that user only), to the public.
// Admins for any organization, org-admins for their own.
func (a *Admin) OrganizationAccess(ctx context.Context, orgID string, pg Page) (List[GrantView], error) {
	p, err := orgManager(ctx)
	if err != nil {
		return List[GrantView]{}, err
	}
	limit, after, err := pg.check()
	if err != nil {
		return List[GrantView]{}, err
	}
	if !p.CanManageOrganization(orgID) {
		return List[GrantView]{}, ErrHidden
	}
	if _, err := a.store.Organization(ctx, orgID); err != nil {
		return List[GrantView]{}, err
	}
	gs, err := a.organizationGrants(ctx, orgID, true, GrantFilter{After: after, Limit: limit + 1})
	if err != nil {
		return List[GrantView]{}, err
	}
	return a.names().list(ctx, gs, limit), nil
}

// deleteGrantsOf removes every grant on a collection that is gone, and
// returns how many.
func (a *Admin) deleteGrantsOf(ctx context.Context, root, id string) (int, error) {
	n := 0
	for {
		gs, err := a.store.Grants(ctx, GrantFilter{APIRoot: root, Collection: id, Limit: MaxListLimit})
		if err != nil {
			return n, err
		}
		for _, g := range gs {
			if err := a.store.DeleteGrant(ctx, g.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return n, err
			}
			n++
		}
		if len(gs) < MaxListLimit {
			return n, nil
		}
	}
}

// Audit log.

// AuditEventView is an audit event as the admin API shows it.
type AuditEventView struct {
	ID             string          `json:"id"`
	Time           time.Time       `json:"time"`
	UserID         string          `json:"user_id,omitempty"`
	UserName       string          `json:"user_name,omitempty"`
	OrganizationID string          `json:"organization_id,omitempty"`
	SourceAddress  string          `json:"source_address,omitempty"`
	RequestID      string          `json:"request_id,omitempty"`
	Action         string          `json:"action"`
	APIRoot        string          `json:"api_root,omitempty"`
	Collection     string          `json:"collection,omitempty"`
	Details        json.RawMessage `json:"details,omitempty"`
}

func viewEvent(e AuditEvent) AuditEventView {
	return AuditEventView{ID: e.ID, Time: e.Time, UserID: e.UserID, UserName: e.UserName,
		OrganizationID: e.OrganizationID, SourceAddress: e.SourceAddress, RequestID: e.RequestID,
		Action: e.Action, APIRoot: e.APIRoot, Collection: e.Collection, Details: e.Details}
}

// AuditQuery selects audit events: those matching every field set. Since
// is inclusive, Until exclusive.
type AuditQuery struct {
	UserID         string
	OrganizationID string
	Action         string
	APIRoot        string
	Collection     string
	Since, Until   time.Time
}

// AuditEvents lists audit events, newest first: every event to admins,
// those of their organization's users to org-admins (another organization
// is ErrNotFound).
func (a *Admin) AuditEvents(ctx context.Context, q AuditQuery, pg Page) (List[AuditEventView], error) {
	p, err := orgManager(ctx)
	if err != nil {
		return List[AuditEventView]{}, err
	}
	limit, after, err := pg.check()
	if err != nil {
		return List[AuditEventView]{}, err
	}
	if !p.IsAdmin() {
		if q.OrganizationID == "" {
			q.OrganizationID = p.OrganizationID
		}
		if q.OrganizationID != p.OrganizationID {
			return List[AuditEventView]{}, ErrHidden
		}
	}
	f := AuditFilter{UserID: q.UserID, OrganizationID: q.OrganizationID, Action: q.Action,
		APIRoot: q.APIRoot, Collection: q.Collection, Since: q.Since, Until: q.Until, Limit: limit + 1}
	if after != "" {
		ms, id, ok := strings.Cut(after, "/")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || id == "" {
			return List[AuditEventView]{}, invalid("cursor", "not a cursor this server returned")
		}
		f.After = AuditCursor{Time: time.UnixMilli(n).UTC(), ID: id}
	}
	if err := f.Validate(); err != nil {
		return List[AuditEventView]{}, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return List[AuditEventView]{}, invalid("until", "must be after since")
	}
	events, err := a.store.AuditEvents(ctx, f)
	if err != nil {
		return List[AuditEventView]{}, err
	}
	return page(events, limit, func(e AuditEvent) string {
		return strconv.FormatInt(e.Time.UnixMilli(), 10) + "/" + e.ID
	}, viewEvent), nil
}

// newCollectionID makes the id of a collection created without one.
func newCollectionID() string { return uuid.NewString() }
