package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
)

// Watermarks implements collections.Store. A collection's watermark is the
// committed field of its document (see lock.go): a writer's commit raises
// it to the highest date_added of its batch, in the one update that makes
// the batch visible. One find by _id on the collection documents.
func (s *Store) Watermarks(ctx context.Context, ids []string) (map[string]time.Time, error) {
	if len(ids) > collections.MaxQueryValues {
		return nil, fmt.Errorf("mongo: watermarks: %w: %d collections, at most %d", collections.ErrInvalid, len(ids), collections.MaxQueryValues)
	}
	out := make(map[string]time.Time, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cur, err := s.db.Collection(collColls).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "committed", Value: 1}}))
	if err != nil {
		return nil, storeErr("watermarks", err)
	}
	var docs []struct {
		ID        string `bson:"_id"`
		Committed int64  `bson:"committed"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("watermarks", err)
	}
	for _, d := range docs {
		var w time.Time
		if d.Committed > 0 {
			w = fromMicros(d.Committed)
		}
		out[d.ID] = w
	}
	return out, nil
}
