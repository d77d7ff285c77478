package taxii_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestNoMatchingVersionIs404: GET object and GET versions answer 404 when
// no version of the object matches the version and spec-version filters
// (TAXII 2.1 section 5.7: a deleted object or version MUST answer 404), and
// an empty page when matching versions exist outside the page.
func TestNoMatchingVersionIs404(t *testing.T) {
	e := newEnv(t, options{})
	const (
		id = "malware--6b616fc1-1505-48e3-8b2c-0d19337bff38"
		v1 = "2021-01-01T00:00:00.000Z"
		v2 = "2022-01-01T00:00:00.000Z"
		v3 = "2023-01-01T00:00:00.000Z"
	)
	for _, v := range []string{v1, v2, v3} {
		e.push(envelope(obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", v)))
	}
	// A token into the versions, taken before the last one is deleted.
	first := e.get(objects + id + "/?match[version]=all&limit=2")
	if got := ids(first, "objects"); !cmp.Equal(got, []string{id + "@" + v1, id + "@" + v2}) {
		t.Fatalf("first page = %v", got)
	}
	next := first.body["next"].(string)

	if r := e.do("DELETE", objects+id+"/?match[version]="+v3, nil, nil); r.status != 200 {
		t.Fatalf("DELETE version = %d %s", r.status, r.raw)
	}
	tests := []struct {
		path string
		want []string // nil: 404
	}{
		{objects + id + "/?match[version]=" + v3, nil},
		{objects + id + "/?match[version]=" + v2, []string{id + "@" + v2}},
		{objects + id + "/", []string{id + "@" + v2}},
		{objects + id + "/?match[spec_version]=2.0", nil},
		{objects + id + "/versions/?match[spec_version]=2.0", nil},
		{objects + id + "/?match[version]=" + v3 + "&added_after=2000-01-01T00:00:00Z", nil},
		// Versions that match, none of them added after the given time.
		{objects + id + "/?added_after=2999-01-01T00:00:00Z", []string{}},
		{objects + id + "/versions/?added_after=2999-01-01T00:00:00Z", []string{}},
		// A next token past the last remaining version.
		{objects + id + "/?match[version]=all&limit=2&next=" + url.QueryEscape(next), []string{}},
	}
	for _, tt := range tests {
		r := e.get(tt.path)
		if tt.want == nil {
			r.wantError(t, 404)
			continue
		}
		if r.status != 200 {
			t.Errorf("GET %s = %d %s; want 200", tt.path, r.status, r.raw)
			continue
		}
		key := "objects"
		if len(tt.want) == 0 {
			if string(r.raw) != "{}" {
				t.Errorf("GET %s = %s; want {}", tt.path, r.raw)
			}
			continue
		}
		if got := ids(r, key); !cmp.Equal(got, tt.want) {
			t.Errorf("GET %s = %v; want %v", tt.path, got, tt.want)
		}
	}
	if r := e.get(objects + id + "/versions/"); !cmp.Equal(r.body["versions"], []any{v1, v2}) {
		t.Errorf("versions after delete = %s", r.raw)
	}
}

// TestEnvelopeForm: pages are written as streamed, with an exact
// Content-Length that HEAD repeats, in each form an envelope takes.
func TestEnvelopeForm(t *testing.T) {
	e := newEnv(t, options{})
	e.push(envelope(
		obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", "2021-01-01T00:00:00.000Z"),
		obj("malware", "31b940d4-6f7f-459a-80ea-9c1f17b5891b", "2021-01-01T00:00:00.000Z"),
		obj("malware", "2b6ec0d4-0d29-4d43-a3f6-5bd1b8a2c0ab", "2021-01-01T00:00:00.000Z"),
	))
	tests := []struct {
		query    string
		wantKeys []string
		wantIDs  []string
	}{
		{"?limit=2", []string{"more", "next", "objects"}, []string{"malware--6b616fc1-1505-48e3-8b2c-0d19337bff38", "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}},
		{"?limit=3", []string{"objects"}, []string{"malware--6b616fc1-1505-48e3-8b2c-0d19337bff38", "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b", "malware--2b6ec0d4-0d29-4d43-a3f6-5bd1b8a2c0ab"}},
		{"?match[type]=indicator", nil, nil},
	}
	for _, tt := range tests {
		r := e.get(objects + tt.query)
		var keys []string
		for k := range r.body {
			keys = append(keys, k)
		}
		if !cmp.Equal(keys, tt.wantKeys, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
			t.Errorf("GET %s: members %v; want %v", tt.query, keys, tt.wantKeys)
		}
		var got []string
		list, _ := r.body["objects"].([]any)
		for _, o := range list {
			got = append(got, o.(map[string]any)["id"].(string))
		}
		if !cmp.Equal(got, tt.wantIDs) {
			t.Errorf("GET %s: ids %v; want %v", tt.query, got, tt.wantIDs)
		}
		if cl := r.header.Get("Content-Length"); cl != fmt.Sprint(len(r.raw)) {
			t.Errorf("GET %s: Content-Length %s for %d bytes", tt.query, cl, len(r.raw))
		}
		if h := e.raw("HEAD", objects+tt.query, nil, nil); h.header.Get("Content-Length") != fmt.Sprint(len(r.raw)) {
			t.Errorf("HEAD %s: Content-Length %s; GET sent %d bytes", tt.query, h.header.Get("Content-Length"), len(r.raw))
		}
	}
}
