package authztest

import (
	"testing"
	"time"

	"github.com/taxiid/taxiid/authz"
)

func testTokensMissing(t *testing.T, s authz.Store) {
	ctx := t.Context()
	_, err := s.Token(ctx, "nope")
	wantErr(t, "Token(missing)", err, authz.ErrNotFound)
	_, err = s.TokenByHash(ctx, authz.TokenHash("nope"))
	wantErr(t, "TokenByHash(missing)", err, authz.ErrNotFound)
	_, err = s.RevokeToken(ctx, "nope", time.Now())
	wantErr(t, "RevokeToken(missing)", err, authz.ErrNotFound)
	wantErr(t, "DeleteToken(missing)", s.DeleteToken(ctx, "nope"), authz.ErrNotFound)
	mustOK(t, "TouchTokens(missing ids)", s.TouchTokens(ctx, map[string]time.Time{"nope": time.Now()}))
	got, err := s.Tokens(ctx, authz.TokenFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Tokens of an empty store = %v, %v; want none", got, err)
	}
}

func testTokensInvalid(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	u := user(t, s, a.ID, "alice", authz.RoleMember)
	_, hash, prefix, err := authz.NewTokenSecret()
	mustOK(t, "NewTokenSecret", err)
	for _, tc := range []struct {
		name  string
		tok   authz.Token
		field string
	}{
		{"unknown user", authz.Token{UserID: "nope", Name: "t", Hash: hash, Prefix: prefix}, "user_id"},
		{"no name", authz.Token{UserID: u.ID, Hash: hash, Prefix: prefix}, "name"},
		{"no hash", authz.Token{UserID: u.ID, Name: "t", Prefix: prefix}, "hash"},
		{"upper-case hash", authz.Token{UserID: u.ID, Name: "t", Hash: "AB" + hash[2:], Prefix: prefix}, "hash"},
		{"bad prefix", authz.Token{UserID: u.ID, Name: "t", Hash: hash, Prefix: "ghp_x"}, "prefix"},
	} {
		_, err := s.CreateToken(ctx, tc.tok)
		wantInvalid(t, "CreateToken("+tc.name+")", err, tc.field)
	}
	_, err = s.Tokens(ctx, authz.TokenFilter{})
	wantInvalid(t, "Tokens(limit 0)", err, "limit")
	got, err := s.Tokens(ctx, authz.TokenFilter{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("Tokens after invalid creates = %v, %v; want none", got, err)
	}
}

func testTokens(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	alice, bob := user(t, s, a.ID, "alice", authz.RoleMember), user(t, s, a.ID, "bob", authz.RoleMember)
	_, hash, prefix, err := authz.NewTokenSecret()
	mustOK(t, "NewTokenSecret", err)
	expires := time.Date(2031, 2, 3, 4, 5, 6, 789_654_321, time.FixedZone("X", 3600))
	start := time.Now()
	t1, err := s.CreateToken(ctx, authz.Token{UserID: alice.ID, Name: "ci", Hash: hash, Prefix: prefix,
		ExpiresAt: expires, LastUsedAt: time.Now()})
	mustOK(t, "CreateToken", err)
	checkStamp(t, "CreatedAt", t1.CreatedAt, start)
	want := authz.Token{ID: t1.ID, UserID: alice.ID, Name: "ci", Hash: hash, Prefix: prefix,
		ExpiresAt: time.Date(2031, 2, 3, 3, 5, 6, 789_000_000, time.UTC), CreatedAt: t1.CreatedAt}
	diff(t, "CreateToken (UTC, milliseconds, no last use)", want, t1)
	if loc := t1.ExpiresAt.Location(); loc != time.UTC {
		t.Errorf("ExpiresAt in %v, want UTC", loc)
	}
	diff(t, "Token", want, must[authz.Token](t, "Token")(s.Token(ctx, t1.ID)))
	diff(t, "TokenByHash", want, must[authz.Token](t, "TokenByHash")(s.TokenByHash(ctx, hash)))

	_, err = s.CreateToken(ctx, authz.Token{UserID: alice.ID, Name: "ci", Hash: authz.TokenHash("x"), Prefix: prefix})
	wantErr(t, "CreateToken(duplicate name)", err, authz.ErrConflict)
	_, err = s.CreateToken(ctx, authz.Token{UserID: bob.ID, Name: "other", Hash: hash, Prefix: prefix})
	wantErr(t, "CreateToken(duplicate hash)", err, authz.ErrConflict)

	t2, _ := token(t, s, bob.ID, "ci") // the same name for another user
	t3, _ := token(t, s, alice.ID, "laptop")
	ids := func(ts []authz.Token) []string {
		var out []string
		for _, tk := range ts {
			out = append(out, tk.ID)
		}
		return out
	}
	diff(t, "Tokens (creation order)", []string{t1.ID, t2.ID, t3.ID},
		ids(must[[]authz.Token](t, "Tokens")(s.Tokens(ctx, authz.TokenFilter{Limit: 10}))))
	diff(t, "Tokens of alice", []string{t1.ID, t3.ID},
		ids(must[[]authz.Token](t, "Tokens")(s.Tokens(ctx, authz.TokenFilter{UserID: alice.ID, Limit: 10}))))
	diff(t, "Tokens of alice after the first", []string{t3.ID},
		ids(must[[]authz.Token](t, "Tokens")(s.Tokens(ctx, authz.TokenFilter{UserID: alice.ID, After: t1.ID, Limit: 10}))))
	diff(t, "Tokens, limit 1", []string{t1.ID},
		ids(must[[]authz.Token](t, "Tokens")(s.Tokens(ctx, authz.TokenFilter{Limit: 1}))))

	mustOK(t, "DeleteToken", s.DeleteToken(ctx, t1.ID))
	_, err = s.Token(ctx, t1.ID)
	wantErr(t, "Token(deleted)", err, authz.ErrNotFound)
	_, err = s.TokenByHash(ctx, hash)
	wantErr(t, "TokenByHash(deleted)", err, authz.ErrNotFound)
	wantErr(t, "DeleteToken(again)", s.DeleteToken(ctx, t1.ID), authz.ErrNotFound)
	diff(t, "Tokens after delete", []string{t2.ID, t3.ID},
		ids(must[[]authz.Token](t, "Tokens")(s.Tokens(ctx, authz.TokenFilter{Limit: 10}))))
}

func testTokensRevoke(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	u := user(t, s, a.ID, "alice", authz.RoleMember)
	tok, _ := token(t, s, u.ID, "ci")
	other, _ := token(t, s, u.ID, "other")

	_, err := s.RevokeToken(ctx, tok.ID, time.Time{})
	wantInvalid(t, "RevokeToken(zero time)", err, "revoked_at")

	at := time.Date(2030, 1, 1, 0, 0, 0, 123_456_789, time.UTC)
	got, err := s.RevokeToken(ctx, tok.ID, at)
	mustOK(t, "RevokeToken", err)
	want := tok
	want.RevokedAt = at.Truncate(time.Millisecond)
	diff(t, "RevokeToken", want, got)
	diff(t, "Token after revocation", want, must[authz.Token](t, "Token")(s.Token(ctx, tok.ID)))
	if want.Active(at) {
		t.Errorf("revoked token Active")
	}
	// A second revocation keeps the first time.
	got, err = s.RevokeToken(ctx, tok.ID, at.Add(time.Hour))
	mustOK(t, "RevokeToken again", err)
	diff(t, "RevokeToken again", want, got)
	diff(t, "other token", other, must[authz.Token](t, "Token")(s.Token(ctx, other.ID)))
}

func testTokensTouch(t *testing.T, s authz.Store) {
	ctx := t.Context()
	a := org(t, s, "A")
	u := user(t, s, a.ID, "alice", authz.RoleMember)
	t1, _ := token(t, s, u.ID, "one")
	t2, _ := token(t, s, u.ID, "two")
	t3, _ := token(t, s, u.ID, "three")
	g := gen(t, s)

	at := time.Date(2030, 5, 6, 7, 8, 9, 10_999_999, time.UTC)
	mustOK(t, "TouchTokens", s.TouchTokens(ctx, map[string]time.Time{t1.ID: at, t2.ID: at, "nope": at}))
	// Earlier times do not move LastUsedAt back; later ones move it on.
	mustOK(t, "TouchTokens", s.TouchTokens(ctx, map[string]time.Time{t1.ID: at.Add(-time.Hour), t2.ID: at.Add(time.Second)}))

	want := map[string]time.Time{
		t1.ID: at.Truncate(time.Millisecond),
		t2.ID: at.Add(time.Second).Truncate(time.Millisecond),
		t3.ID: {},
	}
	got := map[string]time.Time{}
	for _, tk := range must[[]authz.Token](t, "Tokens")(s.Tokens(ctx, authz.TokenFilter{Limit: 10})) {
		got[tk.ID] = tk.LastUsedAt
	}
	diff(t, "LastUsedAt", want, got)
	if g2 := gen(t, s); g2 != g {
		t.Errorf("TouchTokens moved the generation from %d to %d", g, g2)
	}
}
