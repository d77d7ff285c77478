package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
)

// Heads: one document per object (one id in one collection incarnation)
// holding its collections.Head, so that adding a version reads one small
// document per id instead of the object's versions. Writers keep them
// current under the collection's write lease (lock.go).

// headIndexes serve the queries of heads.go.
var headIndexes = []index{
	// Heads of the UUIDs of a batch, whatever their type (loadHeads: the
	// heads of the ids added, and the other types their UUIDs are stored
	// under, which the cross-version rules refuse).
	{coll: collHeads, name: "heads_uuid", keys: bson.D{{Key: "c", Value: 1}, {Key: "u", Value: 1}}},
}

// maxInList bounds the values of one $in the write path sends: the
// objects of one ingest batch. Longer lists are sent in chunks. One $in
// per batch rather than one per 100 values, because FerretDB reads the
// whole collection for each.
const maxInList = 1000

// headDoc is the document of one head. Times are versionKey text (the
// empty string for the zero time), dates added µs.
type headDoc struct {
	ID          string     `bson:"_id"` // headID(c, u, t)
	C           string     `bson:"c"`   // collection key
	U           string     `bson:"u"`   // UUID part of the id
	T           string     `bson:"t"`   // type part of the id
	Created     string     `bson:"created"`
	Revoked     string     `bson:"revoked"`
	Unversioned string     `bson:"unversioned"`
	Specs       []specDocs `bson:"specs"`
	// BelowRed is collections.Head.BelowRed (absent: false, as for every
	// head stored before versions had levels).
	BelowRed bool `bson:"below_red,omitempty"`
}

// specDocs is one collections.SpecRange.
type specDocs struct {
	SpecVersion string `bson:"sv"`
	First       string `bson:"fv"`
	FirstAdded  int64  `bson:"fda"`
	Last        string `bson:"lv"`
	LastAdded   int64  `bson:"lda"`
}

// headID is the _id of the head of the object (typ, uuid) in the collection
// incarnation key.
func headID(key, uuid, typ string) string { return key + "\x00" + uuid + "\x00" + typ }

// idOf joins a type and a UUID part into an id, as collections.SplitID
// splits it.
func idOf(typ, uuid string) string {
	if typ == "" {
		return uuid
	}
	return typ + "--" + uuid
}

func timeKey(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return versionKey(t)
}

func parseTimeKey(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return parseVersionKey(s)
}

// newHeadDoc returns the document of h, the head of the object (typ, uuid),
// in the collection incarnation key.
func newHeadDoc(key, uuid, typ string, h *collections.Head) headDoc {
	d := headDoc{ID: headID(key, uuid, typ), C: key, U: uuid, T: typ,
		Created: timeKey(h.Created), Revoked: timeKey(h.Revoked), Unversioned: timeKey(h.Unversioned),
		Specs: make([]specDocs, len(h.Specs)), BelowRed: h.BelowRed}
	for i, r := range h.Specs {
		d.Specs[i] = specDocs{SpecVersion: r.SpecVersion,
			First: versionKey(r.First.Version), FirstAdded: micros(r.First.DateAdded),
			Last: versionKey(r.Last.Version), LastAdded: micros(r.Last.DateAdded)}
	}
	return d
}

// head decodes d.
func (d *headDoc) head() (*collections.Head, error) {
	h := &collections.Head{ID: idOf(d.T, d.U), Type: d.T, Specs: make([]collections.SpecRange, len(d.Specs)), BelowRed: d.BelowRed}
	var err [3]error
	h.Created, err[0] = parseTimeKey(d.Created)
	h.Revoked, err[1] = parseTimeKey(d.Revoked)
	h.Unversioned, err[2] = parseTimeKey(d.Unversioned)
	for _, e := range err {
		if e != nil {
			return nil, fmt.Errorf("head of %s: %w", h.ID, e)
		}
	}
	for i, r := range d.Specs {
		first, e1 := parseVersionKey(r.First)
		last, e2 := parseVersionKey(r.Last)
		if e1 != nil || e2 != nil {
			return nil, fmt.Errorf("head of %s: malformed version range of spec version %s", h.ID, r.SpecVersion)
		}
		h.Specs[i] = collections.SpecRange{SpecVersion: r.SpecVersion,
			First: collections.VersionRef{Version: first, DateAdded: fromMicros(r.FirstAdded)},
			Last:  collections.VersionRef{Version: last, DateAdded: fromMicros(r.LastAdded)}}
	}
	return h, nil
}

