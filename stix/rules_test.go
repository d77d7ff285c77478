package stix

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ruleBases are realistic, valid STIX 2.1 objects the rule tests start from.
var ruleBases = map[string]string{
	"identity":                `{"type": "identity", "spec_version": "2.1", "id": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z", "name": "ACME Widget, Inc.", "identity_class": "organization"}`,
	"indicator":               `{"type": "indicator", "spec_version": "2.1", "id": "indicator--a5727441-3504-49b7-bf09-a21d167c6756", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z", "indicator_types": ["malicious-activity"], "name": "Poison Ivy Malware", "description": "This file is part of Poison Ivy", "pattern": "[ file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877' ]", "pattern_type": "stix", "valid_from": "2016-01-01T00:00:00.000Z", "valid_until": "2017-01-01T00:00:00.000Z", "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}`,
	"malware":                 `{"type": "malware", "spec_version": "2.1", "id": "malware--962f4a1a-cb00-4501-a4f7-b2d895dbca78", "created": "2016-05-12T08:17:27.000Z", "modified": "2016-05-12T08:17:27.000Z", "name": "Cryptolocker", "description": "A variant of the cryptolocker family", "malware_types": ["ransomware"], "is_family": true, "first_seen": "2016-05-01T00:00:00.000Z", "last_seen": "2016-05-10T00:00:00.000Z"}`,
	"campaign":                `{"type": "campaign", "spec_version": "2.1", "id": "campaign--8a02ddbb-f2fa-4b92-86c1-3d9e1724a851", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z", "name": "Green Group Attacks Against Finance", "description": "Campaign by Green Group against a series of targets in the financial services sector.", "first_seen": "2016-01-01T00:00:00.000Z", "last_seen": "2016-03-01T00:00:00.000Z"}`,
	"threat-actor":            `{"type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--6c51dda9-6101-4115-aa72-7632cbc2d3aa", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z", "threat_actor_types": ["crime-syndicate"], "name": "Evil Org", "description": "The Evil Org threat actor group", "aliases": ["Syndicate 1", "Evil Syndicate 99"], "roles": ["director"], "goals": ["Steal bank money", "Steal credit cards"], "sophistication": "advanced", "resource_level": "team", "primary_motivation": "organizational-gain", "first_seen": "2015-02-01T00:00:00.000Z", "last_seen": "2016-04-01T00:00:00.000Z"}`,
	"intrusion-set":           `{"type": "intrusion-set", "spec_version": "2.1", "id": "intrusion-set--2c3abab6-153c-426a-b708-c5cda1be248a", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z", "name": "Bobcat Breakin", "description": "Incidents usually feature a shared TTP of a bobcat being released within the building containing network access, scaring users to leave their computers without locking them first. Still determining where the threat actors are getting the bobcats.", "aliases": ["Zookeeper"], "goals": ["acquisition-infrastructure", "acquisition-intellectual-property"], "first_seen": "2015-06-01T00:00:00.000Z", "last_seen": "2016-03-15T00:00:00.000Z"}`,
	"infrastructure":          `{"type": "infrastructure", "spec_version": "2.1", "id": "infrastructure--b9320123-5987-4f42-b3d8-2f9a91e3a762", "created": "2016-10-18T20:03:48.000Z", "modified": "2016-10-18T20:03:48.000Z", "name": "Poison Ivy C2", "infrastructure_types": ["command-and-control"], "first_seen": "2016-10-01T00:00:00.000Z", "last_seen": "2016-10-17T00:00:00.000Z"}`,
	"relationship":            `{"type": "relationship", "spec_version": "2.1", "id": "relationship--d2f0368b-8574-403d-ba6c-951713123ade", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:06:37.000Z", "modified": "2016-04-06T20:06:37.000Z", "relationship_type": "indicates", "source_ref": "indicator--a5727441-3504-49b7-bf09-a21d167c6756", "target_ref": "malware--962f4a1a-cb00-4501-a4f7-b2d895dbca78", "start_time": "2016-04-06T00:00:00.000Z", "stop_time": "2016-12-31T00:00:00.000Z"}`,
	"sighting":                `{"type": "sighting", "spec_version": "2.1", "id": "sighting--6e4f1c8f-badf-40e4-a900-672edadafd94", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:08:31.000Z", "modified": "2016-04-06T20:08:31.000Z", "sighting_of_ref": "indicator--a5727441-3504-49b7-bf09-a21d167c6756", "count": 2, "first_seen": "2016-04-06T12:00:00.000Z", "last_seen": "2016-04-06T18:00:00.000Z", "observed_data_refs": ["observed-data--eaae3da9-ff93-4704-987e-346fe3d8ce03"], "where_sighted_refs": ["identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6"]}`,
	"observed-data":           `{"type": "observed-data", "spec_version": "2.1", "id": "observed-data--eaae3da9-ff93-4704-987e-346fe3d8ce03", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T19:58:16.000Z", "modified": "2016-04-06T19:58:16.000Z", "first_observed": "2015-12-21T19:00:00.000Z", "last_observed": "2015-12-21T19:00:00.000Z", "number_observed": 50, "object_refs": ["ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"]}`,
	"observed-data-container": `{"type": "observed-data", "spec_version": "2.1", "id": "observed-data--030299aa-31da-40db-87d9-9241f84d0da4", "created": "2016-04-06T19:58:16.000Z", "modified": "2016-04-06T19:58:16.000Z", "first_observed": "2015-12-21T19:00:00.000Z", "last_observed": "2015-12-21T19:05:00.000Z", "number_observed": 1, "objects": {"0": {"type": "ipv4-addr", "value": "198.51.100.3"}, "1": {"type": "ipv4-addr", "value": "203.0.113.7"}, "2": {"type": "network-traffic", "src_ref": "0", "dst_ref": "1", "dst_port": 443, "protocols": ["ipv4", "tcp"]}, "3": {"type": "domain-name", "value": "example.com", "resolves_to_refs": ["1"]}}}`,
	"marking-statement":       `{"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--06cff15b-4fab-45fe-b64a-c1d7c8e148e2", "created": "2016-08-01T00:00:00.000Z", "definition_type": "statement", "name": "ACME copyright", "definition": {"statement": "Copyright 2016, ACME Widget, Inc."}}`,
	"marking-tlp":             `{"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": "TLP:GREEN", "definition": {"tlp": "green"}}`,
	"location":                `{"type": "location", "spec_version": "2.1", "id": "location--a4fbe235-74e0-4f59-b5e3-f1be8635f5fe", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z", "region": "northern-america", "country": "us", "latitude": 48.8566, "longitude": 2.3522, "precision": 1000.0}`,
	"malware-analysis":        `{"type": "malware-analysis", "spec_version": "2.1", "id": "malware-analysis--3684babe-8602-48c9-bb9f-df8357e29c5b", "created": "2016-11-02T09:11:54.000Z", "modified": "2016-11-02T09:11:54.000Z", "product": "microsoft", "analysis_engine_version": "5.1.0", "analysis_started": "2016-11-01T09:00:00.000Z", "analysis_ended": "2016-11-01T09:05:00.000Z", "result": "malicious", "sample_ref": "file--1e7a6d1a-6f82-5c92-9479-1405f474d3ea"}`,
	"attack-pattern":          `{"type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--6d796544-15dc-4ab7-9348-b6bf38978bef", "created": "2016-05-12T08:17:27.000Z", "modified": "2016-05-12T08:17:27.000Z", "name": "Spear Phishing", "description": "Phishing targeted at a specific individual or group.", "external_references": [{"source_name": "capec", "external_id": "CAPEC-163"}]}`,
	"vulnerability":           `{"type": "vulnerability", "spec_version": "2.1", "id": "vulnerability--ede88d0f-bde5-450b-8a9d-0cb720074c96", "created": "2016-05-12T08:17:27.000Z", "modified": "2016-05-12T08:17:27.000Z", "name": "CVE-2016-1234", "external_references": [{"source_name": "cve", "external_id": "CVE-2016-1234"}]}`,
	"course-of-action":        `{"type": "course-of-action", "spec_version": "2.1", "id": "course-of-action--fd6007fd-63a1-4b91-92d7-58cb51405e33", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z", "name": "Add TCP port 80 Filter Rule to the existing Block UDP 1434 Filter", "description": "This is how to add a filter rule to block inbound access to TCP port 80 to the existing UDP 1434 filter ..."}`,
	"language-content":        `{"type": "language-content", "spec_version": "2.1", "id": "language-content--2c2dd865-d5c2-408a-a3dc-396d1a0d6ac1", "created": "2017-02-08T21:31:22.007Z", "modified": "2017-02-08T21:31:22.007Z", "object_ref": "campaign--8a02ddbb-f2fa-4b92-86c1-3d9e1724a851", "object_modified": "2016-04-06T20:03:00.000Z", "contents": {"de": {"name": "Angriffe der Grünen Gruppe auf das Finanzwesen", "description": "Kampagne der Grünen Gruppe gegen Ziele im Finanzsektor."}, "fr": {"name": "Attaques du Groupe Vert contre la finance"}}}`,
	"extension-definition":    `{"type": "extension-definition", "spec_version": "2.1", "id": "extension-definition--2b4a79c7-92e5-43c8-b0a3-76e7b57d6ec7", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2020-02-20T09:16:08.989Z", "modified": "2020-02-20T09:16:08.989Z", "name": "ACME scoring", "description": "Adds ACME's rank and toxicity scores to indicators.", "schema": "https://www.example.com/schema-acme-scoring/v1/", "version": "1.2.1", "extension_types": ["property-extension"]}`,
	"report":                  `{"type": "report", "spec_version": "2.1", "id": "report--354678f2-6442-4e23-ab12-4e9ae788bba7", "created_by_ref": "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6", "created": "2015-12-21T19:59:11.000Z", "modified": "2016-05-21T19:59:11.000Z", "name": "The Black Vine Cyberespionage Group", "description": "A simple report with an indicator and campaign", "published": "2016-01-20T17:00:00.000Z", "report_types": ["campaign"], "labels": ["espionage", "finance"], "external_references": [{"source_name": "ACME Threat Intel", "description": "Threat report", "url": "https://www.example.com/threat-report.pdf", "hashes": {"SHA-256": "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b"}}], "object_refs": ["indicator--a5727441-3504-49b7-bf09-a21d167c6756", "campaign--8a02ddbb-f2fa-4b92-86c1-3d9e1724a851", "relationship--d2f0368b-8574-403d-ba6c-951713123ade"], "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"], "granular_markings": [{"marking_ref": "marking-definition--06cff15b-4fab-45fe-b64a-c1d7c8e148e2", "selectors": ["description", "labels.[1]", "external_references.[0].url"]}, {"lang": "en", "selectors": ["name"]}]}`,
	"ipv4-addr":               `{"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "198.51.100.3"}`,
	"ipv6-addr":               `{"type": "ipv6-addr", "spec_version": "2.1", "id": "ipv6-addr--fd94b5a6-b245-5686-8ec7-12576512d73a", "value": "2001:db8::/96"}`,
	"mac-addr":                `{"type": "mac-addr", "spec_version": "2.1", "id": "mac-addr--b8df4b62-1e4e-5ead-bd24-dddefc6d5e4e", "value": "00:00:5e:00:53:af"}`,
	"domain-name":             `{"type": "domain-name", "spec_version": "2.1", "id": "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7", "value": "example.com", "resolves_to_refs": ["ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"]}`,
	"url":                     `{"type": "url", "spec_version": "2.1", "id": "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55", "value": "https://example.com/research/index.html"}`,
	"email-addr":              `{"type": "email-addr", "spec_version": "2.1", "id": "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171", "value": "jdoe@example.com", "display_name": "John Doe"}`,
	"file":                    `{"type": "file", "spec_version": "2.1", "id": "file--1e7a6d1a-6f82-5c92-9479-1405f474d3ea", "hashes": {"SHA-256": "4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877", "MD5": "3773a88f65a5e780c8dff9cdc3a056f3", "SSDEEP": "96:Gd1MNR4bQPz7nEv6s9vBpXdY1tEuAo5X3lXh1QR2Fx:GdW4bQPzpXdY1tEuAoXh1Q"}, "name": "qwerty.dll", "size": 25537, "mime_type": "application/x-dosexec", "magic_number_hex": "4d5a"}`,
	"file-pe":                 `{"type": "file", "spec_version": "2.1", "id": "file--966321cf-4c85-56e4-92f8-af65cc8bcce5", "hashes": {"SHA-256": "a1a8ab2cd7c3bbbe5b9e0b4f96b0e2a5e8ccbd7b0a4b11f1b2d5d6e0b97c3d1e"}, "name": "setup.exe", "extensions": {"windows-pebinary-ext": {"pe_type": "exe", "machine_hex": "014c", "number_of_sections": 4, "time_date_stamp": "2016-01-22T12:31:12Z", "characteristics_hex": "818f", "file_header_hashes": {"SHA-256": "57a1d3c6a4e3e1a3a9b8c2d6e0f1a2b3c4d5e6f708192a3b4c5d6e7f80910a1b"}, "optional_header": {"magic_hex": "010b", "size_of_code": 4096, "address_of_entry_point": 4096}}}}`,
	"network-traffic":         `{"type": "network-traffic", "spec_version": "2.1", "id": "network-traffic--22ecf49f-a692-55da-8321-2eb0626a265f", "src_ref": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "dst_ref": "ipv4-addr--9ddd739e-87b1-587d-83f2-62ef1130af2f", "src_port": 24678, "dst_port": 80, "protocols": ["ipv4", "tcp"], "start": "2016-06-19T10:15:00.000Z", "end": "2016-06-19T10:16:30.000Z", "is_active": false, "extensions": {"tcp-ext": {"src_flags_hex": "00000002"}}}`,
	"process":                 `{"type": "process", "spec_version": "2.1", "id": "process--07bc30ad-b4fa-4a3f-a4e3-2c7b5d6a1c6e", "pid": 1221, "command_line": "./gedit-bin --new-window", "image_ref": "file--1e7a6d1a-6f82-5c92-9479-1405f474d3ea"}`,
	"email-message":           `{"type": "email-message", "spec_version": "2.1", "id": "email-message--5db4650f-ab2f-58df-a68c-9ce48226ca30", "is_multipart": false, "date": "1997-11-21T15:55:06.000Z", "from_ref": "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171", "to_refs": ["email-addr--2aeeb98c-9db4-525e-874d-221fdfe9f76e"], "subject": "Saying Hello", "body": "Hello Mary", "additional_header_fields": {"Reply-To": ["steve@example.com"]}}`,
	"email-multipart":         `{"type": "email-message", "spec_version": "2.1", "id": "email-message--33c2df8d-1428-5937-ab63-402fb72bacc3", "is_multipart": true, "date": "1997-11-21T15:55:06.000Z", "from_ref": "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171", "to_refs": ["email-addr--2aeeb98c-9db4-525e-874d-221fdfe9f76e"], "subject": "Check out this picture!", "body_multipart": [{"content_type": "text/plain; charset=utf-8", "content_disposition": "inline", "body": "Cats are funny!"}, {"content_type": "image/png", "content_disposition": "attachment; filename=\"tabby.png\"", "body_raw_ref": "artifact--4cce66f8-6eaa-53cb-85d5-3a85fca3a6c5"}]}`,
	"artifact":                `{"type": "artifact", "spec_version": "2.1", "id": "artifact--6b899f15-fa80-529f-944f-34b523c72b09", "mime_type": "image/png", "payload_bin": "iVBORw0KGgoAAAANSUhEUgAAADI=", "hashes": {"MD5": "f1b2a7f9de34e20b24ab1cbbcc3ec3d3"}}`,
	"artifact-url":            `{"type": "artifact", "spec_version": "2.1", "id": "artifact--db1dccc8-8cb7-5c9b-ab24-581e39ae0444", "mime_type": "application/zip", "url": "https://www.example.com/file.zip", "hashes": {"SHA-256": "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b"}, "encryption_algorithm": "mime-type-indicated", "decryption_key": "infected"}`,
	"user-account":            `{"type": "user-account", "spec_version": "2.1", "id": "user-account--f94d689e-707d-58c3-b803-c720bb6ed096", "user_id": "1001", "account_login": "jdoe", "account_type": "unix", "display_name": "John Doe", "is_service_account": false, "is_privileged": false, "extensions": {"unix-account-ext": {"gid": 1001, "groups": ["wheel"], "home_dir": "/home/jdoe", "shell": "/bin/bash"}}}`,
	"windows-registry-key":    `{"type": "windows-registry-key", "spec_version": "2.1", "id": "windows-registry-key--1884b770-b679-522a-a9c7-45fadaaec7bb", "key": "HKEY_LOCAL_MACHINE\\System\\Foo\\Bar", "values": [{"name": "Foo", "data": "qwerty", "data_type": "REG_SZ"}, {"name": "Bar", "data": "42", "data_type": "REG_DWORD"}]}`,
	"x509-certificate":        `{"type": "x509-certificate", "spec_version": "2.1", "id": "x509-certificate--bf86f034-2390-54d7-8426-d08433db3fbe", "issuer": "C=ZA, ST=Western Cape, L=Cape Town, O=Thawte Consulting cc, OU=Certification Services Division, CN=Thawte Premium Server CA/emailAddress=premium-server@thawte.com", "validity_not_before": "2016-03-12T12:00:00.000Z", "validity_not_after": "2016-08-21T12:00:00.000Z", "subject": "C=US, ST=Maryland, L=Pasadena, O=Brent Baccala, OU=FreeSoft, CN=www.freesoft.org/emailAddress=baccala@freesoft.org", "serial_number": "36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06", "hashes": {"SHA-1": "a7e4f1f1c7a6ab8c4d1fb1a63b8a5e6f1f4b3c2d"}, "x509_v3_extensions": {"basic_constraints": "critical,CA:TRUE, pathlen:0", "key_usage": "digitalSignature, keyEncipherment"}}`,
	"software":                `{"type": "software", "spec_version": "2.1", "id": "software--710b0b41-d4d0-5d6c-a400-fc9254554ffc", "name": "Word", "cpe": "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", "languages": ["en", "fr-CA"], "vendor": "Microsoft", "version": "2002"}`,
	"autonomous-system":       `{"type": "autonomous-system", "spec_version": "2.1", "id": "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff", "number": 15139, "name": "Slime Industries", "rir": "ARIN"}`,
	"custom-object":           `{"type": "x-acme-widget", "spec_version": "2.1", "id": "x-acme-widget--172b1cf3-4699-409f-8b89-2946e79a97f3", "created": "2016-08-01T00:00:00.000Z", "modified": "2016-08-01T00:00:00.000Z", "x_acme_serial": "W-1138", "widget_color": "blue"}`,
}

