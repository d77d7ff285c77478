package taxii_test

import (
	"net/http"
	"testing"
)

// TestHeadOptionsAllow: HEAD is answered like GET without a body on every
// GET route; OPTIONS answers with the route's methods in Allow, and so do
// 405 responses.
func TestHeadOptionsAllow(t *testing.T) {
	e := newEnv(t, options{})
	st := e.push(envelope(obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", "2021-01-01T00:00:00.000Z")))
	const id = "malware--6b616fc1-1505-48e3-8b2c-0d19337bff38"
	const (
		readOnly  = "OPTIONS, GET, HEAD"
		objectsRW = "OPTIONS, GET, HEAD, POST"
		objectRW  = "OPTIONS, DELETE, GET, HEAD"
	)
	tests := []struct {
		path  string
		allow string
	}{
		{"/taxii2/", readOnly},
		{"/api1/", readOnly},
		{"/api1/status/" + st.body["id"].(string) + "/", readOnly},
		{"/api1/collections/", readOnly},
		{"/api1/collections/" + collID + "/", readOnly},
		{manifest, readOnly},
		{"/api1/collections/" + collID + "/markings/", readOnly},
		{objects, objectsRW},
		{objects + id + "/", objectRW},
		{objects + id + "/versions/", readOnly},
		{"/api1/collections/" + collID + "/objects/indicator--00000000-0000-4000-8000-000000000000/", objectRW}, // 404
		{"/healthz", readOnly},
		{"/readyz", readOnly},
	}
	headers := []string{"Content-Type", "X-Taxii-Date-Added-First", "X-Taxii-Date-Added-Last", "Allow"}
	for _, tt := range tests {
		get := e.raw("GET", tt.path, nil, nil)
		head := e.raw("HEAD", tt.path, nil, nil)
		if head.status != get.status || len(head.raw) != 0 {
			t.Errorf("HEAD %s = %d with %d body bytes; want %d without a body", tt.path, head.status, len(head.raw), get.status)
		}
		for _, h := range headers {
			if head.header.Get(h) != get.header.Get(h) {
				t.Errorf("HEAD %s: %s = %q; GET has %q", tt.path, h, head.header.Get(h), get.header.Get(h))
			}
		}
		opt := e.raw("OPTIONS", tt.path, map[string]string{"Accept": "text/html"}, nil)
		if opt.status != http.StatusNoContent && opt.status != http.StatusOK {
			t.Errorf("OPTIONS %s = %d; want 200 or 204", tt.path, opt.status)
		}
		if got := opt.header.Get("Allow"); got != tt.allow {
			t.Errorf("OPTIONS %s: Allow = %q; want %q", tt.path, got, tt.allow)
		}
		put := e.raw("PUT", tt.path, nil, []byte("{}"))
		if put.status != http.StatusMethodNotAllowed || put.header.Get("Allow") != tt.allow {
			t.Errorf("PUT %s = %d with Allow %q; want 405 with %q", tt.path, put.status, put.header.Get("Allow"), tt.allow)
		}
	}
}
