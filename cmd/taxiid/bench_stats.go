package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// histogram counts non-negative values (durations in nanoseconds, sizes
// in bytes) in logarithmic buckets: values below histSub exactly, larger
// ones in histSub buckets per power of two, so that a quantile is off by
// less than 1/histSub (0.8%) whatever the value, in a fixed 58 KiB however
// many values are recorded.
type histogram struct {
	counts []uint64 // allocated at the first value
	n      uint64
	max    int64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histBuckets = (64-histSubBits)*histSub + histSub
)

func histBucket(v int64) int {
	if v < histSub {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	return (e+1)*histSub + int(v>>e) - histSub
}

// histHigh is the largest value of bucket i.
func histHigh(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i/histSub - 1
	m := int64(i%histSub + histSub)
	return (m+1)<<e - 1
}

func (h *histogram) record(v int64) {
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[histBucket(v)]++
	h.n++
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value below or at which a fraction q of the values
// lie (the top of its bucket, never above the largest value recorded); 0
// when nothing was recorded.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histHigh(i), h.max)
		}
	}
	return h.max
}

// envelopeSummary is what a load client needs of a page: how many
// objects it holds and where the next one starts.
type envelopeSummary struct {
	objects int
	more    bool
	next    string
}

var errTruncated = errors.New("truncated JSON")

// scanEnvelope reads a TAXII envelope (TAXII 2.1 section 3.7) as fast as a
// client can: it counts the elements of "objects" and reads "more" and
// "next", skipping everything else without decoding it. It is no
// validator: it relies on the server's JSON being well formed, and checks
// only the structure it walks.
func scanEnvelope(b []byte) (envelopeSummary, error) {
	var sum envelopeSummary
	s := jsonScan{b: b}
	s.space()
	if !s.eat('{') {
		return sum, s.fail("an object")
	}
	s.space()
	if !s.eat('}') {
		for {
			s.space()
			key, err := s.rawString()
			if err != nil {
				return sum, err
			}
			s.space()
			if !s.eat(':') {
				return sum, s.fail("':'")
			}
			s.space()
			switch string(key) {
			case `"more"`:
				switch {
				case bytes.HasPrefix(s.b[s.i:], []byte("true")):
					sum.more, s.i = true, s.i+4
				case bytes.HasPrefix(s.b[s.i:], []byte("false")):
					sum.more, s.i = false, s.i+5
				default:
					return sum, s.fail("true or false")
				}
			case `"next"`:
				raw, err := s.rawString()
				if err != nil {
					return sum, err
				}
				if err := json.Unmarshal(raw, &sum.next); err != nil {
					return sum, fmt.Errorf("next: %w", err)
				}
			case `"objects"`:
				if sum.objects, err = s.countArray(); err != nil {
					return sum, err
				}
			default:
				if err := s.skip(); err != nil {
					return sum, err
				}
			}
			s.space()
			if s.eat(',') {
				continue
			}
			if s.eat('}') {
				break
			}
			return sum, s.fail("',' or '}'")
		}
	}
	s.space()
	if s.i != len(s.b) {
		return sum, s.fail("the end")
	}
	return sum, nil
}

// jsonScan walks JSON text without decoding it.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) fail(want string) error {
	if s.i >= len(s.b) {
		return errTruncated
	}
	return fmt.Errorf("offset %d: want %s, found %q", s.i, want, s.b[s.i])
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScan) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// rawString returns the string at the position, quotes and escapes
// included.
func (s *jsonScan) rawString() ([]byte, error) {
	start := s.i
	if err := s.skipString(); err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

// skipString moves past the string at the position: to the first quote
// preceded by an even number of backslashes.
func (s *jsonScan) skipString() error {
	if !s.eat('"') {
		return s.fail("a string")
	}
	for j := s.i; ; j++ {
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			return errTruncated
		}
		j += k
		backslashes := 0
		for p := j - 1; p >= s.i && s.b[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			s.i = j + 1
			return nil
		}
	}
}

// skip moves past the value at the position.
func (s *jsonScan) skip() error {
	if s.i >= len(s.b) {
		return errTruncated
	}
	switch s.b[s.i] {
	case '"':
		return s.skipString()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if err := s.skipString(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errTruncated
	default: // a number, true, false or null
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if s.i == start {
					return s.fail("a value")
				}
				return nil
			}
			s.i++
		}
		return errTruncated
	}
}

// countArray moves past the array at the position and returns the number
// of its elements.
func (s *jsonScan) countArray() (int, error) {
	if !s.eat('[') {
		return 0, s.fail("an array")
	}
	s.space()
	if s.eat(']') {
		return 0, nil
	}
	n := 0
	for {
		s.space()
		if err := s.skip(); err != nil {
			return n, err
		}
		n++
		s.space()
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			return n, nil
		}
		return n, s.fail("',' or ']'")
	}
}
