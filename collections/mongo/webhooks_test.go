package mongo_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mongo"
	"github.com/taxiid/taxiid/collections/storetest"
	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/collections/webhook/webhooktest"
	"github.com/taxiid/taxiid/stix"
)

func TestWebhookStore(t *testing.T) {
	var targets sync.Map // *mongo.Store -> target
	webhooktest.RunTests(t, webhooktest.Backend{
		New: func(t *testing.T) webhook.Store {
			s, tg := open(t)
			targets.Store(s, tg)
			return s
		},
		Another: func(t *testing.T, s webhook.Store) webhook.Store {
			tg, _ := targets.Load(s.(*mongo.Store))
			return reopen(t, tg.(target))
		},
	})
}

// TestWebhookRestart: on MongoDB, a delivery left pending by a process
// that stopped without releasing its lease is sent by a process on
// another handle once the lease ends, signed with the secret given at
// subscription.
func TestWebhookRestart(t *testing.T) {
	ctx := t.Context()
	s, tg := open(t)
	const coll = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCollection(ctx, collections.Collection{APIRoot: "api1", ID: coll, Title: "C"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	up := false
	var got []webhook.Notification
	v := &webhook.Verifier{}
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		n, err := v.Verify(r.Header, body)
		if err != nil {
			t.Errorf("notification does not verify: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got = append(got, n)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(recv.Certificate())
	guard := &webhook.Guard{AllowHosts: []string{recv.Listener.Addr().String()}}
	access := func(context.Context, string, string, string) (webhook.Conditions, bool) {
		return webhook.Conditions{}, true
	}

	worker := func(s *mongo.Store, owner string) *webhook.Worker {
		key, err := s.Secret(ctx, webhook.SealKeyName, webhook.NewSealKey)
		if err != nil {
			t.Fatal(err)
		}
		sealer, err := webhook.NewSealer(key)
		if err != nil {
			t.Fatal(err)
		}
		w, err := webhook.NewWorker(s, s, access, sealer, webhook.Options{
			Owner: owner, Lease: 400 * time.Millisecond, Backoff: func(int) time.Duration { return 10 * time.Millisecond },
			Client: guard.Client(webhook.ClientOptions{Timeout: 2 * time.Second, RootCAs: pool}),
		})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	key, err := s.Secret(ctx, webhook.SealKeyName, webhook.NewSealKey)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := webhook.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	svc := &webhook.Service{Store: s, Objects: s, Sealer: sealer, Guard: guard, Access: access}
	sub, secret, err := svc.Subscribe(ctx, "org-1", "api1", coll, recv.URL+"/hook", "user-1")
	if err != nil {
		t.Fatal(err)
	}
	v.Secret = secret
	objs := []collections.NewObject{
		storetest.Object(storetest.STIX{Type: "indicator", Created: time.Now()}),
		storetest.Object(storetest.STIX{Type: "malware", Created: time.Now()}),
	}
	for i := range objs {
		objs[i].TLP = stix.TLPGreen
	}
	if _, err := s.AddObjects(ctx, "api1", coll, objs, collections.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	first := worker(s, "stopped")
	first.Step(ctx)
	first.Wait()
	ds, err := s.Deliveries(ctx, sub.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].State != webhook.StatePending || ds[0].LastStatus != http.StatusBadGateway {
		t.Fatalf("deliveries after a failed attempt: %+v", ds)
	}

	mu.Lock()
	up = true
	mu.Unlock()
	next := worker(reopen(t, tg), "next")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		next.Step(ctx)
		next.Wait()
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pending delivery was not sent")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Count != 2 || got[0].Subscription != sub.ID {
		t.Errorf("notifications %+v, want one of 2 versions", got)
	}
}
