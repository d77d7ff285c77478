// Package mongo is taxiid's MongoDB backend, on the official driver
// (go.mongodb.org/mongo-driver/v2). It implements collections.Store and
// authz.Store for several taxiid processes sharing one database on a
// replica set or a sharded cluster.
//
// It needs no multi-document transactions: every guarantee of the Store
// contracts rests on single-document atomic updates (see lock.go for how
// writes to one collection are ordered and made visible all at once).
//
// Files: mongo.go (connecting, deadlines, errors), migrate.go (schema
// versions and indexes), lock.go (the per-collection writer lease and
// visibility watermark), objects.go and heads.go (adding versions), query.go
// (pages of objects, TLP ceilings, embargo bounds), markings.go (marking
// definitions referenced by collection), delete.go, roots.go (API roots
// and collections), status.go, secrets.go, authz*.go (principals, grants,
// audit).
package mongo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
)

var (
	_ collections.Store = (*Store)(nil)
	_ authz.Store       = (*Store)(nil)
)

// DefaultDatabase is the database taxiid uses when none is configured.
const DefaultDatabase = "taxiid"

// Deadlines of store calls whose context has none shorter.
const (
	// DefaultOpTimeout bounds one store call.
	DefaultOpTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds one AddObjects batch; lock.go derives the
	// writer lease from it.
	DefaultWriteTimeout = 30 * time.Second
)

// Names of the MongoDB collections taxiid uses.
const (
	collMeta        = "meta"        // schema version, authz generation
	collRoots       = "api_roots"   // one document per API root
	collColls       = "collections" // one document per collection (see collDoc)
	collAliases     = "aliases"     // one document per alias in use
	collObjects     = "objects"     // one document per stored version (see objects.go)
	collHeads       = "heads"       // one document per object (see heads.go)
	collStatuses    = "statuses"    // status resources (see status.go)
	collStatusParts = "status_entries"
	collSecrets     = "secrets"
	collOrgs        = "organizations"
	collUsers       = "users"
	collTokens      = "tokens"
	collGrants      = "grants"
	collAudit       = "audit_events"
	collCertBinds   = "certificate_bindings"
	collMarkings    = "markings" // marking definitions referenced, by collection (see markings.go)
)

// Options tune Open.
type Options struct {
	// Database is the database name; "" means DefaultDatabase.
	Database string
	// OpTimeout and WriteTimeout override the defaults above when positive.
	OpTimeout    time.Duration
	WriteTimeout time.Duration
	// MustExist makes Open refuse a database that holds no collection yet
	// (collections.ErrNotFound) instead of creating it: for tools that
	// work on a store a server has set up.
	MustExist bool
}

// Store is a collections.Store and authz.Store on one MongoDB database.
// Open it with Open.
type Store struct {
	client *mongo.Client
	db     *mongo.Database

	opTimeout    time.Duration
	writeTimeout time.Duration
	// lease is how long a writer may hold a collection's write lock before
	// another may take it over (see lock.go).
	lease time.Duration
	// txn reports whether the deployment runs multi-document transactions
	// (a replica set or sharded cluster); writes use them when it does.
	txn bool
}

