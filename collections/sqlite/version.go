package sqlite

import (
	"fmt"
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

// objects.flags holds a version's collections.Marks: 1 last and 2 first
// within its spec version, 4 top spec version, 8 unversioned, 16 revoked.
// Queries test them as literals ("flags & 5 = 5") so that they match the
// partial indexes.
