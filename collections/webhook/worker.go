package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// Defaults of Options.
const (
	DefaultInterval    = time.Second
	DefaultLease       = 2 * time.Minute
	DefaultRetryFor    = 24 * time.Hour
	DefaultTimeout     = 10 * time.Second
	DefaultMaxResponse = 64 << 10
	DefaultConcurrency = 8
	// DefaultKeep is how long finished deliveries stay listed.
	DefaultKeep = 7 * 24 * time.Hour
)

// Bounds of one worker step.
const (
	// claimBatch is the most subscriptions one process leases at a time.
	claimBatch = 1000
	// dueEvery is how many steps an idle subscription goes without a look
	// for due deliveries.
	dueEvery = 5
	// dueBatch is the most deliveries of one subscription sent in a row.
	dueBatch = 5
	// scanPage and maxScanPages bound the versions read to find or count
	// new ones: past them a delivery covers what was read, and the count
	// says it is capped.
	scanPage     = 1000
	maxScanPages = 100
)

// Outcomes of an attempt, as counted by Observer.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry"
	OutcomeFailed    = "failed"
	OutcomeSkipped   = "skipped"
)

// Observer is told about each attempt recorded (for metrics): its
// subscription, the delivery as recorded, the outcome, and the lag, how
// long the delivery had waited since it was queued.
type Observer interface {
	Attempted(sub Subscription, d Delivery, outcome string, lag time.Duration)
}

// Options tune a Worker.
type Options struct {
	// Owner names this process in leases; it must differ between
	// processes sharing a store.
	Owner string
	// BaseURL is the URL clients reach this server at (scheme and host,
	// optionally a path prefix), for the objects link of notifications.
	BaseURL string
	// Interval is how often new versions are looked for and due
	// deliveries sent.
	Interval time.Duration
	// Lease is how long a subscription stays with this process without a
	// renewal. The worker renews it when half used and stops starting
	// attempts in its last quarter, which must outlast an attempt (the
	// client's timeout plus the store calls around it).
	Lease time.Duration
	// Backoff is the wait before attempt n+1 after n failed ones; nil:
	// Backoff.
	Backoff func(failed int) time.Duration
	// RetryFor is how long a delivery is retried before it fails.
	RetryFor time.Duration
	// MaxResponse bounds the bytes of an answer read (the rest is
	// dropped with the connection).
	MaxResponse int64
	// Concurrency bounds the subscriptions served at once.
	Concurrency int
	// Keep is how long finished deliveries are kept.
	Keep time.Duration
	// Client sends the notifications (Guard.Client).
	Client   *http.Client
	Log      *slog.Logger
	Observer Observer
	Now      func() time.Time
}

// Backoff is the default wait after failed attempts: 10 s doubling up to
// an hour, each wait drawn in its upper half so that receivers coming
// back are not hit by every sender at once.
func Backoff(failed int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < failed && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d/2 + rand.N(d/2+1)
}

// Worker finds new versions for the subscriptions it leases and sends
// their deliveries.
type Worker struct {
	subs    Store
	objects collections.Store
	access  Access
	sealer  *Sealer
	o       Options

	mu sync.Mutex
	// held are the subscriptions this process leases.
	held map[string]*holding
	busy map[string]bool
	sem  chan struct{}
	wg   sync.WaitGroup
}

