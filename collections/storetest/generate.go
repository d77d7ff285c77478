package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/taxiid/taxiid/collections"
)

// STIX describes one STIX object to generate with Object.
type STIX struct {
	Type        string
	ID          string // "<type>--<uuid>"; empty: a new random one
	SpecVersion string // empty: "2.1"
	Created     time.Time
	Modified    time.Time
	// Fields are extra properties; they override the generated ones.
	Fields map[string]any
}

// Object returns o as a NewObject whose Raw is compact JSON in the shape of
// a real STIX 2.1 object of its type. Version is Modified, else Created.
func Object(o STIX) collections.NewObject {
	if o.ID == "" {
		o.ID = NewID(o.Type)
	}
	if o.SpecVersion == "" {
		o.SpecVersion = "2.1"
	}
	m := map[string]any{"type": o.Type, "id": o.ID}
	if o.SpecVersion != "2.0" { // STIX 2.0 objects carry no spec_version
		m["spec_version"] = o.SpecVersion
	}
	if !o.Created.IsZero() {
		m["created"] = Timestamp(o.Created)
	}
	if !o.Modified.IsZero() {
		m["modified"] = Timestamp(o.Modified)
	}
	switch o.Type {
	case "indicator":
		m["name"] = "Malicious site"
		m["indicator_types"] = []string{"malicious-activity"}
		m["pattern"] = "[url:value = 'http://evil.example.com/']"
		m["pattern_type"] = "stix"
		if !o.Created.IsZero() {
			m["valid_from"] = Timestamp(o.Created)
		}
	case "malware":
		m["name"] = "Poison Ivy"
		m["malware_types"] = []string{"remote-access-trojan"}
		m["is_family"] = false
	case "tool", "threat-actor", "campaign", "intrusion-set", "attack-pattern":
		m["name"] = "Example " + o.Type
	case "domain-name", "url":
		m["value"] = "evil.example.com"
	}
	for k, v := range o.Fields {
		m[k] = v
	}
	raw, err := json.Marshal(m)
	if err != nil {
		panic(err) // only plain values go in
	}
	v := o.Modified
	if v.IsZero() {
		v = o.Created
	}
	return collections.NewObject{ID: o.ID, Type: o.Type, SpecVersion: o.SpecVersion, Version: v, Raw: raw}
}

// Timestamp formats t as a STIX timestamp: RFC 3339, UTC, milliseconds.
func Timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// NewID returns "<typ>--<random UUID v4>".
func NewID(typ string) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%s--%x-%x-%x-%x-%x", typ, b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

var benchTypes = []string{"indicator", "malware", "tool", "threat-actor", "campaign", "attack-pattern"}

// RandomObject returns a new object of a random common type whose Raw is
// about size bytes (padded with a description), created and modified at t.
func RandomObject(r *rand.Rand, t time.Time, size int) collections.NewObject {
	typ := benchTypes[r.IntN(len(benchTypes))]
	o := Object(STIX{Type: typ, Created: t, Modified: t})
	if pad := size - len(o.Raw) - len(`,"description":""`); pad > 0 {
		o = Object(STIX{Type: typ, ID: o.ID, Created: t, Modified: t, Fields: map[string]any{
			"description": loremIpsum(r, pad),
		}})
	}
	return o
}

func loremIpsum(r *rand.Rand, n int) string {
	words := strings.Fields("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua")
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()[:n]
}
