package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxiid/taxiid/collections/webhook"
)

// WebhookMetrics are the metrics of webhook deliveries, per subscription
// (an organization has at most webhook.MaxSubscriptionsPerOrganization),
// reported by the webhook worker as its webhook.Observer. Series of a
// deleted subscription stay until the process restarts.
type WebhookMetrics struct {
	attempts    *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	lastError   *prometheus.GaugeVec
	lag         *prometheus.GaugeVec
	announced   *prometheus.CounterVec
}

var _ webhook.Observer = (*WebhookMetrics)(nil)

// NewWebhookMetrics registers the webhook metrics in m; nil when m is nil
// (its methods then do nothing).
func NewWebhookMetrics(m *Metrics) *WebhookMetrics {
	if m == nil {
		return nil
	}
	w := &WebhookMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhook_attempts_total",
			Help: "Webhook delivery attempts by subscription and outcome: delivered, retry (failed, tried again later), failed (given up), skipped (nothing visible to announce).",
		}, []string{"subscription", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "webhook_last_success_timestamp_seconds",
			Help: "When a notification of the subscription was last answered with 2xx (Unix time).",
		}, []string{"subscription"}),
		lastError: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "webhook_last_error_timestamp_seconds",
			Help: "When an attempt of the subscription last failed (Unix time).",
		}, []string{"subscription"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "webhook_lag_seconds",
			Help: "At the last attempt of the subscription, how long its delivery had waited since it was queued.",
		}, []string{"subscription"}),
		announced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhook_objects_announced_total",
			Help: "Versions announced by notifications answered with 2xx, by subscription.",
		}, []string{"subscription"}),
	}
	m.reg.MustRegister(w.attempts, w.lastSuccess, w.lastError, w.lag, w.announced)
	return w
}

// Attempted implements webhook.Observer.
func (w *WebhookMetrics) Attempted(sub webhook.Subscription, d webhook.Delivery, outcome string, lag time.Duration) {
	if w == nil {
		return
	}
	now := float64(time.Now().UnixNano()) / 1e9
	w.attempts.WithLabelValues(sub.ID, outcome).Inc()
	w.lag.WithLabelValues(sub.ID).Set(lag.Seconds())
	switch outcome {
	case webhook.OutcomeDelivered:
		w.lastSuccess.WithLabelValues(sub.ID).Set(now)
		w.announced.WithLabelValues(sub.ID).Add(float64(d.Count))
	case webhook.OutcomeRetry, webhook.OutcomeFailed:
		w.lastError.WithLabelValues(sub.ID).Set(now)
	}
}
