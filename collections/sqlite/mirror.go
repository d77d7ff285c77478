package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mirror"
)

// The sources of collections/mirror (migration 0011): one row per source
// in mirror_sources holds its declaration, cursor, counters and lease, so
// that recording a page is one update guarded by the lease;
// mirror_rejections and mirror_batches keep the newest records of each.

var _ mirror.Store = (*Store)(nil)

// us returns t in microseconds, 0 for the zero time.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromUS is the inverse of us.
func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// CreateSource implements mirror.Store.
func (s *Store) CreateSource(ctx context.Context, src mirror.Source) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mirror_sources (name, url, username, sealed, cert_file, key_file, ca_file,
			allow_http, api_root, collection, direction, max_tlp, interval_us, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			src.Name, src.URL, src.Username, src.Sealed, src.CertFile, src.KeyFile, src.CAFile, src.AllowHTTP,
			src.APIRoot, src.Collection, cmp.Or(src.Direction, mirror.Pull), src.MaxTLP, src.Interval.Microseconds(), us(src.Created))
		return err
	})
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("%w: a source named %q exists", collections.ErrConflict, src.Name)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create source: %w", err)
	}
	return nil
}

const sourceColumns = `name, url, username, sealed, cert_file, key_file, ca_file, allow_http, api_root, collection, direction, max_tlp, interval_us, created`

func scanSource(sc interface{ Scan(...any) error }) (mirror.Source, error) {
	var src mirror.Source
	var interval, created int64
	err := sc.Scan(&src.Name, &src.URL, &src.Username, &src.Sealed, &src.CertFile, &src.KeyFile, &src.CAFile,
		&src.AllowHTTP, &src.APIRoot, &src.Collection, &src.Direction, &src.MaxTLP, &interval, &created)
	src.Interval, src.Created = time.Duration(interval)*time.Microsecond, fromUS(created)
	return src, err
}

// Source implements mirror.Store.
func (s *Store) Source(ctx context.Context, name string) (mirror.Source, error) {
	src, err := scanSource(s.r.QueryRowContext(ctx, "SELECT "+sourceColumns+" FROM mirror_sources WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return src, fmt.Errorf("%w: no source %q", collections.ErrNotFound, name)
	}
	if err != nil {
		return src, fmt.Errorf("sqlite: source: %w", err)
	}
	return src, nil
}

// Sources implements mirror.Store.
func (s *Store) Sources(ctx context.Context) ([]mirror.Source, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sourceColumns+" FROM mirror_sources ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("sqlite: sources: %w", err)
	}
	defer rows.Close()
	var all []mirror.Source
	for rows.Next() {
		src, err := scanSource(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: sources: %w", err)
		}
		all = append(all, src)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: sources: %w", err)
	}
	return all, nil
}

// DeleteSource implements mirror.Store; its records go with it (ON DELETE
// CASCADE).
func (s *Store) DeleteSource(ctx context.Context, name string) error {
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM mirror_sources WHERE name = ?", name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete source: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: no source %q", collections.ErrNotFound, name)
	}
	return nil
}

// SourceState implements mirror.Store.
func (s *Store) SourceState(ctx context.Context, name string) (mirror.State, error) {
	var st mirror.State
	var success, page, errAt, until int64
	err := s.r.QueryRowContext(ctx, `SELECT cursor_after, cursor_next, cursor_walk_after, pages, objects, added, unchanged,
		rejected, last_success, last_page, last_error, last_error_at, holder, lease_until FROM mirror_sources WHERE name = ?`, name).Scan(
		&st.Cursor.After, &st.Cursor.Next, &st.Cursor.WalkAfter, &st.Counters.Pages, &st.Counters.Objects,
		&st.Counters.Added, &st.Counters.Unchanged, &st.Counters.Rejected, &success, &page, &st.LastError, &errAt,
		&st.Holder, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("%w: no source %q", collections.ErrNotFound, name)
	}
	if err != nil {
		return st, fmt.Errorf("sqlite: source state: %w", err)
	}
	st.LastSuccess, st.LastPage, st.LastErrorAt, st.LeaseUntil = fromUS(success), fromUS(page), fromUS(errAt), fromUS(until)
	return st, nil
}

