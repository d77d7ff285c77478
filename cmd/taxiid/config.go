package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/taxiid/taxiid/collections"
	"github.com/taxiid/taxiid/collections/mongo"
	"github.com/taxiid/taxiid/stix"
	"github.com/taxiid/taxiid/taxii"
)

// Config is the server's configuration: flags, each overridable by an
// environment variable TAXIID_<NAME>, and an optional YAML file declaring
// API roots and collections.
type Config struct {
	Listen string
	// Data is the directory of the embedded store, unused when MongoURI
	// is set.
	Data string
	// MongoURI, when set, puts the store on MongoDB: the database
	// MongoDatabase of the deployment it names. MongoTimeout bounds one
	// MongoDB call (0: the backend's default).
	MongoURI      string
	MongoDatabase string
	MongoTimeout  time.Duration
	ConfigFile    string
	PageSize      int
	MaxPageSize   int
	Validation    string // validation level: strict, default or permissive
	SchemaDir     string
	// LogLevel and LogFormat shape the server's log on standard error.
	LogLevel  slog.Level
	LogFormat string // "text" or "json"

	// MaxConnections caps the connections open at once (further bounded
	// by the limit of open files); MaxConnectionsPerIP caps those from one
	// source address (0: no cap).
	MaxConnections      int
	MaxConnectionsPerIP int
	// ShutdownTimeout bounds the wait for requests in flight and
	// background ingestion when the server stops.
	ShutdownTimeout time.Duration
	// DrainDelay is how long /readyz answers 503 before the server stops
	// accepting connections.
	DrainDelay time.Duration
	// MaxMemory is the memory the process aims to stay under: the Go
	// runtime's soft memory limit, of which requestMemory is the budget of
	// requests in flight.
	MaxMemory byteSize
	// AuditRetention is how long audit events are kept; 0 keeps them for
	// ever.
	AuditRetention days
	// Rate holds the rate limits (ratelimit.go).
	Rate rateConfig
	// TLS: certificate, key and client CAs, or plain HTTP (tls.go).
	TLS tlsFlags
	// MetricsToken is the bearer token /metrics requires; MetricsListen
	// the address of a listener serving /metrics alone. With neither,
	// metrics are neither kept nor served.
	MetricsToken  string
	MetricsListen string
	// HubIdentity is the STIX identity that replaces created_by_ref for
	// readers whose grant hides the creator; empty: it is removed.
	HubIdentity string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (comma-separated addresses or CIDR prefixes).
	TrustedProxies string
	// MaxWait bounds the wait a request may ask for with "Prefer:
	// wait=N" (0: requests never wait); MaxWaits and MaxWaitsPerUser
	// bound the requests waiting at once, in all and per user.
	MaxWait         time.Duration
	MaxWaits        int
	MaxWaitsPerUser int
	// Webhooks configure webhook notifications (webhooks.go).
	Webhooks webhookFlags

	File FileConfig // from ConfigFile, if any
}

// FileConfig is the YAML configuration file.
type FileConfig struct {
	Title          string          `yaml:"title"`
	Description    string          `yaml:"description"`
	Contact        string          `yaml:"contact"`
	DefaultAPIRoot string          `yaml:"default_api_root"`
	APIRoots       []APIRootConfig `yaml:"api_roots"`
	RateLimits     RateLimitsFile  `yaml:"rate_limits"`
}

// APIRootConfig declares one API root and its collections.
type APIRootConfig struct {
	Path             string             `yaml:"path"`
	Title            string             `yaml:"title"`
	Description      string             `yaml:"description"`
	MaxContentLength int64              `yaml:"max_content_length"`
	Collections      []CollectionConfig `yaml:"collections"`
}

