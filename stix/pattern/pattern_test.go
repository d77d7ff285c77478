package pattern

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// validPatterns are patterns Parse must accept. want, when set, is the
// canonical String() form, which makes precedence and grouping visible.
var validPatterns = []struct {
	in, want string
}{
	// Examples from STIX 2.1 section 9.1 (definitions) and 9.3.
	{in: `[user-account:value = 'Peter']`},
	{in: `[ipv4-addr:value = '203.0.113.1' OR ipv4-addr:value = '203.0.113.2']`},
	{in: `([ipv4-addr:value = '198.51.100.5'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.10'])`,
		want: `[ipv4-addr:value = '198.51.100.5'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.10']`},
	{in: `([ipv4-addr:value = '198.51.100.5' ] AND [ipv4-addr:value = '198.51.100.10']) WITHIN 300 SECONDS`,
		want: `([ipv4-addr:value = '198.51.100.5'] AND [ipv4-addr:value = '198.51.100.10']) WITHIN 300 SECONDS`},
	{in: `[file:name = 'foo.dll'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`},
	{in: `[ipv4-addr:value = '198.51.100.5'] AND [ ipv4-addr:value = '198.51.100.10']`},
	{in: `[file:size = 25536]`},
	{in: `[ipv4-addr:value = '198.51.100.1/32']`},
	{in: `[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128']`},
	{in: `[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128'] REPEATS 5 TIMES`},
	{in: `([ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128'] FOLLOWEDBY [domain-name:value = 'example.com']) WITHIN 600 SECONDS`},
	// Section 9.5 (the type-a placeholders rewritten with valid property names).
	{in: `[ network-traffic:src_ref.value = '203.0.113.10' AND network-traffic:dst_ref.value = '198.51.100.58' ]`},
	{in: `[(type-a:property_j = 'W' AND type-a:property_k = 'X') OR (type-b:property_m = 'Y' AND type-b:property_n = 'Z')]`},
	{in: `[type-a:property_j = 'W' AND type-a:property_k = 'X' OR type-a:property_l = 'Z']`,
		want: `[(type-a:property_j = 'W' AND type-a:property_k = 'X') OR type-a:property_l = 'Z']`},
	// Section 9.5.1 and 9.5.2.
	{in: `([file:hashes.'SHA-256' = '13987239847...'] AND [windows-registry-key:key = 'hkey']) WITHIN 120 SECONDS`},
	{in: `[foo:a = 'b'] FOLLOWEDBY [foo:c = 'd'] REPEATS 5 TIMES`,
		want: `[foo:a = 'b'] FOLLOWEDBY [foo:c = 'd'] REPEATS 5 TIMES`},
	{in: `([foo:a = 'b'] FOLLOWEDBY [foo:c = 'd']) REPEATS 5 TIMES`},
	// Section 9.6.1 operator examples.
	{in: `[file:name = 'foo.dll']`},
	{in: `[file:size != 4112]`},
	{in: `[file:size > 256]`},
	{in: `[file:size < 1024]`},
	{in: `[file:size <= 25145]`},
	{in: `[file:size >= 33312]`},
	{in: `[process:name IN ('proccy', 'proximus', 'badproc')]`},
	{in: `[directory:path LIKE 'C:\\Windows\\%\\foo']`},
	{in: `[directory:path MATCHES '^C:\\\\Windows\\w+$']`},
	{in: `[ipv4-addr:value ISSUBSET '198.51.100.0/24']`},
	{in: `[ipv4-addr:value ISSUPERSET '198.51.100.0/24']`},
	{in: `[EXISTS windows-registry-key:values]`},
	// Section 9.6.4.
	{in: `[artifact:payload_bin = 'this is a test']`},
	{in: `[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']`},
	{in: `[artifact:payload_bin = h'7468697320697320612074657374']`},
	// Section 9.7 object paths.
	{in: `[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7]`},
	{in: `[network-traffic:protocols[0] = 'tcp']`},
	{in: `[file:hashes.ssdeep = 'x']`},
	{in: `[file:extensions.'raster-image-ext'.image_height > 100]`},
	{in: `[email-message:from_ref.value = 'a@example.com']`},
	{in: `[directory:contains_refs[*].name = 'evil.exe']`},
	// Section 9.8 examples.
	{in: `[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`},
	{in: `[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`},
	{in: `[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']`},
	{in: "[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']\nAND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']"},
	{in: `([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`},
	{in: `[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']`},
	{in: `[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']`},
	{in: `[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']`},
	{in: `[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`},
	{in: `[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']`},
	{in: `[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']`},
	{in: `[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`},
	{in: `[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']`},
	{in: `[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`},
	{in: `[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']`},
	{in: `[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']`},
	{in: `[(file:name = 'pdf.exe' OR file:size = 371712) AND file:created = t'2014-01-13T07:03:17Z']`},
	{in: `[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']`},
	{in: `[x-usb-device:usbdrive.serial_number = '575833314133343231313937']`},
	{in: `[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES'^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`,
		want: `[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`},
	{in: `[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']`},
	{in: `([file:name = 'foo.dll'] AND [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:image_ref.name = 'fooproc' OR process:image_ref.name = 'procfoo']`},

	// Precedence (section 9.5.3): AND over OR over FOLLOWEDBY; qualifiers
	// bind to the nearest expression (section 9.5.2).
	{in: `[foo:a = 1] OR [foo:b = 2] AND [foo:c = 3] FOLLOWEDBY [foo:d = 4]`,
		want: `([foo:a = 1] OR ([foo:b = 2] AND [foo:c = 3])) FOLLOWEDBY [foo:d = 4]`},
	{in: `[foo:a = 1] FOLLOWEDBY ([foo:b = 2] OR [foo:c = 3])`,
		want: `[foo:a = 1] FOLLOWEDBY ([foo:b = 2] OR [foo:c = 3])`},
	{in: `[foo:a = 1] AND ([foo:b = 2] AND [foo:c = 3])`,
		want: `[foo:a = 1] AND ([foo:b = 2] AND [foo:c = 3])`},
	{in: `[foo:a = 1 OR foo:b = 2 AND foo:c = 3 OR foo:d = 4]`,
		want: `[foo:a = 1 OR (foo:b = 2 AND foo:c = 3) OR foo:d = 4]`},
	{in: `[(foo:a = 1 OR foo:b = 2) AND foo:c = 3]`,
		want: `[(foo:a = 1 OR foo:b = 2) AND foo:c = 3]`},
	{in: `[foo:a = 1] AND [foo:b = 2] REPEATS 5 TIMES`,
		want: `[foo:a = 1] AND [foo:b = 2] REPEATS 5 TIMES`},
	{in: `(([foo:a = 1]))`, want: `[foo:a = 1]`},
	{in: `([foo:a = 1] WITHIN 5 SECONDS) WITHIN 10 SECONDS`},
	{in: `[foo:a = 1] REPEATS 2 TIMES WITHIN 1.5 SECONDS START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00.001Z'`},

	// Comparison operators, NOT, EXISTS.
	{in: `[file:name NOT = 'a']`},
	{in: `[file:name NOT IN ('a', 'b')]`},
	{in: `[file:name NOT LIKE 'a%' AND file:name NOT MATCHES '^b']`},
	{in: `[ipv6-addr:value NOT ISSUPERSET '2001:db8::/32']`},
	{in: `[ipv4-addr:value ISSUBSET '198.51.100.7']`},
	{in: `[NOT EXISTS file:name OR EXISTS file:hashes.MD5]`},
	{in: `[file:size IN (1, 2.5, -3)]`},
	// AND operands must be satisfiable by one object (section 9.5).
	{in: `[(file:name = 'a' OR process:name = 'b') AND file:size = 1]`},
	{in: `[file:x_flag = true AND file:y_flag != false]`},

	// Constants.
	{in: `[file:name = 'it\'s a \\ path']`},
	{in: `[file:name = '']`},
	{in: `[file:name = 'naïve 文字 ✓']`},
	{in: `[file:size = -9007199254740991]`},
	{in: `[file:size = 9007199254740991]`},
	{in: `[file:entropy < 1.5e3 AND file:entropy > -2.25E-2]`},
	{in: `[file:magic_number_hex = h'']`},
	{in: "[artifact:payload_bin = b'dGhpcyBp\ncyBhIHRl\r\nc3Q=']"},
	{in: `[file:created >= t'2016-01-20T12:31:12.123456789123Z']`},

	// Object paths.
	{in: `[file:'name' = 'a']`, want: `[file:'name' = 'a']`},
	{in: `[process:environment_variables.PATH = 'x']`},
	{in: `[file:extensions.'extension-definition--d83fce45-93ec-43fb-8d5e-7d0f0d8d7d1b'.rank = 5]`},
	{in: `[network-traffic:extensions.'http-request-ext'.request_header.'Accept-Encoding' = 'gzip']`},
	{in: `[foo:a.'b.c'[12][*]._d = 1]`},
	{in: `[x509-certificate:x509_v3_extensions.basic_constraints = 'CA:TRUE']`},

	// Leap seconds: RFC 3339 section 5.7, second 60 at 23:59 on the last
	// day of a month; the patterning grammar allows '60'.
	{in: `[file:created = t'2016-12-31T23:59:60Z']`},
	{in: `[file:created >= t'2015-06-30T23:59:60.5Z']`},
	{in: `[file:name = 'a'] START t'2016-12-31T23:59:60Z' STOP t'2017-01-01T00:00:01Z'`},
	{in: `[file:name = 'a'] START t'2016-12-31T23:59:60.5Z' STOP t'2017-01-01T00:00:00Z'`},
	{in: `[file:name = 'a'] START t'2016-12-31T23:59:59.5Z' STOP t'2016-12-31T23:59:60Z'`},

	// Floats without an integer part: the grammar's [0-9]* '.' [0-9]+.
	{in: `[file:entropy > .5]`},
	{in: `[file:entropy >= -.25 AND file:entropy<.75]`, want: `[file:entropy >= -.25 AND file:entropy < .75]`},
	{in: `[file:size=.5]`, want: `[file:size = .5]`},
	{in: `[file:entropy IN (.5,1, -.5)]`, want: `[file:entropy IN (.5, 1, -.5)]`},
	{in: `[file:name = 'a'] WITHIN .5 SECONDS`},

	// Hex digits in either case: the grammar's HexDigit is [A-Fa-f0-9].
	{in: `[file:magic_number_hex = h'FFD8']`},
	{in: `[file:magic_number_hex = h'fFd8aB09']`},

	// START equal to STOP: section 9.5.1 puts no order on them.
	{in: `[file:name = 'a'] START t'2016-06-01T00:00:00Z' STOP t'2016-06-01T00:00:00Z'`},
	{in: `[file:name = 'a'] START t'2016-06-01T00:00:00Z' STOP t'2016-06-01T00:00:00.000Z'`},

	// MATCHES takes PCRE (section 9.6.1): lookarounds, backreferences and
	// other syntax Go's regexp lacks.
	{in: `[file:name MATCHES '^(?=.*invoice)(?!.*\\\\.txt$).+\\.exe$']`},
	{in: `[file:name MATCHES '(?<=^setup)_\\d+(?<!_0)\\.msi$']`},
	{in: `[domain-name:value MATCHES '^(\\w+)\\.\\1\\.example$']`},
	{in: `[domain-name:value MATCHES '^(?P<w>[a-z]+)-(?P=w)$' OR domain-name:value MATCHES '^(?<x>a)\\k<x>\\k{x}\\g{x}$']`},
	{in: `[file:name MATCHES '(?>a+)b*+c++\\Qa.(b\\E[[:alpha:]]\\h\\K\\_\\/\\@']`},
	{in: `[process:command_line MATCHES '(*UTF8)(?i)^(?:cmd|powershell)(?#comment (with parens)\\.exe$']`},
	{in: `[process:command_line MATCHES '\\((?:[^()]|(?R))*\\)' AND process:command_line MATCHES '(a)(?1)(?-1)(?+1)(a)' AND process:command_line MATCHES '(?<n>a)(?&n)(?P>n)(?C1)']`},
	{in: `[file:name MATCHES '(?|(a)|(b))\\1(*SKIP)(*MARK:x)(*pla:(a)b)(?J)(?^i)x(?J:y)']`},
	{in: `[file:name MATCHES '\\p{L&}\\p{^Lu}\\P{^N}[\\p{Xan}]\\p{Greek}']`},
	{in: `[file:name MATCHES '(?x) a  # a comment with ( and \\\\i' AND file:name MATCHES '[(]\\c)[]a]x[^]]']`},
	{in: `[artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x{263a}\\o{101}\\101\\0']`},
	{in: `[file:name NOT MATCHES '']`},
	{in: "[file:name MATCHES '" + strings.Repeat("(", 250) + strings.Repeat(")", 250) + "']"},

	// ISSUBSET and ISSUPERSET on the value of an address, directly or
	// through a reference that may point to one (section 9.6.1).
	{in: `[ipv6-addr:value ISSUBSET '2001:db8::/32' OR ipv6-addr:value ISSUPERSET '2001:db8::1']`},
	{in: `[network-traffic:src_ref.value ISSUBSET '198.51.100.0/24' AND network-traffic:dst_ref.value NOT ISSUBSET '2001:db8::/32']`},
	{in: `[domain-name:resolves_to_refs[*].value ISSUBSET '203.0.113.0/24' OR domain-name:resolves_to_refs[0].value ISSUPERSET '203.0.113.9']`},
	{in: `[x-sensor-event:peer_ref.value ISSUBSET '198.51.100.0/24' OR x-sensor-event:peers_refs[*].value ISSUBSET '::/0']`},
	{in: `[network-traffic:src_ref.resolves_to_refs[*].value ISSUBSET '198.51.100.0/24']`},

	// Whitespace: any Unicode White_Space, anywhere between tokens (section 9.4).
	{in: "\t[\n\rfile:name\u00a0=\u2003'a'\u3000]\u2028", want: `[file:name = 'a']`},
	{in: `[file:size=1]AND[file:size>=2]WITHIN 1 SECONDS`, want: `[file:size = 1] AND [file:size >= 2] WITHIN 1 SECONDS`},
}

