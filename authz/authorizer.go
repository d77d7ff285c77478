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
	if err := a.adapter.LoadPolicyCtx(ctx, m); err != nil {
		a.policy.Store(&policy{gen: gen, err: err})
		return err
	}
	e, err := casbin.NewEnforcer(m)
	if err == nil {
		e.SetRoleManager(newRoleGraph())
		err = e.BuildRoleLinks()
	}
	if err != nil {
		err = fmt.Errorf("authz: build enforcer: %w", err)
		a.policy.Store(&policy{gen: gen, err: err})
		return err
	}
	a.policy.Store(&policy{gen: gen, e: e})
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
	pol := a.policy.Load()
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
