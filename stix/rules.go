package stix

// The STIX 2.1 requirements a JSON schema cannot express: ordering
// between timestamps, relations between properties, formats that depend on a
// dictionary key, the naming conventions that apply to custom properties,
// and so on. Each is a named rule; the validator runs every rule on every
// decoded object (see checkRules). This file holds the list of rules and
// how they report; the rules themselves live in the rules_*.go files by
// theme.
//
// Section numbers refer to STIX Version 2.1 (with Errata 01). Only MUST-level
// requirements are checked; SHOULDs are not findings. Every rule runs in time
// linear in the size of the object, recursion stops at ruleMaxDepth levels and
// each rule reports at most ruleMaxFindings findings (checkRules caps the
// total at the same number).

import (
	"fmt"
	"sort"
)

const (
	// ruleMaxFindings caps the findings of one rule and of checkRules.
	ruleMaxFindings = 50
	// ruleMaxDepth bounds how deep the walking rules descend.
	ruleMaxDepth = 64
	// ruleMaxQuoted bounds how much of a value a message quotes.
	ruleMaxQuoted = 100
)

// rule is one named check.
type rule struct {
	code  string // short stable code, e.g. "modified-before-created"
	check func(obj map[string]any) []Finding
}

// rules are the checks a schema cannot express, run on every object in order.
var rules = []rule{
	// Versioning and identifiers.
	newRule("modified-before-created", checkModifiedBeforeCreated),
	newRule("id-uuid", checkIDUUID),
	newRule("sco-id-uuid-version", checkSCOIDVersion),
	// References.
	scanRule("ref-format"),
	newRule("ref-target-type", checkRefTargetType),
	newRule("observed-data-objects", checkObservedDataObjects),
	newRule("observed-data-sco-ref", checkObservedDataSCORef),
	scanRule("observable-container-ref"),
	// Markings.
	newRule("marking-self-reference", checkMarkingSelfReference),
	newRule("granular-marking-choice", checkGranularMarkingChoice),
	newRule("granular-marking-selector", checkGranularMarkingSelector),
	newRule("marking-definition-content", checkMarkingDefinitionContent),
	newRule("tlp-marking", checkTLPMarking),
	// Time windows.
	newRule("valid-until-before-valid-from", checkValidUntil),
	newRule("last-seen-before-first-seen", checkLastSeen),
	newRule("last-observed-before-first-observed", checkLastObserved),
	newRule("stop-time-before-start-time", checkStopTime),
	newRule("network-traffic-end-before-start", checkNetworkTrafficEnd),
	newRule("network-traffic-active-end", checkNetworkTrafficActive),
	// Patterns.
	newRule("indicator-pattern", checkIndicatorPattern),
	// Names.
	newRule("custom-property-name", checkCustomPropertyName),
	newRule("extension-property-name", checkExtensionPropertyName),
	newRule("reserved-property", checkReservedProperty),
	scanRule("encoding-property"),
	newRule("extension-name", checkExtensionName),
	newRule("extension-type", checkExtensionType),
	newRule("extension-properties", checkExtensionProperties),
	// Value formats.
	scanRule("hash-value"),
	scanRule("hex-value"),
	scanRule("binary-value"),
	newRule("lang-tag", checkLangTag),
	scanRule("empty-list"),
	scanRule("empty-object"),
	newRule("external-reference", checkExternalReference),
	newRule("external-id-format", checkExternalIDFormat),
	newRule("defanged-non-sco", checkDefangedNonSCO),
	// Object-specific requirements.
	newRule("location-required", checkLocationRequired),
	newRule("location-coordinates", checkLocationCoordinates),
	newRule("malware-family-name", checkMalwareFamilyName),
	newRule("malware-analysis-result", checkMalwareAnalysisResult),
	newRule("artifact-payload", checkArtifactPayload),
	newRule("artifact-url-hashes", checkArtifactURLHashes),
	newRule("artifact-decryption-key", checkArtifactDecryptionKey),
	newRule("file-hashes-or-name", checkFileHashesOrName),
	newRule("email-multipart", checkEmailMultipart),
	newRule("email-mime-part", checkEmailMIMEPart),
	newRule("network-traffic-endpoint", checkNetworkTrafficEndpoint),
	newRule("at-least-one-property", checkAtLeastOneProperty),
	newRule("registry-key-hive", checkRegistryKeyHive),
	newRule("ipv4-value", checkIPv4Value),
	newRule("ipv6-value", checkIPv6Value),
	newRule("mac-addr-value", checkMACAddrValue),
	newRule("domain-name-value", checkDomainNameValue),
	newRule("url-value", checkURLValue),
	newRule("email-addr-value", checkEmailAddrValue),
}

// checkRules runs every rule and returns all findings, at most
// ruleMaxFindings of them.
func checkRules(obj map[string]any) []Finding {
	if obj == nil {
		return nil
	}
	scanned := ruleScan(obj, ruleScanVisitors, ruleScanCodes)
	var out []Finding
	for _, r := range rules {
		if i, ok := ruleScanIndex[r.code]; ok {
			out = append(out, scanned[i].findings()...)
		} else {
			out = append(out, r.check(obj)...)
		}
		if len(out) >= ruleMaxFindings {
			return out[:ruleMaxFindings]
		}
	}
	return out
}

// newRule wraps a check that reports through a ruleReport into a rule.
func newRule(code string, f func(obj map[string]any, r *ruleReport)) rule {
	return rule{code: code, check: func(obj map[string]any) []Finding {
		if obj == nil {
			return nil
		}
		r := ruleReport{code: code}
		f(obj, &r)
		return r.findings()
	}}
}

// ruleReport collects one rule's findings, at most ruleMaxFindings.
type ruleReport struct {
	code string
	out  []Finding
}

func (r *ruleReport) full() bool { return len(r.out) >= ruleMaxFindings }

func (r *ruleReport) add(ptr, format string, args ...any) {
	if r.full() {
		return
	}
	r.out = append(r.out, Finding{Pointer: ptr, Rule: r.code, Message: fmt.Sprintf(format, args...)})
}

// findings returns the findings ordered by pointer, so that the output does
// not depend on map iteration order.
func (r *ruleReport) findings() []Finding {
	if len(r.out) < 2 {
		return r.out
	}
	sort.SliceStable(r.out, func(i, j int) bool { return r.out[i].Pointer < r.out[j].Pointer })
	return r.out
}
