package stix

// Cross-version rules: the requirements that hold between the versions of
// an object, which only a store that sees every version can enforce.
//
//   - STIX 2.1 section 3.2 (created): created MUST NOT be changed when a
//     new version of the object is created.
//   - Section 3.6: revocation is permanent; once an object is marked as
//     revoked, later versions of that object MUST NOT be created.
//   - Section 2.9: the UUID part of an identifier MUST be unique across the
//     objects of a producer regardless of their type; a collection holds
//     one UUID under one type.
//
// The store keeps a VersionSummary per UUID, updated as versions are
// added, and calls CheckNewVersion inside the transaction that adds a
// version: both take constant time whatever the number of versions.

import (
	"fmt"
	"strings"
	"time"
)

// VersionSummary is what the cross-version rules need to know about the
// versions a collection holds of one UUID. The zero value is the summary
// of no versions.
type VersionSummary struct {
	// ID is the id the versions are stored under ("" for none), and Type
	// its type.
	ID   string
	Type string
	// Created is the created of the stored versions (they all have the
	// same); zero for objects without created (cyber-observables).
	Created time.Time
	// Latest is the highest version stored: modified, else created; zero
	// for objects that have neither.
	Latest time.Time
	// Revoked tells some stored version has revoked: true, and
	// FirstRevoked is the lowest such version.
	Revoked      bool
	FirstRevoked time.Time
}

// Add returns the summary of the stored versions and v, which the store
// has just added (after CheckNewVersion found nothing). A store that
// deletes versions computes the summary again by adding the remaining
// ones to a zero VersionSummary, in any order.
func (s VersionSummary) Add(v Identity) VersionSummary {
	if s.ID == "" {
		s.ID, s.Type, s.Created = v.ID, v.Type, v.Created
	}
	if v.Version.After(s.Latest) {
		s.Latest = v.Version
	}
	if v.Revoked && (!s.Revoked || v.Version.Before(s.FirstRevoked)) {
		s.Revoked, s.FirstRevoked = true, v.Version
	}
	return s
}

// CheckNewVersion applies the cross-version rules to next, a version of
// an object that Validate accepted (its Identity), given the summary of
// the versions the collection already holds of the same UUID, whatever
// their type (look it up by the UUID part of next.ID; UUIDs compare
// case-insensitively). It returns the failures, each saying which stored
// version conflicts; nil when next may be added.
//
// Call it for a version the collection does not hold yet: a version with
// the id and version of a stored one is the same object or a conflict,
// which the store decides before. The rules:
//
//   - "id-uuid-reused": the UUID is stored under another type. Two
//     cyber-observables of different types whose UUIDv5 ids coincide are
//     exempt: deterministic ids (section 2.9) derive the UUID from the ID
//     contributing properties alone, which two types may share.
//   - "version-created": next's created differs from the stored one.
//   - "version-after-revoked": next is later than a stored revoked
//     version.
//   - "version-revoked-not-last": next is revoked and earlier than a
//     stored version, which would then follow a revoked one.
func CheckNewVersion(stored VersionSummary, next Identity) []Finding {
	if stored.ID == "" {
		return nil
	}
	var fs []Finding
	add := func(ptr, rule, format string, args ...any) {
		fs = append(fs, Finding{Pointer: ptr, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	if stored.Type != next.Type {
		if !(scoTypes[stored.Type] && scoTypes[next.Type] && uuidVersion(next.ID) == '5' && uuidVersion(stored.ID) == '5') {
			add("/id", "id-uuid-reused", "the UUID of %q is already used by %s in this collection; a UUID may not be reused for an object of another type (STIX 2.1 section 2.9)",
				next.ID, storedVersion(stored.ID, stored.Latest))
		}
		return fs
	}
	if !stored.Created.IsZero() && !next.Created.IsZero() && !next.Created.Equal(stored.Created) {
		add("/created", "version-created", "%s differs from created %s of %s; a new version must keep created (STIX 2.1 section 3.2)",
			quoteTime(next.Created), quoteTime(stored.Created), storedVersion(stored.ID, stored.Latest))
	}
	if next.Version.IsZero() {
		return fs
	}
	if stored.Revoked && next.Version.After(stored.FirstRevoked) {
		add(versionPointer(next), "version-after-revoked", "version %s is later than %s, which is revoked; a revoked object has no later versions (STIX 2.1 section 3.6)",
			quoteTime(next.Version), storedVersion(stored.ID, stored.FirstRevoked))
	}
	if next.Revoked && next.Version.Before(stored.Latest) {
		add("/revoked", "version-revoked-not-last", "this version %s is revoked but %s is later; a revoked object has no later versions (STIX 2.1 section 3.6)",
			quoteTime(next.Version), storedVersion(stored.ID, stored.Latest))
	}
	return fs
}

// storedVersion names a stored version in a message.
func storedVersion(id string, version time.Time) string {
	if version.IsZero() {
		return "the stored " + id
	}
	return fmt.Sprintf("the stored version %s of %s", quoteTime(version), id)
}

func quoteTime(t time.Time) string { return `"` + FormatTimestamp(t) + `"` }

// versionPointer is the property that holds the version of an object.
func versionPointer(id Identity) string {
	if id.Modified.IsZero() {
		return "/created"
	}
	return "/modified"
}

// uuidVersion returns the version digit of the UUID of an identifier, 0
// when it has none.
func uuidVersion(id string) byte {
	_, u, ok := strings.Cut(id, "--")
	if !ok || !IsUUID(u) {
		return 0
	}
	return u[14]
}
