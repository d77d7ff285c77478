package webhook_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/stix"
)

// BenchmarkIdleStep measures one worker step over 100 subscriptions when
// nothing new was added: the store load a process puts on the store every
// second while idle.
func BenchmarkIdleStep(b *testing.B) {
	e := newEnv(b)
	r := e.receiver(nil)
	for i := range 100 {
		o := fmt.Sprintf("org-%03d", i)
		e.conds[o] = webhook.Conditions{}
		if _, _, err := e.svc.Subscribe(b.Context(), o, root, coll, r.srv.URL, "u"); err != nil {
			b.Fatal(err)
		}
	}
	e.push(stix.TLPGreen)
	w, err := webhook.NewWorker(e.store, e.store, e.access, e.svc.Sealer, webhook.Options{
		Owner: "bench", Lease: time.Hour, Client: e.guard.Client(webhook.ClientOptions{RootCAs: e.pool}),
	})
	if err != nil {
		b.Fatal(err)
	}
	w.Step(b.Context()) // announces the version pushed
	w.Wait()
	b.ResetTimer()
	for b.Loop() {
		w.Step(b.Context())
		w.Wait()
	}
}
