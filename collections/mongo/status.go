package mongo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
)

// Status resources.
//
// A status may list hundreds of thousands of entries, far more than one
// MongoDB document holds (16 MB). So a status is a header document in
// "statuses" (statusHeader) and its entries are chunks of at most
// chunkEntries entries and about chunkBytes in "status_entries"
// (statusChunk), numbered from 0, in the order the entries were created:
// successes, failures, then pendings. Pending entries settle in order, so
// the pending entries of a status are always the last ones, in its last
// chunks.
//
// A chunk is never changed in place: settling entries of chunk n at
// revision r inserts revision r+1 of it, whose _id (entries key, n, r+1)
// makes the insert fail for every writer but one, then deletes revision r.
// Readers take the highest revision of each chunk. This optimistic
// concurrency rests on the uniqueness of _id alone, because some
// MongoDB-wire servers (FerretDB v1) apply a conditional update as a read
// and a later write, so that several writers may all see their condition
// met.
//
// The chunks are the truth; the header's pending count is a hint for the
// recovery of pushes left unfinished (PendingStatuses). Settling writes
// the chunks first, in chunk order, then lowers the header's count. A
// process that dies in between leaves a header that counts more pendings
// than there are, never fewer: the status is then listed by
// PendingStatuses, and FailPendings, which reads the chunks, fails what is
// really pending (perhaps nothing) and sets the count right. The other
// order could leave a header that says complete over pending entries that
// nothing would ever settle. Every header write sets a count some writer
// saw in the chunks, and counts only go down, so the hint stays at or
// above the truth even when header writes race.
//
// Expiry: the header holds the expiry as a BSON date for a TTL index
// (MongoDB then removes it by itself) and in microseconds, checked on every
// read, since a TTL index removes documents only once a minute and some
// servers have none (FerretDB). Chunks expire no earlier than their header
// (their date is moved, before the header's, whenever the header's would
// pass it), so that a reader that found the header finds every chunk.
// CreateStatus also removes some expired statuses, so that a server
// without TTL indexes keeps its statuses bounded too.

// statusIndexes serve the queries of status.go.
var statusIndexes = []index{
	// PendingStatuses: {pending: true, updated < before} sorted by updated.
	{coll: collStatuses, name: "statuses_pending", keys: bson.D{{Key: "pending", Value: 1}, {Key: "updated", Value: 1}}},
	// TTL of statuses; sweepStatuses: {expires < now}.
	{coll: collStatuses, name: "statuses_expires", keys: bson.D{{Key: "expires", Value: 1}}, ttl: true},
	// Status: {s} sorted by n, rev. Settling, failing, counting pending
	// entries: the same, without the entries. Moving the expiry of a
	// status's chunks: {s, x < date}.
	{coll: collStatusParts, name: "status_entries_chunks", keys: bson.D{{Key: "s", Value: 1}, {Key: "n", Value: 1}, {Key: "rev", Value: 1}}},
	// TTL of chunks; sweepStatuses: {x < now}.
	{coll: collStatusParts, name: "status_entries_expires", keys: bson.D{{Key: "x", Value: 1}}, ttl: true},
}

// Chunk sizes: a chunk is closed at chunkEntries entries, or once its
// entries' text reaches chunkBytes, far below the 16 MB document limit
// also when settling rewrites each entry's version and message.
const (
	chunkEntries = 1000
	chunkBytes   = 1 << 20
)

// chunkExpiryMargin is how much later than its header's expiry a chunk's
// expiry is set when it must move, so that a long push, which moves the
// header's expiry at every batch, rewrites the dates of all its chunks
// about once per margin rather than at every batch.
const chunkExpiryMargin = time.Hour

// Sweeping expired statuses (sweepStatuses): at most sweepHeaders headers
// per call, and chunks in proportion to those written.
const (
	sweepHeaders   = 100
	sweepMinChunks = 8
)

// States of statusEntry.State.
const (
	entryPending = 0
	entrySuccess = 1
	entryFailure = 2
)

