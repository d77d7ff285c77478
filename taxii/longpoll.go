package taxii

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v5"
	"golang.org/x/sync/singleflight"

	"github.com/taxiid/taxiid/collections"
)

// Long-poll: GET objects and manifest honour "Prefer: wait=N" (RFC 7240
// section 4.3). A request whose answer would be an empty page is held
// until objects are added to its collection, or N seconds pass, and then
// answered as usual: its query runs again, under the same grants and
// sharing conditions. Its response then carries "Preference-Applied:
// wait".
//
// One watcher per server learns of new objects: pushes through this
// server's ingester tell it at once; for those through other processes on
// the same store, it asks the store (Store.Watermarks) once per interval
// which of the collections that requests wait on changed, only while some
// request waits. Each collection has a broadcast channel, closed (and
// replaced) when it changes, that wakes its waiting requests; nothing asks
// the store per waiting request but their own queries when woken, and the
// requests woken together with the same query share one store call
// (wokenObjects).
const (
	// DefaultMaxWait is the default of Config.MaxWait.
	DefaultMaxWait = 60 * time.Second
	// DefaultMaxWaits and DefaultMaxWaitsPerUser are the defaults of
	// Config.MaxWaits and Config.MaxWaitsPerUser.
	DefaultMaxWaits        = 10000
	DefaultMaxWaitsPerUser = 100
	// DefaultWatchInterval is the default of Config.WatchInterval.
	DefaultWatchInterval = time.Second
)

// watcher tells waiting requests when their collection changed.
type watcher struct {
	store    collections.Store
	interval time.Duration
	maxWait  time.Duration // <= 0: long-poll off
	maxTotal int
	maxUser  int
	onError  func(err error)

	mu      sync.Mutex
	entries map[string]*watchEntry // by collection id
	running bool                   // the polling goroutine runs
	total   int                    // requests waiting
	perUser map[rateKey]int
	kick    chan struct{} // asks the polling goroutine to look now
	stop    chan struct{} // closed by stopWaiting
	stopped bool

	// queries shares the store calls of woken requests (wokenObjects).
	queries singleflight.Group
}

// watchEntry is what the watcher knows of one collection.
type watchEntry struct {
	waiters int           // requests subscribed
	changed chan struct{} // closed at the next change, then replaced
	mark    time.Time     // the collection's watermark, when known
	known   bool
	checked time.Time     // when mark was read
	reading chan struct{} // non-nil while a subscriber reads the mark
}

func newWatcher(store collections.Store, cfg Config, onError func(error)) *watcher {
	return &watcher{
		store: store, interval: cfg.WatchInterval, maxWait: cfg.MaxWait,
		maxTotal: cfg.MaxWaits, maxUser: cfg.MaxWaitsPerUser, onError: onError,
		entries: make(map[string]*watchEntry), perUser: make(map[rateKey]int),
		kick: make(chan struct{}, 1), stop: make(chan struct{}),
	}
}

// StopWaiting answers every request waiting for new objects at once (with
// what its query finds) and has requests from now on answered without
// waiting: call it when the server shuts down (http.Server's
// RegisterOnShutdown), so that waiting requests do not hold the shutdown.
func (s *Server) StopWaiting() {
	w := s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.stopped = true
		close(w.stop)
	}
}

// added is called when this server's ingester stored new versions in a
// collection: the watcher looks at once when requests wait on it.
func (w *watcher) added(_, collection string) {
	w.mu.Lock()
	e := w.entries[collection]
	waiting := e != nil && e.waiters > 0
	w.mu.Unlock()
	if waiting {
		select {
		case w.kick <- struct{}{}:
		default: // a look is due already
		}
	}
}

// admit takes a waiting slot for the requester; false when the bounds are
// reached, or the server stops.
func (w *watcher) admit(k rateKey) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.total >= w.maxTotal || w.perUser[k] >= w.maxUser {
		return false
	}
	w.total++
	w.perUser[k]++
	return true
}

func (w *watcher) leave(k rateKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total--
	if w.perUser[k]--; w.perUser[k] <= 0 {
		delete(w.perUser, k)
	}
}

