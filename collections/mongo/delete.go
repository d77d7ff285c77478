package mongo

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
)

// DeleteObject implements collections.Store.
//
// It holds the collection's write lease (lock.go), as AddObjects does, so
// that it never interleaves with a batch writing the same id, and runs
// under a writer's deadline, which the lease's length assumes.
func (s *Store) DeleteObject(ctx context.Context, apiRoot, collection, id string, versions collections.VersionFilter, specVersions []string) (int, error) {
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	id = collections.CanonicalID(id)
	c, err := s.collection(ctx, apiRoot, collection)
	if err != nil {
		return 0, storeErr("delete object", err)
	}
	l, err := s.acquire(ctx, c, []string{id})
	if err != nil {
		return 0, err
	}
	n, err := s.deleteVersions(ctx, l.coll.Key, id, versions, specVersions)
	switch {
	case errors.Is(err, collections.ErrNotFound):
		l.release(ctx) // nothing written
		return 0, err
	case err == nil:
		err = l.commit(ctx, 0)
	}
	if err != nil {
		l.abort(ctx, err)
		return 0, storeErr("delete object", err)
	}
	return n, nil
}

// deleteVersions deletes the versions of id that collections.PlanDelete
// selects, and stores the marks and the head of what is left.
// ErrNotFound when it selects none.
func (s *Store) deleteVersions(ctx context.Context, key, id string, versions collections.VersionFilter, specVersions []string) (int, error) {
	vs, err := s.storedVersions(ctx, key, []string{id})
	if err != nil {
		return 0, err
	}
	docs := vs[id]
	if len(docs) == 0 {
		return 0, collections.ErrNotFound
	}
	stored := make([]collections.StoredVersion, len(docs))
	for i, d := range docs {
		if stored[i], err = d.storedVersion(); err != nil {
			return 0, err
		}
	}
	typ, u := collections.SplitID(id)
	var hd headDoc
	var head *collections.Head
	err = s.db.Collection(collHeads).FindOne(ctx, bson.D{{Key: "c", Value: key}, {Key: "_id", Value: headID(key, u, typ)}}).Decode(&hd)
	switch {
	case err == nil:
		if head, err = hd.head(); err != nil {
			return 0, err
		}
	case errors.Is(err, mongo.ErrNoDocuments):
		// Versions without a head: it is computed from them (its created
		// from the first one pushed).
		var first objDoc
		if err := s.db.Collection(collObjects).FindOne(ctx, bson.D{{Key: "c", Value: key}, {Key: "_id", Value: docs[0].ID}},
			options.FindOne().SetProjection(bson.D{{Key: "raw", Value: 1}})).Decode(&first); err != nil {
			return 0, err
		}
		created, _ := collections.VersionFacts(first.Raw)
		h, _ := collections.Summarize(id, created, stored)
		head = &h
	default:
		return 0, err
	}
	p := collections.PlanDelete(*head, stored, versions, specVersions)
	if len(p.Delete) == 0 {
		return 0, collections.ErrNotFound
	}
	// The marks under each TLP ceiling of what is left.
	kept := make([]collections.StoredVersion, len(p.Keep))
	for k, i := range p.Keep {
		kept[k] = stored[i]
	}
	cms := collections.SummarizeCeilings(kept)
	err = s.inTxn(ctx, func(ctx context.Context) error {
		objects := s.db.Collection(collObjects)
		// The versions go first, then the others gain the marks they left:
		// in the other order a reader could see two latest versions.
		if len(p.Keep) == 0 {
			_, err := objects.DeleteMany(ctx, bson.D{{Key: "c", Value: key}, {Key: "id", Value: id}})
			if err != nil {
				return err
			}
		} else {
			var dels []mongo.WriteModel
			for start := 0; start < len(p.Delete); start += maxInList {
				chunk := make([]string, 0, maxInList)
				for _, i := range p.Delete[start:min(start+maxInList, len(p.Delete))] {
					chunk = append(chunk, docs[i].ID)
				}
				dels = append(dels, mongo.NewDeleteManyModel().SetFilter(bson.D{{Key: "c", Value: key}, {Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}}))
			}
			if _, err := objects.BulkWrite(ctx, dels); err != nil {
				return err
			}
		}
		das := make([]int64, 0, len(p.Delete))
		for _, i := range p.Delete {
			das = append(das, docs[i].DateAdded)
		}
		if err := s.deleteMarkingVersions(ctx, key, das); err != nil {
			return err
		}
		rt := retagger{key: key}
		for k, i := range p.Keep {
			d := docs[i]
			t := versionTags(p.Marks[k], d.SpecVersion, d.TLP, cms[k])
			if int32(p.Marks[k]) != d.Marks || !sameTags(t, d.Tags) {
				rt.set(d.ID, p.Marks[k], t)
			}
		}
		if marks := rt.models(); len(marks) > 0 {
			if _, err := objects.BulkWrite(ctx, marks, options.BulkWrite().SetOrdered(false)); err != nil {
				return err
			}
		}
		return s.writeHeads(ctx, key, []*headEntry{{typ: typ, uuid: u, head: p.Head, stored: true}})
	})
	if err != nil {
		return 0, err
	}
	return len(p.Delete), nil
}
