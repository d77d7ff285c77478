// Package mongotest gives tests a MongoDB-wire server with no setup: the
// server TAXIID_TEST_MONGO_URI names when it is set, else an embedded
// FerretDB v1 on its SQLite backend, started in the test's process with its
// data in the test's temporary directory, behind a relay that runs one
// command at a time (see relay.go).
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnvURI names the environment variable that points the tests at a real
// MongoDB deployment.
const EnvURI = "TAXIID_TEST_MONGO_URI"

// External reports whether the tests run against a server named by
// TAXIID_TEST_MONGO_URI rather than the embedded one.
func External() bool { return os.Getenv(EnvURI) != "" }

// Server is a MongoDB-wire server for one test.
type Server struct {
	URI string
	// Embedded is true for the in-process FerretDB, which lacks some
	// MongoDB features (transactions, TTL indexes, explain details).
	Embedded bool
}

// Start returns the server for tb: the external one, or a new embedded
// FerretDB that stops when tb ends.
func Start(tb testing.TB) Server {
	tb.Helper()
	if uri := os.Getenv(EnvURI); uri != "" {
		return Server{URI: uri}
	}
	return StartAt(tb, "127.0.0.1:0").Server
}

// Embedded is an embedded FerretDB that a test can stop and start again on
// the same address and data, to take the server away and bring it back.
type Embedded struct {
	Server
	// Addr is the host:port it listens on.
	Addr string

	tb   testing.TB
	dir  string
	mu   sync.Mutex
	stop func() // nil while stopped
}

// StartAt starts an embedded FerretDB listening on addr ("127.0.0.1:0":
// a free port, then named by Addr), with its data in a new temporary
// directory of tb, whatever TAXIID_TEST_MONGO_URI says: a test cannot stop
// an external server. It stops when tb ends.
func StartAt(tb testing.TB, addr string) *Embedded {
	tb.Helper()
	e := &Embedded{tb: tb, dir: tb.TempDir(), Addr: addr}
	e.Start()
	tb.Cleanup(e.Stop)
	return e
}

// Start starts the server again after Stop, on the same address and data.
// It does nothing while the server runs.
func (e *Embedded) Start() {
	e.tb.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stop != nil {
		return
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + e.dir + "/",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		e.tb.Fatalf("start embedded FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	backend := strings.TrimSuffix(strings.TrimPrefix(f.MongoDBURI(), "mongodb://"), "/")
	r, err := startRelay(e.Addr, backend)
	if err != nil {
		cancel()
		<-done
		e.tb.Fatalf("listen on %s for the embedded FerretDB: %v", e.Addr, err)
	}
	e.stop = func() {
		r.close()
		cancel()
		<-done
	}
	e.Addr = r.addr()
	e.Server = Server{URI: "mongodb://" + e.Addr + "/", Embedded: true}
}

// Stop stops the server: it stops listening and closes the connections of
// its clients at once. It does nothing while the server is stopped.
func (e *Embedded) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
}

// Database returns a database name no other test uses. On an external
// server the database is dropped when tb ends.
func Database(tb testing.TB, s Server) string {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "taxiid_test_" + hex.EncodeToString(b)
	if !s.Embedded {
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := mongo.Connect(options.Client().ApplyURI(s.URI))
			if err != nil {
				tb.Logf("drop %s: %v", name, err)
				return
			}
			defer c.Disconnect(ctx)
			if err := c.Database(name).Drop(ctx); err != nil {
				tb.Logf("drop %s: %v", name, err)
			}
		})
	}
	return name
}
