package taxii

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/taxiid/taxiid/stix"
)

// Bounds of a pushed envelope besides the API root's max_content_length.
const (
	// DefaultMaxObjects is the default of Config.MaxObjects.
	DefaultMaxObjects = 200_000
	// maxDepth bounds the nesting of arrays and objects in a body, the
	// envelope itself counting as one level.
	maxDepth = 64
	// maxMembers bounds the members of the envelope itself (an envelope has
	// three, a bundle four), whose names are remembered to find duplicates.
	maxMembers = 100
	// keptScratch: a buffer objects were read into is reused for the next
	// object up to this size, and left to the collector beyond it.
	keptScratch = 4 << 20
)

// decodeEnvelope reads a TAXII envelope (section 3.7) or a STIX bundle from
// r, streaming: each object becomes its own json.RawMessage, compacted
// (insignificant white space left out, strings as pushed: the form objects
// are stored in), and nothing else of the body is kept, so that a request
// holds about its body's size in memory.
//
// JSON is read strictly: member names are case-sensitive (only "objects"
// holds the objects), a duplicate member of the envelope, invalid UTF-8 or
// an unpaired surrogate escape in the envelope's own members, and nesting
// deeper than maxDepth are a 400, as is a body that is not JSON. JSON of
// another shape is a 422; more than maxObjects objects a 413, more than
// maxMembers members of the envelope a 400. The content of
// each object is left to the validator. Errors of r (a MaxBytesError, a
// timeout) are returned as they are.
func decodeEnvelope(r io.Reader, maxObjects int) ([]json.RawMessage, error) {
	d := &envelopeDecoder{r: bufio.NewReaderSize(r, 64<<10), maxObjects: maxObjects}
	objs, err := d.envelope()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errorf(http.StatusBadRequest, "the request body is not valid JSON: it ends at byte %d, inside a value", d.offset)
	}
	return objs, err
}

// envelopeDecoder scans a body from a buffered reader.
type envelopeDecoder struct {
	r          *bufio.Reader
	offset     int64 // bytes consumed
	maxObjects int
	scratch    []byte // reused to read objects into
}

func (d *envelopeDecoder) syntaxError(format string, args ...any) error {
	return errorf(http.StatusBadRequest, "the request body is not valid JSON: %s (at byte %d)", fmt.Sprintf(format, args...), d.offset)
}

var errNotEnvelope = errorf(http.StatusUnprocessableEntity,
	"the request body must be a TAXII envelope or a STIX bundle (a JSON object with an objects list)")

func (d *envelopeDecoder) envelope() ([]json.RawMessage, error) {
	c, err := d.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errorf(http.StatusBadRequest, "the request body is empty")
		}
		return nil, err
	}
	if c != '{' {
		// Another JSON value is the wrong shape (422), anything else no
		// JSON at all (400): the rest of the body tells which.
		v, err := d.value(nil, 0)
		if err != nil {
			return nil, err
		}
		if err := d.end(); err != nil {
			return nil, err
		}
		if !json.Valid(v) {
			return nil, d.syntaxError("malformed value")
		}
		return nil, errNotEnvelope
	}
	d.consume()

	var (
		objs     []json.RawMessage
		hasList  bool  // an "objects" array was read
		shapeErr error // a 422 to answer once the body proves to be JSON
		seen     = map[string]bool{}
	)
	for first := true; ; first = false {
		c, err := d.next()
		if err != nil {
			return nil, err
		}
		if c == '}' && first {
			d.consume()
			break
		}
		if c != '"' {
			return nil, d.syntaxError("expected a member name")
		}
		rawName, err := d.value(nil, 1)
		if err != nil {
			return nil, err
		}
		name, err := d.text(rawName, "a member name of the envelope")
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, errorf(http.StatusBadRequest, "the envelope has the member %s twice", strconv.Quote(clip(name)))
		}
		if len(seen) == maxMembers {
			return nil, errorf(http.StatusBadRequest, "the envelope has more than %d members", maxMembers)
		}
		seen[name] = true
		if c, err = d.next(); err != nil {
			return nil, err
		}
		if c != ':' {
			return nil, d.syntaxError("expected ':' after a member name")
		}
		d.consume()
		if c, err = d.next(); err != nil {
			return nil, err
		}
		switch {
		case name == "objects" && c == '[':
			d.consume()
			if objs, err = d.objects(); err != nil {
				return nil, err
			}
			hasList = true
		default:
			raw, err := d.value(nil, 1)
			if err != nil {
				return nil, err
			}
			if !json.Valid(raw) {
				return nil, d.syntaxError("malformed value of member %s", strconv.Quote(clip(name)))
			}
			if err := stix.CheckText(raw); err != nil {
				return nil, errorf(http.StatusBadRequest, "the envelope's member %s: %v", strconv.Quote(clip(name)), err)
			}
			switch name {
			case "objects":
				if string(raw) != "null" {
					shapeErr = errNotEnvelope
				}
			case "type":
				var typ string
				if json.Unmarshal(raw, &typ) != nil {
					shapeErr = errNotEnvelope
				} else if typ != "bundle" {
					shapeErr = errorf(http.StatusUnprocessableEntity, "the request body has type %s; only an envelope or a bundle can be added", strconv.Quote(clip(typ)))
				}
			}
		}
		if c, err = d.next(); err != nil {
			return nil, err
		}
		d.consume()
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, d.syntaxError("expected ',' or '}' after a member")
		}
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	switch {
	case shapeErr != nil:
		return nil, shapeErr
	case !hasList:
		return nil, errorf(http.StatusUnprocessableEntity, "the envelope has no objects list")
	case len(objs) == 0:
		return nil, errorf(http.StatusUnprocessableEntity, "the envelope's objects list is empty")
	}
	return objs, nil
}

