package authztest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

// Issuers of the bindings below: KeyFingerprint-shaped values of two
// client CAs.
var (
	caX = strings.Repeat("a1", 32)
	caY = strings.Repeat("b2", 32)
)

func binding(t *testing.T, s authz.Store, userID, identity, issuer string) authz.CertificateBinding {
	t.Helper()
	return must[authz.CertificateBinding](t, fmt.Sprintf("CreateCertificateBinding %s %s", identity, issuer))(
		s.CreateCertificateBinding(t.Context(), authz.CertificateBinding{UserID: userID, Identity: identity, Issuer: issuer}))
}

func bindingIDs(bs []authz.CertificateBinding) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

func testCertsMissing(t *testing.T, s authz.Store) {
	ctx := t.Context()
	_, err := s.CertificateBinding(ctx, "nope")
	wantErr(t, "CertificateBinding(missing)", err, authz.ErrNotFound)
	wantErr(t, "DeleteCertificateBinding(missing)", s.DeleteCertificateBinding(ctx, "nope"), authz.ErrNotFound)
	got, err := s.CertificateBindings(ctx, authz.CertificateBindingFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("CertificateBindings of an empty store = %v, %v; want none", got, err)
	}
	got, err = s.MatchCertificateBindings(ctx, []string{"subject:CN=alice"}, []string{caX})
	if err != nil || len(got) != 0 {
		t.Errorf("MatchCertificateBindings of an empty store = %v, %v; want none", got, err)
	}
	got, err = s.MatchCertificateBindings(ctx, nil, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("MatchCertificateBindings(no identities) = %v, %v; want none", got, err)
	}
}

func testCertsInvalid(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	u := user(t, s, a.ID, "alice", authz.RoleMember)
	for _, tc := range []struct {
		name  string
		b     authz.CertificateBinding
		field string
	}{
		{"unknown user", authz.CertificateBinding{UserID: "nope", Identity: "dns:feed.example"}, "user_id"},
		{"no user", authz.CertificateBinding{Identity: "dns:feed.example"}, "user_id"},
		{"no identity", authz.CertificateBinding{UserID: u.ID}, "identity"},
		{"unknown kind", authz.CertificateBinding{UserID: u.ID, Identity: "serial:1234"}, "identity"},
		{"not normalized", authz.CertificateBinding{UserID: u.ID, Identity: "DNS:Feed.Example."}, "identity"},
		{"issuer in upper case", authz.CertificateBinding{UserID: u.ID, Identity: "dns:feed.example", Issuer: strings.ToUpper(caX)}, "issuer"},
		{"issuer too short", authz.CertificateBinding{UserID: u.ID, Identity: "dns:feed.example", Issuer: caX[:62]}, "issuer"},
	} {
		_, err := s.CreateCertificateBinding(ctx, tc.b)
		wantInvalid(t, "CreateCertificateBinding("+tc.name+")", err, tc.field)
	}
	_, err := s.CertificateBindings(ctx, authz.CertificateBindingFilter{})
	wantInvalid(t, "CertificateBindings(limit 0)", err, "limit")
	many := make([]string, authz.MaxCertificateIdentities+1)
	for i := range many {
		many[i] = fmt.Sprintf("dns:h%d.example", i)
	}
	_, err = s.MatchCertificateBindings(ctx, many, nil)
	wantInvalid(t, "MatchCertificateBindings(too many identities)", err, "identities")
	_, err = s.MatchCertificateBindings(ctx, []string{"dns:feed.example"}, make([]string, authz.MaxCertificateIssuers+1))
	wantInvalid(t, "MatchCertificateBindings(too many issuers)", err, "issuers")
	got, err := s.CertificateBindings(ctx, authz.CertificateBindingFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("CertificateBindings after invalid creates = %v, %v; want none", got, err)
	}
}

