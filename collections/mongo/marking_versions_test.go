package mongo

import (
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/stix"
)

// A writer that died after writing a version above the watermark and the
// marking_versions document of the marking it references is rolled back
// by the next writer: the document goes with the version, so that under
// an embargo bound the marking is not listed (even once the watermark
// passes the dead version's date_added), while the committed version's
// marking is.
func TestRollbackRemovesMarkingVersions(t *testing.T) {
	const (
		green2 = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
		dead   = "marking-definition--5d2a0c3f-6b8e-4f1e-9b7c-3a8d2e6f1b46"
	)
	stores := testStores(t, 2)
	s, next := stores[0], stores[1]
	ctx := t.Context()
	a, c := storetest.NewID("indicator"), storetest.NewID("indicator")
	push(t, s, storetest.Marked(storetest.STIX{Type: "indicator", ID: a, Created: at(0), Modified: at(10)}, stix.TLPNone,
		map[string]any{"object_marking_refs": []string{green2}}))
	coll := collDocOf(t, s)
	key, w := coll.Key, coll.Committed

	// The dead writer, through the driver: its lock (expired), a version
	// of c above the watermark, its marking recorded.
	if _, err := s.db.Collection(collColls).UpdateOne(ctx, bson.D{{Key: "_id", Value: testColl}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lock", Value: writeLock{Token: "dead",
			Until: time.Now().Add(-time.Second).UnixMilli(), IDs: []string{c}}}}}}); err != nil {
		t.Fatal(err)
	}
	all := collections.MarkLast | collections.MarkFirst | collections.MarkTopSpec
	orphan := storetest.Marked(storetest.STIX{Type: "indicator", ID: c, Created: at(0), Modified: at(20)}, stix.TLPNone,
		map[string]any{"object_marking_refs": []string{green2, dead}})
	if _, err := s.db.Collection(collObjects).InsertOne(ctx, &objDoc{ID: objectID(key, c, versionKey(at(20))), C: key, OID: c,
		Type: "indicator", SpecVersion: "2.1", Version: versionKey(at(20)), DateAdded: w + 1, Marks: int32(all), Tags: tags(all, "2.1"),
		TLP: int32(stix.TLPGreen), Raw: orphan.Raw}); err != nil {
		t.Fatal(err)
	}
	if err := s.writeMarkingVersions(ctx, appendMarkingVersions(nil, key, w+1, int32(stix.TLPGreen), orphan.Markings)); err != nil {
		t.Fatal(err)
	}
	if err := s.writeMarkings(ctx, key, map[string]int32{green2: int32(stix.TLPGreen), dead: int32(stix.TLPGreen)}); err != nil {
		t.Fatal(err)
	}

	// The next writer rolls back, then commits its own version (which
	// may take the dead one's date_added).
	push(t, next, storetest.Object(storetest.STIX{Type: "malware", Created: at(5)}))
	if n, err := s.db.Collection(collMarkingVersions).CountDocuments(ctx, bson.D{{Key: "c", Value: key},
		{Key: "da", Value: bson.D{{Key: "$gt", Value: w}}}}); err != nil || n != 0 {
		t.Errorf("marking_versions of the rolled back version left: %d, %v", n, err)
	}
	for _, ceiling := range []stix.TLP{stix.TLPNone, stix.TLPGreen} {
		ms, err := s.Markings(ctx, testRoot, testColl, ceiling, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		want := []collections.Marking{{ID: green2, TLP: stix.TLPGreen}}
		if diff := gocmp.Diff(want, ms, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Markings under %q until now, after the rollback (-want +got):\n%s", ceiling, diff)
		}
	}
}
