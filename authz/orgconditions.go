package authz

import "strings"

// OrganizationConditions returns the sharing conditions under which the
// organization orgID reads the collection (by id) of the API root through
// its own read grant, else the public one, and false when it has neither:
// what the organization as a whole may see, whatever grants its users
// hold of their own (webhook notifications are counted so). Like
// Conditions, it answers from the policy in force, without store access.
func (a *Authorizer) OrganizationConditions(orgID, apiRoot, collection string) (Conditions, bool) {
	pol := a.policy.Load()
	if pol.e == nil || orgID == "" || strings.Contains(apiRoot, "/") || strings.Contains(collection, "/") {
		return Conditions{}, false
	}
	role := grantRole(apiRoot, collection, ActionRead)
	for _, holder := range []string{orgSubject(orgID), subjectPublic} {
		if pol.roles.holdsDirectly(holder, role) {
			return pol.conditions[conditionKey{holder, apiRoot, collection}], true
		}
	}
	return Conditions{}, false
}
