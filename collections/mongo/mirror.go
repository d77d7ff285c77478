package mongo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/stix"
)

// The sources of collections/mirror. One document per source in
// mirror_sources (_id: its name) holds its declaration, cursor, counters
// and lease, so that recording a page's cursor and counters is one update
// guarded by the lease. Rejections and batches are documents of their
// own whose _id is the source's name, NUL, then a fixed-width key in
// time order: every read and deletion is an _id range, so these
// collections need no index beyond _id (and no migration).
const (
	collMirrorSources    = "mirror_sources"
	collMirrorRejections = "mirror_rejections"
	collMirrorBatches    = "mirror_batches"
)

var _ mirror.Store = (*Store)(nil)

// sourceDoc is a source with its state. Times are µs since the epoch (0:
// never).
type sourceDoc struct {
	Name        string `bson:"_id"`
	URL         string `bson:"url"`
	Username    string `bson:"username"`
	Sealed      []byte `bson:"sealed,omitempty"`
	CertFile    string `bson:"cert_file"`
	KeyFile     string `bson:"key_file"`
	CAFile      string `bson:"ca_file"`
	AllowHTTP   bool   `bson:"allow_http"`
	APIRoot     string `bson:"api_root"`
	Collection  string `bson:"collection"`
	Direction   string `bson:"direction"`
	MaxTLP      int32  `bson:"max_tlp"`
	IntervalUS  int64  `bson:"interval_us"`
	Created     int64  `bson:"created"`
	After       string `bson:"cursor_after"`
	Next        string `bson:"cursor_next"`
	WalkAfter   string `bson:"cursor_walk_after"`
	Pages       int64  `bson:"pages"`
	Objects     int64  `bson:"objects"`
	Added       int64  `bson:"added"`
	Unchanged   int64  `bson:"unchanged"`
	Rejected    int64  `bson:"rejected"`
	LastSuccess int64  `bson:"last_success"`
	LastPage    int64  `bson:"last_page"`
	LastError   string `bson:"last_error"`
	LastErrorAt int64  `bson:"last_error_at"`
	Holder      string `bson:"holder"`
	LeaseUntil  int64  `bson:"lease_until"`
}

func (d sourceDoc) source() mirror.Source {
	return mirror.Source{Name: d.Name, URL: d.URL, Username: d.Username, Sealed: d.Sealed, CertFile: d.CertFile,
		KeyFile: d.KeyFile, CAFile: d.CAFile, AllowHTTP: d.AllowHTTP, APIRoot: d.APIRoot, Collection: d.Collection,
		Direction: cmp.Or(d.Direction, mirror.Pull), MaxTLP: stix.TLP(d.MaxTLP), Interval: time.Duration(d.IntervalUS) * time.Microsecond, Created: fromMicrosOrZero(d.Created)}
}

func (d sourceDoc) state() mirror.State {
	return mirror.State{
		Cursor:      mirror.Cursor{After: d.After, Next: d.Next, WalkAfter: d.WalkAfter},
		Counters:    mirror.Counters{Pages: d.Pages, Objects: d.Objects, Added: d.Added, Unchanged: d.Unchanged, Rejected: d.Rejected},
		LastSuccess: fromMicrosOrZero(d.LastSuccess), LastPage: fromMicrosOrZero(d.LastPage), LastError: d.LastError,
		LastErrorAt: fromMicrosOrZero(d.LastErrorAt), Holder: d.Holder, LeaseUntil: fromMicrosOrZero(d.LeaseUntil),
	}
}

func notFoundSource(name string) error {
	return fmt.Errorf("%w: no source %q", collections.ErrNotFound, name)
}

// CreateSource implements mirror.Store.
func (s *Store) CreateSource(ctx context.Context, src mirror.Source) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	d := sourceDoc{Name: src.Name, URL: src.URL, Username: src.Username, Sealed: src.Sealed, CertFile: src.CertFile,
		KeyFile: src.KeyFile, CAFile: src.CAFile, AllowHTTP: src.AllowHTTP, APIRoot: src.APIRoot, Collection: src.Collection,
		Direction: cmp.Or(src.Direction, mirror.Pull), MaxTLP: int32(src.MaxTLP), IntervalUS: src.Interval.Microseconds(), Created: microsOrZero(src.Created)}
	_, err := s.db.Collection(collMirrorSources).InsertOne(ctx, d)
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("%w: a source named %q exists", collections.ErrConflict, src.Name)
	}
	return storeErr("create source", err)
}

func (s *Store) sourceDoc(ctx context.Context, name string) (sourceDoc, error) {
	var d sourceDoc
	err := s.db.Collection(collMirrorSources).FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, notFoundSource(name)
	}
	return d, storeErr("source", err)
}

// Source implements mirror.Store.
func (s *Store) Source(ctx context.Context, name string) (mirror.Source, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	d, err := s.sourceDoc(ctx, name)
	if err != nil {
		return mirror.Source{}, err
	}
	return d.source(), nil
}

