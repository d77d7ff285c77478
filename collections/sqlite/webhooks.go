package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/webhook"
)

var _ webhook.Store = (*Store)(nil)

// whMicros is t in µs, 0 for the zero time (webhook tables' convention).
func whMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return unixMicro(t)
}

func whTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

const subscriptionColumns = "id, organization, api_root, collection, url, sealed_secret, created_by, created_us, cursor_us, lease_owner, lease_until_us"

func scanSubscription(sc interface{ Scan(...any) error }) (webhook.Subscription, error) {
	var s webhook.Subscription
	var created, cursor, until int64
	err := sc.Scan(&s.ID, &s.Organization, &s.APIRoot, &s.Collection, &s.URL, &s.SealedSecret, &s.CreatedBy,
		&created, &cursor, &s.LeaseOwner, &until)
	s.Created, s.Cursor, s.LeaseUntil = whTime(created), whTime(cursor), whTime(until)
	return s, err
}

const deliveryColumns = "subscription, id, after_us, until_us, redelivery, state, attempts, next_attempt_us, created_us, updated_us, count, last_status, last_error"

func scanDelivery(sc interface{ Scan(...any) error }) (webhook.Delivery, error) {
	var d webhook.Delivery
	var after, until, next, created, updated int64
	err := sc.Scan(&d.Subscription, &d.ID, &after, &until, &d.Redelivery, &d.State, &d.Attempts, &next,
		&created, &updated, &d.Count, &d.LastStatus, &d.LastError)
	d.After, d.Until, d.NextAttempt, d.Created, d.Updated = whTime(after), whTime(until), whTime(next), whTime(created), whTime(updated)
	return d, err
}

func insertDelivery(ctx context.Context, tx *sql.Tx, d webhook.Delivery) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO webhook_deliveries ("+deliveryColumns+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
		d.Subscription, d.ID, whMicros(d.After), whMicros(d.Until), d.Redelivery, d.State, d.Attempts,
		whMicros(d.NextAttempt), whMicros(d.Created), whMicros(d.Updated), d.Count, d.LastStatus, d.LastError)
	return err
}

// isUnique reports a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var coder interface{ Code() int }
	// SQLITE_CONSTRAINT_PRIMARYKEY (1555), SQLITE_CONSTRAINT_UNIQUE (2067)
	return errors.As(err, &coder) && (coder.Code() == 1555 || coder.Code() == 2067)
}

// CreateSubscription implements webhook.Store.
func (s *Store) CreateSubscription(ctx context.Context, sub webhook.Subscription) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO webhook_subscriptions ("+subscriptionColumns+") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			sub.ID, sub.Organization, sub.APIRoot, sub.Collection, sub.URL, sub.SealedSecret, sub.CreatedBy,
			whMicros(sub.Created), whMicros(sub.Cursor), sub.LeaseOwner, whMicros(sub.LeaseUntil))
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("%w: subscription %s exists", collections.ErrConflict, sub.ID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create subscription: %w", err)
	}
	return nil
}

// Subscription implements webhook.Store.
func (s *Store) Subscription(ctx context.Context, id string) (webhook.Subscription, error) {
	sub, err := scanSubscription(s.r.QueryRowContext(ctx, "SELECT "+subscriptionColumns+" FROM webhook_subscriptions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return sub, fmt.Errorf("%w: subscription %s", collections.ErrNotFound, id)
	}
	if err != nil {
		return sub, fmt.Errorf("sqlite: get subscription: %w", err)
	}
	return sub, nil
}

// Subscriptions implements webhook.Store.
func (s *Store) Subscriptions(ctx context.Context, organization string) ([]webhook.Subscription, error) {
	q, args := "SELECT "+subscriptionColumns+" FROM webhook_subscriptions ORDER BY id", []any{}
	if organization != "" {
		q, args = "SELECT "+subscriptionColumns+" FROM webhook_subscriptions WHERE organization = ? ORDER BY id", []any{organization}
	}
	return s.subscriptions(ctx, s.r, q, args...)
}

type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) subscriptions(ctx context.Context, db rowsQuerier, q string, args ...any) ([]webhook.Subscription, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list subscriptions: %w", err)
	}
	defer rows.Close()
	subs := []webhook.Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list subscriptions: %w", err)
		}
		subs = append(subs, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list subscriptions: %w", err)
	}
	return subs, nil
}

