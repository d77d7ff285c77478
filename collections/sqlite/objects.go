package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// writeStmts are the statements of the write path, prepared once on the
// write connection and bound to each transaction with Tx.StmtContext, which
// reuses the connection's prepared statement.
type writeStmts struct {
	known, heads, head, singles         *sql.Stmt
	putHead                             *sql.Stmt
	delHead                             *sql.Stmt
	stored, lastAdded, versions         *sql.Stmt
	insert, unmark, unmarkTop, setFlags *sql.Stmt
	setCeilings, unmarkCeilings         *sql.Stmt
	delete, settleKeep, settleSet       *sql.Stmt
	markAdd, markDel, markPrune         *sql.Stmt
	markVersion, unmarkVersion          *sql.Stmt
	all                                 []*sql.Stmt
}

const (
	// headsQuery returns the heads of the UUIDs in a JSON array: of the ids
	// added, and of the same UUIDs under other types.
	headsQuery = "SELECT uuid, type, summary FROM heads WHERE coll = ? AND uuid IN (SELECT value FROM json_each(?))"
	headQuery  = "SELECT summary FROM heads WHERE coll = ? AND uuid = ? AND type = ?"
	// knownQuery returns which of the UUIDs in a JSON array have versions
	// stored: most added objects are new, and need nothing more.
	knownQuery = "SELECT u.value FROM json_each(?2) AS u WHERE EXISTS (SELECT 1 FROM objects AS o INDEXED BY objects_id " +
		"WHERE o.coll = ?1 AND o.id >= u.value || '--' AND o.id < u.value || '-.')"
	// singlesQuery returns the versions stored under the UUIDs in a JSON
	// array, for UUIDs without heads: at most one each. CROSS JOIN keeps
	// the UUIDs the outer loop (one index range each).
	singlesQuery = "SELECT o.id, o.spec_version, o.version, o.date_added, o.flags, o.tlp FROM json_each(?2) AS u " +
		"CROSS JOIN objects AS o INDEXED BY objects_id WHERE o.coll = ?1 AND o.id >= u.value || '--' AND o.id < u.value || '-.'"
	storedQuery = "SELECT date_added, raw FROM objects INDEXED BY objects_id WHERE coll = ? AND id = ? AND version = ?"
	// In version order, the index's: an add that recomputes ceiling
	// marks reads it, and sorting even a few rows costs about as much as
	// reading them. INDEXED BY: else the planner may walk objects_coll.
	versionsQuery  = "SELECT date_added, spec_version, version, flags, tlp, ceilings FROM objects INDEXED BY objects_id WHERE coll = ? AND id = ? ORDER BY version"
	unmarkTopQuery = "UPDATE objects INDEXED BY objects_id SET flags = flags & ~4 WHERE coll = ? AND id = ? AND spec_version = ? AND flags & 4 = 4"
)

