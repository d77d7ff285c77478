package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// migrate3 is the Go part of migration 0003: object ids become canonical
// and are stored as keys (idKey), objects with two versions or more get
// their heads and every version its marks, and the statuses move to the
// new tables.
func migrate3(ctx context.Context, tx *sql.Tx) error {
	if err := keyIDs(ctx, tx); err != nil {
		return fmt.Errorf("id keys: %w", err)
	}
	if err := backfillHeads(ctx, tx); err != nil {
		return fmt.Errorf("heads: %w", err)
	}
	if err := moveStatuses(ctx, tx); err != nil {
		return fmt.Errorf("statuses: %w", err)
	}
	return nil
}

// backfillChunk is how many versions the migration reads at a time.
var backfillChunk = 5000

// keyIDs stores every id as its key, with its UUID in lower case. When an
// id in another case already has the same version (the same object pushed
// twice, which ids that compare case-insensitively make one), the version
// added first stays, as a re-push would have left it.
func keyIDs(ctx context.Context, tx *sql.Tx) error {
	type row struct {
		added, coll        int64
		id, typ, spec, ver string
	}
	last := int64(math.MinInt64)
	for {
		rows, err := tx.QueryContext(ctx, "SELECT date_added, coll, id, type, spec_version, version FROM objects "+
			"WHERE date_added > ? ORDER BY date_added LIMIT ?", last, backfillChunk)
		if err != nil {
			return err
		}
		var chunk []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.added, &r.coll, &r.id, &r.typ, &r.spec, &r.ver); err != nil {
				rows.Close()
				return err
			}
			chunk = append(chunk, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(chunk) == 0 {
			return nil
		}
		for _, r := range chunk {
			key, canonical := idKey(r.id), collections.CanonicalID(r.id)
			var earlier int64
			err := tx.QueryRowContext(ctx, "SELECT date_added FROM objects WHERE coll = ? AND id = ? AND version = ?",
				r.coll, key, r.ver).Scan(&earlier)
			switch {
			case err == nil: // converted already, hence added earlier
				_, err = tx.ExecContext(ctx, "DELETE FROM objects WHERE date_added = ?", r.added)
			case errors.Is(err, sql.ErrNoRows):
				_, err = tx.ExecContext(ctx, "UPDATE objects SET id = ?, meta = ? WHERE date_added = ?",
					key, packMeta(r.ver, r.spec, r.typ, canonical), r.added)
			}
			if err != nil {
				return err
			}
		}
		last = chunk[len(chunk)-1].added
	}
}

// backfillHeads computes the marks of every stored version and the heads
// of the UUIDs with two versions or more, reading the versions in
// (coll, id key) order, UUID by UUID, a chunk at a time.
func backfillHeads(ctx context.Context, tx *sql.Tx) error {
	const cols = "SELECT coll, id, spec_version, version, date_added, flags, raw FROM objects INDEXED BY objects_id "
	var (
		lastColl int64 = -1 << 63
		lastKey        = ""
	)
	for {
		vs, err := scanBackfill(tx.QueryContext(ctx, cols+"WHERE (coll, id) > (?, ?) ORDER BY coll, id, version LIMIT ?",
			lastColl, lastKey, backfillChunk))
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return nil
		}
		if len(vs) == backfillChunk {
			// The last UUID may go on past the chunk: leave it to the next
			// one, unless it fills the whole chunk.
			end := len(vs)
			for end > 0 && vs[end-1].coll == vs[len(vs)-1].coll && vs[end-1].uuid == vs[len(vs)-1].uuid {
				end--
			}
			if end == 0 {
				u := vs[0].uuid
				if vs, err = scanBackfill(tx.QueryContext(ctx, cols+"WHERE coll = ? AND id >= ? AND id < ? ORDER BY coll, id, version",
					vs[0].coll, u+"--", u+"-.")); err != nil {
					return err
				}
			} else {
				vs = vs[:end]
			}
		}
		for start := 0; start < len(vs); {
			end := start + 1
			for end < len(vs) && vs[end].coll == vs[start].coll && vs[end].uuid == vs[start].uuid {
				end++
			}
			if err := backfillUUID(ctx, tx, vs[start:end]); err != nil {
				return err
			}
			start = end
		}
		lastColl, lastKey = vs[len(vs)-1].coll, vs[len(vs)-1].key
	}
}

type backfillRow struct {
	coll          int64
	key, uuid, id string
	flags         int64
	created       time.Time
	v             collections.StoredVersion
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
		if err := rows.Scan(&r.coll, &r.key, &r.v.SpecVersion, &ver, &added, &r.flags, &raw); err != nil {
			return nil, err
		}
		if r.v.Version, err = parseVersion(ver); err != nil {
			return nil, err
		}
		r.v.DateAdded = time.UnixMicro(added).UTC()
		u, typ, _ := strings.Cut(r.key, "--")
		r.uuid, r.id = u, typ+"--"+u
		if typ == "" {
			r.id = u
		}
		// r.v.TLP stays unset (TLP:RED): levels come with migration 0007,
		// whose Go part also sets the heads' BelowRed and the marks under
		// each ceiling.
		created, revoked := collections.VersionFacts(raw)
		r.created = created
		r.v.Marks = collections.Marks(r.flags) &^ collections.MarkRevoked
		if revoked {
			r.v.Marks |= collections.MarkRevoked
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// backfillUUID writes the marks that changed of the versions stored under
// one UUID (one object per type) and, when there are two or more, their
// heads.
func backfillUUID(ctx context.Context, tx *sql.Tx, rows []backfillRow) error {
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].id == rows[start].id {
			end++
		}
		obj := rows[start:end]
		vs := make([]collections.StoredVersion, len(obj))
		// The created of the version added first: the one later versions
		// would have been checked against.
		var created, createdAdded time.Time
		for i, r := range obj {
			vs[i] = r.v
			if !r.created.IsZero() && (created.IsZero() || r.v.DateAdded.Before(createdAdded)) {
				created, createdAdded = r.created, r.v.DateAdded
			}
		}
		h, marks := collections.Summarize(obj[0].id, created, vs)
		for i, r := range obj {
			if int64(marks[i]) != r.flags {
				if _, err := tx.ExecContext(ctx, "UPDATE objects SET flags = ? WHERE date_added = ?",
					int64(marks[i]), r.v.DateAdded.UnixMicro()); err != nil {
					return err
				}
			}
		}
		if len(rows) >= 2 {
			typ, u := collections.SplitID(h.ID)
			if _, err := tx.ExecContext(ctx, "INSERT INTO heads (coll, uuid, type, summary) VALUES (?, ?, ?, ?)",
				obj[0].coll, u, typ, packHead(&h)); err != nil {
				return err
			}
		}
		start = end
	}
	return nil
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
		if err := insertStatus(ctx, tx, st, time.Now().UnixMicro(), nil); err != nil {
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
