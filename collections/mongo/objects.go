package mongo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Objects: one document per stored version (objDoc). Its selection tags
// (k) say which query shapes select it, so that every page is one range of
// one index in date_added order (see query.go for the shapes).

// Names of the objects indexes, for hints.
const (
	ixObjectsTags     = "objects_tags"
	ixObjectsTagsType = "objects_tags_type"
	ixObjectsIDTags   = "objects_id_tags"
	ixObjectsID       = "objects_id"
	ixObjectsVersion  = "objects_version_tlp"
	ixObjectsAdded    = "objects_added"
	ixObjectsType     = "objects_type"
)

// replacedObjectIndexes are the indexes of schema versions 1 and 2 that
// migration 3 drops: objects_version_tlp replaces objects_version.
var replacedObjectIndexes = []string{"objects_version"}

// objectIndexes serve the queries of objects.go, query.go, delete.go and
// lock.go (the heads' are in heads.go). Point lookups of one version
// (re-pushes, unmarking a version) use _id. The tag indexes are multikey
// (k is an array); date_added (da) is not, so that an equality on one tag
// and a range on da read the index in da order.
//
// A TLP ceiling is a choice of tags too (the ceiling tags, see
// ceilingTags): under a ceiling a page is an $in of the tags that select
// under it (at most six values per selection), one range each, which
// MongoDB merges in da order, and a ceiling hiding most versions reads
// only visible ones. Only match[version]=<timestamp> without match[id]
// reads the level, tlp, from its index.
var objectIndexes = append([]index{
	// Pages selected by tags alone: latest (k:"L"), first ("F"), both
	// ($in), every version of the top spec version ("a"), the spec-version
	// lists ("l:2.0", "f:2.0", "s:2.0"...), any spec version's last or first
	// ("l", "f"), and the same under a ceiling ("L@25", ...); objects and
	// manifest pages alike, added_after being the da range. Also the plain
	// objects page and manifest page, and an export under a ceiling.
	{coll: collObjects, name: ixObjectsTags, keys: bson.D{{Key: "c", Value: 1}, {Key: "k", Value: 1}, {Key: "da", Value: 1}}},
	// match[type] with any of the tag selections above.
	{coll: collObjects, name: ixObjectsTagsType, keys: bson.D{{Key: "c", Value: 1}, {Key: "k", Value: 1}, {Key: "t", Value: 1}, {Key: "da", Value: 1}}},
	// match[id] with a tag selection: an object by id (k:"L"), its versions
	// (k:"a"), its first, its versions of some spec versions, every
	// version of every spec version under a ceiling ("s@25"...).
	{coll: collObjects, name: ixObjectsIDTags, keys: bson.D{{Key: "c", Value: 1}, {Key: "id", Value: 1}, {Key: "k", Value: 1}, {Key: "da", Value: 1}}},
	// match[id] over every version of every spec version without a
	// ceiling; every version of an id for a delete, a rollback, a new top
	// spec version, or the ceiling marks of an object with versions below
	// TLP:RED.
	{coll: collObjects, name: ixObjectsID, keys: bson.D{{Key: "c", Value: 1}, {Key: "id", Value: 1}, {Key: "da", Value: 1}}},
	// match[version]=<timestamp> without match[id]: tlp before da, so that
	// a ceiling reads only the visible levels' ranges.
	{coll: collObjects, name: ixObjectsVersion, keys: bson.D{{Key: "c", Value: 1}, {Key: "v", Value: 1}, {Key: "tlp", Value: 1}, {Key: "da", Value: 1}}},
	// Every version of every spec version (an export) without a ceiling;
	// the versions above the watermark a rollback deletes; a collection's
	// deletion.
	{coll: collObjects, name: ixObjectsAdded, keys: bson.D{{Key: "c", Value: 1}, {Key: "da", Value: 1}}},
	// match[type] over every version of every spec version, without a
	// ceiling.
	{coll: collObjects, name: ixObjectsType, keys: bson.D{{Key: "c", Value: 1}, {Key: "t", Value: 1}, {Key: "da", Value: 1}}},
}, headIndexes...)

