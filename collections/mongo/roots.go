package mongo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// API roots, collections and aliases.
//
// Documents:
//   - api_roots: _id = path; title, description, max_content_length.
//   - collections: collDoc below; _id = collection id, so that an id names
//     one collection in the whole store.
//   - aliases: aliasDoc below; _id = API root + "\x00" + alias. An alias
//     lives in a document of its own because a unique index on an optional
//     field of the collection documents would need a partial or sparse
//     index, which not every MongoDB-wire server has (FerretDB lacks them):
//     inserting the alias document is the claim, its _id the constraint.
//
// Without multi-document transactions PutCollection and DeleteAPIRoot
// order their writes so that a race between them is detected and undone
// by the loser; what remains is said at each method.

// rootIndexes serve the queries of roots.go. The _id indexes serve the rest:
// api_roots by path (APIRoots sorts on it), a collection by id (Collection,
// the object code's collection lookup, PutCollection, DeleteCollection),
// an alias by API root and alias (its claim and release).
var rootIndexes = []index{
	// Collections: {api_root} sorted by _id. DeleteAPIRoot: is there any
	// collection with {api_root} (limit 1).
	{coll: collColls, name: "collections_api_root", keys: bson.D{{Key: "api_root", Value: 1}, {Key: "_id", Value: 1}}},
}

// collDoc is the document of one collection in the "collections"
// MongoDB collection. Besides the TAXII description it holds what writers
// of the collection share (see lock.go).
type collDoc struct {
	ID          string   `bson:"_id"` // the collection id: unique in the store
	APIRoot     string   `bson:"api_root"`
	Alias       string   `bson:"alias,omitempty"`
	Title       string   `bson:"title"`
	Description string   `bson:"description"`
	MediaTypes  []string `bson:"media_types"`
	Validation  string   `bson:"validation"`
	// AliasClaim is the claim (see aliasDoc) under which the collection
	// holds Alias: releasing the alias removes only that claim, so that a
	// concurrent PutCollection that claimed it again keeps it.
	AliasClaim string `bson:"alias_claim,omitempty"`
	// Key is the collection's incarnation: the c field of its objects and
	// heads. A collection deleted and created again gets a new key, so
	// that it starts empty whatever is left of the old objects.
	Key string `bson:"key"`
	// Committed is the visibility watermark (µs): every version of the
	// collection with date_added <= Committed is complete, and readers
	// see no other.
	Committed int64 `bson:"committed"`
	// Last is the highest date_added (µs) handed out.
	Last int64 `bson:"last"`
	// UnmarkedTLP is collections.Collection.UnmarkedTLP (0: none set).
	UnmarkedTLP int32 `bson:"unmarked_tlp,omitempty"`
	// Lock is the writer lease, nil when no writer holds it.
	Lock *writeLock `bson:"lock,omitempty"`
}

// writeLock is a writer's lease on a collection (see lock.go).
type writeLock struct {
	Token string `bson:"token"` // random, names the holder
	Until int64  `bson:"until"` // ms since the Unix epoch, the holder's clock
	// IDs are the canonical object ids the holder's batch writes: if the
	// holder dies, the next writer repairs their heads and marks.
	IDs []string `bson:"ids"`
}

func (d collDoc) collection() collections.Collection {
	c := collections.Collection{
		APIRoot: d.APIRoot, ID: d.ID, Alias: d.Alias, Title: d.Title, Description: d.Description,
		MediaTypes: d.MediaTypes, Validation: d.Validation, UnmarkedTLP: stix.TLP(d.UnmarkedTLP),
	}
	if len(c.MediaTypes) == 0 {
		c.MediaTypes = nil // as put: nil and empty are stored alike
	}
	return c
}

// apiRootDoc is the document of one API root.
type apiRootDoc struct {
	Path             string `bson:"_id"`
	Title            string `bson:"title"`
	Description      string `bson:"description"`
	MaxContentLength int64  `bson:"max_content_length"`
}

