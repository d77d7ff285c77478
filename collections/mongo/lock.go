package mongo

// Writes to one collection: the writer lease and the visibility watermark.
//
// Several taxiid processes may write one collection, and a standalone
// MongoDB has no multi-document transactions. The collection's document
// (collDoc) therefore serialises the writers and publishes their batches:
//
//  1. acquire: one atomic findAndModify sets collDoc.lock (a random token,
//     an expiry, the ids the batch writes) where no lock is held or the
//     held one has expired. A writer that finds the lock held retries with
//     a short randomized backoff until its deadline.
//  2. If the lock it took had expired, its holder died or overran: the new
//     holder rolls that batch back first (rollback).
//  3. The holder writes its versions with date_added above
//     collDoc.committed, so that no reader sees them yet (readers keep to
//     date_added <= committed), and moves the marks of older versions.
//  4. commit: one update, conditional on the token, raises committed (and
//     last) to the batch's highest date_added and drops the lock.
//
// Why a poller never misses a version: every date_added a writer hands out
// is above collDoc.committed and collDoc.last, which only a commit raises,
// and readers take committed first and then read only below it. When a
// batch becomes visible, all its versions become visible at once, and each
// is above every committed value any reader used before, hence above any
// date_added a reader has returned. A batch that never commits (its writer
// died, or lost its lease) is deleted by the next holder before that one
// hands out date_added values of its own, so what a poller reads never
// changes below its cursor, except for marks (a version may lose `last`
// while a newer one is written, and regain it if that write is rolled back).
//
// Why a holder cannot write after its lease is taken over: every write of a
// holder runs under its write deadline (Store.writeTimeout, counted from the
// start of the call and enforced by the server too, through maxTimeMS), and
// a lease lasts twice that plus ten seconds (Store.lease). A late commit
// fails anyway: the token no longer matches. The processes' clocks must
// agree within a few seconds (NTP).

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
)

// lease is a writer's hold on one collection, from acquire to commit or
// abort.
type lease struct {
	s     *Store
	coll  collDoc // as it was when the lease was taken (Committed, Last)
	token string
	until time.Time // when the lease expires
	ids   []string  // the canonical ids the holder writes
	// repair are the ids the lock names: ids, and until the rollback of an
	// expired lease is done, the ids of that lease too.
	repair []string
}

// next returns the first date_added the holder may hand out at now (µs).
func (l *lease) next(now int64) int64 {
	return max(now, l.coll.Last+1, l.coll.Committed+1)
}

// acquire takes the write lease of collection c (a document read by
// Store.collection) for a batch writing ids, rolling back the batch of a
// holder whose lease expired. It waits while another writer holds the
// lease, until ctx's deadline (then an error wrapping
// collections.ErrUnavailable). ErrNotFound if the collection is gone.
func (s *Store) acquire(ctx context.Context, c collDoc, ids []string) (*lease, error) {
	ids = dedup(ids)
	b := make([]byte, 12)
	crand.Read(b)
	l := &lease{s: s, token: hex.EncodeToString(b), ids: ids}
	colls := s.db.Collection(collColls)
	this := bson.D{{Key: "_id", Value: c.ID}, {Key: "api_root", Value: c.APIRoot}, {Key: "key", Value: c.Key}}
	for attempt := 0; ; attempt++ {
		now := time.Now()
		filter := append(slices.Clone(this), bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "lock", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "lock.until", Value: bson.D{{Key: "$lt", Value: now.UnixMilli()}}}},
		}})
		// The ids join those of an expired lock rather than replace them:
		// should this holder die during the rollback, the next one still
		// repairs the ids of both.
		update := bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "lock.token", Value: l.token},
				{Key: "lock.until", Value: now.Add(s.lease).UnixMilli()},
			}},
			{Key: "$addToSet", Value: bson.D{{Key: "lock.ids", Value: bson.D{{Key: "$each", Value: ids}}}}},
		}
		// No projection: FerretDB's findAndModify takes none.
		var prev collDoc
		err := colls.FindOneAndUpdate(ctx, filter, update,
			options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&prev)
		if err == nil {
			l.coll, l.until = prev, now.Add(s.lease)
			break
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return nil, storeErr("acquire write lease", err)
		}
		// Held by another writer, or the collection is gone.
		var held struct {
			Lock *writeLock `bson:"lock"`
		}
		err = colls.FindOne(ctx, this, options.FindOne().SetProjection(bson.D{{Key: "lock.until", Value: 1}})).Decode(&held)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, collections.ErrNotFound
		}
		if err != nil {
			return nil, storeErr("acquire write lease", err)
		}
		if held.Lock == nil || held.Lock.Until < time.Now().UnixMilli() {
			continue // released or expired meanwhile
		}
		// Backoff growing from 1 to 20 ms, randomized so that waiting
		// writers do not retry in step.
		wait := time.Duration(1+rand.Int64N(int64(min(1<<min(attempt, 5), 20)))) * time.Millisecond
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, storeErr("wait for the write lease", ctx.Err())
		case <-t.C:
		}
	}
	l.repair = ids
	if prev := l.coll.Lock; prev != nil {
		l.repair = dedup(append(slices.Clone(ids), prev.IDs...))
		if err := l.rollback(ctx); err != nil {
			l.abort(ctx, err)
			return nil, err
		}
	}
	return l, nil
}

