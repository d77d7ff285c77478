package taxii

import (
	"bytes"
	clist "container/list"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/taxiid/taxiid/authz"
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// The served copy: what a reader whose grant hides the creator or some
// sources, or whose TLP ceiling is below a version's granular markings,
// receives instead of the stored bytes. Its JSON keeps the members of the
// stored object in their order; only the members the conditions remove or
// replace change.

// sharing is what a reader is served under in one collection: its grant's
// conditions and the hub identity that replaces hidden creators.
type sharing struct {
	authz.Conditions
	hub string // identity--<uuid>; "": hidden creators are removed
}

// restricted reports whether any condition applies.
func (sh sharing) restricted() bool {
	return sh.MaxTLP != stix.TLPNone || sh.Embargo > 0 || sh.HideCreator || len(sh.HideSources) > 0
}

// key names the served form the conditions give, for the cache: two
// readers with the same key get the same bytes. The embargo shapes which
// versions are seen, not their bytes, so it is not part of it.
func (sh sharing) key() string {
	src := slices.Clone(sh.HideSources)
	slices.Sort(src)
	src = slices.Compact(src)
	return fmt.Sprintf("%d\x00%t\x00%s\x00%s", sh.MaxTLP, sh.HideCreator, sh.hub, strings.Join(src, "\x00"))
}

// transforms reports whether o may be served other than as stored. It
// reads no JSON: pages whose objects it rejects are written as before.
func (sh sharing) transforms(o collections.Object) bool {
	switch {
	case sh.MaxTLP != stix.TLPNone && o.GranularTLP > sh.MaxTLP:
		return true
	// The needles start with a letter, rarer in JSON than a quote, which
	// keeps the search fast; a needle found in a string value only costs
	// a copy that comes out unchanged.
	case sh.HideCreator && bytes.Contains(o.Raw, []byte(`created_by_ref":`)):
		return true
	case len(sh.HideSources) > 0 && bytes.Contains(o.Raw, []byte(`external_references":`)):
		return true
	}
	return false
}

// changes says what the served copy left out or replaced.
type changes struct {
	// Selectors are the granular-marking selectors whose properties were
	// removed, as the stored object has them.
	Selectors []string
	// Sources are the source_name of the external references removed.
	Sources []string
	// Creator is "replaced" or "removed" when created_by_ref was.
	Creator string
}

func (ch changes) none() bool {
	return len(ch.Selectors) == 0 && len(ch.Sources) == 0 && ch.Creator == ""
}

// servedCopy returns the bytes of raw (one stored STIX object, compacted
// JSON) served under sh, and what changed. It returns raw itself when
// nothing changes.
func servedCopy(raw []byte, sh sharing) ([]byte, changes, error) {
	var ch changes
	root := &jnode{raw: raw}
	if err := root.expand(); err != nil {
		return nil, ch, err
	}
	if root.kind != '{' {
		return nil, ch, errors.New("served copy: not a JSON object")
	}
	if sh.MaxTLP != stix.TLPNone {
		if err := removeGranular(root, sh.MaxTLP, &ch); err != nil {
			return nil, ch, err
		}
	}
	if sh.HideCreator {
		if m := root.member("created_by_ref"); m != nil {
			if sh.hub != "" {
				b, _ := json.Marshal(sh.hub)
				m.val = &jnode{raw: b}
				ch.Creator = "replaced"
			} else {
				m.val.removed = true
				ch.Creator = "removed"
			}
		}
	}
	if len(sh.HideSources) > 0 {
		if err := removeSources(root, sh.HideSources, &ch); err != nil {
			return nil, ch, err
		}
	}
	if ch.none() {
		return raw, ch, nil
	}
	root.sweep()
	var out bytes.Buffer
	out.Grow(len(raw))
	root.write(&out)
	return out.Bytes(), ch, nil
}

// removeGranular removes the properties selected by granular markings
// above ceiling, and those markings (STIX 2.1 section 7.2.3). Every
// selector is resolved against the object as stored before anything is
// removed, so that removing a list element does not shift the elements
// other selectors name; the sweep then removes them all.
func removeGranular(root *jnode, ceiling stix.TLP, ch *changes) error {
	gm := root.member("granular_markings")
	if gm == nil {
		return nil
	}
	if err := gm.val.expand(); err != nil || gm.val.kind != '[' {
		return err
	}
	for _, entry := range gm.val.arr {
		var m struct {
			MarkingRef string   `json:"marking_ref"`
			Selectors  []string `json:"selectors"`
		}
		if err := json.Unmarshal(entry.json(), &m); err != nil {
			return fmt.Errorf("served copy: granular marking: %w", err)
		}
		if stix.TLPOfMarking(m.MarkingRef) <= ceiling {
			continue
		}
		entry.removed = true
		for _, sel := range m.Selectors {
			if n := root.selectNode(sel); n != nil {
				n.removed = true
				ch.Selectors = append(ch.Selectors, sel)
			}
		}
	}
	return nil
}

// removeSources removes the external references whose source_name is in
// hide.
func removeSources(root *jnode, hide []string, ch *changes) error {
	refs := root.member("external_references")
	if refs == nil {
		return nil
	}
	if err := refs.val.expand(); err != nil || refs.val.kind != '[' {
		return err
	}
	for _, ref := range refs.val.arr {
		var r struct {
			SourceName string `json:"source_name"`
		}
		if ref.removed || json.Unmarshal(ref.json(), &r) != nil {
			continue
		}
		if slices.Contains(hide, r.SourceName) {
			ref.removed = true
			ch.Sources = append(ch.Sources, r.SourceName)
		}
	}
	return nil
}

// jnode is a JSON value, expanded one level at a time where the served
// copy needs to look inside it; the rest stays the exact bytes stored.
type jnode struct {
	raw     []byte // the value's bytes while not expanded
	kind    byte   // 0: raw; '{' or '[': expanded into obj or arr
	obj     []jmember
	arr     []*jnode
	removed bool
}

type jmember struct {
	name string
	val  *jnode
}

// expand parses an object or an array one level deep; other values stay
// as they are.
func (n *jnode) expand() error {
	if n.kind != 0 || len(n.raw) == 0 || (n.raw[0] != '{' && n.raw[0] != '[') {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(n.raw))
	if _, err := d.Token(); err != nil {
		return err
	}
	kind := n.raw[0]
	for d.More() {
		var name string
		if kind == '{' {
			t, err := d.Token()
			if err != nil {
				return err
			}
			name, _ = t.(string)
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return err
		}
		if kind == '{' {
			n.obj = append(n.obj, jmember{name: name, val: &jnode{raw: v}})
		} else {
			n.arr = append(n.arr, &jnode{raw: v})
		}
	}
	n.kind, n.raw = kind, nil
	return nil
}

// member returns the member of an expanded object, nil when absent.
func (n *jnode) member(name string) *jmember {
	for i := range n.obj {
		if n.obj[i].name == name {
			return &n.obj[i]
		}
	}
	return nil
}

// selectNode resolves a granular-marking selector (STIX 2.1 section
// 7.2.3.1: property names and list indexes "[i]" joined by dots); nil when
// it names nothing.
func (n *jnode) selectNode(sel string) *jnode {
	cur := n
	for _, seg := range strings.Split(sel, ".") {
		if cur.expand() != nil {
			return nil
		}
		switch {
		case cur.kind == '{':
			m := cur.member(seg)
			if m == nil {
				return nil
			}
			cur = m.val
		case cur.kind == '[' && strings.HasPrefix(seg, "[") && strings.HasSuffix(seg, "]"):
			i, err := strconv.Atoi(seg[1 : len(seg)-1])
			if err != nil || i < 0 || i >= len(cur.arr) {
				return nil
			}
			cur = cur.arr[i]
		default:
			return nil
		}
	}
	return cur
}

// sweep drops removed members and elements; a list they leave empty is
// removed too, as STIX forbids empty lists. It reports whether n itself
// is to be removed.
func (n *jnode) sweep() bool {
	switch n.kind {
	case '{':
		kept := n.obj[:0]
		for _, m := range n.obj {
			if !m.val.removed && !m.val.sweep() {
				kept = append(kept, m)
			}
		}
		n.obj = kept
	case '[':
		had := len(n.arr)
		kept := n.arr[:0]
		for _, e := range n.arr {
			if !e.removed && !e.sweep() {
				kept = append(kept, e)
			}
		}
		n.arr = kept
		if had > 0 && len(kept) == 0 {
			n.removed = true
		}
	}
	return n.removed
}

// json returns the value's JSON as stored, whatever is marked removed.
func (n *jnode) json() []byte {
	if n.kind == 0 {
		return n.raw
	}
	var b bytes.Buffer
	n.write(&b)
	return b.Bytes()
}

// write appends the value's JSON to b.
func (n *jnode) write(b *bytes.Buffer) {
	switch n.kind {
	case '{':
		b.WriteByte('{')
		for i, m := range n.obj {
			if i > 0 {
				b.WriteByte(',')
			}
			writeName(b, m.name)
			b.WriteByte(':')
			m.val.write(b)
		}
		b.WriteByte('}')
	case '[':
		b.WriteByte('[')
		for i, e := range n.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	default:
		b.Write(n.raw)
	}
}

// writeName writes a member name as a JSON string, without the HTML
// escapes encoding/json adds by default.
func writeName(b *bytes.Buffer, name string) {
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	e.Encode(name)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// servedCache keeps served copies, bounded by their bytes, least recently
// used out first.
type servedCache struct {
	mu      sync.Mutex
	max     int64
	size    int64
	order   *clist.List // of *servedEntry, most recent first
	entries map[string]*clist.Element
	hits    atomic.Int64
	misses  atomic.Int64
}

type servedEntry struct {
	key string
	raw []byte
}

// servedEntryOverhead approximates what an entry costs besides its key and
// bytes.
const servedEntryOverhead = 128

// DefaultServedCacheBytes is the default of Config.ServedCacheBytes.
const DefaultServedCacheBytes = 64 << 20

func newServedCache(max int64) *servedCache {
	return &servedCache{max: max, order: clist.New(), entries: map[string]*clist.Element{}}
}

func (c *servedCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	c.order.MoveToFront(e)
	return e.Value.(*servedEntry).raw, true
}

func (c *servedCache) put(key string, raw []byte) {
	cost := int64(len(key) + len(raw) + servedEntryOverhead)
	if cost > c.max/4 {
		return // one copy must not push most others out
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return
	}
	c.entries[key] = c.order.PushFront(&servedEntry{key: key, raw: raw})
	c.size += cost
	for c.size > c.max {
		last := c.order.Back()
		ent := last.Value.(*servedEntry)
		c.order.Remove(last)
		delete(c.entries, ent.key)
		c.size -= int64(len(ent.key) + len(ent.raw) + servedEntryOverhead)
	}
}

// servedKey names one version's served copy under one form of conditions.
// date_added is part of it: a version deleted and pushed again is another
// record.
func servedKey(col collections.Collection, o collections.Object, form string) string {
	return col.APIRoot + "\x00" + col.ID + "\x00" + o.ID + "\x00" +
		strconv.FormatInt(o.Version.UnixNano(), 10) + "\x00" + strconv.FormatInt(o.DateAdded.UnixNano(), 10) + "\x00" + form
}

// serve replaces the Raw of the page's objects by their served copies
// under sh. Objects the conditions do not touch keep their stored bytes,
// and an unrestricted reader's page is returned as it is.
func (s *Server) serve(col collections.Collection, p *collections.Page, sh sharing) error {
	if !sh.HideCreator && len(sh.HideSources) == 0 && sh.MaxTLP == stix.TLPNone {
		return nil
	}
	form := ""
	for i, o := range p.Objects {
		if len(o.Raw) == 0 || !sh.transforms(o) {
			continue
		}
		if form == "" {
			form = sh.key()
		}
		key := servedKey(col, o, form)
		if b, ok := s.served.get(key); ok {
			p.Objects[i].Raw = b
			continue
		}
		b, _, err := servedCopy(o.Raw, sh)
		if err != nil {
			return fmt.Errorf("served copy of %s: %w", o.ID, err)
		}
		s.served.put(key, b)
		p.Objects[i].Raw = b
	}
	return nil
}
