package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestScanEnvelope: the pages the load clients count are counted as
// encoding/json reads them, whatever the strings hold (quotes, brackets,
// escaped backslashes) and wherever the members are; broken pages are
// errors, not counts.
func TestScanEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		page    string
		want    envelopeSummary
		wantErr bool
	}{
		{"empty page", `{}`, envelopeSummary{}, false},
		{"whitespace around", " \n{ } \n ", envelopeSummary{}, false},
		{"taxiid's order", `{"more":true,"next":"abc","objects":[{"id":"a"},{"id":"b"}]}`, envelopeSummary{2, true, "abc"}, false},
		{"objects first", `{"objects":[{"id":"a"}],"next":"x","more":false}`, envelopeSummary{1, false, "x"}, false},
		{"indented", "{\n  \"objects\": [\n    {\"id\": \"a\"},\n    {\"id\": \"b\"}\n  ],\n  \"more\": false\n}", envelopeSummary{2, false, ""}, false},
		{"brackets and quotes in strings", `{"objects":[{"p":"[a:b = ']'] AND {\"}"},{"q":"\\"},{"r":"\\\"]}"}]}`, envelopeSummary{3, false, ""}, false},
		{"nested arrays and values", `{"objects":[{"k":[[1,2],{"x":[null,true]}]},[],3,"s",null]}`, envelopeSummary{5, false, ""}, false},
		{"escaped next", `{"more":true,"next":"a\"b\u00e9"}`, envelopeSummary{0, true, "a\"bé"}, false},
		{"other members skipped", `{"spec_version":{"a":["]"]},"objects":[{}],"n":12.5e3}`, envelopeSummary{1, false, ""}, false},
		{"empty objects", `{"objects":[]}`, envelopeSummary{}, false},
		{"truncated object", `{"objects":[{"id":"a"},{"id":`, envelopeSummary{}, true},
		{"truncated string", `{"objects":[{"id":"a`, envelopeSummary{}, true},
		{"not an object", `[{"id":"a"}]`, envelopeSummary{}, true},
		{"more not boolean", `{"more":"yes"}`, envelopeSummary{}, true},
		{"trailing data", `{} {}`, envelopeSummary{}, true},
		{"missing comma", `{"objects":[{} {}]}`, envelopeSummary{}, true},
		{"empty", ``, envelopeSummary{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanEnvelope([]byte(tt.page))
			if (err != nil) != tt.wantErr {
				t.Fatalf("scanEnvelope(%s) error = %v; want error %v", tt.page, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(envelopeSummary{})); diff != "" {
				t.Errorf("scanEnvelope(%s) (-want +got):\n%s", tt.page, diff)
			}
			// encoding/json reads the same.
			var ref struct {
				More    bool              `json:"more"`
				Next    string            `json:"next"`
				Objects []json.RawMessage `json:"objects"`
			}
			if err := json.Unmarshal([]byte(tt.page), &ref); err != nil {
				t.Fatal(err)
			}
			if ref.More != got.more || ref.Next != got.next || len(ref.Objects) != got.objects {
				t.Errorf("scanEnvelope(%s) = %+v; encoding/json reads %d objects, more %v, next %q", tt.page, got, len(ref.Objects), ref.More, ref.Next)
			}
		})
	}
}

