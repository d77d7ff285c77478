package mongo_test

import (
	"sync"
	"testing"

	"github.com/taxiid/taxiid/collections/mongo"
	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/collections/webhook/webhooktest"
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