// ruleCase runs one rule on a base object changed by a JSON merge patch
// (RFC 7386; null deletes). want lists the pointers of the findings the
// rule must report; a case without want is a positive case.
type ruleCase struct {
	code  string
	name  string
	base  string
	patch string
	want  []string
}

const (
	ruleTestIdentity = "identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6"
	ruleTestTLPGreen = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	ruleTestStmt     = "marking-definition--06cff15b-4fab-45fe-b64a-c1d7c8e148e2"
	ruleTestExtDef   = "extension-definition--2b4a79c7-92e5-43c8-b0a3-76e7b57d6ec7"
)

var ruleCases = []ruleCase{
	// modified-before-created
	{"modified-before-created", "equal", "indicator", "", nil},
	{"modified-before-created", "later", "report", "", nil},
	{"modified-before-created", "no modified", "marking-statement", "", nil},
	{"modified-before-created", "malformed skipped", "indicator", `{"modified":"yesterday"}`, nil},
	{"modified-before-created", "earlier", "indicator", `{"modified":"2016-04-06T20:03:47.999Z"}`, []string{"/modified"}},
	{"modified-before-created", "nanoseconds", "campaign", `{"created":"2016-04-06T20:03:00.000000002Z","modified":"2016-04-06T20:03:00.000000001Z"}`, []string{"/modified"}},

	// id-uuid
	{"id-uuid", "v4", "indicator", "", nil},
	{"id-uuid", "v5 sco", "ipv4-addr", "", nil},
	{"id-uuid", "v1", "indicator", `{"id":"indicator--a5727441-3504-19b7-bf09-a21d167c6756"}`, nil},
	{"id-uuid", "malformed left to id-format", "indicator", `{"id":"indicator--1"}`, nil},
	{"id-uuid", "version 0", "indicator", `{"id":"indicator--a5727441-3504-09b7-bf09-a21d167c6756"}`, []string{"/id"}},
	{"id-uuid", "version 6", "malware", `{"id":"malware--962f4a1a-cb00-6501-a4f7-b2d895dbca78"}`, []string{"/id"}},
	{"id-uuid", "microsoft variant", "malware", `{"id":"malware--962f4a1a-cb00-4501-c4f7-b2d895dbca78"}`, []string{"/id"}},
	{"id-uuid", "nil uuid", "identity", `{"id":"identity--00000000-0000-0000-0000-000000000000"}`, []string{"/id"}},

	// sco-id-uuid-version
	{"sco-id-uuid-version", "process v4", "process", "", nil},
	{"sco-id-uuid-version", "user-account v5 with contributing", "user-account", "", nil},
	{"sco-id-uuid-version", "file v5 with hashes", "file", "", nil},
	{"sco-id-uuid-version", "ipv4 not concerned", "ipv4-addr", `{"id":"ipv4-addr--a5727441-3504-19b7-bf09-a21d167c6756"}`, nil},
	{"sco-id-uuid-version", "process v5", "process", `{"id":"process--f52a906a-0dfc-5f9d-a0e1-5b1d0e4a3c8b"}`, []string{"/id"}},
	{"sco-id-uuid-version", "user-account no contributing", "user-account", `{"user_id":null,"account_login":null,"account_type":null}`, []string{"/id"}},
	{"sco-id-uuid-version", "email-message no contributing", "email-message", `{"from_ref":null,"subject":null,"body":null}`, []string{"/id"}},

	// ref-format
	{"ref-format", "indicator", "indicator", "", nil},
	{"ref-format", "report", "report", "", nil},
	{"ref-format", "nested extension refs", "network-traffic", `{"extensions":{"http-request-ext":{"request_method":"get","request_value":"/","message_body_data_ref":"artifact--4cce66f8-6eaa-53cb-85d5-3a85fca3a6c5"}}}`, nil},
	{"ref-format", "container is local", "observed-data-container", "", nil},
	{"ref-format", "data dictionary keys are not properties", "email-message", `{"additional_header_fields":{"x_ref":["anything"]}}`, nil},
	{"ref-format", "single hyphen", "indicator", `{"created_by_ref":"identity-e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6"}`, []string{"/created_by_ref"}},
	{"ref-format", "list item", "report", `{"object_refs":["campaign--8a02ddbb-f2fa-4b92-86c1-3d9e1724a851","not-an-id",7]}`, []string{"/object_refs/1", "/object_refs/2"}},
	{"ref-format", "empty list", "report", `{"object_refs":[]}`, []string{"/object_refs"}},
	{"ref-format", "not a list", "sighting", `{"where_sighted_refs":"identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6"}`, []string{"/where_sighted_refs"}},
	{"ref-format", "custom property", "indicator", `{"x_acme_source_ref":"acme:1234"}`, []string{"/x_acme_source_ref"}},
	{"ref-format", "bad type name", "relationship", `{"target_ref":"Malware--962f4a1a-cb00-4501-a4f7-b2d895dbca78"}`, []string{"/target_ref"}},
	{"ref-format", "uuid version 0", "relationship", `{"target_ref":"malware--962f4a1a-cb00-0501-a4f7-b2d895dbca78"}`, []string{"/target_ref"}},
	{"ref-format", "in extension", "file", `{"extensions":{"archive-ext":{"contains_refs":["file--abc"]}}}`, []string{"/extensions/archive-ext/contains_refs/0"}},
	{"ref-format", "in list item", "email-multipart", `{"body_multipart":[{"body":"x"},{"content_type":"image/png","body_raw_ref":"artifact"}]}`, []string{"/body_multipart/1/body_raw_ref"}},
	{"ref-format", "granular marking", "report", `{"granular_markings":[{"marking_ref":"tlp:green","selectors":["name"]}]}`, []string{"/granular_markings/0/marking_ref"}},

	// ref-target-type
	{"ref-target-type", "indicator", "indicator", "", nil},
	{"ref-target-type", "relationship", "relationship", "", nil},
	{"ref-target-type", "sighting", "sighting", "", nil},
	{"ref-target-type", "report", "report", "", nil},
	{"ref-target-type", "relationship to sco", "relationship", `{"relationship_type":"related-to","target_ref":"ipv4-addr--a5727441-3504-49b7-bf09-a21d167c6756"}`, nil},
	{"ref-target-type", "relationship to custom", "relationship", `{"relationship_type":"related-to","target_ref":"x-acme-widget--172b1cf3-4699-409f-8b89-2946e79a97f3"}`, nil},
	{"ref-target-type", "sighting of custom sdo", "sighting", `{"sighting_of_ref":"x-acme-widget--172b1cf3-4699-409f-8b89-2946e79a97f3"}`, nil},
	{"ref-target-type", "observed-data refs sro", "observed-data", `{"object_refs":["ipv4-addr--a5727441-3504-49b7-bf09-a21d167c6756","relationship--d2f0368b-8574-403d-ba6c-951713123ade"]}`, nil},
	{"ref-target-type", "created_by_ref", "indicator", `{"created_by_ref":"threat-actor--6c51dda9-6101-4115-aa72-7632cbc2d3aa"}`, []string{"/created_by_ref"}},
	{"ref-target-type", "object_marking_refs", "indicator", `{"object_marking_refs":["` + ruleTestTLPGreen + `","identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6"]}`, []string{"/object_marking_refs/1"}},
	{"ref-target-type", "marking_ref", "report", `{"granular_markings":[{"marking_ref":"identity--e4bd0a8e-6523-4143-bbf1-bf0121b3f6e6","selectors":["name"]}]}`, []string{"/granular_markings/0/marking_ref"}},
	{"ref-target-type", "source marking", "relationship", `{"source_ref":"` + ruleTestTLPGreen + `"}`, []string{"/source_ref"}},
	{"ref-target-type", "target relationship", "relationship", `{"target_ref":"relationship--d2f0368b-8574-403d-ba6c-951713123ade"}`, []string{"/target_ref"}},
	{"ref-target-type", "target sighting", "relationship", `{"target_ref":"sighting--6e4f1c8f-badf-40e4-a900-672edadafd94"}`, []string{"/target_ref"}},
	{"ref-target-type", "source language-content", "relationship", `{"source_ref":"language-content--2c2dd865-d5c2-408a-a3dc-396d1a0d6ac1"}`, []string{"/source_ref"}},
	{"ref-target-type", "target bundle", "relationship", `{"target_ref":"bundle--2c2dd865-d5c2-408a-a3dc-396d1a0d6ac1"}`, []string{"/target_ref"}},
	{"ref-target-type", "sighting of sco", "sighting", `{"sighting_of_ref":"ipv4-addr--a5727441-3504-49b7-bf09-a21d167c6756"}`, []string{"/sighting_of_ref"}},
	{"ref-target-type", "sighting of relationship", "sighting", `{"sighting_of_ref":"relationship--d2f0368b-8574-403d-ba6c-951713123ade"}`, []string{"/sighting_of_ref"}},
	{"ref-target-type", "observed_data_refs", "sighting", `{"observed_data_refs":["indicator--a5727441-3504-49b7-bf09-a21d167c6756"]}`, []string{"/observed_data_refs/0"}},
	{"ref-target-type", "where_sighted_refs", "sighting", `{"where_sighted_refs":["location--a4fbe235-74e0-4f59-b5e3-f1be8635f5fe","threat-actor--6c51dda9-6101-4115-aa72-7632cbc2d3aa"]}`, []string{"/where_sighted_refs/1"}},
	{"ref-target-type", "observed-data refs sdo", "observed-data", `{"object_refs":["ipv4-addr--a5727441-3504-49b7-bf09-a21d167c6756","indicator--a5727441-3504-49b7-bf09-a21d167c6756"]}`, []string{"/object_refs/1"}},

	// observed-data-objects
	{"observed-data-objects", "object_refs", "observed-data", "", nil},
	{"observed-data-objects", "objects", "observed-data-container", "", nil},
	{"observed-data-objects", "not observed-data", "report", "", nil},
	{"observed-data-objects", "both", "observed-data", `{"objects":{"0":{"type":"ipv4-addr","value":"198.51.100.3"}}}`, []string{"/objects"}},
	{"observed-data-objects", "neither", "observed-data", `{"object_refs":null}`, []string{"/object_refs"}},

	// observed-data-sco-ref
	{"observed-data-sco-ref", "scos", "observed-data", "", nil},
	{"observed-data-sco-ref", "custom type may be an sco", "observed-data", `{"object_refs":["x-acme-sensor-reading--172b1cf3-4699-409f-8b89-2946e79a97f3","relationship--d2f0368b-8574-403d-ba6c-951713123ade"]}`, nil},
	{"observed-data-sco-ref", "only sros", "observed-data", `{"object_refs":["relationship--d2f0368b-8574-403d-ba6c-951713123ade","sighting--6e4f1c8f-badf-40e4-a900-672edadafd94"]}`, []string{"/object_refs"}},
	{"observed-data-sco-ref", "only sdos", "observed-data", `{"object_refs":["indicator--a5727441-3504-49b7-bf09-a21d167c6756"]}`, []string{"/object_refs"}},

	// observable-container-ref
	{"observable-container-ref", "resolves", "observed-data-container", "", nil},
	{"observable-container-ref", "no container", "observed-data", "", nil},
	{"observable-container-ref", "dst_ref", "observed-data-container", `{"objects":{"2":{"dst_ref":"9"}}}`, []string{"/objects/2/dst_ref"}},
	{"observable-container-ref", "refs item", "observed-data-container", `{"objects":{"3":{"resolves_to_refs":["1","0","5"]}}}`, []string{"/objects/3/resolves_to_refs/2"}},
	{"observable-container-ref", "empty refs", "observed-data-container", `{"objects":{"3":{"resolves_to_refs":[]}}}`, []string{"/objects/3/resolves_to_refs"}},
	{"observable-container-ref", "identifier is not local", "observed-data-container", `{"objects":{"2":{"src_ref":"ipv4-addr--a5727441-3504-49b7-bf09-a21d167c6756"}}}`, []string{"/objects/2/src_ref"}},

	// marking-self-reference
	{"marking-self-reference", "marked by another", "marking-statement", `{"object_marking_refs":["` + ruleTestTLPGreen + `"]}`, nil},
	{"marking-self-reference", "not a marking", "report", "", nil},
	{"marking-self-reference", "object marking", "marking-statement", `{"object_marking_refs":["` + ruleTestTLPGreen + `","` + ruleTestStmt + `"]}`, []string{"/object_marking_refs/1"}},
	{"marking-self-reference", "granular", "marking-statement", `{"granular_markings":[{"marking_ref":"` + ruleTestStmt + `","selectors":["definition.statement"]}]}`, []string{"/granular_markings/0/marking_ref"}},

	// granular-marking-choice
	{"granular-marking-choice", "report", "report", "", nil},
	{"granular-marking-choice", "both", "report", `{"granular_markings":[{"lang":"de","marking_ref":"` + ruleTestStmt + `","selectors":["name"]}]}`, []string{"/granular_markings/0"}},
	{"granular-marking-choice", "neither", "report", `{"granular_markings":[{"lang":"en","selectors":["name"]},{"selectors":["description"]}]}`, []string{"/granular_markings/1"}},

	// granular-marking-selector
	{"granular-marking-selector", "report", "report", "", nil},
	{"granular-marking-selector", "dictionary key", "report", `{"granular_markings":[{"lang":"en","selectors":["external_references.[0].hashes.SHA-256"]}]}`, nil},
	{"granular-marking-selector", "absent property", "report", `{"granular_markings":[{"lang":"en","selectors":["name","pattern"]}]}`, []string{"/granular_markings/0/selectors/1"}},
	{"granular-marking-selector", "index out of range", "report", `{"granular_markings":[{"lang":"en","selectors":["external_references.[3]"]}]}`, []string{"/granular_markings/0/selectors/0"}},
	{"granular-marking-selector", "index into string", "report", `{"granular_markings":[{"lang":"en","selectors":["description.[0]"]}]}`, []string{"/granular_markings/0/selectors/0"}},
	{"granular-marking-selector", "name into list", "report", `{"granular_markings":[{"lang":"en","selectors":["labels.name"]}]}`, []string{"/granular_markings/0/selectors/0"}},
	{"granular-marking-selector", "jsonpath index", "report", `{"granular_markings":[{"lang":"en","selectors":["labels[0]"]}]}`, []string{"/granular_markings/0/selectors/0"}},
	{"granular-marking-selector", "trailing dot", "report", `{"granular_markings":[{"lang":"en","selectors":["name."]}]}`, []string{"/granular_markings/0/selectors/0"}},

	// marking-definition-content
	{"marking-definition-content", "statement", "marking-statement", "", nil},
	{"marking-definition-content", "tlp", "marking-tlp", "", nil},
	{"marking-definition-content", "extension", "marking-statement", `{"definition_type":null,"definition":null,"extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"clear"}}}`, nil},
	{"marking-definition-content", "custom definition type", "marking-statement", `{"definition_type":"acme-handling","definition":{"statement":null,"handling":"internal"}}`, nil},
	{"marking-definition-content", "no definition", "marking-statement", `{"definition":null}`, []string{"/definition"}},
	{"marking-definition-content", "no definition_type", "marking-statement", `{"definition_type":null}`, []string{"/definition_type"}},
	{"marking-definition-content", "statement missing", "marking-statement", `{"definition":{"statement":null,"text":"Copyright"}}`, []string{"/definition/statement"}},
	{"marking-definition-content", "tlp not a string", "marking-tlp", `{"definition":{"tlp":1}}`, []string{"/definition/tlp"}},
	{"marking-definition-content", "type mismatch", "marking-statement", `{"definition_type":"tlp"}`, []string{"/definition/tlp", "/definition_type"}},

	// tlp-marking
	{"tlp-marking", "green", "marking-tlp", "", nil},
	{"tlp-marking", "statement", "marking-statement", "", nil},
	{"tlp-marking", "other instance", "marking-tlp", `{"id":"marking-definition--9f03275b-72b5-4142-9522-554e6c8a6a77"}`, []string{"/id"}},
	{"tlp-marking", "wrong level for id", "marking-tlp", `{"definition":{"tlp":"red"},"name":"TLP:RED"}`, []string{"/id"}},
	{"tlp-marking", "unknown level", "marking-tlp", `{"definition":{"tlp":"purple"}}`, []string{"/definition/tlp"}},

	// valid-until-before-valid-from
	{"valid-until-before-valid-from", "later", "indicator", "", nil},
	{"valid-until-before-valid-from", "absent", "indicator", `{"valid_until":null}`, nil},
	{"valid-until-before-valid-from", "earlier", "indicator", `{"valid_until":"2015-12-31T23:59:59.999Z"}`, []string{"/valid_until"}},
	{"valid-until-before-valid-from", "equal", "indicator", `{"valid_until":"2016-01-01T00:00:00Z"}`, []string{"/valid_until"}},

	// last-seen-before-first-seen
	{"last-seen-before-first-seen", "campaign", "campaign", "", nil},
	{"last-seen-before-first-seen", "equal", "malware", `{"last_seen":"2016-05-01T00:00:00.000Z"}`, nil},
	{"last-seen-before-first-seen", "other types ignored", "report", `{"first_seen":"2016-05-01T00:00:00.000Z","last_seen":"2015-05-01T00:00:00.000Z"}`, nil},
	{"last-seen-before-first-seen", "campaign", "campaign", `{"last_seen":"2015-12-31T00:00:00.000Z"}`, []string{"/last_seen"}},
	{"last-seen-before-first-seen", "intrusion-set", "intrusion-set", `{"last_seen":"2015-05-31T00:00:00.000Z"}`, []string{"/last_seen"}},
	{"last-seen-before-first-seen", "threat-actor", "threat-actor", `{"first_seen":"2016-04-02T00:00:00.000Z"}`, []string{"/last_seen"}},
	{"last-seen-before-first-seen", "infrastructure", "infrastructure", `{"last_seen":"2016-09-30T23:59:59.000Z"}`, []string{"/last_seen"}},
	{"last-seen-before-first-seen", "malware", "malware", `{"last_seen":"2016-04-30T00:00:00.000Z"}`, []string{"/last_seen"}},
	{"last-seen-before-first-seen", "sighting", "sighting", `{"last_seen":"2016-04-06T11:59:59.000Z"}`, []string{"/last_seen"}},

	// last-observed-before-first-observed
	{"last-observed-before-first-observed", "equal", "observed-data", "", nil},
	{"last-observed-before-first-observed", "later", "observed-data-container", "", nil},
	{"last-observed-before-first-observed", "earlier", "observed-data", `{"last_observed":"2015-12-21T18:59:59.000Z"}`, []string{"/last_observed"}},

	// stop-time-before-start-time
	{"stop-time-before-start-time", "later", "relationship", "", nil},
	{"stop-time-before-start-time", "no stop", "relationship", `{"stop_time":null}`, nil},
	{"stop-time-before-start-time", "earlier", "relationship", `{"stop_time":"2016-04-05T00:00:00.000Z"}`, []string{"/stop_time"}},
	{"stop-time-before-start-time", "equal", "relationship", `{"stop_time":"2016-04-06T00:00:00.000Z"}`, []string{"/stop_time"}},

	// network-traffic-end-before-start
	{"network-traffic-end-before-start", "later", "network-traffic", "", nil},
	{"network-traffic-end-before-start", "equal", "network-traffic", `{"end":"2016-06-19T10:15:00.000Z"}`, nil},
	{"network-traffic-end-before-start", "earlier", "network-traffic", `{"end":"2016-06-19T10:14:00.000Z"}`, []string{"/end"}},

	// network-traffic-active-end
	{"network-traffic-active-end", "inactive with end", "network-traffic", "", nil},
	{"network-traffic-active-end", "active without end", "network-traffic", `{"is_active":true,"end":null}`, nil},
	{"network-traffic-active-end", "active with end", "network-traffic", `{"is_active":true}`, []string{"/end"}},

	// indicator-pattern
	{"indicator-pattern", "stix", "indicator", "", nil},
	{"indicator-pattern", "snort not parsed", "indicator", `{"pattern_type":"snort","pattern":"alert tcp any any -> any 80 (msg:\"x\";)"}`, nil},
	{"indicator-pattern", "compound", "indicator", `{"pattern":"[ipv4-addr:value = '198.51.100.1/32'] AND [domain-name:value = 'example.com'] WITHIN 300 SECONDS"}`, nil},
	{"indicator-pattern", "unclosed", "indicator", `{"pattern":"[file:name = 'a'"}`, []string{"/pattern"}},
	{"indicator-pattern", "no brackets", "indicator", `{"pattern":"file:name = 'x'"}`, []string{"/pattern"}},
	{"indicator-pattern", "double equals", "indicator", `{"pattern":"[file:name == 'x']"}`, []string{"/pattern"}},

	// custom-property-name
	{"custom-property-name", "custom object", "custom-object", "", nil},
	{"custom-property-name", "x_ prefix", "indicator", `{"x_acme_score":10}`, nil},
	{"custom-property-name", "uppercase", "indicator", `{"x_Acme_score":10}`, []string{"/x_Acme_score"}},
	{"custom-property-name", "hyphen", "malware", `{"x-acme-score":10}`, []string{"/x-acme-score"}},
	{"custom-property-name", "too short", "file", `{"xy":1}`, []string{"/xy"}},
	{"custom-property-name", "too long", "file", `{"x_` + strings.Repeat("a", 249) + `":1}`, []string{"/x_" + strings.Repeat("a", 249)}},
	{"custom-property-name", "pointer escaping", "indicator", `{"x/y~z":1}`, []string{"/x~1y~0z"}},

	// extension-property-name
	{"extension-property-name", "predefined", "file-pe", "", nil},
	{"extension-property-name", "property extension", "indicator", `{"extensions":{"` + ruleTestExtDef + `":{"extension_type":"property-extension","rank":5,"toxicity":8}}}`, nil},
	{"extension-property-name", "uppercase", "indicator", `{"extensions":{"` + ruleTestExtDef + `":{"extension_type":"property-extension","Rank":5}}}`, []string{"/extensions/" + ruleTestExtDef + "/Rank"}},
	{"extension-property-name", "custom sco extension", "file", `{"extensions":{"x-acme-ext":{"foo-val":1,"bar_val":2}}}`, []string{"/extensions/x-acme-ext/foo-val"}},

	// reserved-property
	{"reserved-property", "indicator", "indicator", "", nil},
	{"reserved-property", "nested is fine", "report", `{"x_acme_meta":{"severity":"high"}}`, nil},
	{"reserved-property", "severity", "indicator", `{"severity":"high"}`, []string{"/severity"}},
	{"reserved-property", "action", "course-of-action", `{"action":"block"}`, []string{"/action"}},
	{"reserved-property", "username and phone_number", "user-account", `{"username":"jdoe","phone_number":"+1 555 0100"}`, []string{"/phone_number", "/username"}},

	// encoding-property
	{"encoding-property", "name_enc with name", "file", `{"name_enc":"windows-1252"}`, nil},
	{"encoding-property", "name_enc alone", "file", `{"name":null,"name_enc":"windows-1252"}`, []string{"/name_enc"}},
	{"encoding-property", "in container", "observed-data-container", `{"objects":{"4":{"type":"directory","path_enc":"cp1252"}}}`, []string{"/objects/4/path_enc"}},

	// encoding-charset
	{"encoding-charset", "name without preferred MIME name", "file", `{"name_enc":"windows-1252"}`, nil},
	{"encoding-charset", "case-insensitive", "file", `{"name_enc":"utf-8"}`, nil},
	{"encoding-charset", "preferred MIME name", "file", `{"name_enc":"Shift_JIS"}`, nil},
	{"encoding-charset", "in container", "observed-data-container", `{"objects":{"4":{"type":"directory","path":"C:\\temp","path_enc":"ISO-8859-1"}}}`, nil},
	{"encoding-charset", "not registered", "file", `{"name_enc":"utf8"}`, []string{"/name_enc"}},
	{"encoding-charset", "alias", "file", `{"name_enc":"latin1"}`, []string{"/name_enc"}},
	{"encoding-charset", "Name where a preferred MIME name exists", "file", `{"name_enc":"ISO_8859-1:1987"}`, []string{"/name_enc"}},
	{"encoding-charset", "not a string", "file", `{"name_enc":1252}`, []string{"/name_enc"}},
	{"encoding-charset", "custom property", "file", `{"x_acme_label":"x","x_acme_label_enc":"klingon"}`, []string{"/x_acme_label_enc"}},
	{"encoding-charset", "in container", "observed-data-container", `{"objects":{"4":{"type":"directory","path":"x","path_enc":"cp1252"}}}`, []string{"/objects/4/path_enc"}},

	// extension-name
	{"extension-name", "predefined", "file-pe", "", nil},
	{"extension-name", "custom sco extension", "file", `{"extensions":{"x-acme-ext":{"scanned":true}}}`, nil},
	{"extension-name", "extension definition on sdo", "indicator", `{"extensions":{"` + ruleTestExtDef + `":{"extension_type":"property-extension","rank":5}}}`, nil},
	{"extension-name", "custom extension on sdo", "indicator", `{"extensions":{"x-acme-ext":{"rank":5}}}`, []string{"/extensions/x-acme-ext"}},
	{"extension-name", "not -ext", "file", `{"extensions":{"acme_extension":{"scanned":true}}}`, []string{"/extensions/acme_extension"}},
	{"extension-name", "bad extension-definition id", "indicator", `{"extensions":{"extension-definition--1234":{"extension_type":"property-extension","rank":5}}}`, []string{"/extensions/extension-definition--1234"}},

	// extension-type
	{"extension-type", "predefined", "network-traffic", "", nil},
	{"extension-type", "property extension", "indicator", `{"extensions":{"` + ruleTestExtDef + `":{"extension_type":"property-extension","rank":5}}}`, nil},
	{"extension-type", "new sdo on custom type", "custom-object", `{"extensions":{"` + ruleTestExtDef + `":{"extension_type":"new-sdo"}}}`, nil},
	{"extension-type", "missing", "indicator", `{"extensions":{"` + ruleTestExtDef + `":{"rank":5}}}`, []string{"/extensions/" + ruleTestExtDef + "/extension_type"}},
	{"extension-type", "on predefined", "file", `{"extensions":{"ntfs-ext":{"extension_type":"property-extension","sid":"1234567"}}}`, []string{"/extensions/ntfs-ext/extension_type"}},
	{"extension-type", "new sdo on spec type", "indicator", `{"extensions":{"` + ruleTestExtDef + `":{"extension_type":"new-sdo"}}}`, []string{"/extensions/" + ruleTestExtDef + "/extension_type"}},

	// extension-properties
	{"extension-properties", "no properties", "extension-definition", "", nil},
	{"extension-properties", "toplevel", "extension-definition", `{"extension_types":["toplevel-property-extension"],"extension_properties":["rank","toxicity"]}`, nil},
	{"extension-properties", "property-extension", "extension-definition", `{"extension_properties":["rank","toxicity"]}`, []string{"/extension_properties"}},

	// hash-value
	{"hash-value", "file", "file", "", nil},
	{"hash-value", "pe", "file-pe", "", nil},
	{"hash-value", "custom algorithm", "file", `{"hashes":{"x_acme_hash":"whatever"}}`, nil},
	{"hash-value", "md5 short", "file", `{"hashes":{"MD5":"3773a88f65a5e780c8dff9cdc3a056f"}}`, []string{"/hashes/MD5"}},
	{"hash-value", "sha-256 not hex", "file", `{"hashes":{"SHA-256":"4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f87z"}}`, []string{"/hashes/SHA-256"}},
	{"hash-value", "external reference", "report", `{"external_references":[{"source_name":"ACME","url":"https://example.com","hashes":{"SHA-1":"abc"}}]}`, []string{"/external_references/0/hashes/SHA-1"}},
	{"hash-value", "pe header", "file-pe", `{"extensions":{"windows-pebinary-ext":{"file_header_hashes":{"SHA-256":"57a1"}}}}`, []string{"/extensions/windows-pebinary-ext/file_header_hashes/SHA-256"}},
	{"hash-value", "ssdeep", "file", `{"hashes":{"SSDEEP":"not an ssdeep hash"}}`, []string{"/hashes/SSDEEP"}},
	{"hash-value", "container", "observed-data-container", `{"objects":{"4":{"type":"file","name":"a.exe","hashes":{"SHA-512":"00"}}}}`, []string{"/objects/4/hashes/SHA-512"}},

	// hex-value
	{"hex-value", "pe", "file-pe", "", nil},
	{"hex-value", "uppercase", "file", `{"magic_number_hex":"4D5A"}`, []string{"/magic_number_hex"}},
	{"hex-value", "odd", "network-traffic", `{"extensions":{"tcp-ext":{"src_flags_hex":"002"}}}`, []string{"/extensions/tcp-ext/src_flags_hex"}},
	{"hex-value", "prefix", "file-pe", `{"extensions":{"windows-pebinary-ext":{"optional_header":{"magic_hex":"0x010b"}}}}`, []string{"/extensions/windows-pebinary-ext/optional_header/magic_hex"}},

	// binary-value
	{"binary-value", "artifact", "artifact", "", nil},
	{"binary-value", "not base64", "artifact", `{"payload_bin":"not base64!"}`, []string{"/payload_bin"}},
	{"binary-value", "unpadded", "artifact", `{"payload_bin":"iVBORw0KGgoAAAANSUhEUgAAADI"}`, []string{"/payload_bin"}},
	{"binary-value", "custom", "indicator", `{"x_acme_blob_bin":"abc"}`, []string{"/x_acme_blob_bin"}},

	// lang-tag
	{"lang-tag", "report", "report", "", nil},
	{"lang-tag", "language-content", "language-content", "", nil},
	{"lang-tag", "software", "software", "", nil},
	{"lang-tag", "lang", "campaign", `{"lang":"zh-Hant-TW"}`, nil},
	{"lang-tag", "underscore", "indicator", `{"lang":"en_US"}`, []string{"/lang"}},
	{"lang-tag", "granular", "report", `{"granular_markings":[{"lang":"de_DE","selectors":["description"]}]}`, []string{"/granular_markings/0/lang"}},
	{"lang-tag", "contents key", "language-content", `{"contents":{"de":null,"Deutsch!":{"name":"Angriffe"}}}`, []string{"/contents/Deutsch!"}},
	{"lang-tag", "software languages", "software", `{"languages":["en","fr-"]}`, []string{"/languages/1"}},

	// empty-list
	{"empty-list", "indicator", "indicator", "", nil},
	{"empty-list", "labels", "indicator", `{"labels":[]}`, []string{"/labels"}},
	{"empty-list", "nested", "email-multipart", `{"x_acme_tags":[["a"],[]]}`, []string{"/x_acme_tags/1"}},
	{"empty-list", "refs left to ref-format", "report", `{"object_refs":[]}`, nil},

	// empty-object
	{"empty-object", "file", "file", "", nil},
	{"empty-object", "root ignored", "indicator", `{"type":null,"id":null,"spec_version":null,"created_by_ref":null,"created":null,"modified":null,"indicator_types":null,"name":null,"description":null,"pattern":null,"pattern_type":null,"valid_from":null,"valid_until":null,"object_marking_refs":null}`, nil},
	{"empty-object", "extensions", "file", `{"extensions":{}}`, []string{"/extensions"}},
	{"empty-object", "extension instance", "file", `{"extensions":{"ntfs-ext":{}}}`, []string{"/extensions/ntfs-ext"}},
	{"empty-object", "dictionary", "email-multipart", `{"additional_header_fields":{}}`, []string{"/additional_header_fields"}},

	// external-reference
	{"external-reference", "report", "report", "", nil},
	{"external-reference", "capec", "attack-pattern", "", nil},
	{"external-reference", "only source_name", "malware", `{"external_references":[{"source_name":"acme","url":"https://example.com"},{"source_name":"acme"}]}`, []string{"/external_references/1"}},

	// external-id-format
	{"external-id-format", "capec", "attack-pattern", "", nil},
	{"external-id-format", "cve", "vulnerability", "", nil},
	{"external-id-format", "capec elsewhere not checked", "malware", `{"external_references":[{"source_name":"capec","external_id":"550"}]}`, nil},
	{"external-id-format", "capec number", "attack-pattern", `{"external_references":[{"source_name":"capec","external_id":"163"}]}`, []string{"/external_references/0/external_id"}},
	{"external-id-format", "cve without prefix", "vulnerability", `{"external_references":[{"source_name":"cve","external_id":"2016-1234"}]}`, []string{"/external_references/0/external_id"}},
	{"external-id-format", "cve short year", "vulnerability", `{"external_references":[{"source_name":"cve","external_id":"CVE-16-1234"}]}`, []string{"/external_references/0/external_id"}},

	// defanged-non-sco
	{"defanged-non-sco", "sco", "url", `{"defanged":true,"value":"hxxp://example[.]com/"}`, nil},
	{"defanged-non-sco", "custom object", "custom-object", `{"defanged":true}`, nil},
	{"defanged-non-sco", "indicator", "indicator", `{"defanged":true}`, []string{"/defanged"}},
	{"defanged-non-sco", "relationship false", "relationship", `{"defanged":false}`, []string{"/defanged"}},

	// location-required
	{"location-required", "all", "location", "", nil},
	{"location-required", "country", "location", `{"region":null,"latitude":null,"longitude":null,"precision":null}`, nil},
	{"location-required", "coordinates", "location", `{"region":null,"country":null}`, nil},
	{"location-required", "city only", "location", `{"region":null,"country":null,"latitude":null,"longitude":null,"precision":null,"city":"Paris"}`, []string{""}},

	// location-coordinates
	{"location-coordinates", "all", "location", "", nil},
	{"location-coordinates", "none", "location", `{"latitude":null,"longitude":null,"precision":null}`, nil},
	{"location-coordinates", "latitude alone", "location", `{"longitude":null,"precision":null}`, []string{"/latitude"}},
	{"location-coordinates", "longitude alone", "location", `{"latitude":null,"precision":null}`, []string{"/longitude"}},
	{"location-coordinates", "precision alone", "location", `{"latitude":null,"longitude":null}`, []string{"/precision"}},

	// malware-family-name
	{"malware-family-name", "named family", "malware", "", nil},
	{"malware-family-name", "unnamed instance", "malware", `{"is_family":false,"name":null}`, nil},
	{"malware-family-name", "unnamed family", "malware", `{"name":null}`, []string{"/name"}},

	// malware-analysis-result
	{"malware-analysis-result", "result", "malware-analysis", "", nil},
	{"malware-analysis-result", "scos", "malware-analysis", `{"result":null,"analysis_sco_refs":["file--39d4ab5d-e1b3-5dd6-9a4f-5a6ab3de4f6c"]}`, nil},
	{"malware-analysis-result", "neither", "malware-analysis", `{"result":null}`, []string{""}},

	// artifact-payload
	{"artifact-payload", "payload", "artifact", "", nil},
	{"artifact-payload", "url", "artifact-url", "", nil},
	{"artifact-payload", "both", "artifact-url", `{"payload_bin":"aGVsbG8="}`, []string{"/url"}},
	{"artifact-payload", "neither", "artifact", `{"payload_bin":null}`, []string{""}},

	// artifact-url-hashes
	{"artifact-url-hashes", "url with hashes", "artifact-url", "", nil},
	{"artifact-url-hashes", "payload without hashes", "artifact", `{"hashes":null}`, nil},
	{"artifact-url-hashes", "url without hashes", "artifact-url", `{"hashes":null}`, []string{"/hashes"}},

	// artifact-decryption-key
	{"artifact-decryption-key", "with algorithm", "artifact-url", "", nil},
	{"artifact-decryption-key", "without algorithm", "artifact-url", `{"encryption_algorithm":null}`, []string{"/decryption_key"}},

	// file-hashes-or-name
	{"file-hashes-or-name", "both", "file", "", nil},
	{"file-hashes-or-name", "name only", "file", `{"hashes":null}`, nil},
	{"file-hashes-or-name", "neither", "file", `{"hashes":null,"name":null}`, []string{""}},

	// email-multipart
	{"email-multipart", "single part", "email-message", "", nil},
	{"email-multipart", "multipart", "email-multipart", "", nil},
	{"email-multipart", "body on multipart", "email-multipart", `{"body":"Cats are funny!"}`, []string{"/body"}},
	{"email-multipart", "parts on single part", "email-message", `{"body_multipart":[{"body":"Hello"}]}`, []string{"/body_multipart"}},

	// email-mime-part
	{"email-mime-part", "multipart", "email-multipart", "", nil},
	{"email-mime-part", "no content", "email-multipart", `{"body_multipart":[{"body":"Cats are funny!"},{"content_type":"image/png"}]}`, []string{"/body_multipart/1"}},

	// network-traffic-endpoint
	{"network-traffic-endpoint", "both", "network-traffic", "", nil},
	{"network-traffic-endpoint", "destination only", "network-traffic", `{"src_ref":null}`, nil},
	{"network-traffic-endpoint", "neither", "network-traffic", `{"src_ref":null,"dst_ref":null}`, []string{""}},

	// at-least-one-property
	{"at-least-one-property", "process", "process", "", nil},
	{"at-least-one-property", "process extension only", "process", `{"pid":null,"command_line":null,"image_ref":null,"extensions":{"windows-process-ext":{"aslr_enabled":true}}}`, nil},
	{"at-least-one-property", "user-account", "user-account", "", nil},
	{"at-least-one-property", "registry", "windows-registry-key", "", nil},
	{"at-least-one-property", "x509", "x509-certificate", "", nil},
	{"at-least-one-property", "pe", "file-pe", "", nil},
	{"at-least-one-property", "empty left to empty-object", "file", `{"extensions":{"ntfs-ext":{}}}`, nil},
	{"at-least-one-property", "window_title alone", "process", `{"pid":null,"command_line":null,"image_ref":null,"extensions":{"windows-process-ext":{"window_title":"invoice_4471.docm - Word"}}}`, nil},
	{"at-least-one-property", "windows_title is not a property of the extension", "process", `{"extensions":{"windows-process-ext":{"windows_title":"invoice_4471.docm - Word"}}}`, []string{"/extensions/windows-process-ext"}},
	{"at-least-one-property", "bare process", "process", `{"pid":null,"command_line":null,"image_ref":null}`, []string{""}},
	{"at-least-one-property", "bare user-account", "user-account", `{"user_id":null,"account_login":null,"account_type":null,"display_name":null,"is_service_account":null,"is_privileged":null,"extensions":null}`, []string{""}},
	{"at-least-one-property", "bare registry key", "windows-registry-key", `{"key":null,"values":null}`, []string{""}},
	{"at-least-one-property", "bare x509", "x509-certificate", `{"issuer":null,"validity_not_before":null,"validity_not_after":null,"subject":null,"serial_number":null,"hashes":null,"x509_v3_extensions":null}`, []string{""}},
	{"at-least-one-property", "pe_type only", "file-pe", `{"extensions":{"windows-pebinary-ext":{"machine_hex":null,"number_of_sections":null,"time_date_stamp":null,"characteristics_hex":null,"file_header_hashes":null,"optional_header":null}}}`, []string{"/extensions/windows-pebinary-ext"}},
	{"at-least-one-property", "optional header", "file-pe", `{"extensions":{"windows-pebinary-ext":{"optional_header":{"magic_hex":null,"size_of_code":null,"address_of_entry_point":null,"x_acme_note":"packed"}}}}`, []string{"/extensions/windows-pebinary-ext/optional_header"}},
	{"at-least-one-property", "ntfs custom only", "file", `{"extensions":{"ntfs-ext":{"x_acme_volume":"C"}}}`, []string{"/extensions/ntfs-ext"}},
	{"at-least-one-property", "registry value", "windows-registry-key", `{"values":[{"name":"Foo","data":"qwerty"},{"x_acme_flag":true}]}`, []string{"/values/1"}},
	{"at-least-one-property", "x509 v3", "x509-certificate", `{"x509_v3_extensions":{"basic_constraints":null,"key_usage":null,"x_acme":1}}`, []string{"/x509_v3_extensions"}},

	// registry-key-hive
	{"registry-key-hive", "expanded", "windows-registry-key", "", nil},
	{"registry-key-hive", "HKU as a subkey name", "windows-registry-key", `{"key":"HKEY_USERS\\HKU"}`, nil},
	{"registry-key-hive", "HKLM", "windows-registry-key", `{"key":"HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"}`, []string{"/key"}},
	{"registry-key-hive", "lowercase hkcu", "windows-registry-key", `{"key":"hkcu\\Software"}`, []string{"/key"}},

	// ipv4-value
	{"ipv4-value", "address", "ipv4-addr", "", nil},
	{"ipv4-value", "cidr", "ipv4-addr", `{"value":"10.2.4.5/24"}`, nil},
	{"ipv4-value", "defanged", "ipv4-addr", `{"value":"198.51.100[.]3","defanged":true}`, nil},
	{"ipv4-value", "octet", "ipv4-addr", `{"value":"198.51.100.256"}`, []string{"/value"}},
	{"ipv4-value", "prefix", "ipv4-addr", `{"value":"198.51.100.0/33"}`, []string{"/value"}},
	{"ipv4-value", "ipv6", "ipv4-addr", `{"value":"2001:db8::1"}`, []string{"/value"}},
	{"ipv4-value", "leading zero", "ipv4-addr", `{"value":"198.051.100.3"}`, []string{"/value"}},

	// ipv6-value
	{"ipv6-value", "cidr", "ipv6-addr", "", nil},
	{"ipv6-value", "mapped", "ipv6-addr", `{"value":"::ffff:198.51.100.3"}`, nil},
	{"ipv6-value", "bad group", "ipv6-addr", `{"value":"2001:db8::g"}`, []string{"/value"}},
	{"ipv6-value", "prefix", "ipv6-addr", `{"value":"2001:db8::/129"}`, []string{"/value"}},
	{"ipv6-value", "ipv4", "ipv6-addr", `{"value":"198.51.100.3"}`, []string{"/value"}},
	{"ipv6-value", "zone", "ipv6-addr", `{"value":"fe80::1%eth0"}`, []string{"/value"}},

	// mac-addr-value
	{"mac-addr-value", "canonical", "mac-addr", "", nil},
	{"mac-addr-value", "hyphens", "mac-addr", `{"value":"00-00-5e-00-53-af"}`, []string{"/value"}},
	{"mac-addr-value", "uppercase", "mac-addr", `{"value":"00:00:5E:00:53:AF"}`, []string{"/value"}},
	{"mac-addr-value", "no leading zeros", "mac-addr", `{"value":"0:0:5e:0:53:af"}`, []string{"/value"}},

	// domain-name-value
	{"domain-name-value", "example.com", "domain-name", "", nil},
	{"domain-name-value", "idn", "domain-name", `{"value":"bücher.example"}`, nil},
	{"domain-name-value", "space", "domain-name", `{"value":"exa mple.com"}`, []string{"/value"}},
	{"domain-name-value", "url", "domain-name", `{"value":"http://example.com/"}`, []string{"/value"}},
	{"domain-name-value", "empty label", "domain-name", `{"value":"example..com"}`, []string{"/value"}},

	// url-value
	{"url-value", "https", "url", "", nil},
	{"url-value", "defanged", "url", `{"value":"hxxp://example[.]com/a b","defanged":true}`, nil},
	{"url-value", "no scheme", "url", `{"value":"example.com/index.html"}`, []string{"/value"}},
	{"url-value", "space", "url", `{"value":"https://example.com/a b"}`, []string{"/value"}},
	{"url-value", "bad escape", "url", `{"value":"https://example.com/%zz"}`, []string{"/value"}},

	// email-addr-value
	{"email-addr-value", "bare", "email-addr", "", nil},
	{"email-addr-value", "display name", "email-addr", `{"value":"John Doe <jdoe@example.com>"}`, []string{"/value"}},
	{"email-addr-value", "no at", "email-addr", `{"value":"jdoe.example.com"}`, []string{"/value"}},
}

