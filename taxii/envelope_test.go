package taxii_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/taxii"
)

// members returns n distinct envelope members, each followed by a comma.
func members(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `"x_%d":%d,`, i, i)
	}
	return b.String()
}

// TestStrictEnvelope: envelope member names are case-sensitive and unique,
// the envelope's own strings are valid text, nesting and the number of
// objects are bounded; what is accepted stores exactly the objects of the
// "objects" member.
func TestStrictEnvelope(t *testing.T) {
	a := string(mustJSON(t, obj("malware", "6b616fc1-1505-48e3-8b2c-0d19337bff38", "2021-01-01T00:00:00.000Z")))
	b := string(mustJSON(t, obj("malware", "31b940d4-6f7f-459a-80ea-9c1f17b5891b", "2021-01-01T00:00:00.000Z")))
	const idA = "malware--6b616fc1-1505-48e3-8b2c-0d19337bff38"
	nested := func(levels int) string {
		return `{"objects":[{"type":"malware","spec_version":"2.1","id":"malware--0e9a5a6b-7fb7-4c3b-8f43-7d2b7c6b3f11",` +
			`"created":"2021-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z","name":"m","is_family":false,"x_deep":` +
			strings.Repeat("[", levels) + strings.Repeat("]", levels) + `}]}`
	}
	tests := []struct {
		name   string
		body   string
		status int
		want   []string // ids stored by an accepted push
	}{
		{"other case ignored", `{"objects":[` + a + `],"Objects":[` + b + `]}`, 202, []string{idA}},
		{"other case first", `{"Objects":[` + b + `],"objects":[` + a + `]}`, 202, []string{idA}},
		{"only other case", `{"OBJECTS":[` + a + `]}`, 422, nil},
		{"duplicate objects", `{"objects":[` + a + `],"objects":[` + b + `]}`, 400, nil},
		{"duplicate type", `{"type":"bundle","type":"bundle","objects":[` + a + `]}`, 400, nil},
		{"duplicate unknown member", `{"x":1,"x":2,"objects":[` + a + `]}`, 400, nil},
		{"lone surrogate in a member", `{"x":"\ud800","objects":[` + a + `]}`, 400, nil},
		{"lone low surrogate in a name", `{"\udc00":1,"objects":[` + a + `]}`, 400, nil},
		{"invalid UTF-8 in a member", "{\"x\":\"\xff\",\"objects\":[" + a + "]}", 400, nil},
		{"invalid UTF-8 in a name", "{\"x\xc3\":1,\"objects\":[" + a + "]}", 400, nil},
		{"surrogate pair", `{"x":"\ud83d\ude00","objects":[` + a + `]}`, 202, []string{idA}},
		{"bundle", `{"type":"bundle","id":"bundle--0e9a5a6b-7fb7-4c3b-8f43-7d2b7c6b3f12","objects":[` + a + `]}`, 202, []string{idA}},
		{"type not a string", `{"type":1,"objects":[` + a + `]}`, 422, nil},
		{"objects null", `{"objects":null}`, 422, nil},
		{"data after the envelope", `{"objects":[` + a + `]} x`, 400, nil},
		{"second value", `{"objects":[` + a + `]}{}`, 400, nil},
		{"trailing comma", `{"objects":[` + a + `,]}`, 400, nil},
		{"missing comma", `{"objects":[` + a + `] "x":1}`, 400, nil},
		{"broken object", `{"objects":[{"type":"malware",]}`, 400, nil},
		{"empty body", ``, 400, nil},
		{"array of arrays", `[[1],[2]]`, 422, nil},
		{"too deep", nested(62), 400, nil},
		{"deep but within the bound", nested(61), 202, nil},
		{"too many objects", `{"objects":[{},{},{},{}]}`, 413, nil},
		{"too many members", `{` + members(101) + `"objects":[` + a + `]}`, 400, nil},
		{"as many members as allowed", `{` + members(99) + `"objects":[` + a + `]}`, 202, []string{idA}},
		{"as many objects as allowed", `{"objects":[` + a + `,{},{}]}`, 202, []string{idA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, options{config: func(c *taxii.Config) { c.MaxObjects = 3 }})
			r := e.do("POST", objects, nil, []byte(tt.body))
			if tt.status != 202 {
				r.wantError(t, tt.status)
				if got := ids(e.get(objects+"?match[version]=all"), "objects"); got != nil {
					t.Errorf("a rejected push stored objects: %v", got)
				}
				return
			}
			if r.status != 202 {
				t.Fatalf("status = %d; want 202\n%s", r.status, r.raw)
			}
			if tt.want == nil {
				return
			}
			var got []string
			for _, s := range r.body["successes"].([]any) {
				got = append(got, fmt.Sprint(s.(map[string]any)["id"]))
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("stored %v; want %v", got, tt.want)
			}
		})
	}
}
