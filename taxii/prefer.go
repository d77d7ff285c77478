package taxii

import (
	"net/http"
	"strings"
	"time"
)

// preference is one preference of a Prefer header field (RFC 7240 section
// 2): a token, an optional value, and parameters. Names are lower case
// (tokens are case-insensitive); values are unquoted.
type preference struct {
	name   string
	value  string
	params []preferenceParam
}

type preferenceParam struct{ name, value string }

// preferences parses the Prefer header fields of a request, in order:
//
//	Prefer     = 1#preference
//	preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
//	parameter  = token [ BWS "=" BWS word ]
//	word       = token / quoted-string
//
// Several field lines form one list (RFC 9110 section 5.3). A list element
// that does not follow the grammar is skipped, up to the next comma
// outside a quoted string, so that one malformed preference does not hide
// the others.
func preferences(h http.Header) []preference {
	var out []preference
	for _, line := range h.Values("Prefer") {
		p := preferParser{s: line}
		for !p.done() {
			if pref, ok := p.element(); ok {
				out = append(out, pref)
			}
		}
	}
	return out
}

// preferredWait returns the wait a request asks for with the "wait"
// preference (RFC 7240 section 4.3: wait = "wait" "=" delta-seconds), and
// false when it asks for none: no such preference, or its first instance
// (section 2: only the first instance of a preference is considered) has
// an empty or malformed value. A value beyond limit is limit.
func preferredWait(h http.Header, limit time.Duration) (time.Duration, bool) {
	for _, p := range preferences(h) {
		if p.name != "wait" {
			continue
		}
		if p.value == "" {
			return 0, false // section 2: an empty value is no value
		}
		var n int64
		for _, r := range p.value {
			if r < '0' || r > '9' {
				return 0, false
			}
			if n <= int64(limit/time.Second) {
				n = n*10 + int64(r-'0')
			}
		}
		return min(time.Duration(n)*time.Second, limit), true
	}
	return 0, false
}

// preferParser reads one Prefer field line.
type preferParser struct {
	s string
	i int
}

func (p *preferParser) done() bool {
	p.skipSpace()
	for p.i < len(p.s) && p.s[p.i] == ',' { // empty list elements are allowed
		p.i++
		p.skipSpace()
	}
	return p.i >= len(p.s)
}

func (p *preferParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// element reads one preference and the comma ending it; ok is false when
// it is malformed (then the rest of the element is skipped).
func (p *preferParser) element() (pref preference, ok bool) {
	name, value, ok := p.pair()
	if !ok {
		p.skipElement()
		return preference{}, false
	}
	pref = preference{name: name, value: value}
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return pref, true
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			return pref, true
		case ';':
			p.i++
			p.skipSpace()
			if p.i >= len(p.s) || p.s[p.i] == ',' || p.s[p.i] == ';' {
				continue // "[ OWS parameter ]": the parameter is optional
			}
			n, v, ok := p.pair()
			if !ok {
				p.skipElement()
				return preference{}, false
			}
			pref.params = append(pref.params, preferenceParam{n, v})
		default:
			p.skipElement()
			return preference{}, false
		}
	}
}

// pair reads token [ BWS "=" BWS word ].
func (p *preferParser) pair() (name, value string, ok bool) {
	name = p.token()
	if name == "" {
		return "", "", false
	}
	save := p.i
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		p.i = save
		return strings.ToLower(name), "", true
	}
	p.i++
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '"' {
		value, ok = p.quoted()
		return strings.ToLower(name), value, ok
	}
	value = p.token()
	// An empty value ("wait=") is no value (section 2), not an error.
	return strings.ToLower(name), value, true
}

func (p *preferParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string (RFC 9110 section 5.6.4), unescaping it.
func (p *preferParser) quoted() (string, bool) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; c {
		case '"':
			p.i++
			return b.String(), true
		case '\\':
			p.i++
			if p.i >= len(p.s) {
				return "", false
			}
			b.WriteByte(p.s[p.i])
		default:
			b.WriteByte(c)
		}
	}
	return "", false // unterminated
}

// skipElement moves past the next comma outside a quoted string.
func (p *preferParser) skipElement() {
	quoted := false
	for ; p.i < len(p.s); p.i++ {
		switch p.s[p.i] {
		case '\\':
			if quoted {
				p.i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				p.i++
				return
			}
		}
	}
}

// isTChar reports whether c may appear in a token (RFC 9110 section
// 5.6.2).
func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
