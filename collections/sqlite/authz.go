package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/stix"
)

var _ authz.Store = (*Store)(nil)

// msOf is t in ms since the Unix epoch, the precision of every authz time.
func msOf(t time.Time) int64 { return t.UnixMilli() }

// nullMS is an optional time: NULL for the zero time.
func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func timeOfMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func timeOfNullMS(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return timeOfMS(ms.Int64)
}

// now is the store's clock for CreatedAt and UpdatedAt, at authz precision.
func now() time.Time { return time.UnixMilli(time.Now().UnixMilli()).UTC() }

// authzTx runs fn in a write transaction that also increments the policy
// generation, as authz.Store requires of every change to principals and
// grants.
func (s *Store) authzTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE authz_generation SET value = value + 1 WHERE id = 1"); err != nil {
			return fmt.Errorf("sqlite: bump policy generation: %w", err)
		}
		return nil
	})
}

// Generation implements authz.Store.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	var gen int64
	if err := s.readRow(ctx, s.r, "SELECT value FROM authz_generation WHERE id = 1").Scan(&gen); err != nil {
		return 0, fmt.Errorf("sqlite: read policy generation: %w", err)
	}
	return gen, nil
}

// readRow runs a one-row query on q; on the read pool through a cached
// prepared statement, as authentication misses and the generation watch
// run these often.
func (s *Store) readRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	if q != querier(s.r) {
		return q.QueryRowContext(ctx, query, args...)
	}
	st, closeStmt, err := s.readStmt(ctx, query)
	if err != nil || closeStmt {
		if st != nil {
			st.Close()
		}
		return s.r.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// exists reports whether query (SELECT 1 ...) finds a row.
func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return true, nil
}

// --- organizations

const orgColumns = "id, name, description, created, updated"

func scanOrg(sc interface{ Scan(...any) error }) (authz.Organization, error) {
	var (
		o                authz.Organization
		created, updated int64
	)
	if err := sc.Scan(&o.ID, &o.Name, &o.Description, &created, &updated); err != nil {
		return o, err
	}
	o.CreatedAt, o.UpdatedAt = timeOfMS(created), timeOfMS(updated)
	return o, nil
}

// CreateOrganization implements authz.Store.
func (s *Store) CreateOrganization(ctx context.Context, o authz.Organization) (authz.Organization, error) {
	if o.ID == "" {
		o.ID = authz.NewID()
	}
	if err := o.Validate(); err != nil {
		return authz.Organization{}, err
	}
	o.CreatedAt = now()
	o.UpdatedAt = o.CreatedAt
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		if err := checkOrgUnique(ctx, tx, o, true); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO organizations ("+orgColumns+") VALUES (?, ?, ?, ?, ?)",
			o.ID, o.Name, o.Description, msOf(o.CreatedAt), msOf(o.UpdatedAt))
		if err != nil {
			return fmt.Errorf("sqlite: create organization: %w", err)
		}
		return nil
	})
	if err != nil {
		return authz.Organization{}, err
	}
	return o, nil
}

func checkOrgUnique(ctx context.Context, tx *sql.Tx, o authz.Organization, isNew bool) error {
	if isNew {
		taken, err := exists(ctx, tx, "SELECT 1 FROM organizations WHERE id = ?", o.ID)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("organization id %q: %w", o.ID, authz.ErrConflict)
		}
	}
	taken, err := exists(ctx, tx, "SELECT 1 FROM organizations WHERE name = ? AND id <> ?", o.Name, o.ID)
	if err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("organization name %q: %w", o.Name, authz.ErrConflict)
	}
	return nil
}

// Organization implements authz.Store.
func (s *Store) Organization(ctx context.Context, id string) (authz.Organization, error) {
	return s.getOrg(ctx, s.r, "id", id)
}

// OrganizationByName implements authz.Store.
func (s *Store) OrganizationByName(ctx context.Context, name string) (authz.Organization, error) {
	return s.getOrg(ctx, s.r, "name", name)
}

