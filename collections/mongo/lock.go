package mongo

// Writes to one collection: the writer lease and the visibility watermark.
//
// Several taxiid processes may write one collection, and a standalone
// MongoDB (or FerretDB) has no multi-document transactions. Writers of a
// collection therefore take turns, and the collection's document publishes
// their batches:
//
//  1. acquire: a writer reads the collection's latest turn (a document of
//     the leases collection, _id = collection key + turn number). If it is
//     finished, or expired, the writer claims the next turn by inserting
//     its document: the unique _id makes exactly one claimer win. A turn
//     lasts at most Store.lease. A writer that finds the turn held retries
//     with a short randomized backoff until its deadline.
//  2. If the turn before had expired, its holder died or overran: the new
//     holder first fences it off (collDoc.turn, which commits check) and
//     rolls its batch back (rollback).
//  3. The holder writes its versions with date_added above
//     collDoc.committed, so that no reader sees them yet (readers keep to
//     date_added <= committed), and moves the marks of the older versions.
//  4. commit: one update of the collection's document, conditional on no
//     later turn having fenced this one, raises committed (and last) to
//     the batch's highest date_added; then the turn is marked finished.
//
// The claim is an insert rather than an update of the collection's
// document because FerretDB (the embedded test server) runs an update as
// a read followed by a write of the whole document, so that two
// conditional updates may both succeed; a duplicate _id, on the other
// hand, is refused atomically there too.
//
// Why a poller never misses a version: every date_added a writer hands out
// is above collDoc.committed, which only a commit raises, and readers take
// committed first and then read only below it. When a batch becomes
// visible, all its versions become visible at once, and each is above
// every committed value any reader used before, hence above any date_added
// a reader has returned. A batch that never commits (its writer died, or
// lost its turn) is deleted by the next holder before that one hands out
// date_added values of its own, so what a poller reads never changes below
// its cursor, except for marks (a version may lose `last` while a newer one
// is written, and regain it if that write is rolled back).
//
// Why a holder cannot write after its turn is taken over: every write of a
// holder runs under its write deadline (Store.writeTimeout, counted from
// the start of the call and enforced by the server too, through
// maxTimeMS), and a turn lasts twice that plus ten seconds (Store.lease).
// The fence of step 2 also refuses a late commit on MongoDB. The
// processes' clocks must agree within a few seconds (NTP).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
)

// collLeases holds the writers' turns (leaseDoc), a few per collection.
const collLeases = "leases"

// leaseDoc is one writer's turn on a collection.
type leaseDoc struct {
	ID    string `bson:"_id"`   // leaseID(collection key, turn)
	Until int64  `bson:"until"` // ms since the Unix epoch, the holder's clock
	// IDs are the canonical object ids the holder writes (with those of an
	// expired turn it took over and has not finished rolling back): if the
	// holder dies, the next one repairs their heads and marks.
	IDs  []string `bson:"ids"`
	Done bool     `bson:"done"` // committed or given up
}

// leaseID is the _id of turn n of the collection incarnation key: fixed
// width, so that text order is turn order.
func leaseID(key string, n int64) string { return fmt.Sprintf("%s\x00%019d", key, n) }

// turnOf parses leaseID's turn number.
func turnOf(key, id string) (int64, error) {
	return strconv.ParseInt(id[len(key)+1:], 10, 64)
}

// lease is a writer's turn on one collection, from acquire to commit or
// abort.
type lease struct {
	s     *Store
	coll  collDoc // as it was when the turn began (Committed, Last)
	turn  int64
	until time.Time // when the turn expires
	ids   []string  // the canonical ids the holder writes
	// repair are the ids the turn's document names: ids, and until the
	// rollback of an expired turn is done, that turn's ids.
	repair []string
}

// next returns the first date_added the holder may hand out at now (µs).
func (l *lease) next(now int64) int64 {
	return max(now, l.coll.Last+1, l.coll.Committed+1)
}

