package taxii_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/collections"
)

// TestOperationsRoutes: the operations routes live beside the TAXII ones,
// speak plain JSON whatever the Accept header, and answer errors as
// {"error": ...}; TAXII paths keep their negotiation and error resources.
func TestOperationsRoutes(t *testing.T) {
	e := newEnv(t, options{})
	tests := []struct {
		name       string
		method     string
		path       string
		accept     string
		wantStatus int
		wantBody   map[string]any
	}{
		{"health, JSON accepted", "GET", "/healthz", "application/json", 200, map[string]any{"status": "ok"}},
		{"health, no Accept", "GET", "/healthz", "", 200, map[string]any{"status": "ok"}},
		{"health, trailing slash", "GET", "/healthz/", "application/json", 200, map[string]any{"status": "ok"}},
		{"health, TAXII accepted", "GET", "/healthz", "application/taxii+json;version=2.1", 200, map[string]any{"status": "ok"}},
		{"unknown operations path", "GET", "/healthz/deep", "application/json", 404, nil},
		{"unknown admin path", "GET", "/admin/nothing", "application/json", 404, nil},
		{"wrong method", "POST", "/healthz", "application/json", 405, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw(tt.method, tt.path, map[string]string{"Accept": tt.accept}, nil)
			if r.status != tt.wantStatus {
				t.Fatalf("%s %s = %d; want %d\n%s", tt.method, tt.path, r.status, tt.wantStatus, r.raw)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			if tt.wantBody != nil {
				if diff := cmp.Diff(tt.wantBody, r.body); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				return
			}
			if msg, _ := r.body["error"].(string); msg == "" || len(r.body) != 1 {
				t.Errorf("error body = %s; want {\"error\": \"...\"}", r.raw)
			}
		})
	}
	// TAXII paths still negotiate and answer TAXII errors.
	e.do("GET", "/taxii2/", map[string]string{"Accept": "application/json"}, nil).wantError(t, 406)
	e.do("GET", "/healthzz/", nil, nil).wantError(t, 404)
}

// conflictStore answers every page query with a conflict carrying a
// database message, a failure the real store cannot produce on demand.
type conflictStore struct{ collections.Store }

func (conflictStore) Objects(context.Context, collections.Query) (collections.Page, error) {
	return collections.Page{}, fmt.Errorf("UNIQUE constraint failed: objects.raw_id: %w", collections.ErrConflict)
}

func TestConflictIs409(t *testing.T) {
	e := newEnv(t, options{wrap: func(s collections.Store) collections.Store { return conflictStore{s} }})
	r := e.get(objects)
	r.wantError(t, 409)
	if d := fmt.Sprint(r.body["description"]); strings.Contains(d, "UNIQUE") || strings.Contains(d, "raw_id") {
		t.Errorf("409 description leaks the database message: %q", d)
	}
}
