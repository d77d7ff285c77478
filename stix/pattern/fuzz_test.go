package pattern

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, stays fast, returns only
// *SyntaxError with an offset inside the input, and that the canonical form
// of an accepted pattern parses back to itself.
func FuzzParse(f *testing.F) {
	for _, tc := range validPatterns {
		f.Add(tc.in)
	}
	for _, tc := range invalidPatterns {
		f.Add(tc.in)
	}
	for _, s := range realistic(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start := time.Now()
		p, err := Parse(s)
		if d := time.Since(start); d > time.Second {
			t.Errorf("Parse took %v on %d bytes", d, len(s))
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SyntaxError: %v", err, err)
			}
			if se.Offset < 0 || se.Offset > len(s) && se.Offset != MaxLength {
				t.Fatalf("offset %d outside input of %d bytes: %v", se.Offset, len(s), err)
			}
			return
		}
		canon := p.String()
		p2, err := Parse(canon)
		if se := (*SyntaxError)(nil); errors.As(err, &se) && (se.Offset == MaxLength || strings.HasPrefix(se.Msg, "nesting deeper")) {
			return // the canonical form may add parentheses or spaces
		}
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if got := p2.String(); got != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, got)
		}
		_ = p.ObjectPaths()
	})
}

// FuzzPCRE checks that the MATCHES syntax check never panics, stays fast
// and locates problems inside the expression.
func FuzzPCRE(f *testing.F) {
	for _, tc := range pcreCases {
		f.Add(tc.expr)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		start := time.Now()
		off, msg := pcreCheck(expr)
		if d := time.Since(start); d > time.Second {
			t.Errorf("pcreCheck took %v on %d bytes", d, len(expr))
		}
		if msg == "" && off != -1 || off < -1 || off >= len(expr) && off > 0 {
			t.Fatalf("pcreCheck(%q) = %d, %q", expr, off, msg)
		}
	})
}
