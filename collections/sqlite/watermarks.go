package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// watermarksQuery reads, for each live collection named, its newest
// date_added: one descending seek of objects_coll (coll, date_added) per
// collection. date_added is the rowid and grows with every commit, so it
// changes whenever a version becomes visible; a transaction's versions
// appear all at once, when it commits.
const watermarksQuery = "SELECT c.id, (SELECT o.date_added FROM objects AS o INDEXED BY objects_coll WHERE o.coll = c.coll " +
	"ORDER BY o.date_added DESC LIMIT 1) FROM collections AS c WHERE c.deleted = 0 AND c.id IN (%s)"

// Watermarks implements collections.Store.
func (s *Store) Watermarks(ctx context.Context, ids []string) (map[string]time.Time, error) {
	if len(ids) > collections.MaxQueryValues {
		return nil, fmt.Errorf("%w: %d collections, at most %d", collections.ErrInvalid, len(ids), collections.MaxQueryValues)
	}
	out := make(map[string]time.Time, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	query := fmt.Sprintf(watermarksQuery, strings.TrimSuffix(strings.Repeat("?,", len(ids)), ","))
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: watermarks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var added *int64
		if err := rows.Scan(&id, &added); err != nil {
			return nil, fmt.Errorf("sqlite: watermarks: %w", err)
		}
		var w time.Time
		if added != nil {
			w = time.UnixMicro(*added).UTC()
		}
		out[id] = w
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: watermarks: %w", err)
	}
	return out, nil
}