// objDoc is the document of one stored version.
type objDoc struct {
	ID          string   `bson:"_id"` // objectID(c, id, v)
	C           string   `bson:"c"`   // collection key (collDoc.Key)
	OID         string   `bson:"id"`  // canonical STIX id
	Type        string   `bson:"t"`
	SpecVersion string   `bson:"sv"`
	Version     string   `bson:"v"`  // versionKey
	DateAdded   int64    `bson:"da"` // µs, unique in the collection
	Marks       int32    `bson:"m"`  // collections.Marks
	Tags        []string `bson:"k"`  // versionTags(m, sv, tlp, ceilings)
	// TLP is collections.NewObject.TLP as pushed (0, TLPNone, only from
	// callers that set none: a ceiling below red treats it as red);
	// GranularTLP its GranularTLP. Versions stored before schema version
	// 3 got tlp 5 (red) from migration 3.
	TLP         int32  `bson:"tlp"`
	GranularTLP int32  `bson:"gtlp,omitempty"`
	Raw         []byte `bson:"raw,omitempty"`

	// ceilings are the version's marks under each TLP ceiling, as Tags
	// has them, for versions of a batch not written yet (not stored: the
	// tags are what queries read).
	ceilings collections.CeilingMarks
}

// objectID is the _id of a version: the collection incarnation key, the
// canonical id and the versionKey, so that a version is one point lookup
// and (collection, id, version) is unique.
func objectID(key, id, version string) string { return key + "\x00" + id + "\x00" + version }

// Selection tags. A version's tags follow from its marks (those of
// readers without a ceiling or under TLP:RED) and spec version:
//
//	MarkLast            "l", "l:"+sv   (last within its spec version)
//	MarkFirst           "f", "f:"+sv
//	MarkTopSpec         "a"            (any version of the top spec version)
//	MarkLast|TopSpec    "L"            (the default: latest of the top spec)
//	MarkFirst|TopSpec   "F"
//	always              "s:"+sv        (every version of a spec version)
//
// A version only ever loses marks when others are added, and losing marks
// is a $pullAll of lostTags, which needs no read of the old marks. Below
// red, the ceiling tags (ceilingTags) come on top.
func tags(m collections.Marks, sv string) []string {
	k := make([]string, 0, 8)
	if m&collections.MarkLast != 0 {
		k = append(k, "l", "l:"+sv)
	}
	if m&collections.MarkFirst != 0 {
		k = append(k, "f", "f:"+sv)
	}
	if m&collections.MarkTopSpec != 0 {
		k = append(k, "a")
		if m&collections.MarkLast != 0 {
			k = append(k, "L")
		}
		if m&collections.MarkFirst != 0 {
			k = append(k, "F")
		}
	}
	return append(k, "s:"+sv)
}

// lostTags returns the tags that the marks lost contribute to a version of
// spec version sv.
func lostTags(lost collections.Marks, sv string) []string {
	var k []string
	if lost&collections.MarkLast != 0 {
		k = append(k, "l", "l:"+sv, "L")
	}
	if lost&collections.MarkFirst != 0 {
		k = append(k, "f", "f:"+sv, "F")
	}
	if lost&collections.MarkTopSpec != 0 {
		k = append(k, "a", "L", "F")
	}
	return k
}

