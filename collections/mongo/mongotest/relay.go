package mongotest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// relay forwards MongoDB wire messages between clients and the embedded
// FerretDB, one command at a time.
//
// MongoDB applies each single-document write atomically, and the backend
// relies on it (conditional updates take leases and advance watermarks).
// FerretDB v1 does not: it runs an update as a query, then a rewrite of the
// whole document in a separate step, so two concurrent conditional updates
// of one document may both succeed or undo each other. Running one command
// at a time restores the atomicity MongoDB guarantees, while commands of
// concurrent clients still interleave as they do on MongoDB.
type relay struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex // held for one request and its response

	wg    sync.WaitGroup
	cmu   sync.Mutex
	conns map[net.Conn]struct{}
}

// startRelay listens on addr and relays to the server at backend.
func startRelay(addr, backend string) (*relay, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, backend: backend, conns: make(map[net.Conn]struct{})}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", r.backend)
		if err != nil {
			c.Close()
			continue
		}
		r.cmu.Lock()
		r.conns[c], r.conns[b] = struct{}{}, struct{}{}
		r.cmu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.serve(c, b)
			c.Close()
			b.Close()
			r.cmu.Lock()
			delete(r.conns, c)
			delete(r.conns, b)
			r.cmu.Unlock()
		}()
	}
}

// OP_MSG flag bits (MongoDB wire protocol, OP_MSG).
const (
	opMsg          = 2013
	flagMoreToCome = 1 << 1
)

// serve relays the messages of one client connection until either side
// closes it.
func (r *relay) serve(client, backend net.Conn) {
	for {
		req, err := readMessage(client)
		if err != nil {
			return
		}
		if err := r.exchange(req, backend, client); err != nil {
			return
		}
	}
}

// exchange sends one request and relays its responses under the lock: a
// request with moreToCome expects none, a response with moreToCome is
// followed by another.
func (r *relay) exchange(req []byte, backend, client net.Conn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := backend.Write(req); err != nil {
		return err
	}
	if moreToCome(req) {
		return nil
	}
	for {
		res, err := readMessage(backend)
		if err != nil {
			return err
		}
		if _, err := client.Write(res); err != nil {
			return err
		}
		if !moreToCome(res) {
			return nil
		}
	}
}

// readMessage reads one whole wire message: a little-endian int32 length
// (header included), then the rest.
func readMessage(c net.Conn) ([]byte, error) {
	var head [16]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(head[:4])
	if n < 16 || n > 64<<20 {
		return nil, fmt.Errorf("wire message of %d bytes", n)
	}
	msg := make([]byte, n)
	copy(msg, head[:])
	if _, err := io.ReadFull(c, msg[16:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func moreToCome(msg []byte) bool {
	return len(msg) >= 20 && binary.LittleEndian.Uint32(msg[12:16]) == opMsg &&
		binary.LittleEndian.Uint32(msg[16:20])&flagMoreToCome != 0
}

func (r *relay) close() error {
	err := r.ln.Close()
	r.cmu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.cmu.Unlock()
	r.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