func TestParseValid(t *testing.T) {
	for _, tc := range validPatterns {
		p, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		got := p.String()
		if tc.want != "" && got != tc.want {
			t.Errorf("Parse(%q).String():\n got %s\nwant %s", tc.in, got, tc.want)
		}
		// The canonical form parses back to the same canonical form.
		p2, err := Parse(got)
		if err != nil {
			t.Errorf("Parse(%q) (canonical form of %q): %v", got, tc.in, err)
		} else if got2 := p2.String(); got2 != got {
			t.Errorf("canonical form not stable: %q -> %q", got, got2)
		}
	}
}

// invalidPatterns are patterns Parse must reject, with the byte offset and a
// key part of the message.
var invalidPatterns = []struct {
	in  string
	off int
	msg string
}{
	// Structure.
	{``, 0, "empty pattern"},
	{"  \n ", 0, "empty pattern"},
	{`file:name = 'a'`, 0, "enclosed in square brackets"},
	{`[]`, 0, "empty observation expression"},
	{`[file:name = 'a'`, 16, "expected ']' to close the observation expression opened at 0, found end of pattern"},
	{`[file:name = 'a' file:size = 1]`, 17, `expected ']' to close the observation expression opened at 0, found "file"`},
	{`[file:name = 'a'] [file:size = 1]`, 18, "expected AND, OR, FOLLOWEDBY"},
	{`[file:name = 'a'])`, 17, "unmatched ')'"},
	{`([file:name = 'a']`, 18, "expected ')' to close the parenthesis opened at 0"},
	{`[(file:name = 'a']`, 17, "expected ')' to close the parenthesis opened at 1"},
	{`[file:name = 'a'] AND`, 21, "expected '[' or '(' to start an observation expression, found end of pattern"},
	{`[file:name = 'a' AND]`, 20, "expected an object path"},
	{`[file:name = 'a'] FOLLOWEDBY`, 28, "found end of pattern"},
	{`[foo:a = 1] (FOLLOWEDBY [foo:b = 2])`, 12, "expected AND, OR, FOLLOWEDBY"},

	// Keywords are case-sensitive (section 9.5, 9.6).
	{`[file:name = 'a'] and [file:size = 1]`, 18, `found "and" (keywords are case-sensitive: write AND)`},
	{`[file:name = 'a' or file:size = 1]`, 17, `found "or" (keywords are case-sensitive: write OR)`},
	{`[file:name like 'a%']`, 11, `found "like" (keywords are case-sensitive: write LIKE)`},
	{`[file:name = 'a'] within 5 seconds`, 18, "keywords are case-sensitive: write WITHIN"},
	{`[file:x = TRUE]`, 10, "booleans are lowercase: write true"},
	{`[file:name = 'a'] followedBy [file:name = 'b']`, 18, "write FOLLOWEDBY"},

	// Comparison operators and operands (section 9.6.1).
	{`[file:name 'a']`, 11, "expected a comparison operator"},
	{`[file:name == 'a']`, 12, `expected a constant after =, found "="`},
	{`[file:name ! 'a']`, 11, "the not-equal operator is '!='"},
	{`[file:name <> 'a']`, 12, `expected a constant after <, found ">"`},
	{`[NOT file:name = 'a']`, 1, "NOT goes between the object path and the comparison operator"},
	{`[file:name = NOT 'a']`, 13, "expected a constant after ="},
	{`[file:name NOT NOT = 'a']`, 15, "expected a comparison operator"},
	{`[file:name IN 'a']`, 14, "IN takes a set of constants in parentheses"},
	{`[file:name IN ()]`, 14, "empty set"},
	{`[file:name IN ('a', 1)]`, 20, "set mixes string and integer constants"},
	{`[file:name IN ('a' 'b')]`, 19, "expected ',' or ')' in the set opened at 14"},
	{`[file:name IN ('a',)]`, 19, "expected a constant in the set"},
	{`[file:name IN (('a'))]`, 15, "expected a constant in the set"},
	{`[file:name = ('a')]`, 13, "only allowed after IN"},
	{`[file:name LIKE 5]`, 16, "LIKE takes a string constant, found a constant of type integer"},
	{`[file:name MATCHES h'00']`, 19, "MATCHES takes a string constant"},
	{`[ipv4-addr:value ISSUBSET '198.51.100.0/33']`, 26, "ISSUBSET on ipv4-addr:value takes an IPv4 address or CIDR block"},
	{`[ipv4-addr:value ISSUPERSET 'example.com']`, 28, "ISSUPERSET on ipv4-addr:value takes an IPv4"},
	{`[ipv4-addr:value ISSUBSET '2001:db8::/32']`, 26, "takes an IPv4 address"},
	{`[ipv4-addr:value ISSUBSET '::ffff:198.51.100.7']`, 26, "takes an IPv4 address"},
	{`[ipv6-addr:value ISSUPERSET '198.51.100.7']`, 28, "ISSUPERSET on ipv6-addr:value takes an IPv6 address"},
	{`[ipv6-addr:value ISSUBSET 'fe80::1%eth0']`, 26, "takes an IPv6 address"},
	{`[network-traffic:dst_ref.value ISSUBSET '198.51.100.0/24 ']`, 40, "takes an IPv4 or IPv6 address"},
	{`[file:name ISSUBSET '198.51.100.0/24']`, 1, `ISSUBSET applies only to the value of an ipv4-addr or ipv6-addr object, as in ipv4-addr:value or network-traffic:dst_ref.value, found "file:name"`},
	{`[ipv4-addr:resolves_to_refs[*].value ISSUBSET '198.51.100.0/24']`, 1, "ISSUBSET applies only to the value of an ipv4-addr or ipv6-addr object"},
	{`[email-message:from_ref.value ISSUPERSET '198.51.100.7']`, 1, "ISSUPERSET applies only"},
	{`[network-traffic:dst_ref ISSUBSET '198.51.100.7']`, 1, "ISSUBSET applies only"},
	{`[network-traffic:dst_ref.'value' ISSUBSET '198.51.100.7' AND network-traffic:dst_ref.values ISSUBSET '198.51.100.7']`, 61, "ISSUBSET applies only"},
	{`[x-sensor-event:value ISSUBSET '198.51.100.7']`, 1, "ISSUBSET applies only"},
	{`[x-sensor-event:peers_refs.value ISSUBSET '198.51.100.7']`, 1, "ISSUBSET applies only"},

	// No ordering of booleans (section 9.6.1, the grammar's orderableLiteral).
	{`[file:x_flag > true]`, 15, "> cannot compare with the boolean true: booleans have no order; use = or !="},
	{`[file:x_flag NOT <= false]`, 20, "<= cannot compare with the boolean false"},
	{`[file:x_flag >= true OR file:size < 1]`, 16, ">= cannot compare"},
	{`[file:x_flag < false]`, 15, "< cannot compare"},

	// MATCHES takes a PCRE regular expression (section 9.6.1); the offset
	// is that of the problem when known, else that of the string.
	{`[file:name MATCHES '(abc']`, 19, "MATCHES takes a PCRE regular expression: missing closing )"},
	{`[file:name MATCHES 'abc)']`, 19, "unexpected )"},
	{`[file:name MATCHES '[z-a]']`, 19, "range in reverse order"},
	{`[file:name MATCHES 'a**']`, 19, "nested repetition"},
	{`[file:name MATCHES '*a']`, 19, "missing argument to repetition operator"},
	{`[file:name MATCHES '[abc']`, 19, "unterminated [] set"},
	{`[file:name MATCHES '(a)\\2']`, 19, "reference to undefined group number 2"},
	{`[file:name MATCHES 'a\\']`, 19, `illegal \ at end of pattern`},
	{`[file:name MATCHES 'x\\ib']`, 21, `unknown escape sequence \i`},
	{`[file:name MATCHES 'it\'s\\u0041']`, 25, `unknown escape sequence \u`},
	{`[file:name MATCHES '[a\\yb]']`, 22, `unknown escape sequence \y`},
	{`[file:name MATCHES '\\p{NoSuchScript}']`, 19, "unknown unicode category"},
	{`[file:name = 'a' AND file:name MATCHES 5]`, 39, "MATCHES takes a string constant"},
	{"[file:name MATCHES '" + strings.Repeat("(", 251) + strings.Repeat(")", 251) + "']", 270, "parentheses nested deeper than 250 levels, PCRE's limit"},
	{"[file:name MATCHES '(?:" + strings.Repeat("(?=", 250) + "a" + strings.Repeat(")", 251) + "']", 770, "nested deeper than 250"},
	{`[file:name = 'a' AND process:name = 'b']`, 21, "AND joins comparisons on different object types (file; process)"},
	{`[(file:name = 'a' OR process:name = 'b') AND (url:value = 'x' OR domain-name:value = 'y')]`, 46, "(file, process; domain-name, url)"},
	{`[file:name = 'a' OR (process:name = 'b' AND EXISTS file:size)]`, 44, "(process; file)"},
	{`[file:name = 'a' AND process:name = 'b' OR url:value = 'c']`, 21, "(file; process)"},
	{`[EXISTS]`, 7, "expected an object path"},
	{`[EXISTS file:name = 'a']`, 18, "expected ']'"},
	{`[file:name = foo]`, 13, `expected a constant after =, found "foo"`},

	// Constants (section 9.2).
	{`[file:name = 'abc]`, 13, "unterminated string constant"},
	{`[file:name = 'a\nb']`, 15, `invalid escape sequence \n`},
	{`[file:name = "a"]`, 13, "string constants are enclosed in apostrophes"},
	{`[file:size = +5]`, 13, "without a plus sign"},
	{`[file:size = -x]`, 13, "expected a digit after the minus sign"},
	{`[file:size = 1.]`, 13, "invalid number"},
	{`[file:size = 12abc]`, 13, "invalid number"},
	{`[file:size = 9007199254740992]`, 13, "outside the STIX range"},
	{`[file:size = -99999999999999999999]`, 13, "outside the STIX range"},
	{`[file:size = 1e999]`, 13, "out of range"},
	{`[file:created = t'2016-01-20']`, 16, "must have the form YYYY-MM-DDTHH:mm:ss[.s+]Z"},
	{`[file:created = t'2016-01-20T12:31:12+01:00']`, 16, "must have the form"},
	{`[file:created = t'2016-01-20T12:31:12.Z']`, 16, "must have the form"},
	{`[file:created = t'2016-01-20t12:31:12Z']`, 16, "must have the form"},
	{`[file:created = t'2016-02-30T12:31:12Z']`, 16, "not a valid date and time"},
	{`[file:created = t'2016-01-20T12:31:12Z]`, 16, "unterminated timestamp constant"},
	{`[file:x_hex = h'abc']`, 14, "odd number of digits"},
	{`[file:x_hex = h'zz']`, 16, "only the digits 0-9 and letters a-f, found 'z'"},
	{`[file:x_hex = h'ABCG']`, 19, "only the digits 0-9 and letters a-f, found 'G'"},
	{`[file:created = t'2016-12-30T23:59:60Z']`, 16, "second 60 (a leap second) can only follow 23:59 on the last day of a month"},
	{`[file:created = t'2016-12-31T23:58:60Z']`, 16, "leap second"},
	{`[file:created = t'2016-12-31T12:59:60Z']`, 16, "leap second"},
	{`[file:created = t'2016-02-30T23:59:60Z']`, 16, "not a valid date and time"},
	{`[file:created = t'2016-12-31T23:59:61Z']`, 16, "not a valid date and time"},
	{`[file:size = -.x]`, 13, "expected a digit after the minus sign"},
	{`[file:size = .]`, 13, `expected a constant after =, found "."`},
	{`[file:size = .5.5]`, 13, "invalid number"},
	{`[file:size = .5x]`, 13, "invalid number"},
	{`[file:hashes.5 = 'a']`, 13, `expected a property name after '.', found "5"`},
	{`[file:sections[0].5 = 'a']`, 18, `expected a property name after '.', found "5"`},
	{`[file:x_bin = b'abc']`, 14, "not valid padded base64"},
	{`[file:x_bin = b'a\']`, 14, "not valid padded base64"},
	{`[file:x_bin = b'a\'']`, 14, "not valid padded base64"},
	{`[file:x_bin = 'a' OR file:x_bin = b'a\'']`, 34, "not valid padded base64"},
	{"[file:name = '\xff']", 14, "invalid UTF-8"},
	{`[file:name = 'a'] # comment`, 18, "unexpected character '#'"},
	{"[file:name = 'a' \u00e9]", 17, "unexpected character 'é'"},

	// Object paths (section 9.7) and names (section 3.1).
	{`[a = 'b']`, 3, "expected ':' after \"a\""},
	{`[File:name = 'a']`, 1, "invalid object type \"File\": must start with a lowercase letter"},
	{`[fi:name = 'a']`, 1, "must be 3 to 250 characters long"},
	{`[type_a:name = 'a']`, 1, "may contain only a-z, 0-9 and hyphens"},
	{`[x--y:name = 'a']`, 1, "two consecutive hyphens"},
	{`[1abc:name = 'a']`, 1, "invalid number"},
	{`[type-a:property-j = 'W']`, 8, "invalid property name \"property-j\""},
	{`[file:Name = 'a']`, 6, "invalid property name"},
	{`[file:_name = 'a']`, 6, "invalid property name"},
	{`[file:'a-b' = 'a']`, 6, "invalid property name"},
	{`[file:hashes.SHA-256 = 'a']`, 13, `"SHA-256" contains '-': write it in apostrophes, 'SHA-256'`},
	{`[file:extensions.windows-pebinary-ext.sections[0].entropy > 7]`, 17, "write it in apostrophes"},
	{`[file:hashes.'' = 'a']`, 13, "must be 1 to 250 characters long"},
	{`[file:hashes.'a b' = 'a']`, 13, `invalid character ' ' in "'a b'"`},
	{`[file:hashes.'a\'b' = 'a']`, 13, "invalid character '\\''"},
	{`[file :name = 'a']`, 5, "whitespace is not allowed inside an object path"},
	{`[file: name = 'a']`, 6, "whitespace is not allowed inside an object path"},
	{`[file:hashes. md5 = 'a']`, 13, "whitespace is not allowed inside an object path"},
	{`[file:sections[ 0] = 'a']`, 14, "whitespace is not allowed inside an object path"},
	{`[file:name = 'a' AND file:]`, 26, "expected a property name after ':'"},
	{`[file:sections[-1].x = 1]`, 15, "must be a non-negative integer"},
	{`[file:sections[a].x = 1]`, 15, "expected a list index"},
	{`[file:sections[0.x = 1]`, 15, "invalid number"},
	{`[file:sections[0 = 1]`, 17, "expected ']' to close the list index opened at 14"},
	{`[file:sections.[0] = 1]`, 15, "expected a property name after '.'"},
	{`[file:[0] = 1]`, 6, "expected a property name after ':'"},

	// Qualifiers (section 9.5.1).
	{`[file:name = 'a'] WITHIN 0 SECONDS`, 25, "WITHIN takes a positive integer or float number of seconds"},
	{`[file:name = 'a'] WITHIN -5 SECONDS`, 25, "positive"},
	{`[file:name = 'a'] WITHIN 0.0 SECONDS`, 25, "positive"},
	{`[file:name = 'a'] WITHIN '5' SECONDS`, 25, "positive"},
	{`[file:name = 'a'] WITHIN 5`, 26, "expected SECONDS after WITHIN 5, found end of pattern"},
	{`[file:name = 'a'] WITHIN 5 MINUTES`, 27, `expected SECONDS after WITHIN 5, found "MINUTES"`},
	{`[file:name = 'a'] WITHIN SECONDS`, 25, "expected a number of seconds after WITHIN"},
	{`[file:name = 'a'] REPEATS 0 TIMES`, 26, "REPEATS takes a positive integer"},
	{`[file:name = 'a'] REPEATS 2.5 TIMES`, 26, "REPEATS takes a positive integer"},
	{`[file:name = 'a'] REPEATS 2`, 27, "expected TIMES after REPEATS 2"},
	{`[file:name = 'a'] START '2016-06-01T00:00:00Z' STOP '2016-07-01T00:00:00Z'`, 24, "START takes a timestamp constant"},
	{`[file:name = 'a'] START t'2016-06-01T00:00:00Z'`, 47, "expected STOP after START"},
	{`[file:name = 'a'] START t'2016-06-01T00:00:00Z' STOP 5`, 53, "STOP takes a timestamp constant"},
	{`[file:name = 'a'] START t'2016-07-01T00:00:00Z' STOP t'2016-06-01T00:00:00Z'`, 53, "STOP t'2016-06-01T00:00:00Z' is earlier than START t'2016-07-01T00:00:00Z'"},
	{`[file:name = 'a'] START t'2016-07-01T00:00:00.001Z' STOP t'2016-07-01T00:00:00Z'`, 57, "is earlier than START"},
	{`[file:name = 'a'] START t'2017-01-01T00:00:00.5Z' STOP t'2016-12-31T23:59:60Z'`, 55, "is earlier than START"},
	{`[file:name = 'a'] STOP t'2016-07-01T00:00:00Z'`, 18, `found "STOP"`},
	{`[file:name = 'a'] WITHIN 5 SECONDS WITHIN 6 SECONDS`, 35, "second WITHIN qualifier"},
	{`[file:name = 'a'] REPEATS 5 TIMES WITHIN 6 SECONDS REPEATS 2 TIMES`, 51, "second REPEATS qualifier"},
	{`WITHIN 5 SECONDS`, 0, "expected '[' or '('"},
	{`([foo:a = 1] AND [foo:b = 2] REPEATS 5 TIMES) WITHIN 5 MINUTES`, 55, "expected SECONDS"},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidPatterns {
		p, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) = %s, want error", tc.in, p)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error %T, want *SyntaxError", tc.in, err)
			continue
		}
		if se.Offset != tc.off || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("Parse(%q):\n got %v\nwant at %d: ...%s...", tc.in, err, tc.off, tc.msg)
		}
	}
}

