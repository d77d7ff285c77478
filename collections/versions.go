package collections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/taxiid/taxiid/stix"
)

// This file holds the TAXII and STIX semantics of versions that every
// backend shares: which version of an object is the last or the first
// within its spec version, which spec version is the latest of an object,
// when a re-push is the same object, and the cross-version rules. Backends
// call PlanAdd, PlanDelete and Summarize and store what they return; they
// decide nothing themselves.

// CanonicalID returns id with its UUID part in lower case. RFC 4122
// section 3 makes UUIDs case-insensitive on input (and lower case on
// output), so "indicator--ABC..." and "indicator--abc..." name one object.
// Anything that is not "<type>--<UUID>" is returned as it is.
func CanonicalID(id string) string {
	typ, u, ok := strings.Cut(id, "--")
	if !ok || !stix.IsUUID(u) {
		return id
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c >= 'A' && c <= 'F' {
			return typ + "--" + strings.ToLower(u)
		}
	}
	return id
}

// SplitID returns the type prefix and the canonical UUID part of id; an id
// without "--" is all UUID part, with an empty prefix.
func SplitID(id string) (typ, uuid string) {
	typ, uuid, ok := strings.Cut(CanonicalID(id), "--")
	if !ok {
		return "", typ
	}
	return typ, uuid
}

// CompareSpecVersions orders spec versions numerically, component by
// component ("2.0" < "2.1" < "2.10"); a version that is a prefix of another
// comes first, and non-numeric components sort after numeric ones, as text.
func CompareSpecVersions(a, b string) int {
	for a != "" || b != "" {
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		if x == y {
			continue
		}
		if x == "" || y == "" {
			if x == "" {
				return -1
			}
			return 1
		}
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				if nx < ny {
					return -1
				}
				return 1
			}
		case ex == nil:
			return -1
		case ey == nil:
			return 1
		default:
			return strings.Compare(x, y)
		}
	}
	return 0
}

