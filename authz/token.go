package authz

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
)

// API token secrets look like
//
//	taxiid_<43 base62 characters: 32 random bytes><6 base62 characters: CRC-32>
//
// The fixed prefix lets secret scanners recognize a leaked token, and the
// checksum lets them (and us) tell a token from a random string without a
// store lookup. 32 random bytes are beyond guessing, so the store keeps a
// plain SHA-256 of the secret (TokenHash): a slow hash would add nothing.
const (
	TokenPrefix     = "taxiid_"
	tokenBodyLen    = 43 // 62^43 > 2^256
	tokenCheckLen   = 6  // 62^6 > 2^32
	tokenLen        = len(TokenPrefix) + tokenBodyLen + tokenCheckLen
	tokenShownChars = 8 // of the body, in Token.Prefix
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewTokenSecret returns a new token secret, its hash for Token.Hash and
// its prefix for Token.Prefix. The secret is shown to its owner once and
// never stored.
func NewTokenSecret() (secret, hash, prefix string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", "", fmt.Errorf("authz: token: %w", err)
	}
	body := TokenPrefix + encodeBase62(new(big.Int).SetBytes(b[:]), tokenBodyLen)
	secret = body + tokenChecksum(body)
	return secret, TokenHash(secret), secret[:len(TokenPrefix)+tokenShownChars], nil
}

// TokenHash is what the store keeps of a token secret: lowercase hex
// SHA-256.
func TokenHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// WellFormedToken reports whether s has the form of a token secret with a
// correct checksum. It needs no store, so malformed tokens cost nothing.
func WellFormedToken(s string) bool {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	for i := len(TokenPrefix); i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	body := s[:len(s)-tokenCheckLen]
	return tokenChecksum(body) == s[len(body):]
}

// tokenChecksum is the CRC-32 of body in base62, tokenCheckLen digits.
func tokenChecksum(body string) string {
	var out [tokenCheckLen]byte
	n := crc32.ChecksumIEEE([]byte(body))
	for i := tokenCheckLen - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out[:])
}

// encodeBase62 writes n in base62 with exactly width digits (n must fit).
func encodeBase62(n *big.Int, width int) string {
	out := make([]byte, width)
	base, rem := big.NewInt(62), new(big.Int)
	n = new(big.Int).Set(n)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, rem)
		out[i] = base62[rem.Int64()]
	}
	return string(out)
}
