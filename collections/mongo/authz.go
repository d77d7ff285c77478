package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/authz"
)

// Principals, grants and the policy generation (authz.Store).
//
// Organizations, users, tokens and grants are one document each, in the
// collections named in mongo.go; the audit log is in authz_audit.go. Every
// unique name is a unique index on fields every document has (an absent
// part is stored as ""), so that the server refuses a duplicate even when
// two processes create one at the same moment.
//
// None of this needs multi-document transactions. A method is a sequence
// of single-document writes, ordered so that of two racing methods at
// least one sees the other's write (the store reads and writes with
// majority concerns on the primary, so a write that returned is seen by
// every later read):
//   - A record that refers to another (a user to its organization, a token
//     to its user, a grant to its subject) is inserted first; then the
//     record it refers to is read again, and when it is gone (or, for an
//     organization, being deleted) the insert is undone and the call fails
//     as if it had found it missing.
//   - A delete removes the record referred to first, then what refers to
//     it (DeleteUser: the user, then its tokens, grants and bindings;
//     DeleteOrganization: the organization, then its grants), so a racing
//     insert is either removed by the delete or undone by its own check.
//   - DeleteOrganization must refuse while users belong to the
//     organization, so it cannot remove it first: it marks it deleting,
//     checks for users, and only then removes it; a user created or moved
//     into it meanwhile is undone by its own check, which sees the mark.
//
// What remains without transactions, and its bounds:
//   - A process that dies in the middle of a delete leaves part of it
//     done: the user or organization is gone but some of its tokens or
//     grants remain. They give nothing to anyone (authentication loads the
//     token's user; no principal has a deleted id), and deleting the
//     missing user or organization again removes them (still ErrNotFound).
//   - A process that dies while an organization is marked deleting leaves
//     the mark, which refuses new users of that organization until its
//     deadline, 2*opTimeout+pendingMargin after the call began at most.
//   - Two racing calls may both fail where one transaction would have let
//     one succeed (a user created in an organization being deleted, and
//     that delete); a retry succeeds.
//   - A reader may see a record that a racing call then undoes, for the
//     few milliseconds between the insert and the undo.
//   - A store-wide listing is not a snapshot: a page read while another
//     process writes shows each record as it was when the page was read.
//
// The generation: see markChange.