// TestHistogramQuantiles: quantiles are within 1% of the exact ones of
// the values recorded, from nanoseconds to minutes, merged across
// clients, and never above the largest value.
func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var values []int64
	var parts [3]histogram
	for i := range 30_000 {
		// Log-uniform from 1 ns to about 100 s.
		v := int64(1)
		for range r.IntN(37) {
			v *= 2
		}
		v += r.Int64N(v)
		values = append(values, v)
		parts[i%3].record(v)
	}
	var h histogram
	for i := range parts {
		h.merge(&parts[i])
	}
	slices.Sort(values)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		exact := values[max(int(math.Ceil(q*float64(len(values))))-1, 0)]
		got := h.quantile(q)
		if got < exact || float64(got-exact) > 0.01*float64(exact) {
			t.Errorf("quantile(%v) = %d; exact %d", q, got, exact)
		}
	}
	if h.max != values[len(values)-1] || h.quantile(1) != h.max {
		t.Errorf("max = %d, quantile(1) = %d; want %d", h.max, h.quantile(1), values[len(values)-1])
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

// TestYardstickAnswer: the yardstick serves pages of exactly the median
// size the phase saw, made of the sample's objects, that clients read as
// pages (pulls: with more and next, so that they keep walking).
func TestYardstickAnswer(t *testing.T) {
	obj := `{"type":"indicator","id":"indicator--` + strings.Repeat("a", 40) + `"}`
	sample := `{"more":true,"next":"t","objects":[` + strings.Repeat(obj+",", 9) + obj + `]}`
	tests := []struct {
		kind        string
		median      int64
		wantObjects int
		wantMore    bool
	}{
		{"pull", int64(len(sample)), 10, true},
		{"pull", int64(len(sample)) + 500, 10, true},
		{"pull", int64(len(sample)) - 3*int64(len(obj)) - 3, 7, true}, // three objects and their commas fewer
		{"pull", int64(len(sample)) - 3*int64(len(obj)) - 4, 6, true},
		{"poll", 2, 0, false},
		{"poll", 2 + int64(len(obj)) + 20, 1, false},
	}
	for _, tt := range tests {
		p := &phaseResult{kind: tt.kind, sample: []byte(sample), MedianBytes: tt.median}
		a := p.yardstickAnswer()
		sum, err := scanEnvelope(a.body)
		if err != nil || a.status != 200 || int64(len(a.body)) != tt.median || sum.objects != tt.wantObjects || sum.more != tt.wantMore || (sum.more && sum.next == "") {
			t.Errorf("%s, median %d: %d bytes, status %d, %+v, %v; want %d bytes, %d objects, more %v",
				tt.kind, tt.median, len(a.body), a.status, sum, err, tt.median, tt.wantObjects, tt.wantMore)
		}
		if !json.Valid(a.body) {
			t.Errorf("%s, median %d: answer is not JSON: %s", tt.kind, tt.median, a.body)
		}
	}
	status := `{"id":"s","status":"complete","success_count":2}`
	a := (&phaseResult{kind: "push", sample: []byte(status), MedianBytes: 60}).yardstickAnswer()
	if a.status != 202 || len(a.body) != 60 || !bytes.HasPrefix(a.body, []byte(status)) {
		t.Errorf("push: %d %q; want 202 with the status padded to 60 bytes", a.status, a.body)
	}
}

// TestBenchFlags: what each phase is bounded by when nothing is said, and
// flags that cannot work are refused together before anything is sent.
func TestBenchFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c benchConfig)
		wantErr []string
	}{
		{
			name: "defaults",
			args: []string{"--push", "--pull", "--poll"},
			check: func(t *testing.T, c benchConfig) {
				got := []any{c.URL, c.APIRoot, c.Collection, c.PushObjects, c.Limits, c.PollDuration, c.authorization()}
				want := []any{"http://127.0.0.1:8080", "api1", "default", 10_000, []int{100}, 10 * time.Second, ""}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "environment",
			args: []string{"--pull", "--limit", "100, 1000", "--collection", "intel"},
			env:  map[string]string{"TAXIID_URL": "https://hub.example.org:8443/", "TAXIID_TOKEN": "taxiid_x", "TAXIID_COLLECTION": "other"},
			check: func(t *testing.T, c benchConfig) {
				got := []any{c.URL, c.Collection, c.Limits, c.authorization()}
				want := []any{"https://hub.example.org:8443", "intel", []int{100, 1000}, "Bearer taxiid_x"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "bounded by duration only",
			args: []string{"--push", "--push-duration", "30s", "--poll", "--poll-requests", "10"},
			check: func(t *testing.T, c benchConfig) {
				if c.PushObjects != 0 || c.PollDuration != 0 {
					t.Errorf("push objects %d, poll duration %v; want 0 (unbounded), 0", c.PushObjects, c.PollDuration)
				}
			},
		},
		{name: "no phase", args: nil, wantErr: []string{"choose at least one phase"}},
		{
			name:    "every problem at once",
			args:    []string{"--pull", "--limit", "100,x,0", "--url", "ftp://h", "--token", "t", "--user", "u", "--pollers", "0", "--push-file", "/nonexistent.json", "--poll-from", "yesterday"},
			wantErr: []string{`"x" is not`, `"0" is not`, "not an http", "not both", "--user and --password go together", "pollers must be", "push-file", "poll-from"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := benchFlags(tt.args, func(k string) string { return tt.env[k] }, &stderr)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
