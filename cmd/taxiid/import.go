package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/semaphore"

	"github.com/taxiid/taxiid/collections"
)

// Bounds of an import's pipeline: the objects read but not yet stored, in
// count and bytes, and one batch handed to the ingester (one store
// transaction, as the ingester cuts a push).
const (
	importQueue       = 1000
	importBudget      = 32 << 20
	importBatch       = 1000
	importBatchBytes  = 4 << 20
	importLinger      = 200 * time.Millisecond // a batch waits this long for more input
	importExamples    = 20                     // rejected objects listed in the summary
	importExampleText = 300                    // bytes of their messages shown
)

const importUsage = `usage: taxiid import --api-root PATH --collection ID|ALIAS [flags] FILE... (- for standard input)

Stores the objects of STIX bundles or TAXII envelopes (also lists of objects
and single objects) in a collection of the store, with the validation,
version and conflict rules of a push to the collection. Files are read as
streams. Objects already stored are left unchanged, so an import cut short
is completed by running it again.

Exit status 0 when every object is stored (or was already), 1 when any was
rejected, a file could not be read to its end, the import was interrupted
or the store failed.

`

// importItem is one object read from a file, or the problem that stopped
// reading the file (raw nil).
type importItem struct {
	file  int // index in the file list
	index int // in the file's objects list
	raw   []byte
	end   int64 // input offset after the object, counting the files before
	err   error
}

// importTally is what an import did so far.
type importTally struct {
	read, stored, unchanged, rejected int
	reasons                           map[string]int
	examples                          []string // the first rejected objects, for the summary
	fileErrors                        []string
}