// rollback undoes what unfinished writes did (those of an expired lease
// taken over, or this holder's): their versions (all above committed,
// never visible) are deleted, and the heads and marks of the ids they
// wrote are computed again from what remains.
func (l *lease) rollback(ctx context.Context) error {
	key, ids := l.coll.Key, l.repair
	_, err := l.s.db.Collection(collObjects).DeleteMany(ctx, bson.D{{Key: "c", Value: key},
		{Key: "da", Value: bson.D{{Key: "$gt", Value: l.coll.Committed}}}})
	if err != nil {
		return storeErr("roll back an unfinished write", err)
	}
	if err := l.s.rollBackMarkingVersions(ctx, key, l.coll.Committed); err != nil {
		return storeErr("roll back an unfinished write", err)
	}
	if err := l.s.repairIDs(ctx, key, ids); err != nil {
		return storeErr("roll back an unfinished write", err)
	}
	if len(ids) == len(l.ids) {
		return nil
	}
	// Done: the lock names this holder's ids only.
	res, err := l.s.db.Collection(collColls).UpdateOne(ctx, bson.D{{Key: "_id", Value: l.coll.ID}, {Key: "lock.token", Value: l.token}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lock.ids", Value: l.ids}}}})
	if err == nil && res.MatchedCount == 0 {
		err = errLeaseLost
	}
	if err != nil {
		return storeErr("roll back an unfinished write", err)
	}
	l.repair = l.ids
	return nil
}

// errLeaseLost: the holder's lease expired and another writer took it
// over, rolling back what the holder wrote. The caller may retry.
var errLeaseLost = fmt.Errorf("%w: write lease expired and taken over by another writer; nothing of the write is visible", collections.ErrUnavailable)

// commit makes the holder's versions visible, all at once, by raising
// committed to last (the highest date_added handed out; nothing to publish
// if it is not above committed), and releases the lease. If the lease was
// taken over meanwhile, nothing is visible and commit returns errLeaseLost.
func (l *lease) commit(ctx context.Context, last int64) error {
	update := bson.D{{Key: "$unset", Value: bson.D{{Key: "lock", Value: ""}}}}
	if last > l.coll.Committed {
		update = append(update, bson.E{Key: "$set", Value: bson.D{{Key: "committed", Value: last}, {Key: "last", Value: last}}})
	}
	res, err := l.s.db.Collection(collColls).UpdateOne(ctx, bson.D{{Key: "_id", Value: l.coll.ID},
		{Key: "key", Value: l.coll.Key}, {Key: "lock.token", Value: l.token}}, update)
	if err == nil && res.MatchedCount == 0 {
		if _, err = l.s.collection(ctx, l.coll.APIRoot, l.coll.ID); err == nil {
			err = errLeaseLost
		}
	}
	return storeErr("commit", err)
}

// release gives the lease up when the holder wrote nothing, without ctx's
// cancellation (ctx may be what failed); if it fails, the lease expires.
func (l *lease) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(l.s.opTimeout, l.s.writeTimeout))
	defer cancel()
	l.commit(ctx, 0)
}

