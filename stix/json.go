package stix

// Strict JSON: the decoder of the objects Validate checks. It reads an
// object in one pass and builds the same values encoding/json does
// (map[string]any, []any, string, float64, bool, nil), and it reports what
// encoding/json silently accepts but a consumer may read differently than
// the validator did (RFC 8259, sections 4 and 8.1; I-JSON, RFC 7493):
// a member name repeated within an object, a string that is not valid
// UTF-8, and an escaped surrogate that is not part of a pair.

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonMaxDepth bounds the nesting of decoded values, as encoding/json does.
const jsonMaxDepth = 10000

// errJSONNotObject is returned for a document that is not a JSON object.
var errJSONNotObject = errors.New("not a JSON object")

// jsonSyntaxError is a document that is not JSON.
type jsonSyntaxError struct {
	msg    string
	offset int
}

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.msg, e.offset)
}

// jsonDecoder reads one document.
type jsonDecoder struct {
	data  []byte
	pos   int
	depth int
	// path is the position of the value being decoded, for findings.
	path rulePath
	fs   findingSet
}

// decodeJSONObject decodes a JSON object. The error, errJSONNotObject or a
// *jsonSyntaxError, says the document cannot be read; the findings, when
// it can, say where it is not strict JSON. Strings that are not valid
// UTF-8 or hold a lone surrogate are decoded with U+FFFD in place of the
// bad bytes, and of a repeated member name the first value is kept.
func decodeJSONObject(data []byte) (map[string]any, findingSet, error) {
	d := jsonDecoder{data: data}
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, findingSet{}, errJSONNotObject
	}
	obj, err := d.object()
	if err != nil {
		return nil, findingSet{}, err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return nil, findingSet{}, d.errorf("invalid character %s after the object", quoteByte(d.data[d.pos]))
	}
	return obj, d.fs, nil
}

func (d *jsonDecoder) errorf(format string, args ...any) error {
	return &jsonSyntaxError{msg: fmt.Sprintf(format, args...), offset: d.pos}
}

// finding records a problem of the value at the current path, followed by
// extra path parts; at most maxFindings are kept, the others counted.
func (d *jsonDecoder) finding(rule, msg string, extra ...any) {
	if len(d.fs.fails) >= maxFindings {
		d.fs.moreFails++
		return
	}
	d.fs.fails = append(d.fs.fails, Finding{Pointer: d.path.pointer(extra...), Rule: rule, Message: msg})
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func quoteByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("0x%02x", c)
	}
	return strconv.QuoteRune(rune(c))
}

func (d *jsonDecoder) value() (any, error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of JSON input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str(false)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	default:
		return nil, d.errorf("invalid character %s looking for the beginning of a value", quoteByte(c))
	}
}

func (d *jsonDecoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.errorf("invalid literal, expected %s", word)
	}
	d.pos += len(word)
	return nil
}

func (d *jsonDecoder) enter() error {
	d.depth++
	if d.depth > jsonMaxDepth {
		return d.errorf("exceeded max depth %d", jsonMaxDepth)
	}
	return nil
}

// object decodes an object; d.pos is at its '{'.
func (d *jsonDecoder) object() (map[string]any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++
	m := make(map[string]any)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return m, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			if d.pos >= len(d.data) {
				return nil, d.errorf("unexpected end of JSON input")
			}
			return nil, d.errorf("invalid character %s looking for the beginning of a member name", quoteByte(d.data[d.pos]))
		}
		key, err := d.str(true)
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("expected ':' after a member name")
		}
		d.pos++
		d.path.push(key)
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			d.finding("duplicate-member", fmt.Sprintf("member name %s appears more than once in the object; JSON consumers disagree on which value counts", ruleQuote(key)))
		} else {
			m[key] = v
		}
		d.path.pop()
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of JSON input")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return m, nil
		default:
			return nil, d.errorf("invalid character %s after an object member", quoteByte(d.data[d.pos]))
		}
	}
}

// array decodes an array; d.pos is at its '['.
func (d *jsonDecoder) array() ([]any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++
	list := []any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return list, nil
	}
	for i := 0; ; i++ {
		d.path.pushIdx(i)
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.path.pop()
		list = append(list, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of JSON input")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return list, nil
		default:
			return nil, d.errorf("invalid character %s after an array element", quoteByte(d.data[d.pos]))
		}
	}
}