// authzIndexes serve the queries of authz*.go. Names are part of the
// schema: never rename one.
var authzIndexes = []index{
	// Organization names are unique. Serves OrganizationByName and
	// Organizations (name > After, sorted by name).
	{coll: collOrgs, name: "organizations_name", keys: bson.D{{Key: "name", Value: 1}}, unique: true},

	// User names are unique. Serves UserByName and Users of every
	// organization (name > After, sorted by name).
	{coll: collUsers, name: "users_name", keys: bson.D{{Key: "name", Value: 1}}, unique: true},
	// Serves Users of one organization (organization_id =, name > After,
	// sorted by name) and DeleteOrganization's check for users.
	{coll: collUsers, name: "users_organization_name", keys: bson.D{{Key: "organization_id", Value: 1}, {Key: "name", Value: 1}}},

	// Token hashes are unique. Serves TokenByHash (every authentication by
	// token).
	{coll: collTokens, name: "tokens_hash", keys: bson.D{{Key: "hash", Value: 1}}, unique: true},
	// A user's token names are unique. Serves DeleteUser's removal of the
	// user's tokens (user_id =) and CreateToken's check for them.
	{coll: collTokens, name: "tokens_user_name", keys: bson.D{{Key: "user_id", Value: 1}, {Key: "name", Value: 1}}, unique: true},
	// Serves Tokens of one user (user_id =, _id > After, sorted by _id).
	// Tokens of every user are served by the _id index.
	{coll: collTokens, name: "tokens_user_id", keys: bson.D{{Key: "user_id", Value: 1}, {Key: "_id", Value: 1}}},

	// A subject holds one grant per collection and action. Serves the
	// removal of a deleted subject's grants (subject_kind =, subject_id =).
	{coll: collGrants, name: "grants_key", unique: true, keys: bson.D{
		{Key: "subject_kind", Value: 1}, {Key: "subject_id", Value: 1},
		{Key: "api_root", Value: 1}, {Key: "collection", Value: 1}, {Key: "action", Value: 1}}},
	// Serves Grants of a subject (subject_kind =, subject_id =, _id >
	// After, sorted by _id; other fields filtered).
	{coll: collGrants, name: "grants_subject_id", keys: bson.D{
		{Key: "subject_kind", Value: 1}, {Key: "subject_id", Value: 1}, {Key: "_id", Value: 1}}},
	// Serves Grants of a collection (api_root =, collection =, _id >
	// After, sorted by _id), which the authorizer and the collection
	// admin pages read. Grants of an API root alone use its prefix and
	// sort the root's grants. Grants without a subject or API root are
	// served by the _id index.
	{coll: collGrants, name: "grants_collection_id", keys: bson.D{
		{Key: "api_root", Value: 1}, {Key: "collection", Value: 1}, {Key: "_id", Value: 1}}},

	// Audit events: each filter field leads an index ending in (time, _id),
	// so that a page of AuditEvents (newest first) is one index range
	// walked backwards, without a sort.
	// Serves AuditEvents without a field filter, Since/Until, the cursor;
	// and PurgeAudit (time < before, oldest first).
	{coll: collAudit, name: "audit_time", keys: bson.D{{Key: "time", Value: 1}, {Key: "_id", Value: 1}}},
	// Serves AuditEvents of a user.
	{coll: collAudit, name: "audit_user", keys: bson.D{
		{Key: "user_id", Value: 1}, {Key: "time", Value: 1}, {Key: "_id", Value: 1}}},
	// Serves AuditEvents of an organization.
	{coll: collAudit, name: "audit_organization", keys: bson.D{
		{Key: "organization_id", Value: 1}, {Key: "time", Value: 1}, {Key: "_id", Value: 1}}},
	// Serves AuditEvents of an action.
	{coll: collAudit, name: "audit_action", keys: bson.D{
		{Key: "action", Value: 1}, {Key: "time", Value: 1}, {Key: "_id", Value: 1}}},
	// Serves AuditEvents of a collection.
	{coll: collAudit, name: "audit_collection", keys: bson.D{
		{Key: "api_root", Value: 1}, {Key: "collection", Value: 1}, {Key: "time", Value: 1}, {Key: "_id", Value: 1}}},
}

// authzNow is the store's clock for CreatedAt and UpdatedAt, at authz
// precision (BSON dates hold milliseconds).
func authzNow() time.Time { return time.UnixMilli(time.Now().UnixMilli()).UTC() }

// truncMillis is t at authz precision, in UTC; zero stays zero.
func truncMillis(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// idFilter selects the document with the _id.
func idFilter(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// findAuthz decodes the document filter selects into v; ErrNotFound
// (naming what) when there is none.
func (s *Store) findAuthz(ctx context.Context, coll string, filter bson.D, what string, v any) error {
	err := s.db.Collection(coll).FindOne(ctx, filter).Decode(v)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%s: %w", what, authz.ErrNotFound)
	}
	return storeErr("read "+coll, err)
}

// isNoDocuments reports whether err says a FindOne found nothing.
func isNoDocuments(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }

// exists reports whether filter selects a document of coll.
func (s *Store) exists(ctx context.Context, coll string, filter bson.D) (bool, error) {
	err := s.db.Collection(coll).FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, storeErr("read "+coll, err)
	}
	return true, nil
}

// listing is the query of one page of a list method. It names the index
// that serves its filter and sort, and hints it, so that a page is a range
// of that index whatever the planner would guess from the data.
type listing struct {
	coll   string
	filter bson.D
	sort   bson.D
	index  string
}

// idIndex is the name of every collection's _id index.
const idIndex = "_id_"

// listAuthz reads a page of l, at most limit documents, each converted to
// its authz record; nil when there are none.
func listAuthz[D, T any](ctx context.Context, s *Store, l listing, limit int, conv func(D) T) ([]T, error) {
	c := s.db.Collection(l.coll)
	cur, err := c.Find(ctx, l.filter, options.Find().SetSort(l.sort).SetLimit(int64(limit)).SetHint(l.index))
	if err != nil {
		return nil, storeErr("list "+l.coll, err)
	}
	var docs []D
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("list "+l.coll, err)
	}
	var out []T
	for _, d := range docs {
		out = append(out, conv(d))
	}
	return out, nil
}

