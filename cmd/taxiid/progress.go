package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress modes of import and export (--progress).
const (
	progressAuto  = "auto"  // a bar on a terminal, lines otherwise
	progressBar   = "bar"   // a bar, redrawn in place
	progressLines = "lines" // a line every --progress-interval
	progressNone  = "none"
)

// progress shows how far a bulk import or export is, on standard error:
// objects done, objects per second, bytes done (of the input, up to the
// last object stored; of the output) and, when the size of the input is
// known, the time left, estimated from them.
type progress struct {
	verb    string // "imported", "exported"
	objects atomic.Int64
	bytes   atomic.Int64
	total   int64 // bytes in all; -1 when unknown
	start   time.Time

	stop chan struct{}
	done sync.WaitGroup
	bar  *progressbar.ProgressBar
	w    io.Writer
}

// startProgress starts showing progress on w in mode (see the constants;
// auto picks a bar when w is a terminal), with lines every interval.
// total is the number of bytes of the input, -1 when unknown.
func startProgress(w io.Writer, mode string, interval time.Duration, verb string, total int64) *progress {
	p := &progress{verb: verb, total: total, start: time.Now(), stop: make(chan struct{}), w: w}
	if mode == progressAuto {
		mode = progressLines
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = progressBar
		}
	}
	switch mode {
	case progressBar:
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(total > 0),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSpinnerType(14),
		)
		p.every(200*time.Millisecond, func() {
			p.bar.Describe(p.describe())
			p.bar.Set64(p.bytes.Load())
		})
	case progressLines:
		if interval > 0 {
			p.every(interval, func() { fmt.Fprintln(w, p.line()) })
		}
	}
	return p
}

// every runs fn every d until finish.
func (p *progress) every(d time.Duration, fn func()) {
	p.done.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				fn()
			}
		}
	})
}

// finish stops showing progress; a bar is left drawn complete.
func (p *progress) finish() {
	close(p.stop)
	p.done.Wait()
	if p.bar != nil {
		p.bar.Describe(p.describe())
		p.bar.Set64(p.bytes.Load())
		p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

// rate is the objects done per second since the start.
func (p *progress) rate() float64 {
	s := time.Since(p.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.objects.Load()) / s
}

func (p *progress) describe() string {
	return fmt.Sprintf("%d objects %s, %.0f objects/s", p.objects.Load(), p.verb, p.rate())
}

// line is one progress line: "12000 objects imported, 3000 objects/s, 25.0
// of 100.0 MiB (25%), 3s elapsed, about 9s left".
func (p *progress) line() string {
	elapsed := time.Since(p.start)
	s := p.describe()
	n := p.bytes.Load()
	switch {
	case p.total > 0:
		s += fmt.Sprintf(", %.1f of %s (%d%%)", float64(n)/(1<<20), mebibytes(p.total), n*100/p.total)
	case n > 0:
		s += ", " + mebibytes(n)
	}
	s += fmt.Sprintf(", %s elapsed", elapsed.Round(time.Second))
	if p.total > 0 && n > 0 && n < p.total {
		left := time.Duration(float64(elapsed) * float64(p.total-n) / float64(n))
		s += fmt.Sprintf(", about %s left", left.Round(time.Second))
	}
	return s
}

// mebibytes writes n bytes in MiB, or KiB below one MiB.
func mebibytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// countingReader counts the bytes read through it into n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	k, err := c.r.Read(b)
	c.n.Add(int64(k))
	return k, err
}
