package authz

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
)

// maxDecisions bounds the decisions an Authorizer remembers per policy
// generation. Keys come from authenticated principals and route parameters,
// so the bound only matters against a requester that walks random
// collection ids; past it, decisions are computed and not remembered.
const maxDecisions = 100_000

// Authorizer decides, with the Casbin model of model.conf and the policy in
// the store, whether a principal may read or write a collection.
//
// It holds one enforcer per policy generation: when the Watcher reports a
// new generation it loads the whole policy through the Adapter into a new
// enforcer and swaps it in, so that decisions never wait for a reload and an
// edit made by any process is enforced here within the watch interval (at
// once after Watcher.Refresh). If a reload fails, it denies everything until
// one succeeds: a revoked grant must not keep working because the store
// is unreachable.
type Authorizer struct {
	adapter *Adapter
	model   model.Model
	log     *slog.Logger
	policy  atomic.Pointer[policy]
}

// policy is one generation's enforcer and the decisions made with it.
type policy struct {
	gen       int64
	e         *casbin.Enforcer // nil: deny everything
	err       error            // why e is nil, when a load failed
	decisions sync.Map         // decisionKey -> bool
	n         atomic.Int64     // entries in decisions

	// roles is e's role manager: which grants each subject holds directly.
	roles *roleGraph
	// conditions are those of the read grants that have any, by holder.
	conditions map[conditionKey]Conditions
}

// conditionKey names a read grant: its holder as the policy names it
// (user:<id>, org:<id>, public) and its collection.
type conditionKey struct {
	holder, root, coll string
}

type decisionKey struct {
	sub, root, coll string
	act             Action
}

// NewAuthorizer returns the authorizer of the policy in store, reloaded on
// every generation w reports. It denies everything until w has started
// (Watcher.Start loads the policy before it returns).
func NewAuthorizer(store Store, w *Watcher, log *slog.Logger) (*Authorizer, error) {
	m, err := NewModel()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	a := &Authorizer{adapter: NewAdapter(store), model: m, log: log}
	a.policy.Store(&policy{gen: -1})
	w.OnChange(a.reload)
	return a, nil
}

// reload builds the enforcer of generation gen. The generation was read
// before the policy, so a change committed meanwhile moves the generation
// again and causes another reload.
func (a *Authorizer) reload(ctx context.Context, gen int64) error {
	m := a.model.Copy()
	conds := map[conditionKey]Conditions{}
	err := a.adapter.load(ctx, m, func(g Grant) {
		conds[conditionKey{policySubject(g.Subject), g.APIRoot, g.Collection}] = g.Conditions
	})
	if err != nil {
		a.policy.Store(&policy{gen: gen, err: err})
		return err
	}
	e, err := casbin.NewEnforcer(m)
	roles := newRoleGraph()
	if err == nil {
		e.SetRoleManager(roles)
		err = e.BuildRoleLinks()
	}
	if err != nil {
		err = fmt.Errorf("authz: build enforcer: %w", err)
		a.policy.Store(&policy{gen: gen, err: err})
		return err
	}
	a.policy.Store(&policy{gen: gen, e: e, roles: roles, conditions: conds})
	a.log.Debug("authz: policy loaded", "generation", gen)
	return nil
}

// PolicyErr returns why no policy is in force (everything is denied): the
// error of the last load when it failed, which wraps the store's error
// (collections.ErrUnavailable when the store could not be reached), so
// that a server can answer that it cannot decide now rather than deny.
// nil while a policy is in force, and before the first load.
func (a *Authorizer) PolicyErr() error { return a.policy.Load().err }

// Generation returns the generation of the policy in force; -1 before the
// first load.
func (a *Authorizer) Generation() int64 { return a.policy.Load().gen }

