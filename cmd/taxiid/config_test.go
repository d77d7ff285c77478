package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taxiid/taxiid/stix"
)

// env returns a getenv that reads vars only, never the test's environment.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// TestParseResourceFlags checks the flags that bound the server's
// resources, with their environment overrides and the problems reported.
func TestParseResourceFlags(t *testing.T) {
	type limits struct {
		MaxConnections, MaxConnectionsPerIP int
		ShutdownTimeout                     time.Duration
		MaxMemory                           byteSize
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		want     limits
		wantErrs []string
	}{
		{
			name: "flags",
			args: []string{"--max-connections", "100", "--max-connections-per-ip", "0", "--shutdown-timeout", "3s", "--max-memory", "1.5GiB"},
			want: limits{100, 0, 3 * time.Second, 3 << 29},
		},
		{
			name: "environment",
			env: map[string]string{"TAXIID_MAX_CONNECTIONS": "10", "TAXIID_MAX_CONNECTIONS_PER_IP": "5",
				"TAXIID_SHUTDOWN_TIMEOUT": "1m", "TAXIID_MAX_MEMORY": "512MiB"},
			want: limits{10, 5, time.Minute, 512 << 20},
		},
		{
			name: "flag over environment",
			args: []string{"--max-memory", "300MB"},
			env:  map[string]string{"TAXIID_MAX_MEMORY": "512MiB", "GOMEMLIMIT": "1GiB"},
			want: limits{4096, 256, 15 * time.Second, 300e6},
		},
		{
			name: "GOMEMLIMIT is the default of max-memory",
			env:  map[string]string{"GOMEMLIMIT": "768MiB"},
			want: limits{4096, 256, 15 * time.Second, 768 << 20},
		},
		{
			name: "bad values",
			args: []string{"--max-connections", "0", "--max-connections-per-ip", "-1", "--shutdown-timeout", "-1s", "--max-memory", "1MiB"},
			wantErrs: []string{"max-connections must be at least 1", "max-connections-per-ip must be 0 (no cap) or more",
				"shutdown-timeout must not be negative", "max-memory must be at least 64MiB, not 1MiB"},
		},
		{
			name:     "bad environment",
			env:      map[string]string{"TAXIID_SHUTDOWN_TIMEOUT": "15", "TAXIID_MAX_MEMORY": "lots"},
			wantErrs: []string{`TAXIID_SHUTDOWN_TIMEOUT="15" is not a duration`, `TAXIID_MAX_MEMORY: "lots" is not a size`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := parsedFlags(t, tt.args, env(tt.env), tt.wantErrs)
			if !ok {
				return
			}
			got := limits{cfg.MaxConnections, cfg.MaxConnectionsPerIP, cfg.ShutdownTimeout, cfg.MaxMemory}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefaultMaxMemory checks that without any setting max-memory is half
// the memory available to the process, and that requests get half of it.
func TestDefaultMaxMemory(t *testing.T) {
	avail := availableMemory()
	if avail == 0 {
		t.Skip("the memory of this machine cannot be read")
	}
	cfg, err := parseFlags(nil, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxMemory != byteSize(avail/2) || cfg.requestMemory() != avail/4 {
		t.Errorf("max-memory %d, request memory %d; want %d and %d", cfg.MaxMemory, cfg.requestMemory(), avail/2, avail/4)
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    byteSize
		wantErr bool
	}{
		{"1500000000", 1500000000, false},
		{"2GiB", 2 << 30, false},
		{"512MiB", 512 << 20, false},
		{"64 KiB", 64 << 10, false},
		{"1.5TiB", 3 << 39, false},
		{"2GB", 2e9, false},
		{"300MB", 300e6, false},
		{"10KB", 10e3, false},
		{"100B", 100, false},
		{"", 0, true},
		{"GiB", 0, true},
		{"-1GiB", 0, true},
		{"2 gigabytes", 0, true},
		{"2Gi", 0, true},
		{"9000000TiB", 0, true},
		{"NaN", 0, true},
		{"nanMiB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseByteSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for _, tt := range []struct {
		in   byteSize
		want string
	}{
		{2 << 30, "2GiB"}, {1536 << 20, "1.5GiB"}, {12341784 << 10, "11.8GiB"}, {64 << 10, "64KiB"}, {1000, "1000"}, {0, "0"},
	} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("byteSize(%d).String() = %q; want %q", int64(tt.in), got, tt.want)
		}
	}
}

// TestMemoryFiles reads the files the memory available is taken from, as
// the kernel writes them.
func TestMemoryFiles(t *testing.T) {
	meminfo := "MemTotal:       24576000 kB\nMemFree:        12000000 kB\nMemAvailable:   20000000 kB\n"
	if got := memTotal([]byte(meminfo)); got != 24576000<<10 {
		t.Errorf("memTotal = %d; want %d", got, int64(24576000)<<10)
	}
	if got := memTotal([]byte("MemFree: 1 kB\n")); got != 0 {
		t.Errorf("memTotal without MemTotal = %d; want 0", got)
	}
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"2147483648\n", 2 << 30}, // a limit
		{"max\n", 0},              // cgroup v2: no limit
		{"9223372036854771712\n", 9223372036854771712}, // cgroup v1: no limit (above any machine)
		{"", 0},
	} {
		if got := cgroupLimit([]byte(tt.in)); got != tt.want {
			t.Errorf("cgroupLimit(%q) = %d; want %d", tt.in, got, tt.want)
		}
	}
}

func TestGCPercentFor(t *testing.T) {
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, 400}, {4 << 20, 400}, {16 << 20, 400}, {32 << 20, 200}, {64 << 20, 100}, {128 << 20, 50}, {256 << 20, 25}, {1 << 30, 25},
	} {
		if got := gcPercentFor(tt.live); got != tt.want {
			t.Errorf("gcPercentFor(%d MiB) = %d; want %d", tt.live>>20, got, tt.want)
		}
	}
}

