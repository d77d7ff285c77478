package collections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/stix"
)

// Ingest defaults.
const (
	// DefaultSyncLimit: envelopes with at most this many valid objects are
	// stored before the add-objects response; larger ones finish in the
	// background.
	DefaultSyncLimit = 5000
	// DefaultStatusTTL: statuses stay readable this long after their last
	// update (TAXII 2.1 section 4.3: at least 24 hours).
	DefaultStatusTTL = 24 * time.Hour
	// DefaultStaleAfter: a pending status not written for this long belongs
	// to a push whose process stopped. A live push writes its status with
	// every batch, each of which takes well under a second.
	DefaultStaleAfter = time.Minute
	// batchObjects and batchBytes bound one store transaction, and so how
	// long one push holds the store's writer before others get their turn.
	batchObjects = 1000
	batchBytes   = 4 << 20
)

// ErrShutdown: the ingester is shutting down and takes no more pushes.
var ErrShutdown = errors.New("ingester is shutting down")

const msgValidationPanic = "internal error while validating; push the object again"

// IngestConfig tunes an Ingester; zero fields take the defaults above.
type IngestConfig struct {
	SyncLimit  int
	StatusTTL  time.Duration
	StaleAfter time.Duration
	Logger     *slog.Logger
	// Level is the validation level of collections whose Validation is "".
	Level stix.Level
	// Observer, when set, is told what becomes of pushed objects.
	Observer IngestObserver
}

// IngestObserver learns what becomes of pushed objects: the server's
// metrics implement it. Its methods are called from many goroutines at
// once and must return quickly.
type IngestObserver interface {
	// Rejected: objects of a push failed validation; reasons holds why,
	// one per object: the rule code of its first failing finding
	// (stix.Finding.Rule) or a Reason constant. It is called once the push
	// is being stored, not for a push abandoned during validation.
	Rejected(reasons []string)
	// Stored: the store settled a batch of pushed objects, one result per
	// object (Added, Unchanged, Conflict or Refused).
	Stored(results []AddResult)
}

// Ingester is the add-objects service: it validates pushed objects, stores
// the valid ones and keeps the request's status resource exact as it goes.
type Ingester struct {
	store      Store
	validator  *stix.Validator
	syncLimit  int
	statusTTL  time.Duration
	staleAfter time.Duration
	log        *slog.Logger
	level      stix.Level
	observer   IngestObserver // nil: none

	// stop is closed by Shutdown once its deadline passes: background
	// pushes stop between batches.
	stop     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	closed   bool
	inFlight map[[2]string]bool // statuses of background pushes of this ingester
	wg       sync.WaitGroup     // background pushes
	loop     chan struct{}      // closed when the recovery loop ends; nil if not started

	backlogPushes, backlogObjects atomic.Int64

	// added are told of each batch that added versions (see OnAdded).
	added atomic.Pointer[[]func(apiRoot, collection string)]
}

