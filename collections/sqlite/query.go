package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Objects implements collections.Store.
//
// Every page is read from an index in date_added order and stops after
// Limit+1 rows (the extra row tells Page.More). A query that needs several
// index ranges (several types, or several version selectors) is a UNION of
// one such bounded range per branch. Queries on IDs go through the
// (coll, id, version) index and sort only those ids' versions.
func (s *Store) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	if err := q.Check(); err != nil {
		return collections.Page{}, err
	}
	coll, err := s.collection(ctx, s.r, q.APIRoot, q.Collection)
	if errors.Is(err, collections.ErrNotFound) {
		return collections.Page{}, nil
	}
	if err != nil {
		return collections.Page{}, err
	}
	// Under a ceiling below TLP:RED, pages read through the selection
	// indexes read one range per level that has versions in the page's
	// date_added bounds, found first in the same read transaction (so the
	// same snapshot): a collection whose visible versions share one level
	// is one range. Other readers read one range, without the lookup.
	var (
		levels []stix.TLP
		tx     *sql.Tx
	)
	if len(q.IDs) == 0 && byLevel(q.MaxTLP) {
		if tx, err = s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
			return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
		}
		defer tx.Rollback()
		if levels, err = s.presentLevels(ctx, tx, coll, q); err != nil {
			return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
		}
		if len(levels) == 0 {
			return collections.Page{}, nil
		}
	}
	query, args, err := buildQuery(q, coll, levels)
	if err != nil {
		return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
	}
	st, closeStmt, err := s.readStmt(ctx, query)
	if err != nil {
		return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
	}
	if closeStmt {
		defer st.Close()
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
		defer st.Close() // the transaction's copy; the prepared statement stays
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
	}
	defer rows.Close()

	page := collections.Page{Objects: make([]collections.Object, 0, min(q.Limit, 1000))}
	var (
		packed int64 // see packedCol
		meta   string
		raw    blobScanner
		dest   = []any{&packed, &meta, &raw}
	)
	if q.MetadataOnly {
		dest = dest[:2]
	}
	size := 0
	for rows.Next() {
		if len(page.Objects) == q.Limit || q.MaxBytes > 0 && size >= q.MaxBytes {
			page.More = true
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
		}
		o, err := parseMeta(meta)
		if err != nil {
			return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
		}
		o.DateAdded = time.UnixMicro(packed >> 8).UTC()
		o.TLP, o.GranularTLP = stix.TLP(packed>>4&0xf), stix.TLP(packed&0xf)
		o.Raw, raw.b = raw.b, nil
		size += len(o.Raw)
		page.Objects = append(page.Objects, o)
	}
	if err := rows.Err(); err != nil {
		return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
	}
	return page, nil
}

// levelsQuery returns which of the levels in a JSON array have versions in
// a collection with date_added in (after, until]: one seek each.
// The levels are below TLP:RED (byLevel), which the index holds.
const levelsQuery = "SELECT l.value FROM json_each(?2) AS l WHERE EXISTS (SELECT 1 FROM objects INDEXED BY objects_coll_tlp " +
	"WHERE coll = ?1 AND tlp < 5 AND tlp = l.value AND date_added > ?3 AND date_added <= ?4) ORDER BY l.value"

// byLevel tells whether pages under a ceiling are read level by level,
// from the selection indexes holding tlp (migration 0009: "_tlp", versions
// below TLP:RED only), with the marks under the ceiling (ceilingCond).
// Without a ceiling or under TLP:RED a reader sees every level (but 0,
// which ingest never stores): one range of the indexes without tlp, as
// fast as before levels existed.
func byLevel(ceiling stix.TLP) bool {
	return ceiling != stix.TLPNone && ceiling < stix.TLPRed
}