// ruleMerge applies an RFC 7386 JSON merge patch.
func ruleMerge(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = ruleMerge(t[k], v)
		}
	}
	return t
}

// ruleTestObject decodes a base object and applies a merge patch to it.
func ruleTestObject(t testing.TB, base, patch string) map[string]any {
	t.Helper()
	src, ok := ruleBases[base]
	if !ok {
		t.Fatalf("no base object %q", base)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(src), &obj); err != nil {
		t.Fatalf("base %q: %v", base, err)
	}
	if patch != "" {
		var p any
		if err := json.Unmarshal([]byte(patch), &p); err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
		obj = ruleMerge(obj, p).(map[string]any)
	}
	return obj
}

func ruleByCode(t testing.TB, code string) rule {
	t.Helper()
	for _, r := range rules {
		if r.code == code {
			return r
		}
	}
	t.Fatalf("no rule %q", code)
	return rule{}
}

func rulePointers(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Pointer
	}
	slices.Sort(out)
	return out
}

func TestRules(t *testing.T) {
	for _, c := range ruleCases {
		t.Run(c.code+"/"+c.name, func(t *testing.T) {
			obj := ruleTestObject(t, c.base, c.patch)
			got := ruleByCode(t, c.code).check(obj)
			for _, f := range got {
				if f.Rule != c.code {
					t.Errorf("finding %v has rule %q, want %q", f, f.Rule, c.code)
				}
				if f.Message == "" {
					t.Errorf("finding at %q has no message", f.Pointer)
				}
			}
			want := slices.Clone(c.want)
			slices.Sort(want)
			if g := rulePointers(got); !slices.Equal(g, want) {
				t.Errorf("pointers %q, want %q; findings: %v", g, want, got)
			}
		})
	}
}