// aliasDoc reserves an alias within an API root for one collection.
type aliasDoc struct {
	ID   string `bson:"_id"`  // aliasID(API root, alias)
	Coll string `bson:"coll"` // the collection id holding the alias
	// Claim is random, new at every PutCollection that takes or keeps the
	// alias; the collection document records the claim it holds.
	Claim string `bson:"claim"`
	// Until (ms since the Unix epoch, the claimer's clock) bounds the
	// PutCollection that wrote the claim: past it, a claim whose
	// collection does not hold the alias is left over from a call that
	// failed or died, and another collection may take it over.
	Until int64 `bson:"until"`
}

func aliasID(apiRoot, alias string) string { return apiRoot + "\x00" + alias }

// randomText returns n random bytes as URL-safe text.
func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// collection returns the document of a live collection of apiRoot, or
// collections.ErrNotFound. Lock.IDs is left out (a lock's ids may be a
// thousand; the writer that takes a lock over reads them from the
// document its takeover returns).
func (s *Store) collection(ctx context.Context, apiRoot, id string) (collDoc, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d collDoc
	err := s.db.Collection(collColls).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "api_root", Value: apiRoot}},
		options.FindOne().SetProjection(bson.D{{Key: "lock.ids", Value: 0}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return collDoc{}, fmt.Errorf("%w: collection %s in API root %s", collections.ErrNotFound, id, apiRoot)
	}
	if err != nil {
		return collDoc{}, storeErr("get collection", err)
	}
	return d, nil
}

// APIRoots implements collections.Store.
func (s *Store) APIRoots(ctx context.Context) ([]collections.APIRoot, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cur, err := s.db.Collection(collRoots).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, storeErr("list API roots", err)
	}
	var docs []apiRootDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("list API roots", err)
	}
	roots := make([]collections.APIRoot, len(docs))
	for i, d := range docs {
		roots[i] = collections.APIRoot{Path: d.Path, Title: d.Title, Description: d.Description, MaxContentLength: d.MaxContentLength}
	}
	return roots, nil
}

// PutAPIRoot implements collections.Store.
func (s *Store) PutAPIRoot(ctx context.Context, root collections.APIRoot) error {
	if err := root.Validate(); err != nil {
		return err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "title", Value: root.Title},
		{Key: "description", Value: root.Description},
		{Key: "max_content_length", Value: root.MaxContentLength},
	}}}
	var err error
	for range 2 { // two upserts of a new path at once: one inserts, the other updates when it tries again
		_, err = s.db.Collection(collRoots).UpdateOne(ctx, bson.D{{Key: "_id", Value: root.Path}}, update,
			options.UpdateOne().SetUpsert(true))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	return storeErr("put API root", err)
}