// statusHeader is the document of a status in "statuses".
type statusHeader struct {
	ID         string `bson:"_id"` // statusID(API root, status id)
	APIRoot    string `bson:"api_root"`
	StatusID   string `bson:"id"`
	Collection string `bson:"collection"`
	Owner      string `bson:"owner"`
	Requested  int64  `bson:"request_timestamp"` // µs
	TotalCount int    `bson:"total_count"`
	// EntriesKey is random, the s of the status's chunks: chunks written
	// by a CreateStatus that lost the id to another are nobody's.
	EntriesKey string `bson:"entries_key"`
	// Entries and Chunks count what the status's chunks hold.
	Entries int `bson:"entries"`
	Chunks  int `bson:"chunks"`
	// Pendings is a hint: at least the number of pending entries (see
	// above). Pending is Pendings > 0, the key of PendingStatuses' index.
	Pendings int  `bson:"pendings"`
	Pending  bool `bson:"pending"`
	// Updated (µs) is when the status was created or last settled.
	Updated int64 `bson:"updated"`
	// Expires is the TTL index's date (ms); ExpiresUS the expiry exactly.
	Expires   bson.DateTime `bson:"expires"`
	ExpiresUS int64         `bson:"expires_us"`
}

// statusChunk is one revision of a run of entries of one status, in
// "status_entries".
type statusChunk struct {
	ID  string `bson:"_id"` // chunkID(S, N, Rev)
	S   string `bson:"s"`   // the header's EntriesKey
	N   int    `bson:"n"`   // 0, 1, ... in entry order
	Rev int    `bson:"rev"`
	// Pending is how many of Entries are pending (always its last ones).
	Pending int           `bson:"p"`
	Expires bson.DateTime `bson:"x"` // for the TTL index, never before the header's
	Entries []statusEntry `bson:"e"`
}

// statusEntry is one entry; its keys are short because a status may hold
// hundreds of thousands.
type statusEntry struct {
	State   int    `bson:"k"`
	ID      string `bson:"i"`
	Version string `bson:"v,omitempty"`
	Message string `bson:"m,omitempty"`
}

func statusID(apiRoot, id string) string { return apiRoot + "\x00" + id }

func chunkID(key string, n, rev int) string { return fmt.Sprintf("%s\x00%08d\x00%d", key, n, rev) }

