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
		out = append(out, collections.Marking{ID: d.Marking, TLP: markingTLP(d.Marking)})
	}
	return out, nil
}

// tlpMarkingIDs are the marking definitions that stand for a TLP level:
// TLP 1.0, the four STIX 2.1 predefines (section 7.2.1.4); TLP 2.0, the
// five of the FIRST TLP 2.0 extension
// (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d).
var tlpMarkingIDs = map[string]stix.TLP{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": stix.TLPClear, // TLP:WHITE
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": stix.TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": stix.TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": stix.TLPRed,
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": stix.TLPClear,
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": stix.TLPGreen,
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": stix.TLPAmber,
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": stix.TLPAmberStrict,
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": stix.TLPRed,
}

// markingTLP returns the TLP level of a marking-definition id, TLPNone
// for one that is not a TLP marking.
func markingTLP(id string) stix.TLP { return tlpMarkingIDs[id] }
