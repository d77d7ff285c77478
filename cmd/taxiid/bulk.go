package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// validationFlags are the flags of the commands that store objects as a
// push does (import, mirror), with serve's environment and defaults.
type validationFlags struct {
	level, schemaDir string
}

func (v *validationFlags) bind(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&v.level, "validation", envOr(getenv, "TAXIID_VALIDATION", "default"),
		"validation level of collections without their own, as serve's --validation: strict, default or permissive (env TAXIID_VALIDATION)")
	fs.StringVar(&v.schemaDir, "schema-dir", getenv("TAXIID_SCHEMA_DIR"), "JSON schemas adding to or overriding the built-in ones, as serve's (env TAXIID_SCHEMA_DIR)")
}

// validator returns the level and the validator the flags name.
func (v *validationFlags) validator() (stix.Level, *stix.Validator, error) {
	level, err := stix.ParseLevel(v.level)
	if err != nil {
		return level, nil, fmt.Errorf("--validation: %w", err)
	}
	validator, err := stix.NewValidator(stix.Options{SchemaDir: v.schemaDir})
	return level, validator, err
}

// bulkFlags are the flags `taxiid import` and `taxiid export` share.
type bulkFlags struct {
	data                    string
	mongoURI, mongoDatabase string
	apiRoot                 string
	collection              string
	progress                string
	interval                time.Duration
}

// bind declares the shared flags on fs, with defaults from the
// environment as serve takes them.
func (b *bulkFlags) bind(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&b.data, "data", envOr(getenv, "TAXIID_DATA", defaultData), "directory of the embedded store (env TAXIID_DATA)")
	fs.StringVar(&b.mongoURI, "mongo-uri", getenv("TAXIID_MONGO_URI"), "MongoDB connection string; when set, the store is there and --data is not used (env TAXIID_MONGO_URI)")
	fs.StringVar(&b.mongoDatabase, "mongo-database", envOr(getenv, "TAXIID_MONGO_DATABASE", defaultMongoDatabase), "MongoDB database of the store (env TAXIID_MONGO_DATABASE)")
	fs.StringVar(&b.apiRoot, "api-root", "", "API root of the collection (required)")
	fs.StringVar(&b.collection, "collection", "", "collection id or alias (required)")
	fs.StringVar(&b.progress, "progress", progressAuto, "progress on standard error: auto (a bar on a terminal, else lines), bar, lines or none")
	fs.DurationVar(&b.interval, "progress-interval", 5*time.Second, "time between progress lines")
}

// check reports a missing required flag, a bad database name or a bad
// progress mode.
func (b *bulkFlags) check() error {
	switch {
	case b.apiRoot == "":
		return errors.New("--api-root is required")
	case b.collection == "":
		return errors.New("--collection is required")
	}
	if b.mongoURI != "" {
		if err := checkMongoDatabase(b.mongoDatabase); err != nil {
			return fmt.Errorf("--mongo-database: %w", err)
		}
	}
	switch b.progress {
	case progressAuto, progressBar, progressLines, progressNone:
	default:
		return fmt.Errorf("--progress must be auto, bar, lines or none, not %q", b.progress)
	}
	return nil
}

// openBulkStore opens the store import and export work on, the embedded
// one or MongoDB, as `taxiid admin` does: it must exist already, so that a
// mistyped --data or --mongo-database does not create an empty store that
// objects go to unseen.
func (b *bulkFlags) openBulkStore(ctx context.Context) (collections.Store, error) {
	return openAdminStore(ctx, storeLocation{data: b.data, mongoURI: b.mongoURI, mongoDatabase: b.mongoDatabase})
}

// bulkCollection finds the API root named root and its collection ref, an
// id or an alias.
func bulkCollection(ctx context.Context, store collections.Store, root, ref string) (collections.APIRoot, collections.Collection, error) {
	roots, err := store.APIRoots(ctx)
	if err != nil {
		return collections.APIRoot{}, collections.Collection{}, err
	}
	var r collections.APIRoot
	for _, x := range roots {
		if x.Path == root {
			r = x
		}
	}
	if r.Path == "" {
		return r, collections.Collection{}, fmt.Errorf("no API root %q in the store", root)
	}
	cs, err := store.Collections(ctx, root)
	if err != nil {
		return r, collections.Collection{}, err
	}
	for _, c := range cs {
		if c.ID == ref {
			return r, c, nil
		}
	}
	for _, c := range cs {
		if c.Alias != "" && c.Alias == ref {
			return r, c, nil
		}
	}
	return r, collections.Collection{}, fmt.Errorf("no collection %q (id or alias) in API root %s", ref, root)
}
