package webhook_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections/webhook"
)

// TestVerify: a notification verifies with its secret, once; a tampered,
// stale or replayed one does not.
func TestVerify(t *testing.T) {
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"d-1.1","event":"objects-added","subscription":"s","api_root":"api1","collection":"c","count":2}`)
	sig := webhook.Sign(secret, now, body)
	headers := func(sig string) http.Header {
		h := http.Header{}
		h.Set(webhook.SignatureHeader, sig)
		return h
	}
	tampered := []byte(strings.Replace(string(body), `"count":2`, `"count":3`, 1))
	other, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, tc := range []struct {
		name   string
		secret string
		sig    string
		body   []byte
		at     time.Time
		want   error
	}{
		{"signed", secret, sig, body, now, nil},
		{"received a little later", secret, sig, body, now.Add(4 * time.Minute), nil},
		{"tampered body", secret, sig, tampered, now, webhook.ErrSignature},
		{"timestamp moved", secret, strings.Replace(sig, "t="+ts, "t="+strconv.FormatInt(now.Unix()+60, 10), 1), body, now, webhook.ErrSignature},
		{"other secret", other, sig, body, now, webhook.ErrSignature},
		{"signed with another secret", secret, webhook.Sign(other, now, body), body, now, webhook.ErrSignature},
		{"no signature", secret, "", body, now, webhook.ErrSignature},
		{"garbage", secret, "t=x,v1=zz", body, now, webhook.ErrSignature},
		{"replayed after the tolerance", secret, sig, body, now.Add(6 * time.Minute), webhook.ErrExpired},
		{"from the future", secret, sig, body, now.Add(-6 * time.Minute), webhook.ErrExpired},
		{"rotated: one of two signatures", secret, webhook.Sign(other, now, body) + ",v1=" + strings.SplitN(sig, "v1=", 2)[1], body, now, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &webhook.Verifier{Secret: tc.secret, Now: func() time.Time { return tc.at }}
			n, err := v.Verify(headers(tc.sig), tc.body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			if n.ID != "d-1.1" || n.Count != 2 {
				t.Errorf("notification %+v, want d-1.1 counting 2", n)
			}
			// The same notification again, within the tolerance, is a
			// replay.
			if _, err := v.Verify(headers(tc.sig), tc.body); !errors.Is(err, webhook.ErrReplayed) {
				t.Errorf("second Verify: %v, want ErrReplayed", err)
			}
		})
	}
}