// Ceiling tags. Under a TLP ceiling C below red, a version's selection
// marks are those of collections.CeilingMarks: the last, the first, the
// top spec version among the versions the ceiling lets through. Each mark
// holds for one run of ceilings lo..hi-1 starting at the version's own
// level (collections.Ceilings.Span), so each is one tag naming the run,
// kind + "@" + lo + hi, with hi at most 5 (the run cut below red, which
// the plain tags serve), and ":" + sv after it for the per-spec kinds:
//
//	"L@lh"  last of the top spec version (Latest)
//	"F@lh"  first of the top spec version (Earliest)
//	"a@lh"  of the top spec version (TopSpec)
//	"l@lh"  last of its spec version, and "l@lh:"+sv
//	"f@lh"  first of its spec version, and "f@lh:"+sv
//	"s@l5"  visible at all (level <= C), and "s@l5:"+sv
//
// Only versions below red have ceiling tags, at most nine: an object whose
// versions are all red costs nothing more. A query under C selects kind K
// with k: {$in: every K@lh with l <= C < h} (ceilingSelect), at most six
// values (four for "s"), one index range each.

// ceilingTop is where a ceiling tag's run ends at most: the ceilings below
// red, clear (1) to amber+strict (4), are those a tag serves.
const ceilingTop = stix.TLPRed

// ceilingTags returns the ceiling tags of a version of spec version sv at
// level (objDoc.TLP) with ceiling marks cm; none for a version at red.
func ceilingTags(level int32, sv string, cm collections.CeilingMarks) []string {
	l := collections.VersionTLP(stix.TLP(level))
	if l >= stix.TLPRed {
		return nil
	}
	below := collections.CeilingsFrom(stix.TLPClear, ceilingTop-1)
	var k []string
	for _, x := range []struct {
		kind    string
		marks   collections.Ceilings
		perSpec bool
	}{
		{"l", cm.Last, true},
		{"f", cm.First, true},
		{"a", cm.TopSpec, false},
		{"L", cm.Latest(), false},
		{"F", cm.Earliest(), false},
		{"s", collections.CeilingsFrom(l, stix.TLPRed), true},
	} {
		lo, hi := (x.marks & below).Span()
		if lo == hi {
			continue
		}
		t := ceilingTag(x.kind, lo, hi)
		k = append(k, t)
		if x.perSpec {
			k = append(k, t+":"+sv)
		}
	}
	return k
}

// ceilingTag is the tag of kind for the ceilings lo to hi-1.
func ceilingTag(kind string, lo, hi stix.TLP) string {
	return kind + "@" + string(rune('0'+lo)) + string(rune('0'+hi))
}

// ceilingSelect returns the tags that select kind under ceiling c (clear
// to amber+strict), with ":"+sv after each when sv is not "": every run
// lo..hi-1 holding c.
func ceilingSelect(kind string, c stix.TLP, sv string) []string {
	var k []string
	for lo := stix.TLPClear; lo <= c; lo++ {
		hi := c + 1
		if kind == "s" {
			hi = ceilingTop // visibility runs up to red
		}
		for ; hi <= ceilingTop; hi++ {
			t := ceilingTag(kind, lo, hi)
			if sv != "" {
				t += ":" + sv
			}
			k = append(k, t)
		}
	}
	return k
}

// versionTags returns every tag of a version: those of its marks (tags)
// and its ceiling tags.
func versionTags(m collections.Marks, sv string, level int32, cm collections.CeilingMarks) []string {
	return append(tags(m, sv), ceilingTags(level, sv, cm)...)
}

// sameTags reports whether two tag lists hold the same tags, whatever
// their order.
func sameTags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// unmarkUpdate is the update that removes the marks lost from a version of
// spec version sv (tags and m together, in one document update).
func unmarkUpdate(lost collections.Marks, sv string) bson.D {
	return bson.D{
		{Key: "$pullAll", Value: bson.D{{Key: "k", Value: lostTags(lost, sv)}}},
		{Key: "$bit", Value: bson.D{{Key: "m", Value: bson.D{{Key: "and", Value: ^int32(lost)}}}}},
	}
}

