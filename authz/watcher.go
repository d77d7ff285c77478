package authz

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWatchInterval is how often a Watcher reads the store's generation:
// under a second, so that a change made by another process is enforced
// here within one second, reload included.
const DefaultWatchInterval = 500 * time.Millisecond

// GenerationSource is the part of Store a Watcher reads.
type GenerationSource interface {
	Generation(ctx context.Context) (int64, error)
}

// Watcher follows the store's policy generation, so that what this process
// derived from the store (the Casbin policy, cached credential verdicts) is
// dropped when another process, or this one, changes users, tokens or
// grants.
//
// It reads the generation every interval in its own goroutine; Refresh reads
// it at once, for a process that has just made a change itself. Functions
// registered with OnChange run, one at a time, with every new generation.
type Watcher struct {
	src      GenerationSource
	interval time.Duration
	log      *slog.Logger

	gen  atomic.Int64 // last generation seen; -1 before the first read
	mu   sync.Mutex   // serialises checks and the callbacks they run
	subs []func(ctx context.Context, gen int64) error

	started atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewWatcher returns a watcher of src; interval <= 0 means
// DefaultWatchInterval. Register callbacks with OnChange, then call Start.
func NewWatcher(src GenerationSource, interval time.Duration, log *slog.Logger) *Watcher {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	if log == nil {
		log = slog.Default()
	}
	w := &Watcher{src: src, interval: interval, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	w.gen.Store(-1)
	return w
}

// OnChange registers fn, called with each new generation (and with the
// first one read). An error is logged and fn is called again at the next
// check, even if the generation did not move. Register before Start.
func (w *Watcher) OnChange(fn func(ctx context.Context, gen int64) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs = append(w.subs, fn)
}

// Start reads the generation once (running the callbacks), then keeps
// watching in the background until Close.
func (w *Watcher) Start(ctx context.Context) error {
	if err := w.Refresh(ctx); err != nil {
		return err
	}
	if w.started.CompareAndSwap(false, true) {
		go w.run()
	}
	return nil
}

// Generation returns the last generation seen; -1 before Start.
func (w *Watcher) Generation() int64 { return w.gen.Load() }

// failed marks that a callback has not seen the current generation.
const failed = -2

// Refresh reads the generation now and runs the callbacks if it changed.
// A process calls it after it changed users, tokens or grants, so that the
// change is enforced here at once. It returns the callbacks' errors.
func (w *Watcher) Refresh(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	gen, err := w.src.Generation(ctx)
	if err != nil {
		return fmt.Errorf("authz: read policy generation: %w", err)
	}
	if gen == w.gen.Load() {
		return nil
	}
	for _, fn := range w.subs {
		if err := fn(ctx, gen); err != nil {
			// Leave the generation unseen so that the next check retries.
			w.gen.Store(failed)
			return fmt.Errorf("authz: apply policy generation %d: %w", gen, err)
		}
	}
	w.gen.Store(gen)
	return nil
}

func (w *Watcher) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*w.interval+10*time.Second)
		if err := w.Refresh(ctx); err != nil {
			w.log.Error("authz: policy refresh failed", "err", err)
		}
		cancel()
	}
}

// Close stops the background watching. It is safe to call more than once,
// and before Start.
func (w *Watcher) Close() {
	w.once.Do(func() {
		close(w.stop)
		if w.started.Load() {
			<-w.done
		}
	})
}
