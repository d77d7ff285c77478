// Package webhooktest is the contract suite of webhook.Store: every
// backend runs RunTests against fresh instances of itself.
package webhooktest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/webhook"
)

// Backend opens the stores the suite runs on.
type Backend struct {
	// New returns a new, empty store, closed when the test ends.
	New func(t *testing.T) webhook.Store
	// Another returns a second handle on the database of s (a store New
	// returned), closed when the test ends.
	Another func(t *testing.T, s webhook.Store) webhook.Store
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// RunTests runs the contract suite, each test on a new store.
func RunTests(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, b Backend, s webhook.Store)
	}{
		{"Subscriptions", testSubscriptions},
		{"Leases", testLeases},
		{"EnqueueCoalesces", testEnqueueCoalesces},
		{"UpdateDelivery", testUpdateDelivery},
		{"DeliveriesListed", testDeliveriesListed},
		{"Prune", testPrune},
		{"AnotherHandle", testAnotherHandle},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b, b.New(t)) })
	}
}

func sub(id, org string) webhook.Subscription {
	return webhook.Subscription{ID: id, Organization: org, APIRoot: "api1", Collection: "coll-" + id,
		URL: "https://receiver.example/" + id, SealedSecret: []byte("sealed-" + id), CreatedBy: "user-1",
		Created: at(0), Cursor: at(0)}
}

