package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// byteSize is a number of bytes written with an optional unit: B, KB, MB,
// GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), as in
// "2GiB" or "512MiB"; a bare number is bytes. It is a flag.Value.
type byteSize int64

var byteUnits = []struct {
	suffix string
	scale  int64
}{
	// Longest suffixes first, so that "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

func parseByteSize(s string) (byteSize, error) {
	num, scale := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, scale = strings.TrimSpace(n), u.scale
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f*float64(scale) >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size such as 2GiB, 512MiB or 1500000000", s)
	}
	return byteSize(f * float64(scale)), nil
}

func (b *byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// String writes the size in the largest binary unit it reaches: exactly
// when that is whole ("2GiB", "1.5GiB"), else to one decimal ("11.8GiB").
func (b byteSize) String() string {
	n := int64(b)
	for i := 3; i >= 0; i-- {
		u := byteUnits[i]
		if n < u.scale {
			continue
		}
		prec := 1
		if n%(u.scale/2) == 0 {
			prec = -1
		}
		return strconv.FormatFloat(float64(n)/float64(u.scale), 'f', prec, 64) + u.suffix
	}
	return strconv.FormatInt(n, 10)
}

// availableMemory returns the memory the process may use: the limit of its
// cgroup when one is set, else the machine's memory; 0 if neither can be
// read.
func availableMemory() int64 {
	var total int64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		total = memTotal(b)
	}
	for _, path := range []string{
		"/sys/fs/cgroup/memory.max",                   // cgroup v2
		"/sys/fs/cgroup/memory/memory.limit_in_bytes", // cgroup v1
	} {
		if b, err := os.ReadFile(path); err == nil {
			if limit := cgroupLimit(b); limit > 0 && (total == 0 || limit < total) {
				return limit
			}
		}
	}
	return total
}

// memTotal returns the MemTotal of /proc/meminfo in bytes; 0 if absent.
func memTotal(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 {
			return 0
		}
		return kb << 10
	}
	return 0
}

// cgroupLimit returns the memory limit in a cgroup's memory.max (v2) or
// memory.limit_in_bytes (v1); 0 for "max", no limit. (Version 1 writes no
// limit as a huge number, which the caller's comparison with the
// machine's memory discards.)
func cgroupLimit(b []byte) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// Idle memory release. After a burst of work (a large push, many large
// pages) the Go heap has grown, and the runtime gives the freed memory
// back to the operating system only slowly: the next collection may not
// come for two minutes, and the scavenger returns pages gradually after
// it. Once the process has been quiet for idleAfter, releaseWhenIdle
// collects and returns everything at once.
const (
	idleCheckEvery = 10 * time.Second
	idleAfter      = 30 * time.Second
	// quietAllocs is the most the process may allocate per idleCheckEvery
	// and still count as quiet: a trickle of polls is quiet.
	quietAllocs = 8 << 20
)

// releaseWhenIdle frees memory to the operating system once per busy
// period, after idleAfter of quiet, until ctx is done.
func releaseWhenIdle(ctx context.Context, logger *slog.Logger) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocs := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	last, quietSince, released := allocs(), time.Now(), true
	tick := time.NewTicker(idleCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			a := allocs()
			busy := a-last > quietAllocs
			last = a
			switch {
			case busy:
				quietSince, released = now, false
			case !released && now.Sub(quietSince) >= idleAfter:
				// Two collections: the first only moves what sync.Pools
				// hold (pooled envelope buffers among them) aside, the
				// second frees it.
				runtime.GC()
				debug.FreeOSMemory()
				released = true
				logger.Debug("idle: memory returned to the operating system")
			}
		}
	}
}

// GOGC that follows the live heap. The server's live heap is small while
// it serves pages (SQLite's page cache is outside it), and each page
// allocates about as much as it sends: with the default GOGC of 100 the
// collector runs so often that pages/s drop by a third against GOGC=400
// (BENCHMARKS.md, "Garbage collection"). But a large push makes the live
// heap hundreds of MiB, and GOGC=400 lets the heap grow to five times
// that: 1.9 GiB of resident memory for one 99 MiB push against 0.85 GiB
// at GOGC=100. So after each collection tuneGC sets GOGC to keep the
// growth allowed before the next one within gcHeadroom, between 25 and
// 400: a large live heap is one large push, whose memory matters more
// than the collector's work while it lasts.
const (
	gcHeadroom   = 64 << 20
	gcPercentMin = 25
	gcPercentMax = 400
)

// gcPercentFor returns the GOGC for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcPercentMax
	}
	return int(min(max(gcHeadroom*100/live, gcPercentMin), gcPercentMax))
}

// gcCycle is an object whose finalizer runs after each garbage
// collection. It holds a pointer so that it is not tiny-allocated (the
// finalizer of a tiny object may never run).
type gcCycle struct{ _ *byte }

// tuneGC sets GOGC from the live heap now and after every collection, for
// the life of the process.
func tuneGC() {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	percent := -2 // none set yet
	var after func(*gcCycle)
	after = func(c *gcCycle) {
		metrics.Read(live)
		if p := gcPercentFor(live[0].Value.Uint64()); p != percent {
			debug.SetGCPercent(p)
			percent = p
		}
		runtime.SetFinalizer(c, after) // again after the next collection
	}
	after(&gcCycle{})
}