func (s *Store) getOrg(ctx context.Context, q querier, column, v string) (authz.Organization, error) {
	o, err := scanOrg(s.readRow(ctx, q, "SELECT "+orgColumns+" FROM organizations WHERE "+column+" = ?", v))
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("organization %q: %w", v, authz.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("sqlite: get organization: %w", err)
	}
	return o, nil
}

// Organizations implements authz.Store.
func (s *Store) Organizations(ctx context.Context, f authz.ListFilter) ([]authz.Organization, error) {
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	return list(ctx, s.r, scanOrg, "organizations",
		"SELECT "+orgColumns+" FROM organizations WHERE name > ? ORDER BY name LIMIT ?", f.After, limit)
}

// list runs a listing query and scans every row.
func list[T any](ctx context.Context, db *sql.DB, scan func(interface{ Scan(...any) error }) (T, error),
	what, query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
	}
	return out, nil
}

// UpdateOrganization implements authz.Store.
func (s *Store) UpdateOrganization(ctx context.Context, id string,
	update func(authz.Organization) (authz.Organization, error)) (authz.Organization, error) {
	var out authz.Organization
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		old, err := s.getOrg(ctx, tx, "id", id)
		if err != nil {
			return err
		}
		o, err := update(old)
		if err != nil {
			return err
		}
		o.ID, o.CreatedAt, o.UpdatedAt = old.ID, old.CreatedAt, now()
		if err := o.Validate(); err != nil {
			return err
		}
		if err := checkOrgUnique(ctx, tx, o, false); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE organizations SET name = ?, description = ?, updated = ? WHERE id = ?",
			o.Name, o.Description, msOf(o.UpdatedAt), o.ID); err != nil {
			return fmt.Errorf("sqlite: update organization: %w", err)
		}
		out = o
		return nil
	})
	if err != nil {
		return authz.Organization{}, err
	}
	return out, nil
}

// DeleteOrganization implements authz.Store.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	return s.authzTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.getOrg(ctx, tx, "id", id); err != nil {
			return err
		}
		members, err := exists(ctx, tx, "SELECT 1 FROM users WHERE organization_id = ? LIMIT 1", id)
		if err != nil {
			return err
		}
		if members {
			return fmt.Errorf("organization %q still has users: %w", id, authz.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM grants WHERE subject_kind = ? AND subject_id = ?",
			authz.SubjectOrganization, id); err != nil {
			return fmt.Errorf("sqlite: delete organization grants: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM organizations WHERE id = ?", id); err != nil {
			return fmt.Errorf("sqlite: delete organization: %w", err)
		}
		return nil
	})
}

// --- users

const userColumns = "id, name, organization_id, role, password_hash, disabled, created, updated"

func scanUser(sc interface{ Scan(...any) error }) (authz.User, error) {
	var (
		u                authz.User
		created, updated int64
	)
	if err := sc.Scan(&u.ID, &u.Name, &u.OrganizationID, &u.Role, &u.PasswordHash, &u.Disabled,
		&created, &updated); err != nil {
		return u, err
	}
	u.CreatedAt, u.UpdatedAt = timeOfMS(created), timeOfMS(updated)
	return u, nil
}

// checkUser checks what the schema cannot: the organization exists, the id
// (for a new user) and the name are free.
func checkUser(ctx context.Context, tx *sql.Tx, u authz.User, isNew bool) error {
	ok, err := exists(ctx, tx, "SELECT 1 FROM organizations WHERE id = ?", u.OrganizationID)
	if err != nil {
		return err
	}
	if !ok {
		return &authz.InvalidError{Field: "organization_id", Reason: fmt.Sprintf("no organization %q", u.OrganizationID)}
	}
	if isNew {
		taken, err := exists(ctx, tx, "SELECT 1 FROM users WHERE id = ?", u.ID)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("user id %q: %w", u.ID, authz.ErrConflict)
		}
	}
	taken, err := exists(ctx, tx, "SELECT 1 FROM users WHERE name = ? AND id <> ?", u.Name, u.ID)
	if err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("user name %q: %w", u.Name, authz.ErrConflict)
	}
	return nil
}