// orList returns an observation expression of distinct ipv4-addr
// comparisons joined by OR, the shape of large block lists, at least size
// bytes long.
func orList(size int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; b.Len() < size-1; i++ {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "ipv4-addr:value = '10.%d.%d.%d'", i>>16&255, i>>8&255, i&255)
	}
	b.WriteString("]")
	return b.String()
}

// observationList returns observation expressions joined by OR,
// FOLLOWEDBY and AND with qualifiers, at least size bytes long.
func observationList(size int) string {
	var b strings.Builder
	ops := []string{" OR ", " FOLLOWEDBY ", " AND "}
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteString(ops[i%3])
		}
		fmt.Fprintf(&b, "([file:hashes.'SHA-256' = '%064x' AND file:size > %d] WITHIN %d SECONDS)", i, i, i+1)
	}
	return b.String()
}

// matchesList returns an observation expression of distinct MATCHES
// comparisons joined by OR, at least size bytes long.
func matchesList(size int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; b.Len() < size-1; i++ {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, `url:value MATCHES '^https?://(?:[a-z0-9-]+\\.)*host%d\\.example(?::\\d+)?/(?!static/)[^?#]*\\.(?:php|aspx?)$'`, i)
	}
	b.WriteString("]")
	return b.String()
}

func TestLimits(t *testing.T) {
	deep := func(n int) string {
		return strings.Repeat("(", n) + "[file:size = 1]" + strings.Repeat(")", n)
	}
	deepest := (MaxLength - len(deep(0))) / 2
	// Distinct regular expressions past MaxRegexpBytes; the error is at the
	// first one past the budget.
	var budget strings.Builder
	budgetOff, total := 0, 0
	budget.WriteString("[file:name = 'a'")
	for i := 0; total <= MaxRegexpBytes; i++ {
		re := fmt.Sprintf("^%d-%s$", i, strings.Repeat("x", 1000))
		budget.WriteString(" OR file:name MATCHES ")
		budgetOff = budget.Len()
		budget.WriteString("'" + re + "'")
		total += len(re)
	}
	budget.WriteString("]")
	repeated := "[file:name = 'a'" + strings.Repeat(" OR file:name MATCHES '^"+strings.Repeat("x", 1000)+"$'", 500) + "]"

	tests := []struct {
		name string
		in   string
		off  int
		msg  string // "" when the pattern is valid
	}{
		{"depth 99", deep(MaxDepth - 1), 0, ""},
		{"depth 100", deep(MaxDepth), MaxDepth, "nesting deeper than 100 levels"},
		{"comparison depth", "[" + strings.Repeat("(", MaxDepth) + "file:size = 1" + strings.Repeat(")", MaxDepth) + "]", MaxDepth, "nesting deeper than 100 levels"},
		{"1 MiB of parentheses", deep(deepest), MaxDepth, "nesting deeper than 100 levels"},
		{"1 MiB of parentheses in brackets", "[" + strings.Repeat("(", MaxLength-1), MaxDepth, "nesting deeper than 100 levels"},
		{"2,500 addresses", orList(84_000), 0, ""},
		{"1 MiB of addresses", orList(MaxLength - 40), 0, ""},
		{"1 MiB of observations", observationList(MaxLength - 200), 0, ""},
		{"too long", strings.Repeat(" ", MaxLength+1), MaxLength, "pattern is 1048577 bytes long; the limit is 1048576"},
		{"too long list", orList(MaxLength + 1), MaxLength, "the limit is 1048576"},
		{"regular expressions past the budget", budget.String(), budgetOff, "the MATCHES regular expressions of the pattern total more than 262144 bytes"},
		{"one regular expression repeated", repeated, 0, ""},
		{"100,000 constants", "[file:size IN (0" + strings.Repeat(",1", MaxConstants-1) + ")]", 0, ""},
		{"100,001 constants", "[file:size IN (0" + strings.Repeat(",1", MaxConstants-1) + ") OR file:size = 2]", 2*MaxConstants + 31, "more than 100000 constants in the pattern"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.in)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s (%d bytes): %v", tc.name, len(tc.in), err)
			}
			continue
		}
		if se := (*SyntaxError)(nil); !errors.As(err, &se) || se.Offset != tc.off || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("%s (%d bytes): got %v; want at %d: ...%s...", tc.name, len(tc.in), err, tc.off, tc.msg)
		}
	}
}

