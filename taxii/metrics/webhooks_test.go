package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections/webhook"
)

// TestWebhookMetrics: attempts count by outcome, successes announce their
// versions, and the times of the last success and error are kept per
// subscription.
func TestWebhookMetrics(t *testing.T) {
	m := New(BuildInfo{})
	w := NewWebhookMetrics(m)
	s1, s2 := webhook.Subscription{ID: "s1"}, webhook.Subscription{ID: "s2"}
	w.Attempted(s1, webhook.Delivery{Count: 3}, webhook.OutcomeRetry, time.Second)
	w.Attempted(s1, webhook.Delivery{Count: 3}, webhook.OutcomeDelivered, 3*time.Second)
	w.Attempted(s2, webhook.Delivery{Count: 1}, webhook.OutcomeFailed, 2*time.Second)
	(*WebhookMetrics)(nil).Attempted(s1, webhook.Delivery{}, webhook.OutcomeDelivered, 0) // metrics off

	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	set := map[string]bool{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			key := f.GetName()
			for _, l := range mt.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case mt.Counter != nil:
				got[key] = mt.Counter.GetValue()
			case mt.Gauge != nil && f.GetName() == "taxiid_webhook_lag_seconds":
				got[key] = mt.Gauge.GetValue()
			case mt.Gauge != nil && strings.HasPrefix(f.GetName(), "taxiid_webhook_"):
				set[key] = mt.Gauge.GetValue() > 0
			}
		}
	}
	want := map[string]float64{
		"taxiid_webhook_attempts_total outcome=retry subscription=s1":     1,
		"taxiid_webhook_attempts_total outcome=delivered subscription=s1": 1,
		"taxiid_webhook_attempts_total outcome=failed subscription=s2":    1,
		"taxiid_webhook_objects_announced_total subscription=s1":          3,
		"taxiid_webhook_lag_seconds subscription=s1":                      3,
		"taxiid_webhook_lag_seconds subscription=s2":                      2,
	}
	for k := range got {
		if _, ok := want[k]; !ok && strings.HasPrefix(k, "taxiid_webhook_") {
			t.Errorf("unexpected series %s", k)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	wantSet := map[string]bool{
		"taxiid_webhook_last_success_timestamp_seconds subscription=s1": true,
		"taxiid_webhook_last_error_timestamp_seconds subscription=s1":   true,
		"taxiid_webhook_last_error_timestamp_seconds subscription=s2":   true,
	}
	if diff := cmp.Diff(wantSet, set); diff != "" {
		t.Errorf("timestamps set (-want +got):\n%s", diff)
	}
}
