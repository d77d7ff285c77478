package collections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/taxiid/taxiid/stix"
)

// Reasons an object is not stored, besides the rule codes of validation
// findings (stix.Finding.Rule), which name the first failing check.
const (
	// ReasonInvalid: the object is not a JSON object the validator could
	// read.
	ReasonInvalid = "object"
	// ReasonSpecVersion: the collection's media types do not accept the
	// object's spec_version.
	ReasonSpecVersion = "spec-version"
	// ReasonConflict: a different object with the same id and version is
	// stored (MsgConflict).
	ReasonConflict = "conflict"
	// ReasonCrossVersion: a cross-version rule forbids the version (see
	// PlanAdd); the message names the stored version it contradicts.
	ReasonCrossVersion = "cross-version"
	// ReasonInternal: validating the object failed unexpectedly.
	ReasonInternal = "internal"
	// ReasonTooLarge: the object is larger than MaxObjectBytes.
	ReasonTooLarge = "too-large"
)

// ImportResult is what Import did with one object.
type ImportResult struct {
	// Detail is the object's entry as the status resource of a push would
	// have it: its id (objects[i], i its index in the call, when it has
	// none), its version, and the message (validation warnings, why it
	// failed, MsgUnchanged).
	Detail StatusDetail
	// Outcome is what the store did: Added, Unchanged, Conflict or
	// Refused; zero when validation failed and the store was not asked.
	Outcome Outcome
	// Reason, for an object not stored (Outcome neither Added nor
	// Unchanged), is why: a validation rule code or a Reason constant.
	Reason string
}

// Stored reports whether the object is stored, now or already before.
func (r ImportResult) Stored() bool { return r.Outcome == Added || r.Outcome == Unchanged }

// Checked are objects validated for a collection by Check, ready for
// ImportChecked.
type Checked struct {
	c       Collection
	level   stix.Level
	entries []entry
}

// Import validates objs and stores the valid ones in collection c, with
// the validation level, cross-version and conflict rules of Ingest, but
// without a status resource: the caller (a bulk import reading files)
// reports the results, one per object in input order. It is Check then
// ImportChecked; a caller may check the next objects while the previous
// ones are stored (validation depends on the objects alone; the
// cross-version and conflict rules are applied as they are stored).
//
// The objects are written in transactions of at most a thousand objects
// (4 MiB), each atomic; once writing has started, every transaction of the
// call is written even if ctx is cancelled, and when ctx ends during
// validation nothing is stored (the error wraps ctx's). Importing the same
// objects again changes nothing (they are Unchanged), so that an import
// cut short is completed by running it again. A store failure is returned
// as an error; the transactions written before it are stored.
func (in *Ingester) Import(ctx context.Context, c Collection, objs []json.RawMessage) ([]ImportResult, error) {
	checked, err := in.Check(ctx, c, objs)
	if err != nil {
		return nil, err
	}
	return in.ImportChecked(ctx, checked)
}

// Check validates objs for collection c, at its validation level, on
// every core. ErrShutdown once the ingester is shut down; the error wraps
// ctx's when ctx ends.
func (in *Ingester) Check(ctx context.Context, c Collection, objs []json.RawMessage) (*Checked, error) {
	in.mu.Lock()
	closed := in.closed
	in.mu.Unlock()
	if closed {
		return nil, ErrShutdown
	}
	level, err := in.levelOf(c)
	if err != nil {
		return nil, err
	}
	log := in.log.With("api_root", c.APIRoot, "collection", c.ID)
	entries := in.checkAll(ctx, log, objs, level, acceptedSpecVersions(c.MediaTypes), c.UnmarkedTLP)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("import abandoned before storing: %w", err)
	}
	return &Checked{c: c, level: level, entries: entries}, nil
}

// ImportChecked stores the valid objects of checked (see Import) and
// returns the result of each object Check was given, in order.
func (in *Ingester) ImportChecked(ctx context.Context, checked *Checked) ([]ImportResult, error) {
	c, entries := checked.c, checked.entries
	results := make([]ImportResult, len(entries))
	var valid []int
	for i, e := range entries {
		results[i].Detail = e.detail
		if e.failed {
			results[i].Reason = e.rule
		} else {
			valid = append(valid, i)
		}
	}
	opts := AddOptions{SkipVersionRules: checked.level == stix.LevelPermissive}
	wctx := context.WithoutCancel(ctx)
	for _, b := range splitBatches(entries, valid) {
		batch := make([]NewObject, len(b))
		for j, i := range b {
			batch[j] = entries[i].obj
		}
		added, err := in.store.AddObjects(wctx, c.APIRoot, c.ID, batch, opts)
		if err != nil {
			return nil, fmt.Errorf("add objects: %w", err)
		}
		for j, r := range added {
			res := &results[b[j]]
			res.Outcome = r.Outcome
			_, version, msg := Settle(r)
			res.Detail.Version = version
			if msg != "" {
				res.Detail.Message = msg
			}
			switch r.Outcome {
			case Conflict:
				res.Reason = ReasonConflict
			case Refused:
				res.Reason = ReasonCrossVersion
			}
		}
	}
	return results, nil
}
