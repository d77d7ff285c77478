package taxii

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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

// filters is a parsed request query.
type filters struct {
	query collections.Query
	next  string // the next token, verified later against the query
	// key canonically describes the filters a next token is bound to.
	key string
}

// parseFilters parses the query parameters of set into a collections.Query
// (without APIRoot, Collection and IDs from the path). Malformed values get a
// 400 (TAXII 2.1 section 3.4).
func (s *Server) parseFilters(values url.Values, set filterSet) (filters, error) {
	var f filters
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

	if f.query.IDs, err = list(get("match[id]", fID)); err != nil {
		return f, err
	}
	if f.query.Types, err = list(get("match[type]", fType)); err != nil {
		return f, err
	}
	if f.query.SpecVersions, err = list(get("match[spec_version]", fSpecVersion)); err != nil {
		return f, err
	}
	for _, sv := range f.query.SpecVersions {
		if !stix.IsSpecVersion(sv) {
			return f, errorf(http.StatusBadRequest, "match[spec_version]: %q is not a version such as 2.1", sv)
		}
	}
	versions, err := list(get("match[version]", fVersion))
	if err != nil {
		return f, err
	}
	if f.query.Versions, err = parseVersions(versions); err != nil {
		return f, err
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

// list splits a comma-separated match value (TAXII 2.1 section 3.4: values
// are ORed).
func list(v string, ok bool, err error) ([]string, error) {
	if err != nil || !ok {
		return nil, err
	}
	vals := strings.Split(v, ",")
	for _, x := range vals {
		if x == "" {
			return nil, errorf(http.StatusBadRequest, "%q has an empty value", v)
		}
	}
	return vals, nil
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