// str decodes a string; d.pos is at its opening quote. name tells the
// string is a member name: its findings then point at the member (the
// path does not hold it yet).
func (d *jsonDecoder) str(name bool) (string, error) {
	d.pos++
	start := d.pos
	// Fast path: printable ASCII without escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		d.pos++
	}
	buf := make([]byte, d.pos-start, d.pos-start+16)
	copy(buf, d.data[start:d.pos])
	var badUTF8, loneSurrogate bool
	for {
		if d.pos >= len(d.data) {
			return "", d.errorf("unexpected end of JSON input in a string")
		}
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			s := string(buf)
			if badUTF8 || loneSurrogate {
				var extra []any
				if name {
					extra = []any{s}
				}
				if badUTF8 {
					d.finding("invalid-utf8", "string is not valid UTF-8", extra...)
				}
				if loneSurrogate {
					d.finding("lone-surrogate", "string escapes a UTF-16 surrogate that is not part of a pair", extra...)
				}
			}
			return s, nil
		case c < 0x20:
			return "", d.errorf("invalid control character %s in a string", quoteByte(c))
		case c == '\\':
			r, n, lone, err := d.escape()
			if err != nil {
				return "", err
			}
			loneSurrogate = loneSurrogate || lone
			buf = utf8.AppendRune(buf, r)
			d.pos += n
		case c < 0x80:
			buf = append(buf, c)
			d.pos++
		default:
			r, n := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && n == 1 {
				badUTF8 = true
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d.data[d.pos:d.pos+n]...)
			}
			d.pos += n
		}
	}
}

// escape decodes the escape sequence at d.pos and returns its rune and
// length; lone reports an escaped surrogate that is not part of a pair
// (decoded as U+FFFD).
func (d *jsonDecoder) escape() (r rune, n int, lone bool, err error) {
	if d.pos+1 >= len(d.data) {
		return 0, 0, false, d.errorf("unexpected end of JSON input in a string")
	}
	switch d.data[d.pos+1] {
	case '"':
		return '"', 2, false, nil
	case '\\':
		return '\\', 2, false, nil
	case '/':
		return '/', 2, false, nil
	case 'b':
		return '\b', 2, false, nil
	case 'f':
		return '\f', 2, false, nil
	case 'n':
		return '\n', 2, false, nil
	case 'r':
		return '\r', 2, false, nil
	case 't':
		return '\t', 2, false, nil
	case 'u':
		r, n, lone, ok := unicodeEscape(d.data[d.pos:])
		if !ok {
			return 0, 0, false, d.errorf("invalid \\u escape in a string")
		}
		return r, n, lone, nil
	}
	return 0, 0, false, d.errorf("invalid escape %s in a string", quoteByte(d.data[d.pos+1]))
}

// unicodeEscape decodes the \\u escape at the start of b, with the low
// surrogate escape that must follow a high one, and returns its rune and
// length; lone reports an escaped surrogate that is not part of a pair
// (decoded as U+FFFD); ok is false for a malformed escape.
func unicodeEscape(b []byte) (r rune, n int, lone, ok bool) {
	r1, ok := hex4(b[2:])
	if !ok {
		return 0, 0, false, false
	}
	switch {
	case r1 >= 0xD800 && r1 < 0xDC00:
		if rest := b[6:]; len(rest) >= 6 && rest[0] == '\\' && rest[1] == 'u' {
			if r2, ok := hex4(rest[2:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
				return utf16.DecodeRune(r1, r2), 12, false, true
			}
		}
		return utf8.RuneError, 6, true, true
	case r1 >= 0xDC00 && r1 < 0xE000:
		return utf8.RuneError, 6, true, true
	}
	return r1, 6, false, true
}

// CheckText reports invalid UTF-8 or an unpaired UTF-16 surrogate escape
// ("\\ud800") in raw, which is valid JSON. encoding/json replaces both with
// U+FFFD without a word, so that two readers of the same bytes could see
// different strings (RFC 8259 section 8.2). Validate reports them in
// objects as it decodes them; CheckText serves JSON that is not an object
// to validate, such as the members of a TAXII envelope.
func CheckText(raw []byte) error {
	if !utf8.Valid(raw) {
		return errors.New("invalid UTF-8")
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		switch b := raw[i]; {
		case !inString:
			inString = b == '"'
		case b == '"':
			inString = false
		case b == '\\':
			if i+1 < len(raw) && raw[i+1] == 'u' {
				_, n, lone, ok := unicodeEscape(raw[i:])
				if lone || !ok {
					return errors.New("an unpaired UTF-16 surrogate escape")
				}
				i += n - 1
			} else {
				i++
			}
		}
	}
	return nil
}

// hex4 reads four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number decodes a number (RFC 8259, section 6) as a float64, as
// encoding/json does.
func (d *jsonDecoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case digits() == 0:
		return nil, d.errorf("invalid number")
	}
	integer := true
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		integer = false
		if digits() == 0 {
			return nil, d.errorf("invalid number: no digits after the decimal point")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		integer = false
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.errorf("invalid number: no digits in the exponent")
		}
	}
	lit := d.data[start:d.pos]
	if integer && len(lit) <= 15 {
		// Exact in a float64: no need for strconv.
		var n int64
		neg := lit[0] == '-'
		if neg {
			lit = lit[1:]
		}
		for _, c := range lit {
			n = n*10 + int64(c-'0')
		}
		if neg {
			return -float64(n), nil // -0 stays negative zero, as in strconv
		}
		return float64(n), nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return nil, &jsonSyntaxError{msg: fmt.Sprintf("number %s is out of the range of a float64", lit), offset: start}
	}
	return f, nil
}
