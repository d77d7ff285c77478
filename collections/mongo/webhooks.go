package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/webhook"
)

var _ webhook.Store = (*Store)(nil)

// Collections of webhook subscriptions (one document each, subDoc) and
// their deliveries (delivDoc).
const (
	collWebhookSubs       = "webhook_subscriptions"
	collWebhookDeliveries = "webhook_deliveries"
)

var webhookIndexes = []index{
	// Subscriptions: of one organization by _id (Subscriptions(org)).
	// Claims read every subscription ({$or of lease states}, sort _id): a
	// worker claims at most a batch, and there are few subscriptions.
	{coll: collWebhookSubs, name: "org_id", keys: bson.D{{Key: "org", Value: 1}, {Key: "_id", Value: 1}}},
	// Deliveries: due ones of a subscription and its pending one
	// ({s, state, next} sorted by next).
	{coll: collWebhookDeliveries, name: "s_state_next", keys: bson.D{{Key: "s", Value: 1}, {Key: "state", Value: 1}, {Key: "next", Value: 1}}},
	// Newest first of a subscription ({s} sorted by created, id
	// descending).
	{coll: collWebhookDeliveries, name: "s_created_id", keys: bson.D{{Key: "s", Value: 1}, {Key: "created", Value: 1}, {Key: "id", Value: 1}}},
	// Finished ones to prune ({state $in, updated < t}).
	{coll: collWebhookDeliveries, name: "state_updated", keys: bson.D{{Key: "state", Value: 1}, {Key: "updated", Value: 1}}},
}

// subDoc is a webhook.Subscription; times in µs.
type subDoc struct {
	ID         string `bson:"_id"`
	Org        string `bson:"org"`
	Root       string `bson:"root"`
	Coll       string `bson:"coll"`
	URL        string `bson:"url"`
	Secret     []byte `bson:"secret"`
	By         string `bson:"by"`
	Created    int64  `bson:"created"`
	Cursor     int64  `bson:"cursor"`
	LeaseOwner string `bson:"lease_owner"`
	LeaseUntil int64  `bson:"lease_until"`
}

func toSubDoc(s webhook.Subscription) subDoc {
	return subDoc{ID: s.ID, Org: s.Organization, Root: s.APIRoot, Coll: s.Collection, URL: s.URL,
		Secret: s.SealedSecret, By: s.CreatedBy, Created: microsOrZero(s.Created), Cursor: microsOrZero(s.Cursor),
		LeaseOwner: s.LeaseOwner, LeaseUntil: microsOrZero(s.LeaseUntil)}
}

func (d subDoc) subscription() webhook.Subscription {
	return webhook.Subscription{ID: d.ID, Organization: d.Org, APIRoot: d.Root, Collection: d.Coll, URL: d.URL,
		SealedSecret: d.Secret, CreatedBy: d.By, Created: fromMicrosOrZero(d.Created), Cursor: fromMicrosOrZero(d.Cursor),
		LeaseOwner: d.LeaseOwner, LeaseUntil: fromMicrosOrZero(d.LeaseUntil)}
}

// delivDoc is a webhook.Delivery; _id is subscription + "\x00" + id.
type delivDoc struct {
	Key        string `bson:"_id"`
	Sub        string `bson:"s"`
	ID         string `bson:"id"`
	After      int64  `bson:"after"`
	Until      int64  `bson:"until"`
	Redelivery string `bson:"redelivery"`
	State      string `bson:"state"`
	Attempts   int    `bson:"attempts"`
	Next       int64  `bson:"next"`
	Created    int64  `bson:"created"`
	Updated    int64  `bson:"updated"`
	Count      int    `bson:"count"`
	Status     int    `bson:"status"`
	Error      string `bson:"error"`
}

func deliveryKey(sub, id string) string { return sub + "\x00" + id }

