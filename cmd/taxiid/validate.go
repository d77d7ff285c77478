package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/taxiid/taxiid/stix"
)

// errInvalid makes validate exit with status 1 without another message.
var errInvalid = errors.New("invalid STIX content")

// validate is `taxiid validate [flags] FILE...`: it checks bundles,
// envelopes, lists of objects or single objects, from files or standard
// input ("-"), prints every finding, and fails when any object is invalid.
// Partners run it before they push.
//
// The input is read as a stream: the objects of a bundle or envelope are
// validated on every core while the rest of the file is still being read,
// and only the objects in flight are held in memory. The output is in the
// order of the input.
func validate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	level := fs.String("level", "default", "validation level: strict, default or permissive")
	schemaDir := fs.String("schema-dir", "", "directory of JSON schemas adding to or overriding the built-in ones")
	quiet := fs.Bool("quiet", false, "print failures only, not warnings and the summary")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "objects validated at once")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: taxiid validate [flags] FILE... (- for standard input)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("validate: no files given")
	}
	if *workers < 1 {
		return errors.New("validate: --workers must be at least 1")
	}
	lvl, err := stix.ParseLevel(*level)
	if err != nil {
		return err
	}
	v, err := stix.NewValidator(stix.Options{SchemaDir: *schemaDir})
	if err != nil {
		return err
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	p := newValidatePool(v, lvl, *workers, !*quiet, out)
	var readErr error
	for _, name := range fs.Args() {
		if readErr = p.file(name, stdin); readErr != nil {
			break
		}
	}
	p.close()
	if readErr != nil {
		out.Flush()
		return readErr
	}
	if !*quiet {
		fmt.Fprintf(out, "%d objects checked at level %s, %d invalid\n", p.total, lvl, p.failed)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if p.failed > 0 {
		return errInvalid
	}
	return nil
}

// validateJob is one object to validate, or a problem of the document it
// comes from (problem set, raw nil), numbered in input order.
type validateJob struct {
	seq     int
	where   string // "FILE: objects[i]"
	raw     []byte
	problem string
}

// validateResult is the output of one job.
type validateResult struct {
	seq     int
	text    string
	objects int
	failed  int
}

// validatePool validates objects on several goroutines and prints their
// findings in input order.
type validatePool struct {
	v        *stix.Validator
	level    stix.Level
	warnings bool
	jobs     chan validateJob
	results  chan validateResult
	workers  sync.WaitGroup
	printed  chan struct{}
	seq      int
	// total and failed are read after close.
	total, failed int
}

func newValidatePool(v *stix.Validator, level stix.Level, n int, warnings bool, out io.Writer) *validatePool {
	p := &validatePool{
		v: v, level: level, warnings: warnings,
		// A few objects per worker keep every core busy; the bound keeps
		// memory to the objects in flight.
		jobs:    make(chan validateJob, 4*n),
		results: make(chan validateResult, 4*n),
		printed: make(chan struct{}),
	}
	p.workers.Add(n)
	for range n {
		go func() {
			defer p.workers.Done()
			for j := range p.jobs {
				p.results <- p.check(j)
			}
		}()
	}
	go p.print(out)
	return p
}

// check validates one job and renders its findings.
func (p *validatePool) check(j validateJob) validateResult {
	r := validateResult{seq: j.seq}
	if j.raw == nil {
		r.text = j.where + ": " + j.problem + "\n"
		r.failed = 1
		return r
	}
	r.objects = 1
	id, warnings, err := p.v.Validate(j.raw, p.level)
	where := j.where
	if id.ID != "" {
		where += " " + id.ID
	}
	var b strings.Builder
	var ve *stix.ValidationError
	if errors.As(err, &ve) {
		r.failed = 1
		for _, f := range ve.Findings {
			fmt.Fprintf(&b, "%s: error: %s [%s]\n", where, f, f.Rule)
		}
	}
	if p.warnings {
		for _, f := range warnings {
			fmt.Fprintf(&b, "%s: warning: %s [%s]\n", where, f, f.Rule)
		}
	}
	r.text = b.String()
	return r
}

// print writes the results in input order.
func (p *validatePool) print(out io.Writer) {
	defer close(p.printed)
	next := 0
	pending := map[int]validateResult{}
	for r := range p.results {
		pending[r.seq] = r
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			p.total += r.objects
			p.failed += r.failed
			io.WriteString(out, r.text)
		}
	}
}

// submit queues one object or document problem.
func (p *validatePool) submit(where string, raw []byte, problem string) {
	p.jobs <- validateJob{seq: p.seq, where: where, raw: raw, problem: problem}
	p.seq++
}

// close waits for every queued job to be printed.
func (p *validatePool) close() {
	close(p.jobs)
	p.workers.Wait()
	close(p.results)
	<-p.printed
}

// file reads one input and queues its objects. Problems of the document
// (not JSON, no objects where a bundle has them) are reported as invalid
// content; the error is for input that cannot be read at all.
func (p *validatePool) file(name string, stdin io.Reader) error {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	s := &jsonSplitter{r: r, buf: make([]byte, 0, 64<<10)}
	if err := s.document(name, p.submit); err != nil {
		var se *splitError
		if !errors.As(err, &se) {
			return fmt.Errorf("%s: %w", name, err)
		}
		p.submit(name, nil, err.Error())
	}
	return nil
}

// jsonSplitter reads a JSON document from a stream and hands out the raw
// bytes of the objects it holds, one at a time: the objects of a bundle or
// envelope (top-level "objects" list), the items of a top-level list, or
// the document itself when it is a single object. It checks the structure
// around the objects; each object is checked by the validator.
type jsonSplitter struct {
	r   io.Reader
	buf []byte // buf[pos:] is read but not consumed
	pos int
	off int64 // input offset of buf[0]
	err error // of the last read
}

// splitError is a document that is not a bundle, envelope, list or object.
type splitError struct {
	msg string
	off int64
}

func (e *splitError) Error() string {
	return fmt.Sprintf("not a STIX bundle, envelope, list or object: %s at offset %d", e.msg, e.off)
}

func (s *jsonSplitter) errorf(format string, args ...any) error {
	return &splitError{msg: fmt.Sprintf(format, args...), off: s.off + int64(s.pos)}
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
func (s *jsonSplitter) value(dst []byte) ([]byte, error) {
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

// document splits the input, calling submit with each object (where, raw)
// in order.
func (s *jsonSplitter) document(name string, submit func(where string, raw []byte, problem string)) error {
	c, ok := s.peek()
	if !ok {
		return s.readErr()
	}
	item := func(i int, raw []byte) { submit(name+": objects["+strconv.Itoa(i)+"]", raw, "") }
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
			submit(name+": objects[0]", single, "")
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
		if key == "objects" && c == '[' && (typ == "" || typ == "bundle") && !streamed {
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
