package authz

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// Admin is the administration service: organizations, users, tokens, grants,
// API roots, collections and the audit log, as the admin HTTP API and the
// `taxiid admin` command both use them, so that who may do what, the checks
// of the input and the audit of every change live here once.
//
// Every method acts for the principal in ctx (FromContext); a request
// without one, or with the anonymous principal, gets ErrUnauthenticated.
// The rules:
//   - admins may do everything;
//   - org-admins manage the users (other than admins), tokens and
//     certificate bindings of their own organization, and see their
//     organization, its grants and its audit events; what belongs to another organization is ErrNotFound to them,
//     exactly as if it did not exist; anything else is ErrForbidden;
//   - every authenticated user lists, creates, revokes and deletes its own
//     tokens (a member's only admin right); anything else is ErrForbidden.
//
// Errors: ErrUnauthenticated, ErrForbidden, ErrNotFound (the addressed
// record), *InvalidError (ErrInvalid; names the field), *ConflictError
// (ErrConflict; names the field when one is to blame). A failed call changes
// nothing. Every change is written to the audit log (Store.AppendAudit)
// before the method returns, with the record before and after the change
// (never a password hash or a token secret), then Refresh runs so that
// this process enforces it at once.
type Admin struct {
	store     Store
	colls     CollectionStore
	declared  DeclaredSet
	refresh   func(ctx context.Context) error
	passwords PasswordParams
	log       *slog.Logger
}

// CollectionStore is the store of API roots and collections Admin manages.
type CollectionStore = collections.Store

// DeclaredSet names the API roots and collections the configuration file
// declares: API root path -> collection ids. They are written to the store
// at every start, so Admin refuses to change or delete them (the file is
// where they change).
type DeclaredSet map[string][]string

func (d DeclaredSet) root(path string) bool {
	_, ok := d[path]
	return ok
}

func (d DeclaredSet) collection(root, id string) bool {
	for _, c := range d[root] {
		if c == id {
			return true
		}
	}
	return false
}

// AdminConfig sets up an Admin. Store and Collections are required.
type AdminConfig struct {
	Store       Store
	Collections CollectionStore
	Declared    DeclaredSet
	// Refresh runs after every change (Watcher.Refresh), so that it is
	// enforced in this process at once; nil: nothing runs (other processes
	// see changes within their watch interval).
	Refresh func(ctx context.Context) error
	// Passwords are the hashing parameters of new passwords (default
	// DefaultPasswordParams).
	Passwords PasswordParams
	Log       *slog.Logger
}

// NewAdmin returns the administration service.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	if cfg.Store == nil || cfg.Collections == nil {
		return nil, errors.New("authz: the admin service needs a store and a collection store")
	}
	if cfg.Passwords == (PasswordParams{}) {
		cfg.Passwords = DefaultPasswordParams
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Refresh == nil {
		cfg.Refresh = func(context.Context) error { return nil }
	}
	return &Admin{store: cfg.Store, colls: cfg.Collections, declared: cfg.Declared,
		refresh: cfg.Refresh, passwords: cfg.Passwords, log: cfg.Log}, nil
}

// ConflictError reports a change that contradicts what is stored: a name
// that is taken, a record still in use. It matches ErrConflict.
type ConflictError struct {
	Field  string // the field to blame in JSON spelling; "" when none
	Reason string
}

func (e *ConflictError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

func conflict(field, format string, args ...any) error {
	return &ConflictError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrHidden is the error of a record the principal may not see. It
// matches ErrNotFound and says the same, so that the answer is that of a
// record that does not exist; callers that audit refusals tell it apart
// with errors.Is(err, ErrHidden).
var ErrHidden = fmt.Errorf("%w", ErrNotFound)

func forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrForbidden}, args...)...)
}

// The principal of a request, and where it came from.

type sourceKey struct{}

// WithSourceAddress returns ctx carrying the network address the request
// came from, for the audit log.
func WithSourceAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, sourceKey{}, addr)
}