func TestAST(t *testing.T) {
	p, err := Parse(`([file:hashes.'SHA-256' = 'ab' AND file:sections[2].x NOT IN (1, 2)] OR [EXISTS file:name]) REPEATS 3 TIMES`)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) Constant { return Constant{Kind: KindString, Raw: "'" + s + "'", Text: s} }
	integer := func(n int64, raw string) Constant { return Constant{Kind: KindInteger, Raw: raw, Int: n} }
	want := &Pattern{Expr: &QualifiedObservation{
		Expr: &CompoundObservation{Op: ObsOr, Operands: []ObservationExpression{
			&Observation{Comparison: &CompoundComparison{Op: BoolAnd, Operands: []ComparisonExpression{
				&Comparison{
					Path:     ObjectPath{ObjectType: "file", Steps: []PathStep{{Name: "hashes"}, {Name: "SHA-256", Quoted: true}}},
					Operator: OpEqual, Value: str("ab"),
				},
				&Comparison{
					Path:     ObjectPath{ObjectType: "file", Steps: []PathStep{{Name: "sections"}, {Index: 2}, {Name: "x"}}},
					Negated:  true,
					Operator: OpIn,
					Value:    Constant{Kind: KindSet, Raw: "(1, 2)", Set: []Constant{integer(1, "1"), integer(2, "2")}},
				},
			}}},
			&Observation{Comparison: &Comparison{
				Path:     ObjectPath{ObjectType: "file", Steps: []PathStep{{Name: "name"}}},
				Operator: OpExists,
			}},
		}},
		Qualifiers: []Qualifier{{Kind: Repeats, Value: integer(3, "3")}},
	}}
	opts := cmp.Options{
		cmp.FilterPath(func(p cmp.Path) bool {
			sf, ok := p.Last().(cmp.StructField)
			return ok && sf.Name() == "Offset"
		}, cmp.Ignore()),
	}
	if diff := cmp.Diff(want, p, opts); diff != "" {
		t.Errorf("AST mismatch (-want +got):\n%s", diff)
	}

	// Offsets point at the construct.
	q := p.Expr.(*QualifiedObservation)
	obs := q.Expr.(*CompoundObservation).Operands
	if got := []int{q.Offset, obs[0].Pos(), obs[1].Pos(), q.Qualifiers[0].Offset, q.Qualifiers[0].Value.Offset}; !cmp.Equal(got, []int{0, 1, 72, 92, 100}) {
		t.Errorf("offsets = %v", got)
	}
}

