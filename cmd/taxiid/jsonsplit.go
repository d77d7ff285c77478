package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// jsonSplitter reads a JSON document from a stream and hands out the raw
// bytes of the objects it holds, one at a time: the objects of a bundle or
// envelope (top-level "objects" list), the items of a top-level list, or
// the document itself when it is a single object. It checks the structure
// around the objects; each object is checked by the validator. Only the
// object being read is held in memory, so that `taxiid validate` and
// `taxiid import` read files of any size.
type jsonSplitter struct {
	r   io.Reader
	buf []byte // buf[pos:] is read but not consumed
	pos int
	off int64 // input offset of buf[0]
	err error // of the last read
	// max, when positive, bounds the bytes of one value handed out (and of
	// the members of a bundle or envelope besides its objects): a larger
	// one is a splitError, before more of it is read.
	max int
}

// splitError is a document that is not a bundle, envelope, list or object,
// or holds a value larger than the splitter's max.
type splitError struct {
	msg string
	off int64
	max int // when not 0, the bound a value exceeds
}

func (e *splitError) Error() string {
	if e.max > 0 {
		return fmt.Sprintf("a value of more than %d bytes at offset %d", e.max, e.off)
	}
	return fmt.Sprintf("not a STIX bundle, envelope, list or object: %s at offset %d", e.msg, e.off)
}

// consumed is the input offset of the next byte to read.
func (s *jsonSplitter) consumed() int64 { return s.off + int64(s.pos) }

func (s *jsonSplitter) errorf(format string, args ...any) error {
	return &splitError{msg: fmt.Sprintf(format, args...), off: s.consumed()}
}

