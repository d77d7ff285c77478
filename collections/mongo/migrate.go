package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/stix"
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
	// 3: TLP levels of versions (objDoc.TLP). Versions stored before have
	// none: they get red, the most restrictive level (nothing says they
	// may be shown below red; the version index's $in of levels could not
	// match a missing field). Their selection marks under the ceilings
	// below red are then empty, and no head has a version below red: the
	// tags and heads stored before are right as they are, with no ceiling
	// tag (objects.go). objects_version_tlp replaces objects_version. The
	// markings documents (markings.go) need no index; versions stored
	// before this version have none (their markings were not recorded),
	// nor marking_versions documents (marking_versions.go, one index).
	//
	// Processes of an older release must be stopped first: they would
	// still write versions without tlp and hint the dropped index.
	func(ctx context.Context, s *Store) error {
		if err := s.backfillTLP(ctx); err != nil {
			return err
		}
		if err := s.createIndexes(ctx, objectIndexes); err != nil {
			return err
		}
		if err := s.createIndexes(ctx, markingVersionIndexes); err != nil {
			return err
		}
		return s.dropIndexes(ctx, collObjects, replacedObjectIndexes)
	},
	// 4: webhook subscriptions and deliveries (webhooks.go).
	func(ctx context.Context, s *Store) error {
		return s.createIndexes(ctx, webhookIndexes)
	},
}

// backfillBatch bounds one step of a backfill: the documents one find
// reads and one update writes. A variable for the tests.
var backfillBatch int64 = 1000

// backfillTLP sets tlp to red on the versions that have none, in _id
// order, at most backfillBatch documents a step, each step under the
// store's deadline, so that a large database migrates in bounded steps;
// an interrupted migration resumes (it does not record its schema
// version until done, and versions done keep their tlp).
func (s *Store) backfillTLP(ctx context.Context) error {
	objects := s.db.Collection(collObjects)
	after := ""
	for {
		err := func() error {
			ctx, cancel := s.opCtx(ctx)
			defer cancel()
			// Reads the _id index in order: every step is bounded whatever
			// share of the documents still lacks tlp.
			cur, err := objects.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}},
				options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(backfillBatch).
					SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "tlp", Value: 1}}))
			if err != nil {
				return err
			}
			var docs []struct {
				ID  string `bson:"_id"`
				TLP *int32 `bson:"tlp"`
			}
			if err := cur.All(ctx, &docs); err != nil {
				return err
			}
			if len(docs) == 0 {
				after = ""
				return nil
			}
			var missing []string
			for _, d := range docs {
				if d.TLP == nil {
					missing = append(missing, d.ID)
				}
			}
			after = docs[len(docs)-1].ID
			if len(missing) == 0 {
				return nil
			}
			_, err = objects.UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: missing}}},
				{Key: "tlp", Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "tlp", Value: int32(stix.TLPRed)}}}})
			return err
		}()
		if err != nil {
			return fmt.Errorf("set the TLP level of stored versions: %w", err)
		}
		if after == "" {
			return nil
		}
	}
}

// dropIndexes drops the named indexes of coll that exist.
func (s *Store) dropIndexes(ctx context.Context, coll string, names []string) error {
	for _, name := range names {
		err := s.db.Collection(coll).Indexes().DropOne(ctx, name)
		var se mongo.ServerError
		if errors.As(err, &se) && (se.HasErrorCode(27) || se.HasErrorCode(26)) { // IndexNotFound, NamespaceNotFound
			continue
		}
		if err != nil {
			return fmt.Errorf("drop index %s.%s: %w", coll, name, err)
		}
	}
	return nil
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