// headSet holds the heads of a batch's UUIDs, as read and as the batch
// changes them.
type headSet struct {
	byUUID map[string][]*headEntry
	dirty  []*headEntry
}

// headEntry is the head of one id; head is nil when no version is stored.
type headEntry struct {
	typ, uuid string
	head      *collections.Head
	dirty     bool
	stored    bool // a head document may exist
}

// loadHeads reads the heads of the UUIDs of ids (canonical) in the
// collection incarnation key, those of other types included: one find per
// maxInList UUIDs.
func (s *Store) loadHeads(ctx context.Context, key string, ids []string) (*headSet, error) {
	hs := &headSet{byUUID: make(map[string][]*headEntry, len(ids))}
	var uuids []string
	for _, id := range ids {
		_, u := collections.SplitID(id)
		if _, ok := hs.byUUID[u]; !ok {
			hs.byUUID[u] = nil
			uuids = append(uuids, u)
		}
	}
	heads := s.db.Collection(collHeads)
	for start := 0; start < len(uuids); start += maxInList {
		chunk := uuids[start:min(start+maxInList, len(uuids))]
		cur, err := heads.Find(ctx, bson.D{{Key: "c", Value: key}, {Key: "u", Value: bson.D{{Key: "$in", Value: chunk}}}},
			options.Find().SetHint("heads_uuid"))
		if err != nil {
			return nil, err
		}
		var docs []headDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, err
		}
		for i := range docs {
			h, err := docs[i].head()
			if err != nil {
				return nil, err
			}
			u := docs[i].U
			hs.byUUID[u] = append(hs.byUUID[u], &headEntry{typ: docs[i].T, uuid: u, head: h, stored: true})
		}
	}
	return hs, nil
}

// lookup returns the head entry of id (an empty one if none is stored) and
// a type stored under the same UUID, "" if none.
func (hs *headSet) lookup(id string) (e *headEntry, other string) {
	typ, u := collections.SplitID(id)
	for _, x := range hs.byUUID[u] {
		switch {
		case x.typ == typ:
			e = x
		case x.head != nil && other == "":
			other = x.typ
		}
	}
	if e == nil {
		e = &headEntry{typ: typ, uuid: u}
		hs.byUUID[u] = append(hs.byUUID[u], e)
	}
	return e, other
}

// set records e's head after a change (nil: no version left).
func (hs *headSet) set(e *headEntry, h *collections.Head) {
	e.head = h
	if !e.dirty {
		e.dirty = true
		hs.dirty = append(hs.dirty, e)
	}
}

// writeHeads stores the heads of entries in the collection incarnation
// key: those that may be stored are deleted, then those with versions
// inserted. Two bulk operations per maxInList heads rather than an upsert
// each, because FerretDB (the embedded test server) reads a whole
// collection for every update; only the holder of the collection's write
// lease reads heads, and a rollback writes again the heads of every id of
// the lease, so that the moment without a head harms no one.
func (s *Store) writeHeads(ctx context.Context, key string, entries []*headEntry) error {
	var (
		del []string
		ins []any
	)
	for _, e := range entries {
		id := headID(key, e.uuid, e.typ)
		if e.stored || e.head == nil {
			del = append(del, id)
		}
		if e.head != nil {
			ins = append(ins, newHeadDoc(key, e.uuid, e.typ, e.head))
		}
	}
	heads := s.db.Collection(collHeads)
	if len(del) > 0 {
		var models []mongo.WriteModel
		for start := 0; start < len(del); start += maxInList {
			models = append(models, mongo.NewDeleteManyModel().SetFilter(bson.D{{Key: "c", Value: key}, {Key: "_id", Value: bson.D{
				{Key: "$in", Value: del[start:min(start+maxInList, len(del))]}}}}))
		}
		if _, err := heads.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
			return err
		}
	}
	if len(ins) > 0 {
		if _, err := heads.InsertMany(ctx, ins, options.InsertMany().SetOrdered(false)); err != nil {
			return err
		}
	}
	return nil
}
