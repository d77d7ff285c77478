package mongo

import (
	"context"
	"errors"

	"github.com/taxiid/taxiid/collections"
)

// objectIndexes serve the queries of objects.go, query.go and delete.go.
var objectIndexes = []index{}

// AddObjects implements collections.Store.
func (s *Store) AddObjects(ctx context.Context, apiRoot, collection string, objs []collections.NewObject, opts collections.AddOptions) ([]collections.AddResult, error) {
	return nil, errors.New("mongo: AddObjects not implemented")
}

// Objects implements collections.Store.
func (s *Store) Objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	return collections.Page{}, errors.New("mongo: Objects not implemented")
}

// DeleteObject implements collections.Store.
func (s *Store) DeleteObject(ctx context.Context, apiRoot, collection, id string, versions collections.VersionFilter, specVersions []string) (int, error) {
	return 0, errors.New("mongo: DeleteObject not implemented")
}
