package mongo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections/mongo/mongotest"
)

// Tests of what the authz contract suite cannot see on MongoDB: the
// repairs of writes without transactions. A process dying half-way through
// a method is simulated by doing the first writes of the method directly
// on the database.

// openAuthz opens two handles on one new database, as two processes would.
func openAuthz(t *testing.T) (a, b *Store) {
	s := openHandles(t, 2)
	return s[0], s[1]
}

func generation(t *testing.T, s *Store) int64 {
	t.Helper()
	g, err := s.Generation(t.Context())
	if err != nil {
		t.Fatalf("Generation: %v", err)
	}
	return g
}

// setGenerationPending moves the deadline of the changes in progress.
func setGenerationPending(t *testing.T, s *Store, at time.Time) {
	t.Helper()
	_, err := s.db.Collection(collMeta).UpdateOne(t.Context(), idFilter(generationDoc),
		bson.D{{Key: "$set", Value: bson.D{{Key: "pending", Value: at}}}})
	if err != nil {
		t.Fatalf("set pending: %v", err)
	}
}

// TestAuthzGenerationOfDeadWriter: a change whose process died before it
// incremented the generation is published by the first Generation after
// the change's deadline, once, whichever process reads it.
func TestAuthzGenerationOfDeadWriter(t *testing.T) {
	ctx := t.Context()
	s1, s2 := openAuthz(t)
	before := generation(t, s2)

	// The dead writer: it marked its change and inserted an organization.
	wctx, cancel := s1.opCtx(ctx)
	defer cancel()
	if err := s1.markChange(wctx); err != nil {
		t.Fatalf("markChange: %v", err)
	}
	deadline, _ := wctx.Deadline()
	var g generationState
	if err := s1.db.Collection(collMeta).FindOne(ctx, idFilter(generationDoc)).Decode(&g); err != nil {
		t.Fatalf("read generation: %v", err)
	}
	if !g.Pending.After(deadline) {
		t.Errorf("pending %v, want after the writer's deadline %v", g.Pending, deadline)
	}
	o := authz.Organization{ID: "org-dead", Name: "dead", CreatedAt: authzNow(), UpdatedAt: authzNow()}
	if _, err := s1.db.Collection(collOrgs).InsertOne(ctx, orgDoc{ID: o.ID, Name: o.Name,
		Created: o.CreatedAt, Updated: o.UpdatedAt}); err != nil {
		t.Fatalf("insert: %v", err)
	}

	// Before the deadline, the writer may still publish: nobody does it
	// for it.
	if got := generation(t, s2); got != before {
		t.Errorf("generation before the dead writer's deadline = %d, want %d", got, before)
	}
	// After it, the next reader publishes, and only once.
	setGenerationPending(t, s1, time.Now().Add(-time.Millisecond))
	if got := generation(t, s2); got != before+1 {
		t.Errorf("generation after the deadline = %d, want %d", got, before+1)
	}
	if got := generation(t, s1); got != before+1 {
		t.Errorf("generation read again by the other process = %d, want %d", got, before+1)
	}
	got, err := s2.Organization(ctx, o.ID)
	if err != nil {
		t.Fatalf("Organization: %v", err)
	}
	if d := cmp.Diff(o, got); d != "" {
		t.Errorf("the dead writer's organization (-want +got):\n%s", d)
	}

	// A change in progress (a later deadline) holds the publication back.
	wctx2, cancel2 := s1.opCtx(ctx)
	defer cancel2()
	if err := s1.markChange(wctx2); err != nil {
		t.Fatalf("markChange: %v", err)
	}
	if got := generation(t, s2); got != before+1 {
		t.Errorf("generation while a change is in progress = %d, want %d", got, before+1)
	}
}

