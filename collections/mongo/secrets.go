package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// secretDoc is one named secret in the "secrets" collection (read by
// _id only: no index of its own).
type secretDoc struct {
	Name  string `bson:"_id"`
	Value []byte `bson:"value"`
}

// Secret implements collections.Store. newSecret is called only when the
// secret does not exist yet; the first insert wins, on every handle and
// process sharing the database, and every caller returns what it stored.
func (s *Store) Secret(ctx context.Context, name string, newSecret func() ([]byte, error)) ([]byte, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	secrets := s.db.Collection(collSecrets)
	read := func() ([]byte, error) {
		var d secretDoc
		if err := secrets.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d); err != nil {
			return nil, err
		}
		if d.Value == nil {
			d.Value = []byte{}
		}
		return d.Value, nil
	}
	v, err := read()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, storeErr("get secret "+name, err)
	}
	fresh, err := newSecret()
	if err != nil {
		return nil, fmt.Errorf("mongo: new secret %q: %w", name, err)
	}
	if fresh == nil {
		fresh = []byte{}
	}
	if _, err := secrets.InsertOne(ctx, secretDoc{Name: name, Value: fresh}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, storeErr("create secret "+name, err)
	}
	// Whoever inserted first, this is the value every handle returns.
	v, err = read()
	if err != nil {
		return nil, storeErr("get secret "+name, err)
	}
	return v, nil
}
