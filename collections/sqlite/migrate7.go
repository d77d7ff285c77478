package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// migrate7 is the Go part of migration 0007: every stored version gets
// the TLP level, granular level and markings its JSON says, as ingest
// records them for new versions. Collections have no unmarked level yet,
// so an unmarked version is TLP:RED. It reads each version once, a chunk
// at a time, in date_added order (about the cost of parsing each object's
// marking properties); then migrateCeilings computes the marks under each
// ceiling from the levels.
func migrate7(ctx context.Context, tx *sql.Tx) error {
	if err := migrateLevels(ctx, tx); err != nil {
		return err
	}
	return migrateCeilings(ctx, tx)
}

// migrateLevels stores the levels and counts the markings of every
// version, and records which versions reference each marking
// (marking_versions).
func migrateLevels(ctx context.Context, tx *sql.Tx) error {
	type key struct {
		coll    int64
		marking string
		tlp     stix.TLP
	}
	counts := map[key]int64{}
	markVersion, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO marking_versions (coll, marking, tlp, date_added) VALUES (?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer markVersion.Close()
	last := int64(math.MinInt64)
	for {
		rows, err := tx.QueryContext(ctx, "SELECT date_added, coll, raw FROM objects WHERE date_added > ? ORDER BY date_added LIMIT ?",
			last, backfillChunk)
		if err != nil {
			return err
		}
		type row struct {
			added, coll int64
			sh          stix.Sharing
		}
		var chunk []row
		for rows.Next() {
			var (
				r   row
				raw []byte
			)
			if err := rows.Scan(&r.added, &r.coll, &raw); err != nil {
				rows.Close()
				return err
			}
			if r.sh, err = stix.SharingOf(raw, stix.TLPNone); err != nil {
				// Stored objects were valid JSON; keep the safest level.
				r.sh = stix.Sharing{TLP: stix.TLPRed}
			}
			chunk = append(chunk, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(chunk) == 0 {
			break
		}
		for _, r := range chunk {
			if _, err := tx.ExecContext(ctx, "UPDATE objects SET tlp = ?, granular_tlp = ? WHERE date_added = ?",
				int64(r.sh.TLP), int64(r.sh.GranularTLP), r.added); err != nil {
				return err
			}
			for _, m := range r.sh.Markings {
				counts[key{r.coll, m, r.sh.TLP}]++
				if _, err := markVersion.ExecContext(ctx, r.coll, m, int64(r.sh.TLP), r.added); err != nil {
					return fmt.Errorf("marking_versions: %w", err)
				}
			}
		}
		last = chunk[len(chunk)-1].added
	}
	for k, n := range counts {
		if _, err := tx.ExecContext(ctx, "INSERT INTO markings (coll, marking, tlp, n) VALUES (?, ?, ?, ?)",
			k.coll, k.marking, int64(k.tlp), n); err != nil {
			return fmt.Errorf("markings: %w", err)
		}
	}
	return nil
}

// migrateCeilings stores the marks under the ceilings below TLP:RED of the
// versions of every object that has a version below TLP:RED, and marks its
// head (if the UUID has heads rows) BelowRed. It reads the versions' levels
// in (coll, id) order, a chunk at a time; the other objects keep
// ceilings 0 and their heads.
func migrateCeilings(ctx context.Context, tx *sql.Tx) error {
	const cols = "SELECT coll, id, spec_version, version, date_added, tlp FROM objects INDEXED BY objects_id "
	lastColl, lastKey := int64(math.MinInt64), ""
	for {
		vs, err := scanLevels(tx.QueryContext(ctx, cols+"WHERE (coll, id) > (?, ?) ORDER BY coll, id, version LIMIT ?",
			lastColl, lastKey, backfillChunk))
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
			for end > 0 && vs[end-1].coll == vs[len(vs)-1].coll && vs[end-1].key == vs[len(vs)-1].key {
				end--
			}
			if end == 0 {
				if vs, err = scanLevels(tx.QueryContext(ctx, cols+"WHERE coll = ? AND id = ? ORDER BY version",
					vs[0].coll, vs[0].key)); err != nil {
					return err
				}
			} else {
				vs = vs[:end]
			}
		}
		for start := 0; start < len(vs); {
			end := start + 1
			for end < len(vs) && vs[end].coll == vs[start].coll && vs[end].key == vs[start].key {
				end++
			}
			if err := migrateObjectCeilings(ctx, tx, vs[start:end]); err != nil {
				return err
			}
			start = end
		}
		lastColl, lastKey = vs[len(vs)-1].coll, vs[len(vs)-1].key
	}
}

// levelRow is one version as migrateCeilings reads it.
type levelRow struct {
	coll int64
	key  string // objects.id
	v    collections.StoredVersion
}

func scanLevels(rows *sql.Rows, err error) ([]levelRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []levelRow
	for rows.Next() {
		var (
			r          levelRow
			ver        string
			added, tlp int64
		)
		if err := rows.Scan(&r.coll, &r.key, &r.v.SpecVersion, &ver, &added, &tlp); err != nil {
			return nil, err
		}
		if r.v.Version, err = parseVersion(ver); err != nil {
			return nil, err
		}
		r.v.DateAdded, r.v.TLP = time.UnixMicro(added).UTC(), stix.TLP(tlp)
		out = append(out, r)
	}
	return out, rows.Err()
}

// migrateObjectCeilings stores the ceiling marks of one object's versions
// (all of them, in rows) when one is below TLP:RED.
func migrateObjectCeilings(ctx context.Context, tx *sql.Tx, rows []levelRow) error {
	vs := make([]collections.StoredVersion, len(rows))
	below := false
	for i, r := range rows {
		vs[i] = r.v
		below = below || collections.VersionTLP(r.v.TLP) < stix.TLPRed
	}
	if !below {
		return nil
	}
	for i, m := range collections.SummarizeCeilings(vs) {
		if c := packCeilings(m); c != 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE objects SET ceilings = ? WHERE date_added = ?", c, vs[i].DateAdded.UnixMicro()); err != nil {
				return err
			}
		}
	}
	u, typ, _ := strings.Cut(rows[0].key, "--")
	id := u
	if typ != "" {
		id = typ + "--" + u
	}
	var summary []byte
	err := tx.QueryRowContext(ctx, "SELECT summary FROM heads WHERE coll = ? AND uuid = ? AND type = ?", rows[0].coll, u, typ).Scan(&summary)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // one version under the UUID: its own summary
	}
	if err != nil {
		return err
	}
	h, err := unpackHead(id, typ, summary)
	if err != nil {
		return err
	}
	h.BelowRed = true
	_, err = tx.ExecContext(ctx, "UPDATE heads SET summary = ? WHERE coll = ? AND uuid = ? AND type = ?", packHead(h), rows[0].coll, u, typ)
	return err
}
