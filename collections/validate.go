package collections

import (
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/taxiid/taxiid/stix"
)

// ReservedPaths are path segments the server serves itself, which no API
// root may take.
var ReservedPaths = []string{"taxii2", "admin", "healthz", "readyz", "metrics"}

// InvalidError lists every problem Validate found. It matches ErrInvalid.
type InvalidError struct {
	What     string // "API root \"api1\"", "collection ..."
	Problems []string
}

func (e *InvalidError) Error() string {
	return "invalid " + e.What + ": " + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Validate reports every problem of the API root, nil if none: the path
// must be one URL segment of letters, digits, '-', '_' or '.' and not one
// of ReservedPaths, the title is required, the maximum content length
// positive.
func (r APIRoot) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch {
	case !validSegment(r.Path):
		add("path %q must be one URL segment of letters, digits, '-', '_' or '.'", r.Path)
	case r.Path == "taxii2":
		add("path taxii2 is the discovery endpoint")
	case contains(ReservedPaths, r.Path):
		add("path %s is reserved for the server's own endpoints (%s)", r.Path, strings.Join(ReservedPaths, ", "))
	}
	if r.Title == "" {
		add("title is required")
	}
	if r.MaxContentLength <= 0 {
		add("max_content_length must be positive")
	}
	if problems == nil {
		return nil
	}
	return &InvalidError{What: fmt.Sprintf("API root %q", r.Path), Problems: problems}
}

// Validate reports every problem of the collection, nil if none: the id
// must be a lower-case UUID; the alias, when set, a URL segment of letters,
// digits, '-', '_' or '.' that is not a UUID (so that a URL segment names
// a collection one way only); the title is required; the validation level,
// when set, a stix level; every media type a STIX one. (That the API root
// exists, and that the alias and id are free, is for the store to say.)
func (c Collection) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if u, err := uuid.Parse(c.ID); err != nil || u.String() != c.ID {
		add("id %q must be a lowercase UUID", c.ID)
	}
	if c.Alias != "" {
		if _, err := uuid.Parse(c.Alias); err == nil || !validSegment(c.Alias) {
			add("alias %q must be a URL segment that is not a UUID", c.Alias)
		}
	}
	if c.Title == "" {
		add("title is required")
	}
	if c.Validation != "" {
		if _, err := stix.ParseLevel(c.Validation); err != nil {
			add("validation: %v", err)
		}
	}
	for _, mt := range c.MediaTypes {
		if !strings.HasPrefix(mt, "application/stix+json") {
			add("media type %q is not a STIX media type (application/stix+json;version=2.1)", mt)
		}
	}
	if problems == nil {
		return nil
	}
	return &InvalidError{What: fmt.Sprintf("collection %q", c.ID), Problems: problems}
}

// validSegment reports whether s can be a single URL path segment.
func validSegment(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
