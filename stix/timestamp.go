package stix

import (
	"fmt"
	"time"
)

// maxFractionDigits is the precision of a parsed timestamp: Go times hold
// nanoseconds.
const maxFractionDigits = 9

// ParseTimestamp parses a STIX timestamp (STIX 2.1 section 2.16):
// RFC 3339 in UTC with the "Z" designator and up to nine fractional
// digits. Offsets other than Z, lowercase designators and missing seconds
// are rejected, and so are finer fractions: a tenth digit would be lost,
// and two versions that differ only there would become one.
func ParseTimestamp(s string) (time.Time, error) {
	// Shape check first: time.Parse accepts offsets and lowercase t/z.
	// YYYY-MM-DDTHH:MM:SS[.f+]Z
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp in UTC ending in Z", s)
	}
	if len(s) > 20 {
		if s[19] != '.' || len(s) == 21 {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp in UTC ending in Z", s)
		}
		for i := 20; i < len(s)-1; i++ {
			if s[i] < '0' || s[i] > '9' {
				return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp in UTC ending in Z", s)
			}
		}
		if n := len(s) - 21; n > maxFractionDigits {
			return time.Time{}, fmt.Errorf("%q %s", s, tooPreciseMessage(n))
		}
	}
	// RFC 3339 (section 5.7) allows second 60 for a leap second, at the
	// end of a UTC day; Go times have none, so it is read as the first
	// instant of the next second, as POSIX time counts it.
	leap := s[17:19] == "60" && s[11:16] == "23:59"
	parsed := s
	if leap {
		parsed = s[:17] + "59" + s[19:]
	}
	t, err := time.Parse(time.RFC3339Nano, parsed)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a valid timestamp", s)
	}
	if leap {
		t = t.Add(time.Second)
	}
	return t.UTC(), nil
}

// tooPreciseMessage explains why a timestamp with n fractional digits is
// refused.
func tooPreciseMessage(n int) string {
	return fmt.Sprintf("has %d fractional digits; at most %d (nanoseconds) are kept, so versions that differ beyond them could not be told apart", n, maxFractionDigits)
}

// fractionDigits returns how many fractional digits a string shaped like
// a timestamp (YYYY-MM-DDTHH:MM:SS.f+Z) has, 0 for any other string.
func fractionDigits(s string) int {
	if len(s) < 22 || s[19] != '.' || s[len(s)-1] != 'Z' {
		return 0
	}
	for i := 20; i < len(s)-1; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
	}
	return len(s) - 21
}

// FormatTimestamp renders t as a STIX timestamp with millisecond precision,
// or microsecond or nanosecond precision when t carries them, so that a
// version parsed from an object formats back to an equal instant.
func FormatTimestamp(t time.Time) string {
	t = t.UTC()
	switch ns := t.Nanosecond(); {
	case ns%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}
