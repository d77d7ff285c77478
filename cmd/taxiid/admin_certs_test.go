package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
)

// bindingOut is a binding as `taxiid admin users certs` prints it.
type bindingOut struct {
	ID       string `json:"id"`
	UserID   string `json:"user_id"`
	Identity string `json:"identity"`
	Issuer   string `json:"issuer"`
}

// TestAdminCLICerts: `taxiid admin users certs` binds a client
// certificate's names for the client CA it chains to (found in the
// server's client CA file), or an identity given as text; refuses names
// bound already before binding any; lists and removes bindings by id or
// identity; every change audited.
func TestAdminCLICerts(t *testing.T) {
	data := newStoreDir(t)
	dir := t.TempDir()
	partnerA, partnerB := newTestCA(t, "Partner A CA"), newTestCA(t, "Partner B CA")
	clientCAs := filepath.Join(dir, "clients.pem")
	writeFile(t, clientCAs, append(append([]byte{}, partnerA.pem...), partnerB.pem...))
	onlyB := filepath.Join(dir, "b.pem")
	writeFile(t, onlyB, partnerB.pem)
	alice := partnerA.issue(t, x509.Certificate{
		Subject:     pkix.Name{CommonName: "alice", Organization: []string{"Partner A"}},
		DNSNames:    []string{"Feed.Partner-A.example"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	aliceFile := filepath.Join(dir, "alice.pem")
	writeFile(t, aliceFile, alice.certPEM)
	fpA, fpB := authz.KeyFingerprint(partnerA.cert), authz.KeyFingerprint(partnerB.cert)

	run := func(wantCode int, args ...string) string {
		t.Helper()
		out, errOut, code := adminRun(t, data, "", args...)
		if code != wantCode {
			t.Fatalf("taxiid admin %s: exit %d; want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out + errOut
	}
	list := func(user string) []bindingOut {
		t.Helper()
		var l struct{ Items []bindingOut }
		if err := json.Unmarshal([]byte(run(0, "users", "certs", "list", user)), &l); err != nil {
			t.Fatal(err)
		}
		for i := range l.Items {
			l.Items[i].ID, l.Items[i].UserID = "", "" // compared apart
		}
		return l.Items
	}
	run(0, "orgs", "create", "--name", "A")
	run(0, "users", "create", "--name", "alice", "--org", "A")
	run(0, "users", "create", "--name", "bob", "--org", "A")

	// A certificate: its names, for the client CA it chains to.
	var added struct{ Items []bindingOut }
	if err := json.Unmarshal([]byte(run(0, "users", "certs", "add", "alice", "--cert", aliceFile, "--client-ca", clientCAs)), &added); err != nil {
		t.Fatal(err)
	}
	aliceWant := []bindingOut{
		{Identity: "subject:CN=alice,O=Partner A", Issuer: fpA},
		{Identity: "dns:feed.partner-a.example", Issuer: fpA},
	}
	if diff := cmp.Diff(aliceWant, list("alice")); diff != "" {
		t.Errorf("alice's bindings (-want +got):\n%s", diff)
	}
	if len(added.Items) != 2 || added.Items[0].ID == "" {
		t.Errorf("certs add printed %+v; want the two bindings", added.Items)
	}

	// Refusals change nothing.
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"bob", "--cert", aliceFile, "--client-ca", clientCAs}, "bound already"},
		{[]string{"bob", "--cert", aliceFile}, "--client-ca"},
		{[]string{"bob", "--cert", aliceFile, "--client-ca", onlyB}, "would be refused"},
		{[]string{"bob", "--cert", aliceFile, "--issuer", fpB, "--any-issuer"}, "exclude each other"},
		{[]string{"bob", "dns:x.example", "--cert", aliceFile}, "either an IDENTITY"},
		{[]string{"bob", "cn:bob"}, "identity"},
		{[]string{"bob", "dns:x.example", "--issuer", "xyz"}, "issuer"},
		{[]string{"bob", "dns:x.example", "--issuer-cert", aliceFile}, "not a CA certificate"},
		{[]string{"nobody", "dns:x.example"}, "not found"},
	} {
		if out := run(1, append([]string{"users", "certs", "add"}, tc.args...)...); !strings.Contains(out, tc.stderr) {
			t.Errorf("certs add %s: %s; want it to mention %q", strings.Join(tc.args, " "), out, tc.stderr)
		}
	}
	if got := list("bob"); len(got) != 0 {
		t.Errorf("bob's bindings after refusals: %+v; want none", got)
	}

	// Identities as text: normalized; for any CA or for the CA named.
	run(0, "users", "certs", "add", "bob", "DNS:Feed.Partner-A.example.")
	run(0, "users", "certs", "add", "bob", "subject:CN=bob,O=Partner B", "--issuer-cert", onlyB)
	run(0, "users", "certs", "add", "bob", "subject:CN=bob,O=Partner B", "--issuer", strings.ToUpper(fpA))
	bobWant := []bindingOut{
		{Identity: "dns:feed.partner-a.example"},
		{Identity: "subject:CN=bob,O=Partner B", Issuer: fpB},
		{Identity: "subject:CN=bob,O=Partner B", Issuer: fpA},
	}
	if diff := cmp.Diff(bobWant, list("bob")); diff != "" {
		t.Errorf("bob's bindings (-want +got):\n%s", diff)
	}

	// Removal by identity (one binding, or the one of --issuer) or by id.
	if out := run(1, "users", "certs", "remove", "bob", "subject:CN=bob,O=Partner B"); !strings.Contains(out, "choose one with --issuer") {
		t.Errorf("remove of an identity bound twice: %s", out)
	}
	run(0, "users", "certs", "remove", "bob", "subject:CN=bob,O=Partner B", "--issuer", fpB)
	run(0, "users", "certs", "remove", "bob", "dns:FEED.partner-a.example")
	if diff := cmp.Diff(bobWant[2:], list("bob")); diff != "" {
		t.Errorf("bob's bindings after removals (-want +got):\n%s", diff)
	}
	if out := run(1, "users", "certs", "remove", "bob", "dns:none.example"); !strings.Contains(out, "no binding") {
		t.Errorf("remove of an unbound identity: %s", out)
	}
	var l struct{ Items []bindingOut }
	if err := json.Unmarshal([]byte(run(0, "users", "certs", "list", "alice")), &l); err != nil {
		t.Fatal(err)
	}
	run(0, "users", "certs", "remove", "alice", l.Items[0].ID)
	if diff := cmp.Diff(aliceWant[1:], list("alice")); diff != "" {
		t.Errorf("alice's bindings after removal by id (-want +got):\n%s", diff)
	}
	if out := run(1, "users", "certs", "remove", "bob", l.Items[1].ID); !strings.Contains(out, "neither a binding id") {
		t.Errorf("remove of alice's binding under bob: %s", out)
	}

	// Audited as the command's.
	var events struct {
		Items []struct {
			Action   string `json:"action"`
			UserName string `json:"user_name"`
		}
	}
	if err := json.Unmarshal([]byte(run(0, "audit", "--action", "admin.certificate.delete")), &events); err != nil {
		t.Fatal(err)
	}
	if len(events.Items) != 3 || events.Items[0].UserName != "cli:tester" {
		t.Errorf("audited removals: %+v; want 3 by cli:tester", events.Items)
	}
}
