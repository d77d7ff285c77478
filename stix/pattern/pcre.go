package pattern

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dlclark/regexp2/v2/syntax"
)

// The operand of MATCHES is a regular expression in the syntax of the PCRE
// library (STIX 2.1 section 9.6.1). Go's regexp package knows only RE2
// syntax and rejects valid PCRE such as lookarounds and backreferences, so
// the syntax check parses the expression with regexp2, a backtracking
// engine with .NET syntax, in its RE2 mode, which adds the Perl and PCRE
// forms .NET lacks: (?P<name>...), POSIX classes, \h, \K, \g, \o and
// escaped punctuation such as \_. pcreShim first rewrites the PCRE
// constructs regexp2 does not know into constructs of the same shape, and
// rejects the letter escapes PCRE does not know, which RE2 mode would take
// as literals. Constructs that only .NET has, such as balancing groups and
// class subtraction, are accepted.
//
// Only the syntax is checked: no expression is ever compiled to a matcher
// or run here, so matching time cannot be attacked. Parsing is linear in
// the length of the expression, from 25 ns a byte for literal text to 0.5 µs
// for a run of capture groups; the nesting limit below and MaxRegexpBytes
// bound its cost per pattern.

// maxRegexpNesting is how deeply parentheses may nest in a MATCHES
// expression: PCRE2's default nesting limit (PARENS_NEST_LIMIT), past which
// PCRE itself refuses to compile.
const maxRegexpNesting = 250

// MaxRegexpBytes bounds the total length of the distinct MATCHES regular
// expressions in one pattern, and with it the time spent checking them.
const MaxRegexpBytes = 256 << 10

// checkRegexp checks the operand of a MATCHES comparison. A repeated
// expression is checked once.
func (p *parser) checkRegexp(c Constant) error {
	if p.regexps[c.Text] {
		return nil
	}
	if p.regexpBytes += len(c.Text); p.regexpBytes > MaxRegexpBytes {
		return errAt(c.Offset, "the MATCHES regular expressions of the pattern total more than %d bytes", MaxRegexpBytes)
	}
	off, msg := pcreCheck(c.Text)
	if msg == "" {
		if p.regexps == nil {
			p.regexps = map[string]bool{}
		}
		p.regexps[c.Text] = true
		return nil
	}
	pos := c.Offset
	if off >= 0 {
		pos = rawOffset(c, off)
	}
	return errAt(pos, "MATCHES takes a PCRE regular expression: %s (STIX 2.1 section 9.6.1)", msg)
}

// rawOffset maps a byte offset in the decoded text of string constant c to
// its offset in the pattern, past the opening apostrophe and the escapes.
func rawOffset(c Constant, off int) int {
	i := 1
	for d := 0; d < off && i < len(c.Raw)-1; d++ {
		if c.Raw[i] == '\\' {
			i++
		}
		i++
	}
	return c.Offset + i
}

// pcreCheck checks the syntax of a PCRE regular expression. It returns a
// message when invalid, with the byte offset of the problem in expr, or -1
// when the position is unknown.
func pcreCheck(expr string) (off int, msg string) {
	src, off, msg := pcreShim(expr)
	if msg != "" {
		return off, msg
	}
	if err := parseRegexp(src); err != nil {
		return -1, err.Error()
	}
	return -1, ""
}

// parseRegexp parses src with regexp2's parser, in its RE2 mode and with
// the option STIX matching uses, DOTALL (section 9.6.1). Only the parse
// runs: it finds every syntax error, and the code generation that would
// follow costs four times as much. The error is regexp2's message without
// the expression, which the caller locates.
func parseRegexp(src string) (err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("the regular expression could not be parsed")
		}
	}()
	_, err = syntax.Parse(src, syntax.ParseOptions{RegexOptions: syntax.RE2 | syntax.Singleline})
	var se *syntax.Error
	if errors.As(err, &se) {
		msg := strings.TrimPrefix(se.Error(), "error parsing regexp: ")
		msg = strings.TrimSuffix(msg, " in `"+se.Expr+"`")
		if len(msg) > 200 {
			msg = short(msg)
		}
		return errors.New(msg)
	}
	return err
}

// pcreEscapes are the letters PCRE2 accepts after a backslash; any other
// letter is a compile error in PCRE ("unrecognized character follows \").
const pcreEscapes = "ABCDEGHKNPQRSVWXZabcdefghknoprstvwxz"