// SourceState implements mirror.Store.
func (s *Store) SourceState(ctx context.Context, name string) (mirror.State, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	d, err := s.sourceDoc(ctx, name)
	if err != nil {
		return mirror.State{}, err
	}
	return d.state(), nil
}

// Sources implements mirror.Store. Sources are few (declared by admins):
// one find over the _id index.
func (s *Store) Sources(ctx context.Context) ([]mirror.Source, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cur, err := s.db.Collection(collMirrorSources).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, storeErr("sources", err)
	}
	var docs []sourceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("sources", err)
	}
	out := make([]mirror.Source, len(docs))
	for i, d := range docs {
		out[i] = d.source()
	}
	return out, nil
}

// recordRange selects the records of a source: their _id starts with its
// name and NUL.
func recordRange(name string) bson.D {
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: name + "\x00"}, {Key: "$lt", Value: name + "\x01"}}}}
}

// DeleteSource implements mirror.Store: the source document first (a
// pull under way then fails its next write), then its records.
func (s *Store) DeleteSource(ctx context.Context, name string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.db.Collection(collMirrorSources).DeleteOne(ctx, bson.D{{Key: "_id", Value: name}})
	if err != nil {
		return storeErr("delete source", err)
	}
	if res.DeletedCount == 0 {
		return notFoundSource(name)
	}
	for _, c := range []string{collMirrorRejections, collMirrorBatches} {
		if _, err := s.db.Collection(c).DeleteMany(ctx, recordRange(name)); err != nil {
			return storeErr("delete source records", err)
		}
	}
	return nil
}

// AcquireSourceLease implements mirror.Store.
func (s *Store) AcquireSourceLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	sources := s.db.Collection(collMirrorSources)
	res, err := sources.UpdateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "holder", Value: ""}}, bson.D{{Key: "holder", Value: holder}},
		bson.D{{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: microsOrZero(now)}}}},
	}}}, bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: holder}, {Key: "lease_until", Value: microsOrZero(now.Add(ttl))}}}})
	if err != nil {
		return false, storeErr("source lease", err)
	}
	if res.MatchedCount == 1 {
		return true, nil
	}
	if _, err := s.sourceDoc(ctx, name); err != nil {
		return false, err
	}
	return false, nil
}

// ReleaseSourceLease implements mirror.Store.
func (s *Store) ReleaseSourceLease(ctx context.Context, name, holder string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.db.Collection(collMirrorSources).UpdateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: ""}, {Key: "lease_until", Value: int64(0)}}}})
	return storeErr("release source lease", err)
}

// guarded applies update to the source document while holder holds its
// lease at now; ErrLeaseLost when it does not (or the source is gone).
func (s *Store) guarded(ctx context.Context, what, name, holder string, now time.Time, update bson.D) error {
	res, err := s.db.Collection(collMirrorSources).UpdateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder},
		{Key: "lease_until", Value: bson.D{{Key: "$gte", Value: microsOrZero(now)}}}}, update)
	if err != nil {
		return storeErr(what, err)
	}
	if res.MatchedCount == 0 {
		return mirror.ErrLeaseLost
	}
	return nil
}

// recordKey is the _id of a record of a source: its name, NUL, the time
// (ns, fixed width) and its index in the page, so that _id order is the
// order records were made in (one process writes a source's records at a
// time: the lease holder).
func recordKey(name string, at time.Time, i int) string {
	return fmt.Sprintf("%s\x00%020d\x00%06d", name, at.UnixNano(), i)
}