// Open connects to the deployment at uri, checks that it answers, and
// creates or upgrades the database's indexes and schema version. An
// unreachable server is an error wrapping collections.ErrUnavailable, so
// that the caller may retry.
//
// Writes use write concern majority with journaling, so that a write that
// returned survives a failover; reads use read concern majority on the
// primary, so that a read never sees a write that a failover could undo.
func Open(ctx context.Context, uri string, o Options) (*Store, error) {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	s := &Store{
		opTimeout:    cmpOr(o.OpTimeout, DefaultOpTimeout),
		writeTimeout: cmpOr(o.WriteTimeout, DefaultWriteTimeout),
	}
	// A lease outlives every write of its holder: each write runs under
	// the holder's deadline, which the server enforces too (maxTimeMS).
	s.lease = 2*s.writeTimeout + 10*time.Second
	opts := options.Client().ApplyURI(uri).
		SetAppName("taxiid").
		SetServerSelectionTimeout(s.opTimeout).
		SetTimeout(s.opTimeout).
		SetReadPreference(readpref.Primary()).
		SetReadConcern(readconcern.Majority()).
		SetWriteConcern(writeconcern.Majority()) // majority implies journaling by default
	j := true
	opts.WriteConcern.Journal = &j
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: %w", err) // a malformed URI: retrying will not help
	}
	s.client = client
	s.db = client.Database(o.Database)
	if err := s.init(ctx, o.MustExist); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context, mustExist bool) error {
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"` // "isdbgrid" on mongos
	}
	hctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.client.Database("admin").RunCommand(hctx, map[string]int{"hello": 1}).Decode(&hello); err != nil {
		return storeErr("connect", err)
	}
	s.txn = hello.SetName != "" || hello.Msg == "isdbgrid"
	if mustExist {
		names, err := s.db.ListCollectionNames(hctx, bson.D{})
		if err != nil {
			return storeErr("list collections", err)
		}
		if len(names) == 0 {
			return fmt.Errorf("mongo: no taxiid store in database %q: %w", s.db.Name(), collections.ErrNotFound)
		}
	}
	// Not under one store deadline: a migration may take many steps (see
	// migration 3), each bounded by the client's per-operation timeout
	// (the store's deadline) unless ctx has a shorter one.
	if err := s.migrate(ctx); err != nil {
		return storeErr("migrate", err)
	}
	return nil
}

// Ping checks that the deployment answers within the store's deadline.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return storeErr("ping", s.client.Ping(ctx, readpref.Primary()))
}

// Close disconnects. Writes are durable when their methods return.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("mongo: close: %w", err)
	}
	return nil
}

// opCtx bounds one store call by the store's deadline.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTimeout)
}

// writeCtx bounds one AddObjects batch.
func (s *Store) writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.writeTimeout)
}

// storeErr wraps a driver error for callers: collections.ErrUnavailable when
// the deployment could not be reached or did not answer in time, so that
// the HTTP layer answers 503 and the caller may retry; the plain error
// otherwise. Domain errors (ErrNotFound...) pass through unchanged.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, collections.ErrNotFound) || errors.Is(err, collections.ErrConflict) ||
		errors.Is(err, collections.ErrInvalid) || errors.Is(err, collections.ErrUnavailable) {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("mongo: %s: %w: %w", op, collections.ErrUnavailable, err)
	}
	return fmt.Errorf("mongo: %s: %w", op, err)
}

// unavailable reports whether err means the deployment is unreachable,
// has no primary, or did not answer within the deadline.
func unavailable(err error) bool {
	var se mongo.ServerError
	var ne net.Error
	var sse topology.ServerSelectionError
	switch {
	case mongo.IsNetworkError(err), mongo.IsTimeout(err), errors.As(err, &sse),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne),
		errors.Is(err, mongo.ErrClientDisconnected):
		return true
	case errors.As(err, &se):
		// NotWritablePrimary, PrimarySteppedDown, ShutdownInProgress,
		// InterruptedDueToReplStateChange, MaxTimeMSExpired...
		for _, code := range []int{10107, 189, 91, 11602, 11600, 13435, 13436, 50, 262} {
			if se.HasErrorCode(code) {
				return true
			}
		}
		return se.HasErrorLabel("RetryableWriteError") || se.HasErrorLabel("TransientTransactionError")
	}
	return false
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Times. MongoDB dates hold milliseconds; taxiid keeps date_added in
// microseconds and versions in nanoseconds, so neither is stored as a
// date: date_added is an int64 count of microseconds since the Unix epoch,
// a version the fixed-width text versionKey returns, whose text order is
// time order.

// micros returns t as microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// microsOrZero is micros for times that may be unset: 0 for the zero time.
func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// fromMicrosOrZero is the inverse of microsOrZero.
func fromMicrosOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

// versionLayout formats versions at fixed width, nanoseconds included.
const versionLayout = "2006-01-02T15:04:05.000000000Z"

// versionKey returns v as fixed-width text.
func versionKey(v time.Time) string { return v.UTC().Format(versionLayout) }

// parseVersionKey is the inverse of versionKey.
func parseVersionKey(s string) (time.Time, error) { return time.Parse(versionLayout, s) }
