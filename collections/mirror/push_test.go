package mirror_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections/mirror"
)

// TestPushFollowsWriters: a push source forwards every version of the
// local collection to the remote one while writers add to it, although
// the remote restarts and the forwarding process is stopped and started
// again on a new handle meanwhile: the remote ends with exactly the local
// versions.
func TestPushFollowsWriters(t *testing.T) {
	ctx := context.Background()
	b := startRemote(t)
	path := filepath.Join(t.TempDir(), "local.db")
	a := openLocal(t, path, "a-1")
	// The writers use a handle of their own on the store, as another
	// process would.
	writer := openLocal(t, path, "writer")
	coll, err := writer.store.Collection(ctx, "api1", localColl)
	must(t, err)
	shared := []string{"indicator--" + newUUID(), "indicator--" + newUUID()}
	write := func(objs []map[string]any) error {
		raws := make([]json.RawMessage, len(objs))
		for i, o := range objs {
			raws[i], _ = json.Marshal(o)
		}
		res, err := writer.ing.Import(ctx, coll, raws)
		if err != nil {
			return err
		}
		for _, r := range res {
			if !r.Stored() {
				t.Errorf("local write refused: %+v", r)
			}
		}
		return nil
	}
	must(t, write([]map[string]any{indicator(shared[0], 0), indicator(shared[1], 0), indicator(shared[0], 1)}))
	view, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "out", URL: b.collectionURL(), Token: b.writer,
		APIRoot: "api1", Collection: localColl, Interval: "100ms", Direction: "push"})
	must(t, err)
	if view.Direction != mirror.Push {
		t.Fatalf("source view %+v", view)
	}
	stopA := a.run()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for round := range 10 {
				objs := []map[string]any{indicator("indicator--"+newUUID(), 0), indicator(shared[w], 10+round)}
				if err := write(objs); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(15 * time.Millisecond)
			}
		})
	}
	time.Sleep(80 * time.Millisecond)
	b.stop()
	time.Sleep(100 * time.Millisecond)
	b.start()
	time.Sleep(80 * time.Millisecond)
	stopA()
	a.store.Close()
	a = openLocal(t, path, "a-2")
	stopA = a.run()
	defer func() { stopA() }()
	wg.Wait()

	want := versions(t, a.store, "api1", localColl)
	if len(want) != 3+2*10*2 {
		t.Fatalf("local holds %d versions, want %d", len(want), 3+2*10*2)
	}
	var got []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = versions(t, b.store, "api1", remoteColl); cmp.Equal(want, got) {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("forwarded versions (-local +remote):\n%s", diff)
	}
	stopA()
	stopA = func() {}
	st, err := a.store.SourceState(ctx, "out")
	must(t, err)
	if st.Counters.Rejected != 0 || st.Counters.Added < int64(len(want)) || st.LastSuccess.IsZero() {
		t.Errorf("state %+v", st)
	}
}

// TestPushRejections: the objects the remote's status lists as failures
// are recorded as rejections of the source, once the remote's pending
// status completes; the cursor moves past them.
func TestPushRejections(t *testing.T) {
	ctx := context.Background()
	a := openLocal(t, filepath.Join(t.TempDir(), "local.db"), "a")
	coll, err := a.store.Collection(ctx, "api1", localColl)
	must(t, err)
	good, bad := "indicator--"+newUUID(), "indicator--"+newUUID()
	var raws []json.RawMessage
	for _, id := range []string{good, bad} {
		b, _ := json.Marshal(indicator(id, 0))
		raws = append(raws, b)
	}
	_, err = a.ing.Import(ctx, coll, raws)
	must(t, err)

	var mu sync.Mutex
	var posted []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api1/collections/c/objects/":
			var env struct {
				Objects []struct {
					ID string `json:"id"`
				} `json:"objects"`
			}
			json.NewDecoder(r.Body).Decode(&env)
			mu.Lock()
			for _, o := range env.Objects {
				posted = append(posted, o.ID)
			}
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"id":"s1","status":"pending","total_count":2,"success_count":0,"failure_count":0,"pending_count":2}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api1/status/s1/":
			fmt.Fprintf(w, `{"id":"s1","status":"complete","total_count":2,"success_count":1,"failure_count":1,"pending_count":0,`+
				`"failures":[{"id":%q,"version":"2026-01-01T00:00:00.000Z","message":"refused by policy"}]}`, bad)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer hs.Close()
	_, err = a.svc.CreateSource(ctx, mirror.SourceInput{Name: "out", URL: hs.URL + "/api1/collections/c/", APIRoot: "api1",
		Collection: localColl, Direction: "push"})
	must(t, err)
	if _, err := a.puller.Pull(ctx, "out"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{good, bad}, posted); diff != "" {
		t.Errorf("posted (-want +got):\n%s", diff)
	}
	rej, err := a.store.Rejections(ctx, "out", 10)
	must(t, err)
	if len(rej) != 1 || rej[0].ID != bad || rej[0].Message != "refused by policy" {
		t.Errorf("rejections %+v", rej)
	}
	// Caught up: the next push sends nothing.
	if _, err := a.puller.Pull(ctx, "out"); err != nil {
		t.Fatal(err)
	}
	st, err := a.store.SourceState(ctx, "out")
	must(t, err)
	if len(posted) != 2 || st.Counters.Added != 1 || st.Counters.Rejected != 1 || st.Cursor.After == "" {
		t.Errorf("posted %v, state %+v", posted, st)
	}
}

