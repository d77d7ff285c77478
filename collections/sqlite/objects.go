package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// writeStmts are the statements of the object write path, prepared once on
// the write connection and bound to each transaction with Tx.StmtContext,
// which reuses the connection's prepared statement.
type writeStmts struct {
	existing  *sql.Stmt
	lastAdded *sql.Stmt
	versions  *sql.Stmt
	raw       *sql.Stmt
	insert    *sql.Stmt
	setFlags  *sql.Stmt
	delete    *sql.Stmt
}

const (
	// INDEXED BY: else the planner may walk all of objects_coll in
	// date_added order to save sorting a few rows.
	versionsQuery = "SELECT date_added, spec_version, version, flags FROM objects INDEXED BY objects_id WHERE coll = ? AND id = ? ORDER BY date_added"
	rawQuery      = "SELECT raw FROM objects WHERE date_added = ?"
	// existingQuery returns which of the ids in a JSON array are stored.
	existingQuery = "SELECT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM objects INDEXED BY objects_id WHERE coll = ? AND id = value)"
)

func (ws *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&ws.existing, existingQuery},
		{&ws.lastAdded, "SELECT MAX(date_added) FROM objects"},
		{&ws.versions, versionsQuery},
		{&ws.raw, rawQuery},
		{&ws.insert, "INSERT INTO objects (date_added, coll, id, type, spec_version, version, flags, meta, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},
		{&ws.setFlags, "UPDATE objects SET flags = ? WHERE date_added = ?"},
		{&ws.delete, "DELETE FROM objects WHERE date_added = ?"},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.st = st
	}
	return nil
}

func (ws *writeStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{ws.existing, ws.lastAdded, ws.versions, ws.raw, ws.insert, ws.setFlags, ws.delete} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// objectTx is the object write path within one transaction.
type objectTx struct {
	ctx                                                          context.Context
	existing, versions, raw, insert, setFlags, delete, lastAdded *sql.Stmt
	coll                                                         int64
}

func (s *Store) objectTx(ctx context.Context, tx *sql.Tx, coll int64) *objectTx {
	// The statements run without ctx's cancellation: with a cancellable
	// context the driver starts a watcher goroutine per statement, which
	// costs more than the statement. Callers check ctx between objects,
	// and BeginTx's context still aborts the transaction.
	ctx = context.WithoutCancel(ctx)
	return &objectTx{
		ctx:       ctx,
		existing:  tx.StmtContext(ctx, s.ws.existing),
		versions:  tx.StmtContext(ctx, s.ws.versions),
		raw:       tx.StmtContext(ctx, s.ws.raw),
		insert:    tx.StmtContext(ctx, s.ws.insert),
		setFlags:  tx.StmtContext(ctx, s.ws.setFlags),
		delete:    tx.StmtContext(ctx, s.ws.delete),
		lastAdded: tx.StmtContext(ctx, s.ws.lastAdded),
		coll:      coll,
	}
}

// existingIDs returns which of the objects' ids have versions stored.
func (o *objectTx) existingIDs(objs []collections.NewObject) (map[string]bool, error) {
	ids := make([]string, len(objs))
	for i, obj := range objs {
		ids[i] = obj.ID
	}
	arg, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := o.existing.QueryContext(o.ctx, string(arg), o.coll)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]bool)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		found[id] = true
	}
	return found, rows.Err()
}

