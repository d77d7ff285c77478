package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/stix"
)

// grantDoc is a grant in the grants collection. Every field is present,
// SubjectID "" for the public, so that the unique index grants_key holds
// for grants to the public too.
type grantDoc struct {
	ID          string            `bson:"_id"`
	SubjectKind authz.SubjectKind `bson:"subject_kind"`
	SubjectID   string            `bson:"subject_id"`
	APIRoot     string            `bson:"api_root"`
	Collection  string            `bson:"collection"`
	Action      authz.Action      `bson:"action"`
	Created     time.Time         `bson:"created"`
	// The conditions of a read grant, absent when they are zero (as in
	// every grant stored before they existed). MaxTLP is the level's name.
	MaxTLP      string   `bson:"max_tlp,omitempty"`
	EmbargoMS   int64    `bson:"embargo_ms,omitempty"`
	HideCreator bool     `bson:"hide_creator,omitempty"`
	HideSources []string `bson:"hide_sources,omitempty"`
}

func newGrantDoc(g authz.Grant) grantDoc {
	d := grantDoc{ID: g.ID, SubjectKind: g.Subject.Kind, SubjectID: g.Subject.ID, APIRoot: g.APIRoot,
		Collection: g.Collection, Action: g.Action, Created: g.CreatedAt}
	d.setConditions(g.Conditions)
	return d
}

func (d *grantDoc) setConditions(c authz.Conditions) {
	d.MaxTLP, d.EmbargoMS, d.HideCreator = c.MaxTLP.String(), c.Embargo.Milliseconds(), c.HideCreator
	d.HideSources = nil
	if len(c.HideSources) > 0 {
		d.HideSources = c.HideSources
	}
}

func (d grantDoc) grant() authz.Grant {
	g := authz.Grant{ID: d.ID, Subject: authz.Subject{Kind: d.SubjectKind, ID: d.SubjectID},
		APIRoot: d.APIRoot, Collection: d.Collection, Action: d.Action, CreatedAt: d.Created.UTC()}
	// A level this program does not know cannot be stored through it;
	// read as none it would lift a ceiling, so it reads as the lowest
	// ceiling, which shows the least.
	tlp, err := stix.ParseTLP(d.MaxTLP)
	if err != nil {
		tlp = stix.TLPClear
	}
	g.Conditions = authz.Conditions{MaxTLP: tlp, Embargo: time.Duration(d.EmbargoMS) * time.Millisecond,
		HideCreator: d.HideCreator, HideSources: d.HideSources}
	if len(g.Conditions.HideSources) == 0 {
		g.Conditions.HideSources = nil
	}
	return g
}

// subjectFilter selects the grants to sub.
func subjectFilter(sub authz.Subject) bson.D {
	return bson.D{{Key: "subject_kind", Value: sub.Kind}, {Key: "subject_id", Value: sub.ID}}
}

// CreateGrant implements authz.Store.
func (s *Store) CreateGrant(ctx context.Context, g authz.Grant) (authz.Grant, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if g.ID == "" {
		g.ID = authz.NewID()
	}
	if err := g.Validate(); err != nil {
		return authz.Grant{}, err
	}
	g.CreatedAt = authzNow()
	if err := s.checkSubjectRef(ctx, g.Subject); err != nil {
		return authz.Grant{}, err
	}
	if err := s.markChange(ctx); err != nil {
		return authz.Grant{}, err
	}
	if len(g.Conditions.HideSources) == 0 {
		g.Conditions.HideSources = nil
	}
	_, err := s.db.Collection(collGrants).InsertOne(ctx, newGrantDoc(g))
	if duplicateKey(err) {
		return authz.Grant{}, fmt.Errorf("grant %q, or of %s on %s/%s to %s: %w",
			g.ID, g.Action, g.APIRoot, g.Collection, g.Subject, authz.ErrConflict)
	}
	if err != nil {
		return authz.Grant{}, storeErr("create grant", err)
	}
	defer s.publishChange(ctx)
	// The subject may have been deleted since the check above; its delete
	// may have missed this grant: then the grant must not stay. (An
	// organization marked deleting may still keep it: if the delete goes
	// on, it removes the grants after the organization.)
	if err := s.checkSubjectRef(ctx, g.Subject); err != nil {
		uctx, cancel := s.undoCtx(ctx)
		defer cancel()
		if _, uerr := s.db.Collection(collGrants).DeleteOne(uctx, idFilter(g.ID)); uerr != nil {
			err = errors.Join(err, storeErr("undo grant", uerr))
		}
		return authz.Grant{}, err
	}
	return g, nil
}

// checkSubjectRef returns an *authz.InvalidError when sub is an
// organization or user that does not exist.
func (s *Store) checkSubjectRef(ctx context.Context, sub authz.Subject) error {
	var coll string
	switch sub.Kind {
	case authz.SubjectOrganization:
		coll = collOrgs
	case authz.SubjectUser:
		coll = collUsers
	default:
		return nil
	}
	ok, err := s.exists(ctx, coll, idFilter(sub.ID))
	if err != nil {
		return err
	}
	if !ok {
		return &authz.InvalidError{Field: "subject.id", Reason: fmt.Sprintf("no %s %q", sub.Kind, sub.ID)}
	}
	return nil
}

