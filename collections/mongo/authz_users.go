package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/authz"
)

// userDoc is a user in the users collection.
type userDoc struct {
	ID             string     `bson:"_id"`
	Name           string     `bson:"name"`
	OrganizationID string     `bson:"organization_id"`
	Role           authz.Role `bson:"role"`
	PasswordHash   string     `bson:"password_hash"`
	Disabled       bool       `bson:"disabled"`
	Created        time.Time  `bson:"created"`
	Updated        time.Time  `bson:"updated"`
	// Rev counts updates: UpdateUser writes only over the revision it
	// read.
	Rev int64 `bson:"rev"`
}

func (d userDoc) user() authz.User {
	return authz.User{ID: d.ID, Name: d.Name, OrganizationID: d.OrganizationID, Role: d.Role,
		PasswordHash: d.PasswordHash, Disabled: d.Disabled, CreatedAt: d.Created.UTC(), UpdatedAt: d.Updated.UTC()}
}

// userFields are the fields of u that CreateUser and UpdateUser write.
func userFields(u authz.User) bson.D {
	return bson.D{{Key: "name", Value: u.Name}, {Key: "organization_id", Value: u.OrganizationID},
		{Key: "role", Value: u.Role}, {Key: "password_hash", Value: u.PasswordHash},
		{Key: "disabled", Value: u.Disabled}, {Key: "updated", Value: u.UpdatedAt}}
}

// CreateUser implements authz.Store.
func (s *Store) CreateUser(ctx context.Context, u authz.User) (authz.User, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if u.ID == "" {
		u.ID = authz.NewID()
	}
	if err := u.Validate(); err != nil {
		return authz.User{}, err
	}
	u.CreatedAt = authzNow()
	u.UpdatedAt = u.CreatedAt
	if err := s.checkOrganizationRef(ctx, "organization_id", u.OrganizationID); err != nil {
		return authz.User{}, err
	}
	if err := s.markChange(ctx); err != nil {
		return authz.User{}, err
	}
	_, err := s.db.Collection(collUsers).InsertOne(ctx, userDoc{ID: u.ID, Name: u.Name, OrganizationID: u.OrganizationID,
		Role: u.Role, PasswordHash: u.PasswordHash, Disabled: u.Disabled, Created: u.CreatedAt, Updated: u.UpdatedAt})
	if duplicateKey(err) {
		return authz.User{}, fmt.Errorf("user id %q or name %q: %w", u.ID, u.Name, authz.ErrConflict)
	}
	if err != nil {
		return authz.User{}, storeErr("create user", err)
	}
	defer s.publishChange(ctx)
	// The organization may have been deleted, or marked for deletion,
	// since the check above: then the user must not stay (see authz.go).
	if err := s.checkOrganizationRef(ctx, "organization_id", u.OrganizationID); err != nil {
		uctx, cancel := s.undoCtx(ctx)
		defer cancel()
		if _, uerr := s.removeUser(uctx, u.ID); uerr != nil {
			return authz.User{}, errors.Join(err, uerr)
		}
		return authz.User{}, err
	}
	return u, nil
}

// User implements authz.Store.
func (s *Store) User(ctx context.Context, id string) (authz.User, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d userDoc
	err := s.findAuthz(ctx, collUsers, idFilter(id), fmt.Sprintf("user %q", id), &d)
	return d.user(), err
}

// UserByName implements authz.Store.
func (s *Store) UserByName(ctx context.Context, name string) (authz.User, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d userDoc
	err := s.findAuthz(ctx, collUsers, bson.D{{Key: "name", Value: name}}, fmt.Sprintf("user %q", name), &d)
	return d.user(), err
}

// Users implements authz.Store.
func (s *Store) Users(ctx context.Context, f authz.UserFilter) ([]authz.User, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	return listAuthz(ctx, s, usersListing(f), limit, userDoc.user)
}

// usersListing is the page of users f selects.
func usersListing(f authz.UserFilter) listing {
	l := listing{coll: collUsers, filter: bson.D{{Key: "name", Value: bson.D{{Key: "$gt", Value: f.After}}}},
		sort: bson.D{{Key: "name", Value: 1}}, index: "users_name"}
	if f.OrganizationID != "" {
		l.filter = append(bson.D{{Key: "organization_id", Value: f.OrganizationID}}, l.filter...)
		l.index = "users_organization_name"
	}
	return l
}