func toDelivDoc(d webhook.Delivery) delivDoc {
	return delivDoc{Key: deliveryKey(d.Subscription, d.ID), Sub: d.Subscription, ID: d.ID,
		After: microsOrZero(d.After), Until: microsOrZero(d.Until), Redelivery: d.Redelivery, State: d.State,
		Attempts: d.Attempts, Next: microsOrZero(d.NextAttempt), Created: microsOrZero(d.Created), Updated: microsOrZero(d.Updated),
		Count: d.Count, Status: d.LastStatus, Error: d.LastError}
}

func (d delivDoc) delivery() webhook.Delivery {
	return webhook.Delivery{ID: d.ID, Subscription: d.Sub, After: fromMicrosOrZero(d.After), Until: fromMicrosOrZero(d.Until),
		Redelivery: d.Redelivery, State: d.State, Attempts: d.Attempts, NextAttempt: fromMicrosOrZero(d.Next),
		Created: fromMicrosOrZero(d.Created), Updated: fromMicrosOrZero(d.Updated), Count: d.Count, LastStatus: d.Status, LastError: d.Error}
}

// CreateSubscription implements webhook.Store.
func (s *Store) CreateSubscription(ctx context.Context, sub webhook.Subscription) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.db.Collection(collWebhookSubs).InsertOne(ctx, toSubDoc(sub))
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("%w: subscription %s exists", collections.ErrConflict, sub.ID)
	}
	return storeErr("create subscription", err)
}

// Subscription implements webhook.Store.
func (s *Store) Subscription(ctx context.Context, id string) (webhook.Subscription, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d subDoc
	err := s.db.Collection(collWebhookSubs).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return webhook.Subscription{}, fmt.Errorf("%w: subscription %s", collections.ErrNotFound, id)
	}
	if err != nil {
		return webhook.Subscription{}, storeErr("get subscription", err)
	}
	return d.subscription(), nil
}

// Subscriptions implements webhook.Store.
func (s *Store) Subscriptions(ctx context.Context, organization string) ([]webhook.Subscription, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	filter := bson.D{}
	if organization != "" {
		filter = bson.D{{Key: "org", Value: organization}}
	}
	return s.findSubscriptions(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
}

func (s *Store) findSubscriptions(ctx context.Context, filter bson.D, o *options.FindOptionsBuilder) ([]webhook.Subscription, error) {
	cur, err := s.db.Collection(collWebhookSubs).Find(ctx, filter, o)
	if err != nil {
		return nil, storeErr("list subscriptions", err)
	}
	var docs []subDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("list subscriptions", err)
	}
	subs := make([]webhook.Subscription, 0, len(docs))
	for _, d := range docs {
		subs = append(subs, d.subscription())
	}
	return subs, nil
}

// DeleteSubscription implements webhook.Store. The subscription goes
// first, so that no worker serves it any more; its deliveries follow (a
// crash in between leaves deliveries no worker sends, which a second
// delete does not reach: they are of no subscription).
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.db.Collection(collWebhookSubs).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return storeErr("delete subscription", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%w: subscription %s", collections.ErrNotFound, id)
	}
	_, err = s.db.Collection(collWebhookDeliveries).DeleteMany(ctx, bson.D{{Key: "s", Value: id}})
	return storeErr("delete deliveries", err)
}

// claimable selects the subscriptions owner may lease at now, renewing
// its own that end before renewBefore.
func claimable(owner string, now, renewBefore int64) bson.A {
	return bson.A{
		bson.D{{Key: "lease_owner", Value: ""}},
		bson.D{{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}}},
		bson.D{{Key: "lease_owner", Value: owner}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: renewBefore}}}},
	}
}

