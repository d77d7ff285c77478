package mongo

import (
	"context"
	"errors"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// statusIndexes serve the queries of status.go.
var statusIndexes = []index{}

// CreateStatus implements collections.Store.
func (s *Store) CreateStatus(ctx context.Context, st collections.Status) error {
	return errors.New("mongo: not implemented")
}

// Status implements collections.Store.
func (s *Store) Status(ctx context.Context, apiRoot, id string) (collections.Status, error) {
	return collections.Status{}, errors.New("mongo: not implemented")
}

// PendingStatuses implements collections.Store.
func (s *Store) PendingStatuses(ctx context.Context, before time.Time, limit int) ([]collections.Status, error) {
	return nil, errors.New("mongo: not implemented")
}

// FailPendings implements collections.Store.
func (s *Store) FailPendings(ctx context.Context, apiRoot, id, message string, expires time.Time) (int, error) {
	return 0, errors.New("mongo: not implemented")
}

// beginStatus prepares the status update of an AddObjects call of n
// objects, before any object is written: it creates upd.New when set
// (ErrConflict if the id is taken), and checks that the status exists
// (ErrNotFound) and has at least n pending entries (ErrConflict).
func (s *Store) beginStatus(ctx context.Context, upd *collections.StatusUpdate, n int) error {
	return errors.New("mongo: not implemented")
}

// settleStatus settles the next len(results) pending entries of the status
// as results say, once the objects are committed, and moves its expiry to
// upd.Expires.
func (s *Store) settleStatus(ctx context.Context, upd *collections.StatusUpdate, results []collections.AddResult) error {
	return errors.New("mongo: not implemented")
}
