package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// States of status_entries.state.
const (
	statePending = 0
	stateSuccess = 1
	stateFailure = 2
)

// CreateStatus implements collections.Store. It also removes some expired
// statuses.
func (s *Store) CreateStatus(ctx context.Context, st collections.Status) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		if err := insertStatus(ctx, tx, st, now, nil); err != nil {
			return err
		}
		return deleteExpired(ctx, tx, now, 2*entryCount(st))
	})
}

func entryCount(st collections.Status) int {
	return len(st.Successes) + len(st.Failures) + len(st.Pendings)
}

// entryRows is how many entries one INSERT statement writes.
const entryRows = 100

// settledEntry is what a pending entry became.
type settledEntry struct {
	state            int
	version, message string // message "" keeps the entry's own
}

// insertStatus writes a new status and its entries, the first of its
// pendings already settled as settled says.
func insertStatus(ctx context.Context, tx *sql.Tx, st collections.Status, now int64, settled []settledEntry) error {
	res, err := tx.ExecContext(ctx, `
		INSERT INTO statuses (api_root, id, collection, owner, request_timestamp, total_count, entries, pendings, updated, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (api_root, id) DO NOTHING`,
		st.APIRoot, st.ID, st.Collection, st.Owner, unixMicro(st.RequestTimestamp), st.TotalCount,
		entryCount(st), len(st.Pendings)-len(settled), now, unixMicro(st.Expires))
	if err != nil {
		return fmt.Errorf("sqlite: create status: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%w: status %s exists in API root %s", collections.ErrConflict, st.ID, st.APIRoot)
	}
	skey, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlite: create status: %w", err)
	}
	var (
		args []any
		full *sql.Stmt
	)
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		rows := len(args) / 6
		var err error
		if rows == entryRows {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, insertEntries(entryRows)); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertEntries(rows), args...)
		}
		args = args[:0]
		return err
	}
	seq := 0
	for _, l := range []struct {
		state int
		ds    []collections.StatusDetail
	}{{stateSuccess, st.Successes}, {stateFailure, st.Failures}, {statePending, st.Pendings}} {
		for i, d := range l.ds {
			state := l.state
			if l.state == statePending && i < len(settled) {
				e := settled[i]
				state, d.Version = e.state, e.version
				if e.message != "" {
					d.Message = e.message
				}
			}
			args = append(args, skey, seq, state, d.ID, d.Version, d.Message)
			seq++
			if len(args) == 6*entryRows {
				if err := flush(); err != nil {
					return fmt.Errorf("sqlite: create status: %w", err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("sqlite: create status: %w", err)
	}
	return nil
}

func insertEntries(rows int) string {
	return "INSERT INTO status_entries (skey, seq, state, id, version, message) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", rows), ", ")
}

// deleteExpired removes expired statuses, up to about budget entries, so
// that a backlog never makes a single write slow; each write that creates
// entries allows twice as many to go, so removal keeps pace.
func deleteExpired(ctx context.Context, tx *sql.Tx, now int64, budget int) error {
	budget = max(budget, 1000)
	for budget > 0 {
		var skey, entries int64
		err := tx.QueryRowContext(ctx, "SELECT skey, entries FROM statuses WHERE expires <= ? ORDER BY expires LIMIT 1",
			now).Scan(&skey, &entries)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlite: delete expired statuses: %w", err)
		}
		if entries > int64(budget) {
			// Part of this one: its last entries, and say so in the row.
			keep := entries - int64(budget)
			if _, err := tx.ExecContext(ctx, "DELETE FROM status_entries WHERE skey = ? AND seq >= ?", skey, keep); err != nil {
				return fmt.Errorf("sqlite: delete expired statuses: %w", err)
			}
			_, err = tx.ExecContext(ctx, "UPDATE statuses SET entries = ? WHERE skey = ?", keep, skey)
			if err != nil {
				return fmt.Errorf("sqlite: delete expired statuses: %w", err)
			}
			return nil
		}
		for _, q := range []string{"DELETE FROM status_entries WHERE skey = ?", "DELETE FROM statuses WHERE skey = ?"} {
			if _, err := tx.ExecContext(ctx, q, skey); err != nil {
				return fmt.Errorf("sqlite: delete expired statuses: %w", err)
			}
		}
		budget -= int(entries) + 1
	}
	return nil
}