// CanRead reports whether the principal in ctx (anonymous when there is
// none) may read the collection (by id) of the API root.
func (a *Authorizer) CanRead(ctx context.Context, apiRoot, collection string) bool {
	p, _ := FromContext(ctx)
	return a.Can(p, apiRoot, collection, ActionRead)
}

// CanWrite reports whether the principal in ctx (anonymous when there is
// none) may write to the collection (by id) of the API root.
func (a *Authorizer) CanWrite(ctx context.Context, apiRoot, collection string) bool {
	p, _ := FromContext(ctx)
	return a.Can(p, apiRoot, collection, ActionWrite)
}

// Can reports whether p may do act on the collection (by id) of the API
// root: p is an admin, or p, its organization or the public was granted
// act on it.
func (a *Authorizer) Can(p Principal, apiRoot, collection string, act Action) bool {
	return a.can(a.policy.Load(), p, apiRoot, collection, act)
}

func (a *Authorizer) can(pol *policy, p Principal, apiRoot, collection string, act Action) bool {
	// A slash in a name could make the policy's role names ambiguous;
	// stored grants never have one.
	if pol.e == nil || !act.Valid() || strings.Contains(apiRoot, "/") || strings.Contains(collection, "/") {
		return false
	}
	sub := subjectAnonymous
	if !p.Anonymous() {
		sub = userSubject(p.UserID)
	}
	k := decisionKey{sub, apiRoot, collection, act}
	if v, ok := pol.decisions.Load(k); ok {
		return v.(bool)
	}
	ok, err := pol.e.Enforce(sub, apiRoot, collection, string(act))
	if err != nil {
		a.log.Error("authz: enforce", "err", err)
		return false
	}
	if pol.n.Load() < maxDecisions {
		if _, loaded := pol.decisions.LoadOrStore(k, ok); !loaded {
			pol.n.Add(1)
		}
	}
	return ok
}

// ReadConditions returns the sharing conditions under which the principal
// in ctx (anonymous when there is none) reads the collection (by id) of
// the API root, and false when it may not read it at all.
//
// The most specific read grant decides: one to the user, else one to its
// organization, else the public one; a grant without conditions gives
// none, even when a less specific one has some. Admins read without
// conditions. The answer comes from the policy in force and a few map
// lookups: no store access, whatever the number of grants. Its
// HideSources is shared with the policy: callers must not modify it.
func (a *Authorizer) ReadConditions(ctx context.Context, apiRoot, collection string) (Conditions, bool) {
	p, _ := FromContext(ctx)
	return a.Conditions(p, apiRoot, collection)
}

// Conditions is ReadConditions for the principal p.
func (a *Authorizer) Conditions(p Principal, apiRoot, collection string) (Conditions, bool) {
	pol := a.policy.Load()
	if !a.can(pol, p, apiRoot, collection, ActionRead) {
		return Conditions{}, false
	}
	role := grantRole(apiRoot, collection, ActionRead)
	decide := func(holder string) (Conditions, bool) {
		if !pol.roles.holdsDirectly(holder, role) {
			return Conditions{}, false
		}
		return pol.conditions[conditionKey{holder, apiRoot, collection}], true
	}
	if !p.Anonymous() {
		user := userSubject(p.UserID)
		if pol.roles.holdsDirectly(user, roleAdmin) {
			return Conditions{}, true
		}
		if c, ok := decide(user); ok {
			return c, true
		}
		// The organization is the one the policy has for the user, which
		// the principal names unless the user moved since it was built.
		org := orgSubject(p.OrganizationID)
		if p.OrganizationID == "" || !pol.roles.holdsDirectly(user, org) {
			org = pol.roles.organizationOf(user)
		}
		if c, ok := decide(org); ok {
			return c, true
		}
	}
	if c, ok := decide(subjectPublic); ok {
		return c, true
	}
	// Unreachable while model.conf allows reads only through these
	// grants; should it ever allow more, such a read has no conditions
	// to apply, and refusing it is the safe answer.
	return Conditions{}, false
}