// CreateUser implements authz.Store.
func (s *Store) CreateUser(ctx context.Context, u authz.User) (authz.User, error) {
	if u.ID == "" {
		u.ID = authz.NewID()
	}
	if err := u.Validate(); err != nil {
		return authz.User{}, err
	}
	u.CreatedAt = now()
	u.UpdatedAt = u.CreatedAt
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		if err := checkUser(ctx, tx, u, true); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO users ("+userColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			u.ID, u.Name, u.OrganizationID, u.Role, u.PasswordHash, u.Disabled, msOf(u.CreatedAt), msOf(u.UpdatedAt))
		if err != nil {
			return fmt.Errorf("sqlite: create user: %w", err)
		}
		return nil
	})
	if err != nil {
		return authz.User{}, err
	}
	return u, nil
}

// User implements authz.Store.
func (s *Store) User(ctx context.Context, id string) (authz.User, error) {
	return s.getUser(ctx, s.r, "id", id)
}

// UserByName implements authz.Store.
func (s *Store) UserByName(ctx context.Context, name string) (authz.User, error) {
	return s.getUser(ctx, s.r, "name", name)
}

func (s *Store) getUser(ctx context.Context, q querier, column, v string) (authz.User, error) {
	u, err := scanUser(s.readRow(ctx, q, "SELECT "+userColumns+" FROM users WHERE "+column+" = ?", v))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", v, authz.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("sqlite: get user: %w", err)
	}
	return u, nil
}

// Users implements authz.Store.
func (s *Store) Users(ctx context.Context, f authz.UserFilter) ([]authz.User, error) {
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if f.OrganizationID != "" {
		return list(ctx, s.r, scanUser, "users", "SELECT "+userColumns+
			" FROM users WHERE organization_id = ? AND name > ? ORDER BY name LIMIT ?", f.OrganizationID, f.After, limit)
	}
	return list(ctx, s.r, scanUser, "users",
		"SELECT "+userColumns+" FROM users WHERE name > ? ORDER BY name LIMIT ?", f.After, limit)
}

