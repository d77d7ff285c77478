package sqlite

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// versionLayout is how versions are stored: fixed width, UTC, nanoseconds,
// so that comparing the text compares the times.
const versionLayout = "2006-01-02T15:04:05.000000000Z"

// formatVersion returns t in versionLayout. Years outside 0000-9999 would
// break the fixed width and so the ordering; they are refused.
func formatVersion(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("version %s: year out of range", t.Format(time.RFC3339Nano))
	}
	return t.Format(versionLayout), nil
}

// parseVersion parses versionLayout. It is on the read path of every object,
// hence hand-written rather than time.Parse.
func parseVersion(s string) (time.Time, error) {
	if len(s) != len(versionLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[19] != '.' || s[29] != 'Z' {
		return time.Time{}, fmt.Errorf("malformed stored version %q", s)
	}
	num := func(i, j int) int {
		n := 0
		for ; i < j; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d := num(0, 4), num(5, 7), num(8, 10)
	h, mi, sec, ns := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
		sec < 0 || sec > 60 || ns < 0 {
		return time.Time{}, fmt.Errorf("malformed stored version %q", s)
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), nil
}

// Bits of objects.flags.
const (
	flagLatest    = 1 // newest version within (id, spec_version)
	flagFirst     = 2 // oldest version within (id, spec_version)
	flagTopSpec   = 4 // spec_version is the highest of the id
	flagNoVersion = 8 // version is the date_added of the first push

	selectorFlags = flagLatest | flagFirst | flagTopSpec
)

// version is one stored version of an object, as loaded to maintain flags.
type version struct {
	dateAdded int64
	spec      string
	version   string
	flags     int64 // as stored
	newFlags  int64 // as they should be
}

// computeFlags sets newFlags on every version of one object from the whole
// set, keeping the bits that are not selection flags.
func computeFlags(vs []version) {
	type group struct{ spec, min, max string }
	var groups []group // few: one per spec version of the object
	top := ""
	for _, v := range vs {
		if top == "" || specLess(top, v.spec) {
			top = v.spec
		}
		i := 0
		for i < len(groups) && groups[i].spec != v.spec {
			i++
		}
		if i == len(groups) {
			groups = append(groups, group{v.spec, v.version, v.version})
			continue
		}
		groups[i].min = min(groups[i].min, v.version)
		groups[i].max = max(groups[i].max, v.version)
	}
	for i := range vs {
		v := &vs[i]
		f := v.flags &^ selectorFlags
		for _, g := range groups {
			if g.spec != v.spec {
				continue
			}
			if v.version == g.max {
				f |= flagLatest
			}
			if v.version == g.min {
				f |= flagFirst
			}
		}
		if v.spec == top {
			f |= flagTopSpec
		}
		v.newFlags = f
	}
}

// specLess orders spec versions numerically, component by component
// ("2.0" < "2.1" < "2.10"); non-numeric components compare as text.
func specLess(a, b string) bool {
	for a != "" || b != "" {
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		if x == y {
			continue
		}
		if x == "" || y == "" { // a prefix of the other comes first
			return x == ""
		}
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				return nx < ny
			}
		case ex == nil: // numbers before text
			return true
		case ey == nil:
			return false
		default:
			return x < y
		}
	}
	return false
}
