package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Headers of a notification.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>", the
	// HMAC keyed with the subscription's secret over "<t>.<body>".
	SignatureHeader = "X-Taxiid-Signature"
	// DeliveryHeader repeats the notification's id (also in the signed
	// body) for logs; receivers trust the body's.
	DeliveryHeader = "X-Taxiid-Delivery"
	// EventHeader names the event, EventObjectsAdded.
	EventHeader = "X-Taxiid-Event"
)

// EventObjectsAdded is the only event: versions were added to a
// collection.
const EventObjectsAdded = "objects-added"

// DefaultTolerance is how old a notification's timestamp may be for
// Verify: a captured notification replayed later fails.
const DefaultTolerance = 5 * time.Minute

// Notification is the body of a delivery. It announces versions, never
// carries them: the receiver pulls them with Objects, its TAXII URL with
// added_after, under its own credentials.
type Notification struct {
	// ID is unique per notification (Delivery.NoticeID): receivers
	// remember it to drop a repeat.
	ID           string `json:"id"`
	Event        string `json:"event"`
	Subscription string `json:"subscription"`
	APIRoot      string `json:"api_root"`
	Collection   string `json:"collection"`
	// Count is how many versions added in the range the organization may
	// see; CountCapped says there are more than Count.
	Count       int  `json:"count"`
	CountCapped bool `json:"count_capped,omitempty"`
	// DateAddedFirst and DateAddedLast bound the date_added of those
	// versions; AddedAfter is the value of added_after that pulls them.
	DateAddedFirst string `json:"date_added_first"`
	DateAddedLast  string `json:"date_added_last"`
	AddedAfter     string `json:"added_after"`
	// Objects is the URL of the collection's objects with added_after.
	Objects string `json:"objects"`
}

// NewSecret returns a new signing secret: "whsec_" and 32 random bytes in
// base64url. The HMAC key is the secret's text, as shown to the
// subscriber.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Errors of verification.
var (
	ErrSignature = errors.New("webhook: bad signature")
	ErrExpired   = errors.New("webhook: timestamp outside the tolerance")
	ErrReplayed  = errors.New("webhook: notification already received")
)

// Verify checks that header (a SignatureHeader value) signs body with
// secret, and that its timestamp is within tolerance of now (either way:
// a clock ahead is as suspect as a stale one). It does not remember
// notifications; Verifier does.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			// Several v1 values may come while a secret is rotated.
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header", ErrSignature)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal(s, want)
	}
	if !ok {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrExpired
	}
	return nil
}

// Verifier checks notifications for a receiver: signature, timestamp
// within Tolerance, and an id not seen within the tolerance window (older
// ones fail the timestamp check anyway, so it remembers no more).
type Verifier struct {
	Secret    string
	Tolerance time.Duration // 0: DefaultTolerance
	Now       func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time
}

// Verify checks the notification in body with the request's headers and
// returns it. ErrReplayed for an id already accepted: a receiver should
// answer 2xx to it (its earlier answer was lost) without acting on it
// again.
func (v *Verifier) Verify(h http.Header, body []byte) (Notification, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	var n Notification
	if err := Verify(v.Secret, h.Get(SignatureHeader), body, now, tol); err != nil {
		return n, err
	}
	if err := json.Unmarshal(body, &n); err != nil || n.ID == "" {
		return n, fmt.Errorf("%w: body is no notification", ErrSignature)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = make(map[string]time.Time)
	}
	for id, at := range v.seen {
		if now.Sub(at) > 2*tol {
			delete(v.seen, id)
		}
	}
	if _, ok := v.seen[n.ID]; ok {
		return n, ErrReplayed
	}
	v.seen[n.ID] = now
	return n, nil
}