// loadVersions returns the stored versions of object id, in date_added order.
func (o *objectTx) loadVersions(id string, vs []version) ([]version, error) {
	rows, err := o.versions.QueryContext(o.ctx, o.coll, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vs = vs[:0]
	for rows.Next() {
		var v version
		if err := rows.Scan(&v.dateAdded, &v.spec, &v.version, &v.flags); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// storeFlags writes the flags of the versions whose flags changed.
func (o *objectTx) storeFlags(vs []version) error {
	for i := range vs {
		if vs[i].newFlags != vs[i].flags {
			if _, err := o.setFlags.ExecContext(o.ctx, vs[i].newFlags, vs[i].dateAdded); err != nil {
				return err
			}
			vs[i].flags = vs[i].newFlags
		}
	}
	return nil
}

// AddObjects implements collections.Store.
func (s *Store) AddObjects(ctx context.Context, apiRoot, collection string, objs []collections.NewObject) ([]collections.AddResult, error) {
	versions := make([]string, len(objs)) // "" for a zero version
	for i, obj := range objs {
		if strings.Contains(obj.ID, metaSep) || strings.Contains(obj.Type, metaSep) || strings.Contains(obj.SpecVersion, metaSep) {
			return nil, fmt.Errorf("sqlite: add %q: id, type or spec_version contains \\x1f", obj.ID)
		}
		if !obj.Version.IsZero() {
			v, err := formatVersion(obj.Version)
			if err != nil {
				return nil, fmt.Errorf("sqlite: add %s: %w", obj.ID, err)
			}
			versions[i] = v
		}
	}
	results := make([]collections.AddResult, len(objs))
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		coll, err := s.collection(ctx, tx, apiRoot, collection)
		if err != nil {
			return err
		}
		o := s.objectTx(ctx, tx, coll)
		// Another process may share the file: start above what is stored.
		var stored sql.NullInt64
		if err := o.lastAdded.QueryRowContext(o.ctx).Scan(&stored); err != nil {
			return fmt.Errorf("sqlite: add objects: %w", err)
		}
		last := max(s.lastAdded, stored.Int64)
		now := time.Now().UnixMicro()
		// Most objects of a batch are usually new: one query finds the few
		// ids whose versions must be loaded. Ids added by this batch join
		// the set as it goes.
		known, err := o.existingIDs(objs)
		if err != nil {
			return fmt.Errorf("sqlite: add objects: %w", err)
		}
		var vs []version
		for i, obj := range objs {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			vs = vs[:0]
			if known[obj.ID] {
				if vs, err = o.loadVersions(obj.ID, vs); err != nil {
					return fmt.Errorf("sqlite: add %s: %w", obj.ID, err)
				}
			}
			added := max(now, last+1)
			r, err := o.add(obj, versions[i], added, vs)
			if err != nil {
				return fmt.Errorf("sqlite: add %s: %w", obj.ID, err)
			}
			if r.Outcome == collections.Added {
				last = added
				known[obj.ID] = true
			}
			results[i] = r
		}
		s.lastAdded = last // harmless if the commit fails: only ever higher
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// add stores one object unless its (id, version) is stored already. ver is
// its formatted version, "" when it has none; added its date_added if it is
// added; vs the stored versions of its id.
func (o *objectTx) add(obj collections.NewObject, ver string, added int64, vs []version) (collections.AddResult, error) {
	var flags int64
	if ver == "" {
		// Versionless objects are versioned by their first push, so that
		// pushing them again is idempotent.
		for _, v := range vs {
			if v.flags&flagNoVersion != 0 {
				ver = v.version
				break
			}
		}
		if ver == "" {
			v, err := formatVersion(time.UnixMicro(added))
			if err != nil {
				return collections.AddResult{}, err
			}
			ver, flags = v, flagNoVersion
		}
	}
	for _, v := range vs {
		if v.version != ver {
			continue
		}
		res := collections.AddResult{Outcome: collections.Conflict, DateAdded: time.UnixMicro(v.dateAdded).UTC()}
		var err error
		if res.Version, err = parseVersion(v.version); err != nil {
			return res, err
		}
		var raw []byte
		if err := o.raw.QueryRowContext(o.ctx, v.dateAdded).Scan(&raw); err != nil {
			return res, err
		}
		if sameJSON(raw, obj.Raw) {
			res.Outcome = collections.Unchanged
		}
		return res, nil
	}

	vs = append(vs, version{dateAdded: added, spec: obj.SpecVersion, version: ver, flags: flags})
	computeFlags(vs)
	n := &vs[len(vs)-1]
	n.flags = n.newFlags
	if _, err := o.insert.ExecContext(o.ctx, added, o.coll, obj.ID, obj.Type, obj.SpecVersion, ver, n.flags,
		packMeta(ver, obj.SpecVersion, obj.Type, obj.ID), obj.Raw); err != nil {
		return collections.AddResult{}, err
	}
	if err := o.storeFlags(vs); err != nil {
		return collections.AddResult{}, err
	}
	v, err := parseVersion(ver)
	if err != nil {
		return collections.AddResult{}, err
	}
	return collections.AddResult{Outcome: collections.Added, Version: v, DateAdded: time.UnixMicro(added).UTC()}, nil
}

// sameJSON reports whether a and b are the same JSON document, allowing for
// member order and white space. Numbers compare by their text, so only
// documents that are equal after decoding count as the same.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	x, errx := decodeJSON(a)
	y, erry := decodeJSON(b)
	return errx == nil && erry == nil && reflect.DeepEqual(x, y)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // no float rounding: 1e400 and big integers stay exact
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// DeleteObject implements collections.Store. First and Last select within
// each spec version; an empty specVersions does not restrict spec versions.
func (s *Store) DeleteObject(ctx context.Context, apiRoot, collection, id string, versions collections.VersionFilter, specVersions []string) (int, error) {
	exact := make(map[string]bool, len(versions.Exact))
	for _, t := range versions.Exact {
		v, err := formatVersion(t)
		if err != nil {
			return 0, fmt.Errorf("sqlite: delete %s: %w", id, err)
		}
		exact[v] = true
	}
	specs := make(map[string]bool, len(specVersions))
	for _, sv := range specVersions {
		specs[sv] = true
	}
	selected := func(v version) bool {
		if len(specs) > 0 && !specs[v.spec] {
			return false
		}
		if versions.IsZero() || versions.All {
			return true
		}
		return versions.Last && v.flags&flagLatest != 0 ||
			versions.First && v.flags&flagFirst != 0 ||
			exact[v.version]
	}

	var deleted int
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		coll, err := s.collection(ctx, tx, apiRoot, collection)
		if err != nil {
			return err
		}
		o := s.objectTx(ctx, tx, coll)
		vs, err := o.loadVersions(id, nil)
		if err != nil {
			return fmt.Errorf("sqlite: delete %s: %w", id, err)
		}
		kept := vs[:0]
		for _, v := range vs {
			if !selected(v) {
				kept = append(kept, v)
				continue
			}
			if _, err := o.delete.ExecContext(o.ctx, v.dateAdded); err != nil {
				return fmt.Errorf("sqlite: delete %s: %w", id, err)
			}
			deleted++
		}
		if deleted == 0 {
			return collections.ErrNotFound
		}
		computeFlags(kept)
		if err := o.storeFlags(kept); err != nil {
			return fmt.Errorf("sqlite: delete %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}
