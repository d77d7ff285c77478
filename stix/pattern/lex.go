package pattern

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF       tokKind = iota
	tIdent             // keywords, type names, property names, true/false
	tInt               // -?[0-9]+
	tFloat             // -?[0-9]*(.[0-9]+)?([eE][+-]?[0-9]+)? with a fraction or exponent
	tString            // '...'
	tTimestamp         // t'...'
	tHex               // h'...'
	tBinary            // b'...'
	tPunct             // [ ] ( ) , : . * = != < <= > >=
)

type token struct {
	kind tokKind
	pos  int    // byte offset of the first byte
	end  int    // byte offset just past the last byte
	text string // source text
	val  string // decoded contents of quoted kinds
}

// describe renders a token for "found ..." in error messages.
func (t token) describe() string {
	if t.kind == tEOF {
		return "end of pattern"
	}
	s := t.text
	if len(s) > 40 {
		i := 40
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "..."
	}
	d := strconv.Quote(s)
	if t.kind == tIdent {
		if up := strings.ToUpper(t.text); up != t.text && keywords[up] {
			d += " (keywords are case-sensitive: write " + up + ")"
		} else if low := strings.ToLower(t.text); low != t.text && (low == "true" || low == "false") {
			d += " (booleans are lowercase: write " + low + ")"
		}
	}
	return d
}

var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true, "LIKE": true, "MATCHES": true,
	"ISSUBSET": true, "ISSUPERSET": true, "IN": true, "EXISTS": true, "WITHIN": true,
	"SECONDS": true, "REPEATS": true, "TIMES": true, "START": true, "STOP": true,
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '-' }

// checkUTF8 reports the first invalid UTF-8 sequence in s: "Pattern
// Expressions MUST be encoded as Unicode strings" (STIX 2.1 section 9.4).
func checkUTF8(s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return errAt(i, "invalid UTF-8")
			}
		}
	}
	return nil
}

// lexer splits a pattern into tokens on demand, so that the memory it uses
// does not grow with the pattern. Whitespace is any code point with the
// Unicode White_Space property and only separates tokens (STIX 2.1
// sections 9.1 and 9.4).
type lexer struct {
	s    string
	pos  int   // offset of the next byte to scan
	prev token // the token last returned
}

// next returns the next token, tEOF at the end, or a *SyntaxError.
func (l *lexer) next() (token, error) {
	s := l.s
	i := l.pos
	for i < len(s) {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				return token{}, errAt(i, "unexpected character %q", r)
			}
			i += n
			continue
		}
		if !unicode.IsSpace(rune(c)) {
			break
		}
		i++
	}
	if i == len(s) {
		l.pos = i
		return token{kind: tEOF, pos: i, end: i}, nil
	}
	c := s[i]
	var t token
	var err error
	switch {
	case (c == 't' || c == 'h' || c == 'b') && i+1 < len(s) && s[i+1] == '\'':
		t, err = lexTyped(s, i)
	case isIdentStart(c):
		j := i + 1
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		t = token{kind: tIdent, pos: i, end: j, text: s[i:j]}
	case isDigit(c) || c == '-' || c == '.' && i+1 < len(s) && isDigit(s[i+1]) && !l.stepDot(i):
		t, err = lexNumber(s, i)
	case c == '\'':
		t, err = lexString(s, i)
	case c == '!':
		if i+1 < len(s) && s[i+1] == '=' {
			t = token{kind: tPunct, pos: i, end: i + 2, text: "!="}
		} else {
			err = errAt(i, "unexpected '!': the not-equal operator is '!=', negation is NOT")
		}
	case c == '<' || c == '>':
		n := 1
		if i+1 < len(s) && s[i+1] == '=' {
			n = 2
		}
		t = token{kind: tPunct, pos: i, end: i + n, text: s[i : i+n]}
	case strings.IndexByte("[](),:.*=", c) >= 0:
		t = token{kind: tPunct, pos: i, end: i + 1, text: s[i : i+1]}
	case c == '+':
		err = errAt(i, "unexpected '+': positive numbers are written without a plus sign (STIX 2.1 section 9.2)")
	case c == '"':
		err = errAt(i, "unexpected '\"': string constants are enclosed in apostrophes (') (STIX 2.1 section 9.2)")
	default:
		err = errAt(i, "unexpected character %q", c)
	}
	if err != nil {
		return token{}, err
	}
	l.pos, l.prev = t.end, t
	return t, nil
}

// stepDot reports whether a '.' at i continues an object path, as in
// file:hashes.MD5: it follows a name or a list index with no whitespace in
// between. Elsewhere ".5" is a float.
func (l *lexer) stepDot(i int) bool {
	p := l.prev
	return p.end == i && p.pos < p.end && (p.kind == tIdent || p.kind == tString || p.kind == tPunct && p.text == "]")
}

// lexString reads a string constant: apostrophes around any code points,
// where a backslash may only escape an apostrophe or a backslash (STIX 2.1
// section 9.2).
func lexString(s string, start int) (token, error) {
	var b []byte // decoded text so far, used once an escape is seen
	esc, from := false, start+1
	for i := start + 1; i < len(s); i++ {
		switch s[i] {
		case '\'':
			val := s[start+1 : i]
			if esc {
				val = string(append(b, s[from:i]...))
			}
			return token{kind: tString, pos: start, end: i + 1, text: s[start : i+1], val: val}, nil
		case '\\':
			if i+1 < len(s) && s[i+1] != '\'' && s[i+1] != '\\' {
				r, _ := utf8.DecodeRuneInString(s[i+1:])
				return token{}, errAt(i, "invalid escape sequence \\%c in string: only \\' and \\\\ are allowed (STIX 2.1 section 9.2)", r)
			}
			b, esc = append(b, s[from:i]...), true
			i++
			from = i // the escaped character starts the next run
		}
	}
	return token{}, errAt(start, "unterminated string constant: missing closing apostrophe (')")
}

// lexTyped reads t'...', h'...' or b'...'. The contents are validated by the
// parser so that errors point inside the constant.
func lexTyped(s string, start int) (token, error) {
	kind, name := tTimestamp, "timestamp"
	switch s[start] {
	case 'h':
		kind, name = tHex, "hex"
	case 'b':
		kind, name = tBinary, "binary"
	}
	end := strings.IndexByte(s[start+2:], '\'')
	if end < 0 {
		return token{}, errAt(start, "unterminated %s constant: missing closing apostrophe (')", name)
	}
	end += start + 3
	return token{kind: kind, pos: start, end: end, text: s[start:end], val: s[start+2 : end-1]}, nil
}

// lexNumber reads an integer or float constant (STIX 2.1 section 9.2): an
// optional hyphen-minus, digits, optionally a fraction and an exponent. The
// integer part of a float may be empty, as in .5 or -.5: the STIX patterning
// grammar defines floats as [0-9]* '.' [0-9]+.
func lexNumber(s string, start int) (token, error) {
	i := start
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		return i - j
	}
	intDigits := digits()
	kind := tInt
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i++
		digits()
		kind = tFloat
	} else if intDigits == 0 {
		return token{}, errAt(start, "unexpected '-': expected a digit after the minus sign")
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		save := i
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			i = save
		} else {
			kind = tFloat
		}
	}
	if i < len(s) && (isIdentChar(s[i]) || s[i] == '.' || s[i] == '\'') {
		return token{}, errAt(start, "invalid number %q", s[start:min(i+1, len(s))])
	}
	return token{kind: kind, pos: start, end: i, text: s[start:i]}, nil
}
