package mirror

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Runner pulls every source when it is due, in the background: a source
// is due Interval after it last caught up, or, after a failure, after a
// backoff that doubles with each failure in a row (MinBackoff up to
// MaxBackoff). Several processes may run one on a store: each pull takes
// the source's lease, so one process pulls a source at a time, and what
// is due is decided from the state in the store, so replicas do not pull
// a source more often than its interval.
type Runner struct {
	Puller *Puller
	Log    *slog.Logger
	// Tick is how often the sources are looked at (default 1 s);
	// Parallel bounds the pulls run at once (default 4).
	Tick     time.Duration
	Parallel int
	// MinBackoff and MaxBackoff bound the wait after a failure
	// (defaults 1 s and 5 min).
	MinBackoff, MaxBackoff time.Duration

	mu      sync.Mutex
	running map[string]bool
	fails   map[string]int
}

// Run pulls sources until ctx ends, then waits for the pulls under way,
// which stop at their next request or write.
func (r *Runner) Run(ctx context.Context) {
	tick := cmpOr(r.Tick, time.Second)
	parallel := r.Parallel
	if parallel <= 0 {
		parallel = 4
	}
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	r.mu.Lock()
	r.running, r.fails = map[string]bool{}, map[string]int{}
	r.mu.Unlock()
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		r.startDue(ctx, log, slots, &wg)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) startDue(ctx context.Context, log *slog.Logger, slots chan struct{}, wg *sync.WaitGroup) {
	store := r.Puller.Service.store
	sources, err := store.Sources(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("mirror: list sources", "err", err)
		}
		return
	}
	now := time.Now()
	for _, src := range sources {
		r.mu.Lock()
		busy, fails := r.running[src.Name], r.fails[src.Name]
		r.mu.Unlock()
		if busy {
			continue
		}
		st, err := store.SourceState(ctx, src.Name)
		if err != nil {
			continue // deleted meanwhile, or the store is down: next tick
		}
		if now.Before(r.due(src, st, fails)) || (st.Holder != "" && st.Holder != r.Puller.Holder && st.LeaseUntil.After(now)) {
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			return // every slot busy: the rest waits for the next tick
		}
		r.mu.Lock()
		r.running[src.Name] = true
		r.mu.Unlock()
		wg.Go(func() {
			defer func() { <-slots }()
			pages, err := r.Puller.Pull(ctx, src.Name)
			r.mu.Lock()
			delete(r.running, src.Name)
			switch {
			case err == nil:
				delete(r.fails, src.Name)
			case errors.Is(err, ErrBusy), ctx.Err() != nil:
			default:
				r.fails[src.Name]++
			}
			r.mu.Unlock()
			switch {
			case err == nil:
				log.Debug("mirror: pulled", "source", src.Name, "pages", pages)
			case errors.Is(err, ErrBusy), ctx.Err() != nil:
			default:
				log.Warn("mirror: pull failed", "source", src.Name, "pages", pages, "err", err)
			}
		})
	}
}

// due is when source src is next pulled.
func (r *Runner) due(src Source, st State, fails int) time.Time {
	if st.Cursor.Next != "" && fails == 0 {
		return time.Time{} // a walk left under way: resume it now
	}
	if !st.LastErrorAt.IsZero() && st.LastErrorAt.After(st.LastSuccess) {
		back := cmpOr(r.MinBackoff, time.Second)
		for i := 1; i < fails && back < cmpOr(r.MaxBackoff, 5*time.Minute); i++ {
			back *= 2
		}
		return st.LastErrorAt.Add(min(back, cmpOr(r.MaxBackoff, 5*time.Minute)))
	}
	if st.LastSuccess.IsZero() {
		return time.Time{}
	}
	return st.LastSuccess.Add(src.Interval)
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
