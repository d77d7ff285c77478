package authz

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters of new password hashes.
// Each hash records its own, so raising them later leaves existing hashes
// valid (PasswordNeedsRehash tells which to redo at the next sign-in).
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams follow the OWASP password storage recommendation
// for argon2id (19 MiB, 2 passes, 1 thread): about 20-40 ms per hash on a
// server core. The verdict cache of the Authenticator makes that cost once
// per user per cache lifetime, not once per request.
var DefaultPasswordParams = PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on the parameters read back from a stored hash, so that a damaged
// or hostile record cannot make one check take gigabytes or minutes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	maxKeyLen  = 128
	maxSaltLen = 128
)

// MaxPasswordLen bounds what is hashed: longer passwords are refused before
// any work is done.
const MaxPasswordLen = 1024

// HashPassword returns the argon2id hash of password with a new random salt,
// in the PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in unpadded standard base64.
func HashPassword(password string, p PasswordParams) (string, error) {
	if len(password) == 0 || len(password) > MaxPasswordLen {
		return "", invalid("password", "must be 1 to %d bytes", MaxPasswordLen)
	}
	if p.Memory < 8*uint32(max(p.Threads, 1)) || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime ||
		p.Threads < 1 || p.SaltLen < 8 || p.SaltLen > maxSaltLen || p.KeyLen < 16 || p.KeyLen > maxKeyLen {
		return "", fmt.Errorf("authz: password parameters out of range: %+v", p)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("authz: salt: %w", err)
	}
	h := phc{PasswordParams: p, salt: salt}
	h.key = h.derive(password)
	return h.String(), nil
}

// CheckPassword reports whether password matches the hash encoded by
// HashPassword, comparing in constant time. The error is for a malformed
// hash, never for a wrong password.
func CheckPassword(encoded, password string) (bool, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(password) == 0 || len(password) > MaxPasswordLen {
		return false, nil
	}
	return subtle.ConstantTimeCompare(h.derive(password), h.key) == 1, nil
}

// PasswordNeedsRehash reports whether encoded was made with parameters other
// than p (or cannot be read), so that a caller holding the password can
// store a new hash.
func PasswordNeedsRehash(encoded string, p PasswordParams) bool {
	h, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return h.Memory != p.Memory || h.Time != p.Time || h.Threads != p.Threads ||
		uint32(len(h.salt)) != p.SaltLen || uint32(len(h.key)) != p.KeyLen
}

// phc is a decoded argon2id hash.
type phc struct {
	PasswordParams
	salt, key []byte
}

func (h phc) derive(password string) []byte {
	return argon2.IDKey([]byte(password), h.salt, h.Time, h.Memory, h.Threads, h.KeyLen)
}

func (h phc) String() string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.Memory, h.Time, h.Threads, enc.EncodeToString(h.salt), enc.EncodeToString(h.key))
}

var errPHC = errors.New("not an argon2id hash of the form $argon2id$v=19$m=..,t=..,p=..$salt$key")

func parsePHC(s string) (phc, error) {
	var h phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, errPHC
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, errPHC
	}
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return h, errPHC
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return h, errPHC
		}
		switch i {
		case 0:
			h.Memory = uint32(n)
		case 1:
			h.Time = uint32(n)
		case 2:
			if n > 255 {
				return h, errPHC
			}
			h.Threads = uint8(n)
		}
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return h, errPHC
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return h, errPHC
	}
	h.SaltLen, h.KeyLen = uint32(len(h.salt)), uint32(len(h.key))
	if h.Memory < 8*uint32(max(h.Threads, 1)) || h.Memory > maxMemory || h.Time < 1 || h.Time > maxTime ||
		h.Threads < 1 || len(h.salt) < 8 || len(h.salt) > maxSaltLen || len(h.key) < 16 || len(h.key) > maxKeyLen {
		return h, fmt.Errorf("argon2id parameters out of range")
	}
	return h, nil
}