// subscribe registers interest in a collection and makes sure its
// watermark is known before the caller runs its query, so that a change
// after the query is seen as one. A collection nobody waited on lately is
// read once here (several subscribers share the read).
func (w *watcher) subscribe(ctx context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.entries[id]
	if e == nil {
		e = &watchEntry{changed: make(chan struct{})}
		w.entries[id] = e
	}
	e.waiters++
	if e.waiters == 1 && e.known && time.Since(e.checked) > 2*w.interval {
		e.known = false // not watched lately: the mark may be stale
	}
	if !w.running {
		w.running = true
		go w.poll()
	}
	for !e.known {
		if r := e.reading; r != nil {
			w.mu.Unlock()
			select {
			case <-r:
			case <-ctx.Done():
			}
			w.mu.Lock()
			if ctx.Err() != nil {
				w.unsubscribeLocked(id)
				return ctx.Err()
			}
			continue
		}
		r := make(chan struct{})
		e.reading = r
		w.mu.Unlock()
		marks, err := w.store.Watermarks(ctx, []string{id})
		w.mu.Lock()
		close(r)
		e.reading = nil
		if err != nil {
			w.unsubscribeLocked(id)
			return err
		}
		if !e.known {
			e.mark, e.known, e.checked = marks[id], true, time.Now()
		}
	}
	return nil
}

// unsubscribe undoes subscribe. The entry stays a little, so that a
// client polling again at once finds the mark known.
func (w *watcher) unsubscribe(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unsubscribeLocked(id)
}

func (w *watcher) unsubscribeLocked(id string) {
	if e := w.entries[id]; e != nil {
		e.waiters--
	}
}

// changed returns the channel closed at the collection's next change. The
// caller subscribed.
func (w *watcher) changed(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.entries[id].changed
}

// poll runs while requests wait: every interval (or at once when this
// server's ingester added objects) it reads the watermarks of the
// collections they wait on, and wakes the requests of those that changed.
// It ends once no request has waited for two intervals.
func (w *watcher) poll() {
	t := time.NewTimer(w.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		}
		ids, ok := w.watched()
		if !ok {
			return
		}
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), collections.MaxQueryValues)]
			ids = ids[len(chunk):]
			ctx, cancel := context.WithTimeout(context.Background(), 10*w.interval)
			marks, err := w.store.Watermarks(ctx, chunk)
			cancel()
			if err != nil {
				w.onError(err) // the next look tries again
				continue
			}
			w.update(chunk, marks, time.Now())
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(w.interval)
	}
}

// watched returns the collections requests wait on (whose mark is known),
// forgets those nobody waited on for two intervals, and reports false
// (and marks the goroutine stopped) when none is left.
func (w *watcher) watched() ([]string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for id, e := range w.entries {
		switch {
		case e.waiters > 0 && e.known:
			ids = append(ids, id)
		case e.waiters <= 0 && e.reading == nil && time.Since(e.checked) > 2*w.interval:
			delete(w.entries, id)
		}
	}
	if len(w.entries) == 0 {
		w.running = false
		return nil, false
	}
	return ids, true
}

// update records the watermarks read at now and wakes the requests of the
// collections whose mark moved (or that are gone).
func (w *watcher) update(ids []string, marks map[string]time.Time, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		e := w.entries[id]
		if e == nil || !e.known {
			continue
		}
		m, ok := marks[id]
		if !ok || !m.Equal(e.mark) {
			e.mark = m
			close(e.changed)
			e.changed = make(chan struct{})
		}
		e.checked = now
	}
}

// waiter is one request's long-poll: nil when the request does not wait.
type waiter struct {
	w        *watcher
	c        *echo.Context
	coll     string
	sh       sharing
	user     rateKey
	deadline *time.Timer
	changed  <-chan struct{}
	waited   bool // Preference-Applied was set
	final    bool // the deadline passed: the next answer is the last
}

// beginWait returns the long-poll of a GET objects or manifest request on
// col: nil when it asks for no wait, long-poll is off, the server stops,
// or the requester (or the server) has as many requests waiting as it may
// (those are answered at once, without Preference-Applied). Call end when
// the request is answered.
func (s *Server) beginWait(c *echo.Context, col collections.Collection, sh sharing) *waiter {
	w := s.watch
	if w.maxWait <= 0 {
		return nil
	}
	// RFC 7240 section 2: a response that a preference may change lists
	// Prefer in Vary, whether or not the request had one.
	c.Response().Header().Add("Vary", "Prefer")
	d, ok := preferredWait(c.Request().Header, w.maxWait)
	if !ok || d <= 0 {
		return nil
	}
	k := keyOf(requester(c), c.Request().RemoteAddr)
	if !w.admit(k) {
		return nil
	}
	ctx := c.Request().Context()
	if err := w.subscribe(ctx, col.ID); err != nil {
		w.leave(k)
		if ctx.Err() == nil {
			s.log.Warn("long-poll: the store did not say where the collection stands; answering without waiting",
				"request_id", requestID(c), "err", err)
		}
		return nil
	}
	return &waiter{w: w, c: c, coll: col.ID, sh: sh, user: k, deadline: time.NewTimer(d)}
}

