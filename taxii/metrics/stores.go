package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
)

// CollectionsStore returns s with the duration of each of its operations
// recorded (taxiid_store_operation_duration_seconds) and failures counted
// (taxiid_store_errors_total); s itself when m is nil. Methods of the
// interface that this file does not know yet pass through unmeasured.
func (m *Metrics) CollectionsStore(s collections.Store) collections.Store {
	if m == nil {
		return s
	}
	return collectionsStore{Store: s, m: m}
}

// AuthzStore is CollectionsStore for the store of principals, grants and
// audit events.
func (m *Metrics) AuthzStore(s authz.Store) authz.Store {
	if m == nil {
		return s
	}
	return authzStore{Store: s, m: m}
}

// observeStore records an operation that began at start and ended with
// *err. The answers a store gives in the normal course of things (not
// found, conflict, invalid input) and a caller that gave up are not
// failures of the store.
func (m *Metrics) observeStore(op string, start time.Time, err *error) {
	m.storeOps.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if e := *err; e != nil && !expected(e) {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

func expected(err error) bool {
	for _, target := range []error{
		collections.ErrNotFound, collections.ErrConflict, collections.ErrInvalid,
		authz.ErrNotFound, authz.ErrConflict, authz.ErrInvalid,
		context.Canceled,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// collectionsStore measures a collections.Store.
type collectionsStore struct {
	collections.Store
	m *Metrics
}

var _ collections.Store = collectionsStore{}

func (s collectionsStore) APIRoots(ctx context.Context) (v []collections.APIRoot, err error) {
	defer s.m.observeStore("APIRoots", time.Now(), &err)
	return s.Store.APIRoots(ctx)
}

func (s collectionsStore) PutAPIRoot(ctx context.Context, root collections.APIRoot) (err error) {
	defer s.m.observeStore("PutAPIRoot", time.Now(), &err)
	return s.Store.PutAPIRoot(ctx, root)
}

func (s collectionsStore) Collections(ctx context.Context, apiRoot string) (v []collections.Collection, err error) {
	defer s.m.observeStore("Collections", time.Now(), &err)
	return s.Store.Collections(ctx, apiRoot)
}

func (s collectionsStore) Collection(ctx context.Context, apiRoot, id string) (v collections.Collection, err error) {
	defer s.m.observeStore("Collection", time.Now(), &err)
	return s.Store.Collection(ctx, apiRoot, id)
}

func (s collectionsStore) PutCollection(ctx context.Context, c collections.Collection) (err error) {
	defer s.m.observeStore("PutCollection", time.Now(), &err)
	return s.Store.PutCollection(ctx, c)
}

func (s collectionsStore) DeleteCollection(ctx context.Context, apiRoot, id string) (err error) {
	defer s.m.observeStore("DeleteCollection", time.Now(), &err)
	return s.Store.DeleteCollection(ctx, apiRoot, id)
}

func (s collectionsStore) DeleteAPIRoot(ctx context.Context, path string) (err error) {
	defer s.m.observeStore("DeleteAPIRoot", time.Now(), &err)
	return s.Store.DeleteAPIRoot(ctx, path)
}

func (s collectionsStore) AddObjects(ctx context.Context, apiRoot, collection string, objs []collections.NewObject, opts collections.AddOptions) (v []collections.AddResult, err error) {
	defer s.m.observeStore("AddObjects", time.Now(), &err)
	return s.Store.AddObjects(ctx, apiRoot, collection, objs, opts)
}

func (s collectionsStore) Objects(ctx context.Context, q collections.Query) (v collections.Page, err error) {
	defer s.m.observeStore("Objects", time.Now(), &err)
	return s.Store.Objects(ctx, q)
}

func (s collectionsStore) DeleteObject(ctx context.Context, apiRoot, collection, id string, versions collections.VersionFilter, specVersions []string) (v int, err error) {
	defer s.m.observeStore("DeleteObject", time.Now(), &err)
	return s.Store.DeleteObject(ctx, apiRoot, collection, id, versions, specVersions)
}

func (s collectionsStore) CreateStatus(ctx context.Context, st collections.Status) (err error) {
	defer s.m.observeStore("CreateStatus", time.Now(), &err)
	return s.Store.CreateStatus(ctx, st)
}

func (s collectionsStore) Status(ctx context.Context, apiRoot, id string) (v collections.Status, err error) {
	defer s.m.observeStore("Status", time.Now(), &err)
	return s.Store.Status(ctx, apiRoot, id)
}

func (s collectionsStore) PendingStatuses(ctx context.Context, before time.Time, limit int) (v []collections.Status, err error) {
	defer s.m.observeStore("PendingStatuses", time.Now(), &err)
	return s.Store.PendingStatuses(ctx, before, limit)
}

func (s collectionsStore) FailPendings(ctx context.Context, apiRoot, id, message string, expires time.Time) (v int, err error) {
	defer s.m.observeStore("FailPendings", time.Now(), &err)
	return s.Store.FailPendings(ctx, apiRoot, id, message, expires)
}

func (s collectionsStore) Secret(ctx context.Context, name string, newSecret func() ([]byte, error)) (v []byte, err error) {
	defer s.m.observeStore("Secret", time.Now(), &err)
	return s.Store.Secret(ctx, name, newSecret)
}

// authzStore measures an authz.Store.
type authzStore struct {
	authz.Store
	m *Metrics
}

var _ authz.Store = authzStore{}

func (s authzStore) CreateOrganization(ctx context.Context, o authz.Organization) (v authz.Organization, err error) {
	defer s.m.observeStore("CreateOrganization", time.Now(), &err)
	return s.Store.CreateOrganization(ctx, o)
}

func (s authzStore) Organization(ctx context.Context, id string) (v authz.Organization, err error) {
	defer s.m.observeStore("Organization", time.Now(), &err)
	return s.Store.Organization(ctx, id)
}

func (s authzStore) OrganizationByName(ctx context.Context, name string) (v authz.Organization, err error) {
	defer s.m.observeStore("OrganizationByName", time.Now(), &err)
	return s.Store.OrganizationByName(ctx, name)
}

func (s authzStore) Organizations(ctx context.Context, f authz.ListFilter) (v []authz.Organization, err error) {
	defer s.m.observeStore("Organizations", time.Now(), &err)
	return s.Store.Organizations(ctx, f)
}

func (s authzStore) UpdateOrganization(ctx context.Context, id string, update func(authz.Organization) (authz.Organization, error)) (v authz.Organization, err error) {
	defer s.m.observeStore("UpdateOrganization", time.Now(), &err)
	return s.Store.UpdateOrganization(ctx, id, update)
}

func (s authzStore) DeleteOrganization(ctx context.Context, id string) (err error) {
	defer s.m.observeStore("DeleteOrganization", time.Now(), &err)
	return s.Store.DeleteOrganization(ctx, id)
}

func (s authzStore) CreateUser(ctx context.Context, u authz.User) (v authz.User, err error) {
	defer s.m.observeStore("CreateUser", time.Now(), &err)
	return s.Store.CreateUser(ctx, u)
}

func (s authzStore) User(ctx context.Context, id string) (v authz.User, err error) {
	defer s.m.observeStore("User", time.Now(), &err)
	return s.Store.User(ctx, id)
}

func (s authzStore) UserByName(ctx context.Context, name string) (v authz.User, err error) {
	defer s.m.observeStore("UserByName", time.Now(), &err)
	return s.Store.UserByName(ctx, name)
}

func (s authzStore) Users(ctx context.Context, f authz.UserFilter) (v []authz.User, err error) {
	defer s.m.observeStore("Users", time.Now(), &err)
	return s.Store.Users(ctx, f)
}

func (s authzStore) UpdateUser(ctx context.Context, id string, update func(authz.User) (authz.User, error)) (v authz.User, err error) {
	defer s.m.observeStore("UpdateUser", time.Now(), &err)
	return s.Store.UpdateUser(ctx, id, update)
}

func (s authzStore) DeleteUser(ctx context.Context, id string) (err error) {
	defer s.m.observeStore("DeleteUser", time.Now(), &err)
	return s.Store.DeleteUser(ctx, id)
}

func (s authzStore) CreateToken(ctx context.Context, t authz.Token) (v authz.Token, err error) {
	defer s.m.observeStore("CreateToken", time.Now(), &err)
	return s.Store.CreateToken(ctx, t)
}

func (s authzStore) Token(ctx context.Context, id string) (v authz.Token, err error) {
	defer s.m.observeStore("Token", time.Now(), &err)
	return s.Store.Token(ctx, id)
}

func (s authzStore) TokenByHash(ctx context.Context, hash string) (v authz.Token, err error) {
	defer s.m.observeStore("TokenByHash", time.Now(), &err)
	return s.Store.TokenByHash(ctx, hash)
}

func (s authzStore) Tokens(ctx context.Context, f authz.TokenFilter) (v []authz.Token, err error) {
	defer s.m.observeStore("Tokens", time.Now(), &err)
	return s.Store.Tokens(ctx, f)
}

func (s authzStore) RevokeToken(ctx context.Context, id string, at time.Time) (v authz.Token, err error) {
	defer s.m.observeStore("RevokeToken", time.Now(), &err)
	return s.Store.RevokeToken(ctx, id, at)
}

func (s authzStore) DeleteToken(ctx context.Context, id string) (err error) {
	defer s.m.observeStore("DeleteToken", time.Now(), &err)
	return s.Store.DeleteToken(ctx, id)
}

func (s authzStore) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) (err error) {
	defer s.m.observeStore("TouchTokens", time.Now(), &err)
	return s.Store.TouchTokens(ctx, lastUsed)
}

func (s authzStore) CreateGrant(ctx context.Context, g authz.Grant) (v authz.Grant, err error) {
	defer s.m.observeStore("CreateGrant", time.Now(), &err)
	return s.Store.CreateGrant(ctx, g)
}

func (s authzStore) Grant(ctx context.Context, id string) (v authz.Grant, err error) {
	defer s.m.observeStore("Grant", time.Now(), &err)
	return s.Store.Grant(ctx, id)
}

func (s authzStore) Grants(ctx context.Context, f authz.GrantFilter) (v []authz.Grant, err error) {
	defer s.m.observeStore("Grants", time.Now(), &err)
	return s.Store.Grants(ctx, f)
}

func (s authzStore) UpdateGrantConditions(ctx context.Context, id string, c authz.Conditions) (v authz.Grant, err error) {
	defer s.m.observeStore("UpdateGrantConditions", time.Now(), &err)
	return s.Store.UpdateGrantConditions(ctx, id, c)
}

func (s authzStore) DeleteGrant(ctx context.Context, id string) (err error) {
	defer s.m.observeStore("DeleteGrant", time.Now(), &err)
	return s.Store.DeleteGrant(ctx, id)
}

func (s authzStore) Generation(ctx context.Context) (v int64, err error) {
	defer s.m.observeStore("Generation", time.Now(), &err)
	return s.Store.Generation(ctx)
}

func (s authzStore) AppendAudit(ctx context.Context, events []authz.AuditEvent) (err error) {
	defer s.m.observeStore("AppendAudit", time.Now(), &err)
	return s.Store.AppendAudit(ctx, events)
}

func (s authzStore) AuditEvents(ctx context.Context, f authz.AuditFilter) (v []authz.AuditEvent, err error) {
	defer s.m.observeStore("AuditEvents", time.Now(), &err)
	return s.Store.AuditEvents(ctx, f)
}

func (s authzStore) PurgeAudit(ctx context.Context, before time.Time) (v int64, err error) {
	defer s.m.observeStore("PurgeAudit", time.Now(), &err)
	return s.Store.PurgeAudit(ctx, before)
}
