package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Markings referenced in a collection: one document per (collection
// incarnation, marking-definition id) in the "markings" MongoDB
// collection (markingDoc), holding the lowest level (visibleTLP) of the
// versions that referenced it. AddObjects maintains them under the
// collection's write lease, in the same write as the versions: an upsert
// with $min, so that a level only ever goes down, whatever order batches
// take.
//
// They are written before the batch commits, so a listing may name a
// marking a moment before the versions referencing it become visible.
// What they do not follow: deletions and rollbacks. A marking stays
// listed, at the lowest level it was ever referenced at, after the last
// version referencing it is deleted, and after a batch that referenced it
// is rolled back (its writer died before committing). Recomputing them
// would read every version of the collection; a listing that names a
// marking no visible version uses any more tells a client only that the
// collection once held (or was sent) such versions. DeleteCollection
// removes them with the collection. Under an embargo bound, Markings
// checks each against the versions themselves (marking_versions.go),
// which follow deletions and rollbacks.
//
// The _id (key + NUL + marking id) orders a collection's markings by id,
// so a listing is one range of the _id index: no other index.

// markingDoc is the document of one marking referenced in a collection.
type markingDoc struct {
	ID string `bson:"_id"` // markingID(key, marking id)
	C  string `bson:"c"`   // collection key
	// Marking is the marking-definition id.
	Marking string `bson:"id"`
	// TLP is the lowest visibleTLP of the versions that referenced it: a
	// requester whose ceiling is at least that may see one of them.
	TLP int32 `bson:"tlp"`
}

func markingID(key, marking string) string { return key + "\x00" + marking }

// markingsOf is the _id range of the markings of the collection
// incarnation key (NUL never occurs in a key, which is URL-safe base64).
func markingsOf(key string) bson.D {
	return bson.D{{Key: "$gte", Value: key + "\x00"}, {Key: "$lt", Value: key + "\x01"}}
}

// writeMarkings records that versions of the collection incarnation key at
// the given levels reference the markings (id -> lowest level), in one
// bulk write.
func (s *Store) writeMarkings(ctx context.Context, key string, markings map[string]int32) error {
	if len(markings) == 0 {
		return nil
	}
	ids := make([]string, 0, len(markings))
	for id := range markings {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	models := make([]mongo.WriteModel, 0, len(ids))
	for _, id := range ids {
		models = append(models, mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: markingID(key, id)}}).
			SetUpdate(bson.D{
				{Key: "$min", Value: bson.D{{Key: "tlp", Value: markings[id]}}},
				{Key: "$setOnInsert", Value: bson.D{{Key: "c", Value: key}, {Key: "id", Value: id}}},
			}).SetUpsert(true))
	}
	// Only the lease holder writes these documents, so no two upserts of
	// one _id race.
	_, err := s.db.Collection(collMarkings).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	return err
}

// Markings implements collections.Store.
func (s *Store) Markings(ctx context.Context, apiRoot, collection string, maxTLP stix.TLP, addedUntil time.Time) ([]collections.Marking, error) {
	if maxTLP > stix.TLPRed {
		return nil, fmt.Errorf("mongo: markings: %w: TLP ceiling %d", collections.ErrInvalid, maxTLP)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	c, err := s.collection(ctx, apiRoot, collection)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr("markings", err)
	}
	filter := bson.D{{Key: "_id", Value: markingsOf(c.Key)}}
	if levels, ceiling := visibleLevels(maxTLP); ceiling {
		filter = append(filter, inLevels(levels))
	}
	cur, err := s.db.Collection(collMarkings).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, storeErr("markings", err)
	}
	var docs []markingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("markings", err)
	}
	if !addedUntil.IsZero() {
		if docs, err = s.markingsAddedBy(ctx, c, docs, maxTLP, addedUntil); err != nil {
			return nil, storeErr("markings", err)
		}
	}
	out := make([]collections.Marking, 0, len(docs))
	for _, d := range docs {
		out = append(out, collections.Marking{ID: d.Marking, TLP: stix.TLPOfMarking(d.Marking)})
	}
	return out, nil
}
