package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// Objects implements collections.Store.
//
// Every page is read from an index in date_added order and stops after
// Limit+1 rows (the extra row tells Page.More). A query that needs several
// index ranges (several types, or several version selectors) is a UNION of
// one such bounded range per branch. Queries on IDs go through the
// (coll, id, version) index and sort only those ids' versions.
func (s *Store) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	if q.Limit < 1 {
		return collections.Page{}, fmt.Errorf("sqlite: objects: limit %d, want at least 1", q.Limit)
	}
	coll, err := s.collection(ctx, s.r, q.APIRoot, q.Collection)
	if errors.Is(err, collections.ErrNotFound) {
		return collections.Page{}, nil
	}
	if err != nil {
		return collections.Page{}, err
	}
	query, args, err := buildQuery(q, coll)
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
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
	}
	defer rows.Close()

	page := collections.Page{Objects: make([]collections.Object, 0, min(q.Limit, 1000))}
	var (
		added int64
		meta  string
		raw   blobScanner
		dest  = []any{&added, &meta, &raw}
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
		o.DateAdded = time.UnixMicro(added).UTC()
		o.Raw, raw.b = raw.b, nil
		size += len(o.Raw)
		page.Objects = append(page.Objects, o)
	}
	if err := rows.Err(); err != nil {
		return collections.Page{}, fmt.Errorf("sqlite: objects: %w", err)
	}
	return page, nil
}

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

// selector is one match[version] value, as a condition on objects.
type selector int

const (
	selLatest selector = iota
	selFirst
	selAll
	selExact
)

// queryBuilder accumulates SQL text and its arguments.
type queryBuilder struct {
	b    strings.Builder
	args []any
}

func (qb *queryBuilder) sql(s ...string) {
	for _, x := range s {
		qb.b.WriteString(x)
	}
}

// in writes "col IN (?, ...)" with vals as arguments.
func (qb *queryBuilder) in(col string, vals []string) {
	qb.sql(col, " IN (")
	for i, v := range vals {
		if i > 0 {
			qb.sql(", ")
		}
		qb.sql("?")
		qb.args = append(qb.args, v)
	}
	qb.sql(")")
}

