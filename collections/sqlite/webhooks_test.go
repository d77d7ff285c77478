package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/taxiid/taxiid/collections/sqlite"
	"github.com/taxiid/taxiid/collections/webhook"
	"github.com/taxiid/taxiid/collections/webhook/webhooktest"
)

func TestWebhookStore(t *testing.T) {
	var paths sync.Map // *sqlite.Store -> its file
	webhooktest.RunTests(t, webhooktest.Backend{
		New: func(t *testing.T) webhook.Store {
			path := filepath.Join(t.TempDir(), "taxiid.db")
			s := open(t, path)
			paths.Store(s, path)
			return s
		},
		Another: func(t *testing.T, s webhook.Store) webhook.Store {
			path, _ := paths.Load(s.(*sqlite.Store))
			return open(t, path.(string))
		},
	})
}
