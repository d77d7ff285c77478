package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/collections/mirror/mirrortest"
	"github.com/taxiid/taxiid/collections/sqlite"
)

func TestMirrorStore(t *testing.T) {
	mirrortest.RunTests(t, func(t *testing.T) mirror.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "taxiid.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