// presentLevels returns the levels visible to q that have versions within
// its date_added bounds, in the transaction tx.
func (s *Store) presentLevels(ctx context.Context, tx *sql.Tx, coll int64, q collections.Query) ([]stix.TLP, error) {
	var nums []int64 // not []stix.TLP, which marshals as names
	for _, l := range visibleLevels(q.MaxTLP) {
		nums = append(nums, int64(l))
	}
	arr, _ := json.Marshal(nums) // numbers always marshal
	after, until := afterBound(q.AddedAfter), int64(math.MaxInt64)
	if !q.AddedUntil.IsZero() {
		until = q.AddedUntil.UnixMicro()
	}
	st, closeStmt, err := s.readStmt(ctx, levelsQuery)
	if err != nil {
		return nil, err
	}
	if closeStmt {
		defer st.Close()
	}
	tst := tx.StmtContext(ctx, st)
	defer tst.Close()
	rows, err := tst.QueryContext(ctx, coll, string(arr), after, until)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stix.TLP
	for rows.Next() {
		var l int64
		if err := rows.Scan(&l); err != nil {
			return nil, err
		}
		out = append(out, stix.TLP(l))
	}
	return out, rows.Err()
}

// visibleLevels are the levels a ceiling shows: without one every level,
// 0 included (a version stored without a level, which no ceiling shows).
func visibleLevels(ceiling stix.TLP) []stix.TLP {
	lo, hi := stix.TLPNone, stix.TLPRed
	if ceiling != stix.TLPNone {
		lo, hi = stix.TLPClear, ceiling
	}
	var ls []stix.TLP
	for l := lo; l <= hi; l++ {
		ls = append(ls, l)
	}
	return ls
}

// afterBound is the date_added bound of AddedAfter: date_added > it.
func afterBound(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	// date_added > t, for integer date_added: > floor(µs).
	after := t.UnixMicro()
	if time.UnixMicro(after).After(t) {
		after--
	}
	return after
}

// packedCol reads date_added, tlp and granular_tlp as one value (levels
// are below 16; date_added, in µs, far below 2^55; in SQL, << and | bind
// alike, left to right): the driver costs about as much per column as
// SQLite per row.
const packedCol = "((date_added << 8) | (tlp << 4) | granular_tlp)"

// metaSep separates the fields of objects.meta; AddObjects refuses it in
// them.
const metaSep = "\x1f"

// packMeta returns objects.meta: an object's text metadata in one value, so
// that a page reads one column rather than four (the driver costs about as
// much per column as SQLite per row). The version comes first (fixed width),
// then spec_version, type and id separated by metaSep.
func packMeta(version, spec, typ, id string) string {
	return version + spec + metaSep + typ + metaSep + id
}

// parseMeta unpacks objects.meta into an Object. The strings share meta's
// memory: one allocation per row instead of four.
func parseMeta(meta string) (collections.Object, error) {
	var o collections.Object
	if len(meta) < len(versionLayout) {
		return o, fmt.Errorf("malformed metadata %q", meta)
	}
	v, err := parseVersion(meta[:len(versionLayout)])
	if err != nil {
		return o, err
	}
	spec, rest, ok1 := strings.Cut(meta[len(versionLayout):], metaSep)
	typ, id, ok2 := strings.Cut(rest, metaSep)
	if !ok1 || !ok2 {
		return o, fmt.Errorf("malformed metadata %q", meta)
	}
	return collections.Object{ID: id, Type: typ, SpecVersion: spec, Version: v}, nil
}

// blobScanner keeps the []byte the driver hands to Scan instead of copying
// it. database/sql allows drivers to reuse that memory, but
// modernc.org/sqlite allocates a fresh slice for every BLOB value it
// returns; keeping it saves a copy and an allocation per object, a good
// part of a page's cost. The storetest suite's raw round trip, which
// compares a whole page after reading it, catches a driver that changes.
type blobScanner struct{ b []byte }

// Scan implements sql.Scanner.
func (s *blobScanner) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		s.b = v[:len(v):len(v)]
	case nil:
		s.b = nil
	default:
		return fmt.Errorf("raw is %T, want []byte", src)
	}
	return nil
}

// selector is one match[version] value other than timestamps.
type selector int

const (
	selLatest selector = iota
	selFirst
	selAll
)

