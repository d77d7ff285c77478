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
	code string // short stable code, e.g. "modified-before-created"
	run  func(obj map[string]any, r *ruleReport)
}

// check runs the rule alone and returns its findings, every one a failure.
func (ru rule) check(obj map[string]any) []Finding {
	if obj == nil {
		return nil
	}
	r := ruleReport{code: ru.code}
	ru.run(obj, &r)
	return r.findings()
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
	scanRule("encoding-charset"),
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

// checkRules runs every rule on obj. classify tells what each finding
// means for the object (nil: every finding is a failure). Every rule runs
// whatever the others found: a rule keeps at most ruleMaxFindings failures
// and as many warnings and counts the others, so that a hostile object
// stays cheap to check while a failure is never hidden behind warnings.
func checkRules(obj map[string]any, classify ruleClassifier) findingSet {
	var fs findingSet
	if obj == nil {
		return fs
	}
	scanned := make([]ruleReport, len(ruleScanned))
	for i := range scanned {
		scanned[i] = ruleReport{code: ruleScanCodes[i], classify: classify}
	}
	ruleScan(obj, ruleScanVisitors, scanned)
	var own ruleReport
	for _, ru := range rules {
		r := &own
		if i, ok := ruleScanIndex[ru.code]; ok {
			r = &scanned[i]
		} else {
			own = ruleReport{code: ru.code, classify: classify}
			ru.run(obj, r)
		}
		r.sort()
		fs.fails = append(fs.fails, r.fails...)
		fs.warns = append(fs.warns, r.warns...)
		fs.moreFails += r.moreFails
		fs.moreWarns += r.moreWarns
		fs.atLeast = fs.atLeast || r.cut
	}
	return fs
}

// newRule makes a rule of a check that reports through a ruleReport.
func newRule(code string, f func(obj map[string]any, r *ruleReport)) rule {
	return rule{code: code, run: f}
}

// ruleClassifier tells what a finding of rule at ptr means for the object
// at the level it is checked at.
type ruleClassifier func(ptr, rule string) findingClass

// ruleReport collects one rule's findings: at most ruleMaxFindings failures
// and ruleMaxFindings warnings, counting those it does not keep.
type ruleReport struct {
	code     string
	classify ruleClassifier // nil: every finding is a failure
	fails    []Finding
	warns    []Finding
	// moreFails and moreWarns count the findings not kept; cut tells the
	// walk stopped counting them (see ruleScanner).
	moreFails, moreWarns int
	cut                  bool
}

// full reports whether the rule can keep no more findings of any class.
func (r *ruleReport) full() bool {
	return len(r.fails) >= ruleMaxFindings && (r.classify == nil || len(r.warns) >= ruleMaxFindings)
}

func (r *ruleReport) add(ptr, format string, args ...any) {
	class := classFail
	if r.classify != nil {
		class = r.classify(ptr, r.code)
	}
	switch class {
	case classDrop:
	case classWarn:
		if len(r.warns) >= ruleMaxFindings {
			r.moreWarns++
			return
		}
		r.warns = append(r.warns, Finding{Pointer: ptr, Rule: r.code, Message: fmt.Sprintf(format, args...)})
	default:
		if len(r.fails) >= ruleMaxFindings {
			r.moreFails++
			return
		}
		r.fails = append(r.fails, Finding{Pointer: ptr, Rule: r.code, Message: fmt.Sprintf(format, args...)})
	}
}

// sort orders the findings by pointer, so that the output does not depend
// on map iteration order.
func (r *ruleReport) sort() {
	for _, l := range [][]Finding{r.fails, r.warns} {
		if len(l) > 1 {
			sort.SliceStable(l, func(i, j int) bool { return l[i].Pointer < l[j].Pointer })
		}
	}
}

// findings returns the findings kept, failures first, each class ordered by
// pointer.
func (r *ruleReport) findings() []Finding {
	r.sort()
	if len(r.warns) == 0 {
		return r.fails
	}
	return append(append([]Finding(nil), r.fails...), r.warns...)
}