func TestConstants(t *testing.T) {
	p, err := Parse(`[foo:a IN ('it\'s \\ é', 'x') OR foo:b = -42 OR foo:c = 2.5e1 OR foo:d = true OR foo:e = t'2016-01-20T12:31:12.5Z' OR foo:f = h'ffd8' OR foo:g = b'AAE=']`)
	if err != nil {
		t.Fatal(err)
	}
	var got []Constant
	for _, c := range p.Expr.(*Observation).Comparison.(*CompoundComparison).Operands {
		got = append(got, c.(*Comparison).Value)
	}
	set := got[0].Set
	if set[0].Text != `it's \ é` || set[1].Text != "x" {
		t.Errorf("strings: %q %q", set[0].Text, set[1].Text)
	}
	if got[1].Int != -42 || got[2].Float != 25 || !got[3].Bool {
		t.Errorf("numbers/boolean: %+v %+v %+v", got[1], got[2], got[3])
	}
	if want := time.Date(2016, 1, 20, 12, 31, 12, 5e8, time.UTC); !got[4].Time.Equal(want) || got[4].Text != "2016-01-20T12:31:12.5Z" {
		t.Errorf("timestamp: %v %q", got[4].Time, got[4].Text)
	}
	if !cmp.Equal(got[5].Bytes, []byte{0xff, 0xd8}) || !cmp.Equal(got[6].Bytes, []byte{0, 1}) {
		t.Errorf("bytes: %x %x", got[5].Bytes, got[6].Bytes)
	}

	// A leap second reads as the last nanosecond before the next day.
	p, err = Parse(`[foo:a = t'2016-12-31T23:59:60.5Z' OR foo:b = h'FFd8' OR foo:c = -.5]`)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, c := range p.Expr.(*Observation).Comparison.(*CompoundComparison).Operands {
		got = append(got, c.(*Comparison).Value)
	}
	if want := time.Date(2016, 12, 31, 23, 59, 59, 999999999, time.UTC); !got[0].Time.Equal(want) || got[0].Text != "2016-12-31T23:59:60.5Z" {
		t.Errorf("leap second: %v %q", got[0].Time, got[0].Text)
	}
	if !cmp.Equal(got[1].Bytes, []byte{0xff, 0xd8}) || got[2].Kind != KindFloat || got[2].Float != -0.5 {
		t.Errorf("hex, float: %x %+v", got[1].Bytes, got[2])
	}
}