// unixMicro is t in µs since the Unix epoch, saturating instead of
// overflowing for times beyond year ±292,000.
func unixMicro(t time.Time) int64 {
	switch {
	case t.Before(time.UnixMicro(-1 << 63)):
		return -1 << 63
	case t.After(time.UnixMicro(1<<63 - 1)):
		return 1<<63 - 1
	}
	return t.UnixMicro()
}

const statusColumns = "skey, api_root, id, collection, owner, request_timestamp, total_count, pendings, expires"

func scanStatus(sc interface{ Scan(...any) error }) (int64, collections.Status, error) {
	var (
		skey, requested, expires int64
		pendings                 int
		st                       collections.Status
	)
	err := sc.Scan(&skey, &st.APIRoot, &st.ID, &st.Collection, &st.Owner, &requested, &st.TotalCount, &pendings, &expires)
	st.RequestTimestamp = time.UnixMicro(requested).UTC()
	st.Expires = time.UnixMicro(expires).UTC()
	st.Status = collections.StatusComplete
	if pendings > 0 {
		st.Status = collections.StatusPending
	}
	return skey, st, err
}

// Status implements collections.Store.
func (s *Store) Status(ctx context.Context, apiRoot, id string) (collections.Status, error) {
	// One read transaction: the header and the entries agree.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return collections.Status{}, fmt.Errorf("sqlite: get status: %w", err)
	}
	defer tx.Rollback()
	now := time.Now()
	skey, st, err := scanStatus(tx.QueryRowContext(ctx,
		"SELECT "+statusColumns+" FROM statuses WHERE api_root = ? AND id = ? AND expires > ?", apiRoot, id, now.UnixMicro()))
	if errors.Is(err, sql.ErrNoRows) {
		return collections.Status{}, collections.ErrNotFound
	}
	if err != nil {
		return collections.Status{}, fmt.Errorf("sqlite: get status: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT state, id, version, message FROM status_entries WHERE skey = ? ORDER BY seq", skey)
	if err != nil {
		return collections.Status{}, fmt.Errorf("sqlite: get status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			state int
			d     collections.StatusDetail
		)
		if err := rows.Scan(&state, &d.ID, &d.Version, &d.Message); err != nil {
			return collections.Status{}, fmt.Errorf("sqlite: get status: %w", err)
		}
		switch state {
		case stateSuccess:
			st.Successes = append(st.Successes, d)
		case stateFailure:
			st.Failures = append(st.Failures, d)
		default:
			st.Pendings = append(st.Pendings, d)
		}
	}
	if err := rows.Err(); err != nil {
		return collections.Status{}, fmt.Errorf("sqlite: get status: %w", err)
	}
	return st, nil
}

// PendingStatuses implements collections.Store.
func (s *Store) PendingStatuses(ctx context.Context, before time.Time, limit int) ([]collections.Status, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+statusColumns+
		" FROM statuses INDEXED BY statuses_pending WHERE pendings > 0 AND updated < ? AND expires > ? ORDER BY updated LIMIT ?",
		unixMicro(before), time.Now().UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending statuses: %w", err)
	}
	defer rows.Close()
	var out []collections.Status
	for rows.Next() {
		_, st, err := scanStatus(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: pending statuses: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending statuses: %w", err)
	}
	return out, nil
}

