package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// checkpointDelay is how long the checkpointer lets commits accumulate
// before it checkpoints them: each checkpoint costs an fsync of the
// database file, and a page rewritten by several commits is copied once.
const checkpointDelay = 200 * time.Millisecond

// walLimit bounds the write-ahead log file. Under continuous writes a
// PASSIVE checkpoint rarely catches up with the last commit, so the log is
// never restarted and would grow for as long as the writes go on; past
// walLimit the checkpointer runs a TRUNCATE checkpoint, which makes the
// next writer wait (for one checkpoint of at most walLimit bytes) and
// leaves the log empty. The writer's journal_size_limit truncates the log
// to walLimit whenever it restarts it.
var walLimit int64 = 64 << 20

// checkpointer copies the WAL into the database file on its own connection
// and goroutine, so that writers never pay for it in their commit (the write
// connection has wal_autocheckpoint off). PASSIVE checkpoints never wait for
// readers or writers.
type checkpointer struct {
	db  *sql.DB
	wal string // path of the log file
	// writer is the store's writer lock: a TRUNCATE checkpoint holds it,
	// else the store's writers, one right after another, leave it no gap
	// to take the database's write lock in.
	writer sync.Locker
	kicks  chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

func startCheckpointer(ctx context.Context, path, common string, writer sync.Locker) (*checkpointer, error) {
	db, err := sql.Open("sqlite", path+"?"+common+"&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("open %s for checkpoints: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s for checkpoints: %w", path, err)
	}
	c := &checkpointer{db: db, wal: path + "-wal", writer: writer, kicks: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// kick tells the checkpointer that a write committed. It never blocks.
func (c *checkpointer) kick() {
	select {
	case c.kicks <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kicks:
		}
		mode := "TRUNCATE"
		if !c.overLimit() {
			select {
			case <-c.stop:
				return
			case <-time.After(checkpointDelay):
			}
			if !c.overLimit() {
				mode = "PASSIVE"
			}
		}
		if mode == "TRUNCATE" {
			c.writer.Lock()
		}
		var busy, frames, copied int
		err := c.db.QueryRow("PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &copied)
		if mode == "TRUNCATE" {
			c.writer.Unlock()
		}
		if err != nil {
			// Not fatal: the WAL keeps the data; the next commit retries.
			slog.Warn("sqlite: checkpoint failed", "mode", mode, "err", err)
		}
	}
}

// overLimit reports whether the log file is larger than walLimit.
func (c *checkpointer) overLimit() bool {
	fi, err := os.Stat(c.wal)
	return err == nil && fi.Size() > walLimit
}

// close stops the checkpointer. SQLite checkpoints the whole WAL when the
// last connection to the file closes.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