// acquire takes a turn on collection c (a document read by
// Store.collection) for a batch writing ids, rolling back the batch of a
// holder whose turn expired. It waits while another writer holds the
// turn, until ctx's deadline (then an error wrapping
// collections.ErrUnavailable). ErrNotFound if the collection is gone.
func (s *Store) acquire(ctx context.Context, c collDoc, ids []string) (*lease, error) {
	ids = dedup(ids)
	key := c.Key
	leases := s.db.Collection(collLeases)
	var prev *leaseDoc // the expired turn taken over, if any
	l := &lease{s: s, coll: c, ids: ids}
	for attempt := 0; ; attempt++ {
		var latest leaseDoc
		n := int64(0)
		err := leases.FindOne(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: key + "\x00"}, {Key: "$lt", Value: key + "\x01"}}}},
			options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&latest)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
		case err != nil:
			return nil, storeErr("acquire write turn", err)
		default:
			if n, err = turnOf(key, latest.ID); err != nil {
				return nil, fmt.Errorf("mongo: acquire write turn: malformed turn %q: %w", latest.ID, err)
			}
		}
		now := time.Now()
		if n == 0 || latest.Done || latest.Until < now.UnixMilli() {
			claim := leaseDoc{ID: leaseID(key, n+1), Until: now.Add(s.lease).UnixMilli(), IDs: ids}
			if n > 0 && !latest.Done {
				// Should this holder die during the rollback, the next one
				// still repairs the ids of both.
				claim.IDs = dedup(append(append([]string(nil), ids...), latest.IDs...))
			}
			_, err := leases.InsertOne(ctx, claim)
			if err == nil {
				l.turn, l.until, l.repair = n+1, time.UnixMilli(claim.Until), claim.IDs
				if n > 0 && !latest.Done {
					prev = &latest
				}
				break
			}
			if !mongo.IsDuplicateKeyError(err) {
				return nil, storeErr("acquire write turn", err)
			}
			continue // another writer claimed it first
		}
		// Held by another writer. The collection may be gone meanwhile.
		if attempt%16 == 15 {
			if _, err := s.collection(ctx, c.APIRoot, c.ID); err != nil {
				return nil, storeErr("acquire write turn", err)
			}
		}
		// Backoff growing from 1 to 20 ms, randomized so that waiting
		// writers do not retry in step.
		wait := time.Duration(1+rand.Int64N(int64(min(1<<min(attempt, 5), 20)))) * time.Millisecond
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, storeErr("wait for the write turn", ctx.Err())
		case <-t.C:
		}
	}

	// The collection's document as this turn starts. Before a rollback,
	// fence the expired turn off: its late commit, if any, must fail.
	this := bson.D{{Key: "_id", Value: c.ID}, {Key: "api_root", Value: c.APIRoot}, {Key: "key", Value: key}}
	var err error
	if prev != nil {
		err = s.db.Collection(collColls).FindOneAndUpdate(ctx, this,
			bson.D{{Key: "$max", Value: bson.D{{Key: "turn", Value: l.turn}}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&l.coll)
	} else {
		err = s.db.Collection(collColls).FindOne(ctx, this).Decode(&l.coll)
	}
	if err != nil {
		// Nothing written yet. A turn taken over is left to expire, so
		// that the next holder rolls back what it wrote.
		if prev == nil {
			l.finish(context.WithoutCancel(ctx))
		}
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, collections.ErrNotFound
		}
		return nil, storeErr("acquire write turn", err)
	}
	if prev != nil {
		if err := l.rollback(ctx); err != nil {
			l.abort(ctx, err)
			return nil, err
		}
	}
	if l.turn%64 == 0 {
		// Turns long over are of no use; a claimer that read one of them as
		// the latest is past its deadline.
		leases.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: key + "\x00"}, {Key: "$lt", Value: leaseID(key, l.turn-1)}}},
			{Key: "until", Value: bson.D{{Key: "$lt", Value: time.Now().Add(-s.lease).UnixMilli()}}}})
	}
	return l, nil
}