// TestRulesCoverage makes sure every rule has a positive and a negative case.
func TestRulesCoverage(t *testing.T) {
	pos, neg := map[string]bool{}, map[string]bool{}
	for _, c := range ruleCases {
		if len(c.want) == 0 {
			pos[c.code] = true
		} else {
			neg[c.code] = true
		}
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.code] {
			t.Errorf("rule code %q is used twice", r.code)
		}
		seen[r.code] = true
		if r.code == "id-type" {
			t.Errorf("id-type belongs to the validator, not to the rules")
		}
		if !pos[r.code] {
			t.Errorf("rule %q has no positive case", r.code)
		}
		if !neg[r.code] {
			t.Errorf("rule %q has no negative case", r.code)
		}
	}
}

// TestRulesValidBases runs every rule on the valid base objects.
func TestRulesValidBases(t *testing.T) {
	for name := range ruleBases {
		if fs := checkRules(ruleTestObject(t, name, ""), nil).fails; len(fs) > 0 {
			t.Errorf("%s: unexpected findings %v", name, fs)
		}
	}
}

// ruleFixture is one file of testdata/stix/invalid/rule-*.json.
type ruleFixture struct {
	Check       string         `json:"check"`
	Pointer     *string        `json:"pointer"`
	Description string         `json:"description"`
	Object      map[string]any `json:"object"`
}