// SourceAddress returns the address WithSourceAddress put in ctx, "" if none.
func SourceAddress(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// Operator is the principal of the `taxiid admin` command: someone with
// access to the store itself, hence an admin. Its user id "cli" is no
// user's (user ids are UUIDs), so audit events tell its changes apart.
func Operator(name string) Principal {
	if name == "" {
		name = "cli"
	}
	return Principal{UserID: "cli", UserName: name, Role: RoleAdmin}
}

// caller returns the principal in ctx, ErrUnauthenticated when anonymous.
func caller(ctx context.Context) (Principal, error) {
	p, _ := FromContext(ctx)
	if p.Anonymous() {
		return p, fmt.Errorf("%w: credentials are required", ErrUnauthenticated)
	}
	return p, nil
}

// adminOnly returns the principal in ctx if it is an admin.
func adminOnly(ctx context.Context) (Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, err
	}
	if !p.IsAdmin() {
		return p, forbidden("only admins may do this")
	}
	return p, nil
}

// orgManager returns the principal in ctx if it is an admin or an
// org-admin: members are forbidden.
func orgManager(ctx context.Context) (Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, err
	}
	if p.Role != RoleAdmin && p.Role != RoleOrgAdmin {
		return p, forbidden("only admins and org-admins may do this")
	}
	return p, nil
}

// CheckManager returns nil when the principal in ctx is an admin or an
// org-admin: those may read what describes the administration (the API
// description).
func (a *Admin) CheckManager(ctx context.Context) error {
	_, err := orgManager(ctx)
	return err
}

// Lists.

// List is one page of a listing: Next, when set, is the Cursor of the next
// page.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Page bounds of listings.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 500
)

// Page selects one page of a listing: Limit records (DefaultPageLimit when
// 0, at most MaxPageLimit) after Cursor (the Next of the previous page;
// "" for the first).
type Page struct {
	Limit  int
	Cursor string
}

// check returns the limit to use and the key the cursor carries.
func (p Page) check() (limit int, after string, err error) {
	switch {
	case p.Limit == 0:
		limit = DefaultPageLimit
	case p.Limit < 1 || p.Limit > MaxPageLimit:
		return 0, "", invalid("limit", "must be 1 to %d", MaxPageLimit)
	default:
		limit = p.Limit
	}
	if p.Cursor == "" {
		return limit, "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil || len(b) == 0 || len(b) > 2*MaxNameLen {
		return 0, "", invalid("cursor", "not a cursor this server returned")
	}
	return limit, string(b), nil
}

func cursorOf(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// page builds a List from up to limit+1 records fetched in key order: the
// extra one only tells that there is a next page.
func page[R, V any](recs []R, limit int, key func(R) string, view func(R) V) List[V] {
	out := List[V]{Items: make([]V, 0, min(len(recs), limit))}
	for i, r := range recs {
		if i == limit {
			out.Next = cursorOf(key(recs[i-1]))
			break
		}
		out.Items = append(out.Items, view(r))
	}
	return out
}

// Audit of changes.

// Changes are recorded with these actions, "admin.<record>.<verb>".
const (
	actionCreate   = "create"
	actionUpdate   = "update"
	actionDelete   = "delete"
	actionRevoke   = "revoke"
	actionPassword = "password"
)

// auditDetails is the Details of an admin change.
type auditDetails struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// record writes the audit event of a change, then refreshes this process's
// view of the policy. before and after are views (nil for none). An audit
// write that fails makes the call fail: a change must not go unrecorded
// silently (the event is logged in full then).
func (a *Admin) record(ctx context.Context, p Principal, record, verb, apiRoot, coll string, before, after any) error {
	details, err := json.Marshal(auditDetails{Before: before, After: after})
	if err != nil {
		return fmt.Errorf("authz: audit details: %w", err)
	}
	if len(details) > MaxAuditDetails {
		details, _ = json.Marshal(map[string]string{"note": "record too large to keep"})
	}
	e := AuditEvent{
		ID: NewID(), Time: time.Now(), UserID: p.UserID, UserName: p.UserName, OrganizationID: p.OrganizationID,
		SourceAddress: SourceAddress(ctx), RequestID: collections.RequestID(ctx),
		Action: "admin." + record + "." + verb, APIRoot: apiRoot, Collection: coll, Details: details,
	}
	// The change is made: write its event even if the request's context
	// ends now.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := a.store.AppendAudit(wctx, []AuditEvent{e}); err != nil {
		a.log.Error("authz: admin change made but not audited", "action", e.Action, "user", p.UserName,
			"request_id", e.RequestID, "details", string(details), "err", err)
		return fmt.Errorf("authz: audit %s: %w", e.Action, err)
	}
	if err := a.refresh(wctx); err != nil {
		// The change is stored and audited: the watcher retries on its own.
		a.log.Error("authz: refresh after admin change", "action", e.Action, "err", err)
	}
	return nil
}