// NewIngester returns an Ingester writing to store. Call Start to have it
// finish pushes that stopped, and Shutdown to stop it.
func NewIngester(store Store, v *stix.Validator, cfg IngestConfig) *Ingester {
	if cfg.SyncLimit <= 0 {
		cfg.SyncLimit = DefaultSyncLimit
	}
	if cfg.StatusTTL <= 0 {
		cfg.StatusTTL = DefaultStatusTTL
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Ingester{store: store, validator: v, syncLimit: cfg.SyncLimit, statusTTL: cfg.StatusTTL,
		staleAfter: cfg.StaleAfter, log: cfg.Logger, level: cfg.Level, observer: cfg.Observer,
		stop: make(chan struct{}), inFlight: make(map[[2]string]bool)}
}

// entry is one pushed object on its way through ingestion.
type entry struct {
	detail StatusDetail // id and version for the status, message on failure
	obj    NewObject
	failed bool
	// rule names why validation failed: the rule of the first failing
	// finding, or one of the Reason constants.
	rule string
}

// Ingest validates and stores objects pushed by owner to collection c and
// returns the status resource, already stored.
//
// Up to the sync limit, every object is processed before Ingest returns and
// the status is complete: its successes are durable. Once writing starts it
// goes on even if ctx is cancelled (the client went away), so that a push
// is stored whole with its status or, when ctx ends during validation, not
// at all (the error wraps ctx's). Above the sync limit, Ingest returns a
// pending status and finishes in the background; the status is written in
// the same transaction as each batch of objects, so it always says exactly
// what is stored.
func (in *Ingester) Ingest(ctx context.Context, c Collection, owner string, objs []json.RawMessage) (Status, error) {
	in.mu.Lock()
	closed := in.closed
	in.mu.Unlock()
	if closed {
		return Status{}, ErrShutdown
	}
	log := in.log.With("request_id", RequestID(ctx), "api_root", c.APIRoot, "collection", c.ID)
	level, err := in.levelOf(c)
	if err != nil {
		return Status{}, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond) // as stored
	st := Status{
		ID:               uuid.NewString(),
		APIRoot:          c.APIRoot,
		Collection:       c.ID,
		Owner:            owner,
		Status:           StatusPending,
		RequestTimestamp: now,
		TotalCount:       len(objs),
		Expires:          now.Add(in.statusTTL),
	}
	entries := in.checkAll(ctx, log, objs, level, acceptedSpecVersions(c.MediaTypes), c.UnmarkedTLP)
	var valid []int
	for i := range entries {
		if entries[i].failed {
			st.Failures = append(st.Failures, entries[i].detail)
		} else {
			valid = append(valid, i)
			st.Pendings = append(st.Pendings, entries[i].detail)
		}
	}
	if err := ctx.Err(); err != nil {
		log.Info("client disconnected during validation; nothing stored", "objects", len(objs))
		return Status{}, fmt.Errorf("push abandoned before storing: %w", err)
	}
	if in.observer != nil && len(st.Failures) > 0 {
		reasons := make([]string, 0, len(st.Failures))
		for i := range entries {
			if entries[i].failed {
				reasons = append(reasons, entries[i].rule)
			}
		}
		in.observer.Rejected(reasons)
	}
	opts := AddOptions{SkipVersionRules: level == stix.LevelPermissive}
	batches := splitBatches(entries, valid)

	if len(valid) == 0 {
		st.Status = StatusComplete
		if err := in.store.CreateStatus(ctx, st); err != nil {
			return Status{}, fmt.Errorf("store status: %w", err)
		}
		return st, nil
	}
	key := [2]string{st.APIRoot, st.ID}
	in.mu.Lock()
	in.inFlight[key] = true
	in.mu.Unlock()
	if len(valid) <= in.syncLimit {
		defer func() {
			in.mu.Lock()
			delete(in.inFlight, key)
			in.mu.Unlock()
		}()
		// All or nothing from here: the first batch creates the status.
		wctx := context.WithoutCancel(ctx)
		created := false
		for _, b := range batches {
			if err := in.writeBatch(wctx, c, &st, entries, b, opts, !created); err != nil {
				if !created {
					return Status{}, err
				}
				// Part of the push is stored and said so: fail the rest
				// in the status rather than the whole request.
				log.Error("store objects", "status", st.ID, "err", err)
				in.failRest(log, &st, MsgInternal)
				return st, nil
			}
			created = true
		}
		if ctx.Err() != nil {
			log.Info("client disconnected during the push; every object stored and the status kept", "status", st.ID)
		}
		return st, nil
	}

	// Counted before its status is written, and only while open, so that
	// Shutdown (which may have begun during validation) waits for a push
	// it lets start, and none starts once it has returned.
	in.mu.Lock()
	if in.closed {
		delete(in.inFlight, key)
		in.mu.Unlock()
		return Status{}, ErrShutdown
	}
	in.wg.Add(1)
	in.mu.Unlock()
	if err := in.store.CreateStatus(ctx, st); err != nil {
		in.mu.Lock()
		delete(in.inFlight, key)
		in.mu.Unlock()
		in.wg.Done()
		return Status{}, fmt.Errorf("store status: %w", err)
	}
	pending := st
	pending.Pendings = slices.Clone(st.Pendings)
	pending.Failures = slices.Clone(st.Failures)
	in.backlogPushes.Add(1)
	in.backlogObjects.Add(int64(len(valid)))
	go func() {
		defer func() {
			in.mu.Lock()
			delete(in.inFlight, key)
			in.mu.Unlock()
			in.wg.Done()
		}()
		in.background(context.WithoutCancel(ctx), log, c, st, entries, batches, opts)
	}()
	return pending, nil
}

// levelOf is the validation level of objects pushed to c: its own, else
// the ingester's.
func (in *Ingester) levelOf(c Collection) (stix.Level, error) {
	if c.Validation == "" {
		return in.level, nil
	}
	l, err := stix.ParseLevel(c.Validation)
	if err != nil {
		return 0, fmt.Errorf("collection %s: %w", c.ID, err)
	}
	return l, nil
}

// background stores the batches of a large push, one transaction each,
// until done or until Shutdown's deadline.
func (in *Ingester) background(ctx context.Context, log *slog.Logger, c Collection, st Status, entries []entry, batches [][]int, opts AddOptions) {
	left := 0
	for _, b := range batches {
		left += len(b)
	}
	defer func() {
		in.backlogPushes.Add(-1)
		in.backlogObjects.Add(-int64(left))
	}()
	defer func() {
		if p := recover(); p != nil {
			log.Error("background ingest panicked", "status", st.ID, "panic", p, "stack", string(debug.Stack()))
			in.failRest(log, &st, MsgInternal)
		}
	}()
	for _, b := range batches {
		select {
		case <-in.stop:
			log.Warn("shutting down: push interrupted", "status", st.ID, "objects_left", left)
			in.failRest(log, &st, MsgInterrupted)
			return
		default:
		}
		if err := in.writeBatch(ctx, c, &st, entries, b, opts, false); err != nil {
			if errors.Is(err, ErrConflict) {
				// Completed meanwhile by a recovery that took this push
				// for a dead one; the status says what is stored.
				log.Warn("status completed elsewhere; push stopped", "status", st.ID, "err", err)
				return
			}
			log.Error("background ingest", "status", st.ID, "err", err)
			in.failRest(log, &st, MsgInternal)
			return
		}
		left -= len(b)
		in.backlogObjects.Add(-int64(len(b)))
	}
}

// writeBatch stores the entries in batch, the next pending entries of st,
// and settles them in st as the store settles them in the stored status (in
// the same transaction; create makes that transaction create the status).
func (in *Ingester) writeBatch(ctx context.Context, c Collection, st *Status, entries []entry, batch []int, opts AddOptions, create bool) error {
	objs := make([]NewObject, len(batch))
	for j, i := range batch {
		objs[j] = entries[i].obj
	}
	upd := &StatusUpdate{APIRoot: st.APIRoot, ID: st.ID, Expires: in.expiry()}
	if create {
		snapshot := *st
		upd.New = &snapshot
	}
	opts.Status = upd
	results, err := in.store.AddObjects(ctx, c.APIRoot, c.ID, objs, opts)
	if err != nil {
		return fmt.Errorf("add objects: %w", err)
	}
	if in.observer != nil {
		in.observer.Stored(results)
	}
	in.tellAdded(c, results)
	for j, r := range results {
		d := st.Pendings[j]
		ok, version, msg := Settle(r)
		d.Version = version
		if msg != "" {
			d.Message = msg
		}
		if ok {
			st.Successes = append(st.Successes, d)
		} else {
			st.Failures = append(st.Failures, d)
		}
	}
	st.Pendings = st.Pendings[len(results):]
	if len(st.Pendings) == 0 {
		st.Pendings = nil
		st.Status = StatusComplete
	}
	st.Expires = upd.Expires
	return nil
}

// expiry is when a status written now expires, in the store's precision.
func (in *Ingester) expiry() time.Time {
	return time.Now().UTC().Add(in.statusTTL).Truncate(time.Microsecond)
}

// failRest completes st, failing its pending entries with msg, in memory
// and in the store.
func (in *Ingester) failRest(log *slog.Logger, st *Status, msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	expires := in.expiry()
	if _, err := in.store.FailPendings(ctx, st.APIRoot, st.ID, msg, expires); err != nil {
		log.Error("complete interrupted status", "status", st.ID, "err", err)
		return
	}
	for _, d := range st.Pendings {
		d.Message = msg
		st.Failures = append(st.Failures, d)
	}
	st.Pendings, st.Status, st.Expires = nil, StatusComplete, expires
}

// splitBatches cuts the valid entries into batches bounded by count and
// bytes.
func splitBatches(entries []entry, valid []int) [][]int {
	var out [][]int
	start, size := 0, 0
	for k, i := range valid {
		n := len(entries[i].obj.Raw)
		if k > start && (k-start == batchObjects || size+n > batchBytes) {
			out = append(out, valid[start:k])
			start, size = k, 0
		}
		size += n
	}
	if start < len(valid) {
		out = append(out, valid[start:])
	}
	return out
}

// Backlog returns the background pushes in progress and how many objects
// they have still to store.
func (in *Ingester) Backlog() (pushes, objects int) {
	return int(in.backlogPushes.Load()), int(in.backlogObjects.Load())
}

// Wait blocks until every background push has finished.
func (in *Ingester) Wait() { in.wg.Wait() }

// Start completes the statuses of pushes that stopped (see Recover), then
// keeps doing so every StaleAfter until Shutdown, for pushes of replicas
// that stop.
func (in *Ingester) Start(ctx context.Context) error {
	if _, err := in.Recover(ctx); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.loop != nil || in.closed {
		return nil
	}
	in.loop = make(chan struct{})
	go func() {
		defer close(in.loop)
		t := time.NewTicker(in.staleAfter)
		defer t.Stop()
		for {
			select {
			case <-in.stop:
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(context.Background(), in.staleAfter)
			if _, err := in.Recover(rctx); err != nil {
				in.log.Error("recover interrupted pushes", "err", err)
			}
			cancel()
		}
	}()
	return nil
}

// recoverBatch is how many statuses one PendingStatuses call returns.
const recoverBatch = 100

// Recover completes every status that is pending and has not been written
// for StaleAfter, except those of this ingester's own pushes: the objects
// they had still to store fail with MsgInterrupted, and the client can push
// them again. It returns how many statuses it completed.
func (in *Ingester) Recover(ctx context.Context) (int, error) {
	before := time.Now().Add(-in.staleAfter)
	done := 0
	for {
		sts, err := in.store.PendingStatuses(ctx, before, recoverBatch)
		if err != nil {
			return done, fmt.Errorf("recover interrupted pushes: %w", err)
		}
		progress := false
		for _, s := range sts {
			in.mu.Lock()
			own := in.inFlight[[2]string{s.APIRoot, s.ID}]
			in.mu.Unlock()
			if own {
				continue
			}
			n, err := in.store.FailPendings(ctx, s.APIRoot, s.ID, MsgInterrupted, in.expiry())
			if errors.Is(err, ErrNotFound) {
				continue // expired meanwhile
			}
			if err != nil {
				return done, fmt.Errorf("recover interrupted push %s: %w", s.ID, err)
			}
			in.log.Warn("interrupted push completed; its remaining objects failed", "api_root", s.APIRoot,
				"status", s.ID, "collection", s.Collection, "failed", n)
			done++
			progress = true
		}
		if len(sts) < recoverBatch || !progress {
			return done, nil
		}
	}
}

// Shutdown stops taking pushes and waits for background pushes to finish
// until ctx ends; then it stops them between batches (each batch is one
// bounded transaction), failing their remaining objects with
// MsgInterrupted, and returns ctx's error. Sync pushes are the caller's to
// drain first (they belong to requests in flight).
func (in *Ingester) Shutdown(ctx context.Context) error {
	in.mu.Lock()
	in.closed = true
	loop := in.loop
	in.mu.Unlock()
	done := make(chan struct{})
	go func() { in.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	in.stopOnce.Do(func() { close(in.stop) })
	<-done
	if loop != nil {
		<-loop
	}
	return err
}

// checkAll validates objs on every core; a panic in a check fails that
// object only.
func (in *Ingester) checkAll(ctx context.Context, log *slog.Logger, objs []json.RawMessage, level stix.Level, accepted map[string]bool, unmarked stix.TLP) []entry {
	entries := make([]entry, len(objs))
	workers := min(runtime.GOMAXPROCS(0), 1+len(objs)/64)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n, i := 0, w; i < len(objs); n, i = n+1, i+workers {
				if n%64 == 0 && ctx.Err() != nil {
					return // abandoned: Ingest stores nothing
				}
				entries[i] = in.checkSafely(log, i, objs[i], level, accepted, unmarked)
			}
		})
	}
	wg.Wait()
	return entries
}

