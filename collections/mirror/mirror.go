// Package mirror fills local collections with the objects of collections
// of other TAXII 2.1 servers ("sources"). An admin declares a source; the
// Runner of every taxiid process on the store competes for a lease per
// source, and the holder pulls the remote collection page by page with
// added_after and next, stores each page as a push would (validation,
// cross-version and conflict rules, through collections.Ingester) and
// records the page's cursor, counters and rejections in the store, so
// that a pull cut short by a crash, a restart or a network failure
// resumes where the last recorded page ended. A push source forwards a
// local collection to a remote one the same way, in the other direction.
//
// Files: mirror.go (the domain and the Store interface), service.go (what
// the admin API and CLI call: declaring sources, sealing credentials),
// client.go (a bounded TAXII 2.1 client), pull.go (one pull of one
// source, and the lease), push.go (one push), runner.go (the loop),
// mirrortest (the Store contract suite).
package mirror

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// ErrLeaseLost is returned by the writes of a pull whose lease another
// process holds now: the pull stops, and the other one carries on from the
// cursor last recorded.
var ErrLeaseLost = errors.New("the source's lease is held by another process")

// Bounds of what the store keeps per source.
const (
	// MaxRejections is how many rejected objects are kept per source, the
	// newest.
	MaxRejections = 1000
	// MaxBatches is how many page records (provenance) are kept per
	// source, the newest.
	MaxBatches = 1000
	// MaxMessage bounds a stored rejection or error message, in bytes.
	MaxMessage = 1000
)

// Directions of a source.
const (
	// Pull fills the local collection with the remote's objects.
	Pull = "pull"
	// Push forwards the local collection's objects to the remote one.
	Push = "push"
)

// Source is a remote TAXII 2.1 collection mirrored into a local one, or
// (Direction Push) a remote collection the local one is forwarded to.
type Source struct {
	// Name identifies the source: 1 to 64 of a-z, 0-9, '-', '_', starting
	// with a letter or digit.
	Name string
	// URL is the remote collection's URL, ending in "/" (TAXII 2.1
	// section 5.2: <api-root>/collections/<id>/); its objects are read
	// at URL + "objects/".
	URL string
	// Username (HTTP Basic, with the sealed password) or a bearer token
	// (sealed) authenticate to the remote; Sealed holds the secrets,
	// encrypted (see Service).
	Username string
	Sealed   []byte
	// CertFile and KeyFile: a client certificate presented to the remote;
	// CAFile: the CAs that verify the remote's certificate (the system's
	// when empty). Paths on the machines taxiid runs on.
	CertFile, KeyFile, CAFile string
	// AllowHTTP allows plain http:// to a host that is not a loopback
	// address (a test network, a sidecar proxy).
	AllowHTTP bool
	// APIRoot and Collection name the local collection filled (pull) or
	// forwarded (push).
	APIRoot, Collection string
	// Direction is Pull or Push.
	Direction string
	// MaxTLP, for a push, is the highest TLP level forwarded
	// (stix.TLPNone: every level): a version above it, or with a granular
	// marking above it, is not sent (the remote gets the bytes stored,
	// never a copy without the marked properties).
	MaxTLP stix.TLP
	// Interval is the time between pulls once caught up.
	Interval time.Duration
	Created  time.Time
}

// Cursor is how far a source has been pulled, in the remote's words; for
// a push, After is the local date_added of the last object the remote
// took (RFC 3339, microseconds), and Next and WalkAfter are unused.
type Cursor struct {
	// After is the added_after of the next walk ("" : from the start):
	// every object the remote added at or before it is stored locally.
	After string
	// Next is the remote's next token of a walk under way (""
	// otherwise), and WalkAfter the added_after that walk started with,
	// repeated with the token as TAXII 2.1 section 3.5 requires the
	// request's filters to be.
	Next, WalkAfter string
}

// Counters are what a source has moved, since it was declared.
type Counters struct {
	Pages     int64 // pages stored
	Objects   int64 // objects received
	Added     int64 // versions new to the local collection
	Unchanged int64 // versions it had already
	Rejected  int64 // objects not stored (see Rejection)
}

