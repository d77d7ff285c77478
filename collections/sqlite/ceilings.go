package sqlite

import (
	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// objects.ceilings holds a version's selection marks under the ceilings
// below TLP:RED (collections.CeilingMarks; under TLP:RED, and without a
// ceiling, flags holds them): four bits each, bit c-1 for ceiling c,
// Last in bits 0-3, First in 4-7, TopSpec in 8-11. A version's marks only
// start at its own level, so a TLP:RED version's are 0.
const (
	lastShift    = 0
	firstShift   = 4
	topSpecShift = 8
	// belowRedCeilings are the ceilings objects.ceilings holds.
	belowRedCeilings = collections.AllCeilings >> 1
)

// packCeilings returns the objects.ceilings value of m.
func packCeilings(m collections.CeilingMarks) int64 {
	return int64(m.Last&belowRedCeilings)<<lastShift |
		int64(m.First&belowRedCeilings)<<firstShift |
		int64(m.TopSpec&belowRedCeilings)<<topSpecShift
}

// The conditions of the partial "_tlp" indexes (migration 0009), in their
// very words: SQLite uses a partial index only for a query with the same
// term. The latest and first indexes hold the versions that are the
// latest, or the first, of the object's top spec version under some
// ceiling below TLP:RED.
const (
	belowRed       = "tlp < 5"
	latestBelowRed = "ceilings & (ceilings >> 8) & 15 != 0"
	firstBelowRed  = "(ceilings >> 4) & (ceilings >> 8) & 15 != 0"
)

// partialTerm maps each selection index to the condition of its "_tlp"
// counterpart.
var partialTerm = map[string]string{
	"objects_coll":        belowRed,
	"objects_type":        belowRed,
	"objects_spec":        belowRed,
	"objects_latest":      latestBelowRed,
	"objects_latest_type": latestBelowRed,
	"objects_first":       firstBelowRed,
}

// ceilingBit is the bit of ceiling c (below TLP:RED) in each group of
// objects.ceilings.
func ceilingBit(c stix.TLP) int64 { return 1 << (uint(c) - 1) }

// topSpecCeilings is the mask of "top spec version under c".
func topSpecCeilings(c stix.TLP) int64 { return ceilingBit(c) << topSpecShift }

// ceilingTest returns the condition "every mark of mask is set", with the
// mask as one argument: evaluated from the "_tlp" indexes, which hold
// ceilings, so a rejected entry costs no row read.
func ceilingTest(qb *queryBuilder, mask int64) string {
	m := qb.arg(mask)
	return "ceilings & " + m + " = " + m
}

// ceilingCond is selectorCond under a ceiling c below TLP:RED, from the
// marks under c: under the default spec rule latest is Last and TopSpec,
// first First and TopSpec, all TopSpec; across spec versions (all, or a
// list) latest is Last, first First, and all every visible version, which
// the level ranges and filters already select ("").
func ceilingCond(qb *queryBuilder, sel selector, mode specMode, c stix.TLP) string {
	b := ceilingBit(c)
	var mask int64
	switch sel {
	case selLatest:
		mask = b << lastShift
	case selFirst:
		mask = b << firstShift
	}
	if mode == specTop {
		mask |= b << topSpecShift
	}
	if mask == 0 {
		return ""
	}
	return ceilingTest(qb, mask)
}