// TestParseMongoFlags checks the flags that put the store on MongoDB, with
// their environment overrides, and that no message quotes the URI, which
// may hold a password.
func TestParseMongoFlags(t *testing.T) {
	type mongoCfg struct {
		URI, Database string
		Timeout       time.Duration
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		want     mongoCfg
		wantErrs []string
	}{
		{name: "defaults: the embedded store", want: mongoCfg{"", "taxiid", 10 * time.Second}},
		{
			name: "flags",
			args: []string{"--mongo-uri", "mongodb://db1:27017,db2:27017/?replicaSet=rs0", "--mongo-database", "hub", "--mongo-timeout", "3s"},
			want: mongoCfg{"mongodb://db1:27017,db2:27017/?replicaSet=rs0", "hub", 3 * time.Second},
		},
		{
			name: "environment",
			env:  map[string]string{"TAXIID_MONGO_URI": "mongodb+srv://cluster0.example.net/", "TAXIID_MONGO_DATABASE": "intel", "TAXIID_MONGO_TIMEOUT": "2s"},
			want: mongoCfg{"mongodb+srv://cluster0.example.net/", "intel", 2 * time.Second},
		},
		{
			name: "flag over environment",
			args: []string{"--mongo-database", "hub"},
			env:  map[string]string{"TAXIID_MONGO_URI": "mongodb://db1/", "TAXIID_MONGO_DATABASE": "intel"},
			want: mongoCfg{"mongodb://db1/", "hub", 10 * time.Second},
		},
		{
			name: "no data directory needed on MongoDB",
			args: []string{"--mongo-uri", "mongodb://db1/", "--data", ""},
			want: mongoCfg{"mongodb://db1/", "taxiid", 10 * time.Second},
		},
		{
			name: "bad values",
			args: []string{"--mongo-uri", "http://user:s3cret@db1/", "--mongo-database", "a.b", "--mongo-timeout", "10ms"},
			wantErrs: []string{"mongo-uri must begin with mongodb:// or mongodb+srv://", `mongo-database: "a.b" holds a character`,
				"mongo-timeout must be at least 100ms, not 10ms"},
		},
		{
			name:     "database name too long",
			args:     []string{"--mongo-uri", "mongodb://db1/", "--mongo-database", strings.Repeat("d", 64)},
			wantErrs: []string{"mongo-database: a name of 64 bytes is longer than the 63 MongoDB accepts"},
		},
		{
			name:     "empty database name",
			env:      map[string]string{"TAXIID_MONGO_URI": "mongodb://db1/"},
			args:     []string{"--mongo-database", ""},
			wantErrs: []string{"mongo-database: a database name is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args, env(tt.env), nil)
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("no error; want %q", tt.wantErrs)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not mention %q:\n%v", w, err)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error quotes the URI's password:\n%v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := mongoCfg{cfg.MongoURI, cfg.MongoDatabase, cfg.MongoTimeout}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MongoDB settings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRedactURI: what the log shows of a MongoDB URI names its hosts and
// never its credentials or options.
func TestRedactURI(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"mongodb://db1:27017", "mongodb://db1:27017"},
		{"mongodb://taxiid:pa%40ss@db1:27017,db2:27017/admin?replicaSet=rs0&authSource=admin", "mongodb://***@db1:27017,db2:27017"},
		{"mongodb+srv://taxiid:secret@cluster0.example.net/?retryWrites=true", "mongodb+srv://***@cluster0.example.net"},
		{"mongodb://db1/?tlsCertificateKeyFilePassword=secret", "mongodb://db1"},
		{"mongodb://[::1]:27017/", "mongodb://[::1]:27017"},
		// A '?' in a password is taken as the driver takes it.
		{"mongodb://taxiid:se?cret@db1/", "mongodb://***@db1"},
		// An unescaped '@' in a password: the driver refuses the URI, and
		// nothing of the password shows.
		{"mongodb://taxiid:se@cret@db1/", "mongodb://(malformed)"},
		{"http://taxiid:secret@db1/", "(not a MongoDB URI)"},
		{"taxiid:secret@db1", "(not a MongoDB URI)"},
	}
	for _, tt := range tests {
		if got := redactURI(tt.uri); got != tt.want {
			t.Errorf("redactURI(%q) = %q; want %q", tt.uri, got, tt.want)
		}
	}
}

// TestParseHubIdentity: --hub-identity and TAXIID_HUB_IDENTITY name the
// identity served as the creator of objects whose creator a grant hides;
// anything but an identity id is refused at start.
func TestParseHubIdentity(t *testing.T) {
	const id = "identity--8ce3f695-d5a4-4d11-9b5a-4d2b2a7a2f10"
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "none", want: ""},
		{name: "flag", args: []string{"--hub-identity", id}, want: id},
		{name: "environment", env: map[string]string{"TAXIID_HUB_IDENTITY": id}, want: id},
		{name: "not an identity", args: []string{"--hub-identity", "organization--8ce3f695-d5a4-4d11-9b5a-4d2b2a7a2f10"},
			wantErr: "is not a STIX identity id"},
		{name: "not a uuid", env: map[string]string{"TAXIID_HUB_IDENTITY": "identity--hub"}, wantErr: "is not a STIX identity id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args, env(tt.env), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v; want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HubIdentity != tt.want {
				t.Errorf("HubIdentity = %q; want %q", cfg.HubIdentity, tt.want)
			}
		})
	}
}

