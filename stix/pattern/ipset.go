package pattern

import (
	"maps"
	"net/netip"
	"strings"
)

// ObservableTypes returns a new set of the STIX Cyber-observable Object
// types the specification defines (STIX 2.1 section 6), the one list
// package stix uses too.
func ObservableTypes() map[string]bool { return maps.Clone(scoTypes) }

// scoTypes are the types ObservableTypes returns. Their reference
// properties are known; those of custom types are not.
var scoTypes = map[string]bool{
	"artifact": true, "autonomous-system": true, "directory": true, "domain-name": true,
	"email-addr": true, "email-message": true, "file": true, "ipv4-addr": true,
	"ipv6-addr": true, "mac-addr": true, "mutex": true, "network-traffic": true,
	"process": true, "software": true, "url": true, "user-account": true,
	"windows-registry-key": true, "x509-certificate": true,
}

// ipRefs are the reference properties of those types that may point to an
// ipv4-addr or ipv6-addr object: domain-name resolves_to_refs (section 6.3)
// and network-traffic src_ref and dst_ref (section 6.12).
var ipRefs = map[string]bool{
	"domain-name:resolves_to_refs": true,
	"network-traffic:src_ref":      true,
	"network-traffic:dst_ref":      true,
}

// checkIPOperand applies the rules of ISSUBSET and ISSUPERSET (STIX 2.1
// section 9.6.1): the object path MUST refer to the value property of an
// ipv4-addr or ipv6-addr object, and the constant MUST be a valid string
// representation of that object type's value, an address or CIDR block
// (sections 6.7 and 6.8).
func checkIPOperand(op ComparisonOperator, path ObjectPath, c Constant) error {
	family, ok := ipPathFamily(path)
	if !ok {
		return errAt(path.Offset, "%s applies only to the value of an ipv4-addr or ipv6-addr object, as in ipv4-addr:value or network-traffic:dst_ref.value, found %s (STIX 2.1 section 9.6.1)", op, short(path.String()))
	}
	addr, ok := ipOperand(c.Text)
	switch {
	case !ok && family == "":
		return errAt(c.Offset, "%s on %s takes an IPv4 or IPv6 address or CIDR block, found %s (STIX 2.1 section 9.6.1)", op, path, short(c.Raw))
	case family == "ipv4-addr" && (!ok || !addr.Is4()):
		return errAt(c.Offset, "%s on %s takes an IPv4 address or CIDR block such as '198.51.100.0/24', found %s (STIX 2.1 section 9.6.1)", op, path, short(c.Raw))
	case family == "ipv6-addr" && (!ok || !addr.Is6()):
		return errAt(c.Offset, "%s on %s takes an IPv6 address or CIDR block such as '2001:db8::/32', found %s (STIX 2.1 section 9.6.1)", op, path, short(c.Raw))
	}
	return nil
}

// ipOperand parses an address or CIDR block, without an IPv6 zone, which
// the value of an ipv6-addr object cannot carry.
func ipOperand(s string) (netip.Addr, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Addr(), err == nil
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Zone() == ""
}

// ipPathFamily reports whether path can refer to the value property of an
// ipv4-addr or ipv6-addr object, and which of the two it must be ("" when
// either). Besides ipv4-addr:value and ipv6-addr:value, a path may reach
// the value through a reference, as in network-traffic:dst_ref.value
// (section 9.8). For a reference on one of the specification's object types
// the reference must be one that may point to an address; references of
// custom types, or behind other references and extensions, cannot be
// resolved without their definitions and are accepted.
func ipPathFamily(path ObjectPath) (string, bool) {
	steps := path.Steps
	n := len(steps)
	if n == 0 || steps[n-1].IsIndex() || steps[n-1].Name != "value" {
		return "", false
	}
	if n == 1 {
		if path.ObjectType == "ipv4-addr" || path.ObjectType == "ipv6-addr" {
			return path.ObjectType, true
		}
		return "", false
	}
	ref := n - 2 // the reference step leading to the addressed object
	switch s := steps[ref]; {
	case !s.IsIndex() && strings.HasSuffix(s.Name, "_ref"):
	case s.IsIndex() && n >= 3 && !steps[n-3].IsIndex() && strings.HasSuffix(steps[n-3].Name, "_refs"):
		ref = n - 3
	default:
		return "", false
	}
	if ref == 0 && scoTypes[path.ObjectType] {
		return "", ipRefs[path.ObjectType+":"+steps[0].Name]
	}
	return "", true
}