func testCerts(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	alice, bob := user(t, s, a.ID, "alice", authz.RoleMember), user(t, s, a.ID, "bob", authz.RoleMember)
	const subject = `subject:CN=alice,O=Partner A\, Inc.`

	start := time.Now()
	b1, err := s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: alice.ID, Identity: subject, Issuer: caX})
	mustOK(t, "CreateCertificateBinding", err)
	checkStamp(t, "CreatedAt", b1.CreatedAt, start)
	want := authz.CertificateBinding{ID: b1.ID, UserID: alice.ID, Identity: subject, Issuer: caX, CreatedAt: b1.CreatedAt}
	diff(t, "CreateCertificateBinding", want, b1)
	diff(t, "CertificateBinding", want, must[authz.CertificateBinding](t, "CertificateBinding")(s.CertificateBinding(ctx, b1.ID)))

	// (identity, issuer) is unique across users; the same identity with
	// another issuer, or with none, is another binding.
	_, err = s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: alice.ID, Identity: subject, Issuer: caX})
	wantErr(t, "CreateCertificateBinding(same identity and issuer)", err, authz.ErrConflict)
	_, err = s.CreateCertificateBinding(ctx, authz.CertificateBinding{UserID: bob.ID, Identity: subject, Issuer: caX})
	wantErr(t, "CreateCertificateBinding(same identity and issuer, other user)", err, authz.ErrConflict)
	_, err = s.CreateCertificateBinding(ctx, authz.CertificateBinding{ID: b1.ID, UserID: bob.ID, Identity: "dns:x.example"})
	wantErr(t, "CreateCertificateBinding(id taken)", err, authz.ErrConflict)
	b2 := binding(t, s, bob.ID, subject, caY)
	b3 := binding(t, s, alice.ID, subject, "")
	b4 := binding(t, s, bob.ID, "dns:feed.partner-b.example", "")
	b5 := binding(t, s, alice.ID, "email:alice@partner-a.example", caY)

	list := func(f authz.CertificateBindingFilter) []string {
		t.Helper()
		return bindingIDs(must[[]authz.CertificateBinding](t, "CertificateBindings")(s.CertificateBindings(ctx, f)))
	}
	diff(t, "CertificateBindings (creation order)", []string{b1.ID, b2.ID, b3.ID, b4.ID, b5.ID},
		list(authz.CertificateBindingFilter{Limit: 10}))
	diff(t, "CertificateBindings of alice", []string{b1.ID, b3.ID, b5.ID},
		list(authz.CertificateBindingFilter{UserID: alice.ID, Limit: 10}))
	diff(t, "CertificateBindings of alice after the first", []string{b3.ID, b5.ID},
		list(authz.CertificateBindingFilter{UserID: alice.ID, After: b1.ID, Limit: 10}))
	diff(t, "CertificateBindings, limit 2", []string{b1.ID, b2.ID}, list(authz.CertificateBindingFilter{Limit: 2}))
	diff(t, "CertificateBindings after the last", []string{}, list(authz.CertificateBindingFilter{After: b5.ID, Limit: 10}))

	// A certificate's lookup: its identities, the client CAs it chains to.
	ids := []string{subject, "dns:feed.partner-b.example", "email:alice@partner-a.example", "dns:unbound.example"}
	for _, tc := range []struct {
		name    string
		issuers []string
		want    []string
	}{
		{"of CA X", []string{caX}, []string{b1.ID, b3.ID, b4.ID}},
		{"of CA Y", []string{caY}, []string{b2.ID, b3.ID, b4.ID, b5.ID}},
		{"of both", []string{caY, caX}, []string{b1.ID, b2.ID, b3.ID, b4.ID, b5.ID}},
		{"of another CA", []string{strings.Repeat("c3", 32)}, []string{b3.ID, b4.ID}},
		{"without a CA", nil, []string{b3.ID, b4.ID}},
	} {
		got := must[[]authz.CertificateBinding](t, "MatchCertificateBindings")(s.MatchCertificateBindings(ctx, ids, tc.issuers))
		diff(t, "MatchCertificateBindings "+tc.name, tc.want, bindingIDs(got))
	}
	got := must[[]authz.CertificateBinding](t, "MatchCertificateBindings")(
		s.MatchCertificateBindings(ctx, []string{"dns:feed.partner-b.example"}, []string{caX}))
	diff(t, "MatchCertificateBindings (records)", []authz.CertificateBinding{b4}, got)
	got = must[[]authz.CertificateBinding](t, "MatchCertificateBindings")(
		s.MatchCertificateBindings(ctx, []string{"subject:cn=alice,o=partner a\\, inc."}, []string{caX}))
	diff(t, "MatchCertificateBindings (subjects compare exactly)", []string{}, bindingIDs(got))

	mustOK(t, "DeleteCertificateBinding", s.DeleteCertificateBinding(ctx, b1.ID))
	_, err = s.CertificateBinding(ctx, b1.ID)
	wantErr(t, "CertificateBinding(deleted)", err, authz.ErrNotFound)
	wantErr(t, "DeleteCertificateBinding(again)", s.DeleteCertificateBinding(ctx, b1.ID), authz.ErrNotFound)
	diff(t, "CertificateBindings after delete", []string{b2.ID, b3.ID, b4.ID, b5.ID}, list(authz.CertificateBindingFilter{Limit: 10}))
	got = must[[]authz.CertificateBinding](t, "MatchCertificateBindings")(s.MatchCertificateBindings(ctx, ids, []string{caX}))
	diff(t, "MatchCertificateBindings after delete", []string{b3.ID, b4.ID}, bindingIDs(got))
	// The identity is free again.
	b6 := binding(t, s, bob.ID, subject, caX)
	got = must[[]authz.CertificateBinding](t, "MatchCertificateBindings")(s.MatchCertificateBindings(ctx, []string{subject}, []string{caX}))
	diff(t, "MatchCertificateBindings after rebinding", []string{b3.ID, b6.ID}, bindingIDs(got))
}

// testCertsDeleteUser: a user's bindings go with it, and its identities
// can be bound again.
func testCertsDeleteUser(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	alice, bob := user(t, s, a.ID, "alice", authz.RoleMember), user(t, s, a.ID, "bob", authz.RoleMember)
	ba := binding(t, s, alice.ID, "subject:CN=alice", caX)
	binding(t, s, alice.ID, "dns:alice.example", "")
	bb := binding(t, s, bob.ID, "subject:CN=bob", caX)

	mustOK(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	_, err := s.CertificateBinding(ctx, ba.ID)
	wantErr(t, "CertificateBinding of a deleted user", err, authz.ErrNotFound)
	diff(t, "CertificateBindings after DeleteUser", []string{bb.ID},
		bindingIDs(must[[]authz.CertificateBinding](t, "CertificateBindings")(s.CertificateBindings(ctx, authz.CertificateBindingFilter{Limit: 10}))))
	diff(t, "CertificateBindings of the deleted user", []string{},
		bindingIDs(must[[]authz.CertificateBinding](t, "CertificateBindings")(
			s.CertificateBindings(ctx, authz.CertificateBindingFilter{UserID: alice.ID, Limit: 10}))))
	got := must[[]authz.CertificateBinding](t, "MatchCertificateBindings")(
		s.MatchCertificateBindings(ctx, []string{"subject:CN=alice", "dns:alice.example", "subject:CN=bob"}, []string{caX}))
	diff(t, "MatchCertificateBindings after DeleteUser", []string{bb.ID}, bindingIDs(got))
	binding(t, s, bob.ID, "subject:CN=alice", caX)
}
