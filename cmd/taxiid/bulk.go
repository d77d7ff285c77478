package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/sqlite"
)

// bulkFlags are the flags `taxiid import` and `taxiid export` share.
type bulkFlags struct {
	data       string
	apiRoot    string
	collection string
	progress   string
	interval   time.Duration
}

// bind declares the shared flags on fs, with defaults from the
// environment as serve takes them.
func (b *bulkFlags) bind(fs *flag.FlagSet, getenv func(string) string) {
	data := defaultData
	if v := getenv("TAXIID_DATA"); v != "" {
		data = v
	}
	fs.StringVar(&b.data, "data", data, "directory of the embedded store (env TAXIID_DATA)")
	fs.StringVar(&b.apiRoot, "api-root", "", "API root of the collection (required)")
	fs.StringVar(&b.collection, "collection", "", "collection id or alias (required)")
	fs.StringVar(&b.progress, "progress", progressAuto, "progress on standard error: auto (a bar on a terminal, else lines), bar, lines or none")
	fs.DurationVar(&b.interval, "progress-interval", 5*time.Second, "time between progress lines")
}

// check reports a missing required flag or a bad progress mode.
func (b *bulkFlags) check() error {
	switch {
	case b.apiRoot == "":
		return errors.New("--api-root is required")
	case b.collection == "":
		return errors.New("--collection is required")
	}
	switch b.progress {
	case progressAuto, progressBar, progressLines, progressNone:
	default:
		return fmt.Errorf("--progress must be auto, bar, lines or none, not %q", b.progress)
	}
	return nil
}

// openBulkStore opens the store import and export work on. It must exist
// already: a mistyped --data must not create an empty store that objects
// go to unseen (as with `taxiid admin`).
func openBulkStore(ctx context.Context, data string) (collections.Store, error) {
	path := filepath.Join(data, "taxiid.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s (start taxiid serve --data %s once, or give the right --data): %w", path, data, err)
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return store, nil
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
