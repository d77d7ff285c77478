package pattern

import (
	"strings"
	"testing"
)

// pcreCases are MATCHES operands as decoded text: PCRE syntax that regexp2
// lacks is accepted, syntax PCRE refuses is rejected, and the offset is that
// of the problem in the expression when known (-1 if not).
var pcreCases = []struct {
	expr string
	off  int
	msg  string // "" when valid
}{
	// Shared with .NET and RE2 syntax.
	{`^C:\\Windows\w+$`, 0, ""},
	{`.+\@example\.com$`, 0, ""},
	{`(?=.*a)(?!b)(?<=c)(?<!d)x`, 0, ""},
	{`^(\w+)-\1$`, 0, ""},
	{`(?<n>a)\k<n>(?'m'b)\k'm'`, 0, ""},
	{`(?>a+)b*+c++d?+e{1,2}+`, 0, ""},
	{`\Qa.(b\E`, 0, ""},
	{`[\Q]\E]`, 0, ""},
	{`\p{L}\pL\P{Greek}\X\R`, 0, ""},
	{`(?i)a(?-i:b)(?s:.)(?m)^$(?x) c d`, 0, ""},
	{`(?(2)a|b)(c)`, -1, "reference to undefined group"},
	{`(?(1)a|b)(c)`, 0, ""},
	{`(a)(?(1)b|c)(?(?=d)d|e)`, 0, ""},
	{`\xd4\x{263a}\101\0\e\a\f\t\n\r`, 0, ""},
	{`[]a][^]a]`, 0, ""},

	// PCRE syntax that regexp2 only knows in RE2 mode.
	{`(?P<w>a)(?P=w)`, 0, ""},
	{`[[:alpha:][:^digit:]]`, 0, ""},
	{`\h\H\v\V\K\N\_\/\#`, 0, ""},
	{`(a)\g1\g{1}\g{-1}\o{101}`, 0, ""},

	// PCRE syntax that regexp2 lacks, rewritten before compiling.
	{`(*UTF8)(*CRLF)(*LIMIT_MATCH=10)a(*COMMIT)(*SKIP)(*MARK:x)(*:y)(*FAIL)`, 0, ""},
	{`(*pla:a(b))(*atomic:c)`, 0, ""},
	{`\((?:[^()]|(?R))*\)`, 0, ""},
	{`(a)(?1)(?+1)(?-1)(b)`, 0, ""},
	{`(?<n>a)(?&n)(?P>n)(?C)(?C1)(?C"x")`, 0, ""},
	{`(?|(a)|(b))\1`, 0, ""},
	{`(?J)(?<n>a)|(?<n>b)`, 0, ""},
	{`(?^)a(?^i)b(?J:c)(?i-J)d(?-J)`, 0, ""},
	{`(?<n>a)\k{n}`, 0, ""},
	{`\p{L&}\p{^Lu}\P{^N}\p{Xan}\p{Xwd}[\p{Xsp}]`, 0, ""},
	{`\c)\cA\ca\c[`, 0, ""},
	{`(?#comment (with parens)a`, 0, ""},
	{`(?x) a # comment with ( and \i` + "\n" + ` b`, 0, ""},
	{`(?x)#\i` + "\n" + `(?-x)#`, 0, ""},

	// Invalid in PCRE.
	{`(abc`, -1, "missing closing )"},
	{`abc)`, -1, "unexpected )"},
	{`[z-a]`, -1, "range in reverse order"},
	{`a**`, -1, "nested repetition"},
	{`*a`, -1, "missing argument to repetition operator"},
	{`[abc`, -1, "unterminated [] set"},
	{`(a)\2`, -1, "reference to undefined group number 2"},
	{`a\`, -1, `illegal \ at end of pattern`},
	{`a\ib`, 1, `unknown escape sequence \i`},
	{`\u0041`, 0, `unknown escape sequence \u`},
	{`[a\yb]`, 2, `unknown escape sequence \y`},
	{`ab\c`, -1, "missing control character"},
	{"\\c\u00e9", 0, `\c must be followed by a printable ASCII character`},
	{`\p{NoSuchScript}`, -1, "unknown unicode category"},
	{`\x{}`, -1, "insufficient hexadecimal digits"},
	{`#\i`, 1, `unknown escape sequence \i`},
	{strings.Repeat("(", 250) + strings.Repeat(")", 250), 0, ""},
	{strings.Repeat("(", 251) + strings.Repeat(")", 251), 250, "parentheses nested deeper than 250 levels"},
	{strings.Repeat("(?:", 125) + strings.Repeat("(?=", 126) + strings.Repeat(")", 251), 750, "nested deeper than 250"},
	{strings.Repeat("(?:(a)", 249) + strings.Repeat(")", 249), 0, ""},
	{strings.Repeat("(?#x)", 300) + strings.Repeat("(*SKIP)", 300) + strings.Repeat("(?1)", 300) + "(a)", 0, ""},
}

func TestPCRE(t *testing.T) {
	for _, tc := range pcreCases {
		off, msg := pcreCheck(tc.expr)
		if tc.msg == "" {
			if msg != "" {
				t.Errorf("pcreCheck(%q) = %d, %q; want valid", tc.expr, off, msg)
			}
			continue
		}
		if off != tc.off || !strings.Contains(msg, tc.msg) {
			t.Errorf("pcreCheck(%q) = %d, %q; want %d, ...%s...", tc.expr, off, msg, tc.off, tc.msg)
		}
	}
}
