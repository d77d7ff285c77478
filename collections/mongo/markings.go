package mongo

import (
	"context"
	"errors"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Markings implements collections.Store.
func (s *Store) Markings(ctx context.Context, apiRoot, collection string, maxTLP stix.TLP) ([]collections.Marking, error) {
	return nil, errors.New("mongo: Markings not implemented")
}
