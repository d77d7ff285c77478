package authztest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

func testOrganizationsMissing(t *testing.T, s authz.Store) {
	ctx := t.Context()
	_, err := s.Organization(ctx, "nope")
	wantErr(t, "Organization(missing)", err, authz.ErrNotFound)
	_, err = s.OrganizationByName(ctx, "nope")
	wantErr(t, "OrganizationByName(missing)", err, authz.ErrNotFound)
	_, err = s.UpdateOrganization(ctx, "nope", func(o authz.Organization) (authz.Organization, error) { return o, nil })
	wantErr(t, "UpdateOrganization(missing)", err, authz.ErrNotFound)
	wantErr(t, "DeleteOrganization(missing)", s.DeleteOrganization(ctx, "nope"), authz.ErrNotFound)
	got, err := s.Organizations(ctx, authz.ListFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Organizations of an empty store = %v, %v; want none", got, err)
	}
}

func testOrganizationsInvalid(t *testing.T, s authz.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		o     authz.Organization
		field string
	}{
		{authz.Organization{}, "name"},
		{authz.Organization{Name: "a\nb"}, "name"},
		{authz.Organization{Name: strings.Repeat("n", authz.MaxNameLen+1)}, "name"},
		{authz.Organization{Name: "ok", Description: "bad \x00"}, "description"},
		{authz.Organization{ID: strings.Repeat("i", 65), Name: "ok"}, "id"},
	} {
		_, err := s.CreateOrganization(ctx, tc.o)
		wantInvalid(t, "CreateOrganization("+tc.o.Name+")", err, tc.field)
	}
	_, err := s.Organizations(ctx, authz.ListFilter{Limit: 0})
	wantInvalid(t, "Organizations(limit 0)", err, "limit")
	got, err := s.Organizations(ctx, authz.ListFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Organizations after invalid creates = %v, %v; want none", got, err)
	}
}

func testOrganizations(t *testing.T, s authz.Store) {
	ctx := t.Context()
	start := time.Now()
	a, err := s.CreateOrganization(ctx, authz.Organization{Name: "ACME", Description: "anvils"})
	mustOK(t, "CreateOrganization", err)
	if a.ID == "" {
		t.Fatal("CreateOrganization assigned no id")
	}
	checkStamp(t, "CreatedAt", a.CreatedAt, start)
	if !a.UpdatedAt.Equal(a.CreatedAt) {
		t.Errorf("UpdatedAt %v, want CreatedAt %v", a.UpdatedAt, a.CreatedAt)
	}
	diff(t, "CreateOrganization", authz.Organization{ID: a.ID, Name: "ACME", Description: "anvils",
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}, a)

	// A caller may choose the id.
	b, err := s.CreateOrganization(ctx, authz.Organization{ID: "org-b", Name: "Beta"})
	mustOK(t, "CreateOrganization with id", err)
	if b.ID != "org-b" {
		t.Errorf("CreateOrganization with id: id %q, want org-b", b.ID)
	}

	_, err = s.CreateOrganization(ctx, authz.Organization{Name: "ACME"})
	wantErr(t, "CreateOrganization(duplicate name)", err, authz.ErrConflict)
	_, err = s.CreateOrganization(ctx, authz.Organization{ID: "org-b", Name: "Other"})
	wantErr(t, "CreateOrganization(duplicate id)", err, authz.ErrConflict)

	diff(t, "Organization", a, must[authz.Organization](t, "Organization")(s.Organization(ctx, a.ID)))
	diff(t, "OrganizationByName", b, must[authz.Organization](t, "OrganizationByName")(s.OrganizationByName(ctx, "Beta")))
	_, err = s.OrganizationByName(ctx, "acme")
	wantErr(t, "OrganizationByName(other case)", err, authz.ErrNotFound)

	for _, n := range []string{"delta", "Charlie"} {
		org(t, s, n)
	}
	// Pages of 2 by name (byte order: upper case first).
	var pages [][]string
	f := authz.ListFilter{Limit: 2}
	for range 4 {
		got, err := s.Organizations(ctx, f)
		mustOK(t, "Organizations", err)
		var names []string
		for _, o := range got {
			names = append(names, o.Name)
		}
		pages = append(pages, names)
		if len(got) < f.Limit {
			break
		}
		f.After = got[len(got)-1].Name
	}
	diff(t, "Organizations pages", [][]string{{"ACME", "Beta"}, {"Charlie", "delta"}, nil}, pages)

	all, err := s.Organizations(ctx, authz.ListFilter{Limit: authz.MaxListLimit + 1})
	mustOK(t, "Organizations above MaxListLimit", err)
	if len(all) != 4 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Errorf("Organizations = %v, want ACME, Beta, Charlie, delta", all)
	}
}

