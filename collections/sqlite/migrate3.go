package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// migrate3 is the Go part of migration 0003: object ids become canonical,
// every object gets its head and its marks are recomputed from it, and the
// statuses move to the new tables.
func migrate3(ctx context.Context, tx *sql.Tx) error {
	if err := canonicalIDs(ctx, tx); err != nil {
		return fmt.Errorf("canonical ids: %w", err)
	}
	if err := backfillHeads(ctx, tx); err != nil {
		return fmt.Errorf("heads: %w", err)
	}
	if err := moveStatuses(ctx, tx); err != nil {
		return fmt.Errorf("statuses: %w", err)
	}
	return nil
}

// canonicalIDs rewrites ids whose UUID has upper-case letters. When the
// canonical id already has the same version (the same object pushed twice,
// which ids that compare case-insensitively make one), the version added
// first stays, as a re-push would have left it.
func canonicalIDs(ctx context.Context, tx *sql.Tx) error {
	type row struct {
		added        int64
		coll         int64
		id, typ      string
		spec, ver    string
		canonicalize string
	}
	rows, err := tx.QueryContext(ctx,
		"SELECT date_added, coll, id, type, spec_version, version FROM objects WHERE id <> lower(id) ORDER BY date_added")
	if err != nil {
		return err
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.added, &r.coll, &r.id, &r.typ, &r.spec, &r.ver); err != nil {
			rows.Close()
			return err
		}
		if c := collections.CanonicalID(r.id); c != r.id {
			r.canonicalize = c
			todo = append(todo, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range todo {
		var other int64
		err := tx.QueryRowContext(ctx, "SELECT date_added FROM objects WHERE coll = ? AND id = ? AND version = ?",
			r.coll, r.canonicalize, r.ver).Scan(&other)
		switch {
		case err == sql.ErrNoRows:
			_, err = tx.ExecContext(ctx, "UPDATE objects SET id = ?, meta = ? WHERE date_added = ?",
				r.canonicalize, packMeta(r.ver, r.spec, r.typ, r.canonicalize), r.added)
		case err != nil:
		case other < r.added:
			_, err = tx.ExecContext(ctx, "DELETE FROM objects WHERE date_added = ?", r.added)
		default:
			if _, err = tx.ExecContext(ctx, "DELETE FROM objects WHERE date_added = ?", other); err == nil {
				_, err = tx.ExecContext(ctx, "UPDATE objects SET id = ?, meta = ? WHERE date_added = ?",
					r.canonicalize, packMeta(r.ver, r.spec, r.typ, r.canonicalize), r.added)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// backfillChunk is how many versions backfillHeads reads at a time.
var backfillChunk = 5000

// backfillHeads computes the head and marks of every stored object, reading
// the versions in (coll, id) order a chunk at a time.
func backfillHeads(ctx context.Context, tx *sql.Tx) error {
	const cols = "SELECT coll, id, spec_version, version, date_added, flags, raw FROM objects INDEXED BY objects_id "
	var (
		lastColl int64 = -1 << 63
		lastID         = ""
	)
	for {
		vs, err := scanBackfill(tx.QueryContext(ctx, cols+"WHERE (coll, id) > (?, ?) ORDER BY coll, id, version LIMIT ?",
			lastColl, lastID, backfillChunk))
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return nil
		}
		if len(vs) == backfillChunk {
			// The last object may go on past the chunk: leave it to the
			// next one, unless it fills the whole chunk.
			end := len(vs)
			for end > 0 && vs[end-1].coll == vs[len(vs)-1].coll && vs[end-1].id == vs[len(vs)-1].id {
				end--
			}
			if end == 0 {
				if vs, err = scanBackfill(tx.QueryContext(ctx, cols+"WHERE coll = ? AND id = ? ORDER BY version",
					vs[0].coll, vs[0].id)); err != nil {
					return err
				}
			} else {
				vs = vs[:end]
			}
		}
		for start := 0; start < len(vs); {
			end := start + 1
			for end < len(vs) && vs[end].coll == vs[start].coll && vs[end].id == vs[start].id {
				end++
			}
			if err := backfillObject(ctx, tx, vs[start:end]); err != nil {
				return err
			}
			start = end
		}
		lastColl, lastID = vs[len(vs)-1].coll, vs[len(vs)-1].id
	}
}

type backfillRow struct {
	coll    int64
	id      string
	flags   int64
	created time.Time
	v       collections.StoredVersion
}

func scanBackfill(rows *sql.Rows, err error) ([]backfillRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []backfillRow
	for rows.Next() {
		var (
			r     backfillRow
			ver   string
			added int64
			raw   []byte
		)
		if err := rows.Scan(&r.coll, &r.id, &r.v.SpecVersion, &ver, &added, &r.flags, &raw); err != nil {
			return nil, err
		}
		if r.v.Version, err = parseVersion(ver); err != nil {
			return nil, err
		}
		r.v.DateAdded = time.UnixMicro(added).UTC()
		var facts struct {
			Created string `json:"created"`
			Revoked bool   `json:"revoked"`
		}
		_ = json.Unmarshal(raw, &facts) // stored objects are valid JSON
		r.created, _ = stix.ParseTimestamp(facts.Created)
		r.v.Marks = collections.Marks(r.flags) &^ collections.MarkRevoked
		if facts.Revoked {
			r.v.Marks |= collections.MarkRevoked
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// backfillObject writes the head of one object, from all its versions, and
// the marks that changed.
func backfillObject(ctx context.Context, tx *sql.Tx, rows []backfillRow) error {
	vs := make([]collections.StoredVersion, len(rows))
	// The created of the version added first: the one later versions would
	// have been checked against.
	var created, createdAdded time.Time
	for i, r := range rows {
		vs[i] = r.v
		if !r.created.IsZero() && (created.IsZero() || r.v.DateAdded.Before(createdAdded)) {
			created, createdAdded = r.created, r.v.DateAdded
		}
	}
	h, marks := collections.Summarize(rows[0].id, created, vs)
	for i, r := range rows {
		if int64(marks[i]) != r.flags {
			if _, err := tx.ExecContext(ctx, "UPDATE objects SET flags = ? WHERE date_added = ?",
				int64(marks[i]), r.v.DateAdded.UnixMicro()); err != nil {
				return err
			}
		}
	}
	typ, u := collections.SplitID(h.ID)
	_, err := tx.ExecContext(ctx, "INSERT INTO heads (coll, uuid, type, summary) VALUES (?, ?, ?, ?)",
		rows[0].coll, u, typ, packHead(&h))
	return err
}

// moveStatuses copies the statuses of migration 0001 (one JSON document
// each) into the tables of 0003, then drops the old table.
func moveStatuses(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT doc FROM statuses_0001 WHERE expires > ?", time.Now().UnixMicro())
	if err != nil {
		return err
	}
	var docs []string
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			rows.Close()
			return err
		}
		docs = append(docs, doc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, doc := range docs {
		var d struct {
			ID               string      `json:"id"`
			APIRoot          string      `json:"api_root"`
			RequestTimestamp time.Time   `json:"request_timestamp"`
			TotalCount       int         `json:"total_count"`
			Successes        []detailDoc `json:"successes"`
			Failures         []detailDoc `json:"failures"`
			Pendings         []detailDoc `json:"pendings"`
			Expires          time.Time   `json:"expires"`
		}
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			return err
		}
		st := collections.Status{ID: d.ID, APIRoot: d.APIRoot, RequestTimestamp: d.RequestTimestamp,
			TotalCount: d.TotalCount, Expires: d.Expires}
		for _, l := range []struct {
			from []detailDoc
			to   *[]collections.StatusDetail
		}{{d.Successes, &st.Successes}, {d.Failures, &st.Failures}, {d.Pendings, &st.Pendings}} {
			for _, x := range l.from {
				*l.to = append(*l.to, collections.StatusDetail(x))
			}
		}
		if err := insertStatus(ctx, tx, st, time.Now().UnixMicro()); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, "DROP TABLE statuses_0001")
	return err
}

// detailDoc is a status entry in the JSON documents of migration 0001.
type detailDoc struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
	Message string `json:"message,omitempty"`
}
