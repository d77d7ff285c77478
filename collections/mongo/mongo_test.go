package mongo_test

import (
	"context"
	"sync"
	"testing"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/authz/authztest"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mongo"
	"github.com/taxiid/taxiid/collections/mongo/mongotest"
	"github.com/taxiid/taxiid/collections/storetest"
)

// target is where a store's database lives, so that a second handle can
// open it.
type target struct {
	srv mongotest.Server
	db  string
}

// open opens a store on a fresh database of a fresh (or the external)
// server.
func open(tb testing.TB) (*mongo.Store, target) {
	tb.Helper()
	srv := mongotest.Start(tb)
	tg := target{srv: srv, db: mongotest.Database(tb, srv)}
	return reopen(tb, tg), tg
}

// reopen opens another handle on tg's database.
func reopen(tb testing.TB, tg target) *mongo.Store {
	tb.Helper()
	s, err := mongo.Open(context.Background(), tg.srv.URI, mongo.Options{Database: tg.db})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	var targets sync.Map // *mongo.Store -> target
	storetest.RunTests(t, storetest.Backend{
		New: func(t *testing.T) collections.Store {
			s, tg := open(t)
			targets.Store(s, tg)
			return s
		},
		Another: func(t *testing.T, s collections.Store) collections.Store {
			tg, _ := targets.Load(s)
			return reopen(t, tg.(target))
		},
	})
}

func TestAuthzStore(t *testing.T) {
	authztest.RunTests(t, func(t *testing.T) authz.Store {
		s, _ := open(t)
		return s
	})
}

func TestAuthzStoreShared(t *testing.T) {
	authztest.RunSharedTests(t, func(t *testing.T) (authz.Store, authz.Store) {
		s, tg := open(t)
		return s, reopen(t, tg)
	})
}

// TestOpenConcurrently: a second Open of a migrated database finds the work done,
// and several processes may start on one new database at once.
func TestOpenConcurrently(t *testing.T) {
	srv := mongotest.Start(t)
	tg := target{srv: srv, db: mongotest.Database(t, srv)}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := mongo.Open(context.Background(), tg.srv.URI, mongo.Options{Database: tg.db})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	reopen(t, tg)
}
