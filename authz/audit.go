package authz

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// AuditLogConfig sets up an AuditLog. Store is required.
type AuditLogConfig struct {
	Store Store
	Log   *slog.Logger
	// BatchSize is the most events written in one AppendAudit (default
	// 500); FlushInterval the longest an event waits to be written
	// (default one second).
	BatchSize     int
	FlushInterval time.Duration
	// QueueSize bounds the events waiting to be written (default 100,000).
	// When the store cannot keep up, Record drops events rather than
	// slowing requests, and counts them (Dropped).
	QueueSize int
	// Retention is how long events are kept (default 365 days); older ones
	// are purged every hour. Negative: never purge.
	Retention time.Duration
}

// AuditLog writes audit events off the request path, in batches, and purges
// those older than the retention.
type AuditLog struct {
	store     Store
	log       *slog.Logger
	batch     int
	interval  time.Duration
	retention time.Duration
	ch        chan AuditEvent
	dropped   atomic.Int64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewAuditLog starts the writer; Close it to write what is queued.
func NewAuditLog(cfg AuditLogConfig) (*AuditLog, error) {
	if cfg.Store == nil {
		return nil, errors.New("authz: audit log needs a store")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 100_000
	}
	if cfg.Retention == 0 {
		cfg.Retention = 365 * 24 * time.Hour
	}
	l := &AuditLog{
		store: cfg.Store, log: cfg.Log, batch: cfg.BatchSize, interval: cfg.FlushInterval,
		retention: cfg.Retention, ch: make(chan AuditEvent, cfg.QueueSize),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.run()
	return l, nil
}

// Record queues e to be written within the flush interval, setting its ID
// and Time when they are zero. It never blocks. Use Store.AppendAudit
// directly for events that must be durable before the request answers
// (admin changes).
func (l *AuditLog) Record(e AuditEvent) {
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	select {
	case l.ch <- e:
	default:
		if l.dropped.Add(1) == 1 {
			l.log.Error("authz: audit queue full, dropping events")
		}
	}
}

// Dropped returns how many events Record dropped because the queue was
// full.
func (l *AuditLog) Dropped() int64 { return l.dropped.Load() }

func (l *AuditLog) run() {
	defer close(l.done)
	flush := time.NewTicker(l.interval)
	defer flush.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	l.purge()
	var pending []AuditEvent
	for {
		select {
		case e := <-l.ch:
			pending = append(pending, e)
			if len(pending) >= l.batch {
				pending = l.write(pending)
			}
		case <-flush.C:
			pending = l.write(pending)
		case <-purge.C:
			l.purge()
		case <-l.stop:
			for {
				select {
				case e := <-l.ch:
					pending = append(pending, e)
					continue
				default:
				}
				break
			}
			if lost := l.write(pending); len(lost) > 0 {
				l.dropped.Add(int64(len(lost)))
				l.log.Error("authz: audit events lost at shutdown", "count", len(lost))
			}
			return
		}
	}
}

// write appends a batch and returns what is left to write: nothing, or, when
// the store failed, the batch (retried at the next flush, so that a store
// hiccup loses nothing; invalid events are dropped and logged).
func (l *AuditLog) write(batch []AuditEvent) []AuditEvent {
	if len(batch) == 0 {
		return batch
	}
	valid := batch[:0]
	for _, e := range batch {
		if err := e.Validate(); err != nil {
			l.log.Error("authz: invalid audit event dropped", "action", e.Action, "err", err)
			continue
		}
		valid = append(valid, e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(valid) > 0 {
		n := min(len(valid), l.batch)
		if err := l.store.AppendAudit(ctx, valid[:n]); err != nil {
			l.log.Error("authz: write audit events", "err", err)
			if len(valid) > 10*l.batch {
				// Keep memory bounded while the store is down.
				l.dropped.Add(int64(len(valid) - 10*l.batch))
				valid = valid[len(valid)-10*l.batch:]
			}
			return valid
		}
		valid = valid[n:]
	}
	return nil
}

func (l *AuditLog) purge() {
	if l.retention < 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n, err := l.store.PurgeAudit(ctx, time.Now().Add(-l.retention))
	if err != nil {
		l.log.Error("authz: purge audit events", "err", err)
		return
	}
	if n > 0 {
		l.log.Info("authz: purged audit events", "count", n, "retention", l.retention)
	}
}

// Close writes the queued events and stops the writer. Safe to call more
// than once.
func (l *AuditLog) Close() error {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
	})
	return nil
}