// NewWorker returns a worker on the stores; access decides what each
// subscription's organization sees, sealer opens the secrets.
func NewWorker(subs Store, objects collections.Store, access Access, sealer *Sealer, o Options) (*Worker, error) {
	if o.Owner == "" || o.Client == nil {
		return nil, errors.New("webhook: worker needs an owner and a client")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Backoff == nil {
		o.Backoff = Backoff
	}
	if o.RetryFor <= 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.MaxResponse <= 0 {
		o.MaxResponse = DefaultMaxResponse
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &Worker{subs: subs, objects: objects, access: access, sealer: sealer, o: o,
		held: make(map[string]*holding), busy: make(map[string]bool), sem: make(chan struct{}, o.Concurrency)}, nil
}

// Run serves subscriptions until ctx ends, then waits for the attempts
// under way and releases its leases.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.o.Interval)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		w.Step(ctx)
		if now := w.o.Now(); now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			if _, err := w.subs.PruneDeliveries(ctx, now.Add(-w.o.Keep)); err != nil && ctx.Err() == nil {
				w.o.Log.Warn("webhook: prune deliveries", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			w.wg.Wait()
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := w.subs.ReleaseSubscriptions(rctx, w.o.Owner); err != nil {
				w.o.Log.Warn("webhook: release leases", "err", err)
			}
			return
		case <-t.C:
		}
	}
}

// holding is a subscription this process leases: the subscription as
// last read or written here (this process alone moves its cursor while it
// holds the lease), until when, and when to look for due deliveries
// next.
type holding struct {
	sub     Subscription
	until   time.Time
	nextDue time.Time
	// quiet: at this step, nothing was added to the collection after the
	// cursor (its watermark is not past it), so there is nothing to scan.
	quiet bool
}

// Step takes free subscriptions, renews the leases of this process that
// are half used, and starts serving each subscription it holds that is
// not being served already. It does not wait for them.
func (w *Worker) Step(ctx context.Context) {
	now := w.o.Now()
	claimed, err := w.subs.ClaimSubscriptions(ctx, w.o.Owner, now, now.Add(w.o.Lease/2), now.Add(w.o.Lease), claimBatch)
	if err != nil {
		if ctx.Err() == nil {
			w.o.Log.Warn("webhook: claim subscriptions", "err", err)
		}
		return
	}
	w.mu.Lock()
	for _, s := range claimed {
		if h, ok := w.held[s.ID]; ok && h.sub.Cursor.After(s.Cursor) {
			// Read before a delivery was queued here: the cursor only
			// moves forward.
			s.Cursor = h.sub.Cursor
		}
		// Look for due deliveries at once: another process may have
		// queued a redelivery.
		w.held[s.ID] = &holding{sub: s, until: s.LeaseUntil}
	}
	var serve []holding
	for id, h := range w.held {
		// A lease about to end is not used: an attempt must end before
		// another process may take the subscription over.
		if h.until.Sub(now) < w.o.Lease/4 {
			delete(w.held, id)
			continue
		}
		if !w.busy[id] {
			w.busy[id] = true
			serve = append(serve, *h)
		}
	}
	w.mu.Unlock()
	w.markQuiet(ctx, serve)
	for i, h := range serve {
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			for _, h := range serve[i:] {
				w.done(h.sub.ID)
			}
			return
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer func() { <-w.sem }()
			defer w.done(h.sub.ID)
			w.serve(ctx, h)
		}()
	}
}

// markQuiet asks the store, in one call per MaxQueryValues collections,
// where the collections of hs stand, and marks quiet the subscriptions
// whose cursor is at or past it: an idle subscription then costs no query
// of its own. On an error nothing is marked, and each scans as usual.
func (w *Worker) markQuiet(ctx context.Context, hs []holding) {
	var ids []string
	for _, h := range hs {
		if !slices.Contains(ids, h.sub.Collection) {
			ids = append(ids, h.sub.Collection)
		}
	}
	marks := make(map[string]time.Time, len(ids))
	for chunk := range slices.Chunk(ids, collections.MaxQueryValues) {
		m, err := w.objects.Watermarks(ctx, chunk)
		if err != nil {
			return
		}
		for id, t := range m {
			marks[id] = t
		}
	}
	for i := range hs {
		mark, ok := marks[hs[i].sub.Collection]
		hs[i].quiet = ok && !mark.After(hs[i].sub.Cursor)
	}
}

// Wait waits for the subscriptions being served (tests).
func (w *Worker) Wait() { w.wg.Wait() }

func (w *Worker) done(id string) {
	w.mu.Lock()
	delete(w.busy, id)
	w.mu.Unlock()
}

// update records what serving a subscription changed; drop forgets it
// (deleted, or its lease lost).
func (w *Worker) update(id string, cursor, nextDue time.Time, drop bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h, ok := w.held[id]
	switch {
	case !ok:
	case drop:
		delete(w.held, id)
	default:
		if cursor.After(h.sub.Cursor) {
			h.sub.Cursor = cursor
		}
		h.nextDue = nextDue
	}
}