// statusMicros is t in µs since the Unix epoch, saturating instead of
// overflowing for times beyond year ±292,000.
func statusMicros(t time.Time) int64 {
	switch {
	case t.Before(time.UnixMicro(math.MinInt64)):
		return math.MinInt64
	case t.After(time.UnixMicro(math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixMicro()
}

// statusDate is t as a BSON date (ms), saturating.
func statusDate(t time.Time) bson.DateTime {
	return bson.DateTime(statusMicros(t) / 1000)
}

// chunkExpiry is the date a chunk gets when its header's expiry moves to
// expires past the chunk's.
func chunkExpiry(expires time.Time) bson.DateTime {
	if statusMicros(expires) > math.MaxInt64-chunkExpiryMargin.Microseconds() {
		return statusDate(expires)
	}
	return statusDate(expires.Add(chunkExpiryMargin))
}

// CreateStatus implements collections.Store. It also removes some expired
// statuses.
func (s *Store) CreateStatus(ctx context.Context, st collections.Status) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.createStatus(ctx, st)
}

// createStatus writes a new status: its chunks first, then its header, so
// that a reader that finds the header finds every entry. A process that
// dies in between, or a call that finds the id taken, leaves chunks no
// header names, removed when they expire.
func (s *Store) createStatus(ctx context.Context, st collections.Status) error {
	now := time.Now()
	h := statusHeader{
		ID: statusID(st.APIRoot, st.ID), APIRoot: st.APIRoot, StatusID: st.ID, Collection: st.Collection, Owner: st.Owner,
		Requested: statusMicros(st.RequestTimestamp), TotalCount: st.TotalCount, EntriesKey: randomText(12),
		Entries:  len(st.Successes) + len(st.Failures) + len(st.Pendings),
		Pendings: len(st.Pendings), Pending: len(st.Pendings) > 0,
		Updated: now.UnixMicro(), Expires: statusDate(st.Expires), ExpiresUS: statusMicros(st.Expires),
	}
	chunks := splitChunks(h.EntriesKey, st, chunkExpiry(st.Expires))
	h.Chunks = len(chunks)
	if err := s.sweepStatuses(ctx, now, 2*len(chunks)); err != nil {
		return storeErr("create status: remove expired statuses", err)
	}
	if len(chunks) > 0 {
		docs := make([]any, len(chunks))
		for i := range chunks {
			docs[i] = chunks[i]
		}
		if _, err := s.db.Collection(collStatusParts).InsertMany(ctx, docs); err != nil {
			return storeErr("create status", err)
		}
	}
	_, err := s.db.Collection(collStatuses).InsertOne(ctx, h)
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("%w: status %s exists in API root %s", collections.ErrConflict, st.ID, st.APIRoot)
	}
	return storeErr("create status", err)
}

// splitChunks returns the entries of st in chunks at revision 0.
func splitChunks(key string, st collections.Status, expires bson.DateTime) []statusChunk {
	var chunks []statusChunk
	size := 0
	for _, l := range []struct {
		state int
		ds    []collections.StatusDetail
	}{{entrySuccess, st.Successes}, {entryFailure, st.Failures}, {entryPending, st.Pendings}} {
		for _, d := range l.ds {
			n := len(d.ID) + len(d.Version) + len(d.Message)
			if len(chunks) == 0 || len(chunks[len(chunks)-1].Entries) == chunkEntries || size+n > chunkBytes {
				chunks = append(chunks, statusChunk{ID: chunkID(key, len(chunks), 0), S: key, N: len(chunks), Expires: expires})
				size = 0
			}
			last := &chunks[len(chunks)-1]
			last.Entries = append(last.Entries, statusEntry{State: l.state, ID: d.ID, Version: d.Version, Message: d.Message})
			if l.state == entryPending {
				last.Pending++
			}
			size += n
		}
	}
	return chunks
}

// sweepStatuses removes up to sweepHeaders expired headers and about
// chunks expired chunks (at least sweepMinChunks), so that a backlog never
// makes one call slow; each status written allows twice its chunks to go,
// so removal keeps pace. Chunks go by their own date, which is never
// before their header's: a chunk removed belongs to an expired status.
func (s *Store) sweepStatuses(ctx context.Context, now time.Time, chunks int) error {
	date := statusDate(now)
	for _, l := range []struct {
		coll, field string
		limit       int
	}{{collStatuses, "expires", sweepHeaders}, {collStatusParts, "x", max(chunks, sweepMinChunks)}} {
		expired := bson.D{{Key: l.field, Value: bson.D{{Key: "$lt", Value: date}}}}
		cur, err := s.db.Collection(l.coll).Find(ctx, expired,
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(l.limit)))
		if err != nil {
			return err
		}
		var docs []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			return err
		}
		if len(docs) == 0 {
			continue
		}
		ids := make(bson.A, len(docs))
		for i, d := range docs {
			ids[i] = d.ID
		}
		// The date again: a status settled meanwhile has moved it.
		if _, err := s.db.Collection(l.coll).DeleteMany(ctx, append(expired, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}})); err != nil {
			return err
		}
	}
	return nil
}

// readStatusHeader returns the header of a status, expired or not, or
// collections.ErrNotFound.
func (s *Store) readStatusHeader(ctx context.Context, apiRoot, id string) (statusHeader, error) {
	var h statusHeader
	err := s.db.Collection(collStatuses).FindOne(ctx, bson.D{{Key: "_id", Value: statusID(apiRoot, id)}}).Decode(&h)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return h, fmt.Errorf("%w: status %s in API root %s", collections.ErrNotFound, id, apiRoot)
	}
	return h, err
}

// liveStatusHeader returns the header of a status that has not expired, or
// collections.ErrNotFound.
func (s *Store) liveStatusHeader(ctx context.Context, apiRoot, id string) (statusHeader, error) {
	h, err := s.readStatusHeader(ctx, apiRoot, id)
	if err == nil && h.ExpiresUS <= time.Now().UnixMicro() {
		return h, fmt.Errorf("%w: status %s in API root %s (expired)", collections.ErrNotFound, id, apiRoot)
	}
	return h, err
}