// FailPendings implements collections.Store.
func (s *Store) FailPendings(ctx context.Context, apiRoot, id, message string, expires time.Time) (int, error) {
	var failed int
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		var skey, entries, pendings int64
		err := tx.QueryRowContext(ctx, "SELECT skey, entries, pendings FROM statuses WHERE api_root = ? AND id = ? AND expires > ?",
			apiRoot, id, now).Scan(&skey, &entries, &pendings)
		if errors.Is(err, sql.ErrNoRows) {
			return collections.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sqlite: fail pending entries: %w", err)
		}
		if pendings == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE status_entries SET state = ?, message = ? WHERE skey = ? AND seq >= ?",
			stateFailure, message, skey, entries-pendings); err != nil {
			return fmt.Errorf("sqlite: fail pending entries: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE statuses SET pendings = 0, updated = ?, expires = ? WHERE skey = ?",
			now, unixMicro(expires), skey); err != nil {
			return fmt.Errorf("sqlite: fail pending entries: %w", err)
		}
		failed = int(pendings)
		return nil
	})
	return failed, err
}

// statusTx settles the pending entries of one status within an AddObjects
// transaction.
type statusTx struct {
	ctx        context.Context
	skey, next int64
	settled    int64
	keep, set  *sql.Stmt
	// fresh is a status to create with this transaction: it is written
	// last, its entries settled as they are written (once, not twice).
	fresh   *collections.Status
	results []settledEntry
}

// beginStatusUpdate checks that the status has at least n pending entries
// (or, one to create, that it will have).
func (s *Store) beginStatusUpdate(ctx context.Context, tx *sql.Tx, upd *collections.StatusUpdate, n int, now int64) (*statusTx, error) {
	ctx = context.WithoutCancel(ctx) // as objectTx: no watcher per statement
	if upd.New != nil {
		if upd.New.APIRoot != upd.APIRoot || upd.New.ID != upd.ID {
			return nil, fmt.Errorf("sqlite: status update for %s/%s creates %s/%s", upd.APIRoot, upd.ID, upd.New.APIRoot, upd.New.ID)
		}
		if len(upd.New.Pendings) < n {
			return nil, fmt.Errorf("%w: status %s has %d pending entries, not the %d objects added", collections.ErrConflict, upd.ID, len(upd.New.Pendings), n)
		}
		return &statusTx{ctx: ctx, fresh: upd.New, results: make([]settledEntry, 0, n)}, nil
	}
	var skey, entries, pendings int64
	err := tx.QueryRowContext(ctx, "SELECT skey, entries, pendings FROM statuses WHERE api_root = ? AND id = ? AND expires > ?",
		upd.APIRoot, upd.ID, now).Scan(&skey, &entries, &pendings)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: status %s", collections.ErrNotFound, upd.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: status update: %w", err)
	}
	if pendings < int64(n) {
		return nil, fmt.Errorf("%w: status %s has %d pending entries, not the %d objects added", collections.ErrConflict, upd.ID, pendings, n)
	}
	return &statusTx{ctx: ctx, skey: skey, next: entries - pendings,
		keep: tx.StmtContext(ctx, s.ws.settleKeep), set: tx.StmtContext(ctx, s.ws.settleSet)}, nil
}

// settle records the outcome of the next pending entry.
func (t *statusTx) settle(r collections.AddResult) error {
	ok, version, msg := collections.Settle(r)
	state := stateFailure
	if ok {
		state = stateSuccess
	}
	if t.fresh != nil {
		t.results = append(t.results, settledEntry{state, version, msg})
		return nil
	}
	var err error
	if msg == "" {
		_, err = t.keep.ExecContext(t.ctx, state, version, t.skey, t.next)
	} else {
		_, err = t.set.ExecContext(t.ctx, state, version, msg, t.skey, t.next)
	}
	t.next++
	t.settled++
	return err
}

// finish writes the status to create, or updates the status's counters
// and expiry.
func (t *statusTx) finish(tx *sql.Tx, now int64, expires time.Time) error {
	if t.fresh != nil {
		st := *t.fresh
		st.Expires = expires
		if err := insertStatus(t.ctx, tx, st, now, t.results); err != nil {
			return err
		}
		return deleteExpired(t.ctx, tx, now, 2*entryCount(st))
	}
	_, err := tx.ExecContext(t.ctx, "UPDATE statuses SET pendings = pendings - ?, updated = ?, expires = ? WHERE skey = ?",
		t.settled, now, unixMicro(expires), t.skey)
	return err
}
