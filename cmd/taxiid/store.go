package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mongo"
	"github.com/taxiid/taxiid/collections/sqlite"
)

// Store is what taxiid keeps its data in: the embedded store
// (*sqlite.Store) or MongoDB (*mongo.Store). Close comes with
// collections.Store.
type Store interface {
	collections.Store
	authz.Store
	// Ping checks that the store answers within ctx (readiness).
	Ping(ctx context.Context) error
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*mongo.Store)(nil)
)

// storeLocation says where the store is: the embedded store in a
// directory, or a MongoDB database when mongoURI is set.
type storeLocation struct {
	data          string
	mongoURI      string // may hold credentials: never log it, log redactURI's form
	mongoDatabase string
	mongoTimeout  time.Duration // 0: the backend's default
}

func (l storeLocation) mongo() bool { return l.mongoURI != "" }

// name is how log lines and messages call the store.
func (l storeLocation) name() string {
	if l.mongo() {
		return "MongoDB"
	}
	return "the embedded store"
}

// logAttrs are the attributes that say where the store is in a log line,
// without credentials.
func (l storeLocation) logAttrs() []any {
	if l.mongo() {
		return []any{"mongodb", redactURI(l.mongoURI), "database", l.mongoDatabase}
	}
	return []any{"data", l.data}
}

// String is where the store is, for messages (without credentials).
func (l storeLocation) String() string {
	if l.mongo() {
		return fmt.Sprintf("database %q at %s", l.mongoDatabase, redactURI(l.mongoURI))
	}
	return l.data
}

// mongoOptions are the options of mongo.Open. A batch of pushed objects
// gets three times the deadline of one call, as with the defaults.
func (l storeLocation) mongoOptions() mongo.Options {
	o := mongo.Options{Database: l.mongoDatabase}
	if l.mongoTimeout > 0 {
		o.OpTimeout, o.WriteTimeout = l.mongoTimeout, 3*l.mongoTimeout
	}
	return o
}

// Backoff of the attempts to reach the store at start: the wait doubles
// from retryFirst up to retryMax.
const (
	retryFirst = time.Second
	retryMax   = 30 * time.Second
)

// errStopped is returned when the process was told to stop while it
// waited for the store.
var errStopped = errors.New("stopped while waiting for the store")

// untilAvailable runs step until it returns anything but
// collections.ErrUnavailable (the store is unreachable or does not answer
// in time), logging each failure and waiting between attempts, until ctx
// ends (the process is told to stop; then errStopped). Any other error
// ends it at once: a malformed URI or a refused schema does not mend by
// waiting.
func untilAvailable(ctx context.Context, logger *slog.Logger, loc storeLocation, what string, step func(context.Context) error) error {
	wait := retryFirst
	for {
		err := step(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return errStopped // whatever the step made of its cancellation
		case !errors.Is(err, collections.ErrUnavailable):
			return err
		}
		attrs := append([]any{"step", what}, loc.logAttrs()...)
		logger.Warn(loc.name()+" not reachable, retrying", append(attrs, "err", err, "next_attempt_in", wait)...)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errStopped
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// openServeStore opens the store of serve: the embedded store in its
// directory (created if missing), or MongoDB, waiting for it as long as
// it is unreachable (see untilAvailable). With MongoDB, the directory of
// the embedded store is not touched.
func openServeStore(ctx context.Context, loc storeLocation, logger *slog.Logger) (Store, error) {
	if !loc.mongo() {
		if err := os.MkdirAll(loc.data, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		s, err := sqlite.Open(ctx, filepath.Join(loc.data, "taxiid.db"))
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return s, nil
	}
	var s *mongo.Store
	err := untilAvailable(ctx, logger, loc, "connect", func(ctx context.Context) error {
		var err error
		s, err = mongo.Open(ctx, loc.mongoURI, loc.mongoOptions())
		return err
	})
	if err != nil {
		if errors.Is(err, errStopped) {
			return nil, err
		}
		// The driver's messages name the part of the URI that is wrong,
		// not the credentials.
		return nil, fmt.Errorf("open MongoDB %s: %w", loc, err)
	}
	logger.Info("connected to MongoDB", loc.logAttrs()...)
	return s, nil
}

// openAdminStore opens the store of `taxiid admin`, which must exist: a
// mistyped --data or --mongo-database must not create an empty store that
// changes go to unseen. It does not wait for an unreachable MongoDB.
func openAdminStore(ctx context.Context, loc storeLocation) (Store, error) {
	if !loc.mongo() {
		path := filepath.Join(loc.data, "taxiid.db")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no store at %s (start taxiid serve --data %s once, or give the right --data): %w", path, loc.data, err)
		}
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return s, nil
	}
	o := loc.mongoOptions()
	o.MustExist = true // the admin commands work on a store serve has set up
	s, err := mongo.Open(ctx, loc.mongoURI, o)
	if errors.Is(err, collections.ErrNotFound) {
		return nil, fmt.Errorf("no taxiid store in %s (start taxiid serve --mongo-uri ... --mongo-database %s once, or give the right --mongo-database)",
			loc, loc.mongoDatabase)
	}
	if errors.Is(err, collections.ErrUnavailable) {
		return nil, fmt.Errorf("MongoDB %s is not reachable: %w", loc, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open MongoDB %s: %w", loc, err)
	}
	return s, nil
}

// redactURI returns the scheme and hosts of a MongoDB connection string,
// without the user information (credentials), the path and the options
// (some carry secrets too), e.g. "mongodb://h1:27017,h2:27017". It reads
// the string as the driver does: user information ends at the first '@',
// the hosts at the next '/' or '?'. What the driver would refuse is not
// shown.
func redactURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || (scheme != "mongodb" && scheme != "mongodb+srv") {
		return "(not a MongoDB URI)"
	}
	user := ""
	if _, after, ok := strings.Cut(rest, "@"); ok {
		rest, user = after, "***@"
	}
	hosts := rest
	if i := strings.IndexAny(rest, "/?@"); i >= 0 {
		if rest[i] == '@' {
			return scheme + "://(malformed)"
		}
		hosts = rest[:i]
	}
	return scheme + "://" + user + hosts
}
