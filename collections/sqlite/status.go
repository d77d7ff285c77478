package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// statusDoc is the stored JSON form of a collections.Status.
type statusDoc struct {
	ID               string      `json:"id"`
	APIRoot          string      `json:"api_root"`
	Status           string      `json:"status"`
	RequestTimestamp time.Time   `json:"request_timestamp"`
	TotalCount       int         `json:"total_count"`
	Successes        []detailDoc `json:"successes,omitempty"`
	Failures         []detailDoc `json:"failures,omitempty"`
	Pendings         []detailDoc `json:"pendings,omitempty"`
	Expires          time.Time   `json:"expires"`
}

type detailDoc struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
	Message string `json:"message,omitempty"`
}

func toDetailDocs(ds []collections.StatusDetail) []detailDoc {
	if len(ds) == 0 {
		return nil
	}
	out := make([]detailDoc, len(ds))
	for i, d := range ds {
		out[i] = detailDoc(d)
	}
	return out
}

func fromDetailDocs(ds []detailDoc) []collections.StatusDetail {
	if len(ds) == 0 {
		return nil
	}
	out := make([]collections.StatusDetail, len(ds))
	for i, d := range ds {
		out[i] = collections.StatusDetail(d)
	}
	return out
}

// expiredBatch bounds how many expired statuses one PutStatus removes, so
// that a backlog never makes a single write slow.
const expiredBatch = 100

// PutStatus implements collections.Store. It also removes a few expired
// statuses.
func (s *Store) PutStatus(ctx context.Context, st collections.Status) error {
	doc, err := json.Marshal(statusDoc{
		ID:               st.ID,
		APIRoot:          st.APIRoot,
		Status:           st.Status,
		RequestTimestamp: st.RequestTimestamp.UTC(),
		TotalCount:       st.TotalCount,
		Successes:        toDetailDocs(st.Successes),
		Failures:         toDetailDocs(st.Failures),
		Pendings:         toDetailDocs(st.Pendings),
		Expires:          st.Expires.UTC(),
	})
	if err != nil {
		return fmt.Errorf("sqlite: put status: %w", err)
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO statuses (api_root, id, expires, doc) VALUES (?, ?, ?, ?)
			ON CONFLICT (api_root, id) DO UPDATE SET expires = excluded.expires, doc = excluded.doc`,
			st.APIRoot, st.ID, unixMicro(st.Expires), string(doc))
		if err != nil {
			return fmt.Errorf("sqlite: put status: %w", err)
		}
		_, err = tx.ExecContext(ctx, `
			DELETE FROM statuses WHERE rowid IN (
				SELECT rowid FROM statuses WHERE expires <= ? ORDER BY expires LIMIT ?)`,
			time.Now().UnixMicro(), expiredBatch)
		if err != nil {
			return fmt.Errorf("sqlite: delete expired statuses: %w", err)
		}
		return nil
	})
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

// Status implements collections.Store.
func (s *Store) Status(ctx context.Context, apiRoot, id string) (collections.Status, error) {
	var doc string
	err := s.r.QueryRowContext(ctx,
		"SELECT doc FROM statuses WHERE api_root = ? AND id = ? AND expires > ?",
		apiRoot, id, time.Now().UnixMicro()).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return collections.Status{}, collections.ErrNotFound
	}
	if err != nil {
		return collections.Status{}, fmt.Errorf("sqlite: get status: %w", err)
	}
	var d statusDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return collections.Status{}, fmt.Errorf("sqlite: get status %s: %w", id, err)
	}
	// Also expired when Expires falls within the current microsecond.
	if !time.Now().Before(d.Expires) {
		return collections.Status{}, collections.ErrNotFound
	}
	return collections.Status{
		ID:               d.ID,
		APIRoot:          d.APIRoot,
		Status:           d.Status,
		RequestTimestamp: d.RequestTimestamp.UTC(),
		TotalCount:       d.TotalCount,
		Successes:        fromDetailDocs(d.Successes),
		Failures:         fromDetailDocs(d.Failures),
		Pendings:         fromDetailDocs(d.Pendings),
		Expires:          d.Expires.UTC(),
	}, nil
}

// Secret implements collections.Store. newSecret is called only when the
// secret does not exist yet; if another writer creates it first, that one
// wins and is returned.
func (s *Store) Secret(ctx context.Context, name string, newSecret func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get secret %q: %w", name, err)
	}
	fresh, err := newSecret()
	if err != nil {
		return nil, fmt.Errorf("sqlite: new secret %q: %w", name, err)
	}
	if fresh == nil {
		fresh = []byte{} // the driver binds nil as NULL
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", name, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: create secret %q: %w", name, err)
	}
	return v, nil
}
