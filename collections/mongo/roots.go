package mongo

import (
	"context"
	"errors"

	"github.com/taxiid/taxiid/collections"
)

// rootIndexes serve the queries of roots.go.
var rootIndexes = []index{}

// collDoc is the document of one collection in the "collections"
// MongoDB collection. Besides the TAXII description it holds what writers
// of the collection share (see lock.go).
type collDoc struct {
	ID          string   `bson:"_id"` // the collection id: unique in the store
	APIRoot     string   `bson:"api_root"`
	Alias       string   `bson:"alias,omitempty"`
	Title       string   `bson:"title"`
	Description string   `bson:"description"`
	MediaTypes  []string `bson:"media_types"`
	Validation  string   `bson:"validation"`
	// Key is the collection's incarnation: the c field of its objects and
	// heads. A collection deleted and created again gets a new key, so
	// that it starts empty whatever is left of the old objects.
	Key string `bson:"key"`
	// Committed is the visibility watermark (µs): every version of the
	// collection with date_added <= Committed is complete, and readers
	// see no other.
	Committed int64 `bson:"committed"`
	// Last is the highest date_added (µs) handed out.
	Last int64 `bson:"last"`
	// Lock is the writer lease, nil when no writer holds it.
	Lock *writeLock `bson:"lock,omitempty"`
}

// writeLock is a writer's lease on a collection (see lock.go).
type writeLock struct {
	Token string `bson:"token"` // random, names the holder
	Until int64  `bson:"until"` // ms since the Unix epoch, the holder's clock
	// IDs are the canonical object ids the holder's batch writes: if the
	// holder dies, the next writer repairs their heads and marks.
	IDs []string `bson:"ids"`
}

// collection returns the document of a live collection of apiRoot, or
// collections.ErrNotFound.
func (s *Store) collection(ctx context.Context, apiRoot, id string) (collDoc, error) {
	return collDoc{}, errors.New("mongo: collection not implemented")
}

// APIRoots implements collections.Store.
func (s *Store) APIRoots(ctx context.Context) ([]collections.APIRoot, error) {
	return nil, errors.New("mongo: not implemented")
}

// PutAPIRoot implements collections.Store.
func (s *Store) PutAPIRoot(ctx context.Context, root collections.APIRoot) error {
	return errors.New("mongo: not implemented")
}

// Collections implements collections.Store.
func (s *Store) Collections(ctx context.Context, apiRoot string) ([]collections.Collection, error) {
	return nil, errors.New("mongo: not implemented")
}

// Collection implements collections.Store.
func (s *Store) Collection(ctx context.Context, apiRoot, id string) (collections.Collection, error) {
	return collections.Collection{}, errors.New("mongo: not implemented")
}

// PutCollection implements collections.Store.
func (s *Store) PutCollection(ctx context.Context, c collections.Collection) error {
	return errors.New("mongo: not implemented")
}

// DeleteCollection implements collections.Store.
func (s *Store) DeleteCollection(ctx context.Context, apiRoot, id string) error {
	return errors.New("mongo: not implemented")
}

// DeleteAPIRoot implements collections.Store.
func (s *Store) DeleteAPIRoot(ctx context.Context, path string) error {
	return errors.New("mongo: not implemented")
}