// TestRuleFixtures checks that each invalid fixture is reported by its rule
// at its pointer, and by nothing else (the objects are otherwise valid).
func TestRuleFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "stix", "invalid", "rule-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 70 {
		t.Errorf("%d rule fixtures, want at least 70", len(files))
	}
	covered := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var fx ruleFixture
			if err := json.Unmarshal(raw, &fx); err != nil {
				t.Fatal(err)
			}
			if fx.Check == "" || fx.Pointer == nil || fx.Description == "" || fx.Object == nil {
				t.Fatalf("fixture needs check, pointer, description and object")
			}
			if !strings.HasPrefix(filepath.Base(file), "rule-"+fx.Check+"-") {
				t.Errorf("file name does not start with rule-%s-", fx.Check)
			}
			ruleByCode(t, fx.Check)
			covered[fx.Check] = true
			fs := checkRules(fx.Object, nil).fails
			found := false
			for _, f := range fs {
				if f.Rule == fx.Check && f.Pointer == *fx.Pointer {
					found = true
				}
				if f.Rule != fx.Check {
					t.Errorf("unrelated finding %s [%s]", f, f.Rule)
				}
			}
			if !found {
				t.Errorf("want %s at %q, got %v", fx.Check, *fx.Pointer, fs)
			}
		})
	}
	for _, r := range rules {
		if !covered[r.code] {
			t.Errorf("rule %q has no fixture", r.code)
		}
	}
}

