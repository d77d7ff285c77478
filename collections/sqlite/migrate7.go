package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/taxiid/taxiid/stix"
)

// migrate7 is the Go part of migration 0007: every stored version gets
// the TLP level, granular level and markings its JSON says, as ingest
// records them for new versions. Collections have no unmarked level yet,
// so an unmarked version is TLP:RED. It reads each version once, a chunk
// at a time, in date_added order (about the cost of parsing each object's
// marking properties).
func migrate7(ctx context.Context, tx *sql.Tx) error {
	type key struct {
		coll    int64
		marking string
		tlp     stix.TLP
	}
	counts := map[key]int64{}
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
