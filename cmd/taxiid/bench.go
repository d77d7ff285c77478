package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchUsage is the help of `taxiid bench`.
const benchUsage = `usage: taxiid bench [flags] (--push | --push-file FILE) | --pull | --poll ...

Drives a running taxiid server over HTTP(S) and reports, for each phase,
throughput (requests, pages and objects per second), latency (p50, p90,
p99, max), errors by status code, and the server's memory when its process
id is given. Phases run one after the other: push, then pull at each limit,
then poll. --yardstick runs each phase again against a bare Go HTTP server
started in this process, serving a fixed answer of the size the phase saw
(its median), so that the figures stand beside the limit of the HTTP stack
on the same machine. Ctrl-C stops the run and prints what was measured.
The exit status is 1 when a request failed.

`

// benchConfig is one run of `taxiid bench`.
type benchConfig struct {
	URL, APIRoot, Collection string
	User, Password, Token    string
	CAFile                   string
	InsecureSkipVerify       bool
	Timeout                  time.Duration

	Push         bool
	PushFile     string
	PushObjects  int
	Envelope     int
	PushClients  int
	PushDuration time.Duration
	PushIDs      string

	Pull         bool
	Limits       []int
	PullClients  int
	PullPages    int
	PullDuration time.Duration

	Poll         bool
	Pollers      int
	PollInterval time.Duration
	PollFrom     string
	PollRequests int
	PollDuration time.Duration

	Yardstick bool
	JSON      bool
	ServerPID int
}

// Defaults of taxiid bench.
const (
	defaultBenchURL        = "http://127.0.0.1:8080"
	defaultBenchAPIRoot    = "api1"
	defaultBenchCollection = "default"
	defaultPushObjects     = 10_000
	defaultPollDuration    = 10 * time.Second
)

