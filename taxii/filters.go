package taxii

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/stix"
)

// filterSet names the URL parameters an endpoint supports (TAXII 2.1
// sections 5.3 to 5.8). Parameters outside the set are ignored, as section
// 3.4 allows for fields a server does not use.
type filterSet uint8

const (
	fAddedAfter filterSet = 1 << iota
	fLimit
	fNext
	fID
	fType
	fVersion
	fSpecVersion
)

var (
	objectsFilters  = fAddedAfter | fLimit | fNext | fID | fType | fVersion | fSpecVersion // objects, manifest
	objectFilters   = fAddedAfter | fLimit | fNext | fVersion | fSpecVersion               // one object
	deleteFilters   = fVersion | fSpecVersion
	versionsFilters = fAddedAfter | fLimit | fNext | fSpecVersion
)

// Bounds of the filters of one request: each value is one more index range
// for the store to read.
const (
	// maxFilterValues bounds the comma-separated values of one match[...]
	// parameter.
	maxFilterValues = collections.MaxQueryValues
	// maxFilterCombinations bounds match[type] values × match[version]
	// values × match[spec_version] values (an absent filter counts 1).
	maxFilterCombinations = 100
)

// parseQuery decodes a raw URL query strictly. url.ParseQuery drops the
// pairs it cannot decode (a ';', a bad percent escape), which would widen a
// filter or restart a listing without the client knowing: here they are a
// 400 naming the parameter.
func parseQuery(raw string) (url.Values, error) {
	values := url.Values{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil || !utf8.ValidString(name) {
			return nil, errorf(http.StatusBadRequest, "the query parameter name %q is not properly percent-encoded", clip(k))
		}
		if strings.Contains(pair, ";") {
			// Some servers and proxies split parameters at ';': refusing it
			// keeps everyone reading the same filters.
			return nil, errorf(http.StatusBadRequest, "the query parameter %s contains ';': separate parameters with '&' and write ';' in a value as %%3B", clip(name))
		}
		value, err := url.QueryUnescape(v)
		if err != nil || !utf8.ValidString(value) {
			return nil, errorf(http.StatusBadRequest, "the value of the query parameter %s is not properly percent-encoded UTF-8", clip(name))
		}
		values[name] = append(values[name], value)
	}
	return values, nil
}

// clip shortens what an error message quotes of the client's input.
func clip(s string) string {
	if len(s) > 64 {
		return cut(s, 64) + "..."
	}
	return s
}

// cut returns at most the first n bytes of s, ending on a character
// boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// filters is a parsed request query.
type filters struct {
	query collections.Query
	next  string // the next token, verified later against the query
	// key canonically describes the filters a next token is bound to.
	key string
}

