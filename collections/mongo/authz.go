package mongo

import (
	"context"
	"errors"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// authzIndexes serve the queries of authz*.go.
var authzIndexes = []index{}

var errNotImplemented = errors.New("mongo: not implemented")

// CreateOrganization implements authz.Store.
func (s *Store) CreateOrganization(ctx context.Context, o authz.Organization) (authz.Organization, error) {
	return authz.Organization{}, errNotImplemented
}

// Organization implements authz.Store.
func (s *Store) Organization(ctx context.Context, id string) (authz.Organization, error) {
	return authz.Organization{}, errNotImplemented
}

// OrganizationByName implements authz.Store.
func (s *Store) OrganizationByName(ctx context.Context, name string) (authz.Organization, error) {
	return authz.Organization{}, errNotImplemented
}

// Organizations implements authz.Store.
func (s *Store) Organizations(ctx context.Context, f authz.ListFilter) ([]authz.Organization, error) {
	return nil, errNotImplemented
}

// UpdateOrganization implements authz.Store.
func (s *Store) UpdateOrganization(ctx context.Context, id string, update func(authz.Organization) (authz.Organization, error)) (authz.Organization, error) {
	return authz.Organization{}, errNotImplemented
}

// DeleteOrganization implements authz.Store.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	return errNotImplemented
}

// CreateUser implements authz.Store.
func (s *Store) CreateUser(ctx context.Context, u authz.User) (authz.User, error) {
	return authz.User{}, errNotImplemented
}

// User implements authz.Store.
func (s *Store) User(ctx context.Context, id string) (authz.User, error) {
	return authz.User{}, errNotImplemented
}

// UserByName implements authz.Store.
func (s *Store) UserByName(ctx context.Context, name string) (authz.User, error) {
	return authz.User{}, errNotImplemented
}

// Users implements authz.Store.
func (s *Store) Users(ctx context.Context, f authz.UserFilter) ([]authz.User, error) {
	return nil, errNotImplemented
}

// UpdateUser implements authz.Store.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(authz.User) (authz.User, error)) (authz.User, error) {
	return authz.User{}, errNotImplemented
}

// DeleteUser implements authz.Store.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return errNotImplemented
}

// CreateToken implements authz.Store.
func (s *Store) CreateToken(ctx context.Context, t authz.Token) (authz.Token, error) {
	return authz.Token{}, errNotImplemented
}

// Token implements authz.Store.
func (s *Store) Token(ctx context.Context, id string) (authz.Token, error) {
	return authz.Token{}, errNotImplemented
}

// TokenByHash implements authz.Store.
func (s *Store) TokenByHash(ctx context.Context, hash string) (authz.Token, error) {
	return authz.Token{}, errNotImplemented
}

// Tokens implements authz.Store.
func (s *Store) Tokens(ctx context.Context, f authz.TokenFilter) ([]authz.Token, error) {
	return nil, errNotImplemented
}

// RevokeToken implements authz.Store.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) (authz.Token, error) {
	return authz.Token{}, errNotImplemented
}

// DeleteToken implements authz.Store.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return errNotImplemented
}

// TouchTokens implements authz.Store.
func (s *Store) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	return errNotImplemented
}

// CreateGrant implements authz.Store.
func (s *Store) CreateGrant(ctx context.Context, g authz.Grant) (authz.Grant, error) {
	return authz.Grant{}, errNotImplemented
}

// Grant implements authz.Store.
func (s *Store) Grant(ctx context.Context, id string) (authz.Grant, error) {
	return authz.Grant{}, errNotImplemented
}

// Grants implements authz.Store.
func (s *Store) Grants(ctx context.Context, f authz.GrantFilter) ([]authz.Grant, error) {
	return nil, errNotImplemented
}

// DeleteGrant implements authz.Store.
func (s *Store) DeleteGrant(ctx context.Context, id string) error {
	return errNotImplemented
}

// Generation implements authz.Store.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	return 0, errNotImplemented
}

// AppendAudit implements authz.Store.
func (s *Store) AppendAudit(ctx context.Context, events []authz.AuditEvent) error {
	return errNotImplemented
}

// AuditEvents implements authz.Store.
func (s *Store) AuditEvents(ctx context.Context, f authz.AuditFilter) ([]authz.AuditEvent, error) {
	return nil, errNotImplemented
}

// PurgeAudit implements authz.Store.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	return 0, errNotImplemented
}