// Grant implements authz.Store.
func (s *Store) Grant(ctx context.Context, id string) (authz.Grant, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d grantDoc
	err := s.findAuthz(ctx, collGrants, idFilter(id), fmt.Sprintf("grant %q", id), &d)
	return d.grant(), err
}

// Grants implements authz.Store.
func (s *Store) Grants(ctx context.Context, f authz.GrantFilter) ([]authz.Grant, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return listAuthz(ctx, s, grantsListing(f), limit, grantDoc.grant)
}

// grantsListing is the page of grants f selects: a subject's from
// grants_subject_id, a collection's from grants_collection_id, others from
// the _id index, each in _id order without a sort. Only the grants of an
// API root without a collection are sorted: those of the root, read from
// grants_collection_id.
func grantsListing(f authz.GrantFilter) listing {
	l := listing{coll: collGrants, sort: bson.D{{Key: "_id", Value: 1}}, index: idIndex}
	if f.Subject != nil {
		l.filter = append(l.filter, subjectFilter(*f.Subject)...)
		l.index = "grants_subject_id"
	}
	if f.APIRoot != "" && l.index == idIndex {
		l.index = "grants_collection_id"
	}
	for _, c := range []struct{ field, v string }{
		{"api_root", f.APIRoot}, {"collection", f.Collection}, {"action", string(f.Action)},
	} {
		if c.v != "" {
			l.filter = append(l.filter, bson.E{Key: c.field, Value: c.v})
		}
	}
	l.filter = append(l.filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}})
	return l
}

// UpdateGrantConditions implements authz.Store. The subject, collection
// and action of a grant never change, so checking the action read before
// the update is enough.
func (s *Store) UpdateGrantConditions(ctx context.Context, id string, c authz.Conditions) (authz.Grant, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := c.Validate("conditions."); err != nil {
		return authz.Grant{}, err
	}
	if len(c.HideSources) == 0 {
		c.HideSources = nil
	}
	var d grantDoc
	if err := s.findAuthz(ctx, collGrants, idFilter(id), fmt.Sprintf("grant %q", id), &d); err != nil {
		return authz.Grant{}, err
	}
	g := d.grant()
	g.Conditions = c
	if err := g.Validate(); err != nil {
		return authz.Grant{}, err
	}
	if err := s.markChange(ctx); err != nil {
		return authz.Grant{}, err
	}
	d.setConditions(c)
	set, unset := bson.D{}, bson.D{}
	for _, f := range []struct {
		name string
		v    any
		zero bool
	}{
		{"max_tlp", d.MaxTLP, d.MaxTLP == ""},
		{"embargo_ms", d.EmbargoMS, d.EmbargoMS == 0},
		{"hide_creator", d.HideCreator, !d.HideCreator},
		{"hide_sources", d.HideSources, len(d.HideSources) == 0},
	} {
		if f.zero {
			unset = append(unset, bson.E{Key: f.name, Value: ""})
		} else {
			set = append(set, bson.E{Key: f.name, Value: f.v})
		}
	}
	update := bson.D{}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	res, err := s.db.Collection(collGrants).UpdateOne(ctx, idFilter(id), update)
	if err != nil {
		return authz.Grant{}, storeErr("update grant conditions", err)
	}
	s.publishChange(ctx)
	if res.MatchedCount == 0 {
		return authz.Grant{}, fmt.Errorf("grant %q: %w", id, authz.ErrNotFound) // deleted meanwhile
	}
	return g, nil
}

// DeleteGrant implements authz.Store.
func (s *Store) DeleteGrant(ctx context.Context, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	notFound := fmt.Errorf("grant %q: %w", id, authz.ErrNotFound)
	found, err := s.exists(ctx, collGrants, idFilter(id))
	if err != nil || !found {
		return cmpErr(err, notFound)
	}
	if err := s.markChange(ctx); err != nil {
		return err
	}
	res, err := s.db.Collection(collGrants).DeleteOne(ctx, idFilter(id))
	if err != nil {
		return storeErr("delete grant", err)
	}
	if res.DeletedCount == 0 {
		return notFound // another delete came first
	}
	s.publishChange(ctx)
	return nil
}

// removeLeftGrants removes the grants to an organization or user that no
// longer exists, left by a delete that died half-way.
func (s *Store) removeLeftGrants(ctx context.Context, sub authz.Subject) error {
	left, err := s.exists(ctx, collGrants, subjectFilter(sub))
	if err != nil || !left {
		return err
	}
	if err := s.markChange(ctx); err != nil {
		return err
	}
	defer s.publishChange(ctx)
	_, err = s.db.Collection(collGrants).DeleteMany(ctx, subjectFilter(sub))
	return storeErr("delete grants", err)
}
