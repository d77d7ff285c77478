package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/authz"
)

// orgDoc is an organization in the organizations collection.
type orgDoc struct {
	ID          string    `bson:"_id"`
	Name        string    `bson:"name"`
	Description string    `bson:"description"`
	Created     time.Time `bson:"created"`
	Updated     time.Time `bson:"updated"`
	// Rev counts updates: UpdateOrganization writes only over the
	// revision it read.
	Rev int64 `bson:"rev"`
	// Deleting is set while a DeleteOrganization checks that no user
	// belongs to the organization: until this time, no user may join it
	// (see authz.go). Zero: no delete in progress.
	Deleting time.Time `bson:"deleting,omitempty"`
}

func (d orgDoc) org() authz.Organization {
	return authz.Organization{ID: d.ID, Name: d.Name, Description: d.Description,
		CreatedAt: d.Created.UTC(), UpdatedAt: d.Updated.UTC()}
}

// CreateOrganization implements authz.Store.
func (s *Store) CreateOrganization(ctx context.Context, o authz.Organization) (authz.Organization, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if o.ID == "" {
		o.ID = authz.NewID()
	}
	if err := o.Validate(); err != nil {
		return authz.Organization{}, err
	}
	o.CreatedAt = authzNow()
	o.UpdatedAt = o.CreatedAt
	if err := s.markChange(ctx); err != nil {
		return authz.Organization{}, err
	}
	_, err := s.db.Collection(collOrgs).InsertOne(ctx, orgDoc{ID: o.ID, Name: o.Name, Description: o.Description,
		Created: o.CreatedAt, Updated: o.UpdatedAt})
	if duplicateKey(err) {
		return authz.Organization{}, fmt.Errorf("organization id %q or name %q: %w", o.ID, o.Name, authz.ErrConflict)
	}
	if err != nil {
		return authz.Organization{}, storeErr("create organization", err)
	}
	s.publishChange(ctx)
	return o, nil
}

// Organization implements authz.Store.
func (s *Store) Organization(ctx context.Context, id string) (authz.Organization, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d orgDoc
	err := s.findAuthz(ctx, collOrgs, idFilter(id), fmt.Sprintf("organization %q", id), &d)
	return d.org(), err
}

// OrganizationByName implements authz.Store.
func (s *Store) OrganizationByName(ctx context.Context, name string) (authz.Organization, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d orgDoc
	err := s.findAuthz(ctx, collOrgs, bson.D{{Key: "name", Value: name}}, fmt.Sprintf("organization %q", name), &d)
	return d.org(), err
}

// Organizations implements authz.Store.
func (s *Store) Organizations(ctx context.Context, f authz.ListFilter) ([]authz.Organization, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	return listAuthz(ctx, s, orgsListing(f.After), limit, orgDoc.org)
}

// orgsListing is the page of organizations after the name. Strings
// compare bytewise in MongoDB's default collation, like Go's and SQLite's:
// "B" before "a".
func orgsListing(after string) listing {
	return listing{coll: collOrgs, filter: bson.D{{Key: "name", Value: bson.D{{Key: "$gt", Value: after}}}},
		sort: bson.D{{Key: "name", Value: 1}}, index: "organizations_name"}
}

