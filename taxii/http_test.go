package taxii_test

import (
	"strings"
	"testing"
)

// TestHeaderLimit: header fields beyond the server's bound (64 KiB by
// default, below net/http's 1 MiB) are a 431 error resource; just below it
// the request is served.
func TestHeaderLimit(t *testing.T) {
	e := newEnv(t, options{})
	r := e.do("GET", "/taxii2/", map[string]string{"X-Padding": strings.Repeat("a", 100<<10)}, nil)
	r.wantError(t, 431)
	if r := e.do("GET", "/taxii2/", map[string]string{"X-Padding": strings.Repeat("a", 60<<10)}, nil); r.status != 200 {
		t.Errorf("60 KiB of headers = %d; want 200", r.status)
	}
	r = e.raw("GET", "/healthz", map[string]string{"X-Padding": strings.Repeat("a", 100<<10)}, nil)
	if r.status != 431 || r.body["error"] == nil {
		t.Errorf("operations route with 100 KiB of headers = %d %s; want a 431 JSON error", r.status, r.raw)
	}
}
