package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/taxiid/taxiid/authz"
)

// Certificate bindings (authz.Store), in the table of migration 0006.

const bindingColumns = "id, user_id, identity, issuer, created"

func scanBinding(sc interface{ Scan(...any) error }) (authz.CertificateBinding, error) {
	var (
		b       authz.CertificateBinding
		created int64
	)
	if err := sc.Scan(&b.ID, &b.UserID, &b.Identity, &b.Issuer, &created); err != nil {
		return b, err
	}
	b.CreatedAt = timeOfMS(created)
	return b, nil
}

// CreateCertificateBinding implements authz.Store.
func (s *Store) CreateCertificateBinding(ctx context.Context, b authz.CertificateBinding) (authz.CertificateBinding, error) {
	if b.ID == "" {
		b.ID = authz.NewID()
	}
	if err := b.Validate(); err != nil {
		return authz.CertificateBinding{}, err
	}
	b.CreatedAt = now()
	err := s.authzTx(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM users WHERE id = ?", b.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return &authz.InvalidError{Field: "user_id", Reason: fmt.Sprintf("no user %q", b.UserID)}
		}
		taken, err := exists(ctx, tx, "SELECT 1 FROM certificate_bindings WHERE id = ?", b.ID)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("certificate binding id %q: %w", b.ID, authz.ErrConflict)
		}
		taken, err = exists(ctx, tx, "SELECT 1 FROM certificate_bindings WHERE identity = ? AND issuer = ?", b.Identity, b.Issuer)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("certificate identity %q bound already with that issuer: %w", b.Identity, authz.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO certificate_bindings ("+bindingColumns+") VALUES (?, ?, ?, ?, ?)",
			b.ID, b.UserID, b.Identity, b.Issuer, msOf(b.CreatedAt))
		if err != nil {
			return fmt.Errorf("sqlite: create certificate binding: %w", err)
		}
		return nil
	})
	if err != nil {
		return authz.CertificateBinding{}, err
	}
	return b, nil
}

// CertificateBinding implements authz.Store.
func (s *Store) CertificateBinding(ctx context.Context, id string) (authz.CertificateBinding, error) {
	b, err := scanBinding(s.readRow(ctx, s.r, "SELECT "+bindingColumns+" FROM certificate_bindings WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("certificate binding %q: %w", id, authz.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("sqlite: get certificate binding: %w", err)
	}
	return b, nil
}

// CertificateBindings implements authz.Store.
func (s *Store) CertificateBindings(ctx context.Context, f authz.CertificateBindingFilter) ([]authz.CertificateBinding, error) {
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if f.UserID != "" {
		return list(ctx, s.r, scanBinding, "certificate bindings", "SELECT "+bindingColumns+
			" FROM certificate_bindings WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?", f.UserID, f.After, limit)
	}
	return list(ctx, s.r, scanBinding, "certificate bindings",
		"SELECT "+bindingColumns+" FROM certificate_bindings WHERE id > ? ORDER BY id LIMIT ?", f.After, limit)
}

// DeleteCertificateBinding implements authz.Store.
func (s *Store) DeleteCertificateBinding(ctx context.Context, id string) error {
	return s.authzTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM certificate_bindings WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("sqlite: delete certificate binding: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete certificate binding: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("certificate binding %q: %w", id, authz.ErrNotFound)
		}
		return nil
	})
}

// MatchCertificateBindings implements authz.Store. It runs on every
// authentication by certificate that the verdict cache does not answer:
// one search of the (identity, issuer) index per pair (TestAuthzQueryPlans).
func (s *Store) MatchCertificateBindings(ctx context.Context, identities, issuers []string) ([]authz.CertificateBinding, error) {
	if err := authz.CheckMatch(identities, issuers); err != nil {
		return nil, err
	}
	if len(identities) == 0 {
		return nil, nil
	}
	q, args := matchQuery(identities, issuers)
	out, err := list(ctx, s.r, scanBinding, "certificate bindings", q, args...)
	if err != nil {
		return nil, err
	}
	// At most identities x (issuers + 1) rows: sorted here rather than
	// by a sort in the query.
	slices.SortFunc(out, func(a, b authz.CertificateBinding) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// matchQuery selects the bindings of the identities with no issuer or one
// of issuers.
func matchQuery(identities, issuers []string) (string, []any) {
	args := make([]any, 0, len(identities)+len(issuers)+1)
	for _, id := range identities {
		args = append(args, id)
	}
	args = append(args, "")
	for _, is := range issuers {
		args = append(args, is)
	}
	q := "SELECT " + bindingColumns + " FROM certificate_bindings WHERE identity IN (?" +
		strings.Repeat(", ?", len(identities)-1) + ") AND issuer IN (?" + strings.Repeat(", ?", len(issuers)) + ")"
	return q, args
}
