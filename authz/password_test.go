package authz_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/authz/authztest"
)

func TestPasswordHash(t *testing.T) {
	p := authztest.CheapPasswords
	h, err := authz.HashPassword("correct horse", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("HashPassword = %q, want a PHC argon2id string with its parameters", h)
	}
	h2, err := authz.HashPassword("correct horse", p)
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct horse ", false},
		{"Correct horse", false},
		{"", false},
		{strings.Repeat("x", authz.MaxPasswordLen+1), false},
	} {
		got, err := authz.CheckPassword(h, tc.password)
		if err != nil || got != tc.want {
			t.Errorf("CheckPassword(%.20q) = %v, %v; want %v", tc.password, got, err, tc.want)
		}
	}
	if authz.PasswordNeedsRehash(h, p) {
		t.Error("PasswordNeedsRehash with the same parameters")
	}
	raised := p
	raised.Time++
	if !authz.PasswordNeedsRehash(h, raised) {
		t.Error("PasswordNeedsRehash with more passes = false")
	}
	// A hash keeps working after the parameters are raised.
	if ok, err := authz.CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Errorf("CheckPassword of an old hash = %v, %v", ok, err)
	}
}

func TestPasswordHashInvalid(t *testing.T) {
	if _, err := authz.HashPassword("", authztest.CheapPasswords); !errors.Is(err, authz.ErrInvalid) {
		t.Errorf("HashPassword(\"\") error %v, want ErrInvalid", err)
	}
	if _, err := authz.HashPassword("x", authz.PasswordParams{Memory: 1 << 30, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}); err == nil {
		t.Error("HashPassword with 1 TiB of memory: no error")
	}
	good, err := authz.HashPassword("x", authztest.CheapPasswords)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2b$10$abcdefghijklmnopqrstuu5nH0Yq7Jq8Yb9oJ6o4t1YJ2r7nH3e6"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"other version", strings.Replace(good, "v=19", "v=16", 1)},
		{"huge memory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5]},
		{"many passes", "$argon2id$v=19$m=64,t=100000,p=1$" + parts[4] + "$" + parts[5]},
		{"no threads", "$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5]},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$YWJj$" + parts[5]},
		{"bad base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + parts[5]},
		{"parameters reordered", "$argon2id$v=19$t=1,m=64,p=1$" + parts[4] + "$" + parts[5]},
		{"extra field", good + "$x"},
	} {
		ok, err := authz.CheckPassword(tc.hash, "x")
		if ok || err == nil {
			t.Errorf("CheckPassword with hash %s = %v, %v; want an error", tc.name, ok, err)
		}
		if !authz.PasswordNeedsRehash(tc.hash, authztest.CheapPasswords) {
			t.Errorf("PasswordNeedsRehash(%s) = false", tc.name)
		}
	}
}

func TestTokenSecret(t *testing.T) {
	secret, hash, prefix, err := authz.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 56 || !strings.HasPrefix(secret, "taxiid_") {
		t.Errorf("secret %q: want taxiid_ and 49 more characters", secret)
	}
	if !strings.HasPrefix(secret, prefix) || len(prefix) != len("taxiid_")+8 {
		t.Errorf("prefix %q of %q: want its first 15 characters", prefix, secret)
	}
	if hash != authz.TokenHash(secret) || len(hash) != 64 {
		t.Errorf("hash %q, want TokenHash of the secret", hash)
	}
	if !authz.WellFormedToken(secret) {
		t.Errorf("WellFormedToken(%q) = false", secret)
	}
	other, _, _, err := authz.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	if other == secret {
		t.Error("two token secrets are equal")
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, tc := range []struct{ name, s string }{
		{"empty", ""},
		{"body changed", flip(secret, 10)},
		{"checksum changed", flip(secret, len(secret)-1)},
		{"other prefix", "ghp_xxx" + secret[7:]},
		{"short", secret[:len(secret)-1]},
		{"long", secret + "0"},
		{"not base62", secret[:20] + "-" + secret[21:]},
	} {
		if authz.WellFormedToken(tc.s) {
			t.Errorf("WellFormedToken(%s) = true", tc.name)
		}
	}
}