// rootExists reports whether the API root path exists.
func (s *Store) rootExists(ctx context.Context, path string) (bool, error) {
	err := s.db.Collection(collRoots).FindOne(ctx, bson.D{{Key: "_id", Value: path}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// Collections implements collections.Store.
func (s *Store) Collections(ctx context.Context, apiRoot string) ([]collections.Collection, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	ok, err := s.rootExists(ctx, apiRoot)
	if err != nil {
		return nil, storeErr("list collections", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: API root %s", collections.ErrNotFound, apiRoot)
	}
	cur, err := s.db.Collection(collColls).Find(ctx, bson.D{{Key: "api_root", Value: apiRoot}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetProjection(bson.D{{Key: "lock", Value: 0}}))
	if err != nil {
		return nil, storeErr("list collections", err)
	}
	var docs []collDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, storeErr("list collections", err)
	}
	cs := make([]collections.Collection, len(docs))
	for i, d := range docs {
		cs[i] = d.collection()
	}
	return cs, nil
}

// Collection implements collections.Store.
func (s *Store) Collection(ctx context.Context, apiRoot, id string) (collections.Collection, error) {
	d, err := s.collection(ctx, apiRoot, id)
	if err != nil {
		return collections.Collection{}, err
	}
	return d.collection(), nil
}

// PutCollection implements collections.Store.
//
// The steps, each one atomic:
//  1. the API root must exist;
//  2. claim the alias (insert its aliases document, or take over one
//     left by a failed call): from here no other collection can get it;
//  3. upsert the collection document, keyed by the collection id, with
//     the API root in the filter: an id used under another API root makes
//     the insert fail on _id. An existing collection keeps its key,
//     watermark and lock; a new one gets a new random key;
//  4. check again that the API root exists: DeleteAPIRoot may have
//     removed it after step 1 (it checks for collections before and after
//     deleting; see there). If it is gone, undo steps 3 and 2 and answer
//     ErrNotFound;
//  5. release the alias the collection had before, if it changed.
//
// What remains: a process that dies between steps 3 and 4 while the API
// root is being deleted may leave a collection under a missing API root.
// It is not listed (Collections answers ErrNotFound for the root) and
// DeleteCollection removes it; PutAPIRoot of the path brings it back. One
// that dies between 2 and 3, or 3 and 5, leaves an aliases document that
// no collection holds: it is taken over once its claim's deadline has
// passed (see claimAlias).
func (s *Store) PutCollection(ctx context.Context, c collections.Collection) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.UnmarkedTLP > stix.TLPRed {
		return fmt.Errorf("%w: unmarked TLP level %d", collections.ErrInvalid, c.UnmarkedTLP)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if ok, err := s.rootExists(ctx, c.APIRoot); err != nil {
		return storeErr("put collection", err)
	} else if !ok {
		return fmt.Errorf("%w: API root %s", collections.ErrNotFound, c.APIRoot)
	}
	colls := s.db.Collection(collColls)
	// A collection id taken under another API root: the upsert below
	// would fail too, but before the alias is claimed is cheaper.
	var other collDoc
	err := colls.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}, options.FindOne().SetProjection(bson.D{{Key: "api_root", Value: 1}})).Decode(&other)
	switch {
	case err == nil && other.APIRoot != c.APIRoot:
		return fmt.Errorf("%w: collection %s exists in API root %s", collections.ErrConflict, c.ID, other.APIRoot)
	case err != nil && !errors.Is(err, mongo.ErrNoDocuments):
		return storeErr("put collection", err)
	}

	claim := ""
	if c.Alias != "" {
		claim = randomText(12)
		if err := s.claimAlias(ctx, c.APIRoot, c.Alias, c.ID, claim); err != nil {
			return storeErr("put collection", err)
		}
	}
	// unclaim gives up a claim this call made, best effort: a claim left
	// behind is taken over once its deadline has passed.
	unclaim := func() {
		if claim != "" {
			s.db.Collection(collAliases).DeleteOne(ctx, bson.D{{Key: "_id", Value: aliasID(c.APIRoot, c.Alias)}, {Key: "claim", Value: claim}})
		}
	}

	media := c.MediaTypes
	if media == nil {
		media = []string{}
	}
	set := bson.D{
		{Key: "title", Value: c.Title},
		{Key: "description", Value: c.Description},
		{Key: "media_types", Value: media},
		{Key: "validation", Value: c.Validation},
		{Key: "unmarked_tlp", Value: int32(c.UnmarkedTLP)},
	}
	update := bson.D{}
	if c.Alias != "" {
		set = append(set, bson.E{Key: "alias", Value: c.Alias}, bson.E{Key: "alias_claim", Value: claim})
	} else {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "alias", Value: ""}, {Key: "alias_claim", Value: ""}}})
	}
	key := randomText(12)
	update = append(update,
		bson.E{Key: "$set", Value: set},
		// Only a new collection gets a key and a watermark: an existing
		// one keeps its objects and any writer's lock.
		bson.E{Key: "$setOnInsert", Value: bson.D{{Key: "key", Value: key}, {Key: "committed", Value: int64(0)}, {Key: "last", Value: int64(0)}}})
	var before collDoc
	err = colls.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "api_root", Value: c.APIRoot}}, update,
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before)).Decode(&before)
	inserted := errors.Is(err, mongo.ErrNoDocuments)
	switch {
	case mongo.IsDuplicateKeyError(err):
		unclaim()
		root := "another API root"
		if colls.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&other) == nil {
			root = "API root " + other.APIRoot
		}
		return fmt.Errorf("%w: collection %s exists in %s", collections.ErrConflict, c.ID, root)
	case err != nil && !inserted:
		// Perhaps written: the claim stays, held by the collection or, if
		// not, taken over later.
		return storeErr("put collection", err)
	}

	if ok, err := s.rootExists(ctx, c.APIRoot); err != nil {
		return storeErr("put collection", err)
	} else if !ok {
		if inserted {
			colls.DeleteOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "api_root", Value: c.APIRoot}, {Key: "key", Value: key}})
			unclaim()
		}
		return fmt.Errorf("%w: API root %s (deleted meanwhile)", collections.ErrNotFound, c.APIRoot)
	}

	if !inserted && before.Alias != "" && before.Alias != c.Alias {
		// Only the claim the collection held: if another PutCollection of
		// it claimed the old alias again meanwhile, that claim is new.
		_, err := s.db.Collection(collAliases).DeleteOne(ctx, bson.D{
			{Key: "_id", Value: aliasID(c.APIRoot, before.Alias)}, {Key: "coll", Value: c.ID}, {Key: "claim", Value: before.AliasClaim}})
		if err != nil {
			// The collection is written; the old alias stays reserved
			// until its claim's deadline passes.
			return storeErr("put collection: release alias "+before.Alias, err)
		}
	}
	return nil
}

