package stix

// Rules specific to cyber-observable objects and their extensions: the
// "one of" and "at least one of" requirements, artifacts, files, email
// messages, network traffic, registry keys.

import "strings"

// checkArtifactPayload: section 6.1, one of payload_bin or url MUST be
// provided, and each MUST NOT be present with the other.
func checkArtifactPayload(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "artifact" {
		return
	}
	bin, url := ruleHas(obj, "payload_bin"), ruleHas(obj, "url")
	switch {
	case bin && url:
		r.add("/url", "must not be present together with payload_bin")
	case !bin && !url:
		r.add("", "an artifact needs payload_bin or url")
	}
}

// checkArtifactURLHashes: section 6.1.1, hashes MUST be present when url is.
func checkArtifactURLHashes(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "artifact" && ruleHas(obj, "url") && !ruleHas(obj, "hashes") {
		r.add("/hashes", "required when url is present")
	}
}

// checkArtifactDecryptionKey: section 6.1.1, decryption_key MUST NOT be
// present when encryption_algorithm is absent.
func checkArtifactDecryptionKey(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "artifact" && ruleHas(obj, "decryption_key") && !ruleHas(obj, "encryption_algorithm") {
		r.add("/decryption_key", "must not be present without encryption_algorithm")
	}
}

// checkFileHashesOrName: section 6.7, a file MUST contain at least one of
// hashes or name.
func checkFileHashesOrName(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "file" && !ruleHas(obj, "hashes") && !ruleHas(obj, "name") {
		r.add("", "a file needs hashes or name")
	}
}

// checkEmailMultipart: section 6.6.1, body MUST NOT be used if is_multipart
// is true, body_multipart MUST NOT be used if it is false.
func checkEmailMultipart(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "email-message" {
		return
	}
	mp, ok := obj["is_multipart"].(bool)
	switch {
	case !ok:
	case mp && ruleHas(obj, "body"):
		r.add("/body", "must not be used when is_multipart is true; use body_multipart")
	case !mp && ruleHas(obj, "body_multipart"):
		r.add("/body_multipart", "must not be used when is_multipart is false; use body")
	}
}

// checkEmailMIMEPart: section 6.6.2, one of body or body_raw_ref MUST be
// included in each MIME part.
func checkEmailMIMEPart(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "email-message" {
		return
	}
	parts, _ := obj["body_multipart"].([]any)
	for i, e := range parts {
		if part, ok := e.(map[string]any); ok && len(part) > 0 && !ruleHas(part, "body") && !ruleHas(part, "body_raw_ref") {
			r.add(rulePointer("body_multipart", i), "a MIME part needs body or body_raw_ref")
		}
	}
}

// checkNetworkTrafficEndpoint: section 6.12, a network-traffic MUST contain
// at least one of src_ref or dst_ref.
func checkNetworkTrafficEndpoint(obj map[string]any, r *ruleReport) {
	if ruleType(obj) == "network-traffic" && !ruleHas(obj, "src_ref") && !ruleHas(obj, "dst_ref") {
		r.add("", "a network-traffic needs src_ref or dst_ref")
	}
}

// ruleOneOfTypes lists, for objects that MUST contain at least one of their
// own properties, those properties: process (6.13), user-account (6.16),
// windows-registry-key (6.17), x509-certificate (6.18).
var ruleOneOfTypes = map[string][]string{
	"process": {"is_hidden", "pid", "created_time", "cwd", "command_line", "environment_variables",
		"opened_connection_refs", "creator_user_ref", "image_ref", "parent_ref", "child_refs", "extensions"},
	"user-account": {"user_id", "credential", "account_login", "account_type", "display_name",
		"is_service_account", "is_privileged", "can_escalate_privs", "is_disabled", "account_created",
		"account_expires", "credential_last_changed", "account_first_login", "account_last_login", "extensions"},
	"windows-registry-key": {"key", "values", "modified_time", "creator_user_ref", "number_of_subkeys"},
	"x509-certificate": {"is_self_signed", "hashes", "version", "serial_number", "signature_algorithm",
		"issuer", "validity_not_before", "validity_not_after", "subject", "subject_public_key_algorithm",
		"subject_public_key_modulus", "subject_public_key_exponent", "x509_v3_extensions"},
}

// ruleOneOfExtensions does the same for predefined extensions: ntfs-ext
// (6.7.3), pdf-ext (6.7.4), raster-image-ext (6.7.5), windows-pebinary-ext
// other than pe_type (6.7.6), tcp-ext (6.12.5), windows-process-ext
// (6.13.2), windows-service-ext (6.13.3), unix-account-ext (6.16.2).
var ruleOneOfExtensions = map[string][]string{
	"ntfs-ext":         {"sid", "alternate_data_streams"},
	"pdf-ext":          {"version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"},
	"raster-image-ext": {"image_height", "image_width", "bits_per_pixel", "exif_tags"},
	"windows-pebinary-ext": {"imphash", "machine_hex", "number_of_sections", "time_date_stamp",
		"pointer_to_symbol_table_hex", "number_of_symbols", "size_of_optional_header",
		"characteristics_hex", "file_header_hashes", "optional_header", "sections"},
	"tcp-ext": {"src_flags_hex", "dst_flags_hex"},
	"windows-process-ext": {"aslr_enabled", "dep_enabled", "priority", "owner_sid", "window_title",
		"startup_info", "integrity_level"},
	"windows-service-ext": {"service_name", "descriptions", "display_name", "group_name", "start_type",
		"service_dll_refs", "service_type", "service_status"},
	"unix-account-ext": {"gid", "groups", "home_dir", "shell"},
}