// parseFilters parses the query parameters of set in a raw URL query into
// a collections.Query (without APIRoot, Collection and IDs from the path).
// Malformed values get a 400 (TAXII 2.1 section 3.4).
func (s *Server) parseFilters(rawQuery string, set filterSet) (filters, error) {
	var f filters
	values, err := parseQuery(rawQuery)
	if err != nil {
		return f, err
	}
	var key strings.Builder
	get := func(name string, bit filterSet) (string, bool, error) {
		vs, ok := values[name]
		if set&bit == 0 || !ok {
			return "", false, nil
		}
		if len(vs) > 1 {
			return "", false, errorf(http.StatusBadRequest, "%s may be given only once", name)
		}
		if vs[0] == "" {
			return "", false, errorf(http.StatusBadRequest, "%s is empty", name)
		}
		return vs[0], true, nil
	}

	v, ok, err := get("added_after", fAddedAfter)
	if err != nil {
		return f, err
	}
	if ok {
		t, err := stix.ParseTimestamp(v)
		if err != nil {
			return f, errorf(http.StatusBadRequest, "added_after: %v", err)
		}
		f.query.AddedAfter = t
		key.WriteString("added_after=" + t.Format(time.RFC3339Nano) + "\n")
	}

	f.query.Limit = s.pageSize
	if v, ok, err = get("limit", fLimit); err != nil {
		return f, err
	} else if ok {
		n, err := strconv.ParseUint(v, 10, 31)
		switch {
		case errors.Is(err, strconv.ErrRange):
			n = uint64(s.maxPageSize)
		case err != nil || n == 0:
			return f, errorf(http.StatusBadRequest, "limit must be a positive integer, not %q", v)
		}
		f.query.Limit = int(n)
	}
	f.query.Limit = min(f.query.Limit, s.maxPageSize)

	if v, ok, err = get("next", fNext); err != nil {
		return f, err
	} else if ok {
		f.next = v
	}

	if f.query.IDs, err = list("match[id]")(get("match[id]", fID)); err != nil {
		return f, err
	}
	for _, id := range f.query.IDs {
		typ, uuid, ok := strings.Cut(id, "--")
		if !ok || !isTypeName(typ) || uuid == "" || len(id) > 300 {
			return f, errorf(http.StatusBadRequest, "match[id]: %q is not a STIX identifier", clip(id))
		}
	}
	if f.query.Types, err = list("match[type]")(get("match[type]", fType)); err != nil {
		return f, err
	}
	for _, t := range f.query.Types {
		if !isTypeName(t) {
			return f, errorf(http.StatusBadRequest, "match[type]: %q is not a STIX type name", clip(t))
		}
	}
	if f.query.SpecVersions, err = list("match[spec_version]")(get("match[spec_version]", fSpecVersion)); err != nil {
		return f, err
	}
	for _, sv := range f.query.SpecVersions {
		if !stix.IsSpecVersion(sv) {
			return f, errorf(http.StatusBadRequest, "match[spec_version]: %q is not a version such as 2.1", clip(sv))
		}
	}
	versions, err := list("match[version]")(get("match[version]", fVersion))
	if err != nil {
		return f, err
	}
	if f.query.Versions, err = parseVersions(versions); err != nil {
		return f, err
	}
	if n := max(1, len(f.query.Types)) * max(1, len(versions)) * max(1, len(f.query.SpecVersions)); n > maxFilterCombinations {
		return f, errorf(http.StatusBadRequest,
			"match[type], match[version] and match[spec_version] make %d combinations; at most %d are served per request", n, maxFilterCombinations)
	}

	for _, p := range []struct {
		name string
		vals []string
	}{{"id", f.query.IDs}, {"type", f.query.Types}, {"version", versions}, {"spec_version", f.query.SpecVersions}} {
		if len(p.vals) > 0 {
			sorted := slices.Sorted(slices.Values(p.vals))
			key.WriteString(p.name + "=" + strings.Join(sorted, ",") + "\n")
		}
	}
	f.key = key.String()
	return f, nil
}

// list returns the splitter of the comma-separated values of the match
// parameter name (TAXII 2.1 section 3.4: values are ORed), at most
// maxFilterValues of them.
func list(name string) func(v string, ok bool, err error) ([]string, error) {
	return func(v string, ok bool, err error) ([]string, error) {
		if err != nil || !ok {
			return nil, err
		}
		if n := strings.Count(v, ",") + 1; n > maxFilterValues {
			return nil, errorf(http.StatusBadRequest, "%s has %d values; at most %d are served per request", name, n, maxFilterValues)
		}
		vals := strings.Split(v, ",")
		for _, x := range vals {
			if x == "" {
				return nil, errorf(http.StatusBadRequest, "%s: %q has an empty value", name, clip(v))
			}
		}
		return vals, nil
	}
}

// isTypeName reports whether s can be a STIX type name: lowercase ASCII
// letters, digits and hyphens (STIX 2.1 section 3.1), at most 250 of them.
func isTypeName(s string) bool {
	if s == "" || len(s) > 250 {
		return false
	}
	for _, r := range []byte(s) {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// parseVersions parses match[version] values (TAXII 2.1 section 3.4.1):
// "all" alone, or any of "first", "last" and exact timestamps, each at most
// once.
func parseVersions(vals []string) (collections.VersionFilter, error) {
	var vf collections.VersionFilter
	seen := map[string]bool{}
	for _, v := range vals {
		if seen[v] {
			return vf, errorf(http.StatusBadRequest, "match[version]: %q is given twice", v)
		}
		seen[v] = true
		switch v {
		case "all":
			vf.All = true
		case "first":
			vf.First = true
		case "last":
			vf.Last = true
		default:
			t, err := stix.ParseTimestamp(v)
			if err != nil {
				return vf, errorf(http.StatusBadRequest, "match[version]: %v", err)
			}
			vf.Exact = append(vf.Exact, t)
		}
	}
	if vf.All && len(vals) > 1 {
		return vf, errorf(http.StatusBadRequest, "match[version]: all cannot be combined with other values")
	}
	return vf, nil
}