// checkVersion refuses versions whose year breaks versionKey's fixed width
// (and so its order).
func checkVersion(t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("%w: version %s: year out of range", collections.ErrInvalid, t.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// AddObjects implements collections.Store.
//
// Under the collection's write lease (lock.go): read the heads of the
// batch's ids, plan each object with collections.PlanAdd in input order,
// insert the new versions above the visibility watermark, remove the marks
// the older versions lose, store the heads, then commit, which makes the
// whole batch visible at once. Round trips are a constant number per batch
// (a batch of more than maxInList objects takes a few more), not per
// object.
func (s *Store) AddObjects(ctx context.Context, apiRoot, collection string, objs []collections.NewObject, opts collections.AddOptions) ([]collections.AddResult, error) {
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	objs = append([]collections.NewObject(nil), objs...) // ids are made canonical below
	ids := make([]string, len(objs))
	for i := range objs {
		o := &objs[i]
		o.ID = collections.CanonicalID(o.ID)
		if strings.Contains(o.ID, "\x00") {
			return nil, fmt.Errorf("mongo: add objects: %w: id %q contains NUL", collections.ErrInvalid, o.ID)
		}
		if !o.Version.IsZero() {
			if err := checkVersion(o.Version); err != nil {
				return nil, fmt.Errorf("mongo: add %s: %w", o.ID, err)
			}
		}
		ids[i] = o.ID
	}
	c, err := s.collection(ctx, apiRoot, collection)
	if err != nil {
		return nil, storeErr("add objects", err)
	}
	if opts.Status != nil {
		// Before the lease: a status that cannot take the results stops
		// the push before anything is written.
		if err := s.beginStatus(ctx, opts.Status, len(objs)); err != nil {
			return nil, err
		}
	}
	var results []collections.AddResult
	if len(objs) > 0 {
		if results, err = s.addObjects(ctx, c, objs, ids, opts.SkipVersionRules); err != nil {
			return nil, err
		}
	} else {
		results = []collections.AddResult{}
	}
	if opts.Status != nil {
		// The objects are committed. Should this process die before the
		// status is settled, the status stays pending: the ingester's
		// recovery (PendingStatuses, FailPendings) fails its entries later,
		// and a client pushing again gets "unchanged" for these objects.
		if err := s.settleStatus(ctx, opts.Status, results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// addObjects is AddObjects under the collection's write lease.
func (s *Store) addObjects(ctx context.Context, c collDoc, objs []collections.NewObject, ids []string, skipRules bool) ([]collections.AddResult, error) {
	l, err := s.acquire(ctx, c, ids)
	if err != nil {
		return nil, err
	}
	b := &batch{s: s, key: l.coll.Key, byID: make(map[string]*objDoc), byObject: make(map[string][]*objDoc)}
	results, last, err := b.plan(ctx, l, objs, skipRules)
	if err != nil {
		l.release(ctx) // nothing written yet
		return nil, storeErr("add objects", err)
	}
	err = s.inTxn(ctx, b.write)
	if err == nil {
		err = l.commit(ctx, last)
	}
	if err != nil {
		l.abort(ctx, err)
		return nil, storeErr("add objects", err)
	}
	return results, nil
}

// batch is what one AddObjects call writes.
type batch struct {
	s     *Store
	key   string
	heads *headSet
	// stored holds versions read ahead (nil: known absent), by _id.
	stored map[string]*objDoc
	// docs are the new versions in date_added order; byID and byObject
	// index them by _id and by id.
	docs     []*objDoc
	byID     map[string]*objDoc
	byObject map[string][]*objDoc
	// unmarks are the marks stored versions lose, by _id (spec versions
	// in unmarkSpec); topUnmarks the (id, spec version) pairs whose stored
	// versions lose MarkTopSpec.
	unmarks    map[string]collections.Marks
	unmarkSpec map[string]string
	topUnmarks [][2]string
	// markings are the marking-definition ids the new versions reference,
	// each with the lowest level (visibleTLP) of those versions.
	markings map[string]int32
	// recompute lists the ids whose ceiling marks are computed from all
	// their versions (collections.AddPlan.RecomputeCeilings), once every
	// object of the batch is planned; retags are the updates of the
	// stored versions of those ids whose tags change.
	recompute   []string
	recomputing map[string]bool
	retags      []mongo.WriteModel
	// markVersions are the marking_versions documents of the new
	// versions (marking_versions.go).
	markVersions []any
}

// unmarkGroup is the stored versions that lose the same marks, in one
// spec version: one update of them all.
type unmarkGroup struct {
	lost collections.Marks
	sv   string
}

// plan decides every object in input order with collections.PlanAdd,
// later objects seeing what earlier ones added, and returns the results
// and the highest date_added handed out (0 if none).
func (b *batch) plan(ctx context.Context, l *lease, objs []collections.NewObject, skipRules bool) ([]collections.AddResult, int64, error) {
	var err error
	if b.heads, err = b.s.loadHeads(ctx, b.key, l.ids); err != nil {
		return nil, 0, err
	}
	if err := b.readAhead(ctx, objs); err != nil {
		return nil, 0, err
	}
	b.unmarks, b.unmarkSpec = make(map[string]collections.Marks), make(map[string]string)
	results := make([]collections.AddResult, len(objs))
	next, last := l.next(micros(time.Now())), int64(0)
	for i, obj := range objs {
		e, other := b.heads.lookup(obj.ID)
		p, err := collections.PlanAdd(collections.AddInput{
			Object:    obj,
			Head:      e.head,
			OtherType: other,
			DateAdded: fromMicros(next),
			SkipRules: skipRules,
			Stored:    func(v time.Time) (collections.Object, bool, error) { return b.storedVersion(ctx, obj.ID, v) },
		})
		if err != nil {
			return nil, 0, fmt.Errorf("add %s: %w", obj.ID, err)
		}
		results[i] = p.Result
		if p.Result.Outcome != collections.Added {
			continue
		}
		if err := checkVersion(p.Result.Version); err != nil {
			return nil, 0, fmt.Errorf("add %s: %w", obj.ID, err)
		}
		b.add(obj, p, next)
		b.heads.set(e, &p.Head)
		last, next = next, next+1
	}
	if err := b.ceilings(ctx); err != nil {
		return nil, 0, err
	}
	return results, last, nil
}

// ceilings computes the marks under each TLP ceiling of the objects of
// b.recompute (objects with versions below red) from all their versions:
// the stored ones, read by index without their raw JSON, and the batch's.
// The batch's new versions get their tags; the stored versions whose
// marks or tags change get an update in b.retags, which sets both: one
// per set of marks and tags, for all the versions that take it (versions
// of many objects take the same), since FerretDB reads a whole
// collection for every update.
//
// The stored versions of those ids then need no other update: the marks
// they lose at red (b.unmarks, b.topUnmarks) are among what b.retags
// sets, so those are dropped.
func (b *batch) ceilings(ctx context.Context) error {
	rt := retagger{key: b.key}
	for start := 0; start < len(b.recompute); start += maxInList {
		chunk := b.recompute[start:min(start+maxInList, len(b.recompute))]
		stored, err := b.s.storedVersions(ctx, b.key, chunk)
		if err != nil {
			return err
		}
		for _, id := range chunk {
			old := stored[id]
			for _, d := range old {
				delete(b.unmarks, d.ID)
				delete(b.unmarkSpec, d.ID)
			}
			docs := append(slices.Clone(old), b.byObject[id]...)
			vs := make([]collections.StoredVersion, len(docs))
			for i, d := range docs {
				if vs[i], err = d.storedVersion(); err != nil {
					return err
				}
			}
			// The id and created timestamp do not change marks.
			_, marks := collections.Summarize(id, time.Time{}, vs)
			cms := collections.SummarizeCeilings(vs)
			for i, d := range docs {
				k := versionTags(marks[i], d.SpecVersion, d.TLP, cms[i])
				if i >= len(old) {
					d.Marks, d.ceilings, d.Tags = int32(marks[i]), cms[i], k
					continue
				}
				if int32(marks[i]) != d.Marks || !sameTags(k, d.Tags) {
					rt.set(d.ID, marks[i], k)
				}
			}
		}
	}
	b.topUnmarks = slices.DeleteFunc(b.topUnmarks, func(u [2]string) bool { return b.recomputing[u[0]] })
	b.retags = rt.models()
	return nil
}

// retagger collects updates that set the marks and tags of versions of
// the collection incarnation key, grouped by what they set.
type retagger struct {
	key    string
	groups map[string]*retagGroup
	order  []*retagGroup
}

type retagGroup struct {
	m   collections.Marks
	k   []string
	ids []string
}

// set records that the version _id takes marks m and tags k.
func (rt *retagger) set(id string, m collections.Marks, k []string) {
	sorted := slices.Sorted(slices.Values(k))
	g := fmt.Sprint(m, sorted)
	x, ok := rt.groups[g]
	if !ok {
		if rt.groups == nil {
			rt.groups = make(map[string]*retagGroup)
		}
		x = &retagGroup{m: m, k: sorted}
		rt.groups[g] = x
		rt.order = append(rt.order, x)
	}
	x.ids = append(x.ids, id)
}

// models returns the updates: one per group and maxInList versions.
func (rt *retagger) models() []mongo.WriteModel {
	var out []mongo.WriteModel
	for _, g := range rt.order {
		for start := 0; start < len(g.ids); start += maxInList {
			out = append(out, mongo.NewUpdateManyModel().SetFilter(bson.D{{Key: "c", Value: rt.key}, {Key: "_id", Value: bson.D{
				{Key: "$in", Value: g.ids[start:min(start+maxInList, len(g.ids))]}}}}).
				SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "m", Value: int32(g.m)}, {Key: "k", Value: g.k}}}}))
		}
	}
	return out
}