// rulePEOptionalHeader are the windows-pe-optional-header-type properties
// (section 6.7.6), at least one of which MUST be included.
var rulePEOptionalHeader = []string{"magic_hex", "major_linker_version", "minor_linker_version",
	"size_of_code", "size_of_initialized_data", "size_of_uninitialized_data", "address_of_entry_point",
	"base_of_code", "base_of_data", "image_base", "section_alignment", "file_alignment",
	"major_os_version", "minor_os_version", "major_image_version", "minor_image_version",
	"major_subsystem_version", "minor_subsystem_version", "win32_version_value_hex", "size_of_image",
	"size_of_headers", "checksum_hex", "subsystem_hex", "dll_characteristics_hex", "size_of_stack_reserve",
	"size_of_stack_commit", "size_of_heap_reserve", "size_of_heap_commit", "loader_flags_hex",
	"number_of_rva_and_sizes", "hashes"}

// ruleX509V3 are the x509-v3-extensions-type properties (section 6.18.2).
var ruleX509V3 = []string{"basic_constraints", "name_constraints", "policy_constraints", "key_usage",
	"extended_key_usage", "subject_key_identifier", "authority_key_identifier", "subject_alternative_name",
	"issuer_alternative_name", "subject_directory_attributes", "crl_distribution_points",
	"inhibit_any_policy", "private_key_usage_period_not_before", "private_key_usage_period_not_after",
	"certificate_policies", "policy_mappings"}

// ruleRegistryValue are the windows-registry-value-type properties (section
// 6.17.2).
var ruleRegistryValue = []string{"name", "data", "data_type"}

func ruleHasAny(m map[string]any, props []string) bool {
	for _, p := range props {
		if ruleHas(m, p) {
			return true
		}
	}
	return false
}

// checkAtLeastOneProperty: the "MUST contain at least one property"
// requirements of sections 6.7.3-6.7.6, 6.12.5, 6.13-6.13.3, 6.16-6.16.2,
// 6.17-6.17.2 and 6.18-6.18.2. Empty objects are reported by empty-object.
func checkAtLeastOneProperty(obj map[string]any, r *ruleReport) {
	t := ruleType(obj)
	if props, ok := ruleOneOfTypes[t]; ok && !ruleHasAny(obj, props) {
		r.add("", "a %s needs at least one of its own properties (%s)", t, strings.Join(props, ", "))
	}
	// lacks reports a non-empty object without any of props.
	lacks := func(v any, props []string) bool {
		m, ok := v.(map[string]any)
		return ok && len(m) > 0 && !ruleHasAny(m, props)
	}
	const msg = "%s needs at least one of %s"
	exts, _ := obj["extensions"].(map[string]any)
	for name, e := range exts {
		if props, ok := ruleOneOfExtensions[name]; ok && lacks(e, props) {
			r.add(rulePointer("extensions", name), msg, name, strings.Join(props, ", "))
		}
	}
	if pe, ok := exts["windows-pebinary-ext"].(map[string]any); ok && lacks(pe["optional_header"], rulePEOptionalHeader) {
		r.add("/extensions/windows-pebinary-ext/optional_header", msg, "optional_header", strings.Join(rulePEOptionalHeader, ", "))
	}
	switch t {
	case "windows-registry-key":
		values, _ := obj["values"].([]any)
		for i, v := range values {
			if lacks(v, ruleRegistryValue) {
				r.add(rulePointer("values", i), msg, "a registry value", strings.Join(ruleRegistryValue, ", "))
			}
		}
	case "x509-certificate":
		if lacks(obj["x509_v3_extensions"], ruleX509V3) {
			r.add("/x509_v3_extensions", msg, "x509_v3_extensions", strings.Join(ruleX509V3, ", "))
		}
	}
}

// ruleHiveAbbrev are abbreviated registry hive names.
var ruleHiveAbbrev = map[string]string{
	"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER", "HKCR": "HKEY_CLASSES_ROOT",
	"HKU": "HKEY_USERS", "HKCC": "HKEY_CURRENT_CONFIG", "HKPD": "HKEY_PERFORMANCE_DATA",
}

// checkRegistryKeyHive: section 6.17.1, the hive portion of the key MUST be
// fully expanded (HKEY_LOCAL_MACHINE, not HKLM).
func checkRegistryKeyHive(obj map[string]any, r *ruleReport) {
	if ruleType(obj) != "windows-registry-key" {
		return
	}
	key, ok := ruleString(obj, "key")
	if !ok {
		return
	}
	hive, _, _ := strings.Cut(key, `\`)
	if len(hive) <= 4 {
		if full, abbrev := ruleHiveAbbrev[strings.ToUpper(hive)]; abbrev {
			r.add("/key", "%s abbreviates the hive; use %s", ruleQuote(key), full)
		}
	}
}
