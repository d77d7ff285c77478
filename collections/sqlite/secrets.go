package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Secret implements collections.Store. newSecret is called only when the
// secret does not exist yet; if another writer creates it first, that one
// wins and is returned.
func (s *Store) Secret(ctx context.Context, name string, newSecret func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get secret %q: %w", name, err)
	}
	fresh, err := newSecret()
	if err != nil {
		return nil, fmt.Errorf("sqlite: new secret %q: %w", name, err)
	}
	if fresh == nil {
		fresh = []byte{} // the driver binds nil as NULL
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", name, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: create secret %q: %w", name, err)
	}
	return v, nil
}
