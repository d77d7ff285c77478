package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// headFormat is the first byte of a packed head. Format 2 follows it with
// a byte of flags (headBelowRed); format 1, written before levels, has
// none: its object has only TLP:RED versions (migration 0007 rewrote the
// heads of the others).
const (
	headFormat1 = 1
	headFormat  = 2
)

// headBelowRed is the flag of collections.Head.BelowRed.
const headBelowRed = 1

// packHead encodes a head's summary (everything but its id, which the row
// key holds) compactly: heads are written with every added version.
func packHead(h *collections.Head) []byte {
	b := make([]byte, 0, 16+len(h.Specs)*48)
	var flags byte
	if h.BelowRed {
		flags |= headBelowRed
	}
	b = append(b, headFormat, flags)
	b = appendTime(b, h.Created)
	b = appendTime(b, h.Revoked)
	b = appendTime(b, h.Unversioned)
	b = binary.AppendUvarint(b, uint64(len(h.Specs)))
	for _, r := range h.Specs {
		b = binary.AppendUvarint(b, uint64(len(r.SpecVersion)))
		b = append(b, r.SpecVersion...)
		for _, v := range []collections.VersionRef{r.First, r.Last} {
			b = appendTime(b, v.Version)
			b = binary.AppendVarint(b, v.DateAdded.UnixMicro())
		}
	}
	return b
}

// appendTime encodes t as 0 for the zero time, else 1, Unix seconds and
// nanoseconds.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

var errBadHead = errors.New("malformed head")

// unpackHead decodes packHead's encoding into a head for id of type typ.
func unpackHead(id, typ string, b []byte) (*collections.Head, error) {
	if len(b) == 0 || b[0] != headFormat && b[0] != headFormat1 {
		return nil, errBadHead
	}
	d := headDecoder{b: b[1:]}
	h := &collections.Head{ID: id, Type: typ}
	if b[0] == headFormat {
		if len(d.b) == 0 || d.b[0]&^headBelowRed != 0 {
			return nil, errBadHead
		}
		h.BelowRed = d.b[0]&headBelowRed != 0
		d.b = d.b[1:]
	}
	h.Created = d.time()
	h.Revoked = d.time()
	h.Unversioned = d.time()
	n := d.uvarint()
	if n > collections.MaxSpecVersions {
		return nil, errBadHead
	}
	h.Specs = make([]collections.SpecRange, n)
	for i := range h.Specs {
		l := d.uvarint()
		if d.err != nil || l > uint64(len(d.b)) {
			return nil, errBadHead
		}
		h.Specs[i].SpecVersion = string(d.b[:l])
		d.b = d.b[l:]
		for _, v := range []*collections.VersionRef{&h.Specs[i].First, &h.Specs[i].Last} {
			v.Version = d.time()
			v.DateAdded = time.UnixMicro(d.varint()).UTC()
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("%w of %s", errBadHead, id)
	}
	return h, nil
}

type headDecoder struct {
	b   []byte
	err error
}

func (d *headDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errBadHead
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *headDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errBadHead
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *headDecoder) time() time.Time {
	if len(d.b) == 0 {
		d.err = errBadHead
		return time.Time{}
	}
	set := d.b[0]
	d.b = d.b[1:]
	if set == 0 {
		return time.Time{}
	}
	sec := d.varint()
	ns := d.uvarint()
	if ns >= 1e9 {
		d.err = errBadHead
	}
	return time.Unix(sec, int64(ns)).UTC()
}
