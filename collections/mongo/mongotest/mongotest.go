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
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + tb.TempDir() + "/",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatalf("start embedded FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	backend := strings.TrimSuffix(strings.TrimPrefix(f.MongoDBURI(), "mongodb://"), "/")
	r, err := startRelay(backend)
	if err != nil {
		cancel()
		<-done
		tb.Fatalf("start relay to embedded FerretDB: %v", err)
	}
	tb.Cleanup(func() {
		r.close()
		cancel()
		<-done
	})
	return Server{URI: "mongodb://" + r.addr() + "/", Embedded: true}
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
