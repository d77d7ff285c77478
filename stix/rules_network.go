package stix

// Rules on the value of address-like observables: IPv4 and IPv6 addresses,
// MAC addresses, domain names, URLs and email addresses.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ruleSCOValue returns the value property of an SCO of type t, unless the
// object is defanged (section 3.2: defanged values are altered on purpose).
func ruleSCOValue(obj map[string]any, t string) (string, bool) {
	if ruleType(obj) != t || ruleTrue(obj, "defanged") {
		return "", false
	}
	return ruleString(obj, "value")
}

// checkIPv4Value: section 6.8.1, one or more IPv4 addresses in CIDR
// notation (the /32 suffix may be omitted).
func checkIPv4Value(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "ipv4-addr")
	if !ok {
		return
	}
	addr, bits, hasBits := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil || !a.Is4():
		r.add("/value", "%s is not an IPv4 address or CIDR block", ruleQuote(v))
	case hasBits && !ruleCIDRBits(bits, 32):
		r.add("/value", "%s has an invalid prefix length (0 to 32)", ruleQuote(v))
	}
}

// checkIPv6Value: section 6.9.1, one or more IPv6 addresses in CIDR
// notation.
func checkIPv6Value(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "ipv6-addr")
	if !ok {
		return
	}
	addr, bits, hasBits := strings.Cut(v, "/")
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil || !a.Is6() || a.Zone() != "":
		r.add("/value", "%s is not an IPv6 address or CIDR block", ruleQuote(v))
	case hasBits && !ruleCIDRBits(bits, 128):
		r.add("/value", "%s has an invalid prefix length (0 to 128)", ruleQuote(v))
	}
}

func ruleCIDRBits(s string, max int) bool {
	if len(s) == 0 || len(s) > 3 || !digits(s) || len(s) > 1 && s[0] == '0' {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n <= max
}

// checkMACAddrValue: section 6.10.1, a single colon-delimited, lowercase
// MAC-48 address with leading zeros.
func checkMACAddrValue(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "mac-addr")
	if !ok {
		return
	}
	good := len(v) == 17
	for i := 0; good && i < len(v); i++ {
		c := v[i]
		if i%3 == 2 {
			good = c == ':'
		} else {
			good = c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
		}
	}
	if !good {
		r.add("/value", "%s is not a colon-delimited, lowercase MAC-48 address such as 00:00:ab:cd:ef:01", ruleQuote(v))
	}
}

// checkDomainNameValue: section 6.4.1, the value MUST conform to RFC 1034
// with RFC 5890 labels. Checked: dot-separated non-empty labels of at most
// 63 octets, 253 octets in all, letters, digits, hyphens (not leading or
// trailing) and underscores (as in service names), or non-ASCII U-labels.
func checkDomainNameValue(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "domain-name")
	if !ok {
		return
	}
	if prob := ruleDomainProblem(v); prob != "" {
		r.add("/value", "%s is not a domain name: %s", ruleQuote(v), prob)
	}
}

func ruleDomainProblem(s string) string {
	s = strings.TrimSuffix(s, ".")
	switch {
	case s == "":
		return "it is empty"
	case len(s) > 253:
		return "it is longer than 253 octets"
	}
	for len(s) > 0 {
		label, rest, _ := strings.Cut(s, ".")
		switch {
		case label == "":
			return "it has an empty label"
		case len(label) > 63:
			return "a label is longer than 63 octets"
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Sprintf("label %s starts or ends with a hyphen", ruleQuote(label))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return fmt.Sprintf("label %s contains %q", ruleQuote(label), c)
			}
		}
		if len(rest) == 0 && len(label) < len(s) {
			return "it has an empty label"
		}
		s = rest
	}
	return ""
}

// checkURLValue: section 6.15.1, the value MUST be a URL per RFC 3986.
// Checked: a scheme (letter, then letters, digits, +, - or .) and ":",
// something after it, no whitespace or control characters, and percent
// signs followed by two hex digits.
func checkURLValue(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "url")
	if !ok {
		return
	}
	if prob := ruleURLProblem(v); prob != "" {
		r.add("/value", "%s is not a URL: %s", ruleQuote(v), prob)
	}
}

func ruleURLProblem(s string) string {
	colon := strings.IndexByte(s, ':')
	if colon < 1 {
		return "it has no scheme"
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "it has no valid scheme"
		}
	}
	if colon == len(s)-1 {
		return "nothing follows the scheme"
	}
	for i := colon + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return "it contains whitespace or a control character"
		case c == '%':
			if i+2 >= len(s) || !ruleIsHexAnyCase(s[i+1:i+3]) {
				return "a % is not followed by two hexadecimal digits"
			}
		}
	}
	return ""
}

// checkEmailAddrValue: section 6.5.1, the value is an RFC 5322 addr-spec and
// MUST NOT include the display name. Checked: local-part@domain, the
// local part a dot-atom or quoted string, the domain a dot-atom or a
// bracketed literal (UTF-8 allowed, as in RFC 6532).
func checkEmailAddrValue(obj map[string]any, r *ruleReport) {
	v, ok := ruleSCOValue(obj, "email-addr")
	if !ok {
		return
	}
	if prob := ruleAddrSpecProblem(v); prob != "" {
		r.add("/value", "%s is not a bare email address (addr-spec): %s", ruleQuote(v), prob)
	}
}

func ruleAddrSpecProblem(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "it has no @"
	}
	local, domain := s[:at], s[at+1:]
	switch {
	case local == "":
		return "the local part is empty"
	case domain == "":
		return "the domain is empty"
	}
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		for i := 1; i < len(local)-1; i++ {
			if c := local[i]; c < ' ' && c != '\t' || c == 0x7f {
				return "the quoted local part contains a control character"
			}
		}
	} else if !ruleIsDotAtom(local) {
		return "the local part is not a dot-atom (a display name or angle brackets are not allowed)"
	}
	if domain[0] == '[' {
		if domain[len(domain)-1] != ']' || strings.ContainsAny(domain[1:len(domain)-1], "[]\\ ") {
			return "the domain literal is malformed"
		}
		return ""
	}
	if !ruleIsDotAtom(domain) {
		return "the domain is not a dot-atom"
	}
	return ""
}

// ruleIsDotAtom checks RFC 5322 dot-atom-text: atext runs separated by
// single dots.
func ruleIsDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80, c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