// RecordPage implements mirror.Store. The cursor and counters are one
// update guarded by the lease; the batch and rejections are written after
// it (no multi-document transaction is needed for the cursor's
// guarantees): a crash between the two loses the page's records, never
// its objects or cursor.
func (s *Store) RecordPage(ctx context.Context, name, holder string, r mirror.PageRecord) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	set := bson.D{{Key: "cursor_after", Value: r.Cursor.After}, {Key: "cursor_next", Value: r.Cursor.Next},
		{Key: "cursor_walk_after", Value: r.Cursor.WalkAfter}, {Key: "last_page", Value: microsOrZero(r.At)}}
	if r.CaughtUp {
		set = append(set, bson.E{Key: "last_success", Value: microsOrZero(r.At)}, bson.E{Key: "last_error", Value: ""},
			bson.E{Key: "last_error_at", Value: int64(0)})
	}
	b := r.Batch
	update := bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "pages", Value: int64(1)},
		{Key: "objects", Value: int64(b.Objects)}, {Key: "added", Value: int64(b.Added)},
		{Key: "unchanged", Value: int64(b.Unchanged)}, {Key: "rejected", Value: int64(b.Rejected)}}}}
	if err := s.guarded(ctx, "record page", name, holder, r.At, update); err != nil {
		return err
	}
	now := time.Now()
	_, err := s.db.Collection(collMirrorBatches).InsertOne(ctx, bson.D{{Key: "_id", Value: recordKey(name, now, 0)},
		{Key: "at", Value: microsOrZero(b.At)}, {Key: "first", Value: b.First}, {Key: "last", Value: b.Last},
		{Key: "objects", Value: b.Objects}, {Key: "added", Value: b.Added}, {Key: "unchanged", Value: b.Unchanged},
		{Key: "rejected", Value: b.Rejected}})
	if err != nil {
		return storeErr("record batch", err)
	}
	if err := s.pruneRecords(ctx, collMirrorBatches, name, mirror.MaxBatches); err != nil {
		return err
	}
	if len(r.Rejections) == 0 {
		return nil
	}
	rej := r.Rejections[:min(len(r.Rejections), mirror.MaxRejections)]
	docs := make([]any, len(rej))
	for i, j := range rej {
		docs[i] = bson.D{{Key: "_id", Value: recordKey(name, now, i)}, {Key: "at", Value: microsOrZero(j.At)},
			{Key: "object_id", Value: j.ID}, {Key: "version", Value: j.Version}, {Key: "reason", Value: j.Reason},
			{Key: "message", Value: mirror.Clip(j.Message)}}
	}
	if _, err := s.db.Collection(collMirrorRejections).InsertMany(ctx, docs); err != nil {
		return storeErr("record rejections", err)
	}
	return s.pruneRecords(ctx, collMirrorRejections, name, mirror.MaxRejections)
}

// pruneRecords keeps the newest keep records of a source: it finds the
// oldest one kept (an _id range read backwards, skipping keep-1) and
// deletes those below it.
func (s *Store) pruneRecords(ctx context.Context, coll, name string, keep int) error {
	c := s.db.Collection(coll)
	var edge struct {
		ID string `bson:"_id"`
	}
	err := c.FindOne(ctx, recordRange(name), options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).
		SetSkip(int64(keep-1)).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&edge)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil // fewer than keep
	}
	if err != nil {
		return storeErr("prune records", err)
	}
	_, err = c.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: name + "\x00"}, {Key: "$lt", Value: edge.ID}}}})
	return storeErr("prune records", err)
}

// RecordError implements mirror.Store.
func (s *Store) RecordError(ctx context.Context, name, holder string, at time.Time, msg string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.guarded(ctx, "record source error", name, holder, at, bson.D{{Key: "$set", Value: bson.D{
		{Key: "last_error", Value: mirror.Clip(msg)}, {Key: "last_error_at", Value: microsOrZero(at)}}}})
}

// ResetCursor implements mirror.Store.
func (s *Store) ResetCursor(ctx context.Context, name, holder string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.guarded(ctx, "reset source cursor", name, holder, time.Now(), bson.D{{Key: "$set", Value: bson.D{
		{Key: "cursor_next", Value: ""}, {Key: "cursor_walk_after", Value: ""}}}})
}

// newestRecords reads the newest limit records of a source into out.
func (s *Store) newestRecords(ctx context.Context, coll, name string, limit int, out any) error {
	cur, err := s.db.Collection(coll).Find(ctx, recordRange(name),
		options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return storeErr("records", err)
	}
	return storeErr("records", cur.All(ctx, out))
}

// Rejections implements mirror.Store.
func (s *Store) Rejections(ctx context.Context, name string, limit int) ([]mirror.Rejection, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var docs []struct {
		At      int64  `bson:"at"`
		ID      string `bson:"object_id"`
		Version string `bson:"version"`
		Reason  string `bson:"reason"`
		Message string `bson:"message"`
	}
	if err := s.newestRecords(ctx, collMirrorRejections, name, limit, &docs); err != nil {
		return nil, err
	}
	out := make([]mirror.Rejection, len(docs))
	for i, d := range docs {
		out[i] = mirror.Rejection{At: fromMicrosOrZero(d.At), ID: d.ID, Version: d.Version, Reason: d.Reason, Message: d.Message}
	}
	return out, nil
}

// Batches implements mirror.Store.
func (s *Store) Batches(ctx context.Context, name string, limit int) ([]mirror.Batch, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var docs []struct {
		At        int64  `bson:"at"`
		First     string `bson:"first"`
		Last      string `bson:"last"`
		Objects   int    `bson:"objects"`
		Added     int    `bson:"added"`
		Unchanged int    `bson:"unchanged"`
		Rejected  int    `bson:"rejected"`
	}
	if err := s.newestRecords(ctx, collMirrorBatches, name, limit, &docs); err != nil {
		return nil, err
	}
	out := make([]mirror.Batch, len(docs))
	for i, d := range docs {
		out[i] = mirror.Batch{At: fromMicrosOrZero(d.At), First: d.First, Last: d.Last, Objects: d.Objects, Added: d.Added,
			Unchanged: d.Unchanged, Rejected: d.Rejected}
	}
	return out, nil
}