func TestRulesMessages(t *testing.T) {
	cases := []struct {
		base, patch, code, want string
	}{
		{"indicator", `{"modified":"2016-01-01T00:00:00.000Z"}`, "modified-before-created",
			`/modified: "2016-01-01T00:00:00.000Z" is before created "2016-04-06T20:03:48.000Z"`},
		{"indicator", `{"valid_until":"2016-01-01T00:00:00.000Z"}`, "valid-until-before-valid-from",
			`/valid_until: "2016-01-01T00:00:00.000Z" must be later than valid_from "2016-01-01T00:00:00.000Z"`},
		{"indicator", `{"pattern":"[file:name = 'a'"}`, "indicator-pattern",
			`/pattern: invalid STIX pattern at offset 16: `},
		{"report", `{"granular_markings":[{"lang":"en","selectors":["external_references.[3]"]}]}`, "granular-marking-selector",
			`/granular_markings/0/selectors/0: selector "external_references.[3]" does not resolve: "external_references" has 1 item`},
		{"file", `{"hashes":{"MD5":"abc"}}`, "hash-value",
			`/hashes/MD5: "abc" is not a valid MD5 value: expected 32 hexadecimal digits`},
		{"relationship", `{"source_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"}`, "ref-target-type",
			`/source_ref: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" must reference an SDO or SCO, not marking-definition`},
		{"file", `{"name_enc":"latin1"}`, "encoding-charset",
			`/name_enc: "latin1" is another name of "ISO-8859-1", the name STIX requires`},
		{"file", `{"name_enc":"utf8"}`, "encoding-charset",
			`/name_enc: "utf8" is not a character set of the IANA registry`},
		{"indicator", `{"id":"indicator--a5727441-3504-09b7-bf09-a21d167c6756"}`, "id-uuid",
			`/id: "indicator--a5727441-3504-09b7-bf09-a21d167c6756": the UUID has no RFC 4122 version (version digit '0')`},
	}
	for _, c := range cases {
		fs := ruleByCode(t, c.code).check(ruleTestObject(t, c.base, c.patch))
		if len(fs) != 1 || !strings.HasPrefix(fs[0].String(), c.want) {
			t.Errorf("%s: got %v, want one finding starting %q", c.code, fs, c.want)
		}
	}
}

