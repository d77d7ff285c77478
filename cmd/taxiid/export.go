package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// Export pages: bounded in objects and bytes, so that an export holds about
// one page in memory whatever the size of the collection.
const (
	exportPage      = 1000
	exportPageBytes = 4 << 20
)

const exportUsage = `usage: taxiid export --api-root PATH --collection ID|ALIAS [flags]

Writes the objects of a collection as one STIX bundle: every stored version
of every object, of every spec version (or with --versions last the last
version within each spec version), ordered by the time they were added, each
object exactly as stored. The store is read page by page.

`

// exportCommand is `taxiid export`.
func exportCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var bf bulkFlags
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bf.bind(fs, getenv)
	versions := fs.String("versions", "all", "versions of each object: all, or last (the last within each spec version)")
	addedAfter := fs.String("added-after", "", "only versions added after this time (RFC 3339 in UTC, as TAXII's added_after: 2025-01-31T00:00:00Z)")
	var output string
	fs.StringVar(&output, "o", "-", "file to write the bundle to; - for standard output")
	fs.StringVar(&output, "output", "-", "same as -o")
	fs.Usage = func() {
		fmt.Fprint(stderr, exportUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("export: unexpected argument %q (the output file is given with -o)", rest[0])
	}
	if err := bf.check(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	q := collections.Query{APIRoot: bf.apiRoot, AllSpecVersions: true, Limit: exportPage, MaxBytes: exportPageBytes}
	switch *versions {
	case "all":
		q.Versions.All = true
	case "last":
		q.Versions.Last = true
	default:
		return fmt.Errorf("export: --versions must be all or last, not %q", *versions)
	}
	if *addedAfter != "" {
		if q.AddedAfter, err = stix.ParseTimestamp(*addedAfter); err != nil {
			return fmt.Errorf("export: --added-after: %w", err)
		}
	}
	store, err := bf.openBulkStore(ctx)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer store.Close()
	root, coll, err := bulkCollection(ctx, store, bf.apiRoot, bf.collection)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	q.Collection = coll.ID

	// A file is written under a temporary name and renamed once complete,
	// so that an export cut short never leaves what looks like a bundle.
	out, commit, abort := stdout, func() error { return nil }, func() {}
	if output != "-" {
		f, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".*.partial")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		out = f
		abort = func() { f.Close(); os.Remove(f.Name()) }
		commit = func() error {
			if err := f.Sync(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return os.Rename(f.Name(), output)
		}
	}
	prog := startProgress(stderr, bf.progress, bf.interval, "exported", -1)
	w := bufio.NewWriterSize(countingWriter{out, &prog.bytes}, 256<<10)
	err = writeBundle(ctx, store, q, w, &prog.objects)
	if err == nil {
		err = w.Flush()
	}
	prog.finish()
	if err == nil {
		err = commit()
	}
	if err != nil {
		abort()
		if ctx.Err() != nil {
			if output == "-" {
				return errors.New("export interrupted: the bundle written is incomplete")
			}
			return errors.New("export interrupted: no file written")
		}
		return fmt.Errorf("export: %w", err)
	}
	took := time.Since(prog.start)
	fmt.Fprintf(stderr, "%d objects (%s) exported from %s/%s in %s (%.0f objects/s)\n", prog.objects.Load(),
		mebibytes(prog.bytes.Load()), root.Path, coll.ID, took.Round(time.Millisecond), float64(prog.objects.Load())/max(took.Seconds(), 1e-9))
	return nil
}

// writeBundle writes the objects q selects, page after page, as a STIX
// bundle (STIX 2.1 section 8), each object's bytes as stored, counting them
// in n. A bundle of no objects has no objects member: STIX lists may not
// be empty (section 2.12).
func writeBundle(ctx context.Context, store collections.Store, q collections.Query, w *bufio.Writer, n *atomic.Int64) error {
	fmt.Fprintf(w, `{"type":"bundle","id":"bundle--%s"`, uuid.NewString())
	first := true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := store.Objects(ctx, q)
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if first {
				w.WriteString(`,"objects":[`)
				first = false
			} else {
				w.WriteByte(',')
			}
			if _, err := w.Write(o.Raw); err != nil {
				return err
			}
		}
		n.Add(int64(len(page.Objects)))
		if !page.More || len(page.Objects) == 0 {
			break
		}
		// Versions are ordered by date_added, unique in a collection: the
		// next page starts after the last one written.
		q.AddedAfter = page.Objects[len(page.Objects)-1].DateAdded
	}
	if !first {
		w.WriteByte(']')
	}
	_, err := w.WriteString("}\n")
	return err
}

// countingWriter counts the bytes written through it into n.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	k, err := c.w.Write(b)
	c.n.Add(int64(k))
	return k, err
}
