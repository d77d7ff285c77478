package taxii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"
)

// Pagination tokens (TAXII 2.1 section 3.5) are stateless so that any
// replica, before or after a restart, can continue a listing: a token holds
// the date_added of the last object served and a digest of the query it
// belongs to, authenticated with a key kept in the store.
//
// Layout before base64url: cursor (8 bytes, microseconds since the epoch),
// query digest (8 bytes), HMAC-SHA256 of both (truncated to 16 bytes).
const (
	tokenPayload = 16
	tokenMAC     = 16
)

// tokens signs and verifies pagination tokens.
type tokens struct{ key []byte }

func (t tokens) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(payload)
	return m.Sum(nil)[:tokenMAC]
}

func digest(queryKey string) []byte {
	sum := sha256.Sum256([]byte(queryKey))
	return sum[:8]
}

// issue returns the token for continuing queryKey after cursor.
func (t tokens) issue(queryKey string, cursor time.Time) string {
	b := make([]byte, tokenPayload, tokenPayload+tokenMAC)
	binary.BigEndian.PutUint64(b, uint64(cursor.UnixMicro()))
	copy(b[8:], digest(queryKey))
	b = append(b, t.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// verify returns the cursor of a token issued for queryKey. A token that was
// altered, or issued for other filters, is a 400.
func (t tokens) verify(queryKey, token string) (time.Time, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != tokenPayload+tokenMAC || !hmac.Equal(t.mac(b[:tokenPayload]), b[tokenPayload:]) {
		return time.Time{}, errorf(http.StatusBadRequest, "next is not a token issued by this server")
	}
	if !hmac.Equal(b[8:tokenPayload], digest(queryKey)) {
		return time.Time{}, errorf(http.StatusBadRequest,
			"next belongs to a request with other filters; repeat the original filters with it")
	}
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC(), nil
}