func (h statusHeader) status() collections.Status {
	st := collections.Status{
		ID: h.StatusID, APIRoot: h.APIRoot, Collection: h.Collection, Owner: h.Owner,
		Status:           collections.StatusComplete,
		RequestTimestamp: time.UnixMicro(h.Requested).UTC(), TotalCount: h.TotalCount,
		Expires: time.UnixMicro(h.ExpiresUS).UTC(),
	}
	if h.Pending {
		st.Status = collections.StatusPending
	}
	return st
}

// Status implements collections.Store. Whether the status is pending
// follows from its entries, not from the header's hint.
func (s *Store) Status(ctx context.Context, apiRoot, id string) (collections.Status, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	h, err := s.liveStatusHeader(ctx, apiRoot, id)
	if err != nil {
		return collections.Status{}, storeErr("get status", err)
	}
	st := h.status()
	st.Status = collections.StatusComplete
	cur, err := s.db.Collection(collStatusParts).Find(ctx, bson.D{{Key: "s", Value: h.EntriesKey}},
		options.Find().SetSort(bson.D{{Key: "s", Value: 1}, {Key: "n", Value: 1}, {Key: "rev", Value: 1}}))
	if err != nil {
		return collections.Status{}, storeErr("get status", err)
	}
	defer cur.Close(ctx)
	var latest []statusChunk // the highest revision of each chunk so far
	for cur.Next(ctx) {
		var c statusChunk
		if err := cur.Decode(&c); err != nil {
			return collections.Status{}, storeErr("get status", err)
		}
		if n := len(latest); n > 0 && latest[n-1].N == c.N {
			latest[n-1] = c // a revision not deleted yet: this one is newer
		} else {
			latest = append(latest, c)
		}
	}
	if err := cur.Err(); err != nil {
		return collections.Status{}, storeErr("get status", err)
	}
	for _, c := range latest {
		for _, e := range c.Entries {
			d := collections.StatusDetail{ID: e.ID, Version: e.Version, Message: e.Message}
			switch e.State {
			case entrySuccess:
				st.Successes = append(st.Successes, d)
			case entryFailure:
				st.Failures = append(st.Failures, d)
			default:
				st.Pendings = append(st.Pendings, d)
				st.Status = collections.StatusPending
			}
		}
	}
	return st, nil
}

