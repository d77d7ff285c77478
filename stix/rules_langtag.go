package stix

// Rules on language tags (RFC 5646).

import "strings"

// checkLangTag: RFC 5646 language tags where the specification requires
// them: lang (section 3.2), granular marking lang (7.2.3), language-content
// contents keys (7.1.1) and software languages (6.14.1).
func checkLangTag(obj map[string]any, r *ruleReport) {
	bad := func(v any) (string, bool) {
		s, ok := v.(string)
		return s, ok && !ruleIsLangTag(s)
	}
	const msg = "%s is not an RFC 5646 language tag"
	if s, ok := bad(obj["lang"]); ok {
		r.add("/lang", msg, ruleQuote(s))
	}
	gms, _ := obj["granular_markings"].([]any)
	for i, g := range gms {
		if gm, ok := g.(map[string]any); ok {
			if s, ok := bad(gm["lang"]); ok {
				r.add(rulePointer("granular_markings", i, "lang"), msg, ruleQuote(s))
			}
		}
	}
	switch ruleType(obj) {
	case "language-content":
		contents, _ := obj["contents"].(map[string]any)
		for k := range contents {
			if !ruleIsLangTag(k) {
				r.add(rulePointer("contents", k), "key %s is not an RFC 5646 language tag", ruleQuote(k))
			}
		}
	case "software":
		langs, _ := obj["languages"].([]any)
		for i, l := range langs {
			if s, ok := bad(l); ok {
				r.add(rulePointer("languages", i), msg, ruleQuote(s))
			}
		}
	}
}

// ruleGrandfathered are the irregular grandfathered tags of RFC 5646 (the
// regular ones are also well-formed langtags).
var ruleGrandfathered = map[string]bool{
	"en-gb-oed": true, "i-ami": true, "i-bnn": true, "i-default": true, "i-enochian": true,
	"i-hak": true, "i-klingon": true, "i-lux": true, "i-mingo": true, "i-navajo": true,
	"i-pwn": true, "i-tao": true, "i-tay": true, "i-tsu": true, "sgn-be-fr": true,
	"sgn-be-nl": true, "sgn-ch-de": true,
}

// ruleIsLangTag reports whether s is a well-formed RFC 5646 language tag
// (section 2.1 syntax; the registry is not consulted).
func ruleIsLangTag(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	if len(s) <= 10 && ruleGrandfathered[strings.ToLower(s)] {
		return true
	}
	tags := strings.Split(s, "-")
	alpha := func(t string, lo, hi int) bool {
		if len(t) < lo || len(t) > hi {
			return false
		}
		for i := 0; i < len(t); i++ {
			if c := t[i] | 0x20; c < 'a' || c > 'z' {
				return false
			}
		}
		return true
	}
	alnum := func(t string, lo, hi int) bool {
		if len(t) < lo || len(t) > hi {
			return false
		}
		for i := 0; i < len(t); i++ {
			c := t[i]
			if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
				return false
			}
		}
		return true
	}
	isX := func(t string) bool { return t == "x" || t == "X" }
	privateUse := func(i int) bool { // tags[i] is x
		i++
		n := 0
		for ; i < len(tags) && alnum(tags[i], 1, 8); i++ {
			n++
		}
		return n > 0 && i == len(tags)
	}
	if isX(tags[0]) {
		return privateUse(0)
	}
	if !alpha(tags[0], 2, 8) {
		return false
	}
	i := 1
	if len(tags[0]) <= 3 { // up to three extlang subtags
		for n := 0; n < 3 && i < len(tags) && alpha(tags[i], 3, 3); n++ {
			i++
		}
	}
	if i < len(tags) && alpha(tags[i], 4, 4) { // script
		i++
	}
	if i < len(tags) && (alpha(tags[i], 2, 2) || len(tags[i]) == 3 && digits(tags[i])) { // region
		i++
	}
	for i < len(tags) && (alnum(tags[i], 5, 8) || len(tags[i]) == 4 && tags[i][0] >= '0' && tags[i][0] <= '9' && alnum(tags[i], 4, 4)) { // variants
		i++
	}
	for i < len(tags) && len(tags[i]) == 1 && alnum(tags[i], 1, 1) && !isX(tags[i]) { // extensions
		i++
		n := 0
		for ; i < len(tags) && alnum(tags[i], 2, 8); i++ {
			n++
		}
		if n == 0 {
			return false
		}
	}
	if i < len(tags) && isX(tags[i]) {
		return privateUse(i)
	}
	return i == len(tags)
}
