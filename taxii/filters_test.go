package taxii_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestQueryDecodingAndLimits: a query the server cannot decode, and filter
// lists beyond the documented bounds, are a 400 naming the parameter,
// never a silently dropped filter.
func TestQueryDecodingAndLimits(t *testing.T) {
	e := newEnv(t, options{})
	e.push(envelope(
		obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", "2021-01-01T00:00:00.000Z"),
		obj("indicator", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "2021-01-01T00:00:00.000Z"),
	))
	nTypes := func(n int) string {
		var ts []string
		for i := range n {
			ts = append(ts, fmt.Sprintf("x-type-%d", i))
		}
		return strings.Join(ts, ",")
	}
	nIDs := func(n int) string {
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i))
		}
		return strings.Join(ids, ",")
	}
	tests := []struct {
		query    string
		wantIn   string // in the 400's description; "" means 200
		wantObjs []string
	}{
		{"match[type]=malware;", "match[type]", nil},
		{"match[type]=malware;match[type]=indicator", "match[type]", nil},
		{"match[type]=malware%3B", "match[type]", nil},
		{"next=%ZZ", "next", nil},
		{"match[type]=%ZZ", "match[type]", nil},
		{"match[type]=%FF", "match[type]", nil},
		{"match%ZZ=1", "match%ZZ", nil},
		{"match[type]=Malware", "match[type]", nil},
		{"match[id]=not-an-id", "match[id]", nil},
		{"match[type]=" + nTypes(101), "match[type] has 101 values; at most 100", nil},
		{"match[id]=" + nIDs(101), "match[id] has 101 values; at most 100", nil},
		{"match[type]=" + nTypes(21) + "&match[version]=first,last,all", "", nil}, // 400: all with others
		{"match[type]=" + nTypes(26) + "&match[version]=first,last,2021-01-01T00:00:00Z,2022-01-01T00:00:00Z", "104 combinations; at most 100", nil},
		{"match[type]=" + nTypes(20) + "&match[spec_version]=2.0,2.1,2.2,2.3,2.4,2.5", "120 combinations", nil},
		// At the bounds, and well-formed queries, are served.
		{"match[type]=" + nTypes(99) + ",malware", "", []string{"malware--6b616fc1-1505-48e3-8b2c-0d19337bff38@2021-01-01T00:00:00.000Z"}},
		{"match[id]=" + nIDs(99) + ",malware--6b616fc1-1505-48e3-8b2c-0d19337bff38", "", []string{"malware--6b616fc1-1505-48e3-8b2c-0d19337bff38@2021-01-01T00:00:00.000Z"}},
		{"match[type]=" + nTypes(49) + ",malware&match[version]=first,last", "", []string{"malware--6b616fc1-1505-48e3-8b2c-0d19337bff38@2021-01-01T00:00:00.000Z"}},
		{"match%5Btype%5D=indicator&unknown=%3B", "", []string{"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f@2021-01-01T00:00:00.000Z"}},
	}
	for _, tt := range tests {
		r := e.get(objects + "?" + tt.query)
		if tt.wantObjs == nil {
			r.wantError(t, 400)
			if d := fmt.Sprint(r.body["description"]); !strings.Contains(d, tt.wantIn) {
				t.Errorf("?%.80s: description %q does not contain %q", tt.query, d, tt.wantIn)
			}
			continue
		}
		if r.status != 200 {
			t.Errorf("?%.80s = %d %s; want 200", tt.query, r.status, r.raw)
			continue
		}
		if got := ids(r, "objects"); !cmp.Equal(got, tt.wantObjs) {
			t.Errorf("?%.80s = %v; want %v", tt.query, got, tt.wantObjs)
		}
	}
}
