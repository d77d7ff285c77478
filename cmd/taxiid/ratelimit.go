package main

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/taxiid/taxiid/taxii"
)

// rateConfig is the rate limits of the serve flags (see README, "Rate
// limits").
type rateConfig struct {
	// Requests per second and burst, per user (anonymous requests: per
	// source address).
	Requests      float64
	RequestsBurst int64
	// PushBytes (request body bytes per second) and burst, likewise.
	PushBytes      byteSize
	PushBytesBurst byteSize
	// AuthFailures (per second) and burst bound the failed credential
	// checks per source address.
	AuthFailures      float64
	AuthFailuresBurst int64
	// Replicas divides every rate: with that many processes behind a
	// load balancer that spreads each client's requests over all of them,
	// the rates configured are about those a client gets in all.
	Replicas int
}

// RateLimitsFile is the rate_limits section of the configuration file.
type RateLimitsFile struct {
	// Organizations override the limits of the users of the organizations
	// they name (by name); what an override leaves out is the flag's.
	Organizations map[string]OrgRateLimits `yaml:"organizations"`
}

// OrgRateLimits are one organization's rate limits; nil fields keep the
// flag's value, 0 sets no limit.
type OrgRateLimits struct {
	Requests       *float64  `yaml:"requests"`
	RequestsBurst  *int64    `yaml:"requests_burst"`
	PushBytes      *byteSize `yaml:"push_bytes"`
	PushBytesBurst *byteSize `yaml:"push_bytes_burst"`
}

// Defaults of the rate limits. A TAXII client walks pages one request
// after another (each page's next comes with the one before), so it makes
// at most one request per round trip plus the server's time: under 200
// per second over any path with a round trip of 5 ms or more. The burst
// lets any client, even on the same host, make 2,000 requests at full
// speed before the sustained rate applies: a walk of 200,000 objects at
// the default page size, 2,000,000 at limit=1000. The byte burst holds
// two pushes of the default max_content_length (100 MiB) back to back;
// 10 MiB/s sustained is about half of what the server ingests with full
// validation on 2 cores. Ten failed sign-ins in a row are a person
// mistyping; twenty at once and then more than one per second from one
// address is a guesser.
const (
	defaultRateRequests          = 200
	defaultRateRequestsBurst     = 2000
	defaultRatePushBytes         = 10 << 20
	defaultRatePushBytesBurst    = 256 << 20
	defaultRateAuthFailures      = 1
	defaultRateAuthFailuresBurst = 20
)

// rateFlags registers the rate limit flags on fs, with their environment
// overrides; problems collects the environment values that do not parse.
func rateFlags(fs *flag.FlagSet, cfg *rateConfig, getenv func(string) string, problems *[]string) {
	envFloat := func(name string, def float64) float64 {
		v := getenv("TAXIID_" + name)
		if v == "" {
			return def
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("TAXIID_%s=%q is not a number", name, v))
			return def
		}
		return f
	}
	envInt := func(name string, def int64) int64 {
		v := getenv("TAXIID_" + name)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("TAXIID_%s=%q is not an integer", name, v))
			return def
		}
		return n
	}
	envBytes := func(name string, def byteSize) byteSize {
		v := getenv("TAXIID_" + name)
		if v == "" {
			return def
		}
		n, err := parseByteSize(v)
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("TAXIID_%s: %v", name, err))
			return def
		}
		return n
	}
	fs.Float64Var(&cfg.Requests, "rate-requests", envFloat("RATE_REQUESTS", defaultRateRequests),
		"requests per second each user may make, sustained (anonymous requests: each source address); 0: no limit (env TAXIID_RATE_REQUESTS)")
	fs.Int64Var(&cfg.RequestsBurst, "rate-requests-burst", envInt("RATE_REQUESTS_BURST", defaultRateRequestsBurst),
		"requests each user may make at once after a quiet time (env TAXIID_RATE_REQUESTS_BURST)")
	cfg.PushBytes = envBytes("RATE_PUSH_BYTES", defaultRatePushBytes)
	fs.Var(&cfg.PushBytes, "rate-push-bytes",
		"request body bytes per second each user may send, sustained, a `size` such as 10MiB; 0: no limit (env TAXIID_RATE_PUSH_BYTES)")
	cfg.PushBytesBurst = envBytes("RATE_PUSH_BYTES_BURST", defaultRatePushBytesBurst)
	fs.Var(&cfg.PushBytesBurst, "rate-push-bytes-burst",
		"request body bytes each user may send at once after a quiet time, a `size` (env TAXIID_RATE_PUSH_BYTES_BURST)")
	fs.Float64Var(&cfg.AuthFailures, "rate-auth-failures", envFloat("RATE_AUTH_FAILURES", defaultRateAuthFailures),
		"failed sign-ins per second from one source address, sustained, before credentials from it are refused unchecked; 0: no limit (env TAXIID_RATE_AUTH_FAILURES)")
	fs.Int64Var(&cfg.AuthFailuresBurst, "rate-auth-failures-burst", envInt("RATE_AUTH_FAILURES_BURST", defaultRateAuthFailuresBurst),
		"failed sign-ins from one source address at once (env TAXIID_RATE_AUTH_FAILURES_BURST)")
	cfg.Replicas = int(envInt("RATE_REPLICAS", 1))
	fs.IntVar(&cfg.Replicas, "rate-replicas", cfg.Replicas,
		"processes sharing the load behind a balancer: every rate is divided by it (env TAXIID_RATE_REPLICAS)")
}

