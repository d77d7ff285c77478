package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/authz"
)

// Certificate bindings (authz.Store): one document each in the
// certificate_bindings collection, written like tokens (see authz.go for
// the order of writes without transactions).

// certBindingIndexes serve the queries of this file. They came after the
// first release: migration 2 creates them on databases that have it.
// Names are part of the schema: never rename one.
var certBindingIndexes = []index{
	// An identity is bound once per issuer (issuer "" for any client CA).
	// Serves MatchCertificateBindings (identity in, issuer in), run on
	// every authentication by certificate the verdict cache misses.
	{coll: collCertBinds, name: "certificate_bindings_identity_issuer", unique: true,
		keys: bson.D{{Key: "identity", Value: 1}, {Key: "issuer", Value: 1}}},
	// Serves CertificateBindings of one user (user_id =, _id > After,
	// sorted by _id) and DeleteUser's removal of them. Bindings of every
	// user are served by the _id index.
	{coll: collCertBinds, name: "certificate_bindings_user_id",
		keys: bson.D{{Key: "user_id", Value: 1}, {Key: "_id", Value: 1}}},
}

// bindingDoc is a certificate binding. Issuer is "" for any client CA, so
// that the unique index covers bindings without one too.
type bindingDoc struct {
	ID       string    `bson:"_id"`
	UserID   string    `bson:"user_id"`
	Identity string    `bson:"identity"`
	Issuer   string    `bson:"issuer"`
	Created  time.Time `bson:"created"`
}

func (d bindingDoc) binding() authz.CertificateBinding {
	return authz.CertificateBinding{ID: d.ID, UserID: d.UserID, Identity: d.Identity, Issuer: d.Issuer,
		CreatedAt: d.Created.UTC()}
}

// CreateCertificateBinding implements authz.Store.
func (s *Store) CreateCertificateBinding(ctx context.Context, b authz.CertificateBinding) (authz.CertificateBinding, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if b.ID == "" {
		b.ID = authz.NewID()
	}
	if err := b.Validate(); err != nil {
		return authz.CertificateBinding{}, err
	}
	b.CreatedAt = authzNow()
	if err := s.checkUserRef(ctx, "user_id", b.UserID); err != nil {
		return authz.CertificateBinding{}, err
	}
	if err := s.markChange(ctx); err != nil {
		return authz.CertificateBinding{}, err
	}
	_, err := s.db.Collection(collCertBinds).InsertOne(ctx, bindingDoc{ID: b.ID, UserID: b.UserID,
		Identity: b.Identity, Issuer: b.Issuer, Created: b.CreatedAt})
	if duplicateKey(err) {
		return authz.CertificateBinding{}, fmt.Errorf("certificate binding id %q, or identity %q with that issuer: %w",
			b.ID, b.Identity, authz.ErrConflict)
	}
	if err != nil {
		return authz.CertificateBinding{}, storeErr("create certificate binding", err)
	}
	defer s.publishChange(ctx)
	// The user may have been deleted since the check above; its delete
	// may have missed this binding: then it must not stay.
	if err := s.checkUserRef(ctx, "user_id", b.UserID); err != nil {
		uctx, cancel := s.undoCtx(ctx)
		defer cancel()
		if _, uerr := s.db.Collection(collCertBinds).DeleteOne(uctx, idFilter(b.ID)); uerr != nil {
			err = errors.Join(err, storeErr("undo certificate binding", uerr))
		}
		return authz.CertificateBinding{}, err
	}
	return b, nil
}

// CertificateBinding implements authz.Store.
func (s *Store) CertificateBinding(ctx context.Context, id string) (authz.CertificateBinding, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d bindingDoc
	err := s.findAuthz(ctx, collCertBinds, idFilter(id), fmt.Sprintf("certificate binding %s", id), &d)
	return d.binding(), err
}

// CertificateBindings implements authz.Store.
func (s *Store) CertificateBindings(ctx context.Context, f authz.CertificateBindingFilter) ([]authz.CertificateBinding, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	return listAuthz(ctx, s, bindingsListing(f), limit, bindingDoc.binding)
}

// bindingsListing is the page of bindings f selects.
func bindingsListing(f authz.CertificateBindingFilter) listing {
	l := listing{coll: collCertBinds, filter: bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}}},
		sort: bson.D{{Key: "_id", Value: 1}}, index: idIndex}
	if f.UserID != "" {
		l.filter = append(bson.D{{Key: "user_id", Value: f.UserID}}, l.filter...)
		l.index = "certificate_bindings_user_id"
	}
	return l
}

// DeleteCertificateBinding implements authz.Store.
func (s *Store) DeleteCertificateBinding(ctx context.Context, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	notFound := fmt.Errorf("certificate binding %s: %w", id, authz.ErrNotFound)
	found, err := s.exists(ctx, collCertBinds, idFilter(id))
	if err != nil || !found {
		return cmpErr(err, notFound)
	}
	if err := s.markChange(ctx); err != nil {
		return err
	}
	res, err := s.db.Collection(collCertBinds).DeleteOne(ctx, idFilter(id))
	if err != nil {
		return storeErr("delete certificate binding", err)
	}
	if res.DeletedCount == 0 {
		return notFound // another delete came first
	}
	s.publishChange(ctx)
	return nil
}

// MatchCertificateBindings implements authz.Store.
func (s *Store) MatchCertificateBindings(ctx context.Context, identities, issuers []string) ([]authz.CertificateBinding, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := authz.CheckMatch(identities, issuers); err != nil {
		return nil, err
	}
	if len(identities) == 0 {
		return nil, nil
	}
	l := matchListing(identities, issuers)
	cur, err := s.db.Collection(l.coll).Find(ctx, l.filter, options.Find().SetHint(l.index))
	if err != nil {
		return nil, storeErr("match certificate bindings", err)
	}
	var docs []bindingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("match certificate bindings", err)
	}
	// At most identities x (issuers + 1) documents: sorted here.
	out := make([]authz.CertificateBinding, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.binding())
	}
	slices.SortFunc(out, func(a, b authz.CertificateBinding) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// matchListing is the lookup of the bindings of the identities with no
// issuer or one of issuers (its sort is unused: MatchCertificateBindings
// sorts what it reads).
func matchListing(identities, issuers []string) listing {
	return listing{coll: collCertBinds, index: "certificate_bindings_identity_issuer", filter: bson.D{
		{Key: "identity", Value: bson.D{{Key: "$in", Value: identities}}},
		{Key: "issuer", Value: bson.D{{Key: "$in", Value: append([]string{""}, issuers...)}}},
	}}
}
