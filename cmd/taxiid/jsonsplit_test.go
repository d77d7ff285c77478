package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// splitAll splits doc with a splitter bounded at max, and returns "where
// raw" for each object, then the error if any.
func splitAll(t *testing.T, r io.Reader, max int) []string {
	t.Helper()
	s := &jsonSplitter{r: r, buf: make([]byte, 0, 8), max: max}
	var got []string
	err := s.document(func(i int, raw []byte) {
		got = append(got, fmt.Sprintf("f: objects[%d] %s", i, raw))
	})
	if err != nil {
		var se *splitError
		if !errors.As(err, &se) {
			t.Fatalf("document error %v, want a *splitError", err)
		}
		got = append(got, "f: "+err.Error())
	}
	return got
}

// TestSplitDocuments: the splitter hands out each object of a bundle,
// envelope or list, or the document when it is one object, with its exact
// bytes, whatever the sizes of the reads.
func TestSplitDocuments(t *testing.T) {
	tricky := `{"type":"x-acme","id":"x-acme--1","note":"braces } ] and \"quotes\\\" [ {","n":[1,{"a":[]}]}`
	tests := []struct {
		name string
		doc  string
		want []string // "where raw" or "where problem"
	}{
		{"bundle", `{"type":"bundle","id":"bundle--1","objects":[{"a":1}, {"b":[2,3]} ]}`,
			[]string{"f: objects[0] {\"a\":1}", "f: objects[1] {\"b\":[2,3]}"}},
		{"bundle with type last", ` {"objects" : [ {"a":1} ] , "id":"bundle--1", "type" : "bundle"} `,
			[]string{"f: objects[0] {\"a\":1}"}},
		{"envelope", `{"more":false,"objects":[` + tricky + `]}`, []string{"f: objects[0] " + tricky}},
		{"empty bundle", `{"type":"bundle","id":"bundle--1","objects":[]}`, nil},
		{"list", `[` + tricky + `, {"c":"]"}]`, []string{"f: objects[0] " + tricky, `f: objects[1] {"c":"]"}`}},
		{"single object", tricky, []string{"f: objects[0] " + tricky}},
		{"observed-data with its objects dictionary", `{"type":"observed-data","objects":{"0":{"type":"ipv4-addr"}},"id":"observed-data--1"}`,
			[]string{`f: objects[0] {"type":"observed-data","objects":{"0":{"type":"ipv4-addr"}},"id":"observed-data--1"}`}},
		{"custom object with an objects list, type first", `{"type":"x-acme-set","objects":[1,2]}`, []string{`f: objects[0] {"type":"x-acme-set","objects":[1,2]}`}},
		{"custom object with an objects list, type last", `{"objects":[{"a":1}],"type":"x-acme-set"}`,
			[]string{`f: objects[0] {"a":1}`, `f: not a STIX bundle, envelope, list or object: type "x-acme-set" follows an objects list`}},
		{"object without members", `{}`, []string{"f: objects[0] {}"}},
		{"duplicate member kept for the validator", `{"type":"x-a","type":"x-b"}`, []string{`f: objects[0] {"type":"x-a","type":"x-b"}`}},
		{"scalar members", `{"n":-1.5e3,"t":true,"z":null}`, []string{`f: objects[0] {"n":-1.5e3,"t":true,"z":null}`}},
		{"truncated", `{"type":"bundle","objects":[{"a":1},{"b":`, []string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: unexpected end of input"}},
		{"missing comma", `[{"a":1} {"b":2}]`, []string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: expected ',' or ']'"}},
		{"empty list item", `[{"a":1},,{"b":2}]`, []string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: expected a value"}},
		{"data after the document", `{"a":1} {"b":2}`, []string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: data after the document"}},
		{"not an object", `"bundle"`, []string{"f: not a STIX bundle, envelope, list or object: the document is neither"}},
		{"empty", ``, []string{"f: not a STIX bundle, envelope, list or object: unexpected end of input"}},
		{"second objects list", `{"type":"bundle","objects":[{"a":1}],"objects":[{"b":2}]}`,
			[]string{`f: objects[0] {"a":1}`, "f: not a STIX bundle, envelope, list or object: a second objects member"}},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/one byte reads %v", tt.name, oneByte), func(t *testing.T) {
				r := strings.NewReader(tt.doc)
				var in io.Reader = r
				if oneByte {
					in = iotest.OneByteReader(r)
				}
				got := splitAll(t, in, 0)
				if len(got) != len(tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				for i := range got {
					if !strings.HasPrefix(got[i], tt.want[i]) {
						t.Errorf("item %d = %q, want it to start with %q", i, got[i], tt.want[i])
					}
				}
			})
		}
	}
}

// TestSplitBound: a splitter bounded at max hands out the objects up to
// max bytes and stops at the first larger value, before reading the rest
// of it, whatever it is: an object of the list, a single object, a member
// of the envelope.
func TestSplitBound(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"objects within the bound", `{"objects":[{"a":"12345678"},{"b":1}]}`, []string{`f: objects[0] {"a":"12345678"}`, `f: objects[1] {"b":1}`}},
		{"object over the bound", `{"objects":[{"a":1},{"a":"123456789"},{"b":1}]}`,
			[]string{`f: objects[0] {"a":1}`, "f: a value of more than 16 bytes at offset 37"}},
		{"single object over the bound", `{"type":"x-a","a":"123456789"}`, []string{"f: a value of more than 16 bytes"}},
		{"envelope member over the bound", `{"more":"12345678901234567","objects":[{"a":1}]}`, []string{"f: a value of more than 16 bytes"}},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/one byte reads %v", tt.name, oneByte), func(t *testing.T) {
				var in io.Reader = strings.NewReader(tt.doc)
				if oneByte {
					in = iotest.OneByteReader(in)
				}
				got := splitAll(t, in, 16)
				if len(got) != len(tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				for i := range got {
					if !strings.HasPrefix(got[i], tt.want[i]) {
						t.Errorf("item %d = %q, want it to start with %q", i, got[i], tt.want[i])
					}
				}
			})
		}
	}
}
