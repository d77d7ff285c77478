package mongo

import (
	"context"
	"errors"
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Query shapes. Every page is two round trips: the collection document
// (for its key and the committed watermark W, see lock.go), then one find
// on objects, sorted by {da: 1}, limited to Limit+1 documents (the extra
// one tells Page.More), hinted to the index named, reading one range of it
// per combination of the values of its $in conditions, merged in da order.
// "after" is the page's added_after in µs (none: no lower bound); every
// filter also holds c: <collection key> and da: {$gt: after, $lte: U},
// where U is W, or the embargo's AddedUntil when lower.
//
// Every filter also holds the TLP levels the requester sees, tlp: L (see
// visibleLevels): with a ceiling below red, {$in: [1..ceiling]} (at most
// four ranges: a stored level 0, none, counts as red); without one (or
// red), {$in: [0..5]}, six ranges. Each index below has tlp right before
// da, so that a ceiling hiding most versions reads only visible keys and
// pages stay full, with More exact. The two indexes without tlp
// (objects_id, objects_added) get the condition only under a ceiling:
// objects_id then filters the versions of the ids asked for, and an
// export under a ceiling reads objects_tlp instead of objects_added.
//
//	TAXII query                                filter beyond c, tlp and da    index
//	objects page (latest, top spec version)    k: "L"                         objects_tags_tlp {c,k,tlp,da}
//	manifest page (same, without raw)          k: "L"                         objects_tags_tlp
//	added_after=T                              k: "L", da > T                 objects_tags_tlp
//	match[version]=first / first,last          k: "F" / k: {$in: [L, F]}      objects_tags_tlp
//	match[version]=all                         k: "a"                         objects_tags_tlp
//	match[type]=x,y                            k: "L", t: {$in: [x, y]}       objects_tags_type_tlp {c,k,t,tlp,da}
//	object by id (latest)                      id: X, k: "L"                  objects_id_tags_tlp {c,id,k,tlp,da}
//	versions of an object                      id: X, k: "a"                  objects_id_tags_tlp
//	match[id] over all spec versions, all      id: {$in} (tlp: ceiling only)  objects_id {c,id,da}
//	match[version]=<timestamp>                 v: {$in}, k: "a"               objects_version_tlp {c,v,tlp,da}
//	match[spec_version]=2.0,2.1 (latest)       k: {$in: [l:2.0, l:2.1]}       objects_tags_tlp
//	  (first / all)                            k: {$in: [f:.. / s:..]}        objects_tags_tlp
//	all spec versions, last / first            k: "l" / "f"                   objects_tags_tlp
//	all spec versions, all versions (export)   (no tlp)                       objects_added {c,da}
//	  under a ceiling                          tlp: {$in: [1..ceiling]}       objects_tlp {c,tlp,da}
//	  with match[type]                         t: {$in}                       objects_type_tlp {c,t,tlp,da}
//
// match[version] mixing first/last with timestamps is a rooted $or of the
// two selections above (each clause with c, tlp, da and the other
// filters), which the planner answers by one index range per clause and
// value, merged in da order. Lists are at most collections.MaxQueryValues
// long. MongoDB merges the ranges of $in values in da order up to 200
// ranges (the product of the $in lists before da, the levels included); a
// query beyond that, such as 40 types without a ceiling, or 100 types
// with first and last, reads its ranges and sorts them.

// Objects implements collections.Store.
func (s *Store) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	if err := q.Check(); err != nil {
		return collections.Page{}, err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	c, err := s.collection(ctx, q.APIRoot, q.Collection)
	if errors.Is(err, collections.ErrNotFound) {
		return collections.Page{}, nil
	}
	if err != nil {
		return collections.Page{}, storeErr("objects", err)
	}
	f, ok := newPageFind(q, c.Key, c.Committed)
	if !ok {
		return collections.Page{}, nil
	}
	cur, err := s.db.Collection(collObjects).Find(ctx, f.filter, f.options())
	if err != nil {
		return collections.Page{}, storeErr("objects", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	page := collections.Page{Objects: make([]collections.Object, 0, min(q.Limit, 1000))}
	size := 0
	for cur.Next(ctx) {
		if len(page.Objects) == q.Limit || q.MaxBytes > 0 && size >= q.MaxBytes {
			page.More = true
			break
		}
		var d objDoc
		if err := cur.Decode(&d); err != nil {
			return collections.Page{}, storeErr("objects", err)
		}
		v, err := parseVersionKey(d.Version)
		if err != nil {
			return collections.Page{}, fmt.Errorf("mongo: objects: version of %s: %w", d.OID, err)
		}
		page.Objects = append(page.Objects, collections.Object{ID: d.OID, Type: d.Type, SpecVersion: d.SpecVersion,
			Version: v, DateAdded: fromMicros(d.DateAdded), Raw: d.Raw, TLP: stix.TLP(d.TLP), GranularTLP: stix.TLP(d.GranularTLP)})
		size += len(d.Raw)
	}
	if err := cur.Err(); err != nil {
		return collections.Page{}, storeErr("objects", err)
	}
	return page, nil
}

// pageFind is the find that answers one page.
type pageFind struct {
	filter bson.D
	hint   string // "" for none
	limit  int64
	proj   bson.D
}

var byAdded = bson.D{{Key: "da", Value: 1}}

// newPageFind returns the find answering q in the collection incarnation
// key with watermark committed; ok is false when q can match nothing.
func newPageFind(q collections.Query, key string, committed int64) (f pageFind, ok bool) {
	if f.filter, f.hint, ok = findFilter(q, key, committed); !ok {
		return f, false
	}
	f.limit = int64(q.Limit) + 1
	f.proj = bson.D{{Key: "_id", Value: 0}, {Key: "id", Value: 1}, {Key: "t", Value: 1}, {Key: "sv", Value: 1},
		{Key: "v", Value: 1}, {Key: "da", Value: 1}, {Key: "tlp", Value: 1}, {Key: "gtlp", Value: 1}}
	if !q.MetadataOnly {
		f.proj = append(f.proj, bson.E{Key: "raw", Value: 1})
	}
	return f, true
}

func (f pageFind) options() *options.FindOptionsBuilder {
	o := options.Find().SetSort(byAdded).SetLimit(f.limit).SetProjection(f.proj).
		SetBatchSize(int32(min(f.limit, math.MaxInt32)))
	if f.hint != "" {
		o.SetHint(f.hint)
	}
	return o
}

// command returns f as a find command, as the driver sends it (for
// explain).
func (f pageFind) command() bson.D {
	cmd := bson.D{{Key: "find", Value: collObjects}, {Key: "filter", Value: f.filter}, {Key: "sort", Value: byAdded},
		{Key: "limit", Value: f.limit}, {Key: "projection", Value: f.proj}}
	if f.hint != "" {
		cmd = append(cmd, bson.E{Key: "hint", Value: f.hint})
	}
	return cmd
}

// findFilter returns the filter answering q in the collection incarnation
// key with watermark committed, and the index to hint ("" for a rooted
// $or, whose clauses the planner puts on their own indexes). ok is false
// when q can match nothing.
func findFilter(q collections.Query, key string, committed int64) (filter bson.D, hint string, ok bool) {
	// The selection: tags for first/last/all, exact versions with the
	// tags of the spec rule.
	var exact []string
	for _, t := range q.Versions.Exact {
		if checkVersion(t) == nil { // others cannot be stored
			exact = append(exact, versionKey(t))
		}
	}
	type sel int
	const (
		latest sel = iota
		first
		all
	)
	var sels []sel
	switch v := q.Versions; {
	case v.All:
		sels, exact = []sel{all}, nil
	case v.IsZero():
		sels = []sel{latest}
	default:
		if v.Last {
			sels = append(sels, latest)
		}
		if v.First {
			sels = append(sels, first)
		}
	}
	if len(sels) == 0 && len(exact) == 0 {
		return nil, "", false
	}
	var selTags, specTags []string
	everything := false // every version of every spec version
	for _, x := range sels {
		switch {
		case q.AllSpecVersions:
			switch x {
			case latest:
				selTags = append(selTags, "l")
			case first:
				selTags = append(selTags, "f")
			case all:
				everything = true
			}
		case len(q.SpecVersions) > 0:
			prefix := [...]string{latest: "l:", first: "f:", all: "s:"}[x]
			for _, sv := range q.SpecVersions {
				selTags = append(selTags, prefix+sv)
			}
		default:
			selTags = append(selTags, [...]string{latest: "L", first: "F", all: "a"}[x])
		}
	}
	switch {
	case q.AllSpecVersions:
	case len(q.SpecVersions) > 0:
		for _, sv := range q.SpecVersions {
			specTags = append(specTags, "s:"+sv)
		}
	default:
		specTags = []string{"a"}
	}

	// What every clause holds. The upper bound is the watermark, or the
	// embargo's AddedUntil when lower: date_added <= AddedUntil; for whole
	// µs: <= floor(AddedUntil).
	upper := committed
	if !q.AddedUntil.IsZero() {
		until := q.AddedUntil.UnixMicro()
		if fromMicros(until).After(q.AddedUntil) {
			until--
		}
		upper = min(upper, until)
	}
	da := bson.D{{Key: "$lte", Value: upper}}
	if !q.AddedAfter.IsZero() {
		// date_added > AddedAfter; for whole µs: > floor(AddedAfter).
		after := q.AddedAfter.UnixMicro()
		if fromMicros(after).After(q.AddedAfter) {
			after--
		}
		if after >= upper {
			return nil, "", false
		}
		da = bson.D{{Key: "$gt", Value: after}, {Key: "$lte", Value: upper}}
	}
	base := bson.D{{Key: "c", Value: key}}
	if len(q.IDs) > 0 {
		ids := make([]string, len(q.IDs))
		for i, id := range q.IDs {
			ids[i] = collections.CanonicalID(id)
		}
		base = append(base, in("id", ids))
	}
	if len(q.Types) > 0 {
		base = append(base, in("t", q.Types))
	}
	// The levels the requester sees. Every index a page reads has tlp
	// before da but objects_added and objects_id: without a ceiling those
	// two get no tlp condition, the others one range per level.
	either := len(sels) > 0 && len(exact) > 0 && !everything // a rooted $or
	tagged := !everything                                    // whether the filter holds k
	if len(sels) == 0 {
		tagged = len(specTags) > 0
	}
	tlpFree := !either && (len(q.IDs) > 0 && !tagged || len(q.IDs) == 0 && len(sels) > 0 && !tagged && len(q.Types) == 0)
	levels, ceiling := visibleLevels(q.MaxTLP)
	if ceiling || !tlpFree {
		base = append(base, inLevels(levels))
	}
	base = append(base, bson.E{Key: "da", Value: da})

	tagsClause := func() bson.D {
		if everything {
			return base
		}
		return append(clone(base), in("k", selTags))
	}
	exactClause := func() bson.D {
		d := append(clone(base), in("v", exact))
		if len(specTags) > 0 {
			d = append(d, in("k", specTags))
		}
		return d
	}
	switch {
	case len(sels) > 0 && (len(exact) == 0 || everything):
		filter = tagsClause()
	case len(sels) == 0:
		filter = exactClause()
	default:
		return bson.D{{Key: "$or", Value: bson.A{tagsClause(), exactClause()}}}, "", true
	}
	switch {
	case len(q.IDs) > 0 && tagged:
		hint = ixObjectsIDTags
	case len(q.IDs) > 0:
		hint = ixObjectsID
	case len(sels) == 0:
		hint = ixObjectsVersion
	case len(q.Types) > 0 && tagged:
		hint = ixObjectsTagsType
	case len(q.Types) > 0:
		hint = ixObjectsType
	case tagged:
		hint = ixObjectsTags
	case ceiling:
		hint = ixObjectsTLP
	default:
		hint = ixObjectsAdded
	}
	return filter, hint, true
}

// visibleLevels returns the TLP levels (as stored in objDoc.TLP) of the
// versions a requester with ceiling ceil sees, and whether that is a
// ceiling at all. No ceiling, or red, sees every level, 0 included (a
// version stored without a level); a lower ceiling sees the levels from
// clear up to it, never 0, which counts as red.
func visibleLevels(ceil stix.TLP) (levels []int32, ceiling bool) {
	if ceil == stix.TLPNone || ceil >= stix.TLPRed {
		return []int32{0, 1, 2, 3, 4, 5}, false
	}
	for l := stix.TLPClear; l <= ceil; l++ {
		levels = append(levels, int32(l))
	}
	return levels, true
}

// visibleTLP is the level at which a version stored with level l is
// visible: l itself, red for a version stored without one.
func visibleTLP(l stix.TLP) int32 {
	if l == stix.TLPNone {
		return int32(stix.TLPRed)
	}
	return int32(l)
}

// inLevels is the condition "tlp is one of levels".
func inLevels(levels []int32) bson.E {
	if len(levels) == 1 {
		return bson.E{Key: "tlp", Value: levels[0]}
	}
	return bson.E{Key: "tlp", Value: bson.D{{Key: "$in", Value: levels}}}
}

// in is the condition "field is one of vals": an equality for one value.
func in(field string, vals []string) bson.E {
	if len(vals) == 1 {
		return bson.E{Key: field, Value: vals[0]}
	}
	return bson.E{Key: field, Value: bson.D{{Key: "$in", Value: vals}}}
}

func clone(d bson.D) bson.D { return append(bson.D(nil), d...) }
