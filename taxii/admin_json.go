package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/authz"
)

// Bounds of admin request bodies: an admin record is small.
const (
	maxAdminBody  = 64 << 10
	maxAdminDepth = 8
)

// badField is the 400 of a request whose field is wrong.
func badField(field, format string, args ...any) error {
	return &authz.InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// decodeBody reads the JSON object of an admin request into v (a pointer
// to a struct): strictly, so that a request the server would read other
// than its sender meant is refused before anything changes. It refuses a
// Content-Type other than JSON (415), a body over maxAdminBody (413),
// malformed JSON, a member name twice in an object, nesting beyond
// maxAdminDepth, anything after the object, unknown members and values of
// the wrong type (400, naming the member).
func decodeBody(c *echo.Context, v any) error {
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return badField("", "the request needs a JSON object as its body")
	}
	return decodeStrict(raw, v)
}

// decodeOptionalBody is decodeBody for requests whose body may be left
// out (then v stays as it is).
func decodeOptionalBody(c *echo.Context, v any) error {
	r := c.Request()
	if r.ContentLength == 0 || (r.ContentLength < 0 && r.Header.Get("Content-Type") == "") {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1))
		if err != nil {
			return err
		}
		if len(raw) == 0 {
			return nil
		}
		return badField("", "a body needs a Content-Type of application/json")
	}
	return decodeBody(c, v)
}

func readBody(c *echo.Context) ([]byte, error) {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return nil, errorf(http.StatusUnsupportedMediaType, "the request body must be application/json")
	}
	if r.ContentLength > maxAdminBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "the request body exceeds %d bytes", maxAdminBody)
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(raw) > maxAdminBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "the request body exceeds %d bytes", maxAdminBody)
	}
	return raw, nil
}

// decodeStrict decodes raw, one JSON object, into v.
func decodeStrict(raw []byte, v any) error {
	if err := checkJSON(raw); err != nil {
		return err
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return badField("", "malformed JSON: %v", err)
	}
	if err := checkMembers(generic, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	err := decodeInto(raw, v)
	if err == nil {
		return nil
	}
	// Find the member to blame: decode the members one at a time.
	for name, value := range generic.(map[string]any) {
		one, _ := json.Marshal(map[string]any{name: value})
		if merr := decodeInto(one, reflect.New(reflect.TypeOf(v).Elem()).Interface()); merr != nil {
			return memberError(name, merr)
		}
	}
	return badField("", "%v", err)
}

func decodeInto(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(v)
}

// memberError names the field of a decoding error of the top-level member
// name.
func memberError(name string, err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		field := ute.Field
		if field == "" {
			field = name
		}
		return badField(field, "must be %s, not %s", jsonKind(ute.Type), ute.Value)
	}
	var pe *time.ParseError
	if errors.As(err, &pe) || strings.Contains(err.Error(), "Time.UnmarshalJSON") {
		return badField(name, "must be an RFC 3339 time such as 2030-01-31T12:00:00Z")
	}
	return badField(name, "%v", err)
}

var timeType = reflect.TypeFor[time.Time]()

// checkMembers refuses the members of v (a generic decoding) that the Go
// type t does not have, comparing names exactly: encoding/json would also
// take "Name" for "name".
func checkMembers(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	m, ok := v.(map[string]any)
	if !ok || t.Kind() != reflect.Struct || t == timeType {
		if path == "" {
			return badField("", "the request body must be a JSON object")
		}
		return nil
	}
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	for k, val := range m {
		name := k
		if path != "" {
			name = path + "." + k
		}
		ft, ok := fields[k]
		if !ok {
			return badField(name, "unknown field")
		}
		if err := checkMembers(val, ft, name); err != nil {
			return err
		}
	}
	return nil
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// checkJSON checks that raw is one JSON object, with no member twice in
// any of its objects, nested at most maxAdminDepth deep.
func checkJSON(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return malformed(err)
	}
	if tok != json.Delim('{') {
		return badField("", "the request body must be a JSON object")
	}
	if err := checkObject(dec, "", 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return badField("", "the request body must be one JSON object, with nothing after it")
	}
	return nil
}

func malformed(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badField("", "malformed JSON at byte %d: %v", se.Offset, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badField("", "malformed JSON: the body ends too soon")
	}
	return badField("", "malformed JSON: %v", err)
}

func checkValue(dec *json.Decoder, tok json.Token, path string, depth int) error {
	switch tok {
	case json.Delim('{'):
		return checkObject(dec, path, depth+1)
	case json.Delim('['):
		return checkArray(dec, path, depth+1)
	}
	return nil
}

func checkObject(dec *json.Decoder, path string, depth int) error {
	if depth > maxAdminDepth {
		return badField(path, "nested deeper than %d levels", maxAdminDepth)
	}
	seen := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return malformed(err)
		}
		if tok == json.Delim('}') {
			return nil
		}
		k, _ := tok.(string)
		name := k
		if path != "" {
			name = path + "." + k
		}
		if seen[k] {
			return badField(name, "appears twice")
		}
		seen[k] = true
		if tok, err = dec.Token(); err != nil {
			return malformed(err)
		}
		if err := checkValue(dec, tok, name, depth); err != nil {
			return err
		}
	}
}

func checkArray(dec *json.Decoder, path string, depth int) error {
	if depth > maxAdminDepth {
		return badField(path, "nested deeper than %d levels", maxAdminDepth)
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return malformed(err)
		}
		if tok == json.Delim(']') {
			return nil
		}
		if err := checkValue(dec, tok, path, depth); err != nil {
			return err
		}
	}
}

// Query parameters.

// pageQuery reads limit and cursor, and refuses query parameters other
// than those and the names given, and any given twice.
func pageQuery(c *echo.Context, names ...string) (authz.Page, error) {
	q := c.QueryParams()
	for k, vs := range q {
		if k != "limit" && k != "cursor" && !slices.Contains(names, k) {
			return authz.Page{}, badField(clip(k), "unknown query parameter")
		}
		if len(vs) > 1 {
			return authz.Page{}, badField(k, "given more than once")
		}
	}
	pg := authz.Page{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return authz.Page{}, badField("limit", "must be an integer from 1 to %d", authz.MaxPageLimit)
		}
		pg.Limit = n
	}
	return pg, nil
}

// timeQuery reads an RFC 3339 time parameter; zero when absent.
func timeQuery(c *echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badField(name, "must be an RFC 3339 time such as 2030-01-31T12:00:00Z")
	}
	return t, nil
}
