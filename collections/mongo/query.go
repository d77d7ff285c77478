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
// Without a TLP ceiling, or under red (which sees every level), the tags
// of the versions' marks (objects.go) select:
//
//	TAXII query                                filter beyond c and da          index
//	objects page (latest, top spec version)    k: "L"                          objects_tags {c,k,da}
//	manifest page (same, without raw)          k: "L"                          objects_tags
//	added_after=T                              k: "L", da > T                  objects_tags
//	match[version]=first / first,last          k: "F" / k: {$in: [L, F]}       objects_tags
//	match[version]=all                         k: "a"                          objects_tags
//	match[type]=x,y                            k: "L", t: {$in: [x, y]}        objects_tags_type {c,k,t,da}
//	object by id (latest)                      id: X, k: "L"                   objects_id_tags {c,id,k,da}
//	versions of an object                      id: X, k: "a"                   objects_id_tags
//	  match[version]=<timestamp> too           id: X, k: "a", v: {$in} (*)     objects_id_tags
//	match[id] over all spec versions, all      id: {$in}                       objects_id {c,id,da}
//	match[version]=<timestamp>                 v: {$in}, tlp: {$in: [0..5]},   objects_version_tlp {c,v,tlp,da}
//	                                           k: "a" (*)
//	match[spec_version]=2.0,2.1 (latest)       k: {$in: [l:2.0, l:2.1]}        objects_tags
//	  (first / all)                            k: {$in: [f:.. / s:..]}         objects_tags
//	all spec versions, last / first            k: "l" / "f"                    objects_tags
//	all spec versions, all versions (export)   -                               objects_added {c,da}
//	  with match[type]                         t: {$in}                        objects_type {c,t,da}
//
// Under a ceiling C below red, each tag is replaced by the ceiling tags
// that select the same under C (ceilingSelect, objects.go: "L" by every
// "L@lh" with l <= C < h, four to six values), on the same index; the
// shapes without tags select the versions visible under C by tag ("s@l5"
// with l <= C, at most four values) or, by timestamp, by level:
//
//	objects page under C                       k: {$in: [L@..]}                objects_tags
//	match[version]=first,last under C          k: {$in: [L@.., F@..]}          objects_tags
//	match[type]=x,y under C                    k: {$in: [L@..]}, t: {$in}      objects_tags_type
//	versions of an object under C              id: X, k: {$in: [a@..]}         objects_id_tags
//	match[spec_version]=2.0 (latest) under C   k: {$in: [l@..:2.0]}            objects_tags
//	all spec versions, last under C            k: {$in: [l@..]}                objects_tags
//	all spec versions, all versions under C    k: {$in: [s@15, .., s@C5]}      objects_tags
//	  with match[type] / match[id]             t: {$in} / id: {$in}            objects_tags_type / objects_id_tags
//	match[version]=<timestamp> under C         v: {$in}, tlp: {$in: [1..C]},   objects_version_tlp
//	                                           k: {$in: [a@..]} (*)
//
// A ceiling tag is on a version only when its level is at or below the
// ceilings it names, so the index ranges hold only versions the requester
// may see: a ceiling hiding most versions reads only visible keys, pages
// stay full and More exact, with no grouping at read time. (*) is checked
// on the document: it rejects only visible versions, at most one per
// object and timestamp asked for (the timestamp shapes), or the object's
// other versions of its top spec version (by id).
//
// match[version] mixing first/last with timestamps is a rooted $or of the
// two selections above (each clause with c, da and the other filters),
// which the planner answers by one index range per clause and value,
// merged in da order. Lists are at most collections.MaxQueryValues long.
// MongoDB merges the ranges of $in values in da order up to 200 ranges
// (the product of the $in lists before da, ceiling tags included); a
// query beyond that, such as 40 types under a ceiling (up to 240 ranges),
// reads its ranges and sorts them.

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
	// The tags of each selection, and those of the spec rule that exact
	// versions keep to; under a ceiling below red, the ceiling tags
	// (objects.go) that select the same under it.
	c := collections.Ceiling(q.MaxTLP)
	ceiling := c < stix.TLPRed
	var selTags, specTags []string
	everything := false // every version of every spec version, no ceiling
	for _, x := range sels {
		switch {
		case q.AllSpecVersions:
			kind := [...]string{latest: "l", first: "f", all: "s"}[x]
			switch {
			case ceiling:
				selTags = append(selTags, ceilingSelect(kind, c, "")...)
			case x == all:
				everything = true
			default:
				selTags = append(selTags, kind)
			}
		case len(q.SpecVersions) > 0:
			kind := [...]string{latest: "l", first: "f", all: "s"}[x]
			for _, sv := range q.SpecVersions {
				if ceiling {
					selTags = append(selTags, ceilingSelect(kind, c, sv)...)
				} else {
					selTags = append(selTags, kind+":"+sv)
				}
			}
		default:
			kind := [...]string{latest: "L", first: "F", all: "a"}[x]
			if ceiling {
				selTags = append(selTags, ceilingSelect(kind, c, "")...)
			} else {
				selTags = append(selTags, kind)
			}
		}
	}
	switch {
	case q.AllSpecVersions:
		if ceiling {
			specTags = ceilingSelect("s", c, "")
		}
	case len(q.SpecVersions) > 0:
		for _, sv := range q.SpecVersions {
			if ceiling {
				specTags = append(specTags, ceilingSelect("s", c, sv)...)
			} else {
				specTags = append(specTags, "s:"+sv)
			}
		}
	default:
		if ceiling {
			specTags = ceilingSelect("a", c, "")
		} else {
			specTags = []string{"a"}
		}
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
	withDA := func(d bson.D) bson.D { return append(d, bson.E{Key: "da", Value: da}) }

	tagsClause := func() bson.D {
		if everything {
			return withDA(clone(base))
		}
		return withDA(append(clone(base), in("k", selTags)))
	}
	// Exact versions by id read the id's tags; else the version index,
	// whose tlp keeps the hidden levels out of the ranges read.
	exactClause := func() bson.D {
		d := append(clone(base), in("v", exact))
		if len(q.IDs) == 0 {
			levels, _ := visibleLevels(q.MaxTLP)
			d = append(d, inLevels(levels))
		}
		if len(specTags) > 0 {
			d = append(d, in("k", specTags))
		}
		return withDA(d)
	}
	switch {
	case len(sels) > 0 && (len(exact) == 0 || everything):
		filter = tagsClause()
	case len(sels) == 0:
		filter = exactClause()
	default:
		// A rooted $or, whose clauses the planner puts on their own
		// indexes.
		return bson.D{{Key: "$or", Value: bson.A{tagsClause(), exactClause()}}}, "", true
	}
	switch {
	case len(sels) == 0 && len(q.IDs) > 0 && len(specTags) > 0:
		hint = ixObjectsIDTags
	case len(sels) == 0 && len(q.IDs) > 0:
		hint = ixObjectsID
	case len(sels) == 0:
		hint = ixObjectsVersion
	case len(q.IDs) > 0 && everything:
		hint = ixObjectsID
	case len(q.IDs) > 0:
		hint = ixObjectsIDTags
	case len(q.Types) > 0 && everything:
		hint = ixObjectsType
	case len(q.Types) > 0:
		hint = ixObjectsTagsType
	case everything:
		hint = ixObjectsAdded
	default:
		hint = ixObjectsTags
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