// TestAuthzDeleteLeftovers: a DeleteUser or DeleteOrganization that died
// after removing the user or organization left tokens, grants and
// certificate bindings; deleting the missing record again removes them and
// publishes the change.
func TestAuthzDeleteLeftovers(t *testing.T) {
	ctx := t.Context()
	s, _ := openAuthz(t)
	a, err := s.CreateOrganization(ctx, authz.Organization{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateOrganization(ctx, authz.Organization{Name: "B"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: b.ID, Role: authz.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	_, hash, prefix, err := authz.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken(ctx, authz.Token{UserID: u.ID, Name: "ci", Hash: hash, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	grant := func(sub authz.Subject) authz.Grant {
		g, err := s.CreateGrant(ctx, authz.Grant{Subject: sub, APIRoot: "api1", Collection: "c1", Action: authz.ActionRead})
		if err != nil {
			t.Fatalf("CreateGrant: %v", err)
		}
		return g
	}
	gu, ga, gb := grant(authz.UserSubject(u.ID)), grant(authz.OrganizationSubject(a.ID)), grant(authz.OrganizationSubject(b.ID))
	cb, err := s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: u.ID, Identity: "subject:CN=alice"})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		coll   string
		id     string
		delete func() error
		gone   []string // grant ids
	}{
		{"user", collUsers, u.ID, func() error { return s.DeleteUser(ctx, u.ID) }, []string{gu.ID}},
		{"organization", collOrgs, a.ID, func() error { return s.DeleteOrganization(ctx, a.ID) }, []string{ga.ID}},
	} {
		if _, err := s.db.Collection(tc.coll).DeleteOne(ctx, idFilter(tc.id)); err != nil {
			t.Fatalf("%s: remove directly: %v", tc.name, err)
		}
		g := generation(t, s)
		if err := tc.delete(); !errors.Is(err, authz.ErrNotFound) {
			t.Errorf("delete the missing %s: %v, want ErrNotFound", tc.name, err)
		}
		for _, id := range tc.gone {
			if _, err := s.Grant(ctx, id); !errors.Is(err, authz.ErrNotFound) {
				t.Errorf("grant to the deleted %s: %v, want ErrNotFound", tc.name, err)
			}
		}
		if got := generation(t, s); got <= g {
			t.Errorf("generation after removing the %s's leftovers = %d, want more than %d", tc.name, got, g)
		}
		// Nothing is left now: deleting again changes nothing.
		g = generation(t, s)
		if err := tc.delete(); !errors.Is(err, authz.ErrNotFound) {
			t.Errorf("delete the missing %s again: %v, want ErrNotFound", tc.name, err)
		}
		if got := generation(t, s); got != g {
			t.Errorf("generation after deleting the %s again = %d, want %d", tc.name, got, g)
		}
	}
	if _, err := s.TokenByHash(ctx, tok.Hash); !errors.Is(err, authz.ErrNotFound) {
		t.Errorf("TokenByHash of the deleted user's token: %v, want ErrNotFound", err)
	}
	if _, err := s.CertificateBinding(ctx, cb.ID); !errors.Is(err, authz.ErrNotFound) {
		t.Errorf("CertificateBinding of the deleted user: %v, want ErrNotFound", err)
	}
	got, err := s.Grants(ctx, authz.GrantFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]authz.Grant{gb}, got); d != "" {
		t.Errorf("grants left (-want +got):\n%s", d)
	}
}

// TestAuthzOrganizationBeingDeleted: while a DeleteOrganization looks for
// its users, no user may join the organization; a mark left by a delete
// that died lapses at its deadline; a refused delete lifts its mark.
func TestAuthzOrganizationBeingDeleted(t *testing.T) {
	ctx := t.Context()
	s, _ := openAuthz(t)
	a, err := s.CreateOrganization(ctx, authz.Organization{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateOrganization(ctx, authz.Organization{Name: "B"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.CreateUser(ctx, authz.User{Name: "bob", OrganizationID: b.ID, Role: authz.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	mark := func(at time.Time) {
		t.Helper()
		if _, err := s.db.Collection(collOrgs).UpdateOne(ctx, idFilter(a.ID),
			bson.D{{Key: "$set", Value: bson.D{{Key: "deleting", Value: at}}}}); err != nil {
			t.Fatalf("mark: %v", err)
		}
	}
	wantInvalidOrg := func(what string, err error) {
		t.Helper()
		var ie *authz.InvalidError
		if !errors.As(err, &ie) || ie.Field != "organization_id" {
			t.Errorf("%s: %v, want an InvalidError for organization_id", what, err)
		}
	}

	mark(time.Now().Add(time.Minute))
	_, err = s.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: a.ID, Role: authz.RoleMember})
	wantInvalidOrg("CreateUser in an organization being deleted", err)
	_, err = s.UpdateUser(ctx, bob.ID, func(u authz.User) (authz.User, error) {
		u.OrganizationID = a.ID
		return u, nil
	})
	wantInvalidOrg("UpdateUser into an organization being deleted", err)
	if _, err := s.UserByName(ctx, "alice"); !errors.Is(err, authz.ErrNotFound) {
		t.Errorf("UserByName(alice): %v, want ErrNotFound", err)
	}
	if got, err := s.User(ctx, bob.ID); err != nil || got.OrganizationID != b.ID {
		t.Errorf("User(bob) = %v, %v; want still in B", got, err)
	}

	// The mark of a delete that died lapses.
	mark(time.Now().Add(-time.Millisecond))
	alice, err := s.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: a.ID, Role: authz.RoleMember})
	if err != nil {
		t.Fatalf("CreateUser after the mark lapsed: %v", err)
	}

	// A refused delete leaves no mark: users may still join.
	if err := s.DeleteOrganization(ctx, a.ID); !errors.Is(err, authz.ErrConflict) {
		t.Fatalf("DeleteOrganization with a user: %v, want ErrConflict", err)
	}
	if _, err := s.UpdateUser(ctx, bob.ID, func(u authz.User) (authz.User, error) {
		u.OrganizationID = a.ID
		return u, nil
	}); err != nil {
		t.Errorf("UpdateUser into A after a refused delete: %v", err)
	}
	got, err := s.Users(ctx, authz.UserFilter{OrganizationID: a.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range got {
		names = append(names, u.Name)
	}
	if d := cmp.Diff([]string{alice.Name, bob.Name}, names); d != "" {
		t.Errorf("users of A (-want +got):\n%s", d)
	}
}

// raceRounds is how many times each race runs: enough for the two calls
// to overlap in several ways on a loaded machine, few enough to stay fast.
const raceRounds = 15

// race runs f1 and f2 at once.
func race(f1, f2 func() error) (err1, err2 error) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { <-start; err1 = f1() })
	wg.Go(func() { <-start; err2 = f2() })
	close(start)
	wg.Wait()
	return err1, err2
}

// TestAuthzRaces: two processes creating and deleting related records at
// once leave no user of a missing organization, no token or grant of a
// missing user, and what each call returned is what happened.
func TestAuthzRaces(t *testing.T) {
	ctx := t.Context()
	s1, s2 := openAuthz(t)

	t.Run("CreateUser/DeleteOrganization", func(t *testing.T) {
		for i := range raceRounds {
			o, err := s1.CreateOrganization(ctx, authz.Organization{Name: fmt.Sprintf("org%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			var u authz.User
			errCreate, errDelete := race(func() (err error) {
				u, err = s1.CreateUser(ctx, authz.User{Name: fmt.Sprintf("user%d", i), OrganizationID: o.ID, Role: authz.RoleMember})
				return err
			}, func() error {
				return s2.DeleteOrganization(ctx, o.ID)
			})
			_, orgErr := s2.Organization(ctx, o.ID)
			users, err := s2.Users(ctx, authz.UserFilter{OrganizationID: o.ID, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case errCreate == nil:
				if !errors.Is(errDelete, authz.ErrConflict) || orgErr != nil || len(users) != 1 || users[0].ID != u.ID {
					t.Errorf("round %d: user created, delete %v; organization: %v, users %v", i, errDelete, orgErr, users)
				}
			case errDelete == nil:
				if !errors.Is(errCreate, authz.ErrInvalid) || !errors.Is(orgErr, authz.ErrNotFound) || len(users) != 0 {
					t.Errorf("round %d: organization deleted, create %v; organization: %v, users %v", i, errCreate, orgErr, users)
				}
			default: // both refused: the create saw the delete's mark, the delete the user
				if !errors.Is(errCreate, authz.ErrInvalid) || !errors.Is(errDelete, authz.ErrConflict) || orgErr != nil || len(users) != 0 {
					t.Errorf("round %d: create %v, delete %v; organization: %v, users %v", i, errCreate, errDelete, orgErr, users)
				}
			}
			// Clean up for the next round's names.
			if errCreate == nil {
				if err := s1.DeleteUser(ctx, u.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
	})

	t.Run("CreateToken,CreateGrant/DeleteUser", func(t *testing.T) {
		o, err := s1.CreateOrganization(ctx, authz.Organization{Name: "tokens"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range raceRounds {
			u, err := s1.CreateUser(ctx, authz.User{Name: fmt.Sprintf("holder%d", i), OrganizationID: o.ID, Role: authz.RoleMember})
			if err != nil {
				t.Fatal(err)
			}
			_, hash, prefix, err := authz.NewTokenSecret()
			if err != nil {
				t.Fatal(err)
			}
			var errToken, errGrant error
			_, errDelete := race(func() error {
				_, errToken = s1.CreateToken(ctx, authz.Token{UserID: u.ID, Name: "ci", Hash: hash, Prefix: prefix})
				_, errGrant = s1.CreateGrant(ctx, authz.Grant{Subject: authz.UserSubject(u.ID), APIRoot: "api1",
					Collection: "c1", Action: authz.ActionRead})
				return nil
			}, func() error {
				return s2.DeleteUser(ctx, u.ID)
			})
			if errDelete != nil {
				t.Fatalf("round %d: DeleteUser: %v", i, errDelete)
			}
			for what, err := range map[string]error{"CreateToken": errToken, "CreateGrant": errGrant} {
				if err != nil && !errors.Is(err, authz.ErrInvalid) {
					t.Errorf("round %d: %s: %v, want success or ErrInvalid", i, what, err)
				}
			}
			tokens, err := s2.Tokens(ctx, authz.TokenFilter{UserID: u.ID, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			sub := authz.UserSubject(u.ID)
			grants, err := s2.Grants(ctx, authz.GrantFilter{Subject: &sub, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(tokens) != 0 || len(grants) != 0 {
				t.Errorf("round %d: the deleted user keeps tokens %v and grants %v", i, tokens, grants)
			}
		}
	})

	t.Run("UpdateOrganization", func(t *testing.T) {
		o, err := s1.CreateOrganization(ctx, authz.Organization{Name: "counted"})
		if err != nil {
			t.Fatal(err)
		}
		// Each process appends its letter raceRounds times: no update is
		// lost, whatever the interleaving.
		appendLetter := func(s *Store, letter string) func() error {
			return func() error {
				for range raceRounds {
					if _, err := s.UpdateOrganization(ctx, o.ID, func(o authz.Organization) (authz.Organization, error) {
						o.Description += letter
						return o, nil
					}); err != nil {
						return err
					}
				}
				return nil
			}
		}
		if err1, err2 := race(appendLetter(s1, "a"), appendLetter(s2, "b")); err1 != nil || err2 != nil {
			t.Fatalf("UpdateOrganization: %v, %v", err1, err2)
		}
		got, err := s1.Organization(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := strings.Count(got.Description, "a"), strings.Count(got.Description, "b"); a != raceRounds || b != raceRounds {
			t.Errorf("description %q: %d a and %d b, want %d of each", got.Description, a, b, raceRounds)
		}
	})
}

// TestAuthzMigration2: a database that migration 1 made, before
// certificate bindings existed, gets their indexes when a newer process
// opens it, and the uniqueness of (identity, issuer) holds there.
func TestAuthzMigration2(t *testing.T) {
	ctx := t.Context()
	srv := mongotest.Start(t)
	db := mongotest.Database(t, srv)
	open := func() *Store {
		s, err := Open(ctx, srv.URI, Options{Database: db})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	old := open()
	// Back to schema version 1: the bindings' collection as it was then.
	if err := old.db.Collection(collCertBinds).Drop(ctx); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if _, err := old.db.Collection(collMeta).UpdateOne(ctx, bson.D{{Key: "_id", Value: schemaDoc}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: 1}}}}); err != nil {
		t.Fatalf("set schema version: %v", err)
	}

	s := open()
	var meta struct {
		Version int `bson:"version"`
	}
	if err := s.db.Collection(collMeta).FindOne(ctx, bson.D{{Key: "_id", Value: schemaDoc}}).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.Version != len(migrations) {
		t.Errorf("schema version after Open = %d; want %d", meta.Version, len(migrations))
	}
	specs, err := s.db.Collection(collCertBinds).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	for _, ix := range certBindingIndexes {
		if !slices.Contains(names, ix.name) {
			t.Errorf("index %s missing after migration 2 (indexes %v)", ix.name, names)
		}
	}
	o, err := s.CreateOrganization(ctx, authz.Organization{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, authz.User{Name: "alice", OrganizationID: o.ID, Role: authz.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	b := authz.CertificateBinding{UserID: u.ID, Identity: "subject:CN=alice"}
	if _, err := s.CreateCertificateBinding(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCertificateBinding(ctx, b); !errors.Is(err, authz.ErrConflict) {
		t.Errorf("CreateCertificateBinding of a bound identity after migration 2: %v; want ErrConflict", err)
	}
}