// SameObject reports whether two pushes of one (id, version) carry the same
// object: the same JSON document, whatever the member order and white
// space. Numbers compare by their text, so only documents that are equal
// after decoding count as the same (STIX 2.1 section 3.6: every
// representation of a version has the same properties and values).
func SameObject(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	x, errx := decodeJSON(a)
	y, erry := decodeJSON(b)
	return errx == nil && erry == nil && reflect.DeepEqual(x, y)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // no float rounding: 1e400 and big integers stay exact
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Marks are per-version facts a backend stores with each version and
// indexes for queries. The selection marks (MarkLast, MarkFirst,
// MarkTopSpec) change as versions come and go; PlanAdd and PlanDelete say
// how.
type Marks uint8

const (
	// MarkLast: the newest version of the object within its spec version.
	MarkLast Marks = 1 << iota
	// MarkFirst: the oldest version of the object within its spec version.
	MarkFirst
	// MarkTopSpec: the version's spec version is the highest of the
	// object's (TAXII 2.1 section 3.4.1: without match[spec_version], only
	// those versions are served).
	MarkTopSpec
	// MarkUnversioned: the object has neither modified nor created; its
	// version is the DateAdded of its first push.
	MarkUnversioned
	// MarkRevoked: the version has revoked: true.
	MarkRevoked

	// SelectionMarks are the marks that depend on the other versions.
	SelectionMarks = MarkLast | MarkFirst | MarkTopSpec
)

// StoredVersion is one stored version of an object, as the version rules
// see it.
type StoredVersion struct {
	SpecVersion string
	Version     time.Time
	DateAdded   time.Time
	Marks       Marks
	// TLP is the level recorded at ingest (NewObject.TLP); stix.TLPNone,
	// as stored before levels were recorded, counts as stix.TLPRed.
	TLP stix.TLP
}

// VersionRef names one stored version.
type VersionRef struct {
	Version   time.Time
	DateAdded time.Time
}

// SpecRange is the first and last version of an object within one spec
// version.
type SpecRange struct {
	SpecVersion string
	First, Last VersionRef
}

// Head summarises the stored versions of one object (one id in one
// collection), so that adding a version needs none of the others. Backends
// keep it current on every write and read it by index.
type Head struct {
	ID   string // canonical (CanonicalID)
	Type string
	// Created is the created timestamp the object's versions share (zero
	// when none has one).
	Created time.Time
	// Specs has one entry per spec version stored, in ascending order
	// (CompareSpecVersions); the last is the object's top spec version.
	Specs []SpecRange
	// Revoked is the oldest version with revoked: true (zero: none).
	Revoked time.Time
	// Unversioned is the version given to the object when it was pushed
	// without modified and created (zero: none stored).
	Unversioned time.Time
	// BelowRed reports that some stored version has a level below
	// TLP:RED (VersionTLP). Only then can a write change what a requester
	// with a ceiling below TLP:RED sees as the object's last, first or
	// top spec version (see CeilingMarks).
	BelowRed bool
}

// TopSpec returns the highest spec version stored, "" if none.
func (h *Head) TopSpec() string {
	if h == nil || len(h.Specs) == 0 {
		return ""
	}
	return h.Specs[len(h.Specs)-1].SpecVersion
}

// MaxSpecVersions bounds the spec versions one object may be stored in:
// STIX has two, and each new top spec version costs a write to every
// version of the previous one.
const MaxSpecVersions = 8

// AddInput is what a backend knows, within its write transaction, before
// adding one object.
type AddInput struct {
	// Object is the object to add; its ID is canonical.
	Object NewObject
	// Head is the head of the object's id, nil when no version is stored.
	Head *Head
	// OtherType is a type stored in the collection under the same UUID with
	// another type, "" if none. It refuses only a new id: an object that has
	// versions keeps its UUID.
	OtherType string
	// DateAdded is what the version's DateAdded will be if it is added.
	DateAdded time.Time
	// SkipRules leaves out the cross-version rules.
	SkipRules bool
	// Stored returns the stored version of the object's id at a version,
	// with its Raw; PlanAdd calls it only when that version may exist.
	Stored func(version time.Time) (Object, bool, error)
}

// Unmark is a stored version that loses marks.
type Unmark struct {
	VersionRef
	Marks Marks
}

// AddPlan is what adding one object does, as PlanAdd decides it.
type AddPlan struct {
	Result AddResult
	// The rest is set when Result.Outcome is Added.

	// Marks of the new version (Result.Version, Result.DateAdded).
	Marks Marks
	// Unmark lists stored versions that lose marks (at most two: the
	// previous first and last of the spec version).
	Unmark []Unmark
	// UnmarkTopSpec, when not "", is a spec version every stored version of
	// which loses MarkTopSpec: the new version's spec version is above it.
	UnmarkTopSpec string
	// Head is the object's head after the add.
	Head Head
	// Ceilings are the new version's selection marks under each TLP
	// ceiling when RecomputeCeilings is false; no other stored version's
	// change then, but for those Marks and Unmark say at TLP:RED.
	Ceilings CeilingMarks
	// RecomputeCeilings: the new version is below TLP:RED and the object
	// has other versions, so the add may change the ceiling marks of any
	// of them: the backend reads them all, the new one included, and
	// stores SummarizeCeilings of them.
	RecomputeCeilings bool
}

// PlanAdd decides what adding in.Object does: Unchanged when the same
// (id, version) is stored with the same content, Conflict when with other
// content, Refused when a cross-version rule forbids it, else Added with
// the marks to store.
//
// The cross-version rules, which only a server that sees every version can
// enforce, are stix.CheckNewVersion's: a new version keeps the created of
// the stored ones (STIX 2.1 section 3.2, created); no version may follow a
// revoked one (section 3.6); a UUID is not reused under another type
// (section 2.9).
func PlanAdd(in AddInput) (AddPlan, error) {
	obj, h := in.Object, in.Head
	version, unversioned := obj.Version, false
	if version.IsZero() {
		// Objects without modified and created are versioned by their first
		// push, so that pushing them again is idempotent.
		if h != nil && !h.Unversioned.IsZero() {
			version = h.Unversioned
		} else {
			version, unversioned = in.DateAdded.Truncate(time.Microsecond), true
		}
	}
	version = version.UTC()

	if h.mayHold(version) {
		old, ok, err := in.Stored(version)
		if err != nil {
			return AddPlan{}, err
		}
		if ok {
			r := AddResult{Outcome: Conflict, Version: version, DateAdded: old.DateAdded}
			if SameObject(old.Raw, obj.Raw) {
				r.Outcome = Unchanged
			}
			return AddPlan{Result: r}, nil
		}
	}
	refuse := func(format string, args ...any) (AddPlan, error) {
		return AddPlan{Result: AddResult{Outcome: Refused, Version: version, Message: fmt.Sprintf(format, args...)}}, nil
	}
	if !in.SkipRules {
		next := stix.Identity{ID: obj.ID, Type: obj.Type, SpecVersion: obj.SpecVersion,
			Created: obj.Created, Version: obj.Version, Revoked: obj.Revoked}
		if fs := stix.CheckNewVersion(in.summary(), next); len(fs) > 0 {
			return refuse("%s", (&stix.ValidationError{Findings: fs}).Error())
		}
	}

	p := AddPlan{Result: AddResult{Outcome: Added, Version: version, DateAdded: in.DateAdded}}
	if h != nil {
		p.Head = h.clone()
	} else {
		typ, _ := SplitID(obj.ID)
		if typ == "" {
			typ = obj.Type
		}
		p.Head = Head{ID: obj.ID, Type: typ}
	}
	nh := &p.Head
	if nh.Created.IsZero() {
		nh.Created = obj.Created.UTC()
	}
	if unversioned {
		p.Marks |= MarkUnversioned
		nh.Unversioned = version
	}
	if obj.Revoked {
		p.Marks |= MarkRevoked
		if nh.Revoked.IsZero() || version.Before(nh.Revoked) {
			nh.Revoked = version
		}
	}
	if VersionTLP(obj.TLP) < stix.TLPRed {
		nh.BelowRed = true
	}
	ref := VersionRef{Version: version, DateAdded: in.DateAdded}
	i := 0
	for i < len(nh.Specs) && CompareSpecVersions(nh.Specs[i].SpecVersion, obj.SpecVersion) < 0 {
		i++
	}
	if i < len(nh.Specs) && nh.Specs[i].SpecVersion == obj.SpecVersion {
		r := &nh.Specs[i]
		if version.After(r.Last.Version) {
			p.Marks |= MarkLast
			p.Unmark = append(p.Unmark, Unmark{r.Last, MarkLast})
			r.Last = ref
		}
		if version.Before(r.First.Version) {
			p.Marks |= MarkFirst
			p.Unmark = append(p.Unmark, Unmark{r.First, MarkFirst})
			r.First = ref
		}
		if i == len(nh.Specs)-1 {
			p.Marks |= MarkTopSpec
		}
		p.planCeilings(h == nil, obj.TLP)
		return p, nil
	}
	if len(nh.Specs) >= MaxSpecVersions {
		return refuse("%s is already stored in %d spec versions, the most one object may have", obj.ID, MaxSpecVersions)
	}
	p.Marks |= MarkFirst | MarkLast
	if i == len(nh.Specs) {
		p.Marks |= MarkTopSpec
		p.UnmarkTopSpec = nh.TopSpec()
	}
	nh.Specs = append(nh.Specs, SpecRange{})
	copy(nh.Specs[i+1:], nh.Specs[i:])
	nh.Specs[i] = SpecRange{SpecVersion: obj.SpecVersion, First: ref, Last: ref}
	p.planCeilings(h == nil, obj.TLP)
	return p, nil
}

// planCeilings sets the ceiling marks of an added version: those of its
// level up when it is the object's first; those of TLP:RED (its Marks)
// when it is TLP:RED, for then it does not exist under the lower ceilings
// and changes no mark there; else, when the object has versions below
// TLP:RED, a recompute.
func (p *AddPlan) planCeilings(first bool, level stix.TLP) {
	switch {
	case first:
		all := CeilingsFrom(VersionTLP(level), stix.TLPRed)
		p.Ceilings = CeilingMarks{Last: all, First: all, TopSpec: all}
	case p.Head.BelowRed && VersionTLP(level) < stix.TLPRed:
		p.RecomputeCeilings = true
	default:
		red := CeilingsFrom(stix.TLPRed, stix.TLPRed)
		for _, m := range []struct {
			mark Marks
			set  *Ceilings
		}{{MarkLast, &p.Ceilings.Last}, {MarkFirst, &p.Ceilings.First}, {MarkTopSpec, &p.Ceilings.TopSpec}} {
			if p.Marks&m.mark != 0 {
				*m.set = red
			}
		}
	}
}

// summary is what the cross-version rules of package stix know of the
// stored versions: the object's head, else the other type its UUID is
// stored under (an id with versions keeps its UUID).
func (in AddInput) summary() stix.VersionSummary {
	h := in.Head
	if h == nil {
		if in.OtherType == "" {
			return stix.VersionSummary{}
		}
		_, u := SplitID(in.Object.ID)
		return stix.VersionSummary{ID: in.OtherType + "--" + u, Type: in.OtherType}
	}
	vs := stix.VersionSummary{ID: h.ID, Type: h.Type, Created: h.Created,
		Revoked: !h.Revoked.IsZero(), FirstRevoked: h.Revoked}
	for _, r := range h.Specs {
		if r.Last.Version.After(vs.Latest) && !r.Last.Version.Equal(h.Unversioned) {
			vs.Latest = r.Last.Version
		}
	}
	return vs
}

// mayHold reports whether a version of the object could be stored at
// version: it lies within the first and last of one of its spec versions.
func (h *Head) mayHold(version time.Time) bool {
	if h == nil {
		return false
	}
	for _, r := range h.Specs {
		if !version.Before(r.First.Version) && !version.After(r.Last.Version) {
			return true
		}
	}
	return false
}

func (h *Head) clone() Head {
	c := *h
	c.Specs = append([]SpecRange(nil), h.Specs...)
	return c
}

// Summarize computes an object's head from every stored version of it, and
// the marks each version should have: its MarkUnversioned and MarkRevoked
// as stored, the selection marks from the whole set. created is the
// object's created timestamp (zero: none). Backends use it after deletes
// and to build heads for data stored before heads existed.
func Summarize(id string, created time.Time, vs []StoredVersion) (Head, []Marks) {
	typ, _ := SplitID(id)
	h := Head{ID: CanonicalID(id), Type: typ, Created: created.UTC()}
	for _, v := range vs {
		ref := VersionRef{Version: v.Version.UTC(), DateAdded: v.DateAdded.UTC()}
		i := 0
		for i < len(h.Specs) && CompareSpecVersions(h.Specs[i].SpecVersion, v.SpecVersion) < 0 {
			i++
		}
		if i == len(h.Specs) || h.Specs[i].SpecVersion != v.SpecVersion {
			h.Specs = append(h.Specs, SpecRange{})
			copy(h.Specs[i+1:], h.Specs[i:])
			h.Specs[i] = SpecRange{SpecVersion: v.SpecVersion, First: ref, Last: ref}
		} else {
			r := &h.Specs[i]
			if ref.Version.After(r.Last.Version) {
				r.Last = ref
			}
			if ref.Version.Before(r.First.Version) {
				r.First = ref
			}
		}
		if v.Marks&MarkRevoked != 0 && (h.Revoked.IsZero() || ref.Version.Before(h.Revoked)) {
			h.Revoked = ref.Version
		}
		if v.Marks&MarkUnversioned != 0 {
			h.Unversioned = ref.Version
		}
		if VersionTLP(v.TLP) < stix.TLPRed {
			h.BelowRed = true
		}
	}
	marks := make([]Marks, len(vs))
	top := h.TopSpec()
	for i, v := range vs {
		m := v.Marks &^ SelectionMarks
		for _, r := range h.Specs {
			if r.SpecVersion != v.SpecVersion {
				continue
			}
			if v.Version.Equal(r.Last.Version) {
				m |= MarkLast
			}
			if v.Version.Equal(r.First.Version) {
				m |= MarkFirst
			}
		}
		if v.SpecVersion == top {
			m |= MarkTopSpec
		}
		marks[i] = m
	}
	return h, marks
}

// DeletePlan is what deleting versions of an object does, as PlanDelete
// decides it.
type DeletePlan struct {
	// Delete lists the indexes of the versions to delete.
	Delete []int
	// Keep lists the indexes of the others, and Marks their marks after the
	// delete, in the same order.
	Keep  []int
	Marks []Marks
	// Head is the object's head after the delete; nil when nothing is left.
	Head *Head
}

// PlanDelete selects the versions of an object that a delete removes and
// computes what remains. vs is every stored version of the object, h its
// head. The zero filter and All select every version; First and Last
// select within each spec version; specVersions, when not empty, restricts
// the selection to those spec versions (TAXII 2.1 section 5.7).
func PlanDelete(h Head, vs []StoredVersion, f VersionFilter, specVersions []string) DeletePlan {
	var p DeletePlan
	var kept []StoredVersion
	for i, v := range vs {
		if f.selects(v, specVersions) {
			p.Delete = append(p.Delete, i)
		} else {
			p.Keep = append(p.Keep, i)
			kept = append(kept, v)
		}
	}
	if len(kept) > 0 {
		nh, marks := Summarize(h.ID, h.Created, kept)
		nh.Type = h.Type
		p.Head, p.Marks = &nh, marks
	}
	return p
}

// selects reports whether a delete with filter f and spec versions specs
// removes v.
func (f VersionFilter) selects(v StoredVersion, specs []string) bool {
	if len(specs) > 0 && !contains(specs, v.SpecVersion) {
		return false
	}
	if f.IsZero() || f.All {
		return true
	}
	if f.Last && v.Marks&MarkLast != 0 || f.First && v.Marks&MarkFirst != 0 {
		return true
	}
	for _, t := range f.Exact {
		if t.Equal(v.Version) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Ceilings is a set of TLP ceilings, one bit per level: bit c-1 for the
// ceiling stix.TLP(c), stix.TLPClear (bit 0) to stix.TLPRed (bit 4).
type Ceilings uint8

// AllCeilings holds every ceiling, stix.TLPClear to stix.TLPRed.
const AllCeilings Ceilings = 1<<uint(stix.TLPRed) - 1

// CeilingsFrom returns the ceilings lo to hi, both included (none when
// hi < lo); lo and hi are clamped to stix.TLPClear..stix.TLPRed.
func CeilingsFrom(lo, hi stix.TLP) Ceilings {
	lo, hi = max(lo, stix.TLPClear), min(hi, stix.TLPRed)
	if hi < lo {
		return 0
	}
	return AllCeilings >> (uint(stix.TLPRed) - uint(hi)) &^ (1<<(uint(lo)-1) - 1)
}

// Has reports whether c holds the ceiling maxTLP (normalised by Ceiling).
func (c Ceilings) Has(maxTLP stix.TLP) bool {
	return c&(1<<(uint(Ceiling(maxTLP))-1)) != 0
}

// Ceiling returns the ceiling a query with MaxTLP maxTLP reads under: no
// ceiling (stix.TLPNone) sees every level, as stix.TLPRed does.
func Ceiling(maxTLP stix.TLP) stix.TLP {
	if maxTLP == stix.TLPNone || maxTLP > stix.TLPRed {
		return stix.TLPRed
	}
	return maxTLP
}

// VersionTLP returns the level that decides who sees a stored version:
// its recorded level, stix.TLPRed when none was recorded.
func VersionTLP(l stix.TLP) stix.TLP {
	if l == stix.TLPNone || l > stix.TLPRed {
		return stix.TLPRed
	}
	return l
}

// CeilingMarks are the selection marks of one version under each TLP
// ceiling. A requester whose ceiling hides a version sees the object as if
// that version did not exist, so the last, the first and the top spec
// version depend on the ceiling: if the newest version is TLP:RED and the
// one before it TLP:AMBER, the AMBER one is the last under the ceilings
// AMBER and AMBER+STRICT, and the RED one under RED.
//
// Under ceiling C the versions visible are those whose level (VersionTLP)
// is at most C; a version is then the last of its spec version for the
// ceilings from its own level up to, not including, the lowest level among
// the newer versions of that spec version; the first likewise with the
// older ones. Each field is empty for the ceilings that do not see the
// version at all.
type CeilingMarks struct {
	Last, First, TopSpec Ceilings
}

// Marks returns the selection marks of the version under ceiling maxTLP
// (normalised by Ceiling).
func (m CeilingMarks) Marks(maxTLP stix.TLP) Marks {
	var r Marks
	if m.Last.Has(maxTLP) {
		r |= MarkLast
	}
	if m.First.Has(maxTLP) {
		r |= MarkFirst
	}
	if m.TopSpec.Has(maxTLP) {
		r |= MarkTopSpec
	}
	return r
}

// Latest returns the ceilings under which the version is the last of the
// object's top spec version (what a TAXII query without match[version]
// serves).
func (m CeilingMarks) Latest() Ceilings { return m.Last & m.TopSpec }

// Earliest returns the ceilings under which the version is the first of
// the object's top spec version.
func (m CeilingMarks) Earliest() Ceilings { return m.First & m.TopSpec }

// Span returns the ceilings of c as the levels lo to hi-1: the ceilings
// of a version's marks always form one such run starting at its own level
// (a higher ceiling sees more of the newer, older or higher spec versions
// that take a mark away, never fewer). lo == hi when c is empty.
func (c Ceilings) Span() (lo, hi stix.TLP) {
	for l := stix.TLPClear; l <= stix.TLPRed; l++ {
		if c.Has(l) {
			if lo == stix.TLPNone {
				lo = l
			}
			hi = l + 1
		}
	}
	return lo, hi
}

// SummarizeCeilings computes the selection marks of each of an object's
// stored versions under every ceiling: Summarize's marks over the versions
// each ceiling sees. vs is every stored version of the object (any order,
// as for Summarize); the result has one entry per version, in the same
// order. Under stix.TLPRed every version is visible, so the marks there
// are Summarize's.
//
// A backend stores the result with each version and recomputes it, for
// the object's ids a write touches, from all their versions: a new
// version can change the marks of every other version under some ceiling
// (a new TLP:CLEAR version of a new top spec version, for one, moves the
// top spec version of every ceiling), which a plan over the head alone
// cannot say.
func SummarizeCeilings(vs []StoredVersion) []CeilingMarks {
	out := make([]CeilingMarks, len(vs))
	visible := make([]StoredVersion, 0, len(vs))
	index := make([]int, 0, len(vs))
	for c := stix.TLPClear; c <= stix.TLPRed; c++ {
		visible, index = visible[:0], index[:0]
		for i, v := range vs {
			if VersionTLP(v.TLP) <= c {
				visible = append(visible, v)
				index = append(index, i)
			}
		}
		if len(visible) == 0 {
			continue
		}
		// Only the selection marks matter here: the id and created do not
		// change them.
		_, marks := Summarize("", time.Time{}, visible)
		bit := Ceilings(1) << (uint(c) - 1)
		for j, m := range marks {
			o := &out[index[j]]
			if m&MarkLast != 0 {
				o.Last |= bit
			}
			if m&MarkFirst != 0 {
				o.First |= bit
			}
			if m&MarkTopSpec != 0 {
				o.TopSpec |= bit
			}
		}
	}
	return out
}