// ClaimSubscriptions implements webhook.Store: candidates are read, then
// each is taken with a conditional update, so that of several claimers
// one wins each.
func (s *Store) ClaimSubscriptions(ctx context.Context, owner string, now, renewBefore, until time.Time, limit int) ([]webhook.Subscription, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	filter := bson.D{{Key: "$or", Value: claimable(owner, microsOrZero(now), microsOrZero(renewBefore))}}
	cur, err := s.db.Collection(collWebhookSubs).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)).
			SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, storeErr("claim subscriptions", err)
	}
	var cands []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &cands); err != nil {
		return nil, storeErr("claim subscriptions", err)
	}
	subs := []webhook.Subscription{}
	for _, c := range cands {
		var d subDoc
		err := s.db.Collection(collWebhookSubs).FindOneAndUpdate(ctx,
			append(bson.D{{Key: "_id", Value: c.ID}}, filter...),
			bson.D{{Key: "$set", Value: bson.D{{Key: "lease_owner", Value: owner}, {Key: "lease_until", Value: microsOrZero(until)}}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue // another claimer won it, or it was deleted
		}
		if err != nil {
			return nil, storeErr("claim subscription", err)
		}
		subs = append(subs, d.subscription())
	}
	return subs, nil
}

// ReleaseSubscriptions implements webhook.Store.
func (s *Store) ReleaseSubscriptions(ctx context.Context, owner string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.db.Collection(collWebhookSubs).UpdateMany(ctx, bson.D{{Key: "lease_owner", Value: owner}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lease_owner", Value: ""}, {Key: "lease_until", Value: int64(0)}}}})
	return storeErr("release subscriptions", err)
}

// holds checks that owner holds the lease of the subscription.
func (s *Store) holds(ctx context.Context, owner, id string) error {
	var d struct {
		LeaseOwner string `bson:"lease_owner"`
	}
	err := s.db.Collection(collWebhookSubs).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "lease_owner", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%w: subscription %s", collections.ErrNotFound, id)
	}
	if err != nil {
		return storeErr("read lease", err)
	}
	if d.LeaseOwner != owner {
		return fmt.Errorf("%w: the lease of subscription %s is %q's", collections.ErrConflict, id, d.LeaseOwner)
	}
	return nil
}

// Enqueue implements webhook.Store. Without transactions the delivery is
// written before the cursor moves: a crash in between makes the next
// holder find the same versions again and extend the same pending
// delivery, which covers a range, so nothing is announced twice or lost.
func (s *Store) Enqueue(ctx context.Context, owner string, d webhook.Delivery) (webhook.Delivery, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.holds(ctx, owner, d.Subscription); err != nil {
		return d, err
	}
	dels := s.db.Collection(collWebhookDeliveries)
	var open delivDoc
	err := dels.FindOne(ctx, bson.D{{Key: "s", Value: d.Subscription}, {Key: "state", Value: webhook.StatePending}, {Key: "redelivery", Value: ""}},
		options.FindOne().SetSort(bson.D{{Key: "next", Value: 1}})).Decode(&open)
	extended := false
	switch {
	case err == nil:
		res, err := dels.UpdateOne(ctx, bson.D{{Key: "_id", Value: open.Key}, {Key: "state", Value: webhook.StatePending}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "until", Value: microsOrZero(d.Until)}}}})
		if err != nil {
			return d, storeErr("extend delivery", err)
		}
		if res.MatchedCount == 1 {
			open.Until = microsOrZero(d.Until)
			d, extended = open.delivery(), true
		}
	case !errors.Is(err, mongo.ErrNoDocuments):
		return d, storeErr("pending delivery", err)
	}
	if !extended {
		if _, err := dels.InsertOne(ctx, toDelivDoc(d)); err != nil {
			return d, storeErr("add delivery", err)
		}
	}
	res, err := s.db.Collection(collWebhookSubs).UpdateOne(ctx, bson.D{{Key: "_id", Value: d.Subscription}, {Key: "lease_owner", Value: owner}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "cursor", Value: microsOrZero(d.Until)}}}})
	if err != nil {
		return d, storeErr("advance cursor", err)
	}
	if res.MatchedCount == 0 {
		return d, fmt.Errorf("%w: lost the lease of subscription %s", collections.ErrConflict, d.Subscription)
	}
	return d, nil
}

func (s *Store) findDeliveries(ctx context.Context, filter bson.D, o *options.FindOptionsBuilder) ([]webhook.Delivery, error) {
	cur, err := s.db.Collection(collWebhookDeliveries).Find(ctx, filter, o)
	if err != nil {
		return nil, storeErr("list deliveries", err)
	}
	var docs []delivDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("list deliveries", err)
	}
	ds := make([]webhook.Delivery, 0, len(docs))
	for _, d := range docs {
		ds = append(ds, d.delivery())
	}
	return ds, nil
}

