package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// Expired statuses go a bounded number of entries per write, until none is
// left.
func TestExpiredStatusesRemoved(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "taxiid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	old := collections.Status{ID: "old", APIRoot: "api1", Expires: now.Add(-time.Minute), TotalCount: 2500}
	for i := range 2500 {
		old.Pendings = append(old.Pendings, collections.StatusDetail{ID: fmt.Sprint("objects[", i, "]")})
	}
	if err := s.writeTx(ctx, func(tx *sql.Tx) error { return insertStatus(ctx, tx, old, now.UnixMicro(), nil) }); err != nil {
		t.Fatal(err)
	}
	count := func() (statuses, entries int) {
		t.Helper()
		if err := s.r.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM statuses), (SELECT count(*) FROM status_entries)").
			Scan(&statuses, &entries); err != nil {
			t.Fatal(err)
		}
		return statuses, entries
	}
	for i, want := range [][2]int{{2, 1501}, {3, 502}, {3, 3}} {
		live := collections.Status{ID: fmt.Sprint("live", i), APIRoot: "api1", Expires: now.Add(time.Hour), TotalCount: 1,
			Successes: []collections.StatusDetail{{ID: "a"}}}
		if err := s.CreateStatus(ctx, live); err != nil {
			t.Fatal(err)
		}
		if st, en := count(); st != want[0] || en != want[1] {
			t.Errorf("after write %d: %d statuses, %d entries; want %d, %d", i, st, en, want[0], want[1])
		}
	}
}