func (ws *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&ws.known, knownQuery},
		{&ws.heads, headsQuery},
		{&ws.head, headQuery},
		{&ws.singles, singlesQuery},
		{&ws.putHead, "INSERT INTO heads (coll, uuid, type, summary) VALUES (?, ?, ?, ?) ON CONFLICT (coll, uuid, type) DO UPDATE SET summary = excluded.summary"},
		{&ws.delHead, "DELETE FROM heads WHERE coll = ? AND uuid = ? AND type = ?"},
		{&ws.stored, storedQuery},
		{&ws.lastAdded, "SELECT MAX(date_added) FROM objects"},
		{&ws.versions, versionsQuery},
		{&ws.insert, "INSERT INTO objects (date_added, coll, id, type, spec_version, version, flags, meta, tlp, granular_tlp, ceilings, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
		{&ws.unmark, "UPDATE objects SET flags = flags & ~? WHERE date_added = ?"},
		{&ws.unmarkTop, unmarkTopQuery},
		{&ws.setFlags, "UPDATE objects SET flags = ? WHERE date_added = ?"},
		{&ws.setCeilings, "UPDATE objects SET ceilings = ? WHERE date_added = ?"},
		{&ws.unmarkCeilings, "UPDATE objects SET flags = flags & ~?, ceilings = ? WHERE date_added = ?"},
		// The markings of a deleted version are read from it, to count
		// them out of the collection's.
		{&ws.delete, "DELETE FROM objects WHERE date_added = ? RETURNING tlp, raw"},
		{&ws.markAdd, "INSERT INTO markings (coll, marking, tlp, n) VALUES (?, ?, ?, ?) ON CONFLICT (coll, marking, tlp) DO UPDATE SET n = n + excluded.n"},
		{&ws.markDel, "UPDATE markings SET n = n - 1 WHERE coll = ? AND marking = ? AND tlp = ?"},
		{&ws.markPrune, "DELETE FROM markings WHERE coll = ? AND n <= 0"},
		// Which versions, by level and date_added, reference each
		// marking: what Markings probes under an embargo bound.
		{&ws.markVersion, "INSERT OR IGNORE INTO marking_versions (coll, marking, tlp, date_added) VALUES (?, ?, ?, ?)"},
		{&ws.unmarkVersion, "DELETE FROM marking_versions WHERE coll = ? AND marking = ? AND tlp = ? AND date_added = ?"},
		{&ws.settleKeep, "UPDATE status_entries SET state = ?, version = ? WHERE skey = ? AND seq = ?"},
		{&ws.settleSet, "UPDATE status_entries SET state = ?, version = ?, message = ? WHERE skey = ? AND seq = ?"},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.st = st
		ws.all = append(ws.all, st)
	}
	return nil
}

