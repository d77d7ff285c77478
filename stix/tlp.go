package stix

import (
	"fmt"
	"strings"
)

// TLP is a Traffic Light Protocol level, ordered from the least to the most
// restrictive, so that a ceiling compares with <=. The zero value means no
// level (no ceiling, or no TLP marking).
type TLP uint8

// TLP levels. TLP:WHITE (TLP 1.0, STIX 2.1 section 7.2.1.4) and TLP:CLEAR
// (TLP 2.0) are the same level; AMBER+STRICT exists in TLP 2.0 only.
const (
	TLPNone TLP = iota
	TLPClear
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

var tlpNames = [...]string{"", "clear", "green", "amber", "amber+strict", "red"}

// String returns the level's name in lower case ("" for TLPNone).
func (l TLP) String() string {
	if int(l) < len(tlpNames) {
		return tlpNames[l]
	}
	return fmt.Sprintf("tlp(%d)", uint8(l))
}

// ParseTLP reads a level by name, with or without the "TLP:" prefix, in any
// case; "white" is "clear". "" is TLPNone.
func ParseTLP(s string) (TLP, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	n = strings.TrimPrefix(n, "tlp:")
	if n == "white" {
		return TLPClear, nil
	}
	for i, name := range tlpNames {
		if n == name {
			return TLP(i), nil
		}
	}
	return TLPNone, fmt.Errorf("unknown TLP level %q (clear, white, green, amber, amber+strict, red)", s)
}

// MarshalText and UnmarshalText make levels read and write by name.
func (l TLP) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func (l *TLP) UnmarshalText(b []byte) error {
	v, err := ParseTLP(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