// serve queues the new versions of one leased subscription and sends its
// due deliveries. Due deliveries are looked for after new versions were
// queued, when a retry falls due, and every dueEvery steps otherwise (for
// redeliveries queued by other processes); an idle subscription costs no
// query of its own (markQuiet).
func (w *Worker) serve(ctx context.Context, h holding) {
	s := h.sub
	log := w.o.Log.With("subscription", s.ID)
	now := w.o.Now()
	nextDue := h.nextDue
	cond, ok := w.access(ctx, s.Organization, s.APIRoot, s.Collection)
	switch {
	case !ok:
		nextDue = time.Time{} // pending deliveries fail at once
	case !h.quiet:
		cursor, err := w.enqueue(ctx, s, cond)
		switch {
		case errors.Is(err, collections.ErrNotFound), errors.Is(err, collections.ErrConflict):
			w.update(s.ID, cursor, nextDue, true)
			return
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("webhook: look for new objects", "err", err)
			}
			return
		}
		if cursor.After(s.Cursor) {
			s.Cursor, nextDue = cursor, time.Time{}
		}
	}
	if now.Before(nextDue) {
		w.update(s.ID, s.Cursor, nextDue, false)
		return
	}
	nextDue = now.Add(dueEvery * w.o.Interval)
	// Now again: a delivery queued above is due from when it was queued.
	due, err := w.subs.DueDeliveries(ctx, s.ID, w.o.Now(), dueBatch)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("webhook: due deliveries", "err", err)
		}
		w.update(s.ID, s.Cursor, time.Time{}, false)
		return
	}
	if len(due) == dueBatch {
		nextDue = time.Time{} // more may be due
	}
	for _, d := range due {
		if ctx.Err() != nil {
			break
		}
		if retry, pending := w.attempt(ctx, log, s, d); pending && retry.Before(nextDue) {
			nextDue = retry
		}
	}
	w.update(s.ID, s.Cursor, nextDue, false)
}

// enqueue finds the versions added after the subscription's cursor that
// its organization sees, and queues them (coalesced into the pending
// delivery, if any). It returns the new cursor (s.Cursor when nothing was
// new).
func (w *Worker) enqueue(ctx context.Context, s Subscription, cond Conditions) (time.Time, error) {
	last, _, _, _, err := w.scan(ctx, s, cond, s.Cursor, time.Time{})
	if err != nil || last.IsZero() {
		return s.Cursor, err
	}
	now := w.o.Now()
	id, err := newID()
	if err != nil {
		return s.Cursor, err
	}
	_, err = w.subs.Enqueue(ctx, w.o.Owner, Delivery{
		ID: id, Subscription: s.ID, After: s.Cursor, Until: last,
		State: StatePending, NextAttempt: now, Created: now, Updated: now,
	})
	if err != nil {
		return s.Cursor, err
	}
	return last, nil
}

// scan reads the versions added in (after, until] (until zero: no bound)
// that cond lets the organization see; see scanRange.
func (w *Worker) scan(ctx context.Context, s Subscription, cond Conditions, after, until time.Time) (last, first time.Time, n int, capped bool, err error) {
	return scanRange(ctx, w.objects, s.APIRoot, s.Collection, cond, after, until, w.o.Now())
}

// scanRange reads the versions of the collection added in (after, until]
// (until zero: no bound) that cond lets an organization see at now, in
// pages of metadata, and returns the date_added of the last and first,
// how many, and whether it stopped at maxScanPages.
func scanRange(ctx context.Context, objects collections.Store, apiRoot, collection string, cond Conditions,
	after, until, now time.Time) (last, first time.Time, n int, capped bool, err error) {
	if cond.Embargo > 0 {
		bound := now.Add(-cond.Embargo)
		if until.IsZero() || bound.Before(until) {
			until = bound
		}
	}
	q := collections.Query{
		APIRoot: apiRoot, Collection: collection,
		Versions: collections.VersionFilter{All: true}, AllSpecVersions: true,
		AddedAfter: after, AddedUntil: until, MaxTLP: cond.MaxTLP,
		Limit: scanPage, MetadataOnly: true,
	}
	for range maxScanPages {
		p, err := objects.Objects(ctx, q)
		if err != nil {
			return last, first, n, false, err
		}
		if len(p.Objects) > 0 {
			if first.IsZero() {
				first = p.Objects[0].DateAdded
			}
			last = p.Objects[len(p.Objects)-1].DateAdded
			n += len(p.Objects)
			q.AddedAfter = last
		}
		if !p.More {
			return last, first, n, false, nil
		}
	}
	return last, first, n, true, nil
}