// readAhead reads, in a few finds, the stored versions PlanAdd may ask
// for: those within the version range of a stored spec version of their
// id (re-pushes, mostly).
func (b *batch) readAhead(ctx context.Context, objs []collections.NewObject) error {
	b.stored = make(map[string]*objDoc)
	var want []string
	for _, o := range objs {
		e, _ := b.heads.lookup(o.ID)
		h := e.head
		if h == nil {
			continue
		}
		v := o.Version
		if v.IsZero() {
			if v = h.Unversioned; v.IsZero() {
				continue
			}
		}
		for _, r := range h.Specs {
			if !v.Before(r.First.Version) && !v.After(r.Last.Version) {
				id := objectID(b.key, o.ID, versionKey(v))
				if _, ok := b.stored[id]; !ok {
					b.stored[id] = nil
					want = append(want, id)
				}
				break
			}
		}
	}
	objects := b.s.db.Collection(collObjects)
	for start := 0; start < len(want); start += maxInList {
		chunk := want[start:min(start+maxInList, len(want))]
		cur, err := objects.Find(ctx, bson.D{{Key: "c", Value: b.key}, {Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}},
			options.Find().SetProjection(bson.D{{Key: "da", Value: 1}, {Key: "tlp", Value: 1}, {Key: "gtlp", Value: 1}, {Key: "raw", Value: 1}}))
		if err != nil {
			return err
		}
		var docs []*objDoc
		if err := cur.All(ctx, &docs); err != nil {
			return err
		}
		for _, d := range docs {
			b.stored[d.ID] = d
		}
	}
	return nil
}