// importReportLine is one line of --report: what happened to one object.
type importReportLine struct {
	File    string `json:"file"`
	Index   int    `json:"index"`
	ID      string `json:"id,omitempty"`
	Version string `json:"version,omitempty"`
	Outcome string `json:"outcome"` // stored, unchanged or rejected
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// importCommand is `taxiid import`: it streams the objects of the files
// (or standard input, "-") to the collection through the ingester, in
// batches of one store transaction, while the next objects are read.
func importCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var bf bulkFlags
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bf.bind(fs, getenv)
	var vf validationFlags
	vf.bind(fs, getenv)
	reportPath := fs.String("report", "", "write what happened to each object to this file, one JSON line per object")
	fs.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := bf.check(); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if len(files) == 0 {
		return errors.New("import: name the files to import (- for standard input)")
	}
	if n := slices.Index(files, "-"); n >= 0 && slices.Index(files[n+1:], "-") >= 0 {
		return errors.New("import: standard input (-) can be read once")
	}
	// Every file is checked before anything is stored, so that a mistyped
	// name does not leave an import half done.
	total := int64(0)
	for _, name := range files {
		if name == "-" {
			total = -1
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("import: %s is a directory", name)
		}
		if total >= 0 && fi.Mode().IsRegular() {
			total += fi.Size()
		} else {
			total = -1
		}
	}
	level, validator, err := vf.validator()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	store, err := bf.openBulkStore(ctx)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer store.Close()
	root, coll, err := bulkCollection(ctx, store, bf.apiRoot, bf.collection)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	var report *bufio.Writer
	if *reportPath != "" {
		f, err := os.Create(*reportPath)
		if err != nil {
			return fmt.Errorf("import: report: %w", err)
		}
		defer f.Close()
		report = bufio.NewWriterSize(f, 64<<10)
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ing := collections.NewIngester(store, validator, collections.IngestConfig{Level: level, Logger: logger})
	// An object larger than a push to the API root may be stops the file,
	// as it would stop the push, before it is read whole.
	maxObject := root.MaxContentLength
	if maxObject <= 0 {
		maxObject = defaultMaxContentLength
	}

	prog := startProgress(stderr, bf.progress, bf.interval, "imported", total)
	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	budget := semaphore.NewWeighted(importBudget)
	items := make(chan importItem, importQueue)
	var read atomic.Int64
	go readImportFiles(rctx, files, stdin, int(min(maxObject, int64(^uint(0)>>1))), &read, budget, items)

	t := &importTally{reasons: map[string]int{}}
	run := importRun{ctx: ctx, ing: ing, coll: coll, files: files, report: report, tally: t, prog: prog, budget: budget}
	runErr := run.run(items)
	stopReading()
	if runErr == nil {
		prog.bytes.Store(read.Load())
	}
	prog.finish()

	if report != nil {
		if err := report.Flush(); err != nil && runErr == nil {
			runErr = fmt.Errorf("import: report: %w", err)
		}
	}
	interrupted := errors.Is(runErr, context.Canceled) && ctx.Err() != nil
	printImportSummary(stdout, t, root.Path, coll, len(files), time.Since(prog.start))
	switch {
	case interrupted:
		return errors.New("import interrupted: the objects counted above are stored; run the same import again to complete it")
	case runErr != nil:
		return runErr
	case t.rejected > 0 || len(t.fileErrors) > 0:
		return errInvalid // the summary says what
	}
	return nil
}

// envOr is getenv(name), or def when it is empty.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// readImportFiles reads the files in order and sends their objects to
// items, then closes it. Objects wait in items for at most importBudget
// bytes. A file that cannot be read to its end is reported as an item, and
// the next file is read. It stops when ctx ends.
func readImportFiles(ctx context.Context, files []string, stdin io.Reader, maxObject int, read *atomic.Int64, budget *semaphore.Weighted, items chan<- importItem) {
	defer close(items)
	for fi, name := range files {
		base := read.Load()
		err := splitImportFile(ctx, name, stdin, maxObject, read, func(i int, raw []byte, end int64) {
			if ctx.Err() != nil || budget.Acquire(ctx, importWeight(raw)) != nil {
				return
			}
			select {
			case items <- importItem{file: fi, index: i, raw: raw, end: base + end}:
			case <-ctx.Done():
			}
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			select {
			case items <- importItem{file: fi, err: err}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// importWeight is what an object takes of the budget: its size, or the
// whole budget for a larger one, which then waits for every object before
// it to be stored.
func importWeight(raw []byte) int64 { return min(int64(len(raw)), importBudget) }

// splitImportFile streams the objects of one file to item, with the offset
// in the file after each; read counts the bytes read.
func splitImportFile(ctx context.Context, name string, stdin io.Reader, maxObject int, read *atomic.Int64, item func(i int, raw []byte, end int64)) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	s := &jsonSplitter{r: ctxReader{ctx, countingReader{r, read}}, buf: make([]byte, 0, 64<<10), max: maxObject}
	return s.document(func(i int, raw []byte) { item(i, raw, s.consumed()) })
}

// ctxReader stops reading once ctx ends, so that an interrupted import
// stops reading at once.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// importRun stores the objects read, batch after batch, in two stages:
// consume cuts batches and validates each (on every core) while write
// stores the one before, in order.
type importRun struct {
	ctx    context.Context
	ing    *collections.Ingester
	coll   collections.Collection
	files  []string
	report *bufio.Writer
	tally  *importTally
	prog   *progress
	budget *semaphore.Weighted

	batch      []importItem
	batchBytes int
	work       chan importWork
}

// importWork is a validated batch for write, or the problem of a file.
type importWork struct {
	batch     []importItem
	checked   *collections.Checked
	fileError string
}

// run stores the items until there are no more, and returns the first
// error (ctx's when it ended).
func (r *importRun) run(items <-chan importItem) error {
	r.work = make(chan importWork, 1)
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	written := make(chan error, 1)
	go func() {
		var err error
		for w := range r.work {
			if err == nil {
				if err = r.write(w); err != nil {
					cancel() // stop consume
				}
			}
		}
		written <- err
	}()
	err := r.consume(ctx, items)
	close(r.work)
	if werr := <-written; werr != nil {
		return werr
	}
	if err != nil && r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	return err
}

// consume takes the items and cuts them into batches: a batch is complete
// once full, or once no more input has come for importLinger (a slow
// stream's objects are stored as they come).
func (r *importRun) consume(ctx context.Context, items <-chan importItem) error {
	for {
		var it importItem
		var ok bool
		select {
		case it, ok = <-items:
		case <-ctx.Done():
			return ctx.Err()
		default:
			// Nothing has come yet: wait, for at most importLinger when
			// objects are waiting to be stored.
			var linger *time.Timer
			var lingerC <-chan time.Time
			if len(r.batch) > 0 {
				linger = time.NewTimer(importLinger)
				lingerC = linger.C
			}
			lingered := false
			select {
			case it, ok = <-items:
			case <-lingerC:
				lingered = true
			case <-ctx.Done():
				return ctx.Err()
			}
			if linger != nil {
				linger.Stop()
			}
			if lingered {
				if err := r.flush(ctx); err != nil {
					return err
				}
				continue
			}
		}
		if !ok {
			return r.flush(ctx)
		}
		if it.raw == nil {
			// Objects before the problem are counted first.
			if err := r.flush(ctx); err != nil {
				return err
			}
			if err := r.send(ctx, importWork{fileError: r.files[it.file] + ": " + it.err.Error()}); err != nil {
				return err
			}
			continue
		}
		r.batch = append(r.batch, it)
		r.batchBytes += len(it.raw)
		if len(r.batch) == importBatch || r.batchBytes >= importBatchBytes {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// flush validates the batch and hands it to write.
func (r *importRun) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	raws := make([]json.RawMessage, len(r.batch))
	for i, it := range r.batch {
		raws[i] = it.raw
	}
	checked, err := r.ing.Check(ctx, r.coll, raws)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	w := importWork{batch: r.batch, checked: checked}
	r.batch, r.batchBytes = make([]importItem, 0, importBatch), 0
	return r.send(ctx, w)
}

func (r *importRun) send(ctx context.Context, w importWork) error {
	select {
	case r.work <- w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write stores a validated batch and records what happened to each
// object, or records the problem of a file.
func (r *importRun) write(w importWork) error {
	t := r.tally
	if w.fileError != "" {
		t.fileErrors = append(t.fileErrors, w.fileError)
		return nil
	}
	// Once validated, a batch is stored even when the import is
	// interrupted: the summary then counts every object stored.
	results, err := r.ing.ImportChecked(r.ctx, w.checked)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	var weight int64
	for i, res := range results {
		it := w.batch[i]
		weight += importWeight(it.raw)
		line := importReportLine{File: r.files[it.file], Index: it.index, ID: res.Detail.ID,
			Version: res.Detail.Version, Message: res.Detail.Message}
		if strings.HasPrefix(res.Detail.ID, "objects[") {
			line.ID = "" // an object without an id, named by its place in the batch
		}
		t.read++
		switch res.Outcome {
		case collections.Added:
			t.stored++
			line.Outcome = "stored"
		case collections.Unchanged:
			t.unchanged++
			line.Outcome = "unchanged"
		default:
			t.rejected++
			line.Outcome, line.Reason = "rejected", res.Reason
			t.reasons[res.Reason]++
			if len(t.examples) < importExamples {
				where := fmt.Sprintf("%s objects[%d]", line.File, line.Index)
				if line.ID != "" {
					where += " " + line.ID
				}
				t.examples = append(t.examples, where+": "+clipText(line.Message, importExampleText))
			}
		}
		if r.report != nil {
			b, err := json.Marshal(line)
			if err != nil {
				return err
			}
			r.report.Write(append(b, '\n'))
		}
	}
	r.prog.objects.Add(int64(len(w.batch)))
	// Progress in bytes is how far in the input the objects stored go,
	// not how far it has been read: reading runs ahead by up to
	// importBudget.
	r.prog.bytes.Store(w.batch[len(w.batch)-1].end)
	r.budget.Release(weight)
	return nil
}

// clipText cuts s to at most n bytes, on a character boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// printImportSummary writes what the import did.
func printImportSummary(w io.Writer, t *importTally, root string, c collections.Collection, files int, took time.Duration) {
	name := c.ID
	if c.Alias != "" {
		name = c.Alias + " (" + c.ID + ")"
	}
	rate := 0.0
	if s := took.Seconds(); s > 0 {
		rate = float64(t.read) / s
	}
	fmt.Fprintf(w, "%d objects from %d file(s) into %s/%s in %s (%.0f objects/s)\n",
		t.read, files, root, name, took.Round(time.Millisecond), rate)
	fmt.Fprintf(w, "  stored     %d\n  unchanged  %d\n  rejected   %d\n", t.stored, t.unchanged, t.rejected)
	reasons := make([]string, 0, len(t.reasons))
	for r := range t.reasons {
		reasons = append(reasons, r)
	}
	// Most frequent first, then by name.
	slices.SortFunc(reasons, func(a, b string) int {
		if d := t.reasons[b] - t.reasons[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, r := range reasons {
		fmt.Fprintf(w, "    %-24s %d\n", r, t.reasons[r])
	}
	if len(t.examples) > 0 {
		more := ""
		if t.rejected > len(t.examples) {
			more = fmt.Sprintf(" (the first %d of %d; --report lists every object)", len(t.examples), t.rejected)
		}
		fmt.Fprintf(w, "rejected objects%s:\n", more)
		for _, e := range t.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if len(t.fileErrors) > 0 {
		fmt.Fprintln(w, "files not read to their end (the objects before the problem are counted above):")
		for _, e := range t.fileErrors {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}