// TestRulesCap feeds hostile objects: each rule keeps a bounded number of
// findings, every rule still runs, and deep nesting is neither recursed
// into without bound nor slow.
func TestRulesCap(t *testing.T) {
	obj := ruleTestObject(t, "report", "")
	refs := make([]any, 10000)
	for i := range refs {
		refs[i] = fmt.Sprintf("bad-%d", i)
	}
	obj["object_refs"] = refs
	for i := range 200 {
		obj[fmt.Sprintf("X_%d", i)] = []any{}
	}
	fs := checkRules(obj, nil)
	perRule := map[string]int{}
	for _, f := range fs.fails {
		perRule[f.Rule]++
	}
	// ref-format comes first in the list of rules; the later rules are
	// not hidden behind its findings.
	want := map[string]int{"ref-format": ruleMaxFindings, "custom-property-name": ruleMaxFindings, "empty-list": ruleMaxFindings}
	if diff := cmp.Diff(want, perRule); diff != "" {
		t.Errorf("findings per rule (-want +got):\n%s", diff)
	}
	if fs.moreFails < 10000-ruleMaxFindings {
		t.Errorf("%d findings counted beyond those kept, want at least %d", fs.moreFails, 10000-ruleMaxFindings)
	}
	for _, r := range rules {
		if n := len(r.check(obj)); n > ruleMaxFindings {
			t.Errorf("rule %s: %d findings over the cap", r.code, n)
		}
	}

	// 100000 levels of nesting: walks stop at ruleMaxDepth.
	deep := any("x")
	for range 100000 {
		deep = map[string]any{"x_nested_ref": "bad", "x_inner": []any{deep}}
	}
	obj = ruleTestObject(t, "indicator", "")
	obj["x_deep"] = deep
	got := checkRules(obj, nil).fails
	if len(got) == 0 || len(got) > ruleMaxFindings {
		t.Errorf("deep object: %d findings", len(got))
	}
	for _, f := range got {
		if n := strings.Count(f.Pointer, "/"); n > 2*ruleMaxDepth+2 {
			t.Errorf("finding %d levels deep", n)
		}
	}
}