// rollback undoes what unfinished turns wrote (an expired one taken over,
// or this one): their versions (all above committed, never visible) are
// deleted, and the heads and marks of the ids they wrote are computed
// again from what remains.
func (l *lease) rollback(ctx context.Context) error {
	key, ids := l.coll.Key, l.repair
	_, err := l.s.db.Collection(collObjects).DeleteMany(ctx, bson.D{{Key: "c", Value: key},
		{Key: "da", Value: bson.D{{Key: "$gt", Value: l.coll.Committed}}}})
	if err != nil {
		return storeErr("roll back an unfinished write", err)
	}
	if err := l.s.repairIDs(ctx, key, ids); err != nil {
		return storeErr("roll back an unfinished write", err)
	}
	if len(ids) == len(l.ids) {
		return nil
	}
	// Done: the turn names this holder's ids only.
	_, err = l.s.db.Collection(collLeases).UpdateOne(ctx, bson.D{{Key: "_id", Value: leaseID(key, l.turn)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "ids", Value: l.ids}}}})
	if err != nil {
		return storeErr("roll back an unfinished write", err)
	}
	l.repair = l.ids
	return nil
}

// errLeaseLost: the holder's turn expired and another writer took it
// over, rolling back what the holder wrote. The caller may retry.
var errLeaseLost = fmt.Errorf("%w: write turn expired and taken over by another writer; nothing of the write is visible", collections.ErrUnavailable)

// commit makes the holder's versions visible, all at once, by raising
// committed to last (the highest date_added handed out; nothing to publish
// if it is not above committed), and ends the turn. If a later turn fenced
// this one off, nothing is visible and commit returns errLeaseLost.
func (l *lease) commit(ctx context.Context, last int64) error {
	if last > l.coll.Committed {
		res, err := l.s.db.Collection(collColls).UpdateOne(ctx, bson.D{{Key: "_id", Value: l.coll.ID}, {Key: "key", Value: l.coll.Key},
			{Key: "$or", Value: bson.A{
				bson.D{{Key: "turn", Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "turn", Value: bson.D{{Key: "$lte", Value: l.turn}}}},
			}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "committed", Value: last}, {Key: "last", Value: last}, {Key: "turn", Value: l.turn}}}})
		if err != nil {
			return storeErr("commit", err)
		}
		if res.MatchedCount == 0 {
			if _, err := l.s.collection(ctx, l.coll.APIRoot, l.coll.ID); err != nil {
				return storeErr("commit", err) // the collection is gone
			}
			return errLeaseLost
		}
	}
	return storeErr("commit", l.finish(ctx))
}

// finish marks the turn over, so that the next writer may start.
func (l *lease) finish(ctx context.Context) error {
	_, err := l.s.db.Collection(collLeases).UpdateOne(ctx, bson.D{{Key: "_id", Value: leaseID(l.coll.Key, l.turn)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "done", Value: true}}}})
	return err
}

// abort is called when the holder fails after acquire: it undoes what the
// holder may have written (as the next holder would) and ends the turn,
// so that other writers need not wait for it to expire. It runs without
// ctx's cancellation (ctx may be what failed) but under a deadline that
// ends well within the turn; it does nothing when the turn is lost or
// nearly over, since its deletes could then hit another holder's batch. If
// it fails, the turn expires and the next holder rolls back.
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
	l.finish(ctx)
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
// stored, as collections.Summarize does, and stores those that differ; an
// id with no version left loses its head. A rollback needs it: the batch
// rolled back may have moved marks and heads before it stopped.
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
			cur, err := objects.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: firsts}}}},
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
			models  []mongo.WriteModel
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
			e.head = &h
			for i, d := range docs {
				k := tags(marks[i], d.SpecVersion)
				if int32(marks[i]) != d.Marks || !slices.Equal(k, d.Tags) {
					models = append(models, mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: d.ID}}).
						SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "m", Value: int32(marks[i])}, {Key: "k", Value: k}}}}))
				}
			}
		}
		if len(models) > 0 {
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
