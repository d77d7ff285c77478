package collections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/stix"
)

// Ingest defaults.
const (
	// DefaultSyncLimit: envelopes with at most this many objects are stored
	// before the add-objects response; larger ones finish in the background.
	DefaultSyncLimit = 5000
	// DefaultStatusTTL: statuses stay readable this long after their last
	// update (TAXII 2.1 section 4.3: at least 24 hours).
	DefaultStatusTTL = 24 * time.Hour
	// batchSize is the number of objects written per store transaction.
	batchSize = 1000
)

// Status messages a pushing client may act on.
const (
	msgConflict  = "a different object with this id and version already exists"
	msgUnchanged = "already stored; unchanged"
	msgInternal  = "internal error while storing; push the object again"
)

// IngestConfig tunes an Ingester; zero fields take the defaults above.
type IngestConfig struct {
	SyncLimit int
	StatusTTL time.Duration
	Logger    *slog.Logger
	// Level is the validation level of every collection but those in
	// Levels, keyed by CollectionKey.
	Level  stix.Level
	Levels map[string]stix.Level
}

// CollectionKey names a collection in IngestConfig.Levels.
func CollectionKey(apiRoot, id string) string { return apiRoot + "/" + id }

// Ingester is the add-objects service: it validates pushed objects, stores
// the valid ones and records a status resource for the request.
type Ingester struct {
	store     Store
	validator *stix.Validator
	syncLimit int
	statusTTL time.Duration
	log       *slog.Logger
	level     stix.Level
	levels    map[string]stix.Level
	wg        sync.WaitGroup
}

// NewIngester returns an Ingester writing to store.
func NewIngester(store Store, v *stix.Validator, cfg IngestConfig) *Ingester {
	if cfg.SyncLimit <= 0 {
		cfg.SyncLimit = DefaultSyncLimit
	}
	if cfg.StatusTTL <= 0 {
		cfg.StatusTTL = DefaultStatusTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Ingester{store: store, validator: v, syncLimit: cfg.SyncLimit, statusTTL: cfg.StatusTTL,
		log: cfg.Logger, level: cfg.Level, levels: cfg.Levels}
}

// entry is one pushed object on its way through ingestion.
type entry struct {
	detail StatusDetail // id and version for the status, message on failure
	obj    NewObject
	failed bool
}

// Ingest validates and stores objects pushed to collection c and returns the
// status resource, already stored.
//
// Up to the sync limit, every object is processed before Ingest returns and
// the status is complete: its successes are durable. Above it, Ingest returns
// a pending status and finishes in the background, updating the stored status
// after each batch; Wait waits for that work.
func (in *Ingester) Ingest(ctx context.Context, c Collection, objs []json.RawMessage) (Status, error) {
	now := time.Now().UTC()
	st := Status{
		ID:               uuid.NewString(),
		APIRoot:          c.APIRoot,
		Status:           StatusPending,
		RequestTimestamp: now,
		TotalCount:       len(objs),
		Expires:          now.Add(in.statusTTL),
	}
	accepted := acceptedSpecVersions(c.MediaTypes)
	level, ok := in.levels[CollectionKey(c.APIRoot, c.ID)]
	if !ok {
		level = in.level
	}
	entries := make([]entry, len(objs))
	// Objects are checked independently: use every core.
	workers := min(runtime.GOMAXPROCS(0), 1+len(objs)/64)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(objs); i += workers {
				entries[i] = in.check(i, objs[i], level, accepted)
			}
		}()
	}
	wg.Wait()
	var valid []int
	for i := range entries {
		if entries[i].failed {
			st.Failures = append(st.Failures, entries[i].detail)
		} else {
			valid = append(valid, i)
		}
	}

	if len(valid) <= in.syncLimit {
		if err := in.write(ctx, c, entries, valid, &st); err != nil {
			return Status{}, err
		}
		st.Status = StatusComplete
		st.Expires = time.Now().UTC().Add(in.statusTTL)
		if err := in.store.PutStatus(ctx, st); err != nil {
			return Status{}, fmt.Errorf("store status: %w", err)
		}
		return st, nil
	}

	for _, i := range valid {
		st.Pendings = append(st.Pendings, entries[i].detail)
	}
	if err := in.store.PutStatus(ctx, st); err != nil {
		return Status{}, fmt.Errorf("store status: %w", err)
	}
	pending := st
	pending.Pendings = append([]StatusDetail(nil), st.Pendings...)
	pending.Failures = append([]StatusDetail(nil), st.Failures...)
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		in.finish(context.WithoutCancel(ctx), c, entries, valid, st)
	}()
	return pending, nil
}

// Wait blocks until every background ingestion has finished.
func (in *Ingester) Wait() { in.wg.Wait() }