func (ws *writeStmts) close() error {
	var errs []error
	for _, st := range ws.all {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// objectTx is the object write path within one transaction.
type objectTx struct {
	ctx   context.Context
	tx    *sql.Tx
	ws    *writeStmts
	coll  int64
	bound map[*sql.Stmt]*sql.Stmt
	// marked counts the versions added per marking and level, written
	// to markings once per batch (storeMarkings).
	marked map[markingLevel]int64
}

// markingLevel is one row of the markings table of the collection.
type markingLevel struct {
	marking string
	tlp     stix.TLP
}

func (s *Store) objectTx(ctx context.Context, tx *sql.Tx, coll int64) *objectTx {
	// The statements run without ctx's cancellation: with a cancellable
	// context the driver starts a watcher goroutine per statement, which
	// costs more than the statement. Callers check ctx between objects,
	// and BeginTx's context still aborts the transaction.
	return &objectTx{ctx: context.WithoutCancel(ctx), tx: tx, ws: &s.ws, coll: coll, bound: make(map[*sql.Stmt]*sql.Stmt)}
}

// stmt binds a prepared statement to the transaction, once.
func (o *objectTx) stmt(st *sql.Stmt) *sql.Stmt {
	b, ok := o.bound[st]
	if !ok {
		b = o.tx.StmtContext(o.ctx, st)
		o.bound[st] = b
	}
	return b
}

// idKey is how objects.id holds an id: UUID first, "<uuid>--<type>", so
// that the versions of every type of one UUID are neighbours in objects_id
// and one index range finds them all.
func idKey(id string) string {
	typ, u := collections.SplitID(id)
	return u + "--" + typ
}

// headSet holds the heads of one transaction's objects by UUID, as loaded
// and as changed.
//
// A UUID has rows in heads once it has had two versions or more (of any
// types); until then its one version, if any, is its own summary. Most
// objects have one version: they cost no head row.
type headSet struct {
	byUUID map[string]*uuidHeads
	dirty  []*headEntry
}

type uuidHeads struct {
	rows     bool // heads rows exist (or are being written) for this UUID
	versions int  // without rows: versions stored under the UUID (0 or 1)
	entries  []*headEntry
}

type headEntry struct {
	typ, uuid string
	head      *collections.Head // nil: no version
	dirty     bool
	// noCreated: head was made from the object's one version, whose created
	// is not read yet.
	noCreated bool
}

// loadHeads reads the heads of every UUID among ids (canonical): their
// heads rows, and for UUIDs without, their one version.
func (o *objectTx) loadHeads(ids []string) (*headSet, error) {
	hs := &headSet{byUUID: make(map[string]*uuidHeads, len(ids))}
	uuids := make([]string, 0, len(ids))
	for _, id := range ids {
		_, u := collections.SplitID(id)
		if _, ok := hs.byUUID[u]; !ok {
			hs.byUUID[u] = &uuidHeads{}
			uuids = append(uuids, u)
		}
	}
	arg, err := json.Marshal(uuids)
	if err != nil {
		return nil, err
	}
	if uuids, err = o.known(string(arg)); err != nil || len(uuids) == 0 {
		return hs, err
	}
	if arg, err = json.Marshal(uuids); err != nil {
		return nil, err
	}
	if err := o.scanHeads(hs, string(arg)); err != nil {
		return nil, err
	}
	rest := uuids[:0]
	for _, u := range uuids {
		if !hs.byUUID[u].rows {
			rest = append(rest, u)
		}
	}
	if len(rest) == 0 {
		return hs, nil
	}
	if arg, err = json.Marshal(rest); err != nil {
		return nil, err
	}
	rows, err := o.stmt(o.ws.singles).QueryContext(o.ctx, o.coll, string(arg))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key, ver         string
			added, flag, tlp int64
			v                collections.StoredVersion
		)
		if err := rows.Scan(&key, &v.SpecVersion, &ver, &added, &flag, &tlp); err != nil {
			return nil, err
		}
		if v.Version, err = parseVersion(ver); err != nil {
			return nil, err
		}
		v.DateAdded, v.Marks, v.TLP = time.UnixMicro(added).UTC(), collections.Marks(flag), stix.TLP(tlp)
		u, typ, _ := strings.Cut(key, "--")
		id := typ + "--" + u
		if typ == "" {
			id = u
		}
		h, _ := collections.Summarize(id, time.Time{}, []collections.StoredVersion{v})
		uh := hs.byUUID[u]
		if uh == nil {
			continue
		}
		uh.versions++
		uh.entries = append(uh.entries, &headEntry{typ: typ, uuid: u, head: &h, noCreated: true})
	}
	return hs, rows.Err()
}