// duplicateKey reports whether err is a write refused by a unique index.
// FerretDB v1 reports an update that collides as an internal error naming
// SQLite's constraint rather than as E11000, so that form counts too.
func duplicateKey(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var se mongo.ServerError
	return errors.As(err, &se) && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// The policy generation is the value of one meta document. A change is
// published by incrementing it after the change's writes returned (they
// are durable then), so that a process that reads the new generation and
// then the records sees the change.
//
// A process may die between a change and its increment. So that its change
// is still published, every change first records in the same document a
// deadline by which it will have finished (markChange: pending is the
// latest deadline of all changes in progress). Generation increments on
// their behalf once the latest deadline has passed: by then every change
// that marked it has either published itself or can no longer write (each
// runs under its context's deadline, which the server enforces too, and
// pendingMargin allows for clocks a few seconds apart). A dead process's
// change is thus published at most 2*opTimeout+pendingMargin after it began,
// at the cost of one more increment after each burst of changes.
const (
	generationDoc = "authz_generation"
	pendingMargin = 10 * time.Second
)

// generationState is the generation document.
type generationState struct {
	Value   int64     `bson:"value"`
	Pending time.Time `bson:"pending,omitempty"`
}

// markChange records, before the first write of a change to principals or
// grants, the deadline by which ctx's call will have published it.
func (s *Store) markChange(ctx context.Context) error {
	update := bson.D{{Key: "$max", Value: bson.D{{Key: "pending", Value: s.writesEnd(ctx)}}}}
	return storeErr("mark policy change", s.upsertGeneration(ctx, update))
}

// writesEnd is a time after which a call running under ctx (an opCtx)
// writes nothing more, even as seen by a process whose clock is up to
// pendingMargin ahead: ctx's deadline, then the opTimeout an undo of its
// writes may take (undoCtx).
func (s *Store) writesEnd(ctx context.Context) time.Time {
	end := time.Now().Add(s.opTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	return end.Add(s.opTimeout + pendingMargin)
}

// undoCtx bounds the undoing of a write that ctx's call made and must not
// leave behind: it runs even when ctx has ended.
func (s *Store) undoCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return s.opCtx(context.WithoutCancel(ctx))
}

// publishChange increments the generation after the writes of a change
// returned. It runs even when ctx ended meanwhile; when it fails, the
// change's mark has it published later (see markChange), so the change,
// which is durable, is not reported as failed.
func (s *Store) publishChange(ctx context.Context) {
	ctx, cancel := s.undoCtx(ctx)
	defer cancel()
	_ = s.upsertGeneration(ctx, bson.D{{Key: "$inc", Value: bson.D{{Key: "value", Value: int64(1)}}}})
}

// upsertGeneration applies update to the generation document, creating it
// in a new database.
func (s *Store) upsertGeneration(ctx context.Context, update bson.D) error {
	meta := s.db.Collection(collMeta)
	_, err := meta.UpdateOne(ctx, idFilter(generationDoc), update, options.UpdateOne().SetUpsert(true))
	if duplicateKey(err) { // another process's upsert created it first
		_, err = meta.UpdateOne(ctx, idFilter(generationDoc), update)
	}
	return err
}

// Generation implements authz.Store. It also publishes the changes of
// processes that died before publishing theirs (see markChange).
func (s *Store) Generation(ctx context.Context) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	meta := s.db.Collection(collMeta)
	var g generationState
	err := meta.FindOne(ctx, idFilter(generationDoc)).Decode(&g)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil // nothing changed yet
	}
	if err != nil {
		return 0, storeErr("read policy generation", err)
	}
	if g.Pending.IsZero() || time.Now().Before(g.Pending) {
		return g.Value, nil
	}
	// Every change marked up to g.Pending is over: publish them all once.
	// The filter on Pending makes this a no-op when a new change raised
	// it meanwhile (that change's deadline covers the older ones).
	filter := bson.D{{Key: "_id", Value: generationDoc}, {Key: "pending", Value: g.Pending}}
	update := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "value", Value: int64(1)}}},
		{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}}},
	}
	err = meta.FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&g)
	if errors.Is(err, mongo.ErrNoDocuments) {
		err = meta.FindOne(ctx, idFilter(generationDoc)).Decode(&g)
	}
	if err != nil {
		return 0, storeErr("publish policy changes", err)
	}
	return g.Value, nil
}
