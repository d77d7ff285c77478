// Package webhook notifies organizations of new objects in the collections
// they read: a subscription names an HTTPS URL, and when objects are added
// taxiid POSTs a small signed JSON notification to it (how many new
// versions the organization may see, their date_added range, a link to pull
// them), never the objects themselves.
//
// Deliveries are queued in the store (Store), so that they survive a
// restart, and each subscription is served by one process at a time, the
// holder of its lease, so that several replicas send each notification
// once. A Worker finds new objects, coalesces them into the subscription's
// pending delivery and sends it, retrying with exponential backoff for up
// to a day.
package webhook

import (
	"context"
	"strconv"
	"time"

	"github.com/taxiid/taxiid/stix"
)

// Delivery states.
const (
	// StatePending: not yet answered with 2xx; Worker sends it at
	// NextAttempt.
	StatePending = "pending"
	// StateDelivered: the receiver answered 2xx.
	StateDelivered = "delivered"
	// StateFailed: no attempt succeeded within the retry period, or the
	// subscription's organization may no longer read the collection.
	StateFailed = "failed"
	// StateSkipped: none of the delivery's versions is visible to the
	// organization any more (deleted, or its conditions changed): nothing
	// was sent.
	StateSkipped = "skipped"
)

// Subscription asks for notifications of the objects added to one
// collection, on behalf of an organization.
type Subscription struct {
	ID           string
	Organization string
	APIRoot      string
	Collection   string // collection id
	URL          string
	// SealedSecret is the signing secret sealed with a Sealer (the store
	// never holds it in clear).
	SealedSecret []byte
	CreatedBy    string // user id of whoever subscribed
	Created      time.Time
	// Cursor is the date_added up to which new versions have been queued
	// as deliveries: the next delivery covers versions added after it.
	Cursor time.Time

	// LeaseOwner holds the subscription until LeaseUntil: only it finds
	// new versions and sends deliveries (see Store.ClaimSubscriptions).
	LeaseOwner string
	LeaseUntil time.Time
}

// Delivery is one notification of a subscription: the versions added to
// its collection with a date_added in (After, Until].
type Delivery struct {
	ID           string
	Subscription string
	After        time.Time
	Until        time.Time
	// Redelivery is the id of the delivery this one sends again (an
	// operator's request); empty for a delivery of new versions. Only
	// those take in further versions (coalescing).
	Redelivery string
	State      string
	Attempts   int
	// NextAttempt is when a pending delivery is due.
	NextAttempt time.Time
	Created     time.Time
	Updated     time.Time
	// Count is the number of versions the last attempt announced.
	Count int
	// LastStatus is the HTTP status of the last answer (0: none), LastError
	// what went wrong with the last attempt ("" after a success).
	LastStatus int
	LastError  string
}

// NoticeID names the notification a delivery sends: it changes when the
// delivery takes in further versions, so that a receiver that remembers
// ids (Verifier) accepts the extended notification once and a repeated
// attempt of the same one never twice.
func (d Delivery) NoticeID() string {
	return d.ID + "." + formatMicros(d.Until)
}

// Conditions are what an organization sees of a collection: versions at
// most MaxTLP (stix.TLPNone: no ceiling), added at least Embargo ago.
type Conditions struct {
	MaxTLP  stix.TLP
	Embargo time.Duration
}

// Access reports the conditions under which organization org reads the
// collection (by id) of the API root through its read grant, or false
// when it may not read it.
type Access func(ctx context.Context, org, apiRoot, collection string) (Conditions, bool)

// Store is the persistence of subscriptions and their deliveries.
// Implementations are safe for concurrent use by several handles and
// processes on one database. Errors are collections.ErrNotFound and
// collections.ErrConflict (wrapped) where the methods say so.
type Store interface {
	// CreateSubscription stores a new subscription. ErrConflict if the id
	// is taken.
	CreateSubscription(ctx context.Context, s Subscription) error
	// Subscription returns one subscription. ErrNotFound if it does not
	// exist.
	Subscription(ctx context.Context, id string) (Subscription, error)
	// Subscriptions returns the subscriptions of an organization (every
	// one for ""), ordered by ID.
	Subscriptions(ctx context.Context, organization string) ([]Subscription, error)
	// DeleteSubscription removes a subscription and its deliveries.
	// ErrNotFound if it does not exist.
	DeleteSubscription(ctx context.Context, id string) error

	// ClaimSubscriptions leases to owner, until until, at most limit
	// subscriptions whose lease is free or past (before now), or is
	// owner's and ends before renewBefore, and returns them as leased,
	// ordered by ID. Of several owners claiming at once each subscription
	// goes to one. When there is nothing to claim or renew it writes
	// nothing, so that calling it often costs reads only.
	ClaimSubscriptions(ctx context.Context, owner string, now, renewBefore, until time.Time, limit int) ([]Subscription, error)
	// ReleaseSubscriptions ends owner's leases (at shutdown), so that
	// another process takes the subscriptions over at once.
	ReleaseSubscriptions(ctx context.Context, owner string) error

	// Enqueue, for the holder of the subscription's lease, queues the
	// versions added up to d.Until: it extends the subscription's pending
	// delivery that is not a redelivery (its Until becomes d.Until), or
	// stores d when there is none, and sets the subscription's Cursor to
	// d.Until; it returns the delivery as stored. ErrConflict if owner no
	// longer holds the lease, ErrNotFound if the subscription is gone.
	Enqueue(ctx context.Context, owner string, d Delivery) (Delivery, error)
	// DueDeliveries returns the pending deliveries of a subscription whose
	// NextAttempt is at or before now, oldest first, at most limit.
	DueDeliveries(ctx context.Context, subscription string, now time.Time, limit int) ([]Delivery, error)
	// UpdateDelivery records an attempt: it replaces the State, Attempts,
	// NextAttempt, Updated, Count, LastStatus and LastError of the
	// delivery, for the holder of the subscription's lease, and only while
	// its Until is still d.Until (else the delivery took in further
	// versions meanwhile and stays pending: ErrConflict, as when owner no
	// longer holds the lease). ErrNotFound if the delivery is gone.
	UpdateDelivery(ctx context.Context, owner string, d Delivery) error
	// AddDelivery stores a delivery outside the lease (a redelivery).
	// ErrNotFound if the subscription does not exist, ErrConflict if the
	// id is taken.
	AddDelivery(ctx context.Context, d Delivery) error
	// Delivery returns one delivery of a subscription. ErrNotFound if it
	// does not exist.
	Delivery(ctx context.Context, subscription, id string) (Delivery, error)
	// Deliveries returns the deliveries of a subscription, newest (by
	// Created, then ID) first, at most limit.
	Deliveries(ctx context.Context, subscription string, limit int) ([]Delivery, error)
	// PruneDeliveries removes the deliveries that are no longer pending and
	// were last updated before before, so that the history stays bounded;
	// it returns how many it removed.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}

// formatMicros writes t as decimal microseconds since the epoch.
func formatMicros(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}
