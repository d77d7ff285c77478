package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/collections"
)

// MaxSubscriptionsPerOrganization bounds the subscriptions of one
// organization (each costs a query per worker step).
const MaxSubscriptionsPerOrganization = 100

// Service creates subscriptions and redeliveries: the checks a subscriber
// cannot bypass. Who may act for which organization is the caller's
// decision.
type Service struct {
	Store Store
	// Objects is the store of the collections, where a new subscription
	// finds where to start.
	Objects collections.Store
	Sealer  *Sealer
	Guard   *Guard
	Access  Access
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Subscribe subscribes organization org to the collection, notifying url,
// and returns the subscription and its signing secret (shown once: only
// its sealed form is stored). The subscription announces versions added
// from now on. Errors wrap collections.ErrInvalid for a URL taxiid will
// not call (ErrURL) or an organization at its limit, and
// collections.ErrNotFound when the organization may not read the
// collection (whether or not it exists).
func (s *Service) Subscribe(ctx context.Context, org, apiRoot, collection, rawURL, by string) (Subscription, string, error) {
	if org == "" {
		return Subscription{}, "", fmt.Errorf("%w: a subscription belongs to an organization", collections.ErrInvalid)
	}
	if _, ok := s.Access(ctx, org, apiRoot, collection); !ok {
		return Subscription{}, "", fmt.Errorf("%w: collection %q of API root %q", collections.ErrNotFound, collection, apiRoot)
	}
	if err := s.Guard.CheckURL(ctx, rawURL); err != nil {
		return Subscription{}, "", fmt.Errorf("%w: %w", collections.ErrInvalid, err) // a *URLError
	}
	have, err := s.Store.Subscriptions(ctx, org)
	if err != nil {
		return Subscription{}, "", err
	}
	if len(have) >= MaxSubscriptionsPerOrganization {
		return Subscription{}, "", fmt.Errorf("%w: the organization has %d subscriptions, the most allowed", collections.ErrInvalid, len(have))
	}
	id, err := newID()
	if err != nil {
		return Subscription{}, "", err
	}
	secret, err := NewSecret()
	if err != nil {
		return Subscription{}, "", err
	}
	sealed, err := s.Sealer.Seal(id, secret)
	if err != nil {
		return Subscription{}, "", err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	cursor, err := s.startCursor(ctx, apiRoot, collection, now)
	if err != nil {
		return Subscription{}, "", err
	}
	sub := Subscription{ID: id, Organization: org, APIRoot: apiRoot, Collection: collection,
		URL: rawURL, SealedSecret: sealed, CreatedBy: by, Created: now, Cursor: cursor}
	if err := s.Store.CreateSubscription(ctx, sub); err != nil {
		return Subscription{}, "", err
	}
	return sub, secret, nil
}

// startMargin bounds how long a write of versions may take (MongoDB's
// write deadline and lease are shorter): see startCursor.
const startMargin = 2 * time.Minute

// startCursor is where a new subscription starts: after the last version
// visible now among those added since startMargin ago, else startMargin
// ago. A version being written now gets a date_added above every visible
// one (collections.Store.AddObjects) and after startMargin ago, so none is
// missed, and none visible before the subscription is announced.
func (s *Service) startCursor(ctx context.Context, apiRoot, collection string, now time.Time) (time.Time, error) {
	from := now.Add(-startMargin)
	last, _, _, _, err := scanRange(ctx, s.Objects, apiRoot, collection, Conditions{}, from, time.Time{}, now)
	if err != nil {
		return time.Time{}, err
	}
	if last.IsZero() {
		return from, nil
	}
	return last, nil
}

// Redeliver queues again the versions of a delivery, as a new delivery due
// now, and returns it. ErrNotFound if the delivery does not exist.
func (s *Service) Redeliver(ctx context.Context, subscription, id string) (Delivery, error) {
	d, err := s.Store.Delivery(ctx, subscription, id)
	if err != nil {
		return Delivery{}, err
	}
	nid, err := newID()
	if err != nil {
		return Delivery{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	orig := d.ID
	if d.Redelivery != "" {
		orig = d.Redelivery
	}
	r := Delivery{ID: nid, Subscription: subscription, After: d.After, Until: d.Until, Redelivery: orig,
		State: StatePending, NextAttempt: now, Created: now, Updated: now}
	if err := s.Store.AddDelivery(ctx, r); err != nil {
		return Delivery{}, err
	}
	return r, nil
}

func newID() (string, error) {
	u, err := uuid.NewRandom()
	if err != nil {
		return "", errors.New("webhook: no randomness for an id")
	}
	return u.String(), nil
}

// historyForHealth is how many of a subscription's latest deliveries
// Health reads.
const historyForHealth = 100

// Health sums up how a subscription's deliveries go, from its latest
// deliveries (at most historyForHealth, within the kept history).
type Health struct {
	LastSuccess   time.Time // zero: none
	LastError     string
	LastErrorTime time.Time
	// Pending is the number of deliveries waiting, Lag how long the
	// oldest of them has (zero when none).
	Pending int
	Lag     time.Duration
	// Announced is the number of versions announced by the successful
	// deliveries read.
	Announced int
}

// Health reads the health of subscription id.
func (s *Service) Health(ctx context.Context, id string) (Health, error) {
	ds, err := s.Store.Deliveries(ctx, id, historyForHealth)
	if err != nil {
		return Health{}, err
	}
	return healthOf(ds, s.now()), nil
}

func healthOf(ds []Delivery, now time.Time) Health {
	var h Health
	for _, d := range ds { // newest first
		switch d.State {
		case StateDelivered:
			if d.Updated.After(h.LastSuccess) {
				h.LastSuccess = d.Updated
			}
			h.Announced += d.Count
		case StatePending:
			h.Pending++
			h.Lag = max(h.Lag, now.Sub(d.Created))
		}
		if d.LastError != "" && d.Updated.After(h.LastErrorTime) {
			h.LastError, h.LastErrorTime = d.LastError, d.Updated
		}
	}
	return h
}
