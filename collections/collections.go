// Package collections holds taxiid's domain: API roots, collections, the
// STIX objects stored in them, add-objects status resources, and the Store
// interface every storage backend implements.
//
// Backends live in sub-packages (collections/sqlite, ...) and are held to one
// contract, the suite in collections/storetest.
package collections

import (
	"context"
	"errors"
	"time"
)

// Errors returned by Store implementations. Callers compare with errors.Is.
var (
	// ErrNotFound: the API root, collection, object or status does not exist
	// (or, for a status, has expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts what is stored (an alias another
	// collection of the API root uses, ...). Wrapped errors say which.
	ErrConflict = errors.New("conflict")
)

// APIRoot is a TAXII API root (TAXII 2.1 section 4.2.1).
type APIRoot struct {
	// Path is the single URL path segment that names the root, e.g. "api1".
	Path             string
	Title            string
	Description      string
	MaxContentLength int64
}

// Collection is a TAXII collection (TAXII 2.1 section 5.2.1).
type Collection struct {
	APIRoot     string // Path of the owning API root
	ID          string // UUID
	Alias       string // optional, unique within the API root
	Title       string
	Description string
	MediaTypes  []string
}

// Object is one stored version of a STIX object.
type Object struct {
	ID          string // STIX id, "<type>--<uuid>"
	Type        string
	SpecVersion string // "2.1", "2.0", ...
	// Version identifies this version of the object: its modified timestamp,
	// else created, else the date_added of its first push (TAXII 2.1 section
	// 3.4.1, "version").
	Version time.Time
	// DateAdded is assigned by the store, in microseconds, strictly increasing
	// within a collection.
	DateAdded time.Time
	// Raw is the object exactly as pushed (compacted JSON). Empty when the
	// query asked for metadata only.
	Raw []byte
}

// NewObject is an object offered to AddObjects, already validated.
type NewObject struct {
	ID          string
	Type        string
	SpecVersion string
	// Version is the modified (else created) timestamp; zero when the object
	// has neither, in which case the store uses the date_added of the first
	// push of that id with a zero version, so that re-pushing it is idempotent.
	Version time.Time
	Raw     []byte
}

// Outcome is what AddObjects did with one NewObject.
type Outcome int

const (
	// Added: the version was new and is now stored.
	Added Outcome = iota + 1
	// Unchanged: the same (id, version) with the same content was stored
	// already; nothing changed.
	Unchanged
	// Conflict: a different object with the same (id, version) is stored;
	// nothing changed.
	Conflict
)

// AddResult reports what happened to one NewObject, in input order.
type AddResult struct {
	Outcome   Outcome
	Version   time.Time // the version as stored (resolved when NewObject.Version was zero)
	DateAdded time.Time // of the stored version (the existing one when Unchanged or Conflict)
}

// VersionFilter selects versions of each object (TAXII 2.1 section 3.4.1,
// match[version]). The zero value selects the latest version.
type VersionFilter struct {
	All   bool // every version; never combined with the others
	First bool
	Last  bool
	Exact []time.Time
}

// IsZero reports whether no selector is set (meaning: latest only).
func (f VersionFilter) IsZero() bool {
	return !f.All && !f.First && !f.Last && len(f.Exact) == 0
}

// Query selects objects in one collection. Results are ordered by DateAdded,
// ascending.
type Query struct {
	APIRoot    string
	Collection string // collection ID

	IDs   []string // match[id]; empty: any
	Types []string // match[type]; empty: any
	// Versions is match[version]; zero value: latest version of each object.
	Versions VersionFilter
	// SpecVersions is match[spec_version]. Empty: for each object only the
	// versions of its latest spec version. When several are given, version
	// selection (first/last) applies within each spec version.
	SpecVersions []string

	// AddedAfter keeps only objects with DateAdded strictly after it (zero:
	// no bound). Pagination cursors are expressed through it too.
	AddedAfter time.Time
	// Limit is the page size, at least 1.
	Limit int
	// MaxBytes, when positive, also ends the page once the Raw of its
	// objects add up to at least MaxBytes (a page holds at least one
	// object), so that a page of large objects stays bounded.
	MaxBytes int
	// MetadataOnly leaves Object.Raw empty (manifest and versions).
	MetadataOnly bool
}

// Page is one page of a query's results.
type Page struct {
	Objects []Object
	// More reports that further results exist after the last object.
	More bool
}

// Status values (TAXII 2.1 section 4.3.1).
const (
	StatusPending  = "pending"
	StatusComplete = "complete"
)

// Status is an add-objects status resource.
type Status struct {
	ID               string
	APIRoot          string
	Status           string // StatusPending or StatusComplete
	RequestTimestamp time.Time
	TotalCount       int
	Successes        []StatusDetail
	Failures         []StatusDetail
	Pendings         []StatusDetail
	// Expires is when the store may forget the status; Status returns
	// ErrNotFound after it (at once for a zero Expires).
	Expires time.Time
}

// StatusDetail is one object's entry in a status resource.
type StatusDetail struct {
	ID      string
	Version string
	Message string
}

// Store is the persistence of API roots, collections, objects and statuses.
//
// Implementations are safe for concurrent use. Every write method returns
// only after its effect is durable: a crash after it returns loses nothing.
// Times are returned in UTC.
type Store interface {
	// APIRoots returns every API root, ordered by Path.
	APIRoots(ctx context.Context) ([]APIRoot, error)
	// PutAPIRoot creates or replaces the API root with root.Path.
	PutAPIRoot(ctx context.Context, root APIRoot) error

	// Collections returns the collections of an API root ordered by ID.
	// ErrNotFound if the API root does not exist.
	Collections(ctx context.Context, apiRoot string) ([]Collection, error)
	// Collection returns one collection. ErrNotFound if it does not exist.
	Collection(ctx context.Context, apiRoot, id string) (Collection, error)
	// PutCollection creates or replaces the collection (c.APIRoot, c.ID).
	// The API root must exist (else ErrNotFound); an alias another
	// collection of the root already uses is an error.
	PutCollection(ctx context.Context, c Collection) error

	// AddObjects stores a batch of objects in one collection, atomically, and
	// returns one result per object in input order. Each added version gets
	// its own DateAdded, later than every DateAdded already in the
	// collection, in input order. ErrNotFound if the collection does not
	// exist.
	AddObjects(ctx context.Context, apiRoot, collection string, objs []NewObject) ([]AddResult, error)
	// Objects answers one page of q from an index, ordered by DateAdded.
	// A query on a missing collection returns an empty page; q.Limit must
	// be at least 1.
	Objects(ctx context.Context, q Query) (Page, error)
	// DeleteObject removes the versions of object id selected by versions
	// and specVersions (zero values: every version; First and Last apply
	// within each spec version) and returns how many were removed.
	// ErrNotFound when none matched.
	DeleteObject(ctx context.Context, apiRoot, collection, id string, versions VersionFilter, specVersions []string) (int, error)

	// PutStatus creates or replaces a status resource.
	PutStatus(ctx context.Context, s Status) error
	// Status returns a status resource of an API root. ErrNotFound if it
	// does not exist or has expired.
	Status(ctx context.Context, apiRoot, id string) (Status, error)

	// Secret returns the named secret, creating it from newSecret on first
	// use, so that every replica on the same store shares it.
	Secret(ctx context.Context, name string, newSecret func() ([]byte, error)) ([]byte, error)

	// Close releases the store; pending writes are flushed.
	Close() error
}