// TestRulesCapByClass: a rule keeps failures and warnings apart, so that
// warnings never crowd out a failure, whatever the order of the walk.
func TestRulesCapByClass(t *testing.T) {
	obj := ruleTestObject(t, "report", "")
	bad := make([]any, 3*ruleMaxFindings)
	for i := range bad {
		bad[i] = fmt.Sprintf("bad-%d", i)
	}
	obj["x_acme_refs"] = bad
	obj["created_by_ref"] = "not-an-id"
	classify := func(ptr, rule string) findingClass {
		if strings.HasPrefix(ptr, "/x_") {
			return classWarn
		}
		return classFail
	}
	fs := checkRules(obj, classify)
	if got := rulePointers(fs.fails); !slices.Equal(got, []string{"/created_by_ref"}) {
		t.Errorf("failures at %q, want /created_by_ref", got)
	}
	if len(fs.warns) != ruleMaxFindings || fs.moreWarns != 2*ruleMaxFindings {
		t.Errorf("%d warnings kept and %d counted beyond, want %d and %d", len(fs.warns), fs.moreWarns, ruleMaxFindings, 2*ruleMaxFindings)
	}
}

func TestRuleLangTag(t *testing.T) {
	good := []string{"en", "de", "en-US", "zh-Hant-TW", "sr-Latn-RS", "es-419", "de-CH-1901",
		"sl-rozaj-biske", "zh-yue", "x-whatever", "en-a-bbb-x-a-ccc", "i-klingon", "en-GB-oed",
		"zh-min-nan", "FR-ca", "ast"}
	bad := []string{"", "en_US", "e", "english-language-tag", "en-", "-en", "en--US", "x", "en-x",
		"en-a", "toolonglanguage", "de-DE-", "fr ca", "12"}
	for _, s := range good {
		if !ruleIsLangTag(s) {
			t.Errorf("%q rejected", s)
		}
	}
	for _, s := range bad {
		if ruleIsLangTag(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestRuleValueFormats(t *testing.T) {
	for _, s := range []string{"example.com", "www.example.co.uk", "example.com.", "xn--bcher-kva.example", "bücher.example", "_dmarc.example.com", "localhost"} {
		if p := ruleDomainProblem(s); p != "" {
			t.Errorf("domain %q: %s", s, p)
		}
	}
	for _, s := range []string{"", ".", "exa mple.com", "-a.com", "a-.com", "a..com", ".a.com", "http://a.com", "a.com/x", strings.Repeat("a", 64) + ".com", strings.Repeat("abc.", 70) + "com"} {
		if ruleDomainProblem(s) == "" {
			t.Errorf("domain %q accepted", s)
		}
	}
	for _, s := range []string{"http://example.com", "https://example.com/a%20b?q=1#f", "ftp://ftp.example.com/pub", "mailto:jdoe@example.com", "urn:isbn:0451450523", "file:///etc/passwd"} {
		if p := ruleURLProblem(s); p != "" {
			t.Errorf("url %q: %s", s, p)
		}
	}
	for _, s := range []string{"", "example.com", "://example.com", "1http://a", "http:", "http://a b", "http://a/%zz", "http://a/%4", "http://a/\n"} {
		if ruleURLProblem(s) == "" {
			t.Errorf("url %q accepted", s)
		}
	}
	for _, s := range []string{"jdoe@example.com", "john.doe+tag@mail.example.org", `"john doe"@example.com`, "user@[192.0.2.1]", "jörg@bücher.example"} {
		if p := ruleAddrSpecProblem(s); p != "" {
			t.Errorf("email %q: %s", s, p)
		}
	}
	for _, s := range []string{"", "jdoe", "@example.com", "jdoe@", "John Doe <jdoe@example.com>", "<jdoe@example.com>", "j..doe@example.com", ".jdoe@example.com", "jdoe@exa mple.com", "jdoe@[1.2.3.4"} {
		if ruleAddrSpecProblem(s) == "" {
			t.Errorf("email %q accepted", s)
		}
	}
	for _, s := range []string{"", "QQ==", "QUJD", "aGVsbG8gd29ybGQ=", "+/+/"} {
		if !ruleIsBase64(s) {
			t.Errorf("base64 %q rejected", s)
		}
	}
	for _, s := range []string{"QQ", "Q===", "QQ=A", "a b=", "QUJD\n", "aGVsbG8-d29ybGQ="} {
		if ruleIsBase64(s) {
			t.Errorf("base64 %q accepted", s)
		}
	}
	tlsh := "T1" + strings.Repeat("A1", 35)
	for _, c := range []struct {
		alg, v string
		ok     bool
	}{
		{"MD5", strings.Repeat("aB", 16), true}, {"MD5", strings.Repeat("a", 31), false},
		{"SHA-1", strings.Repeat("0", 40), true}, {"SHA-1", strings.Repeat("g", 40), false},
		{"SHA-256", strings.Repeat("f", 64), true}, {"SHA-512", strings.Repeat("f", 128), true},
		{"SHA3-256", strings.Repeat("f", 64), true}, {"SHA3-512", strings.Repeat("f", 127), false},
		{"SSDEEP", "3::", true}, {"SSDEEP", "96:abc+/:de", true}, {"SSDEEP", "x:abc:de", false}, {"SSDEEP", "96:abc", false},
		{"TLSH", tlsh, true}, {"TLSH", tlsh[2:], true}, {"TLSH", tlsh[:70], false},
	} {
		if got := ruleHashProblem(ruleHashFormats[c.alg], c.v) == ""; got != c.ok {
			t.Errorf("%s %q: valid=%v, want %v", c.alg, c.v, got, c.ok)
		}
	}
}

func TestRuleSelector(t *testing.T) {
	obj := ruleTestObject(t, "report", "")
	for _, s := range []string{"description", "labels", "labels.[0]", "labels.[1]", "external_references.[0].hashes.SHA-256", "granular_markings.[1].selectors.[0]", "id"} {
		if p := ruleResolveSelector(obj, s); p != "" {
			t.Errorf("%q: %s", s, p)
		}
	}
	for _, s := range []string{"", "pattern", "labels.[2]", "labels.[-1]", "labels.[]", "labels[0]", "labels.0", "description.[0]", "labels.name", "name.", ".name", "external_references..url", "labels.[99999999999999999999]"} {
		if ruleResolveSelector(obj, s) == "" {
			t.Errorf("%q resolves", s)
		}
	}
}

// ruleBenchObjects are realistic objects of several kinds.
var ruleBenchObjects = []string{"indicator", "report", "relationship", "sighting", "observed-data-container", "file-pe", "network-traffic", "email-multipart", "x509-certificate", "marking-tlp"}

func BenchmarkRules(b *testing.B) {
	objs := make([]map[string]any, len(ruleBenchObjects))
	for i, name := range ruleBenchObjects {
		objs[i] = ruleTestObject(b, name, "")
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, o := range objs {
			if fs := checkRules(o, nil).fails; len(fs) != 0 {
				b.Fatal(fs)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "objects/s")
}

// TestCharsets: the embedded IANA registry maps every name, whatever its
// case, to the name STIX requires, and malformed lists are refused.
func TestCharsets(t *testing.T) {
	names, err := ianaCharsets()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"UTF-8": "UTF-8", "csutf8": "UTF-8", "LATIN1": "ISO-8859-1", "ISO_8859-1:1987": "ISO-8859-1",
		"windows-1252": "windows-1252", "Shift_JIS": "Shift_JIS", "ms_kanji": "Shift_JIS",
		"UTF-7-IMAP": "UTF-7-IMAP", "us": "US-ASCII", "Big5": "Big5",
	} {
		if got := names[strings.ToLower(name)]; got != want {
			t.Errorf("names[%q] = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"utf8", "cp1252", "klingon", ""} {
		if got, ok := names[name]; ok {
			t.Errorf("names[%q] = %q, want none", name, got)
		}
	}
	for _, bad := range []string{"3 US-ASCII us\n4 ISO-8859-1 US\n", "US-ASCII us\n", "3\n"} {
		if _, err := parseCharsets([]byte(bad)); err == nil {
			t.Errorf("parseCharsets(%q) accepted", bad)
		}
	}
}