// pcreShim scans a PCRE expression, tracking character classes, quoting
// (\Q...\E), comments and the extended (x) option well enough to find
// groups. It returns the expression with these PCRE constructs rewritten
// for regexp2: backtracking verbs and start-of-pattern options (*...),
// alphabetic assertions (*pla:...), recursion and subroutine calls (?R)
// (?1) (?&name) (?P>name), callouts (?C...), branch reset (?|, the
// options J and ^, \k{name}, and the
// properties \p{L&}, \p{^X} and PCRE's \p{Xan} family. It reports
// parentheses nested deeper than maxRegexpNesting and unknown letter
// escapes, with their offsets.
func pcreShim(expr string) (string, int, string) {
	var b strings.Builder
	last, rewritten := 0, false // expr[:last] is in b
	replace := func(from, to int, with string) {
		b.WriteString(expr[last:from])
		b.WriteString(with)
		last, rewritten = to, true
	}
	depth, extended := 0, false
	for i := 0; i < len(expr); {
		switch expr[i] {
		case '\\':
			next, msg := shimEscape(expr, i, replace)
			if msg != "" {
				return "", i, msg
			}
			i = next
		case '[':
			next, off, msg := shimClass(expr, i, replace)
			if msg != "" {
				return "", off, msg
			}
			i = next
		case ')':
			if depth > 0 {
				depth--
			}
			i++
		case '#':
			if !extended {
				i++
				break
			}
			if j := strings.IndexByte(expr[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(expr)
			}
		case '(':
			next, opens, x := shimGroup(expr, i, replace)
			if x != 0 {
				extended = x > 0
			}
			if opens {
				if depth++; depth > maxRegexpNesting {
					return "", i, fmt.Sprintf("parentheses nested deeper than %d levels, PCRE's limit", maxRegexpNesting)
				}
			}
			i = next
		default:
			i++
		}
	}
	if !rewritten {
		return expr, -1, ""
	}
	b.WriteString(expr[last:])
	return b.String(), -1, ""
}

// shimEscape handles the escape at expr[i] == '\\' and returns the offset
// after it, or a message when PCRE does not know the escape.
func shimEscape(expr string, i int, replace func(from, to int, with string)) (int, string) {
	if i+1 >= len(expr) {
		return i + 1, "" // regexp2 reports the trailing backslash
	}
	e := expr[i+1]
	switch {
	case e == 'Q': // literal text up to \E or the end
		if j := strings.Index(expr[i+2:], `\E`); j >= 0 {
			return i + 2 + j + 2, ""
		}
		return len(expr), ""
	case e == 'c': // control character: \c) is not a parenthesis
		if i+2 >= len(expr) {
			return i + 2, "" // regexp2 reports the missing character
		}
		// PCRE takes any printable ASCII character, regexp2 only letters
		// and a few others: write the code point instead.
		ch := expr[i+2]
		if ch < ' ' || ch > '~' {
			return 0, `\c must be followed by a printable ASCII character`
		}
		if ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		replace(i, i+3, fmt.Sprintf(`\x%02x`, ch^0x40))
		return i + 3, ""
	case (e == 'k' || e == 'p' || e == 'P') && i+2 < len(expr) && expr[i+2] == '{':
		j := strings.IndexByte(expr[i+3:], '}')
		if j < 0 {
			return i + 2, ""
		}
		end := i + 3 + j + 1
		name := expr[i+3 : end-1]
		switch {
		case e == 'k':
			replace(i, end, `\k<`+name+`>`)
		case strings.HasPrefix(name, "^"): // \p{^L} is \P{L}
			replace(i, end, `\`+string(e^('p'^'P'))+`{`+name[1:]+`}`)
		case name == "L&" || name == "Xan" || name == "Xps" || name == "Xsp" || name == "Xuc" || name == "Xwd":
			replace(i, end, `\`+string(e)+`{L}`)
		}
		return end, ""
	case e >= 'a' && e <= 'z' || e >= 'A' && e <= 'Z':
		if !strings.ContainsRune(pcreEscapes, rune(e)) {
			return 0, fmt.Sprintf(`unknown escape sequence \%c`, e)
		}
	}
	return i + 2, ""
}

// shimClass skips the character class starting at expr[i] == '['. A ']'
// right after '[' or '[^' is a literal; [:name:] is a POSIX class.
func shimClass(expr string, i int, replace func(from, to int, with string)) (int, int, string) {
	j := i + 1
	if j < len(expr) && expr[j] == '^' {
		j++
	}
	if j < len(expr) && expr[j] == ']' {
		j++
	}
	for j < len(expr) {
		switch expr[j] {
		case ']':
			return j + 1, -1, ""
		case '\\':
			next, msg := shimEscape(expr, j, replace)
			if msg != "" {
				return 0, j, msg
			}
			j = next
		case '[':
			if j+1 < len(expr) && expr[j+1] == ':' {
				if k := strings.Index(expr[j+2:], ":]"); k >= 0 {
					j += 2 + k + 2
					continue
				}
			}
			j++
		default:
			j++
		}
	}
	return len(expr), -1, "" // regexp2 reports the unterminated class
}

// shimGroup handles the '(' at expr[i]. It returns the offset to continue
// at, whether a group opened (to count nesting), and +1 or -1 when an
// option setting turns the extended option on or off.
func shimGroup(expr string, i int, replace func(from, to int, with string)) (next int, opens bool, x int) {
	rest := expr[i+1:]
	closeAt := func() int { // offset just past the next ')', or 0
		if j := strings.IndexByte(rest, ')'); j >= 0 {
			return i + 1 + j + 1
		}
		return 0
	}
	switch {
	case strings.HasPrefix(rest, "*") && len(rest) > 1 && rest[1] >= 'a' && rest[1] <= 'z':
		// Alphabetic assertions open a group: (*pla:...), (*atomic:...)
		k := 1
		for k < len(rest) && (rest[k] >= 'a' && rest[k] <= 'z' || rest[k] == '_') {
			k++
		}
		if k < len(rest) && rest[k] == ':' {
			replace(i, i+1+k+1, "(?:")
			return i + 1 + k + 1, true, 0
		}
	case strings.HasPrefix(rest, "*") && len(rest) > 1 && (rest[1] >= 'A' && rest[1] <= 'Z' || rest[1] == ':'):
		// (*UTF), (*CRLF), (*LIMIT_MATCH=n), (*COMMIT), (*MARK:x), (*:x) ...
		if end := closeAt(); end > 0 {
			replace(i, end, "(?:)")
			return end, false, 0
		}
	}
	if len(rest) < 2 || rest[0] != '?' {
		return i + 1, true, 0
	}
	switch q := rest[1:]; {
	case q[0] == '#': // comment
		if end := closeAt(); end > 0 {
			return end, false, 0
		}
	case q[0] == 'R' || q[0] == '&' || q[0] == 'C' || strings.HasPrefix(q, "P>") || isRecursion(q):
		// (?R), (?1), (?+1), (?-1), (?&name), (?P>name), (?C1), (?C"text")
		if end := closeAt(); end > 0 {
			replace(i, end, "(?:)")
			return end, false, 0
		}
	case q[0] == '|': // branch reset
		replace(i, i+3, "(?:")
		return i + 3, true, 0
	default:
		// Option settings (?imnsxJU-imnsx) and (?^...), alone or opening
		// a group with ':'. regexp2 knows all but J and ^.
		k := 0
		for k < len(q) && strings.IndexByte("imnsxJU^-", q[k]) >= 0 {
			k++
		}
		if k == 0 || k == len(q) || q[k] != ')' && q[k] != ':' {
			return i + 2, true, 0
		}
		flags := q[:k]
		on, off, _ := strings.Cut(flags, "-")
		if strings.Contains(on, "x") {
			x = 1
		} else if strings.Contains(off, "x") || strings.HasPrefix(on, "^") {
			x = -1
		}
		if kept := strings.NewReplacer("J", "", "^", "").Replace(flags); kept != flags {
			if kept = strings.TrimSuffix(kept, "-"); kept == "" {
				kept = ":" // "(?:" opens the same group; "(?:)" is empty
				if q[k] == ')' {
					kept = ":)"
				}
				replace(i, i+2+k+1, "(?"+kept)
			} else {
				replace(i, i+2+k, "(?"+kept)
			}
		}
		return i + 2 + k + 1, q[k] == ':', x
	}
	return i + 2, true, 0
}

// isRecursion reports whether q, the text after "(?", starts a numbered
// recursion or subroutine call: (?1), (?+1), (?-1).
func isRecursion(q string) bool {
	if q[0] == '+' || q[0] == '-' {
		q = q[1:]
	}
	return q != "" && isDigit(q[0])
}