func TestObjectPaths(t *testing.T) {
	p, err := Parse(`([file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0 AND (file:name = 'a' OR EXISTS file:hashes.MD5)] FOLLOWEDBY [network-traffic:dst_ref.value = '1.2.3.4']) WITHIN 60 SECONDS`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range p.ObjectPaths() {
		got = append(got, op.ObjectType+" "+op.String())
	}
	want := []string{
		"file file:extensions.'windows-pebinary-ext'.sections[*].entropy",
		"file file:name",
		"file file:hashes.MD5",
		"network-traffic network-traffic:dst_ref.value",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ObjectPaths (-want +got):\n%s", diff)
	}
	if (*Pattern)(nil).ObjectPaths() != nil {
		t.Error("nil pattern has paths")
	}
}

// realistic reads testdata/stix/patterns/realistic.txt.
func realistic(tb testing.TB) []string {
	f, err := os.Open("../../testdata/stix/patterns/realistic.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestRealistic(t *testing.T) {
	for _, s := range realistic(t) {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	patterns := realistic(b)
	long := "[" + strings.Repeat("ipv4-addr:value = '198.51.100.1' OR ", 200) + "ipv4-addr:value = '198.51.100.2']"
	for _, bc := range []struct{ name, in string }{
		{"hash", patterns[0]},
		{"multi-hash", patterns[1]},
		{"followedby-within", patterns[9]},
		{"email-regex", patterns[6]},
		{"200-ip-list", long},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseSize shows that parsing time is linear in the length of
// the pattern: ns/KB stays level from 10 KB to 1 MiB. The MATCHES shape
// stops below MaxRegexpBytes of regular expressions.
func BenchmarkParseSize(b *testing.B) {
	sizes := []struct {
		name  string
		bytes int
	}{{"10KB", 10 << 10}, {"100KB", 100 << 10}, {"300KB", 300 << 10}, {"1MiB", MaxLength - 200}}
	for _, shape := range []struct {
		name string
		gen  func(int) string
		max  int
	}{
		{"or-list", orList, MaxLength},
		{"observations", observationList, MaxLength},
		{"matches", matchesList, 300 << 10},
	} {
		for _, size := range sizes {
			if size.bytes > shape.max {
				continue
			}
			in := shape.gen(size.bytes)
			b.Run(shape.name+"/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Parse(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(float64(len(in))/1024), "ns/KB")
			})
		}
	}
}
