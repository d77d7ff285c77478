package storetest

// Tests of Secret.

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/taxiid/taxiid/collections"
)

var secretsTests = []test{
	{"Secret", on(testSecret)},
}

func testSecret(t *testing.T, s collections.Store) {
	ctx := t.Context()
	var calls int
	var mu sync.Mutex
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return []byte(v), nil
		}
	}
	a, err := s.Secret(ctx, "a", gen("first"))
	if err != nil || string(a) != "first" {
		t.Fatalf("Secret(a) = %q, %v; want \"first\"", a, err)
	}
	a, err = s.Secret(ctx, "a", gen("second"))
	if err != nil || string(a) != "first" {
		t.Errorf("Secret(a) again = %q, %v; want \"first\"", a, err)
	}
	if calls != 1 {
		t.Errorf("newSecret called %d times, want once", calls)
	}
	if _, err := s.Secret(ctx, "b", func() ([]byte, error) { return nil, errors.New("boom") }); err == nil {
		t.Error("Secret with a failing newSecret: no error")
	}

	// Concurrent first uses agree on one value.
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			v, err := s.Secret(ctx, "c", gen(fmt.Sprint("c", i)))
			if err != nil {
				t.Errorf("Secret(c): %v", err)
			}
			got[i] = string(v)
		})
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Errorf("concurrent Secret(c) returned %q and %q", got[0], g)
		}
	}
	if c, err := s.Secret(ctx, "c", gen("late")); err != nil || string(c) != got[0] {
		t.Errorf("Secret(c) later = %q, %v; want %q", c, err, got[0])
	}
}