// abort is called when the holder fails after acquire: it undoes what the
// holder may have written (as the next holder would) and releases the
// lease, so that other writers need not wait for it to expire. It runs
// without ctx's cancellation (ctx may be what failed) but under a deadline
// that ends well within the lease; it does nothing when the lease is lost
// or nearly over, since its deletes could then hit another holder's batch.
// If it fails, the lease expires and the next holder rolls back.
func (l *lease) abort(ctx context.Context, cause error) {
	if errors.Is(cause, errLeaseLost) {
		return
	}
	budget := min(l.s.opTimeout, l.s.writeTimeout)
	if time.Now().Add(budget + l.s.lease/4).After(l.until) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	if err := l.rollback(ctx); err != nil {
		return
	}
	l.commit(ctx, 0)
}

// dedup returns the distinct strings of ids, in their first order.
func dedup(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// repairIDs computes the heads and the marks of the versions of ids
// (canonical) in the collection incarnation key again from the versions
// stored, as collections.Summarize and SummarizeCeilings do, and stores
// those that differ; an id with no version left loses its head. A
// rollback needs it: the batch rolled back may have moved marks and heads
// before it stopped.
func (s *Store) repairIDs(ctx context.Context, key string, ids []string) error {
	objects := s.db.Collection(collObjects)
	for start := 0; start < len(ids); start += maxInList {
		chunk := ids[start:min(start+maxInList, len(ids))]
		vs, err := s.storedVersions(ctx, key, chunk)
		if err != nil {
			return err
		}
		// The created timestamp of an object is that of its first push.
		var firsts []string
		for _, id := range chunk {
			if docs := vs[id]; len(docs) > 0 {
				firsts = append(firsts, docs[0].ID)
			}
		}
		raws := make(map[string][]byte, len(firsts))
		if len(firsts) > 0 {
			cur, err := objects.Find(ctx, bson.D{{Key: "c", Value: key}, {Key: "_id", Value: bson.D{{Key: "$in", Value: firsts}}}},
				options.Find().SetProjection(bson.D{{Key: "raw", Value: 1}}))
			if err != nil {
				return err
			}
			var docs []objDoc
			if err := cur.All(ctx, &docs); err != nil {
				return err
			}
			for _, d := range docs {
				raws[d.ID] = d.Raw
			}
		}
		var (
			rt      = retagger{key: key}
			entries []*headEntry
		)
		for _, id := range chunk {
			typ, u := collections.SplitID(id)
			e := &headEntry{typ: typ, uuid: u, stored: true}
			entries = append(entries, e)
			docs := vs[id]
			if len(docs) == 0 {
				continue // the head goes
			}
			stored := make([]collections.StoredVersion, len(docs))
			for i, d := range docs {
				if stored[i], err = d.storedVersion(); err != nil {
					return err
				}
			}
			created, _ := collections.VersionFacts(raws[docs[0].ID])
			h, marks := collections.Summarize(id, created, stored)
			cms := collections.SummarizeCeilings(stored)
			e.head = &h
			for i, d := range docs {
				k := versionTags(marks[i], d.SpecVersion, d.TLP, cms[i])
				if int32(marks[i]) != d.Marks || !sameTags(k, d.Tags) {
					rt.set(d.ID, marks[i], k)
				}
			}
		}
		if models := rt.models(); len(models) > 0 {
			if _, err := objects.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
				return err
			}
		}
		if err := s.writeHeads(ctx, key, entries); err != nil {
			return err
		}
	}
	return nil
}
