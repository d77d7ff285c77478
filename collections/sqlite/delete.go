package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/taxiid/taxiid/collections"
)

// deleteBatch bounds the objects removed per transaction when a collection
// is deleted, so that other writers wait for one batch, not for all of it.
const deleteBatch = 5000

// DeleteCollection removes a collection and its objects. ErrNotFound if it
// does not exist. The objects go first, in batches, so that other writers
// wait for one batch at a time, not for all of it; the last transaction
// removes what is left (objects pushed meanwhile included) with the
// collection itself.
func (s *Store) DeleteCollection(ctx context.Context, apiRoot, id string) error {
	var coll int64
	err := s.r.QueryRowContext(ctx, "SELECT coll FROM collections WHERE api_root = ? AND id = ? AND deleted = 0", apiRoot, id).Scan(&coll)
	if errors.Is(err, sql.ErrNoRows) {
		return collections.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete collection: %w", err)
	}
	const (
		delObjects  = "DELETE FROM objects WHERE date_added IN (SELECT date_added FROM objects WHERE coll = ? LIMIT ?)"
		delMarkings = "DELETE FROM marking_versions WHERE (coll, marking, tlp, date_added) IN " +
			"(SELECT coll, marking, tlp, date_added FROM marking_versions WHERE coll = ? LIMIT ?)"
		delHeads = "DELETE FROM heads WHERE (coll, uuid, type) IN (SELECT coll, uuid, type FROM heads WHERE coll = ? LIMIT ?)"
	)
	// The versions' marking_versions rows go in the transactions that
	// delete versions, a batch of each at a time.
	for _, qs := range [][]string{{delObjects, delMarkings}, {delHeads}} {
		for {
			full := false
			err := s.writeTx(ctx, func(tx *sql.Tx) error {
				full = false
				for _, q := range qs {
					res, err := tx.ExecContext(ctx, q, coll, deleteBatch)
					if err != nil {
						return fmt.Errorf("sqlite: delete collection %s/%s: %w", apiRoot, id, err)
					}
					n, err := res.RowsAffected()
					if err != nil {
						return err
					}
					full = full || n == deleteBatch
				}
				return nil
			})
			if err != nil {
				return err
			}
			if !full {
				break
			}
		}
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		// The row stays, marked deleted (migration 0005), until its API
		// root is deleted: a collection created again under the same API
		// root and id gets its coll key back. Handles check a cached key
		// against its row before use (Store.collection), since after
		// DeleteAPIRoot SQLite may give the key to a new collection.
		for _, q := range []string{"DELETE FROM objects WHERE coll = ?", "DELETE FROM heads WHERE coll = ?", "DELETE FROM markings WHERE coll = ?", "DELETE FROM marking_versions WHERE coll = ?",
			"UPDATE collections SET deleted = 1, alias = NULL WHERE coll = ?"} {
			if _, err := tx.ExecContext(ctx, q, coll); err != nil {
				return fmt.Errorf("sqlite: delete collection %s/%s: %w", apiRoot, id, err)
			}
		}
		return nil
	})
	return err
}

// DeleteAPIRoot removes an API root without collections. ErrNotFound if it
// does not exist, ErrConflict if it has collections.
func (s *Store) DeleteAPIRoot(ctx context.Context, path string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM api_roots WHERE path = ?", path).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return collections.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sqlite: delete API root: %w", err)
		}
		err = tx.QueryRowContext(ctx, "SELECT 1 FROM collections WHERE api_root = ? AND deleted = 0 LIMIT 1", path).Scan(&one)
		if err == nil {
			return fmt.Errorf("%w: API root %s has collections", collections.ErrConflict, path)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: delete API root: %w", err)
		}
		// Its deleted collections go with it (their objects are gone).
		if _, err := tx.ExecContext(ctx, "DELETE FROM collections WHERE api_root = ? AND deleted = 1", path); err != nil {
			return fmt.Errorf("sqlite: delete API root: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM api_roots WHERE path = ?", path); err != nil {
			return fmt.Errorf("sqlite: delete API root: %w", err)
		}
		return nil
	})
}
