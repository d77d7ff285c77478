package sqlite

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// Under continuous writes, the log is brought back under its limit.
func TestWALBounded(t *testing.T) {
	defer func(n int64) { walLimit = n }(walLimit)
	walLimit = 1 << 20
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "taxiid.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutAPIRoot(ctx, collections.APIRoot{Path: "api1", Title: "API 1", MaxContentLength: 1000}); err != nil {
		t.Fatal(err)
	}
	c := collections.Collection{APIRoot: "api1", ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Title: "C"}
	if err := s.PutCollection(ctx, c); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// 16 MiB in batches of 256 KiB, written back to back.
	for range 64 {
		batch := make([]collections.NewObject, 64)
		for i := range batch {
			at = at.Add(time.Millisecond)
			id := "indicator--" + randomUUID(r)
			raw := []byte(`{"type":"indicator","id":"` + id + `","x":"` + randomText(r, 4000) + `"}`)
			batch[i] = collections.NewObject{ID: id, Type: "indicator", SpecVersion: "2.1", Version: at, Raw: raw}
		}
		if _, err := s.AddObjects(ctx, c.APIRoot, c.ID, batch, collections.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var size int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		if size = fi.Size(); size <= walLimit {
			return
		}
	}
	t.Errorf("WAL of %d bytes after 16 MiB of writes, want at most %d", size, walLimit)
}

func randomUUID(r *rand.Rand) string {
	const hex = "0123456789abcdef"
	b := []byte("xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx")
	for i, c := range b {
		if c == 'x' {
			b[i] = hex[r.IntN(16)]
		}
	}
	return string(b)
}

func randomText(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(r.IntN(26))
	}
	return string(b)
}
