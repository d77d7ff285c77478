package collections

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/taxiid/taxiid/stix"
)

// VersionFacts returns the created timestamp and the revoked property of a
// stored object (valid, compact JSON), which the cross-version rules need.
// Backends use it to rebuild a Head from stored versions. It
// reads the top-level members only, the way encoding/json does (escaped
// names decoded, the last of duplicate names winning), without decoding
// the rest of the object.
func VersionFacts(raw []byte) (created time.Time, revoked bool) {
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end := stringEnd(raw, i)
			if depth == 1 && end+1 < len(raw) && raw[end+1] == ':' {
				v := end + 2
				switch jsonString(raw[i : end+1]) {
				case "created":
					if v < len(raw) && raw[v] == '"' {
						created, _ = stix.ParseTimestamp(jsonString(raw[v : stringEnd(raw, v)+1]))
					}
				case "revoked":
					revoked = bytes.HasPrefix(raw[v:], []byte("true"))
				}
			}
			i = end
		}
	}
	return created.UTC(), revoked
}

// stringEnd returns the index of the quote that ends the JSON string
// starting at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return len(b) - 1
}

// jsonString returns the value of a quoted JSON string.
func jsonString(q []byte) string {
	if bytes.IndexByte(q, '\\') < 0 && len(q) >= 2 {
		return string(q[1 : len(q)-1])
	}
	var s string
	_ = json.Unmarshal(q, &s)
	return s
}