// PendingStatuses implements collections.Store. A header that counts
// pendings its chunks no longer have (see above) is listed too: the
// caller's FailPendings then finds nothing to fail and corrects it.
func (s *Store) PendingStatuses(ctx context.Context, before time.Time, limit int) ([]collections.Status, error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cur, err := s.db.Collection(collStatuses).Find(ctx, bson.D{
		{Key: "pending", Value: true},
		{Key: "updated", Value: bson.D{{Key: "$lt", Value: statusMicros(before)}}},
		{Key: "expires_us", Value: bson.D{{Key: "$gt", Value: time.Now().UnixMicro()}}},
	}, options.Find().SetSort(bson.D{{Key: "pending", Value: 1}, {Key: "updated", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, storeErr("pending statuses", err)
	}
	var hs []statusHeader
	if err := cur.All(ctx, &hs); err != nil {
		return nil, storeErr("pending statuses", err)
	}
	out := make([]collections.Status, len(hs))
	for i, h := range hs {
		out[i] = h.status()
	}
	return out, nil
}

// chunkSummary is a chunk revision without its entries.
type chunkSummary struct {
	ID      string `bson:"_id"`
	N       int    `bson:"n"`
	Rev     int    `bson:"rev"`
	Pending int    `bson:"p"`
}

// pendingChunks returns the latest revision of each chunk of the entries
// key that holds pending entries, in order, without their entries, and
// how many pending entries they hold.
func (s *Store) pendingChunks(ctx context.Context, key string) ([]chunkSummary, int, error) {
	cur, err := s.db.Collection(collStatusParts).Find(ctx, bson.D{{Key: "s", Value: key}},
		options.Find().SetSort(bson.D{{Key: "s", Value: 1}, {Key: "n", Value: 1}, {Key: "rev", Value: 1}}).
			SetProjection(bson.D{{Key: "n", Value: 1}, {Key: "rev", Value: 1}, {Key: "p", Value: 1}}))
	if err != nil {
		return nil, 0, err
	}
	var all []chunkSummary
	if err := cur.All(ctx, &all); err != nil {
		return nil, 0, err
	}
	var out []chunkSummary
	pending := 0
	for i, c := range all {
		if c.Pending == 0 || (i+1 < len(all) && all[i+1].N == c.N) { // settled, or not the latest revision
			continue
		}
		out = append(out, c)
		pending += c.Pending
	}
	return out, pending, nil
}

// reviseChunk applies edit to the chunk revision c and inserts the next
// revision, unless another writer has done so first (then ok is false and
// nothing is written). edit changes the entries and returns how many
// pending entries it settled. The new revision expires no earlier than
// expires.
func (s *Store) reviseChunk(ctx context.Context, c chunkSummary, expires bson.DateTime, edit func(c *statusChunk) int) (n int, ok bool, err error) {
	parts := s.db.Collection(collStatusParts)
	var ch statusChunk
	err = parts.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&ch)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, false, nil // superseded and deleted since it was listed
	}
	if err != nil {
		return 0, false, err
	}
	n = edit(&ch)
	if n == 0 {
		return 0, true, nil
	}
	ch.Rev++
	ch.ID = chunkID(ch.S, ch.N, ch.Rev)
	ch.Pending -= n
	ch.Expires = max(ch.Expires, expires)
	if _, err := parts.InsertOne(ctx, ch); mongo.IsDuplicateKeyError(err) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	// The old revision is dead weight now (readers take the newest); if
	// this delete fails it goes when it expires.
	parts.DeleteOne(ctx, bson.D{{Key: "_id", Value: c.ID}})
	return n, true, nil
}

// finishSettle moves the expiry of the status's chunks if needed (before
// the header's, see above), then updates the header: its pending hint,
// lowered to remaining unless another writer lowered it further, when it
// was written, and its expiry.
func (s *Store) finishSettle(ctx context.Context, h statusHeader, remaining int, expires time.Time) error {
	date := statusDate(expires)
	_, err := s.db.Collection(collStatusParts).UpdateMany(ctx,
		bson.D{{Key: "s", Value: h.EntriesKey}, {Key: "x", Value: bson.D{{Key: "$lt", Value: date}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: chunkExpiry(expires)}}}})
	if err != nil {
		return err
	}
	set := bson.D{{Key: "updated", Value: time.Now().UnixMicro()}, {Key: "expires", Value: date}, {Key: "expires_us", Value: statusMicros(expires)}}
	statuses := s.db.Collection(collStatuses)
	res, err := statuses.UpdateOne(ctx, bson.D{{Key: "_id", Value: h.ID}, {Key: "pendings", Value: bson.D{{Key: "$gte", Value: remaining}}}},
		bson.D{{Key: "$set", Value: append(set, bson.E{Key: "pendings", Value: remaining}, bson.E{Key: "pending", Value: remaining > 0})}})
	if err != nil || res.MatchedCount == 1 {
		return err
	}
	res, err = statuses.UpdateOne(ctx, bson.D{{Key: "_id", Value: h.ID}}, bson.D{{Key: "$set", Value: set}})
	if err == nil && res.MatchedCount == 0 {
		err = fmt.Errorf("%w: status %s removed while it was settled", collections.ErrNotFound, h.StatusID)
	}
	return err
}

// FailPendings implements collections.Store.
func (s *Store) FailPendings(ctx context.Context, apiRoot, id, message string, expires time.Time) (int, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	h, err := s.liveStatusHeader(ctx, apiRoot, id)
	if err != nil {
		return 0, storeErr("fail pending entries", err)
	}
	if h.Pendings == 0 { // a hint never below the truth: complete
		return 0, nil
	}
	failed := 0
	for raced := true; raced; {
		chunks, _, err := s.pendingChunks(ctx, h.EntriesKey)
		if err != nil {
			return failed, storeErr("fail pending entries", err)
		}
		raced = false
		for _, c := range chunks {
			n, ok, err := s.reviseChunk(ctx, c, chunkExpiry(expires), func(c *statusChunk) int {
				n := 0
				for i := range c.Entries {
					if e := &c.Entries[i]; e.State == entryPending {
						e.State, e.Message = entryFailure, message
						n++
					}
				}
				return n
			})
			if err != nil {
				return failed, storeErr("fail pending entries", err)
			}
			if !ok { // another writer revised it: list again
				raced = true
				break
			}
			failed += n
		}
	}
	return failed, storeErr("fail pending entries", s.finishSettle(ctx, h, 0, expires))
}

