package stix

// Rules on value formats that depend on a property's name or a dictionary
// key: hashes, hex and binary values.

import (
	"fmt"
	"strings"
)

// ruleHashFormats gives the value format of each hash-algorithm-ov entry
// (section 10.7): a hex digest of the given length, or a fuzzy hash.
var ruleHashFormats = map[string]int{
	"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128, "SHA3-256": 64, "SHA3-512": 128,
	"SSDEEP": -1, "TLSH": -2,
}

// visitHashValue: sections 2.7 and 10.7, a hash value MUST be in the format
// of the algorithm its key names. Applies to every hashes dictionary
// (hashes and *_hashes properties), including external references,
// extensions and the deprecated observable container.
func visitHashValue(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || k != "hashes" && !strings.HasSuffix(k, "_hashes") {
		return
	}
	hs, _ := e.v.(map[string]any)
	for alg, hv := range hs {
		s, ok := hv.(string)
		f, known := ruleHashFormats[alg]
		if !ok || !known {
			continue
		}
		if prob := ruleHashProblem(f, s); prob != "" {
			r.add(e.ptr(alg), "%s is not a valid %s value: %s", ruleQuote(s), alg, prob)
		}
	}
}

func ruleHashProblem(format int, s string) string {
	switch format {
	case -1:
		if !ruleIsSSDEEP(s) {
			return "expected blocksize:hash:hash (ssdeep)"
		}
	case -2:
		h := s
		if len(h) == 72 && (h[:2] == "T1" || h[:2] == "t1") {
			h = h[2:]
		}
		if len(h) != 70 || !ruleIsHexAnyCase(h) {
			return "expected a 35-byte TLSH digest (70 hexadecimal digits, optionally prefixed T1)"
		}
	default:
		if len(s) != format || !ruleIsHexAnyCase(s) {
			return fmt.Sprintf("expected %d hexadecimal digits", format)
		}
	}
	return ""
}

func ruleIsHexAnyCase(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// ruleIsSSDEEP checks the ssdeep form blocksize:hash1:hash2, the hashes in
// the base64 alphabet (possibly empty, as for empty input).
func ruleIsSSDEEP(s string) bool {
	bs, rest, ok := strings.Cut(s, ":")
	if !ok || !digits(bs) {
		return false
	}
	h1, h2, ok := strings.Cut(rest, ":")
	return ok && ruleIsBase64Alphabet(h1) && ruleIsBase64Alphabet(h2)
}

func ruleIsBase64Alphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// visitHexValue: sections 2.8 and 3.1, a property whose name ends in _hex
// holds the hex type: an even number of characters 0-9 and a-f.
func visitHexValue(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || !strings.HasSuffix(k, "_hex") {
		return
	}
	s, ok := e.v.(string)
	if !ok {
		return
	}
	if len(s)%2 != 0 {
		r.add(e.ptr(), "%s has an odd number of hexadecimal characters", ruleQuote(s))
		return
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			r.add(e.ptr(), "%s must consist of the characters 0-9 and a-f (lowercase)", ruleQuote(s))
			return
		}
	}
}

// visitBinaryValue: sections 2.1 and 3.1, a property whose name ends in _bin
// holds the binary type, base64 (RFC 4648, padded) in JSON.
func visitBinaryValue(e *ruleEntry, r *ruleReport) {
	k, ok := e.property()
	if !ok || !strings.HasSuffix(k, "_bin") {
		return
	}
	if s, ok := e.v.(string); ok && !ruleIsBase64(s) {
		r.add(e.ptr(), "%s is not base64 (RFC 4648, with padding)", ruleQuote(s))
	}
}

func ruleIsBase64(s string) bool {
	if len(s)%4 != 0 {
		return false
	}
	n := len(s)
	for pad := 0; pad < 2 && n > 0 && s[n-1] == '='; pad++ {
		n--
	}
	return ruleIsBase64Alphabet(s[:n])
}
