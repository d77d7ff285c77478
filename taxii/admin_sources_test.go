package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/authz/authztest"
	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/taxii"
)

// sourcesHub is the hub's store and principals served by a server that
// also serves /admin/sources.
func sourcesHub(t *testing.T) *hub {
	t.Helper()
	h := newHub(t, hubOptions{})
	admin, err := authz.NewAdmin(authz.AdminConfig{Store: h.store, Collections: h.store, Refresh: h.watcher.Refresh,
		Passwords: authztest.CheapPasswords, Log: slog.New(slog.DiscardHandler)})
	must(t, err)
	srv, err := taxii.New(context.Background(), taxii.Config{Store: h.store, Authorizer: h.az, Authenticator: h.authn,
		Admin: admin, Logger: slog.New(slog.DiscardHandler), Sources: mirror.NewService(h.store, h.store)})
	must(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	h2 := *h
	h2.env = &env{t: t, url: hs.URL, store: h.store, srv: srv}
	return &h2
}

// TestAdminSources: admins declare, list, read and delete mirrored
// sources; others may not; secrets are never shown back nor stored in
// clear; every exchange is one openapi.json describes.
func TestAdminSources(t *testing.T) {
	h := sourcesHub(t)
	sp := loadSpec(t, h)
	const secret = "remote-token-5ecret"
	send := func(who, method, path string, body any) response {
		t.Helper()
		var raw []byte
		if body != nil {
			var err error
			raw, err = json.Marshal(body)
			must(t, err)
		}
		hdr := as(who)
		r := h.adminRequest(method, path, hdr, raw)
		sp.check(t, method, path, hdr, raw, r)
		if bytes.Contains(r.raw, []byte(secret)) {
			t.Errorf("%s %s shows the secret: %s", method, path, r.raw)
		}
		return r
	}
	good := map[string]any{"name": "partner", "url": "https://partner.example/api1/collections/c1/", "token": secret,
		"api_root": "api1", "collection": collA, "interval": "10m"}

	send("", "GET", "/admin/sources", nil).wantJSONError(t, http.StatusUnauthorized)
	send("alice", "GET", "/admin/sources", nil).wantJSONError(t, http.StatusForbidden)
	send("olga", "POST", "/admin/sources", good).wantJSONError(t, http.StatusForbidden)
	for _, bad := range []map[string]any{
		{"name": "p", "url": "http://partner.example/api1/collections/c1/", "api_root": "api1", "collection": collA},
		{"name": "p", "url": "https://partner.example/c/", "token": "t", "username": "u", "api_root": "api1", "collection": collA},
		{"name": "p", "url": "https://partner.example/c/", "api_root": "api1", "collection": "nope"},
		{"name": "P!", "url": "https://partner.example/c/", "api_root": "api1", "collection": collA},
		{"name": "p", "url": "https://partner.example/c/", "api_root": "api1", "collection": collA, "interval": "1ns"},
		{"name": "p", "api_root": "api1", "collection": collA},
		{"name": "p", "url": "https://partner.example/c/", "api_root": "api1", "collection": collA, "direction": "both"},
		{"name": "p", "url": "https://partner.example/c/", "api_root": "api1", "collection": collA, "max_tlp": "green"},
	} {
		send("root", "POST", "/admin/sources", bad).wantJSONError(t, http.StatusBadRequest)
	}

	r := send("root", "POST", "/admin/sources", good)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	if r.body["has_token"] != true || r.body["collection"] != collA || r.body["interval"] != "10m0s" {
		t.Errorf("created %s", r.raw)
	}
	send("root", "POST", "/admin/sources", good).wantJSONError(t, http.StatusConflict)
	byParts := map[string]any{"name": "second", "api_root_url": "http://127.0.0.1:9/api9", "collection_id": "c2",
		"username": "u", "password": secret, "api_root": "api1", "collection": collB, "direction": "push", "max_tlp": "amber"}
	if r := send("root", "POST", "/admin/sources", byParts); r.status != http.StatusCreated ||
		r.body["url"] != "http://127.0.0.1:9/api9/collections/c2/" || r.body["has_password"] != true || r.body["direction"] != "push" || r.body["max_tlp"] != "amber" {
		t.Fatalf("create by API root URL: %d %s", r.status, r.raw)
	}

	r = send("root", "GET", "/admin/sources", nil)
	var names []string
	for _, it := range r.body["items"].([]any) {
		names = append(names, it.(map[string]any)["name"].(string))
	}
	if diff := cmp.Diff([]string{"partner", "second"}, names); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	r = send("root", "GET", "/admin/sources/partner", nil)
	if st, _ := r.body["status"].(map[string]any); st == nil || st["cursor"] != "" || st["pages"] != 0.0 {
		t.Errorf("status of a new source: %s", r.raw)
	}
	// Stored sealed.
	src, err := mirror.Store(h.store).Source(context.Background(), "partner")
	must(t, err)
	if len(src.Sealed) == 0 || bytes.Contains(src.Sealed, []byte(secret)) {
		t.Errorf("the token is stored as %q", src.Sealed)
	}

	send("alice", "DELETE", "/admin/sources/partner", nil).wantJSONError(t, http.StatusForbidden)
	if r := send("root", "DELETE", "/admin/sources/partner", nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	send("root", "GET", "/admin/sources/partner", nil).wantJSONError(t, http.StatusNotFound)
	send("root", "DELETE", "/admin/sources/partner", nil).wantJSONError(t, http.StatusNotFound)
	if _, err := h.store.Collection(context.Background(), "api1", collA); err != nil {
		t.Errorf("the local collection after deleting its source: %v", err)
	}
}