// beginStatus prepares the status update of an AddObjects call of n
// objects, before any object is written: it creates upd.New when set
// (ErrConflict if the id is taken), and checks that the status exists
// (ErrNotFound) and has at least n pending entries (ErrConflict).
//
// Without a transaction around the objects and the status, two calls
// settling one status at once may both pass the check and together settle
// more entries than it has; settleStatus then reports it (see there).
// taxiid settles a status from one push at a time, so only a recovery
// failing a push that is still running can meet this.
func (s *Store) beginStatus(ctx context.Context, upd *collections.StatusUpdate, n int) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if upd.New != nil {
		if upd.New.APIRoot != upd.APIRoot || upd.New.ID != upd.ID {
			return fmt.Errorf("mongo: status update for %s/%s creates %s/%s", upd.APIRoot, upd.ID, upd.New.APIRoot, upd.New.ID)
		}
		if len(upd.New.Pendings) < n {
			return fmt.Errorf("%w: status %s has %d pending entries, not the %d objects added", collections.ErrConflict, upd.ID, len(upd.New.Pendings), n)
		}
		st := *upd.New
		st.Expires = upd.Expires
		return s.createStatus(ctx, st)
	}
	h, err := s.liveStatusHeader(ctx, upd.APIRoot, upd.ID)
	if err != nil {
		return storeErr("status update", err)
	}
	pending := h.Pendings // a hint never below the truth: count if it is enough
	if pending >= n {
		if _, pending, err = s.pendingChunks(ctx, h.EntriesKey); err != nil {
			return storeErr("status update", err)
		}
	}
	if pending < n {
		return fmt.Errorf("%w: status %s has %d pending entries, not the %d objects added", collections.ErrConflict, upd.ID, pending, n)
	}
	return nil
}

// settleStatus settles the next len(results) pending entries of the status
// as results say, once the objects are committed, and moves its expiry to
// upd.Expires.
//
// A crash before it leaves the status pending although the objects are
// stored: the recovery of unfinished pushes (PendingStatuses, FailPendings)
// fails those entries later, and pushing the objects again answers that
// they are stored unchanged. Should the status have fewer pending entries
// than results (see beginStatus), it settles those it has and returns an
// error wrapping collections.ErrConflict.
func (s *Store) settleStatus(ctx context.Context, upd *collections.StatusUpdate, results []collections.AddResult) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	h, err := s.readStatusHeader(ctx, upd.APIRoot, upd.ID)
	if err != nil {
		return storeErr("settle status", err)
	}
	expires := chunkExpiry(upd.Expires)
	next, remaining := 0, 0 // the next result to settle; pendings left once settled
	for raced := true; raced; {
		chunks, pending, err := s.pendingChunks(ctx, h.EntriesKey)
		if err != nil {
			return storeErr("settle status", err)
		}
		remaining, raced = pending, false
		for _, c := range chunks {
			if next == len(results) {
				break
			}
			n, ok, err := s.reviseChunk(ctx, c, expires, func(c *statusChunk) int {
				n := 0
				for i := range c.Entries {
					e := &c.Entries[i]
					if e.State != entryPending || next+n == len(results) {
						continue
					}
					ok, version, msg := collections.Settle(results[next+n])
					e.State, e.Version = entryFailure, version
					if ok {
						e.State = entrySuccess
					}
					if msg != "" {
						e.Message = msg
					}
					n++
				}
				return n
			})
			if err != nil {
				return storeErr("settle status", err)
			}
			if !ok {
				// Another writer revised the chunk since it was listed
				// (each time one does, it settles entries: this ends).
				raced = true
				break
			}
			next += n
			remaining -= n
		}
	}
	if err := s.finishSettle(ctx, h, remaining, upd.Expires); err != nil {
		return storeErr("settle status", err)
	}
	if next < len(results) {
		return fmt.Errorf("%w: status %s had %d pending entries left for %d objects stored", collections.ErrConflict, upd.ID, next, len(results))
	}
	return nil
}
