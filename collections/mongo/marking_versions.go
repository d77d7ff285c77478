package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/stix"
)

// The versions referencing each marking, for the markings endpoint under
// an embargo bound: one document per (version, marking it references) in
// the "marking_versions" MongoDB collection (markingVersionDoc), with the
// version's level and date_added. Markings lists a marking under a bound
// when one of them, at a level within the ceiling, was added at or before
// the bound (and at or before the collection's watermark: a batch still
// being written shows nothing): one probe of the {c, m, l, da} index per
// marking the markings documents name, never a walk over versions.
//
// Unlike the markings documents they follow the versions: AddObjects
// writes them with the versions, under the write lease; DeleteObject
// removes those of the versions it deletes; a rollback removes those of
// the batch it undoes (above the watermark) and DeleteCollection all of
// the collection's. Versions stored before schema version 3 have none,
// as they have no markings documents.
//
// The _id (key, NUL, date_added as 16 hex digits, NUL, marking id) puts
// the documents of one version next to each other and in date_added
// order within a collection: a version's, a rolled back batch's and a
// collection's are each one _id range.

// collMarkingVersions is the MongoDB collection of markingVersionDoc.
const collMarkingVersions = "marking_versions"

// markingVersionDoc records that a version references a marking.
type markingVersionDoc struct {
	ID string `bson:"_id"` // markingVersionID(key, da, marking)
	C  string `bson:"c"`   // collection key
	M  string `bson:"m"`   // marking-definition id
	L  int32  `bson:"l"`   // the version's visibleTLP
	DA int64  `bson:"da"`  // the version's date_added (µs)
}

func markingVersionID(key string, da int64, marking string) string {
	return fmt.Sprintf("%s\x00%016x\x00%s", key, da, marking)
}

// markingVersionsFrom is the _id range of the documents of the versions of
// the collection incarnation key added at or after da.
func markingVersionsFrom(key string, da int64) bson.D {
	return bson.D{{Key: "$gte", Value: fmt.Sprintf("%s\x00%016x\x00", key, da)}, {Key: "$lt", Value: key + "\x01"}}
}

// markingVersionsOf is the _id range of the documents of one version.
func markingVersionsOf(key string, da int64) bson.D {
	return bson.D{{Key: "$gte", Value: fmt.Sprintf("%s\x00%016x\x00", key, da)}, {Key: "$lt", Value: fmt.Sprintf("%s\x00%016x\x01", key, da)}}
}

// markingVersionIndexes serve the probe of Markings under a bound.
var markingVersionIndexes = []index{
	{coll: collMarkingVersions, name: "marking_versions_c_m_l_da",
		keys: bson.D{{Key: "c", Value: 1}, {Key: "m", Value: 1}, {Key: "l", Value: 1}, {Key: "da", Value: 1}}},
}

// appendMarkingVersions adds the documents of a version of the collection
// incarnation key, added at da with level l, that references markings.
func appendMarkingVersions(docs []any, key string, da int64, l int32, markings []string) []any {
	for _, m := range markings {
		docs = append(docs, markingVersionDoc{ID: markingVersionID(key, da, m), C: key, M: m, L: l, DA: da})
	}
	return docs
}

// writeMarkingVersions inserts docs (appendMarkingVersions). A document
// already there (a marking listed twice in one version) is no error.
func (s *Store) writeMarkingVersions(ctx context.Context, docs []any) error {
	if len(docs) == 0 {
		return nil
	}
	_, err := s.db.Collection(collMarkingVersions).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		for _, we := range bwe.WriteErrors {
			if we.Code != 11000 { // DuplicateKey
				return err
			}
		}
		return nil
	}
	return err
}

// deleteMarkingVersions removes the documents of the versions of the
// collection incarnation key added at das.
func (s *Store) deleteMarkingVersions(ctx context.Context, key string, das []int64) error {
	if len(das) == 0 {
		return nil
	}
	models := make([]mongo.WriteModel, 0, len(das))
	for _, da := range das {
		models = append(models, mongo.NewDeleteManyModel().SetFilter(bson.D{{Key: "_id", Value: markingVersionsOf(key, da)}}))
	}
	_, err := s.db.Collection(collMarkingVersions).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	return err
}

// rollBackMarkingVersions removes the documents of the versions of the
// collection incarnation key added after committed: those of a batch
// rolled back.
func (s *Store) rollBackMarkingVersions(ctx context.Context, key string, committed int64) error {
	_, err := s.db.Collection(collMarkingVersions).DeleteMany(ctx, bson.D{{Key: "_id", Value: markingVersionsFrom(key, committed+1)}})
	return err
}

// markingsAddedBy keeps, of the markings docs of collection c listed under
// ceiling maxTLP, those that a version within the ceiling added at or
// before until references: one index probe each.
func (s *Store) markingsAddedBy(ctx context.Context, c collDoc, docs []markingDoc, maxTLP stix.TLP, until time.Time) ([]markingDoc, error) {
	// Whole µs: at or before until is at or before its µs (UnixMicro
	// rounds down); and never above the watermark.
	bound := min(until.UnixMicro(), c.Committed)
	hi := stix.TLPRed
	if maxTLP != stix.TLPNone {
		hi = min(maxTLP, stix.TLPRed)
	}
	levels := make([]int32, 0, hi)
	for l := stix.TLPClear; l <= hi; l++ {
		levels = append(levels, int32(l))
	}
	mv := s.db.Collection(collMarkingVersions)
	kept := docs[:0]
	for _, d := range docs {
		// l as an $in list of points: each is one range of da up to bound
		// in the {c, m, l, da} index, the only one these fields match (no
		// hint: a database migrated without it still answers, slower).
		err := mv.FindOne(ctx, bson.D{{Key: "c", Value: c.Key}, {Key: "m", Value: d.Marking},
			{Key: "l", Value: bson.D{{Key: "$in", Value: levels}}}, {Key: "da", Value: bson.D{{Key: "$lte", Value: bound}}}},
			options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		switch {
		case err == nil:
			kept = append(kept, d)
		case errors.Is(err, mongo.ErrNoDocuments):
		default:
			return nil, err
		}
	}
	return kept, nil
}
