package mongo

import (
	"testing"

	"github.com/taxiid/taxiid/collections/mongo/mongotest"
)

// openHandles opens n handles on one new database, as n processes would.
func openHandles(t *testing.T, n int) []*Store {
	t.Helper()
	srv := mongotest.Start(t)
	db := mongotest.Database(t, srv)
	stores := make([]*Store, 0, n)
	for range n {
		s, err := Open(t.Context(), srv.URI, Options{Database: db})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	return stores
}
