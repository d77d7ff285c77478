package taxii

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPreferredWait: the wait a request asks for with Prefer (RFC 7240),
// wherever and however it is written, bounded by the server's limit.
func TestPreferredWait(t *testing.T) {
	const limit = 60 * time.Second
	for _, tc := range []struct {
		name   string
		prefer []string // one entry per field line
		want   time.Duration
		ok     bool
	}{
		{"none", nil, 0, false},
		{"alone", []string{"wait=10"}, 10 * time.Second, true},
		{"zero", []string{"wait=0"}, 0, true},
		{"case of the name", []string{"WAIT=7"}, 7 * time.Second, true},
		{"spaces around =", []string{"wait = 7"}, 7 * time.Second, true},
		{"tab", []string{"\twait=7\t"}, 7 * time.Second, true},
		{"quoted", []string{`wait="7"`}, 7 * time.Second, true},
		{"after another", []string{"respond-async, wait=7"}, 7 * time.Second, true},
		{"before another", []string{"wait=7, return=minimal"}, 7 * time.Second, true},
		{"second field line", []string{"respond-async", "wait=7"}, 7 * time.Second, true},
		{"with parameters", []string{"wait=7; foo=bar; baz"}, 7 * time.Second, true},
		{"empty parameter", []string{"wait=7;"}, 7 * time.Second, true},
		{"other with parameters", []string{`handling=lenient; x="a,b;c", wait=7`}, 7 * time.Second, true},
		{"quoted comma in another", []string{`foo="wait=1, wait=2", wait=7`}, 7 * time.Second, true},
		{"escaped quote", []string{`foo="a\"b,wait=1", wait=7`}, 7 * time.Second, true},
		{"empty elements", []string{" , ,wait=7,,"}, 7 * time.Second, true},
		{"first instance wins", []string{"wait=7, wait=3"}, 7 * time.Second, true},
		{"first instance wins across lines", []string{"wait=7", "wait=3"}, 7 * time.Second, true},
		{"first instance malformed", []string{"wait=x, wait=3"}, 0, false},
		{"above the limit", []string{"wait=600"}, limit, true},
		{"huge", []string{"wait=99999999999999999999999999"}, limit, true},
		{"negative", []string{"wait=-5"}, 0, false},
		{"fraction", []string{"wait=1.5"}, 0, false},
		{"empty value", []string{"wait="}, 0, false},
		{"empty quoted value", []string{`wait=""`}, 0, false},
		{"no value", []string{"wait"}, 0, false},
		{"prefix of another name", []string{"waiting=7"}, 0, false},
		{"malformed element skipped", []string{"=5, wait=7"}, 7 * time.Second, true},
		{"garbage after the value", []string{"wait=7 x, wait=3"}, 3 * time.Second, true},
		{"unterminated quote", []string{`wait="7`}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.prefer {
				h.Add("Prefer", v)
			}
			got, ok := preferredWait(h, limit)
			if got != tc.want || ok != tc.ok {
				t.Errorf("preferredWait(%q) = %v, %v; want %v, %v", tc.prefer, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestPreferences: preferences, values and parameters as parsed.
func TestPreferences(t *testing.T) {
	h := http.Header{}
	h.Add("Prefer", `Respond-Async, WAIT="10"; Foo = "b\"ar" ;baz`)
	h.Add("Prefer", "return=minimal")
	want := []preference{
		{name: "respond-async"},
		{name: "wait", value: "10", params: []preferenceParam{{"foo", `b"ar`}, {"baz", ""}}},
		{name: "return", value: "minimal"},
	}
	if diff := cmp.Diff(want, preferences(h), cmp.AllowUnexported(preference{}, preferenceParam{})); diff != "" {
		t.Errorf("preferences (-want +got):\n%s", diff)
	}
}