// CollectionConfig declares one collection.
type CollectionConfig struct {
	ID          string   `yaml:"id"`
	Alias       string   `yaml:"alias"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	MediaTypes  []string `yaml:"media_types"`
	// Validation overrides the server's validation level for this
	// collection.
	Validation string `yaml:"validation"`
	// UnmarkedTLP names the TLP level recorded for versions pushed without
	// a TLP marking (stix.ParseTLP's names: clear or white, green, amber,
	// amber+strict, red); unset, red, the most restrictive, so that nothing
	// unmarked reaches a grantee with a ceiling by accident. Levels are
	// recorded at ingest: a change applies to versions pushed afterwards,
	// those already stored keep theirs.
	UnmarkedTLP string `yaml:"unmarked_tlp"`
}

// unmarkedTLP is the collection's unmarked level (validate has checked
// the name).
func (c CollectionConfig) unmarkedTLP() stix.TLP {
	l, _ := stix.ParseTLP(c.UnmarkedTLP)
	return l
}

// Defaults.
const (
	defaultListen           = "127.0.0.1:8080"
	defaultData             = "./taxiid-data"
	defaultPageSize         = 100
	defaultMaxPageSize      = 1000
	defaultMaxContentLength = 100 << 20 // 100 MiB, the example of TAXII 2.1 section 4.2.1
	defaultMediaType        = "application/stix+json;version=2.1"

	defaultMaxConnections      = 4096
	defaultMaxConnectionsPerIP = 256
	defaultShutdownTimeout     = 15 * time.Second
	defaultMongoDatabase       = mongo.DefaultDatabase
	defaultMongoTimeout        = mongo.DefaultOpTimeout
	defaultAuditRetention      = days(365 * 24 * time.Hour)
	defaultMaxWait             = taxii.DefaultMaxWait
	defaultMaxWaits            = taxii.DefaultMaxWaits
	defaultMaxWaitsPerUser     = taxii.DefaultMaxWaitsPerUser
	// maxMaxWait bounds max-wait: proxies and clients rarely keep a
	// silent request open longer.
	maxMaxWait = 10 * time.Minute
	// minMaxMemory is the least max-memory accepted: below it the garbage
	// collector would run all the time.
	minMaxMemory = 64 << 20
)

// parseFlags reads the serve flags from args, with environment overrides
// from getenv, and the configuration file they name. Every problem found is
// reported, not just the first.
func parseFlags(args []string, getenv func(string) string, stderr *os.File) (Config, error) {
	var cfg Config
	var problems []string
	envStr := func(name, def string) string {
		if v := getenv("TAXIID_" + name); v != "" {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		v := getenv("TAXIID_" + name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("TAXIID_%s=%q is not an integer", name, v))
			return def
		}
		return n
	}

	envDuration := func(name string, def time.Duration) time.Duration {
		v := getenv("TAXIID_" + name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("TAXIID_%s=%q is not a duration such as 15s", name, v))
			return def
		}
		return d
	}

	envBytes := func(name string, def byteSize) byteSize {
		v := getenv("TAXIID_" + name)
		if v == "" {
			return def
		}
		n, err := parseByteSize(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("TAXIID_%s: %v", name, err))
			return def
		}
		return n
	}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if stderr != nil {
		fs.SetOutput(stderr)
	}
	fs.StringVar(&cfg.Listen, "listen", envStr("LISTEN", defaultListen), "address to listen on (env TAXIID_LISTEN)")
	fs.StringVar(&cfg.Data, "data", envStr("DATA", defaultData), "directory of the embedded store (env TAXIID_DATA)")
	fs.StringVar(&cfg.MongoURI, "mongo-uri", envStr("MONGO_URI", ""), "MongoDB connection string, mongodb://... or mongodb+srv://...; when set, the store is that MongoDB deployment and --data is not used (env TAXIID_MONGO_URI)")
	fs.StringVar(&cfg.MongoDatabase, "mongo-database", envStr("MONGO_DATABASE", defaultMongoDatabase), "MongoDB database of the store (env TAXIID_MONGO_DATABASE)")
	fs.DurationVar(&cfg.MongoTimeout, "mongo-timeout", envDuration("MONGO_TIMEOUT", defaultMongoTimeout), "deadline of one MongoDB call, three times that for a batch of pushed objects; a request that meets it gets a 503 (env TAXIID_MONGO_TIMEOUT)")
	fs.StringVar(&cfg.ConfigFile, "config", envStr("CONFIG", ""), "YAML file declaring API roots and collections (env TAXIID_CONFIG)")
	fs.IntVar(&cfg.PageSize, "page-size", envInt("PAGE_SIZE", defaultPageSize), "objects per page when a request sets no limit (env TAXIID_PAGE_SIZE)")
	fs.IntVar(&cfg.MaxPageSize, "max-page-size", envInt("MAX_PAGE_SIZE", defaultMaxPageSize), "largest page served, whatever the limit (env TAXIID_MAX_PAGE_SIZE)")
	fs.StringVar(&cfg.Validation, "validation", envStr("VALIDATION", "default"), "validation level of pushed objects: strict, default or permissive (env TAXIID_VALIDATION)")
	fs.StringVar(&cfg.SchemaDir, "schema-dir", envStr("SCHEMA_DIR", ""), "directory of JSON schemas adding to or overriding the built-in ones (env TAXIID_SCHEMA_DIR)")
	fs.IntVar(&cfg.MaxConnections, "max-connections", envInt("MAX_CONNECTIONS", defaultMaxConnections), "connections open at once, at most; more are answered 503 and closed (env TAXIID_MAX_CONNECTIONS)")
	fs.IntVar(&cfg.MaxConnectionsPerIP, "max-connections-per-ip", envInt("MAX_CONNECTIONS_PER_IP", defaultMaxConnectionsPerIP), "connections open at once from one IPv4 address or IPv6 /64, at most; 0: no cap (env TAXIID_MAX_CONNECTIONS_PER_IP)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", envDuration("SHUTDOWN_TIMEOUT", defaultShutdownTimeout), "on SIGTERM or SIGINT, the longest wait for requests in flight and background ingestion before their connections are closed (env TAXIID_SHUTDOWN_TIMEOUT)")
	cfg.LogLevel = slog.LevelInfo
	if v := getenv("TAXIID_LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			problems = append(problems, fmt.Sprintf("TAXIID_LOG_LEVEL: %v", err))
		}
	}
	fs.TextVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "least severe log lines written: debug, info (one line per request), warn or error (env TAXIID_LOG_LEVEL)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", envStr("TRUSTED_PROXIES", ""), "reverse proxies whose X-Forwarded-For names the client, comma-separated addresses or CIDR prefixes such as 10.0.0.5,fd00::/8; rate limits and failed sign-in bounds then apply per client (env TAXIID_TRUSTED_PROXIES)")
	fs.StringVar(&cfg.LogFormat, "log-format", envStr("LOG_FORMAT", "text"), "log lines as text (key=value) or json, one object per line (env TAXIID_LOG_FORMAT)")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", envDuration("DRAIN_DELAY", 0), "on SIGTERM or SIGINT, how long /readyz answers 503 while requests are still served, before the server stops accepting: set it above the load balancer's probe interval (env TAXIID_DRAIN_DELAY)")
	cfg.MaxMemory = envBytes("MAX_MEMORY", defaultMaxMemory(getenv))
	fs.Var(&cfg.MaxMemory, "max-memory", "memory the server aims to stay under, a `size` such as 2GiB: the Go runtime's soft memory limit, half of it the budget of requests in flight (env TAXIID_MAX_MEMORY; default GOMEMLIMIT, else half the memory of the machine or container)")
	cfg.AuditRetention = defaultAuditRetention
	if v := getenv("TAXIID_AUDIT_RETENTION"); v != "" {
		if err := cfg.AuditRetention.Set(v); err != nil {
			problems = append(problems, fmt.Sprintf("TAXIID_AUDIT_RETENTION: %v", err))
		}
	}
	rateFlags(fs, &cfg.Rate, getenv, &problems)
	fs.Var(&cfg.AuditRetention, "audit-retention", "how long audit events are kept, a `duration` in days (365d) or as 720h; 0 keeps them for ever (env TAXIID_AUDIT_RETENTION)")
	problems = append(problems, cfg.TLS.register(fs, getenv)...)
	cfg.Webhooks.register(fs, getenv)
	fs.StringVar(&cfg.MetricsToken, "metrics-token", envStr("METRICS_TOKEN", ""), "bearer token /metrics requires (at least 16 characters); with it, metrics are served at /metrics on the listen address unless metrics-listen is set (env TAXIID_METRICS_TOKEN)")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", envStr("METRICS_LISTEN", ""), "address of a listener of its own serving /metrics alone, for a scrape network; the metrics token, if set, is required there too (env TAXIID_METRICS_LISTEN)")
	fs.StringVar(&cfg.HubIdentity, "hub-identity", envStr("HUB_IDENTITY", ""), "STIX identity id (identity--<uuid>) that replaces created_by_ref for readers whose grant hides the creator; without it created_by_ref is removed for them (env TAXIID_HUB_IDENTITY)")
	fs.DurationVar(&cfg.MaxWait, "max-wait", envDuration("MAX_WAIT", defaultMaxWait), "longest wait a GET objects or manifest request may ask for with Prefer: wait=N, held until objects it may see arrive; 0: requests never wait (env TAXIID_MAX_WAIT)")
	fs.IntVar(&cfg.MaxWaits, "max-waits", envInt("MAX_WAITS", defaultMaxWaits), "requests waiting for new objects at once, at most; more are answered at once (env TAXIID_MAX_WAITS)")
	fs.IntVar(&cfg.MaxWaitsPerUser, "max-waits-per-user", envInt("MAX_WAITS_PER_USER", defaultMaxWaitsPerUser), "requests of one user (or one address, anonymous) waiting for new objects at once, at most (env TAXIID_MAX_WAITS_PER_USER)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}

	if cfg.ConfigFile != "" {
		b, err := os.ReadFile(cfg.ConfigFile)
		if err != nil {
			problems = append(problems, fmt.Sprintf("config file: %v", err))
		} else if err := yaml.Unmarshal(b, &cfg.File); err != nil {
			problems = append(problems, fmt.Sprintf("config file %s: %v", cfg.ConfigFile, err))
		}
	}
	problems = append(problems, cfg.validate()...)
	if len(problems) > 0 {
		return cfg, fmt.Errorf("invalid configuration:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return cfg, nil
}

// validate returns every problem of the configuration and fills defaults
// in the file's declarations.
func (cfg *Config) validate() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		add("listen %q is not a host:port address", cfg.Listen)
	}
	if cfg.MaxWait < 0 || cfg.MaxWait > maxMaxWait {
		add("max-wait must be between 0 and %s, not %s", maxMaxWait, cfg.MaxWait)
	}
	if cfg.MaxWaits < 1 || cfg.MaxWaitsPerUser < 1 {
		add("max-waits (%d) and max-waits-per-user (%d) must be at least 1", cfg.MaxWaits, cfg.MaxWaitsPerUser)
	}
	if id := cfg.HubIdentity; id != "" {
		if u, ok := strings.CutPrefix(id, "identity--"); !ok || !stix.IsUUID(u) {
			add("hub-identity %q is not a STIX identity id (identity--<uuid>)", id)
		}
	}
	problems = append(problems, cfg.Webhooks.validate()...)
	if cfg.MongoURI == "" && cfg.Data == "" {
		add("data must name a directory")
	}
	if cfg.MongoURI != "" {
		// The URI itself is read by the driver at start; it may hold a
		// password, so no message quotes it.
		if !strings.HasPrefix(cfg.MongoURI, "mongodb://") && !strings.HasPrefix(cfg.MongoURI, "mongodb+srv://") {
			add("mongo-uri must begin with mongodb:// or mongodb+srv://")
		}
		if err := checkMongoDatabase(cfg.MongoDatabase); err != nil {
			add("mongo-database: %v", err)
		}
		if cfg.MongoTimeout < 100*time.Millisecond {
			add("mongo-timeout must be at least 100ms, not %s", cfg.MongoTimeout)
		}
	}
	if cfg.PageSize < 1 {
		add("page-size must be at least 1, not %d", cfg.PageSize)
	}
	if cfg.MaxPageSize < cfg.PageSize {
		add("max-page-size (%d) must be at least page-size (%d)", cfg.MaxPageSize, cfg.PageSize)
	}
	if _, err := stix.ParseLevel(cfg.Validation); err != nil {
		add("validation: %v", err)
	}
	if cfg.MaxConnections < 1 {
		add("max-connections must be at least 1, not %d", cfg.MaxConnections)
	}
	if _, err := parseTrustedProxies(cfg.TrustedProxies); err != nil {
		add("trusted-proxies: %v", err)
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		add("log-format must be text or json, not %q", cfg.LogFormat)
	}
	if cfg.DrainDelay < 0 {
		add("drain-delay must not be negative, not %s", cfg.DrainDelay)
	}
	if cfg.ShutdownTimeout < 0 {
		add("shutdown-timeout must not be negative, not %s", cfg.ShutdownTimeout)
	}
	if cfg.MaxMemory < minMaxMemory {
		add("max-memory must be at least 64MiB, not %s", cfg.MaxMemory)
	}
	if cfg.AuditRetention < 0 {
		add("audit-retention must not be negative, not %s", cfg.AuditRetention)
	}
	if cfg.MaxConnectionsPerIP < 0 {
		add("max-connections-per-ip must be 0 (no cap) or more, not %d", cfg.MaxConnectionsPerIP)
	}
	problems = append(problems, cfg.TLS.validate(cfg.Listen)...)
	problems = append(problems, cfg.validateMetrics()...)

	// Each declaration is checked by the rules the store applies to it
	// (collections' Validate); what only the file can get wrong, a name
	// declared twice, is checked here.
	f := &cfg.File
	paths := map[string]bool{}
	ids := map[string]bool{}
	addInvalid := func(where string, err error) {
		var ie *collections.InvalidError
		if errors.As(err, &ie) {
			for _, p := range ie.Problems {
				add("%s: %s", where, p)
			}
		} else if err != nil {
			add("%s: %v", where, err)
		}
	}
	for i := range f.APIRoots {
		r := &f.APIRoots[i]
		where := fmt.Sprintf("api_roots[%d]", i)
		if r.MaxContentLength == 0 {
			r.MaxContentLength = defaultMaxContentLength
		}
		addInvalid(where, collections.APIRoot{
			Path: r.Path, Title: r.Title, Description: r.Description, MaxContentLength: r.MaxContentLength,
		}.Validate())
		if paths[r.Path] {
			add("%s: path %q is declared twice", where, r.Path)
		}
		paths[r.Path] = true
		aliases := map[string]bool{}
		for j := range r.Collections {
			c := &r.Collections[j]
			where := fmt.Sprintf("api_roots[%d].collections[%d]", i, j)
			if len(c.MediaTypes) == 0 {
				c.MediaTypes = []string{defaultMediaType}
			}
			addInvalid(where, collections.Collection{
				APIRoot: r.Path, ID: c.ID, Alias: c.Alias, Title: c.Title, Description: c.Description,
				MediaTypes: c.MediaTypes, Validation: c.Validation,
			}.Validate())
			if _, err := stix.ParseTLP(c.UnmarkedTLP); err != nil {
				add("%s (collection %s): unmarked_tlp: %v", where, c.ID, err)
			}
			if ids[c.ID] {
				// Collection ids are unique in the whole store.
				add("%s: id %s is declared twice", where, c.ID)
			}
			ids[c.ID] = true
			if c.Alias != "" {
				if aliases[c.Alias] {
					add("%s: alias %q is declared twice", where, c.Alias)
				}
				aliases[c.Alias] = true
			}
		}
	}
	if f.DefaultAPIRoot != "" && !paths[f.DefaultAPIRoot] {
		add("default_api_root %q is not one of the declared api_roots", f.DefaultAPIRoot)
	}
	problems = append(problems, cfg.validateRates()...)
	return problems
}

// store is where the store of the configuration is.
func (cfg *Config) store() storeLocation {
	return storeLocation{data: cfg.Data, mongoURI: cfg.MongoURI, mongoDatabase: cfg.MongoDatabase, mongoTimeout: cfg.MongoTimeout}
}

// checkMongoDatabase checks a MongoDB database name against the server's
// rules: at most 63 bytes, none of the characters /\. "$*<>:|? and no NUL.
func checkMongoDatabase(name string) error {
	switch {
	case name == "":
		return errors.New("a database name is required")
	case len(name) > 63:
		return fmt.Errorf("a name of %d bytes is longer than the 63 MongoDB accepts", len(name))
	case strings.ContainsAny(name, "/\\. \"$*<>:|?\x00"):
		return fmt.Errorf("%q holds a character MongoDB refuses in database names (/\\. \"$*<>:|?)", name)
	}
	return nil
}

// defaultMaxMemory is the default of max-memory: GOMEMLIMIT when the
// environment sets it (as the Go runtime reads it), else half the memory
// available to the process, leaving the rest to SQLite's page cache, the
// operating system's file cache and other processes; 2 GiB if that is
// unknown.
func defaultMaxMemory(getenv func(string) string) byteSize {
	if v, err := parseByteSize(getenv("GOMEMLIMIT")); err == nil && v > 0 {
		return v
	}
	if avail := availableMemory(); avail > 0 {
		return byteSize(avail / 2)
	}
	return 2 << 30
}

// requestMemory is the budget of memory for requests in flight: half of
// MaxMemory, the other half being for the store, background ingestion
// and the garbage collector's headroom.
func (cfg *Config) requestMemory() int64 { return int64(cfg.MaxMemory) / 2 }

// maxWait is taxii.Config.MaxWait: 0 there means the default, negative
// no waiting.
func (cfg *Config) maxWait() time.Duration {
	if cfg.MaxWait == 0 {
		return -1
	}
	return cfg.MaxWait
}

// days is a duration flag that also reads whole days, "365d", the unit
// retention periods are thought in.
type days time.Duration

func (d *days) Set(s string) error {
	if n, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 || v > 100*365 {
			return fmt.Errorf("%q is not a number of days such as 365d", s)
		}
		*d = days(time.Duration(v) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 365d or 720h", s)
	}
	*d = days(v)
	return nil
}

func (d days) String() string {
	if d%days(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", time.Duration(d)/(24*time.Hour))
	}
	return time.Duration(d).String()
}

// parseTrustedProxies reads --trusted-proxies: addresses (a /32 or /128)
// or CIDR prefixes, comma-separated.
func parseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
