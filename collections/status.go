package collections

import "github.com/taxiid/taxiid/stix"

// Messages of status entries that a pushing client may act on.
const (
	MsgConflict    = "a different object with this id and version already exists"
	MsgUnchanged   = "already stored; unchanged"
	MsgInternal    = "internal error while storing; push the object again"
	MsgInterrupted = "interrupted; push again"
)

// Settle returns what a pending status entry becomes once AddObjects has
// result r for its object: a success or a failure, the version stored, and
// a message. The message is "" for Added: that entry keeps the message it
// was created with (its validation warnings).
func Settle(r AddResult) (success bool, version, message string) {
	if !r.Version.IsZero() {
		version = stix.FormatTimestamp(r.Version)
	}
	switch r.Outcome {
	case Added:
		return true, version, ""
	case Unchanged:
		return true, version, MsgUnchanged
	case Refused:
		return false, version, r.Message
	default:
		return false, version, MsgConflict
	}
}
