package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener caps the connections open at once, in all and per source.
// A connection over a cap is answered at once with a 503 TAXII error
// resource and closed: excess clients neither queue behind the others nor
// hold the file descriptors that everyone shares.
type limitListener struct {
	net.Listener
	max   int // connections open at once, in all
	perIP int // connections open at once from one source; 0: no cap
	log   *slog.Logger

	mu       sync.Mutex
	open     int
	bySource map[netip.Prefix]int

	// lingering bounds the refused connections kept briefly open so that
	// their 503 reaches the client (see refuse).
	lingering chan struct{}
	// refusals are the answers written to refused connections, by the
	// cap they passed: refusal, or tlsRefusals when the server speaks TLS.
	refusals map[string][]byte

	// Refusals are logged in summary, at most once per refusalLogEvery,
	// so that a flood of them does not flood the log.
	refusedAll, refusedSource atomic.Int64
	lastLog                   atomic.Int64 // unix nanoseconds
}

const (
	// lingerSlots is how many refused connections may linger at once; the
	// file-descriptor headroom (fdHeadroom) covers them.
	lingerSlots = 64
	// lingerTime is how long a refused connection waits for the client to
	// finish sending before it is closed.
	lingerTime      = time.Second
	refusalLogEvery = 10 * time.Second
)

func newLimitListener(ln net.Listener, max, perIP int, log *slog.Logger) *limitListener {
	return &limitListener{
		Listener:  ln,
		max:       max,
		perIP:     perIP,
		log:       log,
		bySource:  map[netip.Prefix]int{},
		lingering: make(chan struct{}, lingerSlots),
		refusals:  refusal,
	}
}

// Accept returns the next connection within the caps; connections over a
// cap are refused here and never reach the HTTP server.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c.RemoteAddr())
		if over := l.admit(src); over != "" {
			l.refuse(c, over)
			continue
		}
		return &limitedConn{Conn: c, release: func() { l.release(src) }}, nil
	}
}

// admit counts a new connection from src, or names the cap it would pass.
func (l *limitListener) admit(src netip.Prefix) (over string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.max:
		l.refusedAll.Add(1)
		return "all"
	case l.perIP > 0 && src.IsValid() && l.bySource[src] >= l.perIP:
		l.refusedSource.Add(1)
		return "source"
	}
	l.open++
	if src.IsValid() {
		l.bySource[src]++
	}
	return ""
}

func (l *limitListener) release(src netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if src.IsValid() {
		if l.bySource[src]--; l.bySource[src] <= 0 {
			delete(l.bySource, src)
		}
	}
}

// Open returns the number of connections open.
func (l *limitListener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// refuse answers c with a 503 and closes it. The response is written
// before the request is read; closing a socket with unread input makes
// the kernel reset the connection, which can destroy the response in
// flight, so the connection first half-closes and drains what the client
// sends for up to lingerTime. Only lingerSlots connections linger at once;
// beyond them a refused connection is closed at once.
func (l *limitListener) refuse(c net.Conn, over string) {
	l.logRefusals()
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Write(l.refusals[over]); err != nil {
		c.Close()
		return
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return
	}
	select {
	case l.lingering <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.lingering }()
		defer c.Close()
		tc.CloseWrite()
		c.SetReadDeadline(time.Now().Add(lingerTime))
		var buf [4096]byte
		for {
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}()
}

// logRefusals logs the refusals counted since the last log line, at most
// once per refusalLogEvery.
func (l *limitListener) logRefusals() {
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(refusalLogEvery) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("connections refused over the connection caps",
		"over_max_connections", l.refusedAll.Swap(0), "max_connections", l.max,
		"over_max_connections_per_ip", l.refusedSource.Swap(0), "max_connections_per_ip", l.perIP)
}

// refusal holds the whole HTTP responses written to refused connections,
// by the cap they passed: a TAXII error resource (TAXII 2.1 section
// 3.6.1), like every other failure of the server.
var refusal = map[string][]byte{
	"all":    refusalResponse("the server has too many open connections; retry later"),
	"source": refusalResponse("too many open connections from your address; close some or retry later"),
}

func refusalResponse(description string) []byte {
	body := fmt.Sprintf(`{"title":"Service Unavailable","description":%q,"http_status":"503"}`, description)
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\n"+
		"Content-Type: application/taxii+json;version=2.1\r\n"+
		"Content-Length: %d\r\n"+
		"Retry-After: 1\r\n"+
		"Connection: close\r\n\r\n%s", len(body), body)
}

// sourceOf returns the source a connection counts against: its IPv4
// address, or the /64 network of its IPv6 address (one host commonly holds
// a whole /64). It is invalid for addresses that are not IP.
func sourceOf(a net.Addr) netip.Prefix {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}
	}
	ip := ta.AddrPort().Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// limitedConn gives its place back to the listener when it closes.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