// benchFlags parses the flags of taxiid bench, each with an environment
// fallback TAXIID_<NAME> for the connection and credentials.
func benchFlags(args []string, getenv func(string) string, stderr io.Writer) (benchConfig, error) {
	env := func(name, def string) string {
		if v := getenv("TAXIID_" + name); v != "" {
			return v
		}
		return def
	}
	c := benchConfig{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.URL, "url", env("URL", defaultBenchURL), "base `URL` of the server (env TAXIID_URL)")
	fs.StringVar(&c.APIRoot, "api-root", env("API_ROOT", defaultBenchAPIRoot), "API root `path` (env TAXIID_API_ROOT)")
	fs.StringVar(&c.Collection, "collection", env("COLLECTION", defaultBenchCollection), "collection `id or alias` (env TAXIID_COLLECTION)")
	fs.StringVar(&c.User, "user", env("USER", ""), "user `name` for HTTP Basic (env TAXIID_USER)")
	fs.StringVar(&c.Password, "password", env("PASSWORD", ""), "`password` for HTTP Basic (env TAXIID_PASSWORD, which keeps it out of the process list)")
	fs.StringVar(&c.Token, "token", env("TOKEN", ""), "API `token`, sent as a bearer token (env TAXIID_TOKEN)")
	fs.StringVar(&c.CAFile, "ca-file", env("CA_FILE", ""), "PEM `file` of the CA certificates the server's certificate must chain to, instead of the system's (env TAXIID_CA_FILE)")
	fs.BoolVar(&c.InsecureSkipVerify, "insecure-skip-verify", false, "accept any server certificate (tests only)")
	fs.DurationVar(&c.Timeout, "timeout", time.Minute, "bound of each request, and of each push's wait for its status to complete")

	fs.BoolVar(&c.Push, "push", false, "push phase: synthetic indicators, or --push-file")
	fs.StringVar(&c.PushFile, "push-file", "", "STIX bundle or TAXII envelope `file` whose objects are pushed (implies --push)")
	fs.IntVar(&c.PushObjects, "push-objects", 0, "objects to push: synthetic ones (default 10000, unbounded with --push-duration), or the first ones of --push-file (default all)")
	fs.IntVar(&c.Envelope, "envelope", 1000, "objects per pushed envelope")
	fs.IntVar(&c.PushClients, "push-clients", 2, "clients pushing at once")
	fs.DurationVar(&c.PushDuration, "push-duration", 0, "stop pushing after this `duration`")
	fs.StringVar(&c.PushIDs, "push-ids", "", "write the ids the server reports stored to this `file`, one a line")

	limits := "100"
	fs.BoolVar(&c.Pull, "pull", false, "pull phase: clients walk the collection, following next")
	fs.StringVar(&limits, "limit", limits, "page limits of the pull phase, comma-separated: one phase each")
	fs.IntVar(&c.PullClients, "pull-clients", 4, "clients pulling at once")
	fs.IntVar(&c.PullPages, "pull-pages", 0, "pages each client reads, walking again from the start at the end of the collection (default: each walks the collection once)")
	fs.DurationVar(&c.PullDuration, "pull-duration", 0, "stop pulling after this `duration` (clients walk again from the start at the end)")

	fs.BoolVar(&c.Poll, "poll", false, "poll phase: pollers ask for objects added after the last date_added they saw (X-TAXII-Date-Added-Last)")
	fs.IntVar(&c.Pollers, "pollers", 100, "pollers at once, each like one partner")
	fs.DurationVar(&c.PollInterval, "poll-interval", 0, "pause of each poller after an answer without more (0: none)")
	fs.StringVar(&c.PollFrom, "poll-from", "now", "where pollers begin: now (new objects only), start (the whole collection first) or a timestamp")
	fs.IntVar(&c.PollRequests, "poll-requests", 0, "requests of each poller")
	fs.DurationVar(&c.PollDuration, "poll-duration", 0, "stop polling after this `duration` (default 10s without --poll-requests)")

	fs.BoolVar(&c.Yardstick, "yardstick", false, "run each phase again against a bare Go HTTP server serving a fixed answer of the phase's median size")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "`pid` of the server process, on this machine: report its resident memory per phase (from /proc)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("bench: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, l := range strings.Split(limits, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || n < 1 {
			add("limit: %q is not a positive integer", l)
			continue
		}
		c.Limits = append(c.Limits, n)
	}
	if c.PushFile != "" {
		c.Push = true
	}
	if !c.Push && !c.Pull && !c.Poll {
		add("choose at least one phase: --push (or --push-file), --pull, --poll")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url %q is not an http:// or https:// URL", c.URL)
	}
	if c.APIRoot == "" || strings.Contains(c.APIRoot, "/") || c.Collection == "" || strings.Contains(c.Collection, "/") {
		add("api-root and collection must be single path segments")
	}
	if c.Token != "" && (c.User != "" || c.Password != "") {
		add("give --token or --user and --password, not both")
	}
	if (c.User == "") != (c.Password == "") {
		add("--user and --password go together")
	}
	if c.Timeout <= 0 {
		add("timeout must be positive")
	}
	type bound struct {
		name string
		v    int64
		min  int64
	}
	for _, b := range []bound{
		{"envelope", int64(c.Envelope), 1}, {"push-clients", int64(c.PushClients), 1},
		{"pull-clients", int64(c.PullClients), 1}, {"pollers", int64(c.Pollers), 1},
		{"push-objects", int64(c.PushObjects), 0}, {"pull-pages", int64(c.PullPages), 0},
		{"poll-requests", int64(c.PollRequests), 0}, {"server-pid", int64(c.ServerPID), 0},
		{"push-duration", int64(c.PushDuration), 0}, {"pull-duration", int64(c.PullDuration), 0},
		{"poll-duration", int64(c.PollDuration), 0}, {"poll-interval", int64(c.PollInterval), 0},
	} {
		if b.v < b.min {
			if b.min == 0 {
				add("%s must not be negative", b.name)
			} else {
				add("%s must be at least %d", b.name, b.min)
			}
		}
	}
	if c.PollFrom != "now" && c.PollFrom != "start" {
		if _, err := time.Parse(time.RFC3339Nano, c.PollFrom); err != nil {
			add("poll-from must be now, start or an RFC 3339 timestamp, not %q", c.PollFrom)
		}
	}
	if c.PushFile != "" {
		if _, err := os.Stat(c.PushFile); err != nil {
			add("push-file: %v", err)
		}
	}
	if c.PushFile == "" && c.PushObjects == 0 && c.PushDuration == 0 {
		c.PushObjects = defaultPushObjects
	}
	if c.PollRequests == 0 && c.PollDuration == 0 {
		c.PollDuration = defaultPollDuration
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("bench: invalid flags:\n  - %s", strings.Join(problems, "\n  - "))
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c, nil
}

// authorization is the Authorization header of the configured
// credentials, empty for anonymous requests.
func (c benchConfig) authorization() string {
	switch {
	case c.Token != "":
		return "Bearer " + c.Token
	case c.User != "":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.User+":"+c.Password))
	}
	return ""
}

// tlsConfig is the client TLS configuration of the run.
func (c benchConfig) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bench: ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("bench: ca-file %s holds no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// errBenchFailed makes bench exit with status 1 once the report is out.
var errBenchFailed = errors.New("bench: requests failed or the push file could not be read (see the report)")

// bench is `taxiid bench`: it runs the phases the flags choose against a
// running server, then prints the report, also when ctx is cancelled
// (Ctrl-C) midway.
func bench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := benchFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	clientTLS, err := cfg.tlsConfig()
	if err != nil {
		return err
	}
	server := &benchTarget{
		name:     "server",
		base:     cfg.URL,
		rootPath: "/" + url.PathEscape(cfg.APIRoot) + "/",
		collPath: "/" + url.PathEscape(cfg.APIRoot) + "/collections/" + url.PathEscape(cfg.Collection) + "/",
		auth:     cfg.authorization(),
		tls:      clientTLS,
		timeout:  cfg.Timeout,
	}
	var yard *yardstick
	if cfg.Yardstick {
		if yard, err = startYardstick(strings.HasPrefix(cfg.URL, "https:")); err != nil {
			return err
		}
		defer yard.close()
	}
	r := &benchRun{cfg: cfg, server: server, yard: yard, progress: stderr}
	if cfg.ServerPID > 0 {
		if _, err := procStatusKiB(cfg.ServerPID, "VmRSS"); err != nil {
			return fmt.Errorf("bench: server-pid: %w", err)
		}
	}
	rep := r.run(ctx)
	if cfg.JSON {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		return err
	}
	if rep.failed() {
		return errBenchFailed
	}
	return nil
}

