package taxii

import (
	"net/http"
	"strings"
)

// Media types (TAXII 2.1 section 1.6.8).
const (
	MediaTypeTAXII = "application/taxii+json;version=2.1"
	mediaTypeSTIX  = "application/stix+json;version="
)

// acceptable reports whether an Accept header admits the TAXII 2.1 media
// type: application/taxii+json with version 2.1 or no version, or a
// wildcard. A request without Accept takes anything (RFC 7231 section 5.3.2).
func acceptable(header string) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	for _, r := range strings.Split(header, ",") {
		base, params := splitMediaType(r)
		if q, ok := params["q"]; ok && strings.Trim(q, "0.") == "" {
			continue // q=0: explicitly not acceptable
		}
		switch base {
		case "*/*", "application/*":
			return true
		case "application/taxii+json":
			if v, ok := params["version"]; !ok || v == "2.1" {
				return true
			}
		}
	}
	return false
}

// isTAXIIContentType reports whether a Content-Type names the TAXII 2.1
// media type (version 2.1 or none).
func isTAXIIContentType(header string) bool {
	base, params := splitMediaType(header)
	if base != "application/taxii+json" {
		return false
	}
	v, ok := params["version"]
	return !ok || v == "2.1"
}

// splitMediaType lowercases a media type or range and returns it with its
// parameters, whatever the spacing around ";" and "=".
func splitMediaType(s string) (string, map[string]string) {
	parts := strings.Split(s, ";")
	base := strings.ToLower(strings.TrimSpace(parts[0]))
	params := make(map[string]string, len(parts)-1)
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return base, params
}

// errNotAcceptable is the 406 for a request whose Accept excludes TAXII.
var errNotAcceptable = errorf(http.StatusNotAcceptable,
	"this server answers with %s; send it in the Accept header", MediaTypeTAXII)
