package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/authz"
)

// auditDoc is an event in the audit_events collection. Every filter field
// is present ("" when empty), so that the indexes that lead with them hold
// every event.
type auditDoc struct {
	ID             string    `bson:"_id"`
	Time           time.Time `bson:"time"`
	UserID         string    `bson:"user_id"`
	UserName       string    `bson:"user_name"`
	OrganizationID string    `bson:"organization_id"`
	SourceAddress  string    `bson:"source_address"`
	RequestID      string    `bson:"request_id"`
	Action         string    `bson:"action"`
	APIRoot        string    `bson:"api_root"`
	Collection     string    `bson:"collection"`
	// Details is the JSON text as binary: BSON strings must be UTF-8,
	// which valid JSON need not be.
	Details []byte `bson:"details,omitempty"`
}

func (d auditDoc) event() authz.AuditEvent {
	e := authz.AuditEvent{ID: d.ID, Time: d.Time.UTC(), UserID: d.UserID, UserName: d.UserName,
		OrganizationID: d.OrganizationID, SourceAddress: d.SourceAddress, RequestID: d.RequestID,
		Action: d.Action, APIRoot: d.APIRoot, Collection: d.Collection}
	if len(d.Details) > 0 {
		e.Details = json.RawMessage(d.Details)
	}
	return e
}

// AppendAudit implements authz.Store. The batch is one unordered insert;
// events whose id is stored already are refused by the _id index and
// skipped. Without transactions a batch that fails part-way may be stored
// in part; the caller retries it (authz.AuditLog does), which stores the
// rest and nothing twice.
func (s *Store) AppendAudit(ctx context.Context, events []authz.AuditEvent) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	docs := make([]any, 0, len(events))
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("audit event %d: %w", i, err)
		}
		docs = append(docs, auditDoc{ID: e.ID, Time: truncMillis(e.Time), UserID: e.UserID, UserName: e.UserName,
			OrganizationID: e.OrganizationID, SourceAddress: e.SourceAddress, RequestID: e.RequestID,
			Action: e.Action, APIRoot: e.APIRoot, Collection: e.Collection, Details: e.Details})
	}
	if len(docs) == 0 {
		return nil
	}
	_, err := s.db.Collection(collAudit).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil && !onlyDuplicates(err) {
		return storeErr("append audit events", err)
	}
	return nil
}

// onlyDuplicates reports whether every write error of err is a duplicate
// key: each other event of the batch was stored.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// AuditEvents implements authz.Store.
func (s *Store) AuditEvents(ctx context.Context, f authz.AuditFilter) ([]authz.AuditEvent, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	limit, err := authz.CheckLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return listAuthz(ctx, s, auditListing(f), limit, auditDoc.event)
}

// auditListing is the page of events f selects: the equality on the first
// field f sets (in the order of the indexes below), then the range on time,
// is one range of the index that leads with that field, walked backwards;
// other fields filter what it reads.
func auditListing(f authz.AuditFilter) listing {
	l := listing{coll: collAudit, filter: bson.D{}, // a nil bson.D does not marshal
		sort: bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}}
	for _, c := range []struct{ field, v, index string }{
		{"user_id", f.UserID, "audit_user"}, {"organization_id", f.OrganizationID, "audit_organization"},
		{"api_root", f.APIRoot, "audit_collection"}, {"collection", f.Collection, "audit_collection"},
		{"action", f.Action, "audit_action"},
	} {
		if c.v != "" {
			l.filter = append(l.filter, bson.E{Key: c.field, Value: c.v})
			if l.index == "" {
				l.index = c.index
			}
		}
	}
	if l.index == "" {
		l.index = "audit_time"
	}
	var times bson.D
	if !f.Since.IsZero() {
		times = append(times, bson.E{Key: "$gte", Value: truncMillis(f.Since)})
	}
	if !f.Until.IsZero() {
		times = append(times, bson.E{Key: "$lt", Value: truncMillis(f.Until)})
	}
	if !f.After.IsZero() {
		// (time, _id) < (after.Time, after.ID): the range time <= after.Time
		// bounds the index walk; the $or of two branches drops the events
		// of that very millisecond at or above the cursor's id.
		at := truncMillis(f.After.Time)
		times = append(times, bson.E{Key: "$lte", Value: at})
		l.filter = append(l.filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: f.After.ID}}}},
		}})
	}
	if len(times) > 0 {
		l.filter = append(l.filter, bson.E{Key: "time", Value: times})
	}
	return l
}

// purgeBatch bounds the events one PurgeAudit step removes, and so the
// length of its $in list.
const purgeBatch = 1000

// PurgeAudit implements authz.Store, in steps of purgeBatch events, the
// oldest first; each step has its own deadline, the whole purge ctx's.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	old := bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: truncMillis(before)}}}}
	var total int64
	for {
		found, n, err := s.purgeStep(ctx, old)
		total += n
		if err != nil || found < purgeBatch {
			return total, err
		}
	}
}

// purgeStep removes up to purgeBatch of the oldest events old selects, and
// returns how many it found and how many it removed (fewer when another
// process purges too).
func (s *Store) purgeStep(ctx context.Context, old bson.D) (found int, removed int64, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	audit := s.db.Collection(collAudit)
	cur, err := audit.Find(ctx, old, options.Find().SetSort(bson.D{{Key: "time", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(purgeBatch).SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, 0, storeErr("purge audit events", err)
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return 0, 0, storeErr("purge audit events", err)
	}
	if len(ids) == 0 {
		return 0, 0, nil
	}
	in := make(bson.A, len(ids))
	for i, d := range ids {
		in[i] = d.ID
	}
	res, err := audit.DeleteMany(ctx, append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}}, old...))
	if err != nil {
		return len(ids), 0, storeErr("purge audit events", err)
	}
	return len(ids), res.DeletedCount, nil
}
