package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/authz/authztest"
)

func TestAuthzStore(t *testing.T) {
	authztest.RunTests(t, func(t *testing.T) authz.Store {
		return open(t, filepath.Join(t.TempDir(), "taxiid.db"))
	})
}

func TestAuthzStoreShared(t *testing.T) {
	authztest.RunSharedTests(t, func(t *testing.T) (authz.Store, authz.Store) {
		path := filepath.Join(t.TempDir(), "taxiid.db")
		return open(t, path), open(t, path)
	})
}