// benchRun runs the phases of one taxiid bench.
type benchRun struct {
	cfg      benchConfig
	server   *benchTarget
	yard     *yardstick
	progress io.Writer
}

// run runs every phase chosen, each followed by its yardstick twin, and
// returns the report of what ran; when ctx ends, the phase running stops
// and the report ends with it.
func (r *benchRun) run(ctx context.Context) *benchReport {
	rep := &benchReport{
		URL: r.cfg.URL, APIRoot: r.cfg.APIRoot, Collection: r.cfg.Collection,
		CPUs: runtime.NumCPU(), LoadStart: loadAverage(), Started: time.Now().UTC(),
	}
	start := time.Now()
	defer func() {
		rep.LoadEnd = loadAverage()
		rep.Duration = seconds(time.Since(start))
		rep.Interrupted = ctx.Err() != nil
	}()
	var phases []func(context.Context, *benchTarget, *phaseResult) *phaseResult
	if r.cfg.Push {
		phases = append(phases, r.push)
	}
	if r.cfg.Pull {
		for _, limit := range r.cfg.Limits {
			phases = append(phases, func(ctx context.Context, t *benchTarget, model *phaseResult) *phaseResult {
				return r.pull(ctx, t, limit, model)
			})
		}
	}
	if r.cfg.Poll {
		phases = append(phases, r.poll)
	}
	for _, phase := range phases {
		if ctx.Err() != nil {
			break
		}
		res := r.measured(ctx, r.server, phase)
		rep.Phases = append(rep.Phases, res)
		if r.yard == nil || ctx.Err() != nil || res.sample == nil {
			continue
		}
		r.yard.serve(res.yardstickAnswer())
		y := r.measured(ctx, r.yard.target(r.server), func(ctx context.Context, t *benchTarget, _ *phaseResult) *phaseResult {
			return phase(ctx, t, res)
		})
		y.MedianBytes = res.MedianBytes // what the yardstick served
		rep.Phases = append(rep.Phases, y)
	}
	return rep
}

// measured runs one phase and adds what is measured around it: the
// server's memory (when its process id is known) and the load average.
func (r *benchRun) measured(ctx context.Context, t *benchTarget, phase func(context.Context, *benchTarget, *phaseResult) *phaseResult) *phaseResult {
	pid := 0
	if t == r.server {
		pid = r.cfg.ServerPID
	}
	var serverCPU time.Duration
	if pid > 0 {
		resetPeakRSS(pid)
		serverCPU, _ = procCPU(pid)
	}
	benchCPU := selfCPU()
	res := phase(ctx, t, nil)
	res.BenchCPU = seconds(selfCPU() - benchCPU)
	if pid > 0 {
		if kib, err := procStatusKiB(pid, "VmRSS"); err == nil {
			res.ServerRSSMiB = mib(kib)
		}
		if kib, err := procStatusKiB(pid, "VmHWM"); err == nil {
			res.ServerPeakRSSMiB = mib(kib)
		}
		if cpu, err := procCPU(pid); err == nil {
			res.ServerCPU = seconds(cpu - serverCPU)
		}
	}
	if la := loadAverage(); len(la) > 0 {
		res.LoadAverage = la[0]
	}
	res.Interrupted = ctx.Err() != nil
	fmt.Fprintf(r.progress, "bench: %s on the %s: %d requests in %.1fs\n", res.Name, res.Target, res.Requests, res.Duration)
	return res
}

func mib(kib int) float64 { return float64(kib) / 1024 }

// procStatusKiB reads a field of /proc/PID/status in KiB (VmRSS: resident
// memory now; VmHWM: its peak since the process started or since
// resetPeakRSS).
func procStatusKiB(pid int, field string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procCPU is the CPU time process pid has used, user and system, all its
// threads (proc_pid_stat(5): utime and stime, in clock ticks of 1/100 s,
// the USER_HZ of Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last parenthesis, the state being the first after it.
	i := strings.LastIndexByte(string(b), ')')
	var f []string
	if i >= 0 {
		f = strings.Fields(string(b[i+1:]))
	}
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * (time.Second / 100), nil
}

// selfCPU is the CPU time the bench process has used: its clients, and
// the yardstick.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS sets the process's peak resident memory (VmHWM) to its
// current one, so that each phase reports its own peak (Linux
// proc_pid_clear_refs(5): writing 5). Without the right to, the peak stays
// that of the whole life of the process, which the report cannot tell:
// the error is ignored, as /proc/PID/status is still readable.
func resetPeakRSS(pid int) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// loadAverage is the 1, 5 and 15 minute load averages of the machine
// (nil where /proc/loadavg is not).
func loadAverage() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	var la []float64
	for i := 0; i < 3 && i < len(f); i++ {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil
		}
		la = append(la, v)
	}
	return la
}
