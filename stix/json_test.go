package stix

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecodeJSONStrict: what encoding/json accepts silently but a
// consumer may read otherwise is a finding, at the pointer of the value.
func TestDecodeJSONStrict(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Finding // pointer and rule
		// check, if set, looks at the decoded object.
		check func(t *testing.T, obj map[string]any)
	}{
		{"strict", `{"a": "x", "b": [1, {"c": "\u00e9\ud83d\ude00"}]}`, nil, func(t *testing.T, obj map[string]any) {
			if got := obj["b"].([]any)[1].(map[string]any)["c"]; got != "é😀" {
				t.Errorf("surrogate pair decoded as %q", got)
			}
		}},
		{"duplicate at the top", `{"id": "a", "type": "x", "id": "b"}`, []Finding{{Pointer: "/id", Rule: "duplicate-member"}}, func(t *testing.T, obj map[string]any) {
			if obj["id"] != "a" {
				t.Errorf("id = %v, want the first value", obj["id"])
			}
		}},
		{"duplicate deep", `{"x": {"y": [0, {"z": 1, "z": {"w": 2}}]}}`, []Finding{{Pointer: "/x/y/1/z", Rule: "duplicate-member"}}, nil},
		{"duplicate name needing escapes", `{"a/b~": 1, "a/b~": 2}`, []Finding{{Pointer: "/a~1b~0", Rule: "duplicate-member"}}, nil},
		{"same name in two objects", `{"a": {"n": 1}, "b": {"n": 1}}`, nil, nil},
		{"twice duplicated", `{"a": 1, "a": 2, "a": 3}`, []Finding{{Pointer: "/a", Rule: "duplicate-member"}, {Pointer: "/a", Rule: "duplicate-member"}}, nil},
		{"escaped duplicate", `{"ab": 1, "a\u0062": 2}`, []Finding{{Pointer: "/ab", Rule: "duplicate-member"}}, nil},
		{"invalid UTF-8 value", "{\"a\": [\"ok\", \"bad \xff byte\"]}", []Finding{{Pointer: "/a/1", Rule: "invalid-utf8"}}, func(t *testing.T, obj map[string]any) {
			if got := obj["a"].([]any)[1]; got != "bad \uFFFD byte" {
				t.Errorf("decoded %q, want U+FFFD in place of the bad byte", got)
			}
		}},
		{"truncated UTF-8 sequence", "{\"a\": \"\xe2\x82\"}", []Finding{{Pointer: "/a", Rule: "invalid-utf8"}}, nil},
		{"encoded surrogate", "{\"a\": \"\xed\xa0\x80\"}", []Finding{{Pointer: "/a", Rule: "invalid-utf8"}}, nil},
		{"invalid UTF-8 name", "{\"n\xc0me\": 1}", []Finding{{Pointer: "/n\uFFFDme", Rule: "invalid-utf8"}}, nil},
		{"lone high surrogate", `{"a": {"b": "x\ud800"}}`, []Finding{{Pointer: "/a/b", Rule: "lone-surrogate"}}, nil},
		{"lone low surrogate", `{"a": "\udc00x"}`, []Finding{{Pointer: "/a", Rule: "lone-surrogate"}}, nil},
		{"high surrogate then a letter", `{"a": "\ud800\u0041"}`, []Finding{{Pointer: "/a", Rule: "lone-surrogate"}}, func(t *testing.T, obj map[string]any) {
			if obj["a"] != "\uFFFDA" {
				t.Errorf("decoded %q", obj["a"])
			}
		}},
		{"reversed pair", `{"a": "\ude00\ud83d"}`, []Finding{{Pointer: "/a", Rule: "lone-surrogate"}}, nil},
		{"lone surrogate in a name", `{"\ud800": 1}`, []Finding{{Pointer: "/\uFFFD", Rule: "lone-surrogate"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, fs, err := decodeJSONObject([]byte(tt.in))
			if err != nil {
				t.Fatalf("decodeJSONObject error %v", err)
			}
			var got []Finding
			for _, f := range fs.fails {
				if f.Message == "" {
					t.Errorf("finding %v has no message", f)
				}
				got = append(got, Finding{Pointer: f.Pointer, Rule: f.Rule})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, obj)
			}
		})
	}
}

