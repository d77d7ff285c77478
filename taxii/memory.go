package taxii

import (
	queue "container/list"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v5"
)

// The memory budget bounds what in-flight requests may hold: a push is
// charged its body's length, a page of objects the page byte budget. A
// request that does not fit waits its turn (first come, first served) for
// up to memoryWait, then gets a 503 with Retry-After.
const (
	// DefaultMaxMemory is the default of Config.MaxMemory.
	DefaultMaxMemory = 1 << 30
	memoryWait       = 2 * time.Second
	retryAfter       = 2 // seconds, in Retry-After
)

// memoryBudget is a weighted semaphore over bytes, first come first
// served: a large request at the head of the queue is not overtaken by
// smaller ones, so that it cannot starve.
type memoryBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters queue.List // of *memoryWaiter
}

type memoryWaiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are granted
}

// charge is what a request of n bytes is charged: at most half the budget,
// so that one request never holds it all.
func (b *memoryBudget) charge(n int64) int64 { return max(1, min(n, b.size/2)) }

// acquire takes n bytes (already charged), waiting until they are free or
// ctx ends.
func (b *memoryBudget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &memoryWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= n
	default:
		b.waiters.Remove(elem)
	}
	b.grant() // those behind it may fit now
	return ctx.Err()
}

// release gives back n bytes taken by acquire.
func (b *memoryBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.grant()
}

// grant hands free bytes to the waiters, in order. b.mu is held.
func (b *memoryBudget) grant() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*memoryWaiter)
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}

func (b *memoryBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// MemoryInUse returns the bytes in-flight requests hold of the memory
// budget (Config.MaxMemory).
func (s *Server) MemoryInUse() int64 { return s.memory.inUse() }

// reservation is what a request holds of the memory budget.
type reservation struct {
	b *memoryBudget
	n int64
}

// shrink lowers the reservation to what the request turned out to need
// (a page smaller than the page byte budget), so that a slow reader holds
// only that while its response is written.
func (r *reservation) shrink(n int64) {
	if n = r.b.charge(n); n < r.n {
		r.b.release(r.n - n)
		r.n = n
	}
}

// release gives the reservation back.
func (r *reservation) release() { r.b.release(r.n) }

// reserveMemory charges the request n bytes of the memory budget, waiting
// up to memoryWait (or the request's own deadline) for them. A 503 with
// Retry-After when they stay taken.
func (s *Server) reserveMemory(c *echo.Context, n int64) (*reservation, error) {
	n = s.memory.charge(n)
	ctx, cancel := context.WithTimeout(c.Request().Context(), memoryWait)
	defer cancel()
	if err := s.memory.acquire(ctx, n); err != nil {
		if errors.Is(c.Request().Context().Err(), context.Canceled) {
			return nil, err // the client left
		}
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter))
		return nil, errorf(http.StatusServiceUnavailable, "the server is busy with other requests; retry in %d seconds", retryAfter)
	}
	return &reservation{b: s.memory, n: n}, nil
}
