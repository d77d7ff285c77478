package stix

// Rules on indicator patterns.

import (
	"errors"

	"github.com/taxiid/taxiid/stix/pattern"
)

// checkIndicatorPattern: sections 4.7 and 9, an indicator whose pattern_type
// is "stix" holds a STIX pattern.
func checkIndicatorPattern(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "indicator" {
		return
	}
	if pt, _ := ruleString(obj, "pattern_type"); pt != "stix" {
		return
	}
	p, ok := ruleString(obj, "pattern")
	if !ok {
		return
	}
	if off, msg, bad := rulePatternSyntax(p); bad {
		if off >= 0 {
			r.add("/pattern", "invalid STIX pattern at offset %d: %s", off, msg)
		} else {
			r.add("/pattern", "invalid STIX pattern: %s", msg)
		}
	}
}

// rulePatternSyntax parses a STIX pattern and returns the offset (-1 when
// unknown) and message of its syntax error.
func rulePatternSyntax(s string) (offset int, msg string, bad bool) {
	_, err := pattern.Parse(s)
	if err == nil {
		return 0, "", false
	}
	var se *pattern.SyntaxError
	if errors.As(err, &se) {
		return se.Offset, se.Msg, true
	}
	return -1, err.Error(), true
}
