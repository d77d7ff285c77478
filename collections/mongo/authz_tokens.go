package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/authz"
)

// tokenDoc is an API token in the tokens collection. Optional times are
// absent when zero.
type tokenDoc struct {
	ID       string    `bson:"_id"`
	UserID   string    `bson:"user_id"`
	Name     string    `bson:"name"`
	Hash     string    `bson:"hash"`
	Prefix   string    `bson:"prefix"`
	Expires  time.Time `bson:"expires,omitempty"`
	Revoked  time.Time `bson:"revoked,omitempty"`
	LastUsed time.Time `bson:"last_used,omitempty"`
	Created  time.Time `bson:"created"`
}

func (d tokenDoc) token() authz.Token {
	return authz.Token{ID: d.ID, UserID: d.UserID, Name: d.Name, Hash: d.Hash, Prefix: d.Prefix,
		ExpiresAt: d.Expires.UTC(), RevokedAt: d.Revoked.UTC(), LastUsedAt: d.LastUsed.UTC(), CreatedAt: d.Created.UTC()}
}

// CreateToken implements authz.Store.
func (s *Store) CreateToken(ctx context.Context, t authz.Token) (authz.Token, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if t.ID == "" {
		t.ID = authz.NewID()
	}
	if err := t.Validate(); err != nil {
		return authz.Token{}, err
	}
	t.CreatedAt = authzNow()
	t.LastUsedAt = time.Time{}
	t.ExpiresAt, t.RevokedAt = truncMillis(t.ExpiresAt), truncMillis(t.RevokedAt)
	if err := s.checkUserRef(ctx, "user_id", t.UserID); err != nil {
		return authz.Token{}, err
	}
	if err := s.markChange(ctx); err != nil {
		return authz.Token{}, err
	}
	_, err := s.db.Collection(collTokens).InsertOne(ctx, tokenDoc{ID: t.ID, UserID: t.UserID, Name: t.Name,
		Hash: t.Hash, Prefix: t.Prefix, Expires: t.ExpiresAt, Revoked: t.RevokedAt, Created: t.CreatedAt})
	if duplicateKey(err) {
		// The hash stays out of the message: it is as good as the secret.
		return authz.Token{}, fmt.Errorf("token id %q, name %q of the user, or hash: %w", t.ID, t.Name, authz.ErrConflict)
	}
	if err != nil {
		return authz.Token{}, storeErr("create token", err)
	}
	defer s.publishChange(ctx)
	// The user may have been deleted since the check above; its delete
	// may have missed this token: then the token must not stay.
	if err := s.checkUserRef(ctx, "user_id", t.UserID); err != nil {
		uctx, cancel := s.undoCtx(ctx)
		defer cancel()
		if _, uerr := s.db.Collection(collTokens).DeleteOne(uctx, idFilter(t.ID)); uerr != nil {
			err = errors.Join(err, storeErr("undo token", uerr))
		}
		return authz.Token{}, err
	}
	return t, nil
}

// Token implements authz.Store.
func (s *Store) Token(ctx context.Context, id string) (authz.Token, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d tokenDoc
	err := s.findAuthz(ctx, collTokens, idFilter(id), fmt.Sprintf("token %s", id), &d)
	return d.token(), err
}

// TokenByHash implements authz.Store.
func (s *Store) TokenByHash(ctx context.Context, hash string) (authz.Token, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d tokenDoc
	// A hash is as good as the secret in logs: keep it out of the error.
	err := s.findAuthz(ctx, collTokens, bson.D{{Key: "hash", Value: hash}}, "token with that hash", &d)
	return d.token(), err
}

// Tokens implements authz.Store.
func (s *Store) Tokens(ctx context.Context, f authz.TokenFilter) ([]authz.Token, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	return listAuthz(ctx, s, tokensListing(f), limit, tokenDoc.token)
}

// tokensListing is the page of tokens f selects.
func tokensListing(f authz.TokenFilter) listing {
	l := listing{coll: collTokens, filter: bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}}},
		sort: bson.D{{Key: "_id", Value: 1}}, index: idIndex}
	if f.UserID != "" {
		l.filter = append(bson.D{{Key: "user_id", Value: f.UserID}}, l.filter...)
		l.index = "tokens_user_id"
	}
	return l
}

// RevokeToken implements authz.Store. Revoking a revoked token changes
// nothing, the generation included.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) (authz.Token, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d tokenDoc
	what := fmt.Sprintf("token %s", id)
	if err := s.findAuthz(ctx, collTokens, idFilter(id), what, &d); err != nil {
		return authz.Token{}, err
	}
	if !d.Revoked.IsZero() {
		return d.token(), nil
	}
	if at.IsZero() {
		return authz.Token{}, &authz.InvalidError{Field: "revoked_at", Reason: "missing"}
	}
	if err := s.markChange(ctx); err != nil {
		return authz.Token{}, err
	}
	// Only an unrevoked token takes the time, so that of two racing
	// revocations the first one's time stays.
	notRevoked := bson.D{{Key: "_id", Value: id}, {Key: "revoked", Value: bson.D{{Key: "$exists", Value: false}}}}
	err := s.db.Collection(collTokens).FindOneAndUpdate(ctx, notRevoked,
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: truncMillis(at)}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) { // revoked or deleted meanwhile
		err = s.findAuthz(ctx, collTokens, idFilter(id), what, &d)
		return d.token(), err
	}
	if err != nil {
		return authz.Token{}, storeErr("revoke token", err)
	}
	s.publishChange(ctx)
	return d.token(), nil
}

// DeleteToken implements authz.Store.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	notFound := fmt.Errorf("token %s: %w", id, authz.ErrNotFound)
	found, err := s.exists(ctx, collTokens, idFilter(id))
	if err != nil || !found {
		return cmpErr(err, notFound)
	}
	if err := s.markChange(ctx); err != nil {
		return err
	}
	res, err := s.db.Collection(collTokens).DeleteOne(ctx, idFilter(id))
	if err != nil {
		return storeErr("delete token", err)
	}
	if res.DeletedCount == 0 {
		return notFound // another delete came first
	}
	s.publishChange(ctx)
	return nil
}

// touchBatch bounds the updates of one TouchTokens write.
const touchBatch = 1000

// TouchTokens implements authz.Store. It does not change the generation:
// a use is not a change of policy. $max moves LastUsedAt forward only,
// whatever the order in which processes write.
func (s *Store) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var batch []mongo.WriteModel
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := s.db.Collection(collTokens).BulkWrite(ctx, batch, options.BulkWrite().SetOrdered(false))
		batch = batch[:0]
		return storeErr("touch tokens", err)
	}
	for id, at := range lastUsed {
		if at.IsZero() {
			continue
		}
		batch = append(batch, mongo.NewUpdateOneModel().SetFilter(idFilter(id)).
			SetUpdate(bson.D{{Key: "$max", Value: bson.D{{Key: "last_used", Value: truncMillis(at)}}}}))
		if len(batch) == touchBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