// validateRates returns the problems of the rate limits, of the flags and
// of the configuration file.
func (cfg *Config) validateRates() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	rate := func(name string, v float64) {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			add("%s must be 0 (no limit) or more, not %v", name, v)
		}
	}
	burst := func(name string, rateSet bool, v int64) {
		if rateSet && v < 1 {
			add("%s must be at least 1, not %d", name, v)
		}
	}
	r := cfg.Rate
	rate("rate-requests", r.Requests)
	burst("rate-requests-burst", r.Requests > 0, r.RequestsBurst)
	burst("rate-push-bytes-burst", r.PushBytes > 0, int64(r.PushBytesBurst))
	rate("rate-auth-failures", r.AuthFailures)
	burst("rate-auth-failures-burst", r.AuthFailures > 0, r.AuthFailuresBurst)
	if r.Replicas < 1 {
		add("rate-replicas must be at least 1, not %d", r.Replicas)
	}
	for _, name := range sortedKeys(cfg.File.RateLimits.Organizations) {
		where := fmt.Sprintf("rate_limits.organizations[%q]", name)
		if name == "" {
			add("rate_limits.organizations: an organization name is empty")
		}
		lim := cfg.orgLimits(cfg.File.RateLimits.Organizations[name])
		rate(where+".requests", lim.Requests)
		burst(where+".requests_burst", lim.Requests > 0, lim.RequestsBurst)
		burst(where+".push_bytes_burst", lim.PushBytes > 0, lim.PushBytesBurst)
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// defaultLimits are the limits of the flags, before the division by
// replicas.
func (cfg *Config) defaultLimits() taxii.Limits {
	r := cfg.Rate
	return taxii.Limits{
		Requests: r.Requests, RequestsBurst: r.RequestsBurst,
		PushBytes: float64(r.PushBytes), PushBytesBurst: int64(r.PushBytesBurst),
	}
}

// orgLimits are the limits of an organization's override, before the
// division by replicas.
func (cfg *Config) orgLimits(o OrgRateLimits) taxii.Limits {
	lim := cfg.defaultLimits()
	if o.Requests != nil {
		lim.Requests = *o.Requests
	}
	if o.RequestsBurst != nil {
		lim.RequestsBurst = *o.RequestsBurst
	}
	if o.PushBytes != nil {
		lim.PushBytes = float64(*o.PushBytes)
	}
	if o.PushBytesBurst != nil {
		lim.PushBytesBurst = int64(*o.PushBytesBurst)
	}
	return lim
}

// perReplica divides the rates of lim among the replicas. Bursts stay:
// one request, or one push, reaches one replica whole.
func (cfg *Config) perReplica(lim taxii.Limits) taxii.Limits {
	n := float64(max(cfg.Rate.Replicas, 1))
	lim.Requests /= n
	lim.PushBytes /= n
	return lim
}

// rateLimitConfig is the configuration of the server's rate limiter; ok
// is false when every limit is off.
func (cfg *Config) rateLimitConfig(orgs taxii.OrganizationSource, logger *slog.Logger) (rc taxii.RateLimitConfig, ok bool) {
	rc = taxii.RateLimitConfig{
		Default:           cfg.perReplica(cfg.defaultLimits()),
		FailedChecks:      cfg.Rate.AuthFailures / float64(max(cfg.Rate.Replicas, 1)),
		FailedChecksBurst: cfg.Rate.AuthFailuresBurst,
		Orgs:              orgs,
		Logger:            logger,
	}
	on := rc.Default.Requests > 0 || rc.Default.PushBytes > 0 || rc.FailedChecks > 0
	if len(cfg.File.RateLimits.Organizations) > 0 {
		rc.Organizations = make(map[string]taxii.Limits)
		for name, o := range cfg.File.RateLimits.Organizations {
			lim := cfg.perReplica(cfg.orgLimits(o))
			rc.Organizations[name] = lim
			on = on || lim.Requests > 0 || lim.PushBytes > 0
		}
	}
	return rc, on
}

// newRateLimiter returns the server's rate limiter, nil when every limit
// is off.
func newRateLimiter(cfg Config, orgs taxii.OrganizationSource, logger *slog.Logger) (*taxii.RateLimiter, error) {
	rc, on := cfg.rateLimitConfig(orgs, logger)
	if !on {
		logger.Info("rate limits off")
		return nil, nil
	}
	logger.Info("rate limits", "requests_per_s", rc.Default.Requests, "requests_burst", rc.Default.RequestsBurst,
		"push_bytes_per_s", int64(rc.Default.PushBytes), "push_bytes_burst", rc.Default.PushBytesBurst,
		"auth_failures_per_s", rc.FailedChecks, "auth_failures_burst", rc.FailedChecksBurst,
		"replicas", cfg.Rate.Replicas, "organization_overrides", len(rc.Organizations))
	return taxii.NewRateLimiter(rc)
}

// UnmarshalYAML reads a size in the configuration file: a number of bytes
// or a string with a unit, as the flags take it ("50MiB").
func (b *byteSize) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	return b.Set(s)
}