// known returns which of the UUIDs (a JSON array) have versions stored.
func (o *objectTx) known(uuids string) ([]string, error) {
	rows, err := o.stmt(o.ws.known).QueryContext(o.ctx, o.coll, uuids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (o *objectTx) scanHeads(hs *headSet, uuids string) error {
	rows, err := o.stmt(o.ws.heads).QueryContext(o.ctx, o.coll, uuids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u, typ  string
			summary []byte
		)
		if err := rows.Scan(&u, &typ, &summary); err != nil {
			return err
		}
		id := u
		if typ != "" {
			id = typ + "--" + u
		}
		h, err := unpackHead(id, typ, summary)
		if err != nil {
			return err
		}
		uh := hs.byUUID[u]
		uh.rows = true
		uh.entries = append(uh.entries, &headEntry{typ: typ, uuid: u, head: h})
	}
	return rows.Err()
}

// lookup returns the head entry of id (creating an empty one) and a type
// that has versions under the same UUID.
func (hs *headSet) lookup(id string) (e *headEntry, other string) {
	typ, u := collections.SplitID(id)
	uh := hs.byUUID[u]
	for _, x := range uh.entries {
		switch {
		case x.typ == typ:
			e = x
		case x.head != nil && other == "":
			other = x.typ
		}
	}
	if e == nil {
		e = &headEntry{typ: typ, uuid: u}
		uh.entries = append(uh.entries, e)
	}
	return e, other
}

// added records that a version was added to e's object, whose head is now
// h. The UUID's second version makes its heads rows.
func (hs *headSet) added(e *headEntry, h *collections.Head) {
	e.head = h
	uh := hs.byUUID[e.uuid]
	if !uh.rows {
		uh.versions++
		if uh.versions < 2 {
			return
		}
		uh.rows = true
		for _, x := range uh.entries {
			if x.head != nil {
				hs.markDirty(x)
			}
		}
		return
	}
	hs.markDirty(e)
}

func (hs *headSet) markDirty(e *headEntry) {
	if !e.dirty {
		e.dirty = true
		hs.dirty = append(hs.dirty, e)
	}
}

// created fills in the created timestamp of a head made from an object's
// one version, from that version.
func (o *objectTx) created(e *headEntry) error {
	if !e.noCreated {
		return nil
	}
	v := e.head.Specs[0].First
	obj, ok, err := o.storedVersion(e.head.ID, v.Version)
	if err != nil || !ok {
		return fmt.Errorf("read version %s of %s: %v", v.Version, e.head.ID, err)
	}
	e.head.Created, _ = collections.VersionFacts(obj.Raw)
	e.noCreated = false
	return nil
}

// storeHeads writes the heads that changed.
func (o *objectTx) storeHeads(hs *headSet) error {
	put, del := o.stmt(o.ws.putHead), o.stmt(o.ws.delHead)
	for _, e := range hs.dirty {
		var err error
		if e.head == nil {
			_, err = del.ExecContext(o.ctx, o.coll, e.uuid, e.typ)
		} else if err = o.created(e); err == nil {
			_, err = put.ExecContext(o.ctx, o.coll, e.uuid, e.typ, packHead(e.head))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// storedVersion returns the stored version of id at version.
func (o *objectTx) storedVersion(id string, version time.Time) (collections.Object, bool, error) {
	v, err := formatVersion(version)
	if err != nil {
		return collections.Object{}, false, err
	}
	var (
		added int64
		raw   []byte
	)
	err = o.stmt(o.ws.stored).QueryRowContext(o.ctx, o.coll, idKey(id), v).Scan(&added, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return collections.Object{}, false, nil
	}
	if err != nil {
		return collections.Object{}, false, err
	}
	return collections.Object{ID: id, Version: version, DateAdded: time.UnixMicro(added).UTC(), Raw: raw}, true, nil
}

// AddObjects implements collections.Store.
func (s *Store) AddObjects(ctx context.Context, apiRoot, collection string, objs []collections.NewObject, opts collections.AddOptions) ([]collections.AddResult, error) {
	objs = append([]collections.NewObject(nil), objs...) // ids are made canonical below
	ids := make([]string, len(objs))
	for i := range objs {
		obj := &objs[i]
		if strings.Contains(obj.ID, metaSep) || strings.Contains(obj.Type, metaSep) || strings.Contains(obj.SpecVersion, metaSep) {
			return nil, fmt.Errorf("sqlite: add %q: id, type or spec_version contains \\x1f", obj.ID)
		}
		if !obj.Version.IsZero() {
			if _, err := formatVersion(obj.Version); err != nil {
				return nil, fmt.Errorf("sqlite: add %s: %w", obj.ID, err)
			}
		}
		obj.ID = collections.CanonicalID(obj.ID)
		ids[i] = obj.ID
	}
	results := make([]collections.AddResult, len(objs))
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		coll, err := s.collection(ctx, tx, apiRoot, collection)
		if err != nil {
			return err
		}
		now := time.Now().UnixMicro()
		var status *statusTx
		if opts.Status != nil {
			if status, err = s.beginStatusUpdate(ctx, tx, opts.Status, len(objs), now); err != nil {
				return err
			}
		}
		o := s.objectTx(ctx, tx, coll)
		// Another process may share the file: start above what is stored.
		var stored sql.NullInt64
		if err := o.stmt(o.ws.lastAdded).QueryRowContext(o.ctx).Scan(&stored); err != nil {
			return fmt.Errorf("sqlite: add objects: %w", err)
		}
		last := max(s.lastAdded, stored.Int64)
		heads, err := o.loadHeads(ids)
		if err != nil {
			return fmt.Errorf("sqlite: add objects: %w", err)
		}
		for i, obj := range objs {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			added := max(now, last+1)
			r, err := o.add(heads, obj, added, opts.SkipVersionRules)
			if err != nil {
				return fmt.Errorf("sqlite: add %s: %w", obj.ID, err)
			}
			if r.Outcome == collections.Added {
				last = added
			}
			results[i] = r
			if status != nil {
				if err := status.settle(r); err != nil {
					return fmt.Errorf("sqlite: status update: %w", err)
				}
			}
		}
		if err := o.storeHeads(heads); err != nil {
			return fmt.Errorf("sqlite: add objects: %w", err)
		}
		if err := o.storeMarkings(); err != nil {
			return fmt.Errorf("sqlite: add objects: %w", err)
		}
		if status != nil {
			if err := status.finish(tx, now, opts.Status.Expires); err != nil {
				return fmt.Errorf("sqlite: status update: %w", err)
			}
		}
		s.lastAdded = last // harmless if the commit fails: only ever higher
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// add stores one object as collections.PlanAdd decides, with added as its
// date_added if it is added.
func (o *objectTx) add(heads *headSet, obj collections.NewObject, added int64, skipRules bool) (collections.AddResult, error) {
	e, other := heads.lookup(obj.ID)
	if e.head != nil {
		if err := o.created(e); err != nil {
			return collections.AddResult{}, err
		}
	}
	p, err := collections.PlanAdd(collections.AddInput{
		Object:    obj,
		Head:      e.head,
		OtherType: other,
		DateAdded: time.UnixMicro(added).UTC(),
		SkipRules: skipRules,
		Stored: func(v time.Time) (collections.Object, bool, error) {
			return o.storedVersion(obj.ID, v)
		},
	})
	if err != nil || p.Result.Outcome != collections.Added {
		return p.Result, err
	}
	ver, err := formatVersion(p.Result.Version)
	if err != nil {
		return p.Result, err
	}
	ceilings := packCeilings(p.Ceilings)
	// With RecomputeCeilings the marks below TLP:RED may move (those under
	// TLP:RED are flags, which Marks and Unmark keep).
	var changed []ceilingsChange // of stored versions
	if p.RecomputeCeilings {
		v := collections.StoredVersion{SpecVersion: obj.SpecVersion, Version: p.Result.Version,
			DateAdded: time.UnixMicro(added).UTC(), Marks: p.Marks, TLP: obj.TLP}
		if ceilings, changed, err = o.recomputeCeilings(obj.ID, v); err != nil {
			return p.Result, err
		}
	}
	if _, err := o.stmt(o.ws.insert).ExecContext(o.ctx, added, o.coll, idKey(obj.ID), obj.Type, obj.SpecVersion, ver,
		int64(p.Marks), packMeta(ver, obj.SpecVersion, obj.Type, obj.ID), int64(obj.TLP), int64(obj.GranularTLP),
		ceilings, obj.Raw); err != nil {
		return p.Result, err
	}
	for _, m := range obj.Markings {
		if o.marked == nil {
			o.marked = make(map[markingLevel]int64)
		}
		o.marked[markingLevel{m, obj.TLP}]++
		if _, err := o.stmt(o.ws.markVersion).ExecContext(o.ctx, o.coll, m, int64(obj.TLP), added); err != nil {
			return p.Result, err
		}
	}
	for _, u := range p.Unmark {
		// A version losing marks under TLP:RED mostly loses some below it
		// too: one row write for both.
		at := u.DateAdded.UnixMicro()
		st, args := o.ws.unmark, []any{int64(u.Marks), at}
		for i := range changed {
			if changed[i].added == at && !changed[i].done {
				st, args = o.ws.unmarkCeilings, []any{int64(u.Marks), changed[i].ceilings, at}
				changed[i].done = true
			}
		}
		if _, err := o.stmt(st).ExecContext(o.ctx, args...); err != nil {
			return p.Result, err
		}
	}
	if p.UnmarkTopSpec != "" {
		if _, err := o.stmt(o.ws.unmarkTop).ExecContext(o.ctx, o.coll, idKey(obj.ID), p.UnmarkTopSpec); err != nil {
			return p.Result, err
		}
	}
	for _, c := range changed {
		if !c.done {
			if _, err := o.stmt(o.ws.setCeilings).ExecContext(o.ctx, c.ceilings, c.added); err != nil {
				return p.Result, err
			}
		}
	}
	heads.added(e, &p.Head)
	return p.Result, nil
}

// storeMarkings adds the versions counted in o.marked to the markings
// table: one upsert per marking and level of the batch, not per version.
func (o *objectTx) storeMarkings() error {
	for k, n := range o.marked {
		if _, err := o.stmt(o.ws.markAdd).ExecContext(o.ctx, o.coll, k.marking, int64(k.tlp), n); err != nil {
			return err
		}
	}
	o.marked = nil
	return nil
}

// DeleteObject implements collections.Store.
func (s *Store) DeleteObject(ctx context.Context, apiRoot, collection, id string, versions collections.VersionFilter, specVersions []string) (int, error) {
	id = collections.CanonicalID(id)
	typ, u := collections.SplitID(id)
	var deleted int
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		coll, err := s.collection(ctx, tx, apiRoot, collection)
		if err != nil {
			return err
		}
		o := s.objectTx(ctx, tx, coll)
		vs, ceilings, err := o.loadVersions(id)
		if err != nil {
			return fmt.Errorf("sqlite: delete %s: %w", id, err)
		}
		if len(vs) == 0 {
			return collections.ErrNotFound
		}
		// The head row, if the UUID has heads; else the versions (one) are
		// their own summary.
		var summary []byte
		head := &collections.Head{}
		err = o.stmt(o.ws.head).QueryRowContext(o.ctx, coll, u, typ).Scan(&summary)
		rows := err == nil
		switch {
		case rows:
			if head, err = unpackHead(id, typ, summary); err != nil {
				return fmt.Errorf("sqlite: delete %s: %w", id, err)
			}
		case errors.Is(err, sql.ErrNoRows):
			h, _ := collections.Summarize(id, time.Time{}, vs)
			head = &h
		default:
			return fmt.Errorf("sqlite: delete %s: %w", id, err)
		}
		p := collections.PlanDelete(*head, vs, versions, specVersions)
		if len(p.Delete) == 0 {
			return collections.ErrNotFound
		}
		for _, i := range p.Delete {
			if err := o.deleteVersion(vs[i].DateAdded.UnixMicro()); err != nil {
				return fmt.Errorf("sqlite: delete %s: %w", id, err)
			}
		}
		if _, err := o.stmt(o.ws.markPrune).ExecContext(o.ctx, coll); err != nil {
			return fmt.Errorf("sqlite: delete %s: %w", id, err)
		}
		for k, i := range p.Keep {
			if p.Marks[k] != vs[i].Marks {
				if _, err := o.stmt(o.ws.setFlags).ExecContext(o.ctx, int64(p.Marks[k]), vs[i].DateAdded.UnixMicro()); err != nil {
					return fmt.Errorf("sqlite: delete %s: %w", id, err)
				}
			}
		}
		// What is left may have new marks under the ceilings below
		// TLP:RED too: the versions a ceiling sees are fewer.
		kept := make([]collections.StoredVersion, len(p.Keep))
		keptCeilings := make([]int64, len(p.Keep))
		for k, i := range p.Keep {
			kept[k], keptCeilings[k] = vs[i], ceilings[i]
		}
		if err := o.storeCeilings(kept, keptCeilings); err != nil {
			return fmt.Errorf("sqlite: delete %s: %w", id, err)
		}
		if rows {
			hs := &headSet{}
			hs.markDirty(&headEntry{typ: typ, uuid: u, head: p.Head})
			if err := o.storeHeads(hs); err != nil {
				return fmt.Errorf("sqlite: delete %s: %w", id, err)
			}
		}
		deleted = len(p.Delete)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// loadVersions returns every stored version of object id, in version
// order, and the objects.ceilings of each.
func (o *objectTx) loadVersions(id string) ([]collections.StoredVersion, []int64, error) {
	rows, err := o.stmt(o.ws.versions).QueryContext(o.ctx, o.coll, idKey(id))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		vs       []collections.StoredVersion
		ceilings []int64
	)
	for rows.Next() {
		var (
			v                    collections.StoredVersion
			added, fl, tlp, ceil int64
			ver                  string
		)
		if err := rows.Scan(&added, &v.SpecVersion, &ver, &fl, &tlp, &ceil); err != nil {
			return nil, nil, err
		}
		if v.Version, err = parseVersion(ver); err != nil {
			return nil, nil, err
		}
		v.DateAdded, v.Marks, v.TLP = time.UnixMicro(added).UTC(), collections.Marks(fl), stix.TLP(tlp)
		vs = append(vs, v)
		ceilings = append(ceilings, ceil)
	}
	return vs, ceilings, rows.Err()
}

// ceilingsChange is a stored version's new objects.ceilings.
type ceilingsChange struct {
	added, ceilings int64
	done            bool // written
}

// recomputeCeilings is collections.AddPlan.RecomputeCeilings: it reads
// every stored version of object id by index in the write transaction and
// computes the marks under the ceilings below TLP:RED with the version v
// about to be added. It returns v's, so that v is inserted with them, and
// those of the stored versions that change, for the caller to write with
// their other changes.
func (o *objectTx) recomputeCeilings(id string, v collections.StoredVersion) (int64, []ceilingsChange, error) {
	vs, stored, err := o.loadVersions(id)
	if err != nil {
		return 0, nil, err
	}
	marks := collections.SummarizeCeilings(append(vs, v))
	var changed []ceilingsChange
	for i, v := range vs {
		if c := packCeilings(marks[i]); c != stored[i] {
			changed = append(changed, ceilingsChange{added: v.DateAdded.UnixMicro(), ceilings: c})
		}
	}
	return packCeilings(marks[len(vs)]), changed, nil
}

// storeCeilings stores the marks under the ceilings below TLP:RED of vs,
// every version of one object, whose objects.ceilings are stored, where
// they change: a write touches only the rows, hence the index entries,
// that change.
func (o *objectTx) storeCeilings(vs []collections.StoredVersion, stored []int64) error {
	for i, m := range collections.SummarizeCeilings(vs) {
		if c := packCeilings(m); c != stored[i] {
			if _, err := o.stmt(o.ws.setCeilings).ExecContext(o.ctx, c, vs[i].DateAdded.UnixMicro()); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteVersion deletes one version, counts its markings out of the
// collection's and removes its marking_versions rows, so that Markings
// lists only what stored versions reference (at their levels and dates).
func (o *objectTx) deleteVersion(added int64) error {
	var (
		tlp int64
		raw []byte
	)
	if err := o.stmt(o.ws.delete).QueryRowContext(o.ctx, added).Scan(&tlp, &raw); err != nil {
		return err
	}
	sh, err := stix.SharingOf(raw, stix.TLPNone)
	if err != nil {
		return nil // stored objects are JSON; nothing was counted for one that is not
	}
	for _, m := range sh.Markings {
		if _, err := o.stmt(o.ws.markDel).ExecContext(o.ctx, o.coll, m, tlp); err != nil {
			return err
		}
		if _, err := o.stmt(o.ws.unmarkVersion).ExecContext(o.ctx, o.coll, m, tlp, added); err != nil {
			return err
		}
	}
	return nil
}
