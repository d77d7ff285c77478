package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Markings implements collections.Store. The markings table counts, per
// collection, marking and version level, the versions referencing the
// marking: it is visible when its lowest level is within the ceiling.
// Under an embargo bound a (marking, level) row counts only when a
// version of that level referencing the marking was added at or before
// the bound: one seek of marking_versions' primary key each (its first
// row at or before the bound), so the cost follows the markings and
// levels listed, not the versions.
func (s *Store) Markings(ctx context.Context, apiRoot, collection string, maxTLP stix.TLP, addedUntil time.Time) ([]collections.Marking, error) {
	if maxTLP > stix.TLPRed {
		return nil, fmt.Errorf("%w: TLP ceiling %d", collections.ErrInvalid, maxTLP)
	}
	coll, err := s.collection(ctx, s.r, apiRoot, collection)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: markings: %w", err)
	}
	lo, hi := int64(stix.TLPNone), int64(stix.TLPRed)
	if maxTLP != stix.TLPNone {
		lo, hi = int64(stix.TLPClear), int64(maxTLP)
	}
	var rows *sql.Rows
	if addedUntil.IsZero() {
		rows, err = s.r.QueryContext(ctx, "SELECT DISTINCT marking FROM markings WHERE coll = ? AND tlp BETWEEN ? AND ? AND n > 0 ORDER BY marking",
			coll, lo, hi)
	} else {
		// Versions are stored with whole microseconds: at or before the
		// bound is at or before its microsecond.
		rows, err = s.r.QueryContext(ctx, markingsUntilQuery, coll, lo, hi, addedUntil.UnixMicro())
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: markings: %w", err)
	}
	defer rows.Close()
	var ms []collections.Marking
	for rows.Next() {
		var m collections.Marking
		if err := rows.Scan(&m.ID); err != nil {
			return nil, fmt.Errorf("sqlite: markings: %w", err)
		}
		m.TLP = stix.TLPOfMarking(m.ID)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: markings: %w", err)
	}
	return ms, nil
}

// markingsUntilQuery lists the markings of collection ?1 referenced at a
// level in [?2, ?3] by a version added at or before ?4 (Unix µs).
const markingsUntilQuery = "SELECT DISTINCT m.marking FROM markings AS m WHERE m.coll = ?1 AND m.tlp BETWEEN ?2 AND ?3 AND m.n > 0 " +
	"AND EXISTS (SELECT 1 FROM marking_versions AS v WHERE v.coll = ?1 AND v.marking = m.marking AND v.tlp = m.tlp AND v.date_added <= ?4) " +
	"ORDER BY m.marking"
