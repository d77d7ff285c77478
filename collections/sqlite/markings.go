package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Markings implements collections.Store. The markings table counts, per
// collection, marking and version level, the versions referencing the
// marking: it is visible when its lowest level is within the ceiling.
func (s *Store) Markings(ctx context.Context, apiRoot, collection string, maxTLP stix.TLP) ([]collections.Marking, error) {
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
	rows, err := s.r.QueryContext(ctx, "SELECT DISTINCT marking FROM markings WHERE coll = ? AND tlp BETWEEN ? AND ? AND n > 0 ORDER BY marking",
		coll, lo, hi)
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