// UpdateOrganization implements authz.Store. It writes over the revision it
// read, and when another update or a delete came first, reads again and
// calls update again.
func (s *Store) UpdateOrganization(ctx context.Context, id string,
	update func(authz.Organization) (authz.Organization, error)) (authz.Organization, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	orgs := s.db.Collection(collOrgs)
	marked := false
	for {
		var d orgDoc
		if err := s.findAuthz(ctx, collOrgs, idFilter(id), fmt.Sprintf("organization %q", id), &d); err != nil {
			return authz.Organization{}, err
		}
		old := d.org()
		o, err := update(old)
		if err != nil {
			return authz.Organization{}, err
		}
		o.ID, o.CreatedAt, o.UpdatedAt = old.ID, old.CreatedAt, authzNow()
		if err := o.Validate(); err != nil {
			return authz.Organization{}, err
		}
		if !marked {
			if err := s.markChange(ctx); err != nil {
				return authz.Organization{}, err
			}
			marked = true
		}
		res, err := orgs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "rev", Value: d.Rev}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "name", Value: o.Name}, {Key: "description", Value: o.Description},
				{Key: "updated", Value: o.UpdatedAt}}},
			{Key: "$inc", Value: bson.D{{Key: "rev", Value: int64(1)}}},
		})
		if duplicateKey(err) {
			return authz.Organization{}, fmt.Errorf("organization name %q: %w", o.Name, authz.ErrConflict)
		}
		if err != nil {
			return authz.Organization{}, storeErr("update organization", err)
		}
		if res.MatchedCount == 1 {
			s.publishChange(ctx)
			return o, nil
		}
	}
}

// DeleteOrganization implements authz.Store. Deleting a missing
// organization also removes grants to it that a delete which died half-way
// left behind.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	orgs := s.db.Collection(collOrgs)
	notFound := fmt.Errorf("organization %q: %w", id, authz.ErrNotFound)
	found, err := s.exists(ctx, collOrgs, idFilter(id))
	if err != nil {
		return err
	}
	if !found {
		if err := s.removeLeftGrants(ctx, authz.OrganizationSubject(id)); err != nil {
			return err
		}
		return notFound
	}
	hasUsers := func() (bool, error) {
		return s.exists(ctx, collUsers, bson.D{{Key: "organization_id", Value: id}})
	}
	conflict := fmt.Errorf("organization %q still has users: %w", id, authz.ErrConflict)
	if users, err := hasUsers(); err != nil || users {
		return cmpErr(err, conflict)
	}

	if err := s.markChange(ctx); err != nil {
		return err
	}
	// Mark the organization, then look for users: a user created or moved
	// into it from now on sees the mark and undoes itself; one that came
	// before is found here.
	until := s.writesEnd(ctx)
	res, err := orgs.UpdateOne(ctx, idFilter(id), bson.D{{Key: "$set", Value: bson.D{{Key: "deleting", Value: until}}}})
	if err != nil {
		return storeErr("delete organization", err)
	}
	if res.MatchedCount == 0 {
		return notFound // another delete came first
	}
	if users, err := hasUsers(); err != nil || users {
		// Lift the mark; should that fail, it lapses at its deadline.
		uctx, cancel := s.undoCtx(ctx)
		defer cancel()
		orgs.UpdateOne(uctx, bson.D{{Key: "_id", Value: id}, {Key: "deleting", Value: until}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "deleting", Value: ""}}}})
		return cmpErr(err, conflict)
	}
	del, err := orgs.DeleteOne(ctx, idFilter(id))
	if err != nil {
		return storeErr("delete organization", err)
	}
	defer s.publishChange(ctx)
	// Then its grants: a grant created meanwhile either is removed here or
	// finds the organization gone and undoes itself.
	if _, err := s.db.Collection(collGrants).DeleteMany(ctx, subjectFilter(authz.OrganizationSubject(id))); err != nil {
		return storeErr("delete organization grants", err)
	}
	if del.DeletedCount == 0 {
		return notFound
	}
	return nil
}

// cmpErr is err when it is not nil, else otherwise.
func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// checkOrganizationRef returns an *authz.InvalidError for field when the
// organization id does not exist or is being deleted.
func (s *Store) checkOrganizationRef(ctx context.Context, field, id string) error {
	var d orgDoc
	err := s.db.Collection(collOrgs).FindOne(ctx, idFilter(id)).Decode(&d)
	switch {
	case isNoDocuments(err):
		return &authz.InvalidError{Field: field, Reason: fmt.Sprintf("no organization %q", id)}
	case err != nil:
		return storeErr("read organization", err)
	case !d.Deleting.IsZero() && time.Now().Before(d.Deleting):
		return &authz.InvalidError{Field: field, Reason: fmt.Sprintf("organization %q is being deleted", id)}
	}
	return nil
}
