package stix

// The walk shared by the rules that look at every nested value
// (references, hashes, _hex, _bin and _enc properties, empty lists and
// objects, container references): they are visitors of one walk, ruleScan.
// checkRules walks an object once for all of them, and each such rule's own
// check walks it with just its visitor.

import "strings"

// ruleDataDicts are dictionary properties whose keys are data (hash names,
// header names, language codes...), not property names.
var ruleDataDicts = map[string]bool{
	"hashes": true, "additional_header_fields": true, "environment_variables": true,
	"startup_info": true, "request_header": true, "ipfix": true, "options": true,
	"document_info_dict": true, "exif_tags": true, "contents": true,
}

func ruleIsDataDict(k string) bool {
	return ruleDataDicts[k] || strings.HasSuffix(k, "_hashes")
}

// ruleKind says what the keys of a JSON object are.
type ruleKind uint8

const (
	ruleKindProps     ruleKind = iota // property names: an object, extension instance, list item...
	ruleKindData                      // data keys: a data dictionary or anything inside one
	ruleKindExt                       // extension names: the extensions dictionary
	ruleKindContainer                 // local keys: the deprecated observable container
)

// ruleEntry is what a visitor sees: one entry of a JSON object (key, value
// and the object holding it) or one item of a list.
type ruleEntry struct {
	m         map[string]any // the object holding the entry; nil for a list item
	key       string         // the entry's key; "" for a list item
	idx       int            // the item's index in its list
	item      bool           // a list item rather than an object entry
	v         any            // the value
	props     bool           // key is a property name (m is not a dictionary)
	container bool           // within the observable container
	objects   map[string]any // the observable container, if any
	path      *rulePath      // the path of m, or of the list
}

// ptr returns the JSON pointer of the entry followed by extra parts.
func (e *ruleEntry) ptr(extra ...any) string {
	if e.item {
		return e.path.pointer(append([]any{e.idx}, extra...)...)
	}
	return e.path.pointer(append([]any{e.key}, extra...)...)
}

// property returns the name of a property entry (see ruleEntry.props).
func (e *ruleEntry) property() (string, bool) {
	return e.key, !e.item && e.props
}

// ruleVisitor checks one entry.
type ruleVisitor func(e *ruleEntry, r *ruleReport)

// ruleScanner walks an object once, calling every visitor on every entry.
type ruleScanner struct {
	path     rulePath
	entry    ruleEntry
	visitors []ruleVisitor
	reports  []ruleReport
	observed bool
	objects  map[string]any
}

// ruleScan walks obj with the visitors, each reporting into the report of
// the same index.
func ruleScan(obj map[string]any, visitors []ruleVisitor, reports []ruleReport) {
	s := ruleScanner{path: make(rulePath, 0, 8), visitors: visitors, reports: reports}
	if ruleType(obj) == "observed-data" {
		s.observed = true
		s.objects, _ = obj["objects"].(map[string]any)
	}
	s.entry.path = &s.path
	s.object(obj, 0, ruleKindProps, false)
}

// full reports whether no visitor can keep another finding; the walk then
// stops, and the reports' counts of findings not kept become lower bounds.
func (s *ruleScanner) full() bool {
	for i := range s.reports {
		if !s.reports[i].full() {
			return false
		}
	}
	for i := range s.reports {
		s.reports[i].cut = true
	}
	return true
}

func (s *ruleScanner) visit(container bool) {
	s.entry.container = container
	if container {
		s.entry.objects = s.objects
	} else {
		s.entry.objects = nil
	}
	for i, f := range s.visitors {
		if r := &s.reports[i]; !r.full() {
			f(&s.entry, r)
		} else {
			r.cut = true
		}
	}
}

func (s *ruleScanner) object(m map[string]any, depth int, kind ruleKind, container bool) {
	if depth > ruleMaxDepth || s.full() {
		return
	}
	for k, v := range m {
		s.entry = ruleEntry{m: m, key: k, v: v, props: kind == ruleKindProps, path: &s.path}
		s.visit(container)
		var child ruleKind
		switch {
		case kind == ruleKindData:
			child = ruleKindData
		case kind != ruleKindProps:
			child = ruleKindProps // extension instances, container objects
		case k == "extensions":
			child = ruleKindExt
		case depth == 0 && k == "objects" && s.observed:
			child = ruleKindContainer
		case ruleIsDataDict(k):
			child = ruleKindData
		default:
			child = ruleKindProps
		}
		s.path.push(k)
		s.value(v, depth+1, child, container || child == ruleKindContainer)
		s.path.pop()
	}
}

// value descends into v; kind is what the keys of objects found there are.
func (s *ruleScanner) value(v any, depth int, kind ruleKind, container bool) {
	switch x := v.(type) {
	case map[string]any:
		s.object(x, depth, kind, container)
	case []any:
		if depth > ruleMaxDepth || s.full() {
			return
		}
		if kind != ruleKindData {
			kind = ruleKindProps
		}
		for i, item := range x {
			s.entry = ruleEntry{idx: i, item: true, v: item, path: &s.path}
			s.visit(container)
			s.path.pushIdx(i)
			s.value(item, depth+1, kind, container)
			s.path.pop()
		}
	}
}

// ruleScanned are the rules implemented as visitors of the shared walk.
var ruleScanned = []struct {
	code  string
	visit ruleVisitor
}{
	{"ref-format", visitRefFormat},
	{"observable-container-ref", visitObservableContainerRef},
	{"encoding-property", visitEncodingProperty},
	{"encoding-charset", visitEncodingCharset},
	{"hash-value", visitHashValue},
	{"hex-value", visitHexValue},
	{"binary-value", visitBinaryValue},
	{"empty-list", visitEmptyList},
	{"empty-object", visitEmptyObject},
}

// ruleScanVisitors, ruleScanCodes and ruleScanIndex index ruleScanned.
var (
	ruleScanVisitors []ruleVisitor
	ruleScanCodes    []string
	ruleScanIndex    = map[string]int{}
)

func init() {
	for i, sr := range ruleScanned {
		ruleScanVisitors = append(ruleScanVisitors, sr.visit)
		ruleScanCodes = append(ruleScanCodes, sr.code)
		ruleScanIndex[sr.code] = i
	}
}

// scanRule is the rule of a visitor of ruleScanned, walking alone.
func scanRule(code string) rule {
	return rule{code: code, run: func(obj map[string]any, r *ruleReport) {
		i, ok := ruleScanIndex[code]
		if !ok {
			return
		}
		reports := []ruleReport{*r}
		ruleScan(obj, ruleScanVisitors[i:i+1], reports)
		*r = reports[0]
	}}
}
