package taxii

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Transfer deadlines: a request body must arrive, and a response be read,
// at an average of at least the minimum rate after an initial grace, so
// that a client that stalls (or trickles) does not hold a connection, a
// goroutine and the request's memory for ever, while large transfers at an
// honest rate pass. The deadlines advance as bytes move: by the time n
// bytes have moved, at most grace + n/rate may have passed since the
// request began.
const (
	// DefaultMinTransferRate is the default of Config.MinTransferRate.
	DefaultMinTransferRate = 64 << 10 // bytes per second
	// DefaultTransferGrace is the default of Config.TransferGrace.
	DefaultTransferGrace = 10 * time.Second
	// transferPiece is the most bytes one deadline covers, so that a stall
	// in the middle of a large write is cut within about
	// transferPiece/rate of it.
	transferPiece = 64 << 10
)

// transferRate is a minimum average rate with an initial grace.
type transferRate struct {
	grace     time.Duration
	perSecond int64
}

// deadline is when n bytes must have moved for a transfer begun at start.
func (r transferRate) deadline(start time.Time, n int64) time.Time {
	return start.Add(r.grace + time.Duration(float64(n)/float64(r.perSecond)*float64(time.Second)))
}

// pacedBody is a request body whose read deadline advances with the bytes
// read.
type pacedBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	rate  transferRate
	start time.Time
	n     int64
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if len(p) > transferPiece {
		p = p[:transferPiece]
	}
	_ = b.rc.SetReadDeadline(b.rate.deadline(b.start, b.n+int64(len(p)))) // unsupported: no deadline
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		// Nothing more to read: net/http's own read (which watches for the
		// client going away) must not time out while the handler works.
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errorf(http.StatusRequestTimeout,
			"the request body arrived slower than %d bytes per second (after %v of grace); send it faster or in smaller requests",
			b.rate.perSecond, b.rate.grace)
	}
	return n, err
}

// pacedWriter is a response writer whose write deadline advances with the
// bytes written, counted from the start of the response.
type pacedWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	rate  transferRate
	start time.Time // of the response; zero before it
	n     int64
}

func (w *pacedWriter) begin() {
	if w.start.IsZero() {
		w.start = time.Now()
		_ = w.rc.SetWriteDeadline(w.rate.deadline(w.start, 0)) // the headers, at least
	}
}

func (w *pacedWriter) WriteHeader(status int) {
	w.begin()
	w.ResponseWriter.WriteHeader(status)
}

func (w *pacedWriter) Write(p []byte) (int, error) {
	w.begin()
	written := 0
	for len(p) > 0 {
		piece := p[:min(len(p), transferPiece)]
		_ = w.rc.SetWriteDeadline(w.rate.deadline(w.start, w.n+int64(len(piece))))
		n, err := w.ResponseWriter.Write(piece)
		w.n += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		p = p[len(piece):]
	}
	return written, nil
}

// Unwrap lets http.ResponseController and echo reach the writer beneath.
func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// pace puts the request's body, from now, and its response, from its first
// byte, under transfer deadlines. A write deadline an earlier request on
// the connection left is cleared: the handler may take its time.
func (s *Server) pace(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	start := time.Now()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	if r.Body != nil && r.Body != http.NoBody {
		paced := *r // handlers leave the given request as it is
		paced.Body = &pacedBody{ReadCloser: r.Body, rc: rc, rate: s.rate, start: start}
		r = &paced
	}
	return &pacedWriter{ResponseWriter: w, rc: rc, rate: s.rate}, r
}