// Organizations.

// OrganizationView is an organization as the admin API shows it.
type OrganizationView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func viewOrg(o Organization) OrganizationView {
	return OrganizationView{ID: o.ID, Name: o.Name, Description: o.Description, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// OrganizationInput creates an organization (Name required) or, with only
// the fields to change set, updates one.
type OrganizationInput struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// Organizations lists organizations by name: every one to admins, their own
// to org-admins.
func (a *Admin) Organizations(ctx context.Context, pg Page) (List[OrganizationView], error) {
	p, err := orgManager(ctx)
	if err != nil {
		return List[OrganizationView]{}, err
	}
	limit, after, err := pg.check()
	if err != nil {
		return List[OrganizationView]{}, err
	}
	if !p.IsAdmin() {
		o, err := a.store.Organization(ctx, p.OrganizationID)
		if err != nil || o.Name <= after {
			return List[OrganizationView]{Items: []OrganizationView{}}, ignoreNotFound(err)
		}
		return List[OrganizationView]{Items: []OrganizationView{viewOrg(o)}}, nil
	}
	orgs, err := a.store.Organizations(ctx, ListFilter{After: after, Limit: limit + 1})
	if err != nil {
		return List[OrganizationView]{}, err
	}
	return page(orgs, limit, func(o Organization) string { return o.Name }, viewOrg), nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Organization returns one organization: any to admins, their own to
// org-admins.
func (a *Admin) Organization(ctx context.Context, id string) (OrganizationView, error) {
	p, err := orgManager(ctx)
	if err != nil {
		return OrganizationView{}, err
	}
	if !p.CanManageOrganization(id) {
		return OrganizationView{}, ErrHidden
	}
	o, err := a.store.Organization(ctx, id)
	if err != nil {
		return OrganizationView{}, err
	}
	return viewOrg(o), nil
}

// CreateOrganization creates an organization (admins only).
func (a *Admin) CreateOrganization(ctx context.Context, in OrganizationInput) (OrganizationView, error) {
	p, err := adminOnly(ctx)
	if err != nil {
		return OrganizationView{}, err
	}
	if in.Name == nil {
		return OrganizationView{}, invalid("name", "missing")
	}
	o, err := a.store.CreateOrganization(ctx, Organization{Name: *in.Name, Description: deref(in.Description)})
	if errors.Is(err, ErrConflict) {
		return OrganizationView{}, conflict("name", "an organization named %q exists", *in.Name)
	}
	if err != nil {
		return OrganizationView{}, err
	}
	v := viewOrg(o)
	return v, a.record(ctx, p, "organization", actionCreate, "", "", nil, v)
}

// UpdateOrganization changes the fields set in in (admins only).
func (a *Admin) UpdateOrganization(ctx context.Context, id string, in OrganizationInput) (OrganizationView, error) {
	p, err := adminOnly(ctx)
	if err != nil {
		return OrganizationView{}, err
	}
	var before Organization
	o, err := a.store.UpdateOrganization(ctx, id, func(old Organization) (Organization, error) {
		before = old
		if in.Name != nil {
			old.Name = *in.Name
		}
		if in.Description != nil {
			old.Description = *in.Description
		}
		return old, nil
	})
	if errors.Is(err, ErrConflict) {
		return OrganizationView{}, conflict("name", "an organization named %q exists", deref(in.Name))
	}
	if err != nil {
		return OrganizationView{}, err
	}
	v := viewOrg(o)
	return v, a.record(ctx, p, "organization", actionUpdate, "", "", viewOrg(before), v)
}

// DeleteOrganization removes an organization without users, and its grants
// (admins only).
func (a *Admin) DeleteOrganization(ctx context.Context, id string) error {
	p, err := adminOnly(ctx)
	if err != nil {
		return err
	}
	o, err := a.store.Organization(ctx, id)
	if err != nil {
		return err
	}
	err = a.store.DeleteOrganization(ctx, id)
	if errors.Is(err, ErrConflict) {
		return conflict("", "the organization still has users: delete or move them first")
	}
	if err != nil {
		return err
	}
	return a.record(ctx, p, "organization", actionDelete, "", "", viewOrg(o), nil)
}

// Users.

// UserView is a user as the admin API shows it: no password hash.
type UserView struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	OrganizationID string    `json:"organization_id"`
	Role           Role      `json:"role"`
	HasPassword    bool      `json:"has_password"`
	Disabled       bool      `json:"disabled"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func viewUser(u User) UserView {
	return UserView{ID: u.ID, Name: u.Name, OrganizationID: u.OrganizationID, Role: u.Role,
		HasPassword: u.PasswordHash != "", Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// UserInput creates a user (Name required; OrganizationID defaults to an
// org-admin's own, Role to member; without Password the user signs in
// with tokens only) or, with only the fields to change set, updates one
// (Password is changed with SetPassword).
type UserInput struct {
	Name           *string `json:"name"`
	OrganizationID *string `json:"organization_id"`
	Role           *Role   `json:"role"`
	Password       *string `json:"password"`
	Disabled       *bool   `json:"disabled"`
}

// Password bounds of the admin service, in bytes.
const (
	MinPasswordLen = 12
)

func checkPassword(pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return invalid("password", "must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// Me returns the user the principal in ctx stands for: every user may read
// its own record (to learn its id, say, and handle its tokens).
func (a *Admin) Me(ctx context.Context) (UserView, error) {
	p, err := caller(ctx)
	if err != nil {
		return UserView{}, err
	}
	u, err := a.store.User(ctx, p.UserID)
	if err != nil {
		return UserView{}, err
	}
	return viewUser(u), nil
}

// Users lists users by name, of one organization when orgID is set: every
// user to admins, those of their organization to org-admins (another
// organization is ErrNotFound).
func (a *Admin) Users(ctx context.Context, orgID string, pg Page) (List[UserView], error) {
	p, err := orgManager(ctx)
	if err != nil {
		return List[UserView]{}, err
	}
	limit, after, err := pg.check()
	if err != nil {
		return List[UserView]{}, err
	}
	if !p.IsAdmin() {
		if orgID == "" {
			orgID = p.OrganizationID
		}
		if orgID != p.OrganizationID {
			return List[UserView]{}, ErrHidden
		}
	}
	if orgID != "" {
		if _, err := a.store.Organization(ctx, orgID); err != nil {
			return List[UserView]{}, err
		}
	}
	users, err := a.store.Users(ctx, UserFilter{OrganizationID: orgID, After: after, Limit: limit + 1})
	if err != nil {
		return List[UserView]{}, err
	}
	return page(users, limit, func(u User) string { return u.Name }, viewUser), nil
}

// manageableUser returns user id if p may manage it: admins every user,
// org-admins the users of their organization (others are ErrNotFound)
// other than admins (ErrForbidden). Members are forbidden.
func (a *Admin) manageableUser(ctx context.Context, p Principal, id string) (User, error) {
	if p.Role != RoleAdmin && p.Role != RoleOrgAdmin {
		return User{}, forbidden("only admins and org-admins may do this")
	}
	u, err := a.store.User(ctx, id)
	if err != nil {
		return User{}, err
	}
	if !p.CanManageOrganization(u.OrganizationID) {
		return User{}, ErrHidden
	}
	if !p.IsAdmin() && u.Role == RoleAdmin {
		return User{}, forbidden("only admins may manage admins")
	}
	return u, nil
}

// User returns one user: any to admins, those of their organization to
// org-admins.
func (a *Admin) User(ctx context.Context, id string) (UserView, error) {
	p, err := orgManager(ctx)
	if err != nil {
		return UserView{}, err
	}
	u, err := a.store.User(ctx, id)
	if err != nil {
		return UserView{}, err
	}
	if !p.CanManageOrganization(u.OrganizationID) {
		return UserView{}, ErrHidden
	}
	return viewUser(u), nil
}

// checkRole refuses the admin role to org-admins: they cannot make anyone
// more than they are.
func checkRole(p Principal, r Role) error {
	if !r.Valid() {
		return invalid("role", "%q is not admin, org-admin or member", r)
	}
	if r == RoleAdmin && !p.IsAdmin() {
		return forbidden("only admins may give the admin role")
	}
	return nil
}

// orgRef checks an organization id given as input: a missing one, or one
// an org-admin may not use, is invalid (an org-admin learns nothing of
// other organizations).
func (a *Admin) orgRef(ctx context.Context, p Principal, id string) error {
	if id == "" {
		return invalid("organization_id", "missing")
	}
	if !p.CanManageOrganization(id) {
		return invalid("organization_id", "no organization %q", id)
	}
	if _, err := a.store.Organization(ctx, id); errors.Is(err, ErrNotFound) {
		return invalid("organization_id", "no organization %q", id)
	} else if err != nil {
		return err
	}
	return nil
}

// CreateUser creates a user: admins in any organization, org-admins in
// their own (not as admins).
func (a *Admin) CreateUser(ctx context.Context, in UserInput) (UserView, error) {
	p, err := orgManager(ctx)
	if err != nil {
		return UserView{}, err
	}
	if in.Name == nil {
		return UserView{}, invalid("name", "missing")
	}
	u := User{Name: *in.Name, Role: RoleMember, Disabled: deref(in.Disabled)}
	if in.OrganizationID != nil {
		u.OrganizationID = *in.OrganizationID
	} else if !p.IsAdmin() {
		u.OrganizationID = p.OrganizationID
	}
	if in.Role != nil {
		u.Role = *in.Role
	}
	if err := checkUserName(u.Name); err != nil {
		return UserView{}, err
	}
	if err := a.orgRef(ctx, p, u.OrganizationID); err != nil {
		return UserView{}, err
	}
	if err := checkRole(p, u.Role); err != nil {
		return UserView{}, err
	}
	if in.Password != nil {
		if err := checkPassword(*in.Password); err != nil {
			return UserView{}, err
		}
		// Before hashing (tens of milliseconds): a taken name fails fast.
		if _, err := a.store.UserByName(ctx, u.Name); err == nil {
			return UserView{}, conflict("name", "a user named %q exists", u.Name)
		}
		if u.PasswordHash, err = HashPassword(*in.Password, a.passwords); err != nil {
			return UserView{}, err
		}
	}
	u, err = a.store.CreateUser(ctx, u)
	if errors.Is(err, ErrConflict) {
		return UserView{}, conflict("name", "a user named %q exists", *in.Name)
	}
	if err != nil {
		return UserView{}, err
	}
	v := viewUser(u)
	return v, a.record(ctx, p, "user", actionCreate, "", "", nil, v)
}

// UpdateUser changes the fields set in in: admins any user, org-admins the
// non-admin users of their organization, within it. An admin cannot demote
// or disable itself, so that the hub is not left without an admin by
// accident.
func (a *Admin) UpdateUser(ctx context.Context, id string, in UserInput) (UserView, error) {
	p, err := caller(ctx)
	if err != nil {
		return UserView{}, err
	}
	if _, err := a.manageableUser(ctx, p, id); err != nil {
		return UserView{}, err
	}
	if in.Password != nil {
		return UserView{}, invalid("password", "is changed with a password reset, not an update")
	}
	if in.Name != nil {
		if err := checkUserName(*in.Name); err != nil {
			return UserView{}, err
		}
	}
	if in.OrganizationID != nil {
		if err := a.orgRef(ctx, p, *in.OrganizationID); err != nil {
			return UserView{}, err
		}
	}
	if in.Role != nil {
		if err := checkRole(p, *in.Role); err != nil {
			return UserView{}, err
		}
	}
	if id == p.UserID && ((in.Role != nil && *in.Role != p.Role) || deref(in.Disabled)) {
		return UserView{}, conflict("role", "you cannot demote or disable yourself; another admin can")
	}
	var before User
	u, err := a.store.UpdateUser(ctx, id, func(old User) (User, error) {
		before = old
		if !p.IsAdmin() && old.Role == RoleAdmin {
			return old, forbidden("only admins may manage admins")
		}
		if in.Name != nil {
			old.Name = *in.Name
		}
		if in.OrganizationID != nil {
			old.OrganizationID = *in.OrganizationID
		}
		if in.Role != nil {
			old.Role = *in.Role
		}
		if in.Disabled != nil {
			old.Disabled = *in.Disabled
		}
		return old, nil
	})
	if errors.Is(err, ErrConflict) {
		return UserView{}, conflict("name", "a user named %q exists", deref(in.Name))
	}
	if err != nil {
		return UserView{}, err
	}
	v := viewUser(u)
	return v, a.record(ctx, p, "user", actionUpdate, "", "", viewUser(before), v)
}

// DeleteUser removes a user with its tokens, grants and certificate
// bindings: admins any user but themselves, org-admins the non-admin users
// of their organization.
func (a *Admin) DeleteUser(ctx context.Context, id string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	u, err := a.manageableUser(ctx, p, id)
	if err != nil {
		return err
	}
	if id == p.UserID && p.IsAdmin() {
		return conflict("", "you cannot delete yourself; another admin can")
	}
	if err := a.store.DeleteUser(ctx, id); err != nil {
		return err
	}
	return a.record(ctx, p, "user", actionDelete, "", "", viewUser(u), nil)
}

// PasswordInput sets a user's password; without Password, one is made.
type PasswordInput struct {
	Password *string `json:"password"`
}

// PasswordResult is the outcome of SetPassword: Password is set only when
// it was made by the server, and is shown this once.
type PasswordResult struct {
	User     UserView `json:"user"`
	Password string   `json:"password,omitempty"`
}

// SetPassword replaces a user's password (a reset): admins for any user,
// org-admins for the non-admin users of their organization. Every sign-in
// with the old password fails from then on.
func (a *Admin) SetPassword(ctx context.Context, id string, in PasswordInput) (PasswordResult, error) {
	p, err := caller(ctx)
	if err != nil {
		return PasswordResult{}, err
	}
	if _, err := a.manageableUser(ctx, p, id); err != nil {
		return PasswordResult{}, err
	}
	var res PasswordResult
	pw := deref(in.Password)
	if in.Password == nil {
		if pw, err = newPassword(); err != nil {
			return PasswordResult{}, err
		}
		res.Password = pw
	} else if err := checkPassword(pw); err != nil {
		return PasswordResult{}, err
	}
	hash, err := HashPassword(pw, a.passwords)
	if err != nil {
		return PasswordResult{}, err
	}
	var before User
	u, err := a.store.UpdateUser(ctx, id, func(old User) (User, error) {
		before = old
		if !p.IsAdmin() && old.Role == RoleAdmin {
			return old, forbidden("only admins may manage admins")
		}
		old.PasswordHash = hash
		return old, nil
	})
	if err != nil {
		return PasswordResult{}, err
	}
	res.User = viewUser(u)
	return res, a.record(ctx, p, "user", actionPassword, "", "", viewUser(before), res.User)
}

// newPassword makes a password of 144 random bits, in base64url.
func newPassword() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("authz: password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Tokens.

// TokenView is a token as the admin API shows it: no hash, no secret.
type TokenView struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Active     bool       `json:"active"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

func viewToken(t Token) TokenView {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return TokenView{ID: t.ID, UserID: t.UserID, Name: t.Name, Prefix: t.Prefix, Active: t.Active(time.Now()),
		ExpiresAt: opt(t.ExpiresAt), RevokedAt: opt(t.RevokedAt), LastUsedAt: opt(t.LastUsedAt), CreatedAt: t.CreatedAt}
}

// NewTokenView is a token just made, with its secret: shown this once,
// never stored.
type NewTokenView struct {
	TokenView
	Secret string `json:"secret"`
}

// TokenInput makes a token: Name required, unique among the user's
// tokens; without ExpiresAt it never expires.
type TokenInput struct {
	Name      *string    `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// tokenOwner returns the user whose tokens p addresses: every principal its
// own; admins and org-admins as manageableUser says.
func (a *Admin) tokenOwner(ctx context.Context, userID string) (Principal, User, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, User{}, err
	}
	if userID == p.UserID {
		u, err := a.store.User(ctx, userID)
		return p, u, err
	}
	u, err := a.manageableUser(ctx, p, userID)
	return p, u, err
}

// Tokens lists the tokens of a user in creation order.
func (a *Admin) Tokens(ctx context.Context, userID string, pg Page) (List[TokenView], error) {
	limit, after, err := pg.check()
	if err != nil {
		return List[TokenView]{}, err
	}
	if _, _, err := a.tokenOwner(ctx, userID); err != nil {
		return List[TokenView]{}, err
	}
	toks, err := a.store.Tokens(ctx, TokenFilter{UserID: userID, After: after, Limit: limit + 1})
	if err != nil {
		return List[TokenView]{}, err
	}
	return page(toks, limit, func(t Token) string { return t.ID }, viewToken), nil
}

// userToken returns token id of the user, ErrNotFound when the user has
// no such token.
func (a *Admin) userToken(ctx context.Context, userID, id string) (Token, error) {
	t, err := a.store.Token(ctx, id)
	if err != nil {
		return Token{}, err
	}
	if t.UserID != userID {
		return Token{}, ErrHidden
	}
	return t, nil
}

// Token returns one token of a user.
func (a *Admin) Token(ctx context.Context, userID, id string) (TokenView, error) {
	if _, _, err := a.tokenOwner(ctx, userID); err != nil {
		return TokenView{}, err
	}
	t, err := a.userToken(ctx, userID, id)
	if err != nil {
		return TokenView{}, err
	}
	return viewToken(t), nil
}

// CreateToken makes a token for a user and returns it with its secret.
func (a *Admin) CreateToken(ctx context.Context, userID string, in TokenInput) (NewTokenView, error) {
	p, _, err := a.tokenOwner(ctx, userID)
	if err != nil {
		return NewTokenView{}, err
	}
	if in.Name == nil {
		return NewTokenView{}, invalid("name", "missing")
	}
	if err := checkText("name", *in.Name, 1, MaxNameLen); err != nil {
		return NewTokenView{}, err
	}
	t := Token{UserID: userID, Name: *in.Name}
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(time.Now()) {
			return NewTokenView{}, invalid("expires_at", "must be in the future")
		}
		t.ExpiresAt = *in.ExpiresAt
	}
	secret, hash, prefix, err := NewTokenSecret()
	if err != nil {
		return NewTokenView{}, err
	}
	t.Hash, t.Prefix = hash, prefix
	t, err = a.store.CreateToken(ctx, t)
	if errors.Is(err, ErrConflict) {
		return NewTokenView{}, conflict("name", "the user has a token named %q", *in.Name)
	}
	if err != nil {
		return NewTokenView{}, err
	}
	v := viewToken(t)
	return NewTokenView{TokenView: v, Secret: secret}, a.record(ctx, p, "token", actionCreate, "", "", nil, v)
}

// RevokeToken stops a token from working; it stays listed, revoked.
// Revoking a revoked token changes nothing.
func (a *Admin) RevokeToken(ctx context.Context, userID, id string) (TokenView, error) {
	p, _, err := a.tokenOwner(ctx, userID)
	if err != nil {
		return TokenView{}, err
	}
	before, err := a.userToken(ctx, userID, id)
	if err != nil {
		return TokenView{}, err
	}
	if !before.RevokedAt.IsZero() {
		return viewToken(before), nil
	}
	t, err := a.store.RevokeToken(ctx, id, time.Now())
	if err != nil {
		return TokenView{}, err
	}
	v := viewToken(t)
	return v, a.record(ctx, p, "token", actionRevoke, "", "", viewToken(before), v)
}

// DeleteToken removes a token.
func (a *Admin) DeleteToken(ctx context.Context, userID, id string) error {
	p, _, err := a.tokenOwner(ctx, userID)
	if err != nil {
		return err
	}
	t, err := a.userToken(ctx, userID, id)
	if err != nil {
		return err
	}
	if err := a.store.DeleteToken(ctx, id); err != nil {
		return err
	}
	return a.record(ctx, p, "token", actionDelete, "", "", viewToken(t), nil)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
