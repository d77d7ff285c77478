package taxii

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/taxiid/taxiid/collections"
)

// pageWriters recycle the buffers pages are written through: fixed-size,
// so that no request leaves a large buffer behind.
var pageWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// pageBytes is the size of a page's objects.
func pageBytes(p collections.Page) int64 {
	var n int64
	for _, o := range p.Objects {
		n += int64(len(o.Raw))
	}
	return n
}

// writeEnvelope writes a page of objects as a TAXII envelope (section 3.7),
// streaming: the headers first, with the exact Content-Length, then the
// stored bytes of each object as they are, never an assembled copy of the
// page.
func (s *Server) writeEnvelope(c *echo.Context, p collections.Page, next string, from time.Time) error {
	dateAddedHeaders(c, p.Objects, from)
	head := "{"
	if p.More {
		head += `"more":true`
		if next != "" {
			head += `,"next":"` + next + `"`
		}
		if len(p.Objects) > 0 {
			head += ","
		}
	}
	tail := "}"
	size := len(head) + len(tail)
	if len(p.Objects) > 0 {
		head += `"objects":[`
		tail = "]}"
		size = len(head) + len(tail) + len(p.Objects) - 1
		for _, o := range p.Objects {
			size += len(o.Raw)
		}
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, MediaTypeTAXII)
	h.Set(echo.HeaderContentLength, strconv.Itoa(size))
	c.Response().WriteHeader(http.StatusOK)

	w := pageWriters.Get().(*bufio.Writer)
	w.Reset(c.Response())
	defer func() {
		w.Reset(nil)
		pageWriters.Put(w)
	}()
	io.WriteString(w, head)
	for i, o := range p.Objects {
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(o.Raw)
	}
	io.WriteString(w, tail)
	return w.Flush() // the first write error, if any
}
