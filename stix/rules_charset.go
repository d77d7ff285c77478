package stix

// Rules on the character set names of _enc properties.

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"sync"
)

// ianaCharsets maps every name of the IANA character set registry, in lower
// case, to the name STIX 2.1 section 3.9.1 requires for that character set:
// its preferred MIME name when the registry defines one, else its Name. It
// is read from schemas/vocab/character-sets.txt once, when the first
// Validator is made.
var ianaCharsets = sync.OnceValues(func() (map[string]string, error) {
	b, err := embeddedSchemas.ReadFile("schemas/vocab/character-sets.txt")
	if err != nil {
		return nil, fmt.Errorf("character sets: %w", err)
	}
	return parseCharsets(b)
})

// parseCharsets reads the character-sets.txt format: one character set
// per line, its MIBenum, the name STIX requires, then its other names,
// separated by spaces; lines starting with # are comments.
func parseCharsets(b []byte) (map[string]string, error) {
	names := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || !digits(f[0]) {
			return nil, fmt.Errorf("character sets line %d: want a MIBenum and at least one name", n)
		}
		for _, name := range f[1:] {
			key := strings.ToLower(name)
			if prev, dup := names[key]; dup {
				return nil, fmt.Errorf("character sets line %d: %q is also a name of %q", n, name, prev)
			}
			names[key] = f[1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("character sets: %w", err)
	}
	return names, nil
}

// visitEncodingCharset: section 3.9.1, an _enc property MUST name its
// encoding by the IANA character set registry's preferred MIME name for
// it, or by its Name when the registry gives no preferred MIME name.
// Character set names are case-insensitive (RFC 2978, section 2.3).
func visitEncodingCharset(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || !strings.HasSuffix(k, "_enc") {
		return
	}
	s, ok := e.v.(string)
	if !ok {
		r.add(e.ptr(), "an _enc property must hold the name of a character set")
		return
	}
	names, err := ianaCharsets()
	if err != nil {
		return // NewValidator reports it
	}
	switch want, known := names[strings.ToLower(s)]; {
	case !known:
		r.add(e.ptr(), "%s is not a character set of the IANA registry", ruleQuote(s))
	case !strings.EqualFold(s, want):
		r.add(e.ptr(), "%s is another name of %s, the name STIX requires", ruleQuote(s), ruleQuote(want))
	}
}