// objects reads the elements of the objects list, its '[' consumed, up to
// and including its ']'.
func (d *envelopeDecoder) objects() ([]json.RawMessage, error) {
	var objs []json.RawMessage
	for first := true; ; first = false {
		c, err := d.next()
		if err != nil {
			return nil, err
		}
		if c == ']' && first {
			d.consume()
			return objs, nil
		}
		if len(objs) == d.maxObjects {
			return nil, errorf(http.StatusRequestEntityTooLarge,
				"the envelope holds more than %d objects; push them in several requests", d.maxObjects)
		}
		d.scratch, err = d.value(d.scratch[:0], 2)
		if err != nil {
			return nil, err
		}
		// Compact checks the syntax as it copies.
		obj := bytes.NewBuffer(make([]byte, 0, len(d.scratch)))
		if err := json.Compact(obj, d.scratch); err != nil {
			return nil, d.syntaxError("malformed object at objects[%d]", len(objs))
		}
		if cap(d.scratch) > keptScratch {
			d.scratch = nil
		}
		objs = append(objs, obj.Bytes())
		if c, err = d.next(); err != nil {
			return nil, err
		}
		d.consume()
		if c == ']' {
			return objs, nil
		}
		if c != ',' {
			return nil, d.syntaxError("expected ',' or ']' after objects[%d]", len(objs)-1)
		}
	}
}

// next returns the next byte that is not white space, without consuming
// it.
func (d *envelopeDecoder) next() (byte, error) {
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, err
		}
		d.offset++
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		d.r.UnreadByte()
		d.offset--
		return c, nil
	}
}

// consume consumes the byte next returned.
func (d *envelopeDecoder) consume() {
	d.r.ReadByte()
	d.offset++
}

// end checks that only white space follows the envelope.
func (d *envelopeDecoder) end() error {
	_, err := d.next()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	return d.syntaxError("data after the top-level value")
}

// value appends the next JSON value's bytes to dst, exactly as sent. It
// finds where the value ends (strings and nesting), and bounds nesting at
// depth levels above maxDepth; json.Valid then checks what it found.
func (d *envelopeDecoder) value(dst []byte, depth int) ([]byte, error) {
	c, err := d.r.ReadByte()
	if err != nil {
		return dst, err
	}
	d.offset++
	dst = append(dst, c)
	open := 0 // containers open within the value
	inString := false
	switch c {
	case '"':
		inString = true
	case '{', '[':
		open = 1
	default: // a literal or a number: up to the next delimiter
		for {
			buf, err := d.window()
			if errors.Is(err, io.EOF) {
				return dst, nil
			}
			if err != nil {
				return dst, err
			}
			i := 0
			for i < len(buf) && isScalarByte(buf[i]) {
				i++
			}
			dst = append(dst, buf[:i]...)
			d.advance(i)
			if i < len(buf) {
				return dst, nil
			}
		}
	}
	if depth+open > maxDepth {
		return dst, d.nestingError()
	}
	escaped := false
	for {
		buf, err := d.window()
		if err != nil {
			return dst, err
		}
		i, done := 0, false
		for ; i < len(buf) && !done; i++ {
			b := buf[i]
			if inString {
				switch {
				case escaped:
					escaped = false
				case b == '\\':
					escaped = true
				case b == '"':
					inString = false
					done = open == 0
				}
				continue
			}
			switch b {
			case '"':
				inString = true
			case '{', '[':
				open++
				if depth+open > maxDepth {
					return dst, d.nestingError()
				}
			case '}', ']':
				open--
				done = open == 0
			}
		}
		dst = append(dst, buf[:i]...)
		d.advance(i)
		if done {
			return dst, nil
		}
	}
}

func (d *envelopeDecoder) nestingError() error {
	return errorf(http.StatusBadRequest, "the request body nests arrays and objects more than %d levels deep (at byte %d)", maxDepth, d.offset)
}

// window returns the buffered bytes, reading more when there are none.
func (d *envelopeDecoder) window() ([]byte, error) {
	if d.r.Buffered() == 0 {
		if _, err := d.r.Peek(1); err != nil {
			return nil, err
		}
	}
	return d.r.Peek(d.r.Buffered())
}

func (d *envelopeDecoder) advance(n int) {
	d.r.Discard(n)
	d.offset += int64(n)
}

func isScalarByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '+' || b == '.'
}

// text decodes a raw JSON string that must hold text: valid UTF-8 with no
// unpaired surrogate escape.
func (d *envelopeDecoder) text(raw []byte, what string) (string, error) {
	var s string
	if !json.Valid(raw) || json.Unmarshal(raw, &s) != nil {
		return "", d.syntaxError("malformed string as %s", what)
	}
	if err := stix.CheckText(raw); err != nil {
		return "", errorf(http.StatusBadRequest, "%s: %v", what, err)
	}
	return s, nil
}