// claimSlack is added to a claim's deadline for the clocks of the
// processes, which must agree within a few seconds.
const claimSlack = 10 * time.Second

// claimAlias reserves alias in apiRoot for collection id under claim. It
// returns ErrConflict naming the collection that holds it, or whose
// PutCollection may still be writing it.
func (s *Store) claimAlias(ctx context.Context, apiRoot, alias, id, claim string) error {
	aliases := s.db.Collection(collAliases)
	_id := aliasID(apiRoot, alias)
	for range 4 {
		// The call's own deadline bounds it; the slack covers clocks.
		until := time.Now().Add(s.opTimeout + claimSlack).UnixMilli()
		_, err := aliases.InsertOne(ctx, aliasDoc{ID: _id, Coll: id, Claim: claim, Until: until})
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return err
		}
		var cur aliasDoc
		err = aliases.FindOne(ctx, bson.D{{Key: "_id", Value: _id}}).Decode(&cur)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue // released meanwhile
		}
		if err != nil {
			return err
		}
		if cur.Coll != id {
			var holder collDoc
			err := s.db.Collection(collColls).FindOne(ctx, bson.D{{Key: "_id", Value: cur.Coll}},
				options.FindOne().SetProjection(bson.D{{Key: "api_root", Value: 1}, {Key: "alias", Value: 1}})).Decode(&holder)
			if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
				return err
			}
			held := err == nil && holder.APIRoot == apiRoot && holder.Alias == alias
			if held || time.Now().UnixMilli() <= cur.Until {
				return fmt.Errorf("%w: alias %q is used by collection %s", collections.ErrConflict, alias, cur.Coll)
			}
			// Left over by a PutCollection that failed or died, or by a
			// collection renamed since: take it over.
		}
		// Ours already (a collection put again with its alias), or left
		// over: a new claim, if nobody changed it since it was read.
		res, err := aliases.UpdateOne(ctx, bson.D{{Key: "_id", Value: _id}, {Key: "coll", Value: cur.Coll}, {Key: "claim", Value: cur.Claim}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "coll", Value: id}, {Key: "claim", Value: claim}, {Key: "until", Value: until}}}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 1 {
			return nil
		}
	}
	return fmt.Errorf("%w: alias %q is being claimed by another collection", collections.ErrConflict, alias)
}