// UpdateUser implements authz.Store.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(authz.User) (authz.User, error)) (authz.User, error) {
	var out authz.User
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		old, err := s.getUser(ctx, tx, "id", id)
		if err != nil {
			return err
		}
		u, err := update(old)
		if err != nil {
			return err
		}
		u.ID, u.CreatedAt, u.UpdatedAt = old.ID, old.CreatedAt, now()
		if err := u.Validate(); err != nil {
			return err
		}
		if err := checkUser(ctx, tx, u, false); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET name = ?, organization_id = ?, role = ?,
			password_hash = ?, disabled = ?, updated = ? WHERE id = ?`,
			u.Name, u.OrganizationID, u.Role, u.PasswordHash, u.Disabled, msOf(u.UpdatedAt), u.ID); err != nil {
			return fmt.Errorf("sqlite: update user: %w", err)
		}
		out = u
		return nil
	})
	if err != nil {
		return authz.User{}, err
	}
	return out, nil
}

// DeleteUser implements authz.Store.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.authzTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.getUser(ctx, tx, "id", id); err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM tokens WHERE user_id = ?",
			"DELETE FROM certificate_bindings WHERE user_id = ?",
			"DELETE FROM grants WHERE subject_kind = '" + string(authz.SubjectUser) + "' AND subject_id = ?",
			"DELETE FROM users WHERE id = ?",
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("sqlite: delete user: %w", err)
			}
		}
		return nil
	})
}

// --- tokens

const tokenColumns = "id, user_id, name, hash, prefix, expires, revoked, last_used, created"

func scanToken(sc interface{ Scan(...any) error }) (authz.Token, error) {
	var (
		t                          authz.Token
		expires, revoked, lastUsed sql.NullInt64
		created                    int64
	)
	if err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Prefix, &expires, &revoked, &lastUsed, &created); err != nil {
		return t, err
	}
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = timeOfNullMS(expires), timeOfNullMS(revoked), timeOfNullMS(lastUsed)
	t.CreatedAt = timeOfMS(created)
	return t, nil
}

// CreateToken implements authz.Store.
func (s *Store) CreateToken(ctx context.Context, t authz.Token) (authz.Token, error) {
	if t.ID == "" {
		t.ID = authz.NewID()
	}
	if err := t.Validate(); err != nil {
		return authz.Token{}, err
	}
	t.CreatedAt = now()
	t.LastUsedAt = time.Time{}
	t.ExpiresAt, t.RevokedAt = truncMS(t.ExpiresAt), truncMS(t.RevokedAt)
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM users WHERE id = ?", t.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return &authz.InvalidError{Field: "user_id", Reason: fmt.Sprintf("no user %q", t.UserID)}
		}
		for _, c := range []struct {
			query, what string
			args        []any
		}{
			{"SELECT 1 FROM tokens WHERE id = ?", "token id", []any{t.ID}},
			{"SELECT 1 FROM tokens WHERE user_id = ? AND name = ?", "token name", []any{t.UserID, t.Name}},
			{"SELECT 1 FROM tokens WHERE hash = ?", "token hash", []any{t.Hash}},
		} {
			taken, err := exists(ctx, tx, c.query, c.args...)
			if err != nil {
				return err
			}
			if taken {
				return fmt.Errorf("%s: %w", c.what, authz.ErrConflict)
			}
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO tokens ("+tokenColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
			t.ID, t.UserID, t.Name, t.Hash, t.Prefix, nullMS(t.ExpiresAt), nullMS(t.RevokedAt), msOf(t.CreatedAt))
		if err != nil {
			return fmt.Errorf("sqlite: create token: %w", err)
		}
		return nil
	})
	if err != nil {
		return authz.Token{}, err
	}
	return t, nil
}

// truncMS is t at authz precision, in UTC; zero stays zero.
func truncMS(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return timeOfMS(t.UnixMilli())
}

// Token implements authz.Store.
func (s *Store) Token(ctx context.Context, id string) (authz.Token, error) {
	return s.getToken(ctx, s.r, "id", id)
}

// TokenByHash implements authz.Store.
func (s *Store) TokenByHash(ctx context.Context, hash string) (authz.Token, error) {
	return s.getToken(ctx, s.r, "hash", hash)
}

func (s *Store) getToken(ctx context.Context, q querier, column, v string) (authz.Token, error) {
	t, err := scanToken(s.readRow(ctx, q, "SELECT "+tokenColumns+" FROM tokens WHERE "+column+" = ?", v))
	if errors.Is(err, sql.ErrNoRows) {
		if column == "hash" {
			v = "with that hash" // a hash is as good as the secret in logs: keep it out
		}
		return t, fmt.Errorf("token %s: %w", v, authz.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("sqlite: get token: %w", err)
	}
	return t, nil
}

// Tokens implements authz.Store.
func (s *Store) Tokens(ctx context.Context, f authz.TokenFilter) ([]authz.Token, error) {
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if f.UserID != "" {
		return list(ctx, s.r, scanToken, "tokens", "SELECT "+tokenColumns+
			" FROM tokens WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?", f.UserID, f.After, limit)
	}
	return list(ctx, s.r, scanToken, "tokens",
		"SELECT "+tokenColumns+" FROM tokens WHERE id > ? ORDER BY id LIMIT ?", f.After, limit)
}

// RevokeToken implements authz.Store.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) (authz.Token, error) {
	var out authz.Token
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		t, err := s.getToken(ctx, tx, "id", id)
		if err != nil {
			return err
		}
		if t.RevokedAt.IsZero() {
			if at.IsZero() {
				return &authz.InvalidError{Field: "revoked_at", Reason: "missing"}
			}
			t.RevokedAt = truncMS(at)
			if _, err := tx.ExecContext(ctx, "UPDATE tokens SET revoked = ? WHERE id = ?", msOf(t.RevokedAt), id); err != nil {
				return fmt.Errorf("sqlite: revoke token: %w", err)
			}
		}
		out = t
		return nil
	})
	if err != nil {
		return authz.Token{}, err
	}
	return out, nil
}

// DeleteToken implements authz.Store.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return s.authzTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("sqlite: delete token: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete token: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("token %q: %w", id, authz.ErrNotFound)
		}
		return nil
	})
}

// TouchTokens implements authz.Store. It does not change the generation:
// a use is not a change of policy.
func (s *Store) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx,
			"UPDATE tokens SET last_used = ?1 WHERE id = ?2 AND (last_used IS NULL OR last_used < ?1)")
		if err != nil {
			return fmt.Errorf("sqlite: touch tokens: %w", err)
		}
		defer st.Close()
		for id, at := range lastUsed {
			if _, err := st.ExecContext(ctx, msOf(at), id); err != nil {
				return fmt.Errorf("sqlite: touch tokens: %w", err)
			}
		}
		return nil
	})
}

// --- grants

const grantColumns = "id, subject_kind, subject_id, api_root, collection, action, created, " +
	"max_tlp, embargo_ms, hide_creator, hide_sources"

func scanGrant(sc interface{ Scan(...any) error }) (authz.Grant, error) {
	var (
		g                   authz.Grant
		created, embargo    int64
		maxTLP, hideSources string
	)
	if err := sc.Scan(&g.ID, &g.Subject.Kind, &g.Subject.ID, &g.APIRoot, &g.Collection, &g.Action, &created,
		&maxTLP, &embargo, &g.Conditions.HideCreator, &hideSources); err != nil {
		return g, err
	}
	g.CreatedAt = timeOfMS(created)
	var err error
	if g.Conditions.MaxTLP, err = stix.ParseTLP(maxTLP); err != nil {
		return g, fmt.Errorf("sqlite: grant %s: %w", g.ID, err)
	}
	g.Conditions.Embargo = time.Duration(embargo) * time.Millisecond
	if err := json.Unmarshal([]byte(hideSources), &g.Conditions.HideSources); err != nil {
		return g, fmt.Errorf("sqlite: grant %s: hide_sources: %w", g.ID, err)
	}
	if len(g.Conditions.HideSources) == 0 {
		g.Conditions.HideSources = nil
	}
	return g, nil
}

// conditionValues are the column values of c, in grantColumns' order.
func conditionValues(c authz.Conditions) []any {
	sources := c.HideSources
	if sources == nil {
		sources = []string{}
	}
	b, _ := json.Marshal(sources) // strings always encode
	return []any{c.MaxTLP.String(), c.Embargo.Milliseconds(), c.HideCreator, string(b)}
}

// CreateGrant implements authz.Store.
func (s *Store) CreateGrant(ctx context.Context, g authz.Grant) (authz.Grant, error) {
	if g.ID == "" {
		g.ID = authz.NewID()
	}
	if err := g.Validate(); err != nil {
		return authz.Grant{}, err
	}
	g.CreatedAt = now()
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		var table string
		switch g.Subject.Kind {
		case authz.SubjectOrganization:
			table = "organizations"
		case authz.SubjectUser:
			table = "users"
		}
		if table != "" {
			ok, err := exists(ctx, tx, "SELECT 1 FROM "+table+" WHERE id = ?", g.Subject.ID)
			if err != nil {
				return err
			}
			if !ok {
				return &authz.InvalidError{Field: "subject.id", Reason: fmt.Sprintf("no %s %q", g.Subject.Kind, g.Subject.ID)}
			}
		}
		taken, err := exists(ctx, tx, "SELECT 1 FROM grants WHERE id = ?", g.ID)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("grant id %q: %w", g.ID, authz.ErrConflict)
		}
		taken, err = exists(ctx, tx, `SELECT 1 FROM grants WHERE subject_kind = ? AND subject_id = ?
			AND api_root = ? AND collection = ? AND action = ?`,
			g.Subject.Kind, g.Subject.ID, g.APIRoot, g.Collection, g.Action)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("grant of %s on %s/%s to %s: %w", g.Action, g.APIRoot, g.Collection, g.Subject, authz.ErrConflict)
		}
		if len(g.Conditions.HideSources) == 0 {
			g.Conditions.HideSources = nil
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO grants ("+grantColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			append([]any{g.ID, g.Subject.Kind, g.Subject.ID, g.APIRoot, g.Collection, g.Action, msOf(g.CreatedAt)},
				conditionValues(g.Conditions)...)...)
		if err != nil {
			return fmt.Errorf("sqlite: create grant: %w", err)
		}
		return nil
	})
	if err != nil {
		return authz.Grant{}, err
	}
	return g, nil
}

// Grant implements authz.Store.
func (s *Store) Grant(ctx context.Context, id string) (authz.Grant, error) {
	g, err := scanGrant(s.r.QueryRowContext(ctx, "SELECT "+grantColumns+" FROM grants WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("grant %q: %w", id, authz.ErrNotFound)
	}
	if err != nil {
		return g, fmt.Errorf("sqlite: get grant: %w", err)
	}
	return g, nil
}

// Grants implements authz.Store.
func (s *Store) Grants(ctx context.Context, f authz.GrantFilter) ([]authz.Grant, error) {
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	q, args := grantsQuery(f, limit)
	return list(ctx, s.r, scanGrant, "grants", q, args...)
}

// grantsQuery is the listing of f: by subject or by collection through
// their indexes, else in id order (TestAuthzQueryPlans).
func grantsQuery(f authz.GrantFilter, limit int) (string, []any) {
	q := "SELECT " + grantColumns + " FROM grants WHERE id > ?"
	args := []any{f.After}
	if f.Subject != nil {
		q += " AND subject_kind = ? AND subject_id = ?"
		args = append(args, f.Subject.Kind, f.Subject.ID)
	}
	if f.APIRoot != "" {
		q += " AND api_root = ?"
		args = append(args, f.APIRoot)
	}
	if f.Collection != "" {
		q += " AND collection = ?"
		args = append(args, f.Collection)
	}
	if f.Action != "" {
		q += " AND action = ?"
		args = append(args, f.Action)
	}
	q += " ORDER BY id LIMIT ?"
	return q, append(args, limit)
}

// UpdateGrantConditions implements authz.Store.
func (s *Store) UpdateGrantConditions(ctx context.Context, id string, c authz.Conditions) (authz.Grant, error) {
	if err := c.Validate("conditions."); err != nil {
		return authz.Grant{}, err
	}
	if len(c.HideSources) == 0 {
		c.HideSources = nil
	}
	var g authz.Grant
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		var err error
		g, err = scanGrant(tx.QueryRowContext(ctx, "SELECT "+grantColumns+" FROM grants WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("grant %q: %w", id, authz.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: get grant: %w", err)
		}
		g.Conditions = c
		if err := g.Validate(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE grants SET max_tlp = ?, embargo_ms = ?, hide_creator = ?, hide_sources = ?
			WHERE id = ?`, append(conditionValues(c), id)...)
		if err != nil {
			return fmt.Errorf("sqlite: update grant conditions: %w", err)
		}
		return nil
	})
	if err != nil {
		return authz.Grant{}, err
	}
	return g, nil
}

// DeleteGrant implements authz.Store.
func (s *Store) DeleteGrant(ctx context.Context, id string) error {
	return s.authzTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM grants WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("sqlite: delete grant: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete grant: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("grant %q: %w", id, authz.ErrNotFound)
		}
		return nil
	})
}