func (in *Ingester) checkSafely(log *slog.Logger, i int, raw json.RawMessage, level stix.Level, accepted map[string]bool, unmarked stix.TLP) (e entry) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("validation panicked", "object", i, "panic", p, "stack", string(debug.Stack()))
			e = entry{failed: true, rule: ReasonInternal, detail: StatusDetail{ID: fmt.Sprintf("objects[%d]", i), Message: msgValidationPanic}}
		}
	}()
	return in.check(i, raw, level, accepted, unmarked)
}

// MaxObjectBytes bounds one object as pushed: every backend stores it
// whole in one record, and MongoDB's records hold at most 16 MiB with the
// object's metadata. A larger object fails alone; the others of its push
// are stored.
const MaxObjectBytes = 15 << 20

// check validates one pushed object and records its sharing level, the
// collection's unmarked level for an object without a TLP marking.
func (in *Ingester) check(i int, raw json.RawMessage, level stix.Level, accepted map[string]bool, unmarked stix.TLP) entry {
	if len(raw) > MaxObjectBytes {
		return entry{failed: true, rule: ReasonTooLarge, detail: StatusDetail{ID: fmt.Sprintf("objects[%d]", i),
			Message: fmt.Sprintf("the object's %d bytes exceed the limit of %d bytes per object", len(raw), MaxObjectBytes)}}
	}
	id, warnings, err := in.validator.Validate(raw, level)
	e := entry{detail: StatusDetail{ID: id.ID}}
	if len(warnings) > 0 {
		e.detail.Message = "warnings: " + (&stix.ValidationError{Findings: warnings}).Error()
	}
	if !id.Version.IsZero() {
		e.detail.Version = stix.FormatTimestamp(id.Version)
	}
	fail := func(rule, msg string) entry {
		e.failed, e.rule = true, rule
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
		if !errors.As(err, &ve) || len(ve.Findings) == 0 {
			return fail(ReasonInvalid, err.Error())
		}
		return fail(ve.Findings[0].Rule, ve.Error())
	}
	if accepted != nil && !accepted[id.SpecVersion] {
		return fail(ReasonSpecVersion, fmt.Sprintf("spec_version %s is not accepted by this collection (media types: %s)",
			id.SpecVersion, strings.Join(stixMediaTypes(accepted), ", ")))
	}
	// Objects are stored compacted. The HTTP layer hands them over
	// compacted already: copy only those that are not, so that a large
	// push is not held twice.
	if bytes.ContainsAny(raw, " \t\r\n") {
		var buf bytes.Buffer
		buf.Grow(len(raw))
		if err := json.Compact(&buf, raw); err != nil {
			return fail(ReasonInvalid, "not valid JSON")
		}
		raw = buf.Bytes()
	}
	sh, err := stix.SharingOf(raw, unmarked)
	if err != nil {
		return fail(ReasonInvalid, "not valid JSON")
	}
	e.obj = NewObject{ID: id.ID, Type: id.Type, SpecVersion: id.SpecVersion, Version: id.Version,
		Created: id.Created, Revoked: id.Revoked, Raw: raw,
		TLP: sh.TLP, GranularTLP: sh.GranularTLP, Markings: sh.Markings}
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