// specMode is how a query selects spec versions.
type specMode int

const (
	specTop  specMode = iota // each object's highest (the default)
	specList                 // those named in Query.SpecVersions
	specAny                  // every spec version (Query.AllSpecVersions)
)

// queryBuilder accumulates SQL text and its arguments, which are numbered
// (?N) so that the same value can be used by many branches.
type queryBuilder struct {
	b    strings.Builder
	args []any
}

func (qb *queryBuilder) sql(s ...string) {
	for _, x := range s {
		qb.b.WriteString(x)
	}
}

// arg adds an argument and returns its placeholder.
func (qb *queryBuilder) arg(v any) string {
	qb.args = append(qb.args, v)
	return "?" + strconv.Itoa(len(qb.args))
}

// list returns the condition "col matches one of vals": a short list as
// arguments, a longer one as one JSON array argument, so that any length
// takes few SQL variables.
func (qb *queryBuilder) list(col string, vals []string) string {
	if len(vals) == 1 {
		return col + " = " + qb.arg(vals[0])
	}
	if len(vals) <= shortList {
		ps := make([]string, len(vals))
		for i, v := range vals {
			ps[i] = qb.arg(v)
		}
		return col + " IN (" + strings.Join(ps, ", ") + ")"
	}
	arr, _ := json.Marshal(vals) // strings always marshal
	return col + " IN (SELECT value FROM json_each(" + qb.arg(string(arr)) + "))"
}

// shortList is the longest list list binds value by value.
const shortList = 16

// branch is one index range of a query: the rows of one index that match
// its conditions, in date_added order.
type branch struct {
	index string
	conds []string
}

// maxCompound is how many SELECTs one UNION chains (SQLite allows 500).
const maxCompound = 400

