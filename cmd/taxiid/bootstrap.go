package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/taxiid/taxiid/authz"
)

// The first user of a new store: an admin in the operators' organization.
const (
	operatorsOrganization = "operators"
	adminUser             = "admin"
	// adminPasswordEnv sets the first admin's password instead of a
	// generated one. It is read only when the store has no user.
	adminPasswordEnv = "TAXIID_ADMIN_PASSWORD"
)

// bootstrapAdmin gives a store without users its first one, so that
// someone can sign in and manage the rest: the user "admin" (role admin)
// in the organization "operators", with the password of
// TAXIID_ADMIN_PASSWORD when set, else a generated one printed once to
// stderr (it is stored only as a hash). A store that has users is left as
// it is.
//
// Replicas may start together on one empty store: each tries, one
// creates the user, the others find the name taken and do nothing (and
// print nothing).
func bootstrapAdmin(ctx context.Context, store authz.Store, getenv func(string) string, stderr io.Writer, logger *slog.Logger) error {
	users, err := store.Users(ctx, authz.UserFilter{Limit: 1})
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	password, given := getenv(adminPasswordEnv), true
	if len(users) > 0 {
		if password != "" {
			logger.Info(adminPasswordEnv + " ignored: the store has users already")
		}
		return nil
	}
	if password == "" {
		// 26 base32 characters: 130 bits.
		password, given = rand.Text(), false
	}
	hash, err := authz.HashPassword(password, authz.DefaultPasswordParams)
	if err != nil {
		return fmt.Errorf("%s: %w", adminPasswordEnv, err)
	}
	org, err := store.CreateOrganization(ctx, authz.Organization{
		Name: operatorsOrganization, Description: "Operators of this taxiid server",
	})
	if errors.Is(err, authz.ErrConflict) {
		org, err = store.OrganizationByName(ctx, operatorsOrganization)
	}
	if err != nil {
		return fmt.Errorf("create organization %q: %w", operatorsOrganization, err)
	}
	_, err = store.CreateUser(ctx, authz.User{
		Name: adminUser, OrganizationID: org.ID, Role: authz.RoleAdmin, PasswordHash: hash,
	})
	if errors.Is(err, authz.ErrConflict) {
		return nil // another process created it first
	}
	if err != nil {
		return fmt.Errorf("create user %q: %w", adminUser, err)
	}
	if given {
		logger.Info("created the first user", "user", adminUser, "role", authz.RoleAdmin,
			"organization", operatorsOrganization, "password", "from "+adminPasswordEnv)
		return nil
	}
	_, err = fmt.Fprintf(stderr, "\n"+
		"taxiid: created the first user %q (role admin, organization %q) with the password\n\n"+
		"    %s\n\n"+
		"It is shown only this once. Sign in with it (HTTP Basic, e.g. curl -u %s:PASSWORD) and keep it safe.\n\n",
		adminUser, operatorsOrganization, password, adminUser)
	return err
}
