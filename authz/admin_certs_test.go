package authz_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
)

// TestAdminCertificateBindings: who may bind, list and unbind a user's
// certificate identities, what is normalized and refused, and the audit of
// every change.
func TestAdminCertificateBindings(t *testing.T) {
	e := newAdminEnv(t)
	root, alice, amy, bob := e.as(of(e.root)), e.as(of(e.alice)), e.as(of(e.amy)), e.as(of(e.bob))
	issuer := strings.Repeat("ab", 32)

	// Input is normalized: the identity as certificates give it, the
	// issuer as lowercase hex.
	b1, err := e.admin.CreateCertificateBinding(root, e.amy.ID, authz.CertificateBindingInput{
		Identity: ptr("DNS:Feed.Partner-A.example."), Issuer: ptr(strings.ToUpper(issuer))})
	mustDo(t, err)
	if b1.Identity != "dns:feed.partner-a.example" || b1.Issuer != issuer || b1.UserID != e.amy.ID {
		t.Errorf("CreateCertificateBinding = %+v; want dns:feed.partner-a.example of amy, issuer %s", b1, issuer)
	}
	b2, err := e.admin.CreateCertificateBinding(root, e.amy.ID, authz.CertificateBindingInput{
		Identity: ptr("subject:CN=amy,O=Partner A")})
	mustDo(t, err)
	if b2.Issuer != "" {
		t.Errorf("binding without an issuer: %+v", b2)
	}
	if e.refreshes.Load() != 2 {
		t.Errorf("%d refreshes after two bindings; want 2", e.refreshes.Load())
	}

	// Who may do what: admins bind; the org-admins of the user's
	// organization read and remove; the user reads its own; the rest do
	// not learn the user's bindings exist.
	in := authz.CertificateBindingInput{Identity: ptr("email:amy@partner-a.example")}
	for _, tc := range []struct {
		who          string
		p            authz.Principal
		list, create error
	}{
		{"amy herself", of(e.amy), nil, authz.ErrForbidden},
		{"ben, a member of B", of(e.ben), authz.ErrForbidden, authz.ErrForbidden},
		{"bob, org-admin of B", of(e.bob), authz.ErrNotFound, authz.ErrNotFound},
		{"anonymous", authz.Principal{}, authz.ErrUnauthenticated, authz.ErrUnauthenticated},
	} {
		ctx := e.as(tc.p)
		_, err := e.admin.CertificateBindings(ctx, e.amy.ID, authz.Page{})
		wantErrIs(t, tc.who+": list amy's bindings", err, tc.list)
		_, err = e.admin.CertificateBinding(ctx, e.amy.ID, b1.ID)
		wantErrIs(t, tc.who+": get amy's binding", err, tc.list)
		_, err = e.admin.CreateCertificateBinding(ctx, e.amy.ID, in)
		wantErrIs(t, tc.who+": bind for amy", err, tc.create)
		err = e.admin.DeleteCertificateBinding(ctx, e.amy.ID, b1.ID)
		wantErrIs(t, tc.who+": unbind amy's", err, tc.create)
	}
	// An org-admin does not manage admins, nor users of other
	// organizations.
	_, err = e.admin.CreateCertificateBinding(alice, e.ben.ID, in)
	wantErrIs(t, "alice binds for ben of B", err, authz.ErrNotFound)
	_, err = e.admin.CreateCertificateBinding(alice, e.root.ID, in)
	wantErrIs(t, "alice binds for the admin", err, authz.ErrNotFound)
	// Nor does it bind at all: names are not tied to organizations.
	_, err = e.admin.CreateCertificateBinding(alice, e.amy.ID, in)
	wantErrIs(t, "alice binds for amy of A", err, authz.ErrForbidden)
	_, err = e.admin.CreateCertificateBinding(bob, e.bob.ID, authz.CertificateBindingInput{Identity: ptr("dns:bob.partner-b.example")})
	wantErrIs(t, "bob binds for himself", err, authz.ErrForbidden)

	// A binding is addressed under its user only.
	_, err = e.admin.CertificateBinding(root, e.ben.ID, b1.ID)
	wantErrIs(t, "amy's binding under ben", err, authz.ErrNotFound)
	err = e.admin.DeleteCertificateBinding(root, e.ben.ID, b1.ID)
	wantErrIs(t, "unbind amy's binding under ben", err, authz.ErrNotFound)

	// Bad input names its field.
	for _, tc := range []struct {
		name  string
		in    authz.CertificateBindingInput
		kind  error
		field string
	}{
		{"no identity", authz.CertificateBindingInput{}, authz.ErrInvalid, "identity"},
		{"unknown kind", authz.CertificateBindingInput{Identity: ptr("cn:amy")}, authz.ErrInvalid, "identity"},
		{"no kind", authz.CertificateBindingInput{Identity: ptr("amy")}, authz.ErrInvalid, "identity"},
		{"bad IP", authz.CertificateBindingInput{Identity: ptr("ip:300.1.1.1")}, authz.ErrInvalid, "identity"},
		{"bad issuer", authz.CertificateBindingInput{Identity: ptr("dns:x.example"), Issuer: ptr("sha256:abc")}, authz.ErrInvalid, "issuer"},
		{"bound already", authz.CertificateBindingInput{Identity: ptr("dns:FEED.partner-a.example"), Issuer: ptr(issuer)},
			authz.ErrConflict, "identity"},
	} {
		_, err := e.admin.CreateCertificateBinding(root, e.ben.ID, tc.in)
		wantField(t, "CreateCertificateBinding("+tc.name+")", err, tc.kind, tc.field)
	}
	// The same identity for another issuer is another binding.
	_, err = e.admin.CreateCertificateBinding(root, e.ben.ID, authz.CertificateBindingInput{
		Identity: ptr("dns:feed.partner-a.example"), Issuer: ptr(strings.Repeat("cd", 32))})
	wantErrIs(t, "the same identity for another issuer", err, nil)

	// Listings, paged; amy reads her own.
	l, err := e.admin.CertificateBindings(amy, e.amy.ID, authz.Page{Limit: 1})
	mustDo(t, err)
	if len(l.Items) != 1 || l.Items[0].ID != b1.ID || l.Next == "" {
		t.Fatalf("first page = %+v; want %s and a next page", l, b1.ID)
	}
	l, err = e.admin.CertificateBindings(alice, e.amy.ID, authz.Page{Limit: 1, Cursor: l.Next})
	mustDo(t, err)
	if d := cmp.Diff([]authz.CertificateBindingView{b2}, l.Items); d != "" || l.Next != "" {
		t.Errorf("second page (-want +got):\n%s\nnext %q", d, l.Next)
	}

	// Unbinding, audited with the binding before.
	mustDo(t, e.admin.DeleteCertificateBinding(alice, e.amy.ID, b1.ID))
	_, err = e.admin.CertificateBinding(root, e.amy.ID, b1.ID)
	wantErrIs(t, "the deleted binding", err, authz.ErrNotFound)
	events, err := e.admin.AuditEvents(root, authz.AuditQuery{Action: "admin.certificate.delete"}, authz.Page{})
	mustDo(t, err)
	if len(events.Items) != 1 || events.Items[0].UserName != "alice" {
		t.Fatalf("delete events = %+v; want one by alice", events.Items)
	}
	var d struct {
		Before authz.CertificateBindingView `json:"before"`
		After  any                          `json:"after"`
	}
	mustDo(t, json.Unmarshal(events.Items[0].Details, &d))
	if d.Before.ID != b1.ID || d.Before.Identity != b1.Identity || d.Before.Issuer != issuer || d.After != nil {
		t.Errorf("delete event details %s; want the binding %s before, nothing after", events.Items[0].Details, b1.ID)
	}
	events, err = e.admin.AuditEvents(root, authz.AuditQuery{Action: "admin.certificate.create"}, authz.Page{})
	mustDo(t, err)
	var who []string
	for _, ev := range events.Items {
		who = append(who, ev.UserName)
	}
	// Newest first: root's binding for ben and root's two for amy; the
	// refused ones left none.
	if d := cmp.Diff([]string{"root", "root", "root"}, who); d != "" {
		t.Errorf("create events by (-want +got):\n%s", d)
	}
}