// TestDecodeJSONErrors: documents that are not JSON objects are refused,
// as encoding/json refuses them.
func TestDecodeJSONErrors(t *testing.T) {
	notObject := []string{"", "  ", "[]", `"x"`, "1", "null", "true"}
	for _, in := range notObject {
		if _, _, err := decodeJSONObject([]byte(in)); !errors.Is(err, errJSONNotObject) {
			t.Errorf("decodeJSONObject(%q) error %v, want errJSONNotObject", in, err)
		}
	}
	bad := []string{`{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`,
		`{"a":-}`, `{"a":+1}`, `{"a":tru}`, `{"a":"x}`, "{\"a\":\"\x01\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":1} x`,
		`{"a":1}{}`, `{'a':1}`, `{"a":1e999}`, `{"a":NaN}`, `{a:1}`, `{"a" 1}`, `{"a":[1 2]}`}
	for _, in := range bad {
		_, _, err := decodeJSONObject([]byte(in))
		var se *jsonSyntaxError
		if !errors.As(err, &se) {
			t.Errorf("decodeJSONObject(%q) error %v, want a syntax error", in, err)
		}
		var v any
		if json.Unmarshal([]byte(in), &v) == nil {
			t.Errorf("encoding/json accepts %q", in)
		}
	}
	deep := make([]byte, 0, 2*jsonMaxDepth+10)
	for range jsonMaxDepth + 1 {
		deep = append(deep, `{"a":`...)
	}
	if _, _, err := decodeJSONObject(deep); err == nil {
		t.Errorf("nesting beyond %d levels accepted", jsonMaxDepth)
	}
}

// TestDecodeJSONLikeEncodingJSON: on strict JSON the decoder builds the
// values encoding/json builds.
func TestDecodeJSONLikeEncodingJSON(t *testing.T) {
	docs := []string{
		`{"n": [0, -0, 1, -1, 123456789012345, 1234567890123456789, 1.5, -2.25e-3, 1E+2, 0.1, 9007199254740993, 5e-324]}`,
		`{"s": ["", "a\"b\\c\/d\b\f\n\r\t", "\u0000\u001f\u00e9\u20ac", "é€😀"], "e": {}, "l": [], "b": [true, false, null]}`,
	}
	files, _ := filepath.Glob("../testdata/stix/valid/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for _, doc := range docs {
		compareWithEncodingJSON(t, []byte(doc))
	}
}

func compareWithEncodingJSON(t *testing.T, doc []byte) {
	t.Helper()
	got, fs, err := decodeJSONObject(doc)
	var want map[string]any
	wantErr := json.Unmarshal(doc, &want)
	if (err == nil) != (wantErr == nil) {
		if !(errors.Is(err, errJSONNotObject) && wantErr != nil) {
			t.Fatalf("%q: decodeJSONObject error %v, encoding/json error %v", doc, err, wantErr)
		}
	}
	if err != nil || len(fs.fails) > 0 {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%.80q: values differ from encoding/json (-want +got):\n%s", doc, diff)
	}
}

// FuzzDecodeJSON: the decoder agrees with encoding/json on what is JSON
// and, where it finds nothing, on the values.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5,"x",{"b":null}]}`, `{"a":"\ud800"}`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a":-0.0e-0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		compareWithEncodingJSON(t, doc)
	})
}

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		fail bool
	}{
		{`"plain"`, false},
		{`{"a":["\ud83d\ude00","\u00e9\\u","x\"y"]}`, false},
		{`"\ud800"`, true},
		{`"\udc00\ud800"`, true},
		{`["ok","\ud800x"]`, true},
		{`{"\udfff":1}`, true},
		{"\"\xff\"", true},
		{`"\\ud800"`, false}, // an escaped backslash, then text
	} {
		if err := CheckText([]byte(tc.raw)); (err != nil) != tc.fail {
			t.Errorf("CheckText(%s) = %v; want failure %v", tc.raw, err, tc.fail)
		}
	}
}
