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
	"fmt"
	"time"

	"github.com/taxiid/taxiid/stix"
)

// Errors returned by Store implementations. Callers compare with errors.Is;
// the wrapped message says what happened, never in a database's words.
var (
	// ErrNotFound: the API root, collection, object or status does not exist
	// (or, for a status, has expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts what is stored (an alias another
	// collection of the API root uses, a collection id used in another API
	// root, a status id taken, a status no longer pending...). Wrapped
	// errors say which.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request breaks a rule of the domain (see
	// APIRoot.Validate and Collection.Validate) or exceeds a documented
	// limit (see Query). Wrapped errors say which.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the store cannot answer now (its server is
	// unreachable, or did not answer within the call's deadline); the call
	// may succeed if retried later. A write that fails with it may have
	// taken effect (its answer was lost); writes are safe to retry.
	ErrUnavailable = errors.New("store unavailable")
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
	APIRoot string // Path of the owning API root
	// ID is a lower-case UUID, unique in the whole store: a collection id
	// names one collection, whatever its API root.
	ID          string
	Alias       string // optional, unique within the API root
	Title       string
	Description string
	MediaTypes  []string
	// Validation is the stix validation level of objects pushed to the
	// collection ("strict", "default", "permissive"); "" means the
	// server's default.
	Validation string
	// UnmarkedTLP is the TLP level recorded for versions pushed without a
	// TLP marking; stix.TLPNone means the most restrictive, TLPRed, so that
	// an unmarked object is never shown to a partner with a ceiling unless
	// the collection says so.
	UnmarkedTLP stix.TLP
}

// Object is one stored version of a STIX object.
type Object struct {
	// ID is the STIX id, "<type>--<uuid>", canonical (CanonicalID): its UUID
	// in lower case, whatever the case it was pushed in.
	ID          string
	Type        string
	SpecVersion string // "2.1", "2.0", ...
	// Version identifies this version of the object: its modified timestamp,
	// else created, else the date_added of its first push (TAXII 2.1 section
	// 3.4.1, "version"). It keeps the precision pushed, to the nanosecond.
	Version time.Time
	// DateAdded is assigned by the store, in microseconds, strictly increasing
	// within a collection.
	DateAdded time.Time
	// Raw is the object exactly as pushed (compacted JSON). Empty when the
	// query asked for metadata only.
	Raw []byte
	// TLP and GranularTLP are NewObject's, as recorded at ingest.
	TLP         stix.TLP
	GranularTLP stix.TLP
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
	// Created is the object's created timestamp (zero: none) and Revoked
	// its revoked property: the cross-version rules need them.
	Created time.Time
	Revoked bool
	Raw     []byte
	// TLP is the level that decides who may see the version: the highest
	// TLP level among its object_marking_refs (the collection's
	// UnmarkedTLP when it has none), raised to the level of any granular
	// marking on a property the object cannot be served without (its
	// required properties). A requester whose ceiling is below it never
	// sees the version. Always set (never TLPNone) by the ingester.
	TLP stix.TLP
	// GranularTLP is the highest TLP level among its granular_markings
	// (TLPNone: none): a requester whose ceiling is below it gets a copy
	// without the properties so marked.
	GranularTLP stix.TLP
	// Markings are the marking-definition ids the version references
	// (object_marking_refs and granular_markings' marking_ref), each once.
	Markings []string
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
	// Refused: a cross-version rule forbids the version (see PlanAdd);
	// AddResult.Message says which stored version it contradicts. Nothing
	// changed.
	Refused
)

// AddResult reports what happened to one NewObject, in input order.
type AddResult struct {
	Outcome   Outcome
	Version   time.Time // the version as stored (resolved when NewObject.Version was zero)
	DateAdded time.Time // of the stored version (the existing one when Unchanged or Conflict; zero when Refused)
	Message   string    // why, when Refused
}

// AddOptions tune one AddObjects call.
type AddOptions struct {
	// SkipVersionRules leaves out the cross-version rules (the permissive
	// validation level).
	SkipVersionRules bool
	// Status, when not nil, records the outcome of each object in a stored
	// status, in the same transaction as the objects.
	Status *StatusUpdate
}