// sourceExists tells a source whose guarded update matched nothing
// apart: missing, or held by another.
func sourceExists(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM mirror_sources WHERE name = ?", name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// AcquireSourceLease implements mirror.Store.
func (s *Store) AcquireSourceLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var got, exists bool
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mirror_sources SET holder = ?, lease_until = ?
			WHERE name = ? AND (holder = '' OR holder = ? OR lease_until < ?)`,
			holder, us(now.Add(ttl)), name, holder, us(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		got = n == 1
		if got {
			exists = true
			return nil
		}
		exists, err = sourceExists(ctx, tx, name)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: source lease: %w", err)
	}
	if !exists {
		return false, fmt.Errorf("%w: no source %q", collections.ErrNotFound, name)
	}
	return got, nil
}

// ReleaseSourceLease implements mirror.Store.
func (s *Store) ReleaseSourceLease(ctx context.Context, name, holder string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE mirror_sources SET holder = '', lease_until = 0 WHERE name = ? AND holder = ?", name, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: release source lease: %w", err)
	}
	return nil
}

// guarded runs update (whose WHERE ends with the lease condition, taking
// name, holder and now as its last arguments) and then more, in one
// transaction; ErrLeaseLost when the update matched nothing.
func (s *Store) guarded(ctx context.Context, what, update string, args []any, more func(tx *sql.Tx) error) error {
	lost := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, update, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			lost = true
			return nil
		}
		if more != nil {
			return more(tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if lost {
		return mirror.ErrLeaseLost
	}
	return nil
}

const leaseHeld = " WHERE name = ? AND holder = ? AND lease_until >= ?"

// RecordPage implements mirror.Store: the cursor, counters, batch and
// rejections in one transaction.
func (s *Store) RecordPage(ctx context.Context, name, holder string, r mirror.PageRecord) error {
	set := `UPDATE mirror_sources SET cursor_after = ?, cursor_next = ?, cursor_walk_after = ?, pages = pages + 1,
		objects = objects + ?, added = added + ?, unchanged = unchanged + ?, rejected = rejected + ?, last_page = ?`
	args := []any{r.Cursor.After, r.Cursor.Next, r.Cursor.WalkAfter, r.Batch.Objects, r.Batch.Added, r.Batch.Unchanged,
		r.Batch.Rejected, us(r.At)}
	if r.CaughtUp {
		set += ", last_success = ?, last_error = '', last_error_at = 0"
		args = append(args, us(r.At))
	}
	args = append(args, name, holder, us(r.At))
	return s.guarded(ctx, "record page", set+leaseHeld, args, func(tx *sql.Tx) error {
		b := r.Batch
		if _, err := tx.ExecContext(ctx, `INSERT INTO mirror_batches (source, at, first, last, objects, added, unchanged, rejected)
			VALUES (?,?,?,?,?,?,?,?)`, name, us(b.At), b.First, b.Last, b.Objects, b.Added, b.Unchanged, b.Rejected); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mirror_batches WHERE source = ? AND seq <= (SELECT seq FROM mirror_batches
			WHERE source = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`, name, name, mirror.MaxBatches); err != nil {
			return err
		}
		if len(r.Rejections) == 0 {
			return nil
		}
		for _, j := range r.Rejections[:min(len(r.Rejections), mirror.MaxRejections)] {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mirror_rejections (source, at, object_id, version, reason, message)
				VALUES (?,?,?,?,?,?)`, name, us(j.At), j.ID, j.Version, j.Reason, mirror.Clip(j.Message)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM mirror_rejections WHERE source = ? AND seq <= (SELECT seq FROM mirror_rejections
			WHERE source = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`, name, name, mirror.MaxRejections)
		return err
	})
}

// RecordError implements mirror.Store.
func (s *Store) RecordError(ctx context.Context, name, holder string, at time.Time, msg string) error {
	return s.guarded(ctx, "record source error", "UPDATE mirror_sources SET last_error = ?, last_error_at = ?"+leaseHeld,
		[]any{mirror.Clip(msg), us(at), name, holder, us(at)}, nil)
}

// ResetCursor implements mirror.Store.
func (s *Store) ResetCursor(ctx context.Context, name, holder string) error {
	return s.guarded(ctx, "reset source cursor", "UPDATE mirror_sources SET cursor_next = '', cursor_walk_after = ''"+leaseHeld,
		[]any{name, holder, us(time.Now())}, nil)
}

// Rejections implements mirror.Store.
func (s *Store) Rejections(ctx context.Context, name string, limit int) ([]mirror.Rejection, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, object_id, version, reason, message FROM mirror_rejections
		WHERE source = ? ORDER BY seq DESC LIMIT ?`, name, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rejections: %w", err)
	}
	defer rows.Close()
	var out []mirror.Rejection
	for rows.Next() {
		var j mirror.Rejection
		var at int64
		if err := rows.Scan(&at, &j.ID, &j.Version, &j.Reason, &j.Message); err != nil {
			return nil, fmt.Errorf("sqlite: rejections: %w", err)
		}
		j.At = fromUS(at)
		out = append(out, j)
	}
	return out, rows.Err()
}

// Batches implements mirror.Store.
func (s *Store) Batches(ctx context.Context, name string, limit int) ([]mirror.Batch, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, first, last, objects, added, unchanged, rejected FROM mirror_batches
		WHERE source = ? ORDER BY seq DESC LIMIT ?`, name, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: batches: %w", err)
	}
	defer rows.Close()
	var out []mirror.Batch
	for rows.Next() {
		var b mirror.Batch
		var at int64
		if err := rows.Scan(&at, &b.First, &b.Last, &b.Objects, &b.Added, &b.Unchanged, &b.Rejected); err != nil {
			return nil, fmt.Errorf("sqlite: batches: %w", err)
		}
		b.At = fromUS(at)
		out = append(out, b)
	}
	return out, rows.Err()
}
