package webhook

import (
	"context"
	"time"
)

// SubscriptionView is a subscription as the admin API and CLI show it:
// never its secret, but once, at creation (Secret).
type SubscriptionView struct {
	ID             string      `json:"id"`
	OrganizationID string      `json:"organization_id"`
	APIRoot        string      `json:"api_root"`
	Collection     string      `json:"collection"`
	URL            string      `json:"url"`
	CreatedBy      string      `json:"created_by"`
	Created        string      `json:"created_at"`
	Secret         string      `json:"secret,omitempty"`
	Health         *HealthView `json:"health,omitempty"`
}

// HealthView shows a Health.
type HealthView struct {
	LastSuccess   string  `json:"last_success_at,omitempty"`
	LastError     string  `json:"last_error,omitempty"`
	LastErrorTime string  `json:"last_error_at,omitempty"`
	Pending       int     `json:"pending"`
	LagSeconds    float64 `json:"lag_seconds"`
	Announced     int     `json:"objects_announced"`
}

// DeliveryView shows a Delivery.
type DeliveryView struct {
	ID          string `json:"id"`
	Redelivery  string `json:"redelivery_of,omitempty"`
	State       string `json:"state"`
	AddedAfter  string `json:"added_after"`
	AddedUntil  string `json:"added_until"`
	Attempts    int    `json:"attempts"`
	NextAttempt string `json:"next_attempt_at,omitempty"`
	Created     string `json:"created_at"`
	Updated     string `json:"updated_at"`
	Count       int    `json:"count"`
	LastStatus  int    `json:"last_status,omitempty"`
	LastError   string `json:"last_error,omitempty"`
}

func viewTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// View returns the view of s, without health.
func (s Subscription) View() SubscriptionView {
	return SubscriptionView{ID: s.ID, OrganizationID: s.Organization, APIRoot: s.APIRoot, Collection: s.Collection,
		URL: s.URL, CreatedBy: s.CreatedBy, Created: viewTime(s.Created)}
}

// View returns the view of h.
func (h Health) View() *HealthView {
	return &HealthView{LastSuccess: viewTime(h.LastSuccess), LastError: h.LastError, LastErrorTime: viewTime(h.LastErrorTime),
		Pending: h.Pending, LagSeconds: h.Lag.Seconds(), Announced: h.Announced}
}

// View returns the view of d.
func (d Delivery) View() DeliveryView {
	v := DeliveryView{ID: d.ID, Redelivery: d.Redelivery, State: d.State, AddedAfter: viewTime(d.After),
		AddedUntil: viewTime(d.Until), Attempts: d.Attempts, Created: viewTime(d.Created), Updated: viewTime(d.Updated),
		Count: d.Count, LastStatus: d.LastStatus, LastError: d.LastError}
	if d.State == StatePending {
		v.NextAttempt = viewTime(d.NextAttempt)
	}
	return v
}

// Views returns the view of each subscription with its health.
func (s *Service) Views(ctx context.Context, subs []Subscription) ([]SubscriptionView, error) {
	out := make([]SubscriptionView, 0, len(subs))
	for _, sub := range subs {
		h, err := s.Health(ctx, sub.ID)
		if err != nil {
			return nil, err
		}
		v := sub.View()
		v.Health = h.View()
		out = append(out, v)
	}
	return out, nil
}