// DeleteCollection implements collections.Store.
//
// The collection document goes first, with its alias: from then on
// readers and writers of every handle find the collection missing, and a
// writer still holding its lease fails its commit (which filters on the
// collection's _id, key and the lease's token), so nothing it writes
// becomes visible. Then its objects and heads are removed by key. What a
// crash, the call's deadline (a collection too large to delete within it)
// or a late writer leaves of them stays invisible: a collection created
// again with the same id gets a new key, and no collection document names
// the old one. It only takes space, until removed by hand ({c: key} of a
// key no collection document holds).
func (s *Store) DeleteCollection(ctx context.Context, apiRoot, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d collDoc
	err := s.db.Collection(collColls).FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: id}, {Key: "api_root", Value: apiRoot}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%w: collection %s in API root %s", collections.ErrNotFound, id, apiRoot)
	}
	if err != nil {
		return storeErr("delete collection", err)
	}
	if d.Alias != "" {
		_, err := s.db.Collection(collAliases).DeleteOne(ctx, bson.D{
			{Key: "_id", Value: aliasID(apiRoot, d.Alias)}, {Key: "coll", Value: id}, {Key: "claim", Value: d.AliasClaim}})
		if err != nil {
			return storeErr("delete collection: release alias", err)
		}
	}
	// One command each, served by the {c, ...} indexes of objects.go and
	// heads.go, and the _id range of the markings (markings.go).
	for _, del := range []struct {
		coll   string
		filter bson.D
	}{
		{collObjects, bson.D{{Key: "c", Value: d.Key}}},
		{collHeads, bson.D{{Key: "c", Value: d.Key}}},
		{collMarkings, bson.D{{Key: "_id", Value: markingsOf(d.Key)}}},
		{collMarkingVersions, bson.D{{Key: "_id", Value: markingsOf(d.Key)}}},
	} {
		if _, err := s.db.Collection(del.coll).DeleteMany(ctx, del.filter); err != nil {
			return storeErr("delete collection "+id, err)
		}
	}
	return nil
}

// DeleteAPIRoot implements collections.Store.
//
// It checks for collections before deleting the root document and again
// after: a PutCollection that checked the root before the deletion and
// wrote its collection after the first check is then seen, and the root
// document is put back (ErrConflict); PutCollection checks the root again
// after writing (see there), so one of the two always sees the other.
// What remains: a process that dies between the deletion and putting the
// root back leaves that collection under a missing API root (see
// PutCollection).
func (s *Store) DeleteAPIRoot(ctx context.Context, path string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	roots, colls := s.db.Collection(collRoots), s.db.Collection(collColls)
	hasCollections := func() (bool, error) {
		err := colls.FindOne(ctx, bson.D{{Key: "api_root", Value: path}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		return err == nil, err
	}
	ok, err := s.rootExists(ctx, path)
	if err != nil {
		return storeErr("delete API root", err)
	}
	if !ok {
		return fmt.Errorf("%w: API root %s", collections.ErrNotFound, path)
	}
	if has, err := hasCollections(); err != nil {
		return storeErr("delete API root", err)
	} else if has {
		return fmt.Errorf("%w: API root %s has collections", collections.ErrConflict, path)
	}
	var d apiRootDoc
	err = roots.FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: path}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%w: API root %s", collections.ErrNotFound, path)
	}
	if err != nil {
		return storeErr("delete API root", err)
	}
	has, err := hasCollections()
	if err == nil && !has {
		// Aliases left over by failed calls stay: removing them here could
		// remove the claim of a collection put under the same path again
		// meanwhile. They are taken over when claimed (see claimAlias).
		return nil
	}
	// A collection was put meanwhile, or we cannot tell: put the root
	// back (unless it was put again meanwhile).
	if _, ierr := roots.InsertOne(ctx, d); ierr != nil && !mongo.IsDuplicateKeyError(ierr) {
		return storeErr("delete API root: restore after a concurrent PutCollection", ierr)
	}
	if err != nil {
		return storeErr("delete API root", err)
	}
	return fmt.Errorf("%w: API root %s has collections", collections.ErrConflict, path)
}
