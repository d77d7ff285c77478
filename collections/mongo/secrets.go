package mongo

import (
	"context"
	"errors"
)

// Secret implements collections.Store.
func (s *Store) Secret(ctx context.Context, name string, newSecret func() ([]byte, error)) ([]byte, error) {
	return nil, errors.New("mongo: not implemented")
}