// storedVersion returns the version of id at v: added earlier in the
// batch, read ahead, or else read now.
func (b *batch) storedVersion(ctx context.Context, id string, v time.Time) (collections.Object, bool, error) {
	oid := objectID(b.key, id, versionKey(v))
	d, ok := b.byID[oid]
	if !ok {
		d, ok = b.stored[oid]
	}
	if !ok {
		var doc objDoc
		err := b.s.db.Collection(collObjects).FindOne(ctx, bson.D{{Key: "c", Value: b.key}, {Key: "_id", Value: oid}},
			options.FindOne().SetProjection(bson.D{{Key: "da", Value: 1}, {Key: "tlp", Value: 1}, {Key: "gtlp", Value: 1}, {Key: "raw", Value: 1}})).Decode(&doc)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
		case err != nil:
			return collections.Object{}, false, err
		default:
			d = &doc
		}
	}
	if d == nil {
		return collections.Object{}, false, nil
	}
	return collections.Object{ID: id, Version: v.UTC(), DateAdded: fromMicros(d.DateAdded), Raw: d.Raw,
		TLP: stix.TLP(d.TLP), GranularTLP: stix.TLP(d.GranularTLP)}, true, nil
}

// add records the version p adds, at date_added da, and the marks it takes
// from others: from versions of this batch at once, from stored ones by
// the updates write sends.
func (b *batch) add(obj collections.NewObject, p collections.AddPlan, da int64) {
	v := versionKey(p.Result.Version)
	d := &objDoc{ID: objectID(b.key, obj.ID, v), C: b.key, OID: obj.ID, Type: obj.Type, SpecVersion: obj.SpecVersion,
		Version: v, DateAdded: da, Marks: int32(p.Marks), TLP: int32(obj.TLP), GranularTLP: int32(obj.GranularTLP),
		Raw: obj.Raw, ceilings: p.Ceilings}
	d.Tags = versionTags(p.Marks, obj.SpecVersion, d.TLP, p.Ceilings)
	if p.RecomputeCeilings && !b.recomputing[obj.ID] {
		if b.recomputing == nil {
			b.recomputing = make(map[string]bool)
		}
		b.recomputing[obj.ID] = true
		b.recompute = append(b.recompute, obj.ID)
	}
	if len(obj.Markings) > 0 {
		if b.markings == nil {
			b.markings = make(map[string]int32)
		}
		level := visibleTLP(obj.TLP)
		for _, m := range obj.Markings {
			if cur, ok := b.markings[m]; !ok || level < cur {
				b.markings[m] = level
			}
		}
		b.markVersions = appendMarkingVersions(b.markVersions, b.key, da, level, obj.Markings)
	}
	for _, u := range p.Unmark {
		// Unmarked versions are of the new version's spec version.
		oid := objectID(b.key, obj.ID, versionKey(u.Version))
		if x, ok := b.byID[oid]; ok {
			x.unmark(u.Marks)
			continue
		}
		b.unmarks[oid] |= u.Marks
		b.unmarkSpec[oid] = obj.SpecVersion
	}
	if p.UnmarkTopSpec != "" {
		for _, x := range b.byObject[obj.ID] {
			if x.SpecVersion == p.UnmarkTopSpec {
				x.unmark(collections.MarkTopSpec)
			}
		}
		b.topUnmarks = append(b.topUnmarks, [2]string{obj.ID, p.UnmarkTopSpec})
	}
	b.docs = append(b.docs, d)
	b.byID[d.ID] = d
	b.byObject[obj.ID] = append(b.byObject[obj.ID], d)
}

