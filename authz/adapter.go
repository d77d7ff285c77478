package authz

import (
	"context"
	_ "embed"
	"errors"
	"fmt"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
)

//go:embed model.conf
var modelText string

// NewModel returns the Casbin model of taxiid (model.conf, embedded), whose
// header documents the policy lines.
func NewModel() (model.Model, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("authz: model: %w", err)
	}
	return m, nil
}

// Policy subjects and roles, as model.conf names them.
const (
	subjectAnonymous = "anonymous"
	subjectPublic    = "public"
	roleAdmin        = "role:admin"
)

func userSubject(id string) string { return "user:" + id }
func orgSubject(id string) string  { return "org:" + id }

func grantRole(apiRoot, collection string, act Action) string {
	return "grant:" + apiRoot + "/" + collection + "/" + string(act)
}

// policySubject is the policy name of a grant's subject.
func policySubject(s Subject) string {
	switch s.Kind {
	case SubjectOrganization:
		return orgSubject(s.ID)
	case SubjectUser:
		return userSubject(s.ID)
	}
	return subjectPublic
}

// errReadOnly is returned by the adapter's write methods.
var errReadOnly = errors.New("authz: the policy is edited through authz.Store (grants, users), not through Casbin")

// Adapter is the Casbin adapter of the policy kept in a Store: it turns users
// and grants into the role lines model.conf documents. It only loads: the
// policy is edited through the Store, and each process reloads it when the
// generation moves (Authorizer).
type Adapter struct {
	store Store
}

var (
	_ persist.Adapter        = (*Adapter)(nil)
	_ persist.ContextAdapter = (*Adapter)(nil)
)

// NewAdapter returns the adapter of store.
func NewAdapter(store Store) *Adapter { return &Adapter{store: store} }

// LoadPolicy implements persist.Adapter.
func (a *Adapter) LoadPolicy(m model.Model) error {
	return a.LoadPolicyCtx(context.Background(), m)
}

// LoadPolicyCtx implements persist.ContextAdapter: it adds to m one line per
// user membership, per admin and per grant.
func (a *Adapter) LoadPolicyCtx(ctx context.Context, m model.Model) error {
	return a.load(ctx, m, nil)
}

// load is LoadPolicyCtx that also passes each read grant with conditions
// to conditions (when not nil), so that the Authorizer keeps them with the
// policy of the same generation.
func (a *Adapter) load(ctx context.Context, m model.Model, conditions func(Grant)) error {
	add := func(rule ...string) error {
		return persist.LoadPolicyArray(append([]string{"g"}, rule...), m)
	}
	f := UserFilter{Limit: MaxListLimit}
	for {
		users, err := a.store.Users(ctx, f)
		if err != nil {
			return fmt.Errorf("authz: load users: %w", err)
		}
		for _, u := range users {
			if err := add(userSubject(u.ID), orgSubject(u.OrganizationID)); err != nil {
				return err
			}
			if u.Role == RoleAdmin {
				if err := add(userSubject(u.ID), roleAdmin); err != nil {
					return err
				}
			}
		}
		if len(users) < f.Limit {
			break
		}
		f.After = users[len(users)-1].Name
	}
	gf := GrantFilter{Limit: MaxListLimit}
	for {
		grants, err := a.store.Grants(ctx, gf)
		if err != nil {
			return fmt.Errorf("authz: load grants: %w", err)
		}
		for _, g := range grants {
			if err := add(policySubject(g.Subject), grantRole(g.APIRoot, g.Collection, g.Action)); err != nil {
				return err
			}
			if conditions != nil && g.Action == ActionRead && !g.Conditions.IsZero() {
				conditions(g)
			}
		}
		if len(grants) < gf.Limit {
			break
		}
		gf.After = grants[len(grants)-1].ID
	}
	return nil
}

// SavePolicy implements persist.Adapter; the policy is read-only here.
func (a *Adapter) SavePolicy(model.Model) error { return errReadOnly }

// AddPolicy implements persist.Adapter; the policy is read-only here.
func (a *Adapter) AddPolicy(string, string, []string) error { return errReadOnly }

// RemovePolicy implements persist.Adapter; the policy is read-only here.
func (a *Adapter) RemovePolicy(string, string, []string) error { return errReadOnly }

// RemoveFilteredPolicy implements persist.Adapter; the policy is read-only
// here.
func (a *Adapter) RemoveFilteredPolicy(string, string, int, ...string) error { return errReadOnly }

// SavePolicyCtx implements persist.ContextAdapter; the policy is read-only
// here.
func (a *Adapter) SavePolicyCtx(context.Context, model.Model) error { return errReadOnly }

// AddPolicyCtx implements persist.ContextAdapter; the policy is read-only
// here.
func (a *Adapter) AddPolicyCtx(context.Context, string, string, []string) error { return errReadOnly }

// RemovePolicyCtx implements persist.ContextAdapter; the policy is read-only
// here.
func (a *Adapter) RemovePolicyCtx(context.Context, string, string, []string) error {
	return errReadOnly
}

// RemoveFilteredPolicyCtx implements persist.ContextAdapter; the policy is
// read-only here.
func (a *Adapter) RemoveFilteredPolicyCtx(context.Context, string, string, int, ...string) error {
	return errReadOnly
}