func testOrganizationsUpdate(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a, b := org(t, s, "A"), org(t, s, "B")
	time.Sleep(2 * time.Millisecond) // so that UpdatedAt moves

	got, err := s.UpdateOrganization(ctx, a.ID, func(o authz.Organization) (authz.Organization, error) {
		diff(t, "UpdateOrganization's input", a, o)
		o.ID, o.CreatedAt = "changed", time.Time{} // ignored
		o.Name, o.Description = "A2", "renamed"
		return o, nil
	})
	mustOK(t, "UpdateOrganization", err)
	if !got.UpdatedAt.After(a.UpdatedAt) {
		t.Errorf("UpdatedAt %v not after %v", got.UpdatedAt, a.UpdatedAt)
	}
	want := authz.Organization{ID: a.ID, Name: "A2", Description: "renamed", CreatedAt: a.CreatedAt, UpdatedAt: got.UpdatedAt}
	diff(t, "UpdateOrganization", want, got)
	diff(t, "Organization after update", want, must[authz.Organization](t, "Organization")(s.Organization(ctx, a.ID)))
	_, err = s.OrganizationByName(ctx, "A")
	wantErr(t, "OrganizationByName(old name)", err, authz.ErrNotFound)

	// Failed updates change nothing.
	_, err = s.UpdateOrganization(ctx, a.ID, func(o authz.Organization) (authz.Organization, error) {
		o.Name = "B"
		return o, nil
	})
	wantErr(t, "UpdateOrganization(to a taken name)", err, authz.ErrConflict)
	_, err = s.UpdateOrganization(ctx, a.ID, func(o authz.Organization) (authz.Organization, error) {
		o.Name = ""
		return o, nil
	})
	wantInvalid(t, "UpdateOrganization(empty name)", err, "name")
	boom := errors.New("boom")
	_, err = s.UpdateOrganization(ctx, a.ID, func(o authz.Organization) (authz.Organization, error) {
		return authz.Organization{Name: "C"}, boom
	})
	if err != boom {
		t.Errorf("UpdateOrganization with a failing update: %v, want the update's error as is", err)
	}
	diff(t, "Organization after failed updates", want, must[authz.Organization](t, "Organization")(s.Organization(ctx, a.ID)))
	diff(t, "other Organization", b, must[authz.Organization](t, "Organization")(s.Organization(ctx, b.ID)))
}

func testOrganizationsDelete(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a, b := org(t, s, "A"), org(t, s, "B")
	u := user(t, s, a.ID, "alice", authz.RoleMember)
	ga := grant(t, s, authz.OrganizationSubject(a.ID), "api1", "c1", authz.ActionRead)
	gb := grant(t, s, authz.OrganizationSubject(b.ID), "api1", "c1", authz.ActionRead)
	gu := grant(t, s, authz.UserSubject(u.ID), "api1", "c1", authz.ActionWrite)

	wantErr(t, "DeleteOrganization(with a user)", s.DeleteOrganization(ctx, a.ID), authz.ErrConflict)
	diff(t, "Organization after refused delete", a, must[authz.Organization](t, "Organization")(s.Organization(ctx, a.ID)))

	mustOK(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
	mustOK(t, "DeleteOrganization", s.DeleteOrganization(ctx, a.ID))
	_, err := s.Organization(ctx, a.ID)
	wantErr(t, "Organization(deleted)", err, authz.ErrNotFound)
	wantErr(t, "DeleteOrganization(again)", s.DeleteOrganization(ctx, a.ID), authz.ErrNotFound)
	for _, g := range []authz.Grant{ga, gu} {
		_, err := s.Grant(ctx, g.ID)
		wantErr(t, "Grant of a deleted subject", err, authz.ErrNotFound)
	}
	diff(t, "grants left", []authz.Grant{gb}, must[[]authz.Grant](t, "Grants")(s.Grants(ctx, authz.GrantFilter{Limit: 10})))
	// The name is free again.
	org(t, s, "A")
}
