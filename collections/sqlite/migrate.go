package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// goMigrations are the parts of migrations that SQL alone cannot do, run
// after the migration's SQL in the same transaction.
var goMigrations = map[int]func(ctx context.Context, tx *sql.Tx) error{
	3: migrate3,
	7: migrate7,
}

// migrate applies the embedded migrations/NNNN_*.sql files numbered above
// the database's user_version, all in one transaction with the version
// bump. The transaction takes the write lock first (BEGIN IMMEDIATE) and
// reads user_version inside it, so that of several processes opening one
// new file at once, one migrates and the others find the work done.
func migrate(ctx context.Context, db *sql.DB) error {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return err
	}
	known := 0
	for _, e := range entries { // ReadDir sorts by name
		num, _, _ := strings.Cut(e.Name(), "_")
		n, err := strconv.Atoi(num)
		if err != nil || n != known+1 {
			return fmt.Errorf("migration %s: name must start with number %04d", e.Name(), known+1)
		}
		known = n
	}
	var cur int
	// The first statement opens the connection and sets WAL mode, which a
	// process creating the file at the same moment may hold up briefly
	// without SQLite's busy handler being called.
	err = retryBusy(ctx, func() error { return db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur) })
	if err != nil {
		return fmt.Errorf("read user_version: %w", err)
	}
	if cur == known {
		return nil // the common case: nothing to lock
	}
	tx, err := beginWaiting(ctx, db)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// user_version lives in the file header and is transactional.
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return fmt.Errorf("read user_version: %w", err)
	}
	if cur > known {
		return fmt.Errorf("database schema version %d is newer than this program's %d", cur, known)
	}
	for n := cur + 1; n <= known; n++ {
		name := entries[n-1].Name()
		body, err := migrations.ReadFile("migrations/" + name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if fn := goMigrations[n]; fn != nil {
			if err := fn(ctx, tx); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
		}
	}
	if cur == known {
		return nil // another process migrated meanwhile
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", known)); err != nil {
		return err
	}
	return tx.Commit()
}

// beginWaiting begins a write transaction (the writer's connections begin
// IMMEDIATE), waiting for as long as ctx allows while another process holds
// the write lock: a migration elsewhere may take longer than busy_timeout.
func beginWaiting(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	var tx *sql.Tx
	err := retryBusy(ctx, func() (err error) {
		tx, err = db.BeginTx(ctx, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return tx, nil
}

// retryBusy runs fn until it succeeds, fails otherwise than with
// SQLITE_BUSY, or ctx ends.
func retryBusy(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (the database is
// locked by another connection).
func isBusy(err error) bool {
	var coder interface{ Code() int }
	return errors.As(err, &coder) && coder.Code()&0xff == 5
}
