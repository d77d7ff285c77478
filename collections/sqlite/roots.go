package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// APIRoots implements collections.Store.
func (s *Store) APIRoots(ctx context.Context) ([]collections.APIRoot, error) {
	rows, err := s.r.QueryContext(ctx,
		"SELECT path, title, description, max_content_length FROM api_roots ORDER BY path")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list API roots: %w", err)
	}
	defer rows.Close()
	var roots []collections.APIRoot
	for rows.Next() {
		var r collections.APIRoot
		if err := rows.Scan(&r.Path, &r.Title, &r.Description, &r.MaxContentLength); err != nil {
			return nil, fmt.Errorf("sqlite: list API roots: %w", err)
		}
		roots = append(roots, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list API roots: %w", err)
	}
	return roots, nil
}

// PutAPIRoot implements collections.Store.
func (s *Store) PutAPIRoot(ctx context.Context, root collections.APIRoot) error {
	if err := root.Validate(); err != nil {
		return err
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO api_roots (path, title, description, max_content_length) VALUES (?, ?, ?, ?)
			ON CONFLICT (path) DO UPDATE SET
				title = excluded.title,
				description = excluded.description,
				max_content_length = excluded.max_content_length`,
			root.Path, root.Title, root.Description, root.MaxContentLength)
		if err != nil {
			return fmt.Errorf("sqlite: put API root %q: %w", root.Path, err)
		}
		return nil
	})
}

const collectionColumns = "api_root, id, alias, title, description, media_types, validation, unmarked_tlp"

func scanCollection(sc interface{ Scan(...any) error }) (collections.Collection, error) {
	var (
		c        collections.Collection
		alias    sql.NullString
		media    string
		unmarked int64
	)
	if err := sc.Scan(&c.APIRoot, &c.ID, &alias, &c.Title, &c.Description, &media, &c.Validation, &unmarked); err != nil {
		return c, err
	}
	c.UnmarkedTLP = stix.TLP(unmarked)
	c.Alias = alias.String
	if err := json.Unmarshal([]byte(media), &c.MediaTypes); err != nil {
		return c, fmt.Errorf("media_types of %s: %w", c.ID, err)
	}
	if len(c.MediaTypes) == 0 {
		c.MediaTypes = nil // as put: nil and empty are stored alike
	}
	return c, nil
}

// Collections implements collections.Store. ErrNotFound if the API root does
// not exist.
func (s *Store) Collections(ctx context.Context, apiRoot string) ([]collections.Collection, error) {
	// One read transaction so that the root check and the list agree.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, "SELECT 1 FROM api_roots WHERE path = ?", apiRoot).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collections.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	rows, err := tx.QueryContext(ctx,
		"SELECT "+collectionColumns+" FROM collections WHERE api_root = ? AND deleted = 0 ORDER BY id", apiRoot)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	defer rows.Close()
	var cs []collections.Collection
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list collections: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	return cs, nil
}

// Collection implements collections.Store.
func (s *Store) Collection(ctx context.Context, apiRoot, id string) (collections.Collection, error) {
	// Every object request looks its collection up: keep the statement
	// prepared.
	st, closeStmt, err := s.readStmt(ctx, "SELECT "+collectionColumns+" FROM collections WHERE api_root = ? AND id = ? AND deleted = 0")
	if err != nil {
		return collections.Collection{}, fmt.Errorf("sqlite: get collection: %w", err)
	}
	if closeStmt {
		defer st.Close()
	}
	c, err := scanCollection(st.QueryRowContext(ctx, apiRoot, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, collections.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("sqlite: get collection: %w", err)
	}
	return c, nil
}

// PutCollection implements collections.Store. The checks run inside the
// write transaction, which excludes every other writer (also in other
// processes), so that they hold when it commits.
func (s *Store) PutCollection(ctx context.Context, c collections.Collection) error {
	if err := c.Validate(); err != nil {
		return err
	}
	media := c.MediaTypes
	if media == nil {
		media = []string{}
	}
	mediaJSON, err := json.Marshal(media)
	if err != nil {
		return fmt.Errorf("sqlite: put collection: %w", err)
	}
	alias := sql.NullString{String: c.Alias, Valid: c.Alias != ""}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM api_roots WHERE path = ?", c.APIRoot).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return collections.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sqlite: put collection: %w", err)
		}
		var other string
		err = tx.QueryRowContext(ctx, "SELECT api_root FROM collections WHERE id = ? AND api_root <> ? AND deleted = 0", c.ID, c.APIRoot).Scan(&other)
		if err == nil {
			return fmt.Errorf("%w: collection %s exists in API root %s", collections.ErrConflict, c.ID, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: put collection: %w", err)
		}
		if c.Alias != "" {
			err = tx.QueryRowContext(ctx, "SELECT id FROM collections WHERE api_root = ? AND alias = ? AND id <> ? AND deleted = 0",
				c.APIRoot, c.Alias, c.ID).Scan(&other)
			if err == nil {
				return fmt.Errorf("%w: alias %q is used by collection %s", collections.ErrConflict, c.Alias, other)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlite: put collection: %w", err)
			}
		}
		// An upsert, not INSERT OR REPLACE: the row, and so its coll key
		// referenced by objects, must survive.
		_, err = tx.ExecContext(ctx, `
			INSERT INTO collections (api_root, id, alias, title, description, media_types, validation, unmarked_tlp)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (api_root, id) DO UPDATE SET
				alias = excluded.alias,
				title = excluded.title,
				description = excluded.description,
				media_types = excluded.media_types,
				validation = excluded.validation,
				unmarked_tlp = excluded.unmarked_tlp,
				deleted = 0`,
			c.APIRoot, c.ID, alias, c.Title, c.Description, string(mediaJSON), c.Validation, int64(c.UnmarkedTLP))
		if err != nil {
			return fmt.Errorf("sqlite: put collection %s/%s: %w", c.APIRoot, c.ID, err)
		}
		return nil
	})
}
