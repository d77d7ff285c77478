package webhook_test

import (
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections/webhook"
)

// TestBackoff: waits double from 10 s up to an hour, each drawn in the
// upper half of its step, and the retries of a day are bounded.
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		failed int
		step   time.Duration
	}{
		{1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {6, 320 * time.Second},
		{9, 2560 * time.Second}, {10, time.Hour}, {50, time.Hour},
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := webhook.Backoff(tc.failed)
			if d < tc.step/2 || d > tc.step {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", tc.failed, d, tc.step/2, tc.step)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("Backoff(%d): %d distinct waits in 200, want jitter", tc.failed, len(seen))
		}
	}
}