// buildQuery returns the SQL and arguments answering q in collection coll.
func buildQuery(q collections.Query, coll int64) (string, []any, error) {
	var sels []selector
	switch v := q.Versions; {
	case v.All:
		sels = []selector{selAll}
	default:
		if v.Last || v.IsZero() {
			sels = append(sels, selLatest)
		}
		if v.First {
			sels = append(sels, selFirst)
		}
		if len(v.Exact) > 0 {
			sels = append(sels, selExact)
		}
	}
	exact := make([]string, len(q.Versions.Exact))
	for i, t := range q.Versions.Exact {
		v, err := formatVersion(t)
		if err != nil {
			return "", nil, err
		}
		exact[i] = v
	}
	after := int64(math.MinInt64)
	if !q.AddedAfter.IsZero() {
		// date_added > AddedAfter, for integer date_added: > floor(µs).
		after = q.AddedAfter.UnixMicro()
		if time.UnixMicro(after).After(q.AddedAfter) {
			after--
		}
	}
	cols := "date_added, meta, raw"
	if q.MetadataOnly {
		cols = "date_added, meta"
	}
	limit := q.Limit + 1

	qb := &queryBuilder{}
	if len(q.IDs) > 0 {
		// Few rows: every version of the named ids. Select them by id and
		// sort them; the selectors are plain filters here.
		qb.sql("SELECT ", cols, " FROM objects INDEXED BY objects_id WHERE coll = ? AND ")
		qb.args = append(qb.args, coll)
		qb.in("id", q.IDs)
		if len(q.Types) > 0 {
			qb.sql(" AND ")
			qb.in("type", q.Types)
		}
		qb.sql(" AND (")
		for i, sel := range sels {
			if i > 0 {
				qb.sql(" OR ")
			}
			qb.sql("(")
			qb.selector(sel, q.SpecVersions, exact)
			qb.sql(")")
		}
		qb.sql(") AND date_added > ? ORDER BY date_added LIMIT ?")
		qb.args = append(qb.args, after, limit)
		return qb.b.String(), qb.args, nil
	}

	types := q.Types
	if len(types) == 0 {
		types = []string{""} // one branch, any type
	}
	// One branch per selector, and per timestamp for exact versions, each
	// read from its own index range.
	// One branch per selector, per timestamp of exact versions and per
	// requested spec version, each read from its own index range.
	type arm struct {
		sel          selector
		specs, exact []string
	}
	specs := [][]string{nil} // nil: each id's highest spec version
	if len(q.SpecVersions) > 0 {
		specs = specs[:0]
		for i := range q.SpecVersions {
			specs = append(specs, q.SpecVersions[i:i+1])
		}
	}
	var arms []arm
	for _, spec := range specs {
		for _, sel := range sels {
			if sel != selExact {
				arms = append(arms, arm{sel, spec, nil})
				continue
			}
			for i := range exact {
				arms = append(arms, arm{selExact, spec, exact[i : i+1]})
			}
		}
	}
	if len(types) == 1 && len(arms) == 1 {
		qb.sql("SELECT ", cols, " FROM objects ")
		qb.branch(coll, types[0], arms[0].sel, arms[0].specs, arms[0].exact, after, limit)
		return qb.b.String(), qb.args, nil
	}
	// UNION of bounded branches (deduplicating rows that two selectors
	// match), then the first limit of them, read back by rowid.
	qb.sql("SELECT ", cols, " FROM objects WHERE date_added IN (")
	n := 0
	for _, typ := range types {
		for _, a := range arms {
			if n > 0 {
				qb.sql(" UNION ")
			}
			n++
			qb.sql("SELECT date_added FROM (SELECT date_added FROM objects ")
			qb.branch(coll, typ, a.sel, a.specs, a.exact, after, limit)
			qb.sql(")")
		}
	}
	qb.sql(" ORDER BY 1 LIMIT ?) ORDER BY date_added")
	qb.args = append(qb.args, limit)
	return qb.b.String(), qb.args, nil
}

// branch writes "INDEXED BY ... WHERE ... ORDER BY date_added LIMIT ?" for
// one type ("" for any), one selector and at most one spec version and one
// exact version, naming the index that answers it in date_added order.
func (qb *queryBuilder) branch(coll int64, typ string, sel selector, specs, exact []string, after int64, limit int) {
	top := len(specs) == 0
	index := "objects_coll"
	switch {
	case sel == selExact:
		index = "objects_version" // exact holds one timestamp
	case !top:
		index = "objects_spec" // specs holds one spec version
	case sel == selLatest && top && typ != "":
		index = "objects_latest_type"
	case sel == selLatest && top:
		index = "objects_latest"
	case sel == selFirst && top && typ == "":
		index = "objects_first"
	case typ != "":
		index = "objects_type"
	}
	qb.sql("INDEXED BY ", index, " WHERE coll = ? AND ")
	qb.args = append(qb.args, coll)
	if typ != "" {
		qb.sql("type = ? AND ")
		qb.args = append(qb.args, typ)
	}
	qb.selector(sel, specs, exact)
	qb.sql(" AND date_added > ? ORDER BY date_added LIMIT ?")
	qb.args = append(qb.args, after, limit)
}

// selector writes the condition of one version selector combined with the
// spec version selection (specs; empty: the id's highest spec version).
// The flag tests are literals so that they match the partial indexes.
func (qb *queryBuilder) selector(sel selector, specs, exact []string) {
	if len(specs) == 0 {
		switch sel {
		case selLatest:
			qb.sql("flags & 5 = 5")
		case selFirst:
			qb.sql("flags & 6 = 6")
		case selAll:
			qb.sql("flags & 4 = 4")
		case selExact:
			qb.sql("flags & 4 = 4 AND ")
			qb.in("version", exact)
		}
		return
	}
	qb.in("spec_version", specs)
	switch sel {
	case selLatest:
		qb.sql(" AND flags & 1 = 1")
	case selFirst:
		qb.sql(" AND flags & 2 = 2")
	case selExact:
		qb.sql(" AND ")
		qb.in("version", exact)
	}
}