// UpdateUser implements authz.Store. It writes over the revision it read,
// and when another update or a delete came first, reads again and calls
// update again.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(authz.User) (authz.User, error)) (authz.User, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	users := s.db.Collection(collUsers)
	marked := false
	for {
		var d userDoc
		if err := s.findAuthz(ctx, collUsers, idFilter(id), fmt.Sprintf("user %q", id), &d); err != nil {
			return authz.User{}, err
		}
		old := d.user()
		u, err := update(old)
		if err != nil {
			return authz.User{}, err
		}
		u.ID, u.CreatedAt, u.UpdatedAt = old.ID, old.CreatedAt, authzNow()
		if err := u.Validate(); err != nil {
			return authz.User{}, err
		}
		moved := u.OrganizationID != old.OrganizationID
		if moved {
			if err := s.checkOrganizationRef(ctx, "organization_id", u.OrganizationID); err != nil {
				return authz.User{}, err
			}
		}
		if !marked {
			if err := s.markChange(ctx); err != nil {
				return authz.User{}, err
			}
			marked = true
		}
		res, err := users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "rev", Value: d.Rev}}, bson.D{
			{Key: "$set", Value: userFields(u)},
			{Key: "$inc", Value: bson.D{{Key: "rev", Value: int64(1)}}},
		})
		if duplicateKey(err) {
			return authz.User{}, fmt.Errorf("user name %q: %w", u.Name, authz.ErrConflict)
		}
		if err != nil {
			return authz.User{}, storeErr("update user", err)
		}
		if res.MatchedCount == 0 {
			continue // lost a race: read again
		}
		if moved {
			// As in CreateUser: the new organization may be going away.
			if err := s.checkOrganizationRef(ctx, "organization_id", u.OrganizationID); err != nil {
				if rerr := s.revertUser(ctx, d, u.OrganizationID); rerr != nil {
					err = errors.Join(err, rerr)
				}
				s.publishChange(ctx)
				return authz.User{}, err
			}
		}
		s.publishChange(ctx)
		return u, nil
	}
}

// revertUser undoes an update of the user d that moved it to organization
// to, when to turned out to be going away. It restores d as it was, unless
// the user was updated again meanwhile; then it moves the user back to
// d's organization only (that update left the organization as it was, or
// it checked the new one itself).
func (s *Store) revertUser(ctx context.Context, d userDoc, to string) error {
	ctx, cancel := s.undoCtx(ctx)
	defer cancel()
	users := s.db.Collection(collUsers)
	old := d.user()
	res, err := users.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "rev", Value: d.Rev + 1}}, bson.D{
		{Key: "$set", Value: userFields(old)},
		{Key: "$inc", Value: bson.D{{Key: "rev", Value: int64(1)}}},
	})
	if err == nil && res.MatchedCount == 0 {
		_, err = users.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "organization_id", Value: to}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "organization_id", Value: d.OrganizationID}}},
			{Key: "$inc", Value: bson.D{{Key: "rev", Value: int64(1)}}},
		})
	}
	return storeErr("undo user update", err)
}

// DeleteUser implements authz.Store. Deleting a missing user also removes
// tokens and grants of it that a delete which died half-way left behind.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	notFound := fmt.Errorf("user %q: %w", id, authz.ErrNotFound)
	found, err := s.exists(ctx, collUsers, idFilter(id))
	if err != nil {
		return err
	}
	if !found {
		left, err := s.exists(ctx, collTokens, bson.D{{Key: "user_id", Value: id}})
		if err == nil && !left {
			left, err = s.exists(ctx, collGrants, subjectFilter(authz.UserSubject(id)))
		}
		if err == nil && !left {
			left, err = s.exists(ctx, collCertBinds, bson.D{{Key: "user_id", Value: id}})
		}
		if err != nil || !left {
			return cmpErr(err, notFound)
		}
	}
	if err := s.markChange(ctx); err != nil {
		return err
	}
	defer s.publishChange(ctx)
	removed, err := s.removeUser(ctx, id)
	if err != nil {
		return err
	}
	if !removed {
		return notFound
	}
	return nil
}

// removeUser removes the user, then its tokens, grants and certificate
// bindings (see authz.go for why in that order), and reports whether the
// user was there.
func (s *Store) removeUser(ctx context.Context, id string) (bool, error) {
	res, err := s.db.Collection(collUsers).DeleteOne(ctx, idFilter(id))
	if err != nil {
		return false, storeErr("delete user", err)
	}
	if _, err := s.db.Collection(collTokens).DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}}); err != nil {
		return false, storeErr("delete user tokens", err)
	}
	if _, err := s.db.Collection(collGrants).DeleteMany(ctx, subjectFilter(authz.UserSubject(id))); err != nil {
		return false, storeErr("delete user grants", err)
	}
	if _, err := s.db.Collection(collCertBinds).DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}}); err != nil {
		return false, storeErr("delete user certificate bindings", err)
	}
	return res.DeletedCount == 1, nil
}

// checkUserRef returns an *authz.InvalidError for field when the user id
// does not exist.
func (s *Store) checkUserRef(ctx context.Context, field, id string) error {
	ok, err := s.exists(ctx, collUsers, idFilter(id))
	if err != nil {
		return err
	}
	if !ok {
		return &authz.InvalidError{Field: field, Reason: fmt.Sprintf("no user %q", id)}
	}
	return nil
}