// DueDeliveries implements webhook.Store.
func (s *Store) DueDeliveries(ctx context.Context, subscription string, now time.Time, limit int) ([]webhook.Delivery, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.findDeliveries(ctx,
		bson.D{{Key: "s", Value: subscription}, {Key: "state", Value: webhook.StatePending}, {Key: "next", Value: bson.D{{Key: "$lte", Value: microsOrZero(now)}}}},
		options.Find().SetSort(bson.D{{Key: "next", Value: 1}, {Key: "id", Value: 1}}).SetLimit(int64(limit)))
}

// UpdateDelivery implements webhook.Store.
func (s *Store) UpdateDelivery(ctx context.Context, owner string, d webhook.Delivery) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.holds(ctx, owner, d.Subscription); err != nil {
		return err
	}
	dels := s.db.Collection(collWebhookDeliveries)
	key := deliveryKey(d.Subscription, d.ID)
	res, err := dels.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "until", Value: microsOrZero(d.Until)}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: d.State}, {Key: "attempts", Value: d.Attempts}, {Key: "next", Value: microsOrZero(d.NextAttempt)},
			{Key: "updated", Value: microsOrZero(d.Updated)}, {Key: "count", Value: d.Count},
			{Key: "status", Value: d.LastStatus}, {Key: "error", Value: d.LastError},
		}}})
	if err != nil {
		return storeErr("update delivery", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	n, err := dels.CountDocuments(ctx, bson.D{{Key: "_id", Value: key}})
	if err != nil {
		return storeErr("read delivery", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: delivery %s", collections.ErrNotFound, d.ID)
	}
	return fmt.Errorf("%w: delivery %s took in further versions", collections.ErrConflict, d.ID)
}

// AddDelivery implements webhook.Store.
func (s *Store) AddDelivery(ctx context.Context, d webhook.Delivery) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	n, err := s.db.Collection(collWebhookSubs).CountDocuments(ctx, bson.D{{Key: "_id", Value: d.Subscription}})
	if err != nil {
		return storeErr("read subscription", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: subscription %s", collections.ErrNotFound, d.Subscription)
	}
	_, err = s.db.Collection(collWebhookDeliveries).InsertOne(ctx, toDelivDoc(d))
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("%w: delivery %s exists", collections.ErrConflict, d.ID)
	}
	return storeErr("add delivery", err)
}

// Delivery implements webhook.Store.
func (s *Store) Delivery(ctx context.Context, subscription, id string) (webhook.Delivery, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d delivDoc
	err := s.db.Collection(collWebhookDeliveries).FindOne(ctx, bson.D{{Key: "_id", Value: deliveryKey(subscription, id)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return webhook.Delivery{}, fmt.Errorf("%w: delivery %s", collections.ErrNotFound, id)
	}
	if err != nil {
		return webhook.Delivery{}, storeErr("get delivery", err)
	}
	return d.delivery(), nil
}

// Deliveries implements webhook.Store.
func (s *Store) Deliveries(ctx context.Context, subscription string, limit int) ([]webhook.Delivery, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.findDeliveries(ctx, bson.D{{Key: "s", Value: subscription}},
		options.Find().SetSort(bson.D{{Key: "created", Value: -1}, {Key: "id", Value: -1}}).SetLimit(int64(limit)))
}

// PruneDeliveries implements webhook.Store.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.db.Collection(collWebhookDeliveries).DeleteMany(ctx, bson.D{
		{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{webhook.StateDelivered, webhook.StateFailed, webhook.StateSkipped}}}},
		{Key: "updated", Value: bson.D{{Key: "$lt", Value: microsOrZero(before)}}},
	})
	if err != nil {
		return 0, storeErr("prune deliveries", err)
	}
	return int(res.DeletedCount), nil
}