// State is a source's cursor, counters and health.
type State struct {
	Cursor   Cursor
	Counters Counters
	// LastSuccess is when a pull last reached the end of the remote's
	// objects (caught up); LastPage when a page was last stored.
	LastSuccess, LastPage time.Time
	// LastError is the last failure of a pull, at LastErrorAt; cleared
	// (empty) by the next pull that catches up.
	LastError   string
	LastErrorAt time.Time
	// Holder is the process holding the lease, until LeaseUntil.
	Holder     string
	LeaseUntil time.Time
}

// Rejection is an object of a source that was not stored.
type Rejection struct {
	At      time.Time
	ID      string // the object's id, as received (may be empty)
	Version string
	Reason  string // a validation rule code or a collections.Reason constant
	Message string
}

// Batch is the record of one stored page (provenance): which source it
// came from, the remote's date_added range and what became of it.
type Batch struct {
	At        time.Time
	First     string // X-TAXII-Date-Added-First of the page
	Last      string // X-TAXII-Date-Added-Last
	Objects   int
	Added     int
	Unchanged int
	Rejected  int
}

// PageRecord is what a pull records after storing one page: all of it or
// nothing, and only while its holder holds the lease.
type PageRecord struct {
	At     time.Time
	Cursor Cursor
	Batch  Batch
	// Rejections of the page, at most MaxRejections.
	Rejections []Rejection
	// CaughtUp: the page was the last (LastSuccess = At, LastError
	// cleared).
	CaughtUp bool
}

// Store keeps sources, their state, rejections and batches, and the lease
// that lets one process pull each source. Implemented by the backends
// (collections/sqlite, collections/mongo) and held to the suite in
// collections/mirror/mirrortest. Errors are collections.ErrNotFound,
// ErrConflict, ErrUnavailable (wrapped) as the methods say, or
// ErrLeaseLost.
type Store interface {
	// CreateSource stores a new source with an empty state. ErrConflict if
	// the name is taken.
	CreateSource(ctx context.Context, s Source) error
	// Source returns a source. ErrNotFound if none has the name.
	Source(ctx context.Context, name string) (Source, error)
	// Sources returns every source, ordered by name.
	Sources(ctx context.Context) ([]Source, error)
	// DeleteSource removes a source with its state, rejections and
	// batches; a pull under way fails its next write with ErrLeaseLost.
	// ErrNotFound if none has the name.
	DeleteSource(ctx context.Context, name string) error
	// SourceState returns a source's state. ErrNotFound if none.
	SourceState(ctx context.Context, name string) (State, error)

	// AcquireSourceLease gives the lease of the source to holder until
	// now+ttl when it is free, expired or already holder's (a renewal),
	// and reports whether holder holds it. ErrNotFound if no source.
	AcquireSourceLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseSourceLease frees the lease if holder holds it.
	ReleaseSourceLease(ctx context.Context, name, holder string) error

	// RecordPage records a stored page: the cursor, the counters, the
	// batch and the rejections, atomically as far as the backend allows
	// (the cursor and counters always together). ErrLeaseLost unless
	// holder holds the lease at now (r.At).
	RecordPage(ctx context.Context, name, holder string, r PageRecord) error
	// RecordError records a failed pull. ErrLeaseLost unless holder holds
	// the lease.
	RecordError(ctx context.Context, name, holder string, at time.Time, msg string) error
	// ResetCursor drops a walk under way (its next token), keeping
	// Cursor.After. ErrLeaseLost unless holder holds the lease.
	ResetCursor(ctx context.Context, name, holder string) error

	// Rejections returns the newest rejections of the source, newest
	// first, at most limit.
	Rejections(ctx context.Context, name string, limit int) ([]Rejection, error)
	// Batches returns the newest batches of the source, newest first, at
	// most limit.
	Batches(ctx context.Context, name string, limit int) ([]Batch, error)
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// CheckName reports whether name is a valid source name (ErrInvalid).
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w: name: %q is not 1 to 64 of a-z, 0-9, '-', '_' starting with a letter or digit", collections.ErrInvalid, name)
	}
	return nil
}

// Clip bounds a message for the store.
func Clip(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	cut := MaxMessage
	for cut > 0 && msg[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return msg[:cut] + "…"
}