// attempt sends one delivery and records the outcome.
// It returns when the delivery is due next and whether it is still
// pending.
func (w *Worker) attempt(ctx context.Context, log *slog.Logger, s Subscription, d Delivery) (next time.Time, pending bool) {
	defer func() { next, pending = d.NextAttempt, d.State == StatePending }()
	now := w.o.Now()
	lag := now.Sub(d.Created)
	record := func(outcome, errMsg string) {
		d.Updated = w.o.Now()
		d.LastError = errMsg
		if err := w.subs.UpdateDelivery(ctx, w.o.Owner, d); err != nil {
			if ctx.Err() == nil && !errors.Is(err, collections.ErrConflict) {
				log.Warn("webhook: record delivery", "delivery", d.ID, "err", err)
			}
			return
		}
		if w.o.Observer != nil {
			w.o.Observer.Attempted(s, d, outcome, lag)
		}
	}
	fail := func(errMsg string) {
		d.Attempts++
		if now.Sub(d.Created) >= w.o.RetryFor {
			d.State = StateFailed
			record(OutcomeFailed, errMsg)
			return
		}
		d.NextAttempt = now.Add(w.o.Backoff(d.Attempts))
		record(OutcomeRetry, errMsg)
	}
	cond, ok := w.access(ctx, s.Organization, s.APIRoot, s.Collection)
	if !ok {
		// What it may no longer read it learns nothing about.
		d.State, d.Count, d.LastStatus = StateFailed, 0, 0
		record(OutcomeFailed, "the organization may no longer read the collection")
		return
	}
	last, first, n, capped, err := w.scan(ctx, s, cond, d.After, d.Until)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("webhook: count objects", "delivery", d.ID, "err", err)
		}
		return // the store failed, not the receiver: try again next step
	}
	d.Count, d.LastStatus = n, 0
	if n == 0 {
		d.State = StateSkipped
		record(OutcomeSkipped, "")
		return
	}
	secret, err := w.sealer.Open(s.ID, s.SealedSecret)
	if err != nil {
		d.State = StateFailed
		record(OutcomeFailed, "the subscription's secret cannot be opened")
		log.Error("webhook: open secret", "err", err)
		return
	}
	body, err := json.Marshal(Notification{
		ID: d.NoticeID(), Event: EventObjectsAdded, Subscription: s.ID,
		APIRoot: s.APIRoot, Collection: s.Collection, Count: n, CountCapped: capped,
		DateAddedFirst: formatTime(first), DateAddedLast: formatTime(last),
		AddedAfter: formatTime(d.After), Objects: w.objectsURL(s, d.After),
	})
	if err != nil {
		return
	}
	status, err := w.post(ctx, s.URL, secret, d.NoticeID(), body)
	d.LastStatus = status
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return // shutting down: the attempt is not the receiver's fault
		}
		fail(err.Error())
	case status >= 200 && status < 300:
		d.State, d.Attempts = StateDelivered, d.Attempts+1
		record(OutcomeDelivered, "")
	default:
		fail(fmt.Sprintf("answered %d", status))
	}
	return // the deferred function sets the results
}

// post sends one notification and returns the answer's status.
func (w *Worker) post(ctx context.Context, target, secret, noticeID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "taxiid-webhook")
	req.Header.Set(EventHeader, EventObjectsAdded)
	req.Header.Set(DeliveryHeader, noticeID)
	req.Header.Set(SignatureHeader, Sign(secret, w.o.Now(), body))
	resp, err := w.o.Client.Do(req)
	if err != nil {
		// Drop the method and URL: the error is recorded with the
		// subscription.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	// Read a bounded amount so that the connection can be reused; a
	// longer answer closes it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, w.o.MaxResponse))
	return resp.StatusCode, nil
}

// objectsURL is the link that pulls the versions added after after.
func (w *Worker) objectsURL(s Subscription, after time.Time) string {
	u := w.o.BaseURL + "/" + url.PathEscape(s.APIRoot) + "/collections/" + url.PathEscape(s.Collection) + "/objects/"
	if !after.IsZero() {
		u += "?added_after=" + url.QueryEscape(formatTime(after))
	}
	return u
}

// formatTime writes a date_added as TAXII does: RFC 3339 in UTC with
// microseconds.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}