// finish stores the valid entries batch by batch, publishing progress in the
// status after each batch.
func (in *Ingester) finish(ctx context.Context, c Collection, entries []entry, valid []int, st Status) {
	for start := 0; start < len(valid); start += batchSize {
		batch := valid[start:min(start+batchSize, len(valid))]
		if err := in.write(ctx, c, entries, batch, &st); err != nil {
			in.log.Error("background ingest", "status", st.ID, "err", err)
			for _, i := range batch {
				d := entries[i].detail
				d.Message = msgInternal
				st.Failures = append(st.Failures, d)
			}
		}
		st.Pendings = st.Pendings[len(batch):]
		if len(st.Pendings) == 0 {
			st.Pendings = nil
			st.Status = StatusComplete
		}
		st.Expires = time.Now().UTC().Add(in.statusTTL)
		if err := in.store.PutStatus(ctx, st); err != nil {
			in.log.Error("background ingest: store status", "status", st.ID, "err", err)
		}
	}
}

// write writes the entries listed in idx in batches and records each
// outcome in st. A store error leaves st with the batches done so far.
func (in *Ingester) write(ctx context.Context, c Collection, entries []entry, idx []int, st *Status) error {
	for start := 0; start < len(idx); start += batchSize {
		batch := idx[start:min(start+batchSize, len(idx))]
		objs := make([]NewObject, len(batch))
		for j, i := range batch {
			objs[j] = entries[i].obj
		}
		results, err := in.store.AddObjects(ctx, c.APIRoot, c.ID, objs)
		if err != nil {
			return fmt.Errorf("add objects: %w", err)
		}
		for j, r := range results {
			d := entries[batch[j]].detail
			d.Version = stix.FormatTimestamp(r.Version)
			switch r.Outcome {
			case Added:
				st.Successes = append(st.Successes, d)
			case Unchanged:
				d.Message = msgUnchanged
				st.Successes = append(st.Successes, d)
			default:
				d.Message = msgConflict
				st.Failures = append(st.Failures, d)
			}
		}
	}
	return nil
}

// check validates one pushed object.
func (in *Ingester) check(i int, raw json.RawMessage, level stix.Level, accepted map[string]bool) entry {
	id, warnings, err := in.validator.Validate(raw, level)
	e := entry{detail: StatusDetail{ID: id.ID}}
	if len(warnings) > 0 {
		e.detail.Message = "warnings: " + (&stix.ValidationError{Findings: warnings}).Error()
	}
	if !id.Version.IsZero() {
		e.detail.Version = stix.FormatTimestamp(id.Version)
	}
	fail := func(msg string) entry {
		e.failed = true
		if e.detail.ID == "" {
			// TAXII 2.1 section 4.3.1 requires an id in each status
			// detail; for an object without one, its place in the
			// envelope is the id the client can act on.
			e.detail.ID = fmt.Sprintf("objects[%d]", i)
		}
		e.detail.Message = msg
		return e
	}
	if err != nil {
		var ve *stix.ValidationError
		if !errors.As(err, &ve) {
			return fail(err.Error())
		}
		return fail(ve.Error())
	}
	if accepted != nil && !accepted[id.SpecVersion] {
		return fail(fmt.Sprintf("spec_version %s is not accepted by this collection (media types: %s)",
			id.SpecVersion, strings.Join(stixMediaTypes(accepted), ", ")))
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return fail("not valid JSON")
	}
	e.obj = NewObject{ID: id.ID, Type: id.Type, SpecVersion: id.SpecVersion, Version: id.Version, Raw: buf.Bytes()}
	return e
}

// acceptedSpecVersions maps a collection's media types to the STIX versions
// it accepts; nil means any (a media type without a version parameter).
func acceptedSpecVersions(mediaTypes []string) map[string]bool {
	accepted := map[string]bool{}
	for _, mt := range mediaTypes {
		base, params, _ := strings.Cut(mt, ";")
		if strings.TrimSpace(base) != "application/stix+json" {
			continue
		}
		v, ok := mediaTypeVersion(params)
		if !ok {
			return nil
		}
		accepted[v] = true
	}
	if len(accepted) == 0 {
		return nil
	}
	return accepted
}

// mediaTypeVersion returns the version parameter of a media type's
// parameters ("version=2.1").
func mediaTypeVersion(params string) (string, bool) {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "version") {
			return strings.Trim(strings.TrimSpace(v), `"`), true
		}
	}
	return "", false
}

// stixMediaTypes names the STIX media types of a set of spec versions.
func stixMediaTypes(versions map[string]bool) []string {
	out := make([]string, 0, len(versions))
	for v := range versions {
		out = append(out, "application/stix+json;version="+v)
	}
	slices.Sort(out)
	return out
}