// buildQuery returns the SQL and arguments answering q in collection coll.
//
// Every page is read from index ranges in date_added order, each stopping
// after Limit+1 rows. Several ranges (types, version selectors, exact
// versions, spec versions) are a UNION of bounded branches; the lists that
// do not pick the range are filters inside each branch, bound as one JSON
// argument, so that the branches number at most the exact versions plus
// twice the longer of types and spec versions, and the SQL variables a few
// per branch, within SQLite's limits for any query Query.Check accepts.
// Queries on IDs go through the (coll, id, version) index and sort only
// those ids' versions.
//
// present are the levels whose ranges are read under a ceiling below
// TLP:RED (nil: every level visible under it); other readers read one
// range whatever the levels.
func buildQuery(q collections.Query, coll int64, present []stix.TLP) (string, []any, error) {
	exact := make([]string, len(q.Versions.Exact))
	for i, t := range q.Versions.Exact {
		v, err := formatVersion(t)
		if err != nil {
			return "", nil, err
		}
		exact[i] = v
	}
	var sels []selector
	switch v := q.Versions; {
	case v.All:
		sels = []selector{selAll}
		exact = nil
	case v.IsZero():
		sels = []selector{selLatest}
	default:
		if v.Last {
			sels = append(sels, selLatest)
		}
		if v.First {
			sels = append(sels, selFirst)
		}
	}
	mode := specTop
	switch {
	case q.AllSpecVersions:
		mode = specAny
	case len(q.SpecVersions) > 0:
		mode = specList
	}
	after := afterBound(q.AddedAfter)
	cols := packedCol + ", meta, raw"
	if q.MetadataOnly {
		cols = packedCol + ", meta"
	}

	qb := &queryBuilder{}
	pColl, pAfter, pLimit := qb.arg(coll), qb.arg(after), qb.arg(q.Limit+1)
	// The bounds of sharing conditions. The embargo is an upper bound on
	// date_added; a TLP ceiling below TLP:RED picks which levels exist for
	// the query: each selection index range is read once per visible level
	// from the "_tlp" indexes (tlp follows the range's key) and the ranges
	// are merged in date_added order, so that hidden versions are never
	// read and pages stay full. There the selectors test the version's
	// marks under the ceiling (objects.ceilings, a column of those
	// indexes, so an entry rejected costs no row read), not flags: a
	// version above the ceiling does not exist for the requester, so the
	// latest, first and top spec version are those of the versions it
	// sees. Without a ceiling, or under TLP:RED, one range of the indexes
	// without tlp is read as before levels existed, with flags; TLP:RED
	// hides only level 0 (a version stored without a level, which ingest
	// never stores), filtered there.
	// upper is the embargo's bound, for every branch; levelFilter keeps
	// the visible levels in ranges that are not read level by level (ids,
	// exact versions: few rows; TLP:RED).
	var upper, levelFilter string
	if !q.AddedUntil.IsZero() {
		upper = "date_added <= " + qb.arg(q.AddedUntil.UnixMicro())
	}
	if q.MaxTLP != stix.TLPNone {
		lo, hi := stix.TLPClear, q.MaxTLP
		levelFilter = "tlp BETWEEN " + qb.arg(int64(lo)) + " AND " + qb.arg(int64(hi))
	}
	split := byLevel(q.MaxTLP)
	var levels []string
	if split {
		if present == nil {
			present = visibleLevels(q.MaxTLP)
		}
		for _, l := range present {
			levels = append(levels, qb.arg(int64(l)))
		}
	}
	// The selection tests: the flags (the marks under TLP:RED) without a
	// ceiling or under TLP:RED, else the marks under the ceiling.
	selCond := func(sel selector) string {
		if split {
			return ceilingCond(qb, sel, mode, q.MaxTLP)
		}
		return selectorCond(sel, mode)
	}
	topSpec := func() string {
		if split {
			return ceilingTest(qb, topSpecCeilings(q.MaxTLP))
		}
		return "flags & 4 = 4"
	}
	typeFilter := func() string { return qb.list("type", q.Types) }
	specFilter := func() string { return qb.list("spec_version", q.SpecVersions) }

	if len(q.IDs) > 0 {
		ids := make([]string, len(q.IDs))
		for i, id := range q.IDs {
			ids[i] = idKey(id)
		}
		// Few rows: every version of the named ids. Select them by id and
		// sort them; the selectors are plain filters here.
		conds := []string{qb.list("id", ids)}
		if len(q.Types) > 0 {
			conds = append(conds, typeFilter())
		}
		var spec string
		switch mode {
		case specTop:
			spec = topSpec()
		case specList:
			spec = specFilter()
		}
		var alts []string
		for _, sel := range sels {
			c := selCond(sel)
			if c == "" {
				c = "1" // every version
			}
			alts = append(alts, c)
		}
		if len(exact) > 0 {
			alts = append(alts, qb.list("version", exact))
		}
		sel := "(" + strings.Join(alts, " OR ") + ")"
		if spec != "" {
			sel = spec + " AND " + sel
		}
		conds = append(conds, sel)
		for _, c := range []string{upper, levelFilter} {
			if c != "" {
				conds = append(conds, c)
			}
		}
		qb.sql("SELECT ", cols, " FROM objects INDEXED BY objects_id WHERE coll = ", pColl, " AND ",
			strings.Join(conds, " AND "), " AND date_added > ", pAfter, " ORDER BY date_added LIMIT ", pLimit)
		return qb.b.String(), qb.args, nil
	}

	var branches []branch
	add := func(index string, conds ...string) {
		var cs []string
		for _, c := range conds {
			if c != "" {
				cs = append(cs, c)
			}
		}
		branches = append(branches, branch{index, cs})
	}
	// Exact versions: one range of (coll, version) each; rows sharing a
	// version are few.
	if len(exact) > 0 {
		var tf, sf string
		if len(q.Types) > 0 {
			tf = typeFilter()
		}
		switch mode {
		case specTop:
			sf = topSpec()
		case specList:
			sf = specFilter()
		}
		for _, v := range exact {
			add("objects_version", "version = "+qb.arg(v), tf, sf, levelFilter)
		}
	}
	for _, sel := range sels {
		switch {
		case mode == specTop && len(q.Types) == 0:
			add(map[selector]string{selLatest: "objects_latest", selFirst: "objects_first", selAll: "objects_coll"}[sel],
				selCond(sel))
		case mode == specTop:
			index := "objects_type"
			if sel == selLatest {
				index = "objects_latest_type"
			}
			for _, t := range q.Types {
				add(index, "type = "+qb.arg(t), selCond(sel))
			}
		case mode == specList && (len(q.Types) == 0 || len(q.SpecVersions) <= len(q.Types)):
			var tf string
			if len(q.Types) > 0 {
				tf = typeFilter()
			}
			for _, sv := range q.SpecVersions {
				add("objects_spec", "spec_version = "+qb.arg(sv), tf, selCond(sel))
			}
		case mode == specList:
			sf := specFilter()
			for _, t := range q.Types {
				add("objects_type", "type = "+qb.arg(t), sf, selCond(sel))
			}
		case len(q.Types) == 0: // specAny
			add("objects_coll", selCond(sel))
		default:
			for _, t := range q.Types {
				add("objects_type", "type = "+qb.arg(t), selCond(sel))
			}
		}
	}

	if split {
		// Every selection index range, once per visible level.
		var bs []branch
		for _, b := range branches {
			if b.index == "objects_version" {
				bs = append(bs, b)
				continue
			}
			for _, l := range levels {
				bs = append(bs, branch{b.index + "_tlp", append(slices.Clip(b.conds), partialTerm[b.index], "tlp = "+l)})
			}
		}
		branches = bs
	} else if levelFilter != "" {
		// TLP:RED: every level but 0, filtered in the one range.
		for i, b := range branches {
			if b.index != "objects_version" {
				branches[i].conds = append(slices.Clip(b.conds), levelFilter)
			}
		}
	}
	where := func(b branch) string {
		s := "INDEXED BY " + b.index + " WHERE coll = " + pColl
		if upper != "" {
			s += " AND " + upper
		}
		for _, c := range b.conds {
			s += " AND " + c
		}
		return s + " AND date_added > " + pAfter + " ORDER BY date_added LIMIT " + pLimit
	}
	if len(branches) == 1 {
		qb.sql("SELECT ", cols, " FROM objects ", where(branches[0]))
		return qb.b.String(), qb.args, nil
	}
	// UNION of bounded branches (deduplicating rows that two selectors
	// match), then the first limit of them, read back by rowid. Beyond
	// maxCompound branches, UNIONs of UNIONs.
	union := func(bs []branch) string {
		var u strings.Builder
		for i, b := range bs {
			if i > 0 {
				u.WriteString(" UNION ")
			}
			u.WriteString("SELECT date_added FROM (SELECT date_added FROM objects " + where(b) + ")")
		}
		return u.String()
	}
	inner := union(branches)
	if len(branches) > maxCompound {
		var groups []string
		for start := 0; start < len(branches); start += maxCompound {
			g := union(branches[start:min(start+maxCompound, len(branches))])
			groups = append(groups, "SELECT date_added FROM ("+g+" ORDER BY 1 LIMIT "+pLimit+")")
		}
		inner = strings.Join(groups, " UNION ")
	}
	qb.sql("SELECT ", cols, " FROM objects WHERE date_added IN (", inner, " ORDER BY 1 LIMIT ", pLimit, ") ORDER BY date_added")
	return qb.b.String(), qb.args, nil
}

// selectorCond is the flag test of a selector. Under the default spec rule
// it includes the top-spec bit, in the very form of the partial indexes'
// conditions ("flags & 5 = 5"): SQLite uses a partial index only for a
// query with the same term.
func selectorCond(sel selector, mode specMode) string {
	if mode == specTop {
		return map[selector]string{selLatest: "flags & 5 = 5", selFirst: "flags & 6 = 6", selAll: "flags & 4 = 4"}[sel]
	}
	return map[selector]string{selLatest: "flags & 1 = 1", selFirst: "flags & 2 = 2", selAll: ""}[sel]
}
