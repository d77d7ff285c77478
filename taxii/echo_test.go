package taxii_test

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestErrorsQuoteInputClipped: an error that quotes what the client sent
// (a name in the path, a filter value) quotes at most a short prefix of it,
// cut on a character boundary, so that a hostile client cannot make the
// server echo tens of KiB per request.
func TestErrorsQuoteInputClipped(t *testing.T) {
	e := newEnv(t, options{})
	// 2-byte characters after an odd prefix: a cut by bytes would split one.
	// About 48 KiB once percent-encoded, within the header bound.
	long := "x" + strings.Repeat("é", 8<<10)
	id := "indicator--" + long
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"API root", "GET", "/" + long + "/", 404},
		{"collections of an API root", "GET", "/" + long + "/collections/", 404},
		{"collection", "GET", "/api1/collections/" + long + "/", 404},
		{"status", "GET", "/api1/status/" + long + "/", 404},
		{"object", "GET", objects + id + "/", 404},
		{"versions", "GET", objects + id + "/versions/", 404},
		{"delete", "DELETE", objects + id + "/", 404},
		{"spec_version filter", "GET", objects + "?match[spec_version]=" + long, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, nil, nil)
			r.wantError(t, tt.status)
			desc, _ := r.body["description"].(string)
			if len(desc) > 300 {
				t.Errorf("description of %d bytes quotes the input whole: %.120s...", len(desc), desc)
			}
			if strings.ContainsRune(desc, utf8.RuneError) {
				t.Errorf("description cuts a character of the input: %.200s", desc)
			}
		})
	}
}