func mustCreate(t *testing.T, s webhook.Store, subs ...webhook.Subscription) {
	t.Helper()
	for _, x := range subs {
		if err := s.CreateSubscription(context.Background(), x); err != nil {
			t.Fatalf("CreateSubscription(%s): %v", x.ID, err)
		}
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func subIDs(xs []webhook.Subscription) []string {
	return ids(xs, func(s webhook.Subscription) string { return s.ID })
}

func deliveryIDs(xs []webhook.Delivery) []string {
	return ids(xs, func(d webhook.Delivery) string { return d.ID })
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func testSubscriptions(t *testing.T, _ Backend, s webhook.Store) {
	ctx := context.Background()
	a, b, c := sub("s-a", "org-1"), sub("s-b", "org-2"), sub("s-c", "org-1")
	mustCreate(t, s, c, a, b)
	wantErr(t, "second create", s.CreateSubscription(ctx, a), collections.ErrConflict)

	got, err := s.Subscription(ctx, "s-a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("Subscription (-stored +read):\n%s", diff)
	}
	_, err = s.Subscription(ctx, "nope")
	wantErr(t, "missing subscription", err, collections.ErrNotFound)

	for org, want := range map[string][]string{"": {"s-a", "s-b", "s-c"}, "org-1": {"s-a", "s-c"}, "org-2": {"s-b"}, "org-3": {}} {
		l, err := s.Subscriptions(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, subIDs(l)); diff != "" {
			t.Errorf("Subscriptions(%q) (-want +got):\n%s", org, diff)
		}
	}

	// Deleting a subscription takes its deliveries.
	if err := s.AddDelivery(ctx, delivery("d-1", "s-a", 0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubscription(ctx, "s-a"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second delete", s.DeleteSubscription(ctx, "s-a"), collections.ErrNotFound)
	_, err = s.Delivery(ctx, "s-a", "d-1")
	wantErr(t, "delivery of a deleted subscription", err, collections.ErrNotFound)
	wantErr(t, "delivery to a deleted subscription", s.AddDelivery(ctx, delivery("d-2", "s-a", 0, 10)), collections.ErrNotFound)
}

func delivery(id, subID string, after, until int) webhook.Delivery {
	return webhook.Delivery{ID: id, Subscription: subID, After: at(after), Until: at(until),
		State: webhook.StatePending, NextAttempt: at(until), Created: at(until), Updated: at(until)}
}

// claim claims for owner at now, renewing every lease of owner.
func claim(t *testing.T, s webhook.Store, owner string, now time.Time) []string {
	t.Helper()
	return claimRenewing(t, s, owner, now, now.Add(time.Minute))
}

func claimRenewing(t *testing.T, s webhook.Store, owner string, now, renewBefore time.Time) []string {
	t.Helper()
	got, err := s.ClaimSubscriptions(context.Background(), owner, now, renewBefore, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatalf("ClaimSubscriptions(%s): %v", owner, err)
	}
	for _, x := range got {
		if x.LeaseOwner != owner || !x.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Errorf("claimed %s: lease %q until %v, want %q until %v", x.ID, x.LeaseOwner, x.LeaseUntil, owner, now.Add(time.Minute))
		}
	}
	return subIDs(got)
}

func testLeases(t *testing.T, _ Backend, s webhook.Store) {
	ctx := context.Background()
	mustCreate(t, s, sub("s-1", "o"), sub("s-2", "o"))
	if diff := cmp.Diff([]string{"s-1", "s-2"}, claim(t, s, "p1", at(0))); diff != "" {
		t.Fatalf("first claim (-want +got):\n%s", diff)
	}
	// Held: another process gets none; the holder renews.
	if diff := cmp.Diff([]string{}, claim(t, s, "p2", at(30))); diff != "" {
		t.Fatalf("claim of a held lease (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"s-1", "s-2"}, claim(t, s, "p1", at(30))); diff != "" {
		t.Fatalf("renewal (-want +got):\n%s", diff)
	}
	// A lease that ends after renewBefore is not renewed, nor returned.
	if diff := cmp.Diff([]string{}, claimRenewing(t, s, "p1", at(40), at(89))); diff != "" {
		t.Fatalf("claim renewing leases ending before 89 s (-want +got):\n%s", diff)
	}
	mustCreate(t, s, sub("s-3", "o"))
	// The renewed lease runs until 90 s; past it p2 takes p1's and renews
	// its own.
	if diff := cmp.Diff([]string{"s-3"}, claim(t, s, "p2", at(60))); diff != "" {
		t.Fatalf("claim before expiry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"s-1", "s-2", "s-3"}, claim(t, s, "p2", at(91))); diff != "" {
		t.Fatalf("claim after expiry (-want +got):\n%s", diff)
	}
	// The former holder may no longer write.
	_, err := s.Enqueue(ctx, "p1", delivery("d-1", "s-1", 0, 10))
	wantErr(t, "enqueue without the lease", err, collections.ErrConflict)
	// Released leases are free at once.
	if err := s.ReleaseSubscriptions(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s-1", "s-2", "s-3"}, claim(t, s, "p3", at(92))); diff != "" {
		t.Fatalf("claim after release (-want +got):\n%s", diff)
	}
	_, err = s.Enqueue(ctx, "p3", delivery("d-1", "nope", 0, 10))
	wantErr(t, "enqueue to a missing subscription", err, collections.ErrNotFound)
}

func testEnqueueCoalesces(t *testing.T, _ Backend, s webhook.Store) {
	ctx := context.Background()
	mustCreate(t, s, sub("s-1", "o"))
	claim(t, s, "p", at(0))
	enqueue := func(d webhook.Delivery) webhook.Delivery {
		t.Helper()
		got, err := s.Enqueue(ctx, "p", d)
		if err != nil {
			t.Fatalf("Enqueue(%s): %v", d.ID, err)
		}
		x, err := s.Subscription(ctx, "s-1")
		if err != nil {
			t.Fatal(err)
		}
		if !x.Cursor.Equal(d.Until) {
			t.Errorf("after Enqueue(%s): cursor %v, want %v", d.ID, x.Cursor, d.Until)
		}
		return got
	}
	first := enqueue(delivery("d-1", "s-1", 0, 10))
	if diff := cmp.Diff(delivery("d-1", "s-1", 0, 10), first); diff != "" {
		t.Errorf("first Enqueue (-want +got):\n%s", diff)
	}
	// Versions arriving while d-1 is pending extend it.
	second := enqueue(delivery("d-2", "s-1", 10, 20))
	want := delivery("d-1", "s-1", 0, 20)
	want.NextAttempt, want.Created, want.Updated = at(10), at(10), at(10)
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("coalesced Enqueue (-want +got):\n%s", diff)
	}
	got, err := s.Delivery(ctx, "s-1", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored coalesced delivery (-want +got):\n%s", diff)
	}
	// A redelivery never takes in new versions; a finished delivery
	// neither.
	if err := s.AddDelivery(ctx, webhook.Delivery{ID: "r-1", Subscription: "s-1", After: at(0), Until: at(5), Redelivery: "d-0",
		State: webhook.StatePending, NextAttempt: at(1), Created: at(30), Updated: at(30)}); err != nil {
		t.Fatal(err)
	}
	got.State, got.Attempts, got.Updated = webhook.StateDelivered, 1, at(31)
	if err := s.UpdateDelivery(ctx, "p", got); err != nil {
		t.Fatal(err)
	}
	third := enqueue(delivery("d-3", "s-1", 20, 40))
	if diff := cmp.Diff(delivery("d-3", "s-1", 20, 40), third); diff != "" {
		t.Errorf("Enqueue after delivery (-want +got):\n%s", diff)
	}
	due, err := s.DueDeliveries(ctx, "s-1", at(40), 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"r-1", "d-3"}, deliveryIDs(due)); diff != "" {
		t.Errorf("DueDeliveries (-want +got):\n%s", diff)
	}
	due, err = s.DueDeliveries(ctx, "s-1", at(39), 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"r-1"}, deliveryIDs(due)); diff != "" {
		t.Errorf("DueDeliveries before d-3 is due (-want +got):\n%s", diff)
	}
}

func testUpdateDelivery(t *testing.T, _ Backend, s webhook.Store) {
	ctx := context.Background()
	mustCreate(t, s, sub("s-1", "o"))
	claim(t, s, "p", at(0))
	d, err := s.Enqueue(ctx, "p", delivery("d-1", "s-1", 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	attempt := d
	attempt.Attempts, attempt.NextAttempt, attempt.Updated = 1, at(20), at(11)
	attempt.Count, attempt.LastStatus, attempt.LastError = 7, 503, "answered 503"
	if err := s.UpdateDelivery(ctx, "p", attempt); err != nil {
		t.Fatal(err)
	}
	got, err := s.Delivery(ctx, "s-1", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(attempt, got); diff != "" {
		t.Errorf("after UpdateDelivery (-want +got):\n%s", diff)
	}
	// The delivery took in further versions while being sent: the
	// outcome of the old range is not recorded.
	if _, err := s.Enqueue(ctx, "p", delivery("d-2", "s-1", 10, 15)); err != nil {
		t.Fatal(err)
	}
	stale := attempt
	stale.State = webhook.StateDelivered
	wantErr(t, "update of an extended delivery", s.UpdateDelivery(ctx, "p", stale), collections.ErrConflict)
	stale.Until = at(15)
	wantErr(t, "update without the lease", s.UpdateDelivery(ctx, "q", stale), collections.ErrConflict)
	stale.ID = "nope"
	wantErr(t, "update of a missing delivery", s.UpdateDelivery(ctx, "p", stale), collections.ErrNotFound)
	got, err = s.Delivery(ctx, "s-1", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != webhook.StatePending || !got.Until.Equal(at(15)) {
		t.Errorf("d-1 is %s until %v, want pending until %v", got.State, got.Until, at(15))
	}
}

func testDeliveriesListed(t *testing.T, _ Backend, s webhook.Store) {
	ctx := context.Background()
	mustCreate(t, s, sub("s-1", "o"), sub("s-2", "o"))
	for i := range 5 {
		if err := s.AddDelivery(ctx, delivery(fmt.Sprintf("d-%d", i), "s-1", i, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddDelivery(ctx, delivery("x", "s-2", 0, 1)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second add", s.AddDelivery(ctx, delivery("d-0", "s-1", 0, 1)), collections.ErrConflict)
	got, err := s.Deliveries(ctx, "s-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"d-4", "d-3", "d-2"}, deliveryIDs(got)); diff != "" {
		t.Errorf("Deliveries (-want +got):\n%s", diff)
	}
	_, err = s.Delivery(ctx, "s-2", "d-1")
	wantErr(t, "delivery of another subscription", err, collections.ErrNotFound)
}

func testPrune(t *testing.T, _ Backend, s webhook.Store) {
	ctx := context.Background()
	mustCreate(t, s, sub("s-1", "o"))
	for i, state := range []string{webhook.StateDelivered, webhook.StateFailed, webhook.StateSkipped, webhook.StatePending, webhook.StateDelivered} {
		d := delivery(fmt.Sprintf("d-%d", i), "s-1", i, i+1)
		d.State = state
		if i == 4 {
			d.Updated = at(100)
		}
		if err := s.AddDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneDeliveries(ctx, at(50))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("PruneDeliveries removed %d, want 3", n)
	}
	got, err := s.Deliveries(ctx, "s-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"d-4", "d-3"}, deliveryIDs(got)); diff != "" {
		t.Errorf("after PruneDeliveries (-want +got):\n%s", diff)
	}
}

// testAnotherHandle: what one handle wrote, another on the same database
// reads, and leases exclude between handles.
func testAnotherHandle(t *testing.T, b Backend, s webhook.Store) {
	ctx := context.Background()
	mustCreate(t, s, sub("s-1", "o"))
	claim(t, s, "p1", at(0))
	if _, err := s.Enqueue(ctx, "p1", delivery("d-1", "s-1", 0, 10)); err != nil {
		t.Fatal(err)
	}
	o := b.Another(t, s)
	if diff := cmp.Diff([]string{}, claim(t, o, "p2", at(1))); diff != "" {
		t.Fatalf("claim through another handle (-want +got):\n%s", diff)
	}
	due, err := o.DueDeliveries(ctx, "s-1", at(10), 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]webhook.Delivery{delivery("d-1", "s-1", 0, 10)}, due); diff != "" {
		t.Errorf("DueDeliveries through another handle (-want +got):\n%s", diff)
	}
}