// unmark removes marks from a version not written yet. Its ceiling tags
// stay: when a version of the object is below red, ceilings computes them
// all again.
func (d *objDoc) unmark(lost collections.Marks) {
	m := collections.Marks(d.Marks) &^ lost
	d.Marks, d.Tags = int32(m), versionTags(m, d.SpecVersion, d.TLP, d.ceilings)
}

// write stores the batch: the new versions (above the watermark, so not
// visible yet), the marks stored versions lose (under each ceiling too:
// b.retags sets the final tags of the versions of objects below red), the
// heads. Stored versions only ever lose marks when versions are added,
// under every ceiling (each sees more versions or the same), so these
// writes commute: their order does not matter, a reader never sees two
// latest versions, and a rollback can recompute the marks from whatever
// part of them took effect.
func (b *batch) write(ctx context.Context) error {
	if len(b.docs) == 0 {
		return nil
	}
	docs := make([]any, len(b.docs))
	for i, d := range b.docs {
		docs[i] = d
	}
	if _, err := b.s.db.Collection(collObjects).InsertMany(ctx, docs, options.InsertMany().SetOrdered(true)); err != nil {
		return err
	}
	var models []mongo.WriteModel
	groups := make(map[unmarkGroup][]string)
	var order []unmarkGroup
	for oid, lost := range b.unmarks {
		g := unmarkGroup{lost, b.unmarkSpec[oid]}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], oid)
	}
	for _, g := range order {
		oids := groups[g]
		for start := 0; start < len(oids); start += maxInList {
			models = append(models, mongo.NewUpdateManyModel().SetFilter(bson.D{{Key: "c", Value: b.key}, {Key: "_id", Value: bson.D{
				{Key: "$in", Value: oids[start:min(start+maxInList, len(oids))]}}}}).
				SetUpdate(unmarkUpdate(g.lost, g.sv)))
		}
	}
	for _, u := range b.topUnmarks {
		// Versions of this batch that match were unmarked already; the
		// update leaves them as they are.
		models = append(models, mongo.NewUpdateManyModel().SetFilter(bson.D{{Key: "c", Value: b.key},
			{Key: "id", Value: u[0]}, {Key: "sv", Value: u[1]}}).
			SetUpdate(unmarkUpdate(collections.MarkTopSpec, u[1])))
	}
	models = append(models, b.retags...)
	if len(models) > 0 {
		if _, err := b.s.db.Collection(collObjects).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
			return err
		}
	}
	if err := b.s.writeMarkings(ctx, b.key, b.markings); err != nil {
		return err
	}
	if err := b.s.writeMarkingVersions(ctx, b.markVersions); err != nil {
		return err
	}
	return b.s.writeHeads(ctx, b.key, b.heads.dirty)
}

