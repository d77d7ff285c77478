package main

import (
	"bufio"
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
	item := func(i int, raw []byte) { p.submit(name+": objects["+strconv.Itoa(i)+"]", raw, "") }
	if err := s.document(item); err != nil {
		var se *splitError
		if !errors.As(err, &se) {
			return fmt.Errorf("%s: %w", name, err)
		}
		p.submit(name, nil, err.Error())
	}
	return nil
}