// parsedFlags parses args as serve does. With wantErrs it checks that
// parsing fails naming each, and returns false; without, it fails the test
// on an error.
func parsedFlags(t *testing.T, args []string, getenv func(string) string, wantErrs []string) (Config, bool) {
	t.Helper()
	cfg, err := parseFlags(args, getenv, nil)
	if len(wantErrs) > 0 {
		if err == nil {
			t.Fatalf("no error; want %q", wantErrs)
		}
		for _, w := range wantErrs {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not mention %q:\n%v", w, err)
			}
		}
		return cfg, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg, true
}

// TestParseUnmarkedTLP: a declared collection's unmarked_tlp takes the TLP
// names in any case, with or without the TLP: prefix; left out it is the
// default, red. An unknown name stops the start naming the collection.
func TestParseUnmarkedTLP(t *testing.T) {
	const id = "6d9a0f64-2ab8-4a5f-8d6d-3f0c1f9a1e11"
	tests := []struct {
		name    string
		line    string // the collection's unmarked_tlp line, if any
		want    stix.TLP
		wantErr string
	}{
		{name: "left out", want: stix.TLPNone},
		{name: "empty", line: `unmarked_tlp: ""`, want: stix.TLPNone},
		{name: "clear", line: "unmarked_tlp: clear", want: stix.TLPClear},
		{name: "white is clear", line: "unmarked_tlp: white", want: stix.TLPClear},
		{name: "green", line: "unmarked_tlp: green", want: stix.TLPGreen},
		{name: "prefix and case", line: "unmarked_tlp: TLP:AMBER", want: stix.TLPAmber},
		{name: "amber+strict", line: "unmarked_tlp: amber+strict", want: stix.TLPAmberStrict},
		{name: "red", line: "unmarked_tlp: Red", want: stix.TLPRed},
		{name: "unknown", line: "unmarked_tlp: purple",
			wantErr: `api_roots[0].collections[0] (collection ` + id + `): unmarked_tlp: unknown TLP level "purple"`},
		{name: "none is no name", line: "unmarked_tlp: none", wantErr: `(collection ` + id + `): unmarked_tlp: unknown TLP level "none"`},
		{name: "not a string", line: "unmarked_tlp: [green]", wantErr: "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "taxiid.yaml")
			text := "api_roots:\n  - path: intel\n    title: Intel\n    collections:\n      - id: " + id + "\n        title: Feed\n"
			if tt.line != "" {
				text += "        " + tt.line + "\n"
			}
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			var wantErrs []string
			if tt.wantErr != "" {
				wantErrs = []string{tt.wantErr}
			}
			cfg, ok := parsedFlags(t, []string{"--config", conf}, env(nil), wantErrs)
			if !ok {
				return
			}
			if got := cfg.File.APIRoots[0].Collections[0].unmarkedTLP(); got != tt.want {
				t.Errorf("unmarked level = %v; want %v", got, tt.want)
			}
		})
	}
}
