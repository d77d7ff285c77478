// Package authztest is the contract suite of authz.Store: every backend
// runs RunTests against fresh instances of itself, and RunSharedTests
// against two handles on one database.
package authztest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
)

// RunTests runs the contract suite. newStore must return a new, empty store
// for each subtest and close it when the subtest ends (t.Cleanup).
func RunTests(t *testing.T, newStore func(t *testing.T) authz.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s authz.Store)
	}{
		{"OrganizationsMissing", testOrganizationsMissing},
		{"OrganizationsInvalid", testOrganizationsInvalid},
		{"Organizations", testOrganizations},
		{"OrganizationsUpdate", testOrganizationsUpdate},
		{"OrganizationsDelete", testOrganizationsDelete},
		{"UsersMissing", testUsersMissing},
		{"UsersInvalid", testUsersInvalid},
		{"Users", testUsers},
		{"UsersUpdate", testUsersUpdate},
		{"UsersDelete", testUsersDelete},
		{"TokensMissing", testTokensMissing},
		{"TokensInvalid", testTokensInvalid},
		{"Tokens", testTokens},
		{"TokensRevoke", testTokensRevoke},
		{"TokensTouch", testTokensTouch},
		{"GrantsMissing", testGrantsMissing},
		{"GrantsInvalid", testGrantsInvalid},
		{"Grants", testGrants},
		{"GrantConditions", testGrantConditions},
		{"GrantConditionsInvalid", testGrantConditionsInvalid},
		{"CertsMissing", testCertsMissing},
		{"CertsInvalid", testCertsInvalid},
		{"Certs", testCerts},
		{"CertsDeleteUser", testCertsDeleteUser},
		{"Generation", testGeneration},
		{"AuditInvalid", testAuditInvalid},
		{"Audit", testAudit},
		{"AuditFilters", testAuditFilters},
		{"AuditPurge", testAuditPurge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// RunSharedTests checks what several processes on one database rely on.
// open returns two handles (two separate opens) on the same new, empty
// database, and closes them when the subtest ends.
func RunSharedTests(t *testing.T, open func(t *testing.T) (a, b authz.Store)) {
	t.Run("GenerationSeenByOtherHandle", func(t *testing.T) {
		testSharedGeneration(t, open)
	})
}

// CheapPasswords are argon2id parameters that make tests fast. Never use
// them for real passwords.
var CheapPasswords = authz.PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// wantErr fails t unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// wantInvalid fails t unless err is an *authz.InvalidError for field.
func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	var ie *authz.InvalidError
	if !errors.As(err, &ie) || !errors.Is(err, authz.ErrInvalid) {
		t.Errorf("%s: error %v, want an InvalidError for %s", what, err, field)
		return
	}
	if ie.Field != field {
		t.Errorf("%s: invalid field %q (%v), want %q", what, ie.Field, err, field)
	}
}

func must[T any](t *testing.T, what string) func(v T, err error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func org(t *testing.T, s authz.Store, name string) authz.Organization {
	t.Helper()
	return must[authz.Organization](t, "CreateOrganization "+name)(
		s.CreateOrganization(t.Context(), authz.Organization{Name: name}))
}

func user(t *testing.T, s authz.Store, orgID, name string, role authz.Role) authz.User {
	t.Helper()
	return must[authz.User](t, "CreateUser "+name)(
		s.CreateUser(t.Context(), authz.User{Name: name, OrganizationID: orgID, Role: role}))
}

// token stores a new token of the user and returns it with its secret.
func token(t *testing.T, s authz.Store, userID, name string) (authz.Token, string) {
	t.Helper()
	secret, hash, prefix, err := authz.NewTokenSecret()
	mustOK(t, "NewTokenSecret", err)
	tok := must[authz.Token](t, "CreateToken "+name)(
		s.CreateToken(t.Context(), authz.Token{UserID: userID, Name: name, Hash: hash, Prefix: prefix}))
	return tok, secret
}

func grant(t *testing.T, s authz.Store, sub authz.Subject, root, coll string, act authz.Action) authz.Grant {
	t.Helper()
	return must[authz.Grant](t, fmt.Sprintf("CreateGrant %s %s/%s %s", sub, root, coll, act))(
		s.CreateGrant(t.Context(), authz.Grant{Subject: sub, APIRoot: root, Collection: coll, Action: act}))
}

// checkStamp checks the times a store sets on a new record: UTC, at
// millisecond precision, around now.
func checkStamp(t *testing.T, what string, at time.Time, before time.Time) {
	t.Helper()
	if at.Location() != time.UTC {
		t.Errorf("%s: time %v not in UTC", what, at)
	}
	if at.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("%s: time %v finer than a millisecond", what, at)
	}
	if at.Before(before.Truncate(time.Millisecond)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: time %v, want the current time (after %v)", what, at, before)
	}
}

// diff compares with go-cmp; times compare with their Equal method.
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func gen(t *testing.T, s authz.Store) int64 {
	t.Helper()
	return must[int64](t, "Generation")(s.Generation(context.WithoutCancel(t.Context())))
}