// StatusUpdate ties an AddObjects call to a status resource: the objects
// are the status's next pending entries, in order (entries settle in the
// order of Status.Pendings as created), and each settles as Settle says.
type StatusUpdate struct {
	APIRoot, ID string
	// New, when not nil, is created first, in the same transaction, as
	// CreateStatus would; its APIRoot and ID are those above.
	New *Status
	// Expires is the status's expiry from this update on.
	Expires time.Time
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

// MaxQueryValues is the most values a Query may list in each of IDs, Types,
// Versions.Exact and SpecVersions; a store answers any query within it (a
// longer list is ErrInvalid).
const MaxQueryValues = 100

// Query selects objects in one collection. Results are ordered by DateAdded,
// ascending.
type Query struct {
	APIRoot    string
	Collection string // collection ID

	// IDs is match[id]; empty: any. Ids match whatever the case of their
	// UUID.
	IDs   []string
	Types []string // match[type]; empty: any
	// Versions is match[version]; zero value: latest version of each object.
	Versions VersionFilter
	// SpecVersions is match[spec_version]. Empty: for each object only the
	// versions of its latest spec version. When several are given, version
	// selection (first/last) applies within each spec version.
	SpecVersions []string
	// AllSpecVersions drops the spec-version rule: versions of every spec
	// version, first/last within each. With Versions.All it selects every
	// stored version of the collection (an export). SpecVersions must then
	// be empty.
	AllSpecVersions bool

	// AddedAfter keeps only objects with DateAdded strictly after it (zero:
	// no bound). Pagination cursors are expressed through it too.
	AddedAfter time.Time
	// AddedUntil keeps only objects with DateAdded at or before it (zero:
	// no bound): an embargo shows a requester only what was added long
	// enough ago.
	AddedUntil time.Time
	// MaxTLP is the requester's TLP ceiling: only versions whose TLP is at
	// most MaxTLP exist for the query, in pages, More and every count
	// (stix.TLPNone: no ceiling). Stores answer it from an index, never
	// by dropping rows of a page read without it.
	MaxTLP stix.TLP
	// Limit is the page size, at least 1.
	Limit int
	// MaxBytes, when positive, also ends the page once the Raw of its
	// objects add up to at least MaxBytes (a page holds at least one
	// object), so that a page of large objects stays bounded.
	MaxBytes int
	// MetadataOnly leaves Object.Raw empty (manifest and versions).
	MetadataOnly bool
}

// Check reports what makes q unanswerable: a Limit below 1, a list longer
// than MaxQueryValues, AllSpecVersions with SpecVersions. The error wraps
// ErrInvalid.
func (q Query) Check() error {
	if q.Limit < 1 {
		return fmt.Errorf("%w: limit %d, want at least 1", ErrInvalid, q.Limit)
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"ids", len(q.IDs)}, {"types", len(q.Types)}, {"versions", len(q.Versions.Exact)}, {"spec versions", len(q.SpecVersions)}} {
		if l.n > MaxQueryValues {
			return fmt.Errorf("%w: %d %s, at most %d", ErrInvalid, l.n, l.name, MaxQueryValues)
		}
	}
	if q.AllSpecVersions && len(q.SpecVersions) > 0 {
		return fmt.Errorf("%w: all spec versions and a spec-version list", ErrInvalid)
	}
	if q.MaxTLP > stix.TLPRed {
		return fmt.Errorf("%w: TLP ceiling %d", ErrInvalid, q.MaxTLP)
	}
	return nil
}