// DeleteSubscription implements webhook.Store.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		// The deliveries go first, explicitly: the cascade needs foreign
		// keys enabled on the connection, which a tool might not do.
		if _, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE subscription = ?", id); err != nil {
			return fmt.Errorf("sqlite: delete deliveries: %w", err)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM webhook_subscriptions WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("sqlite: delete subscription: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: subscription %s", collections.ErrNotFound, id)
		}
		return nil
	})
}

// ClaimSubscriptions implements webhook.Store. The write transaction
// serialises claimers, also of other processes on the file; a read finds
// first whether there is anything to claim.
func (s *Store) ClaimSubscriptions(ctx context.Context, owner string, now, renewBefore, until time.Time, limit int) ([]webhook.Subscription, error) {
	const claimable = " FROM webhook_subscriptions WHERE lease_owner = '' OR lease_until_us < ? OR (lease_owner = ? AND lease_until_us < ?)"
	args := []any{whMicros(now), owner, whMicros(renewBefore)}
	var found int
	if err := s.r.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1"+claimable+")", args...).Scan(&found); err != nil {
		return nil, fmt.Errorf("sqlite: claim subscriptions: %w", err)
	}
	if found == 0 {
		return []webhook.Subscription{}, nil
	}
	var subs []webhook.Subscription
	err := s.writeTx(ctx, func(tx *sql.Tx) (err error) {
		subs, err = s.subscriptions(ctx, tx, "UPDATE webhook_subscriptions SET lease_owner = ?, lease_until_us = ?"+
			" WHERE id IN (SELECT id"+claimable+" ORDER BY id LIMIT ?) RETURNING "+subscriptionColumns,
			append(append([]any{owner, whMicros(until)}, args...), limit)...)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(subs, func(a, b webhook.Subscription) int { return strings.Compare(a.ID, b.ID) })
	return subs, nil
}

// ReleaseSubscriptions implements webhook.Store.
func (s *Store) ReleaseSubscriptions(ctx context.Context, owner string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE webhook_subscriptions SET lease_owner = '', lease_until_us = 0 WHERE lease_owner = ?", owner)
		if err != nil {
			return fmt.Errorf("sqlite: release subscriptions: %w", err)
		}
		return nil
	})
}

// holds checks in tx that owner holds the lease of the subscription.
func holds(ctx context.Context, tx *sql.Tx, owner, id string) error {
	var lease string
	err := tx.QueryRowContext(ctx, "SELECT lease_owner FROM webhook_subscriptions WHERE id = ?", id).Scan(&lease)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: subscription %s", collections.ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: read lease: %w", err)
	}
	if lease != owner {
		return fmt.Errorf("%w: the lease of subscription %s is %q's", collections.ErrConflict, id, lease)
	}
	return nil
}

// Enqueue implements webhook.Store.
func (s *Store) Enqueue(ctx context.Context, owner string, d webhook.Delivery) (webhook.Delivery, error) {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := holds(ctx, tx, owner, d.Subscription); err != nil {
			return err
		}
		open, err := scanDelivery(tx.QueryRowContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries"+
			" WHERE subscription = ? AND state = ? AND redelivery = '' ORDER BY next_attempt_us LIMIT 1",
			d.Subscription, webhook.StatePending))
		switch {
		case err == nil:
			open.Until = d.Until
			if _, err := tx.ExecContext(ctx, "UPDATE webhook_deliveries SET until_us = ? WHERE subscription = ? AND id = ?",
				whMicros(d.Until), open.Subscription, open.ID); err != nil {
				return fmt.Errorf("sqlite: extend delivery: %w", err)
			}
			d = open
		case errors.Is(err, sql.ErrNoRows):
			if err := insertDelivery(ctx, tx, d); err != nil {
				return fmt.Errorf("sqlite: add delivery: %w", err)
			}
		default:
			return fmt.Errorf("sqlite: pending delivery: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_subscriptions SET cursor_us = ? WHERE id = ?", whMicros(d.Until), d.Subscription); err != nil {
			return fmt.Errorf("sqlite: advance cursor: %w", err)
		}
		return nil
	})
	return d, err
}

