package authz

import (
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2/log"
	"github.com/casbin/casbin/v2/rbac"
)

// maxRoleDepth bounds the role chains followed, as Casbin's own role
// manager does; model.conf's are two links long (user, organization,
// grant).
const maxRoleDepth = 10

// roleGraph is the Casbin role manager of the Authorizer's enforcers: the
// role lines of model.conf as plain maps.
//
// Casbin's default role manager keeps six sync.Maps per role and, to answer
// HasLink, copies every role reachable at each level into a new map: with
// 100,000 grants that is about 50 MiB and 100 µs per decision. Here a
// decision walks the holder's roles and looks the target up in each role
// set: a few µs, and a third of the memory. Domains and pattern matching,
// which model.conf does not use, are not supported.
type roleGraph struct {
	mu    sync.RWMutex
	roles map[string]map[string]struct{} // holder -> roles held directly
}

var _ rbac.RoleManager = (*roleGraph)(nil)

var errNoDomains = errors.New("authz: the role manager has no domains")

func newRoleGraph() *roleGraph {
	return &roleGraph{roles: make(map[string]map[string]struct{})}
}

// Clear implements rbac.RoleManager.
func (g *roleGraph) Clear() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.roles)
	return nil
}

// AddLink implements rbac.RoleManager: name1 holds role name2.
func (g *roleGraph) AddLink(name1, name2 string, domain ...string) error {
	if len(domain) > 0 {
		return errNoDomains
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	set := g.roles[name1]
	if set == nil {
		set = make(map[string]struct{}, 1)
		g.roles[name1] = set
	}
	set[name2] = struct{}{}
	return nil
}

// BuildRelationship implements rbac.RoleManager, as AddLink.
func (g *roleGraph) BuildRelationship(name1, name2 string, domain ...string) error {
	return g.AddLink(name1, name2, domain...)
}

// DeleteLink implements rbac.RoleManager.
func (g *roleGraph) DeleteLink(name1, name2 string, domain ...string) error {
	if len(domain) > 0 {
		return errNoDomains
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.roles[name1], name2)
	if len(g.roles[name1]) == 0 {
		delete(g.roles, name1)
	}
	return nil
}

// HasLink implements rbac.RoleManager: whether name1 holds name2, directly
// or through roles it holds (or is name2).
func (g *roleGraph) HasLink(name1, name2 string, domain ...string) (bool, error) {
	if len(domain) > 0 {
		return false, errNoDomains
	}
	if name1 == name2 {
		return true, nil
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.holds(name1, name2, maxRoleDepth), nil
}

// holdsDirectly reports whether holder holds role by a line of its own,
// not through another role.
func (g *roleGraph) holdsDirectly(holder, role string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.roles[holder][role]
	return ok
}

// organizationOf returns the organization role (org:<id>) the user holds,
// "" if none. It walks the user's direct roles: callers ask holdsDirectly
// for the organization they expect first.
func (g *roleGraph) organizationOf(user string) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for r := range g.roles[user] {
		if strings.HasPrefix(r, "org:") {
			return r
		}
	}
	return ""
}

func (g *roleGraph) holds(holder, role string, depth int) bool {
	set := g.roles[holder]
	if _, ok := set[role]; ok {
		return true
	}
	if depth == 0 {
		return false
	}
	for r := range set {
		// Leaves (grants, role:admin) hold nothing: skip them cheaply.
		if len(g.roles[r]) > 0 && g.holds(r, role, depth-1) {
			return true
		}
	}
	return false
}

// GetRoles implements rbac.RoleManager: the roles name holds directly.
func (g *roleGraph) GetRoles(name string, domain ...string) ([]string, error) {
	if len(domain) > 0 {
		return nil, errNoDomains
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]string, 0, len(g.roles[name]))
	for r := range g.roles[name] {
		out = append(out, r)
	}
	slices.Sort(out)
	return out, nil
}

// GetUsers implements rbac.RoleManager: the holders of name. It scans every
// link; enforcement never calls it.
func (g *roleGraph) GetUsers(name string, domain ...string) ([]string, error) {
	if len(domain) > 0 {
		return nil, errNoDomains
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []string
	for holder, set := range g.roles {
		if _, ok := set[name]; ok {
			out = append(out, holder)
		}
	}
	slices.Sort(out)
	return out, nil
}

// GetImplicitRoles implements rbac.RoleManager: every role name holds.
func (g *roleGraph) GetImplicitRoles(name string, domain ...string) ([]string, error) {
	return g.closure(name, domain, g.GetRoles)
}

// GetImplicitUsers implements rbac.RoleManager: every holder of name.
func (g *roleGraph) GetImplicitUsers(name string, domain ...string) ([]string, error) {
	return g.closure(name, domain, g.GetUsers)
}

func (g *roleGraph) closure(name string, domain []string, next func(string, ...string) ([]string, error)) ([]string, error) {
	if len(domain) > 0 {
		return nil, errNoDomains
	}
	seen := map[string]bool{name: true}
	var out []string
	frontier := []string{name}
	for depth := 0; depth <= maxRoleDepth && len(frontier) > 0; depth++ {
		var nextFrontier []string
		for _, n := range frontier {
			rs, err := next(n)
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				if !seen[r] {
					seen[r] = true
					out = append(out, r)
					nextFrontier = append(nextFrontier, r)
				}
			}
		}
		frontier = nextFrontier
	}
	slices.Sort(out)
	return out, nil
}

// GetDomains implements rbac.RoleManager; there are none.
func (g *roleGraph) GetDomains(name string) ([]string, error) { return nil, nil }

// GetAllDomains implements rbac.RoleManager; there are none.
func (g *roleGraph) GetAllDomains() ([]string, error) { return nil, nil }

// DeleteDomain implements rbac.RoleManager; there are no domains.
func (g *roleGraph) DeleteDomain(domain string) error { return errNoDomains }

// PrintRoles implements rbac.RoleManager; it prints nothing.
func (g *roleGraph) PrintRoles() error { return nil }

// SetLogger implements rbac.RoleManager; nothing is logged.
func (g *roleGraph) SetLogger(log.Logger) {}

// Match implements rbac.RoleManager: names match only themselves.
func (g *roleGraph) Match(str, pattern string) bool { return str == pattern }

// AddMatchingFunc implements rbac.RoleManager; patterns are not supported,
// and model.conf uses none.
func (g *roleGraph) AddMatchingFunc(string, rbac.MatchingFunc) {}

// AddDomainMatchingFunc implements rbac.RoleManager; domains are not
// supported, and model.conf uses none.
func (g *roleGraph) AddDomainMatchingFunc(string, rbac.MatchingFunc) {}
