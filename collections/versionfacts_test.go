package collections

import (
	"testing"
	"time"
)

func TestVersionFacts(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC)
	for _, tc := range []struct {
		raw     string
		created time.Time
		revoked bool
	}{
		{`{"type":"indicator","created":"2024-01-02T03:04:05.006Z","revoked":true}`, at, true},
		{`{"revoked":false,"created":"2024-01-02T03:04:05.006Z"}`, at, false},
		{`{"type":"domain-name","value":"a.example"}`, time.Time{}, false},
		// Only the top-level members count.
		{`{"x_a":{"created":"2024-01-02T03:04:05.006Z","revoked":true},"x_b":[{"revoked":true}]}`, time.Time{}, false},
		{`{"x":"\"created\":\"2024-01-02T03:04:05.006Z\"","revoked":true}`, time.Time{}, true},
		// Names and values as encoding/json reads them.
		{`{"cr\u0065ated":"2024-01-02T03:04:05.006Z","r\u0065voked":true}`, at, true},
		{`{"created":"2024-01-02T03:04:05.006\u005a"}`, at, false},
		{`{"revoked":true,"revoked":false}`, time.Time{}, false},
	} {
		created, revoked := VersionFacts([]byte(tc.raw))
		if !created.Equal(tc.created) || revoked != tc.revoked {
			t.Errorf("VersionFacts(%s) = %v, %v; want %v, %v", tc.raw, created, revoked, tc.created, tc.revoked)
		}
	}
}