// Marking is a marking definition referenced by versions of a collection.
type Marking struct {
	ID string // marking-definition--<uuid>
	// TLP is the marking's TLP level, stix.TLPNone for a marking that is
	// not a TLP one.
	TLP stix.TLP
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
	ID      string
	APIRoot string
	// Collection is the id of the collection the objects were pushed to,
	// Owner the requester who pushed them ("" when anonymous): reading a
	// status can be restricted to them.
	Collection string
	Owner      string
	// Status is StatusPending while any entry is pending, else
	// StatusComplete.
	Status           string
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
// Implementations are safe for concurrent use, also by several handles (or
// processes, or replicas) on one database. Every write method is atomic and
// returns only after its effect is durable: a crash after it returns loses
// nothing, a crash before leaves nothing of it. Times are returned in UTC.
// Errors are ErrNotFound, ErrConflict or ErrInvalid (wrapped, with a
// message that speaks of the domain) where the methods say so; any other
// error is a failure of the store itself.
type Store interface {
	// APIRoots returns every API root, ordered by Path.
	APIRoots(ctx context.Context) ([]APIRoot, error)
	// PutAPIRoot creates or replaces the API root with root.Path.
	// ErrInvalid if root.Validate reports a problem.
	PutAPIRoot(ctx context.Context, root APIRoot) error

	// Collections returns the collections of an API root ordered by ID.
	// ErrNotFound if the API root does not exist.
	Collections(ctx context.Context, apiRoot string) ([]Collection, error)
	// Collection returns one collection. ErrNotFound if it does not exist.
	Collection(ctx context.Context, apiRoot, id string) (Collection, error)
	// PutCollection creates or replaces the collection (c.APIRoot, c.ID);
	// its objects stay. ErrInvalid if c.Validate reports a problem,
	// ErrNotFound if the API root does not exist, ErrConflict if another
	// collection of the API root has the alias or another API root has a
	// collection with the id.
	PutCollection(ctx context.Context, c Collection) error

	// DeleteCollection removes a collection and its objects; its statuses
	// expire as usual. Other handles see it gone at once and may no longer
	// write to it; a collection created again with the same id starts
	// empty. ErrNotFound if it does not exist.
	DeleteCollection(ctx context.Context, apiRoot, id string) error
	// DeleteAPIRoot removes an API root that has no collections.
	// ErrNotFound if it does not exist, ErrConflict if it has collections.
	DeleteAPIRoot(ctx context.Context, path string) error

	// AddObjects stores a batch of objects in one collection, atomically, and
	// returns one result per object in input order, as PlanAdd decides it
	// (ids are made canonical first). Each added version gets its own
	// DateAdded, later than every DateAdded already in the collection, in
	// input order.
	//
	// Visibility follows DateAdded: an added version becomes visible to
	// Objects only once every version of the collection with a smaller
	// DateAdded is, so that a client that has read past a DateAdded never
	// misses a version that shows up later below it.
	//
	// ErrNotFound if the collection does not exist. With opts.Status:
	// ErrNotFound if the status does not exist, ErrConflict if it has fewer
	// pending entries than objs (it was completed meanwhile) or, with
	// New, if its id is taken; nothing is stored then.
	AddObjects(ctx context.Context, apiRoot, collection string, objs []NewObject, opts AddOptions) ([]AddResult, error)
	// Objects answers one page of q, ordered by DateAdded, from index ranges
	// bounded by q.Limit (never a scan of the collection). A query on a
	// missing collection returns an empty page. ErrInvalid if q.Check
	// fails. A version deleted by DeleteObject is never returned again.
	Objects(ctx context.Context, q Query) (Page, error)
	// DeleteObject removes the versions of object id (any case of its UUID)
	// selected by versions and specVersions, as PlanDelete decides it, and
	// returns how many were removed. ErrNotFound when none matched.
	DeleteObject(ctx context.Context, apiRoot, collection, id string, versions VersionFilter, specVersions []string) (int, error)

	// CreateStatus stores a new status resource. Its entries are kept in
	// order: Successes, Failures, then Pendings, which AddObjects settles
	// in that order (see StatusUpdate). ErrConflict if the API root has a
	// status with that id.
	CreateStatus(ctx context.Context, s Status) error
	// Status returns a status resource of an API root, every entry of each
	// list in the order it was created or settled in. ErrNotFound if it
	// does not exist or has expired.
	Status(ctx context.Context, apiRoot, id string) (Status, error)
	// PendingStatuses returns statuses that are still pending and were last
	// written (created, or settled by AddObjects) before before, oldest
	// first, at most limit, without their entries (TotalCount is set): the
	// pushes a crash or a lost replica left unfinished.
	PendingStatuses(ctx context.Context, before time.Time, limit int) ([]Status, error)
	// FailPendings completes a status: each of its pending entries becomes
	// a failure with message, and it expires at expires. It returns how
	// many entries it failed (0 for a complete status). ErrNotFound if the
	// status does not exist or has expired.
	FailPendings(ctx context.Context, apiRoot, id, message string, expires time.Time) (int, error)

	// Markings returns the marking definitions referenced by versions of
	// the collection that a requester with ceiling maxTLP (stix.TLPNone:
	// none) and embargo bound addedUntil (as Query.AddedUntil: versions
	// added at or before it; zero: none) may see, ordered by ID: a marking
	// referenced only by versions above the ceiling or added after the
	// bound is left out. Under a bound, a marking referenced only by
	// deleted versions is left out too; without one a store may keep
	// listing it. A missing collection has none. It answers from an
	// index, in time proportional to the markings and levels, never to
	// the versions.
	Markings(ctx context.Context, apiRoot, collection string, maxTLP stix.TLP, addedUntil time.Time) ([]Marking, error)

	// Watermarks returns, for each of the collections named by id (ids
	// are unique in the store) that exists, a mark that changes whenever
	// versions become visible in it: the DateAdded of its newest visible
	// version (zero while it has none). Collections that do not exist are
	// left out. It answers from an index or the collection records, in
	// one round trip, so that a server may ask it every second for the
	// collections its waiting requests watch. It may also change on other
	// writes (a delete). ErrInvalid for more than MaxQueryValues ids.
	Watermarks(ctx context.Context, ids []string) (map[string]time.Time, error)

	// Secret returns the named secret, creating it from newSecret on first
	// use, so that every handle and replica on the same store shares it.
	Secret(ctx context.Context, name string, newSecret func() ([]byte, error)) ([]byte, error)

	// Close releases the store. Writes are durable when their methods
	// return, so nothing is lost.
	Close() error
}
