package stix

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in      string
		want    string // RFC 3339 with nanoseconds; "" for an error
		wantErr string // substring of the error
	}{
		{"2016-04-06T20:03:48Z", "2016-04-06T20:03:48Z", ""},
		{"2016-04-06T20:03:48.1Z", "2016-04-06T20:03:48.1Z", ""},
		{"2016-04-06T20:03:48.123Z", "2016-04-06T20:03:48.123Z", ""},
		{"2016-04-06T20:03:48.123456Z", "2016-04-06T20:03:48.123456Z", ""},
		{"2016-04-06T20:03:48.123456789Z", "2016-04-06T20:03:48.123456789Z", ""},
		{"2016-04-06T20:03:48.1234567890Z", "", "has 10 fractional digits; at most 9"},
		{"2016-04-06T20:03:48.1234567891Z", "", "has 10 fractional digits; at most 9"},
		{"2016-04-06T20:03:48." + strings.Repeat("0", 40) + "Z", "", "has 40 fractional digits"},
		{"2016-04-06T20:03:48.Z", "", "not an RFC 3339 timestamp"},
		{"2016-04-06T20:03:48+00:00", "", "not an RFC 3339 timestamp"},
		{"2016-04-06t20:03:48z", "", "not an RFC 3339 timestamp"},
		{"2016-04-06T20:03Z", "", "not an RFC 3339 timestamp"},
		{"2016-02-30T20:03:48Z", "", "not a valid timestamp"},
		{"2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z", ""},
		{"2016-12-31T23:59:60.500Z", "2017-01-01T00:00:00.5Z", ""},
		{"2016-12-31T12:59:60Z", "", "not a valid timestamp"},
		{"2016-12-31T23:58:60Z", "", "not a valid timestamp"},
		{"2016-02-30T23:59:60Z", "", `"2016-02-30T23:59:60Z" is not a valid timestamp`},
	}
	for _, tt := range tests {
		got, err := ParseTimestamp(tt.in)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTimestamp(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("ParseTimestamp(%q) error %v", tt.in, err)
		default:
			if s := got.Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("ParseTimestamp(%q) = %s, want %s", tt.in, s, tt.want)
			}
			back, err := ParseTimestamp(FormatTimestamp(got))
			if err != nil || !back.Equal(got) {
				t.Errorf("FormatTimestamp(%s) = %q does not parse back to the same instant", tt.in, FormatTimestamp(got))
			}
		}
	}
}

// TestTimestampPrecision: a version finer than the nanosecond fails at
// every level, so that two versions differing only beyond it cannot meet
// as one; other timestamps fail at the levels that check them.
func TestTimestampPrecision(t *testing.T) {
	v := newTestValidator(t)
	tenDigits := "2024-05-02T16:41:07.1120000001Z"
	tests := []struct {
		name, prop string
		levels     []Level
		rule       string
	}{
		{"modified", "modified", []Level{LevelStrict, LevelDefault, LevelPermissive}, "timestamp"},
		{"created", "created", []Level{LevelStrict, LevelDefault, LevelPermissive}, "timestamp"},
		{"valid_from", "valid_from", []Level{LevelStrict, LevelDefault}, "schema-pattern"},
	}
	for _, tt := range tests {
		raw := mustObject(t, "indicator.json", func(o map[string]any) { o[tt.prop] = tenDigits })
		for _, level := range tt.levels {
			_, _, err := v.Validate(raw, level)
			ve, ok := err.(*ValidationError)
			if !ok {
				t.Errorf("%s at level %s: valid; want %s at /%s", tt.name, level, tt.rule, tt.prop)
				continue
			}
			found := false
			for _, f := range ve.Findings {
				if f.Rule == tt.rule && f.Pointer == "/"+tt.prop && strings.Contains(f.Message, "has 10 fractional digits") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s at level %s: findings %v; want %s at /%s saying it has 10 fractional digits", tt.name, level, ve, tt.rule, tt.prop)
			}
		}
	}
}
