package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// index is one index definition. Each file that owns a MongoDB collection
// lists its indexes next to the queries they serve.
type index struct {
	coll string
	name string
	keys bson.D
	// unique makes the index a uniqueness constraint.
	unique bool
	// ttl makes the index a TTL index on a date field:
	// MongoDB removes a document once its date is past. Servers
	// without TTL indexes (FerretDB) skip it; readers check expiry anyway.
	ttl bool
}

// migrations are the schema versions, in order: migration i+1 brings a
// database at version i to version i+1. Each step is idempotent, so that
// several processes starting at once on one new database may all run it.
var migrations = []func(ctx context.Context, s *Store) error{
	// 1: the collections and indexes of the first release.
	func(ctx context.Context, s *Store) error {
		var all []index
		all = append(all, rootIndexes...)
		all = append(all, objectIndexes...)
		all = append(all, statusIndexes...)
		all = append(all, authzIndexes...)
		return s.createIndexes(ctx, all)
	},
	// 2: certificate bindings (authz_certs.go).
	func(ctx context.Context, s *Store) error {
		return s.createIndexes(ctx, certBindingIndexes)
	},
}

// schemaDoc is the meta document holding the schema version.
const schemaDoc = "schema"

// migrate brings the database to the latest schema version. It refuses a
// database whose version is newer than this program knows.
func (s *Store) migrate(ctx context.Context) error {
	meta := s.db.Collection(collMeta)
	var cur struct {
		Version int `bson:"version"`
	}
	err := meta.FindOne(ctx, bson.D{{Key: "_id", Value: schemaDoc}}).Decode(&cur)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("read schema version: %w", err)
	}
	if cur.Version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program's %d", cur.Version, len(migrations))
	}
	for v := cur.Version; v < len(migrations); v++ {
		if err := migrations[v](ctx, s); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		_, err := meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: schemaDoc}},
			bson.D{{Key: "$max", Value: bson.D{{Key: "version", Value: v + 1}}}}, options.UpdateOne().SetUpsert(true))
		if err != nil && !mongo.IsDuplicateKeyError(err) { // a concurrent upsert won the insert
			return fmt.Errorf("record schema version %d: %w", v+1, err)
		}
	}
	return nil
}

// createIndexes creates the indexes that do not exist yet.
func (s *Store) createIndexes(ctx context.Context, all []index) error {
	for _, ix := range all {
		o := options.Index().SetName(ix.name)
		if ix.unique {
			o.SetUnique(true)
		}
		if ix.ttl {
			o.SetExpireAfterSeconds(0)
		}
		_, err := s.db.Collection(ix.coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: o})
		var se mongo.ServerError
		if ix.ttl && errors.As(err, &se) && se.HasErrorCode(238) { // NotImplemented
			continue
		}
		if err != nil {
			return fmt.Errorf("create index %s.%s: %w", ix.coll, ix.name, err)
		}
	}
	return nil
}