// TestPushCeiling: a push source with max_tlp forwards only the versions
// at or below it, and holds back (as rejections) those with properties
// marked above it rather than send them whole.
func TestPushCeiling(t *testing.T) {
	ctx := context.Background()
	const (
		tlpGreen = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
		tlpAmber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
		tlpRed   = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	)
	a := openLocal(t, filepath.Join(t.TempDir(), "local.db"), "a")
	coll, err := a.store.Collection(ctx, "api1", localColl)
	must(t, err)
	green, red, granular, unmarked := "indicator--"+newUUID(), "indicator--"+newUUID(), "indicator--"+newUUID(), "indicator--"+newUUID()
	var raws []json.RawMessage
	for _, o := range []struct {
		id   string
		mark func(map[string]any)
	}{
		{green, func(m map[string]any) { m["object_marking_refs"] = []string{tlpGreen} }},
		{red, func(m map[string]any) { m["object_marking_refs"] = []string{tlpRed} }},
		{granular, func(m map[string]any) {
			m["object_marking_refs"] = []string{tlpGreen}
			m["description"] = "seen at the partner's site"
			m["granular_markings"] = []map[string]any{{"marking_ref": tlpAmber, "selectors": []string{"description"}}}
		}},
		{unmarked, func(map[string]any) {}},
	} {
		m := indicator(o.id, 0)
		o.mark(m)
		b, _ := json.Marshal(m)
		raws = append(raws, b)
	}
	res, err := a.ing.Import(ctx, coll, raws)
	must(t, err)
	for _, r := range res {
		if !r.Stored() {
			t.Fatalf("not stored: %+v", r)
		}
	}
	var mu sync.Mutex
	var posted []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Objects []struct {
				ID string `json:"id"`
			} `json:"objects"`
		}
		json.NewDecoder(r.Body).Decode(&env)
		mu.Lock()
		for _, o := range env.Objects {
			posted = append(posted, o.ID)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"s","status":"complete","total_count":%d,"success_count":%d,"failure_count":0,"pending_count":0}`,
			len(env.Objects), len(env.Objects))
	}))
	defer hs.Close()
	if _, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "p", URL: hs.URL + "/api1/collections/c/", APIRoot: "api1",
		Collection: localColl, MaxTLP: "green"}); err == nil {
		t.Error("max_tlp accepted on a pull source")
	}
	v, err := a.svc.CreateSource(ctx, mirror.SourceInput{Name: "out", URL: hs.URL + "/api1/collections/c/", APIRoot: "api1",
		Collection: localColl, Direction: "push", MaxTLP: "green"})
	must(t, err)
	if v.MaxTLP != "green" {
		t.Errorf("view %+v", v)
	}
	if _, err := a.puller.Pull(ctx, "out"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{green}, posted); diff != "" {
		t.Errorf("forwarded (-want +got):\n%s", diff)
	}
	rej, err := a.store.Rejections(ctx, "out", 10)
	must(t, err)
	if len(rej) != 1 || rej[0].ID != granular || rej[0].Reason != "granular-marking" {
		t.Errorf("rejections %+v", rej)
	}
}
