package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/collections/mongo"
	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/taxii/metrics"
)

var (
	_ mirror.Store = (*sqlite.Store)(nil)
	_ mirror.Store = (*mongo.Store)(nil)
)

// mirrorStore returns the mirror store of a store (both backends are one).
func mirrorStore(s collections.Store) (mirror.Store, error) {
	ms, ok := s.(mirror.Store)
	if !ok {
		return nil, errors.New("this store does not keep mirrored sources")
	}
	return ms, nil
}

// mirrorHolder names this process in the leases of sources: host, process
// id and a random part (a restarted process is another holder).
func mirrorHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// mirrorMetrics reads what the metrics show of the sources.
func mirrorMetrics(svc *mirror.Service) func(ctx context.Context) ([]metrics.MirrorSource, error) {
	return func(ctx context.Context) ([]metrics.MirrorSource, error) {
		views, err := svc.Sources(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.MirrorSource, 0, len(views))
		for _, v := range views {
			st := v.Status
			ms := metrics.MirrorSource{Name: v.Name, Added: st.Added, Unchanged: st.Unchanged, Rejected: st.Rejected,
				Pages: st.Pages, Failing: st.LastError != "", Lag: time.Duration(st.LagSeconds * float64(time.Second))}
			if st.LastSuccess != nil {
				ms.LastSuccess = *st.LastSuccess
			}
			if st.LastErrorAt != nil {
				ms.LastError = *st.LastErrorAt
			}
			out = append(out, ms)
		}
		return out, nil
	}
}

// startMirror runs the pulls of every mirrored source in the background
// (each source is pulled by one process of those sharing the store, see
// mirror.Runner); the returned function stops them and waits.
func startMirror(ctx context.Context, svc *mirror.Service, ing *collections.Ingester, logger *slog.Logger, lease time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	r := &mirror.Runner{
		Puller: &mirror.Puller{Service: svc, Ingester: ing, Holder: mirrorHolder(), Lease: lease},
		Log:    logger,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

const mirrorUsage = `usage: taxiid mirror [--data DIR | --mongo-uri URI [--mongo-database NAME]] [--once SOURCE] [flags]

With --once, pulls the source (declared with taxiid admin sources create or
the admin API) from where its last pull stopped until caught up, storing
each page as a push would (a push source: forwards the local collection's
new versions), with a progress bar; a server pulling the same
source meanwhile waits, and the other way round. Without --once, pulls
every source when it is due until interrupted, as serve does.

`

// mirrorCommand is `taxiid mirror`.
func mirrorCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var bf bulkFlags
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bf.bind(fs, getenv)
	once := fs.String("once", "", "pull this source once, until caught up")
	lease := fs.Duration("lease", mirror.DefaultLease, "how long the lease on a source outlives this process if it dies (renewed every third of it while pulling)")
	var vf validationFlags
	vf.bind(fs, getenv)
	fs.Usage = func() {
		fmt.Fprint(stderr, mirrorUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("mirror: unexpected arguments %q (name the source with --once)", pos)
	}
	// The source names the collection: these flags of the bulk commands
	// do not apply.
	bf.apiRoot, bf.collection = "-", "-"
	if err := bf.check(); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	if *lease < time.Second {
		return fmt.Errorf("mirror: --lease must be at least 1s, not %s", *lease)
	}
	level, validator, err := vf.validator()
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	store, err := bf.openBulkStore(ctx)
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	defer store.Close()
	ms, err := mirrorStore(store)
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ing := collections.NewIngester(store, validator, collections.IngestConfig{Level: level, Logger: logger})
	svc := mirror.NewService(ms, store)
	if *once == "" {
		logger.Warn("mirroring every source until interrupted")
		startMirror(ctx, svc, ing, logger, *lease)()
		return nil
	}
	if _, err := ms.Source(ctx, *once); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	prog := startProgress(stderr, bf.progress, bf.interval, "mirrored", -1)
	var tally mirror.Counters
	p := &mirror.Puller{Service: svc, Ingester: ing, Holder: mirrorHolder(), Lease: *lease, Progress: func(r mirror.PageRecord) {
		tally.Pages++
		tally.Objects += int64(r.Batch.Objects)
		tally.Added += int64(r.Batch.Added)
		tally.Unchanged += int64(r.Batch.Unchanged)
		tally.Rejected += int64(r.Batch.Rejected)
		prog.objects.Add(int64(r.Batch.Objects))
	}}
	start := time.Now()
	_, pullErr := p.Pull(ctx, *once)
	for waited := false; errors.Is(pullErr, mirror.ErrBusy); _, pullErr = p.Pull(ctx, *once) {
		// Another process pulls the source (or died holding its lease):
		// wait for it.
		if !waited {
			waited = true
			if st, err := ms.SourceState(ctx, *once); err == nil {
				fmt.Fprintf(stderr, "waiting: %s pulls the source (lease until %s)\n", st.Holder, st.LeaseUntil.Format(time.RFC3339))
			}
		}
		select {
		case <-ctx.Done():
			pullErr = ctx.Err()
		case <-time.After(500 * time.Millisecond):
			continue
		}
		break
	}
	prog.finish()
	fmt.Fprintf(stdout, "source %s: %d pages, %d objects in %s: %d added, %d unchanged, %d rejected\n", *once, tally.Pages,
		tally.Objects, time.Since(start).Round(time.Millisecond), tally.Added, tally.Unchanged, tally.Rejected)
	if tally.Rejected > 0 {
		fmt.Fprintf(stdout, "the rejected objects are listed by: taxiid admin sources get %s\n", *once)
	}
	switch {
	case pullErr != nil && ctx.Err() != nil:
		return errors.New("mirror interrupted: the pages counted above are stored; the next pull resumes after them")
	case pullErr != nil:
		return fmt.Errorf("mirror: %w (the pages counted above are stored; the next pull resumes after them)", pullErr)
	}
	return nil
}
