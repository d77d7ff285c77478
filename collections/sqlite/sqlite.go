// Package sqlite is taxiid's embedded default storage backend: a single
// SQLite file in WAL mode, through the pure-Go driver modernc.org/sqlite.
//
// Writes go through one connection, one at a time, with synchronous=FULL so
// that a write is on disk when its method returns. Reads use a separate pool
// of query-only connections, which in WAL mode never wait for the writer.
// Several stores (processes) may open one file: SQLite's write lock
// serialises their writes, and every write reads what it builds on inside
// its transaction.
//
// Files: sqlite.go (opening, transactions), migrate.go and migrate3.go
// (schema versions), objects.go (adding and deleting versions, heads.go
// their summaries), query.go (pages of objects), roots.go (API roots and
// collections), status.go, secrets.go, checkpoint.go (the log).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/taxiid/taxiid/collections"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var _ collections.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a collections.Store on one SQLite file. Open it with Open.
type Store struct {
	w    *sql.DB // the single write connection
	r    *sql.DB // query-only read pool
	ckpt *checkpointer

	// wmu serialises writers. The write pool has one connection anyway, but
	// the mutex also guards lastAdded, which must advance in commit order.
	wmu sync.Mutex
	// lastAdded is the highest date_added (µs) handed out, or at least as
	// high as MAX(date_added) when it was last read.
	lastAdded int64
	ws        writeStmts

	colls sync.Map // collKey -> int64, checked before each use (see collection)

	qmu    sync.Mutex
	qcache map[string]*sql.Stmt // read statements by SQL text

	closeOnce sync.Once
	closeErr  error
}

type collKey struct{ apiRoot, id string }

// maxCachedQueries bounds the read statement cache: query shapes depend on
// how many types, ids and versions a request names.
const maxCachedQueries = 256

// Open opens (creating if needed) the store in the SQLite file at path,
// creating its directory if missing, and applies pending schema migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create directory: %w", err)
	}
	// Settings of every connection. busy_timeout covers other processes
	// sharing the file (in this process writers queue on wmu); mmap lets
	// reads come straight from the OS page cache, without a pread per page.
	const common = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=temp_store(memory)" +
		"&_pragma=mmap_size(1073741824)"
	// The writer. page_size only applies to a new file, and must come before
	// WAL mode (the _journal_mode key runs after the _pragma list); 16 KiB
	// pages take ~15% less CPU per insert than 4 KiB. synchronous=FULL
	// makes every commit durable. The 64 MiB page cache holds the hot index
	// pages: ids are random, so inserts touch leaves all over objects_id.
	// Checkpoints run in the background (see checkpointer), not in the
	// commit that happens to cross a threshold.
	w, err := sql.Open("sqlite", path+"?"+common+
		"&_pragma=page_size(16384)&_journal_mode=WAL&_pragma=synchronous(FULL)&_pragma=cache_size(-65536)"+
		"&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit("+strconv.FormatInt(walLimit, 10)+")&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{w: w, qcache: make(map[string]*sql.Stmt)}
	if err := s.init(ctx, path, common); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context, path, common string) error {
	if err := migrate(ctx, s.w); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	// Open the readers only once the file is in WAL mode with its schema.
	r, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		return fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	s.r = r
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	if s.ckpt, err = startCheckpointer(ctx, path, common, &s.wmu); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if err := s.ws.prepare(ctx, s.w); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	var last sql.NullInt64
	if err := s.w.QueryRowContext(ctx, "SELECT MAX(date_added) FROM objects").Scan(&last); err != nil {
		return fmt.Errorf("sqlite: read last date_added: %w", err)
	}
	s.lastAdded = last.Int64
	return nil
}

// Ping checks that the store answers a read, within ctx.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the store. Writes are already durable when their methods
// return, so nothing is pending. Calling Close again returns the first
// result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.ckpt != nil {
			errs = append(errs, s.ckpt.close())
		}
		s.qmu.Lock()
		for _, st := range s.qcache {
			errs = append(errs, st.Close())
		}
		s.qcache = nil
		s.qmu.Unlock()
		errs = append(errs, s.ws.close())
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// readStmt returns a prepared read statement for query, cached by its text.
// The bool reports whether the caller must close it (cache full).
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, bool, error) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.qcache == nil {
		return nil, false, errors.New("sqlite: store is closed")
	}
	if st, ok := s.qcache[query]; ok {
		return st, false, nil
	}
	st, err := s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	if len(s.qcache) >= maxCachedQueries {
		return st, true, nil
	}
	s.qcache[query] = st
	return st, false, nil
}

// collection returns the coll key of a collection, or ErrNotFound. q is the
// read pool or a write transaction.
//
// A cached key is checked against its row before use, by reads as well as
// writes: another handle may have deleted the collection since, and once
// its API root is deleted too the tombstone goes and the key may be given
// to a collection of another API root, whose objects a read must not show
// under this name. A key that no longer matches is dropped and the
// collection looked up again, as it may have been created again.
func (s *Store) collection(ctx context.Context, q querier, apiRoot, id string) (int64, error) {
	k := collKey{apiRoot, id}
	if v, ok := s.colls.Load(k); ok {
		var one int
		err := s.queryRow(ctx, q, "SELECT 1 FROM collections WHERE coll = ? AND api_root = ? AND id = ? AND deleted = 0", v, apiRoot, id).Scan(&one)
		if err == nil {
			return v.(int64), nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("sqlite: look up collection: %w", err)
		}
		s.colls.CompareAndDelete(k, v)
	}
	var coll int64
	err := s.queryRow(ctx, q, "SELECT coll FROM collections WHERE api_root = ? AND id = ? AND deleted = 0", apiRoot, id).Scan(&coll)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, collections.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: look up collection: %w", err)
	}
	s.colls.Store(k, coll)
	return coll, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryRow runs a one-row query on q; on the read pool through a cached
// prepared statement, since every page runs these: preparing the text
// each time costs more than running it.
func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	if q != querier(s.r) {
		return q.QueryRowContext(ctx, query, args...)
	}
	st, closeStmt, err := s.readStmt(ctx, query)
	if err != nil || closeStmt {
		if closeStmt {
			st.Close()
		}
		return q.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// writeTx runs fn in a write transaction (BEGIN IMMEDIATE) while holding the
// writer lock, and commits if fn succeeds.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	s.ckpt.kick()
	return nil
}