// DueDeliveries implements webhook.Store.
func (s *Store) DueDeliveries(ctx context.Context, subscription string, now time.Time, limit int) ([]webhook.Delivery, error) {
	return s.deliveries(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE subscription = ? AND state = ?"+
		" AND next_attempt_us <= ? ORDER BY next_attempt_us, id LIMIT ?",
		subscription, webhook.StatePending, whMicros(now), limit)
}

func (s *Store) deliveries(ctx context.Context, q string, args ...any) ([]webhook.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	defer rows.Close()
	ds := []webhook.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	return ds, nil
}

// UpdateDelivery implements webhook.Store.
func (s *Store) UpdateDelivery(ctx context.Context, owner string, d webhook.Delivery) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := holds(ctx, tx, owner, d.Subscription); err != nil {
			return err
		}
		var until int64
		err := tx.QueryRowContext(ctx, "SELECT until_us FROM webhook_deliveries WHERE subscription = ? AND id = ?", d.Subscription, d.ID).Scan(&until)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: delivery %s", collections.ErrNotFound, d.ID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: read delivery: %w", err)
		}
		if until != whMicros(d.Until) {
			return fmt.Errorf("%w: delivery %s took in further versions", collections.ErrConflict, d.ID)
		}
		_, err = tx.ExecContext(ctx, "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_us = ?, updated_us = ?,"+
			" count = ?, last_status = ?, last_error = ? WHERE subscription = ? AND id = ?",
			d.State, d.Attempts, whMicros(d.NextAttempt), whMicros(d.Updated), d.Count, d.LastStatus, d.LastError, d.Subscription, d.ID)
		if err != nil {
			return fmt.Errorf("sqlite: update delivery: %w", err)
		}
		return nil
	})
}

// AddDelivery implements webhook.Store.
func (s *Store) AddDelivery(ctx context.Context, d webhook.Delivery) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM webhook_subscriptions WHERE id = ?", d.Subscription).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: subscription %s", collections.ErrNotFound, d.Subscription)
		}
		if err != nil {
			return fmt.Errorf("sqlite: read subscription: %w", err)
		}
		if err := insertDelivery(ctx, tx, d); err != nil {
			if isUnique(err) {
				return fmt.Errorf("%w: delivery %s exists", collections.ErrConflict, d.ID)
			}
			return fmt.Errorf("sqlite: add delivery: %w", err)
		}
		return nil
	})
}

// Delivery implements webhook.Store.
func (s *Store) Delivery(ctx context.Context, subscription, id string) (webhook.Delivery, error) {
	d, err := scanDelivery(s.r.QueryRowContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE subscription = ? AND id = ?", subscription, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("%w: delivery %s", collections.ErrNotFound, id)
	}
	if err != nil {
		return d, fmt.Errorf("sqlite: get delivery: %w", err)
	}
	return d, nil
}

// Deliveries implements webhook.Store.
func (s *Store) Deliveries(ctx context.Context, subscription string, limit int) ([]webhook.Delivery, error) {
	return s.deliveries(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE subscription = ?"+
		" ORDER BY created_us DESC, id DESC LIMIT ?", subscription, limit)
}

// PruneDeliveries implements webhook.Store.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE state IN (?, ?, ?) AND updated_us < ?",
			webhook.StateDelivered, webhook.StateFailed, webhook.StateSkipped, whMicros(before))
		if err != nil {
			return fmt.Errorf("sqlite: prune deliveries: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}
