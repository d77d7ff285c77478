package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/taxiid/taxiid/authz"
)

const auditColumns = "id, time, user_id, user_name, organization_id, source_address, request_id, action, " +
	"api_root, collection, details"

// AppendAudit implements authz.Store.
func (s *Store) AppendAudit(ctx context.Context, events []authz.AuditEvent) error {
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("audit event %d: %w", i, err)
		}
	}
	if len(events) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, "INSERT INTO audit_events ("+auditColumns+
			") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
		if err != nil {
			return fmt.Errorf("sqlite: append audit events: %w", err)
		}
		defer st.Close()
		for _, e := range events {
			if _, err := st.ExecContext(ctx, e.ID, msOf(e.Time), e.UserID, e.UserName, e.OrganizationID,
				e.SourceAddress, e.RequestID, e.Action, e.APIRoot, e.Collection, string(e.Details)); err != nil {
				return fmt.Errorf("sqlite: append audit events: %w", err)
			}
		}
		return nil
	})
}

func scanAudit(sc interface{ Scan(...any) error }) (authz.AuditEvent, error) {
	var (
		e       authz.AuditEvent
		at      int64
		details string
	)
	if err := sc.Scan(&e.ID, &at, &e.UserID, &e.UserName, &e.OrganizationID, &e.SourceAddress, &e.RequestID,
		&e.Action, &e.APIRoot, &e.Collection, &details); err != nil {
		return e, err
	}
	e.Time = timeOfMS(at)
	if details != "" {
		e.Details = []byte(details)
	}
	return e, nil
}

// AuditEvents implements authz.Store.
func (s *Store) AuditEvents(ctx context.Context, f authz.AuditFilter) ([]authz.AuditEvent, error) {
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	q, args := auditQuery(f, limit)
	return list(ctx, s.r, scanAudit, "audit events", q, args...)
}

// auditQuery is the listing of f. Each filter column leads an index ending
// in (time, id), so a page is one index range read backwards, without a
// sort (TestAuthzQueryPlans).
func auditQuery(f authz.AuditFilter, limit int) (string, []any) {
	q := "SELECT " + auditColumns + " FROM audit_events WHERE 1"
	var args []any
	for _, c := range []struct{ column, v string }{
		{"user_id", f.UserID}, {"organization_id", f.OrganizationID}, {"action", f.Action},
		{"api_root", f.APIRoot}, {"collection", f.Collection},
	} {
		if c.v != "" {
			q += " AND " + c.column + " = ?"
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		q += " AND time >= ?"
		args = append(args, msOf(f.Since))
	}
	if !f.Until.IsZero() {
		q += " AND time < ?"
		args = append(args, msOf(f.Until))
	}
	if !f.After.IsZero() {
		q += " AND (time, id) < (?, ?)"
		args = append(args, msOf(f.After.Time), f.After.ID)
	}
	q += " ORDER BY time DESC, id DESC LIMIT ?"
	return q, append(args, limit)
}

// purgeBatch bounds the events one purge transaction removes, so that the
// writer is never held long.
const purgeBatch = 10_000

// PurgeAudit implements authz.Store, in transactions of purgeBatch events.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.writeTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE id IN
				(SELECT id FROM audit_events WHERE time < ? ORDER BY time LIMIT ?)`, msOf(before), purgeBatch)
			if err != nil {
				return fmt.Errorf("sqlite: purge audit events: %w", err)
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}