// end frees what the waiter holds.
func (wt *waiter) end() {
	if wt == nil {
		return
	}
	wt.deadline.Stop()
	wt.w.unsubscribe(wt.coll)
	wt.w.leave(wt.user)
}

// arm takes the collection's change channel: call it before each run of
// the query, so that a change after the query wakes the request.
func (wt *waiter) arm() {
	if wt != nil {
		wt.changed = wt.w.changed(wt.coll)
	}
}

// wait holds an empty answer to q until it is worth running q again: the
// collection changed, objects the requester could not see yet for its
// embargo may be visible now, or the deadline passed (the query then runs
// once more and is answered whatever it finds). It returns false when the
// request is to be answered at once with what it has: it does not wait,
// the server stops, or the client left.
func (wt *waiter) wait(s *Server, q collections.Query) bool {
	if wt == nil || wt.final {
		return false
	}
	if !wt.waited {
		wt.waited = true
		wt.c.Response().Header().Set("Preference-Applied", "wait")
	}
	ctx := wt.c.Request().Context()
	var visible <-chan time.Time
	if at, ok := s.embargoEnds(ctx, q, wt.sh); ok {
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		visible = t.C
	}
	select {
	case <-wt.changed:
	case <-visible:
	case <-wt.deadline.C:
		wt.final = true
	case <-wt.w.stop:
		return false
	case <-ctx.Done():
		return false
	}
	return true
}

// embargoEnds returns when the first version q would select, but for the
// requester's embargo, leaves the embargo: the request looks again then
// rather than at every change of the collection. Versions above the
// requester's ceiling are not asked for (q keeps it), so they wake
// nothing.
func (s *Server) embargoEnds(ctx context.Context, q collections.Query, sh sharing) (time.Time, bool) {
	if sh.Embargo <= 0 || q.AddedUntil.IsZero() {
		return time.Time{}, false
	}
	q.AddedUntil, q.Limit, q.MaxBytes, q.MetadataOnly = time.Time{}, 1, 0, true
	p, err := s.store.Objects(ctx, q)
	if err != nil || len(p.Objects) == 0 {
		return time.Time{}, false
	}
	at := p.Objects[0].DateAdded.Add(sh.Embargo + time.Millisecond)
	if !at.After(time.Now()) {
		// Visible already, yet the query found nothing: a change of the
		// collection will tell.
		return time.Time{}, false
	}
	return at, true
}

// pageWaiting runs a query (run) for GET objects or manifest and, while
// its page is empty and the request may wait, waits for new objects and
// runs it again.
func (s *Server) pageWaiting(c *echo.Context, col collections.Collection, sh sharing,
	run func() (collections.Page, string, collections.Query, error),
) (collections.Page, string, collections.Query, error) {
	wt := s.beginWait(c, col, sh)
	defer wt.end()
	for woken := false; ; woken = true {
		if woken {
			// Marks the request for page's store call: it runs again
			// together with the others woken by the same change.
			r := c.Request()
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), wokenKey{}, true)))
		}
		wt.arm()
		p, next, q, err := run()
		if err != nil {
			c.Response().Header().Del("Preference-Applied")
			return p, next, q, err
		}
		if len(p.Objects) > 0 || !wt.wait(s, q) {
			return p, next, q, nil
		}
	}
}

// Waiting returns how many requests wait for new objects now.
func (s *Server) Waiting() int {
	w := s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total
}

// wokenKey marks the context of a request that runs its query again after
// its waiter woke.
type wokenKey struct{}

// objects runs q in the store for a GET objects or manifest page. The
// requests woken by one change of a collection run their queries at once;
// those with the same query (same filters, position, ceiling and embargo
// bound) share one store call, so that thousands of pollers of a feed cost
// one query per change rather than one each. Each gets its own list of
// objects: serving a page may replace an object's bytes in it (served.go).
func (s *Server) objects(ctx context.Context, q collections.Query) (collections.Page, error) {
	if woken, _ := ctx.Value(wokenKey{}).(bool); !woken {
		return s.store.Objects(ctx, q)
	}
	key, err := json.Marshal(q)
	if err != nil {
		return s.store.Objects(ctx, q)
	}
	v, err, _ := s.watch.queries.Do(string(key), func() (any, error) {
		// Not ended by the first caller's request alone: the others
		// wait on this call too. The store bounds it.
		return s.store.Objects(context.WithoutCancel(ctx), q)
	})
	if err != nil {
		return collections.Page{}, err
	}
	p := v.(collections.Page)
	p.Objects = slices.Clone(p.Objects)
	return p, nil
}