// inTxn runs fn in a multi-document transaction when the deployment has
// them (a replica set or sharded cluster), so that its writes take effect
// together; else directly. Correctness does not depend on it: the lease
// and the rollback (lock.go) cover servers without transactions.
func (s *Store) inTxn(ctx context.Context, fn func(ctx context.Context) error) error {
	if !s.txn {
		return fn(ctx)
	}
	sess, err := s.client.StartSession()
	if err != nil {
		return err
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) { return nil, fn(ctx) })
	return err
}

// storedVersions returns the stored versions of the ids (canonical, at most
// maxInList) of the collection incarnation key, without their raw JSON, by
// id, in date_added order.
func (s *Store) storedVersions(ctx context.Context, key string, ids []string) (map[string][]*objDoc, error) {
	filter := bson.D{{Key: "c", Value: key}, {Key: "id", Value: bson.D{{Key: "$in", Value: ids}}}}
	if len(ids) == 1 {
		filter = bson.D{{Key: "c", Value: key}, {Key: "id", Value: ids[0]}}
	}
	// Sorted here: MongoDB would merge one index range per id only up to
	// 200 ids, and sort in memory beyond.
	cur, err := s.db.Collection(collObjects).Find(ctx, filter, options.Find().
		SetProjection(bson.D{{Key: "raw", Value: 0}}).SetHint(ixObjectsID))
	if err != nil {
		return nil, err
	}
	var docs []*objDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	slices.SortFunc(docs, func(a, b *objDoc) int { return cmp.Compare(a.DateAdded, b.DateAdded) })
	out := make(map[string][]*objDoc, len(ids))
	for _, d := range docs {
		out[d.OID] = append(out[d.OID], d)
	}
	return out, nil
}

// storedVersion converts d for collections.PlanDelete and Summarize.
func (d *objDoc) storedVersion() (collections.StoredVersion, error) {
	v, err := parseVersionKey(d.Version)
	if err != nil {
		return collections.StoredVersion{}, fmt.Errorf("version of %s: %w", d.OID, err)
	}
	return collections.StoredVersion{SpecVersion: d.SpecVersion, Version: v, DateAdded: fromMicros(d.DateAdded),
		Marks: collections.Marks(d.Marks), TLP: stix.TLP(d.TLP)}, nil
}