// fill reads more input; it reports false at the end of input or on a
// read error (kept in s.err).
func (s *jsonSplitter) fill() bool {
	if s.err != nil {
		return false
	}
	if s.pos > 0 && s.pos == len(s.buf) {
		s.off += int64(s.pos)
		s.buf, s.pos = s.buf[:0], 0
	}
	if len(s.buf) == cap(s.buf) {
		if s.pos > 0 {
			// Move the unconsumed bytes to the front.
			n := copy(s.buf, s.buf[s.pos:])
			s.off += int64(s.pos)
			s.buf, s.pos = s.buf[:n], 0
		}
		if len(s.buf) == cap(s.buf) {
			s.buf = append(s.buf, make([]byte, cap(s.buf))...)[:len(s.buf)]
		}
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if err != nil {
		s.err = err
	}
	return n > 0 || err == nil
}

// peek returns the next byte that is not white space, without consuming
// it; ok is false at the end of input.
func (s *jsonSplitter) peek() (c byte, ok bool) {
	for {
		for s.pos < len(s.buf) {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, true
			}
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// readErr is the error at the end of input: a read error, or a truncated
// document.
func (s *jsonSplitter) readErr() error {
	if s.err != nil && s.err != io.EOF {
		return s.err
	}
	return s.errorf("unexpected end of input")
}

func (s *jsonSplitter) expect(c byte) error {
	got, ok := s.peek()
	if !ok {
		return s.readErr()
	}
	if got != c {
		return s.errorf("expected %q, found %q", c, got)
	}
	s.pos++
	return nil
}

// value consumes the next value and returns its raw bytes, appended to
// dst. It follows strings and nesting only; the validator checks the rest.
// With a max, dst may not grow beyond it.
func (s *jsonSplitter) value(dst []byte) ([]byte, error) {
	dst, err := s.scan(dst)
	if err == nil && s.max > 0 && len(dst) > s.max {
		return dst, s.tooLarge()
	}
	return dst, err
}

func (s *jsonSplitter) tooLarge() error {
	return &splitError{off: s.consumed(), max: s.max}
}

// scan is value without the final check of the bound: it stops reading
// once a value is one byte over it.
func (s *jsonSplitter) scan(dst []byte) ([]byte, error) {
	c, ok := s.peek()
	if !ok {
		return dst, s.readErr()
	}
	start := s.pos
	depth := 0
	inString, escaped := false, false
	for {
		if s.pos == len(s.buf) {
			dst = append(dst, s.buf[start:s.pos]...)
			if !s.fill() {
				if depth == 0 && !inString && c != '"' && c != '{' && c != '[' {
					return dst, nil // a scalar ending the input
				}
				return dst, s.readErr()
			}
			start = s.pos
		}
		b := s.buf[s.pos]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
				if depth == 0 {
					s.pos++
					return append(dst, s.buf[start:s.pos]...), nil
				}
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			if depth == 0 {
				return append(dst, s.buf[start:s.pos]...), nil // end of the enclosing value
			}
			depth--
			if depth == 0 {
				s.pos++
				return append(dst, s.buf[start:s.pos]...), nil
			}
		case depth == 0 && (b == ',' || b == ' ' || b == '\t' || b == '\n' || b == '\r'):
			return append(dst, s.buf[start:s.pos]...), nil // end of a scalar
		}
		s.pos++
		if s.max > 0 && len(dst)+s.pos-start > s.max {
			return dst, s.tooLarge()
		}
	}
}

// list calls fn with the raw bytes of each item of the list at the input.
func (s *jsonSplitter) list(fn func(i int, raw []byte)) error {
	if err := s.expect('['); err != nil {
		return err
	}
	for i := 0; ; i++ {
		c, ok := s.peek()
		if !ok {
			return s.readErr()
		}
		if c == ']' && i == 0 {
			s.pos++
			return nil
		}
		raw, err := s.value(nil)
		if err != nil {
			return err
		}
		if len(raw) == 0 {
			return s.errorf("expected a value")
		}
		fn(i, raw)
		c, ok = s.peek()
		if !ok {
			return s.readErr()
		}
		s.pos++
		switch c {
		case ',':
		case ']':
			return nil
		default:
			return s.errorf("expected ',' or ']' after a list item, found %q", c)
		}
	}
}

// document splits the input, calling item with each object in order: its
// index in the objects list (0 for a document that is one object) and its
// bytes as read.
func (s *jsonSplitter) document(item func(i int, raw []byte)) error {
	c, ok := s.peek()
	if !ok {
		return s.readErr()
	}
	switch c {
	case '[':
		if err := s.list(item); err != nil {
			return err
		}
	case '{':
		single, err := s.object(item)
		if err != nil {
			return err
		}
		if single != nil {
			item(0, single)
		}
	default:
		return s.errorf("the document is neither a JSON object nor a list")
	}
	if _, ok := s.peek(); ok {
		return s.errorf("data after the document")
	}
	if s.err != nil && s.err != io.EOF {
		return s.err
	}
	return nil
}

// object reads a top-level object. A bundle (type "bundle") or an envelope
// (no type) has its objects list streamed to item; any other object is
// returned whole. A bundle's type may come after its objects; a custom
// object with an objects list must have its type first to be read whole.
func (s *jsonSplitter) object(item func(i int, raw []byte)) (single []byte, err error) {
	s.pos++ // '{'
	whole := []byte{'{'}
	typ, streamed := "", false
	for n := 0; ; n++ {
		c, ok := s.peek()
		if !ok {
			return nil, s.readErr()
		}
		if c == '}' && n == 0 {
			s.pos++
			break
		}
		rawKey, err := s.value(nil)
		if err != nil {
			return nil, err
		}
		var key string
		if len(rawKey) == 0 || rawKey[0] != '"' || json.Unmarshal(rawKey, &key) != nil {
			return nil, s.errorf("expected a member name")
		}
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		c, ok = s.peek()
		if !ok {
			return nil, s.readErr()
		}
		if key == "objects" && streamed {
			// Objects after the list streamed would be dropped, or read
			// whole.
			return nil, s.errorf("a second objects member")
		}
		if key == "objects" && c == '[' && (typ == "" || typ == "bundle") {
			if err := s.list(item); err != nil {
				return nil, err
			}
			streamed = true
		} else {
			if n > 0 {
				whole = append(whole, ',')
			}
			whole = append(append(whole, rawKey...), ':')
			start := len(whole)
			if whole, err = s.value(whole); err != nil {
				return nil, err
			}
			if key == "type" && typ == "" {
				if json.Unmarshal(whole[start:], &typ) != nil || typ == "" {
					typ = "?"
				}
			}
		}
		c, ok = s.peek()
		if !ok {
			return nil, s.readErr()
		}
		s.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, s.errorf("expected ',' or '}' after a member, found %q", c)
		}
	}
	if !streamed {
		return append(whole, '}'), nil
	}
	if typ != "" && typ != "bundle" {
		return nil, s.errorf("type %q follows an objects list read as a bundle's; put type first in an object with an objects list", typ)
	}
	return nil, nil
}
