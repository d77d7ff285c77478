package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// The deployment files live at the root of the repository.
const repoRoot = "../.."

// TestEnvironment: the variables serve reads are one per flag and those
// read beside the flags.
func TestEnvironment(t *testing.T) {
	got := environment()
	for _, want := range []string{"TAXIID_LISTEN", "TAXIID_DATA", "TAXIID_AUDIT_RETENTION", "TAXIID_METRICS_TOKEN",
		"TAXIID_METRICS_LISTEN", "TAXIID_ADMIN_PASSWORD", "TAXIID_MONGO_URI", "TAXIID_MONGO_DATABASE", "TAXIID_INSECURE_HTTP"} {
		if !slices.Contains(got, want) {
			t.Errorf("environment() = %v; lacks %s", got, want)
		}
	}
	for _, name := range got {
		if !strings.HasPrefix(name, "TAXIID_") {
			t.Errorf("environment() has %q, not a TAXIID_ variable", name)
		}
	}
}

// composeFile is what the tests read of docker-compose.yml.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Expose      []string          `yaml:"expose"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f
}

// taxiidServices returns the names of the services that run taxiid: those
// built from this repository.
func (f composeFile) taxiidServices() []string {
	var names []string
	for name, s := range f.Services {
		if s.Build != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// TestComposeEnvironment: every TAXIID_ variable given to a taxiid
// service is one taxiid reads, so that a misspelt or retired setting does
// not silently do nothing.
func TestComposeEnvironment(t *testing.T) {
	f := readCompose(t)
	services := f.taxiidServices()
	if diff := cmp.Diff([]string{"taxiid1", "taxiid2"}, services); diff != "" {
		t.Fatalf("taxiid services (-want +got):\n%s", diff)
	}
	known := environment()
	for _, name := range services {
		env := f.Services[name].Environment
		if len(env) == 0 {
			t.Errorf("%s: no environment", name)
		}
		for k := range env {
			if strings.HasPrefix(k, "TAXIID_") && !slices.Contains(known, k) {
				t.Errorf("%s: %s is not a variable taxiid reads (known: %s)", name, k, strings.Join(known, " "))
			}
		}
		if got, want := env["TAXIID_MONGO_URI"], "mongodb://mongo1,mongo2,mongo3/?replicaSet=rs0"; got != want {
			t.Errorf("%s: TAXIID_MONGO_URI = %q; want %q", name, got, want)
		}
		if env["TAXIID_MONGO_DATABASE"] == "" {
			t.Errorf("%s: no TAXIID_MONGO_DATABASE", name)
		}
	}
}

// TestComposeMongoDB: the store URI names the members of a replica set the
// compose file runs and its init script initiates.
func TestComposeMongoDB(t *testing.T) {
	f := readCompose(t)
	u, err := url.Parse(f.Services["taxiid1"].Environment["TAXIID_MONGO_URI"])
	if err != nil {
		t.Fatal(err)
	}
	set := u.Query().Get("replicaSet")
	hosts := strings.Split(u.Host, ",")
	if len(hosts) != 3 {
		t.Fatalf("the store URI names %d members; want 3", len(hosts))
	}
	script, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "mongo-init.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		s, ok := f.Services[h]
		if !ok {
			t.Errorf("member %s of the store URI is not a service", h)
			continue
		}
		if !strings.HasPrefix(s.Image, "mongo:7") {
			t.Errorf("%s: image %q; want mongo:7", h, s.Image)
		}
		if !slices.Equal(s.Command, []string{"mongod", "--replSet", set, "--bind_ip_all"}) {
			t.Errorf("%s: command %q does not run a member of replica set %q", h, s.Command, set)
		}
		if !strings.Contains(string(script), `"`+h+`:27017"`) {
			t.Errorf("deploy/mongo-init.js does not initiate member %s", h)
		}
	}
	if !strings.Contains(string(script), `_id: "`+set+`"`) {
		t.Errorf("deploy/mongo-init.js does not initiate replica set %q", set)
	}
	init := f.Services["mongo-init"]
	if !slices.Contains(init.Command, "/deploy/mongo-init.js") || !slices.Contains(init.Volumes, "./deploy/mongo-init.js:/deploy/mongo-init.js:ro") {
		t.Errorf("mongo-init does not run deploy/mongo-init.js: command %q, volumes %q", init.Command, init.Volumes)
	}
}

// TestComposePorts: each taxiid service listens on all its interfaces, on
// ports it exposes; the proxy publishes the port it listens on and sends
// requests to each replica's listen address.
func TestComposePorts(t *testing.T) {
	f := readCompose(t)
	var upstreams []string
	for _, name := range f.taxiidServices() {
		s := f.Services[name]
		for _, v := range []string{"TAXIID_LISTEN", "TAXIID_METRICS_LISTEN"} {
			addr := s.Environment[v]
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Errorf("%s: %s=%q: %v", name, v, addr, err)
				continue
			}
			if host != "0.0.0.0" && host != "" {
				t.Errorf("%s: %s=%q: other containers cannot reach it; listen on 0.0.0.0", name, v, addr)
			}
			if !slices.Contains(s.Expose, port) {
				t.Errorf("%s: %s port %s is not exposed (expose: %q)", name, v, port, s.Expose)
			}
			if v == "TAXIID_LISTEN" {
				upstreams = append(upstreams, net.JoinHostPort(name, port))
			}
		}
		if len(s.Ports) > 0 {
			t.Errorf("%s publishes ports %q: only the proxy should be reachable from outside", name, s.Ports)
		}
	}

	proxy, ok := f.Services["proxy"]
	if !ok {
		t.Fatal("no proxy service")
	}
	const confMount = "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"
	if !slices.Contains(proxy.Volumes, confMount) {
		t.Errorf("proxy volumes %q lack %s", proxy.Volumes, confMount)
	}
	conf, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	c := parseNginx(string(conf))
	if diff := cmp.Diff(upstreams, c.upstreams[c.proxyPass]); diff != "" {
		t.Errorf("servers of upstream %q, which proxy_pass names (-taxiid services' listen addresses +nginx.conf):\n%s", c.proxyPass, diff)
	}
	if len(proxy.Ports) != 1 {
		t.Fatalf("proxy ports %q; want one", proxy.Ports)
	}
	published := proxy.Ports[0]
	if container := published[strings.LastIndex(published, ":")+1:]; container != c.listen {
		t.Errorf("proxy publishes container port %s; nginx listens on %s", container, c.listen)
	}
}

// nginxConf is what the tests read of deploy/nginx.conf.
type nginxConf struct {
	upstreams map[string][]string // upstream name -> its servers
	proxyPass string              // the upstream proxy_pass names
	listen    string
}

var (
	nginxUpstream  = regexp.MustCompile(`(?s)upstream\s+(\w+)\s*\{(.*?)\}`)
	nginxServer    = regexp.MustCompile(`(?m)^\s*server\s+([^\s;]+)`)
	nginxProxyPass = regexp.MustCompile(`proxy_pass\s+http://(\w+)\s*;`)
	nginxListen    = regexp.MustCompile(`(?m)^\s*listen\s+(\d+)\s*;`)
	nginxComment   = regexp.MustCompile(`(?m)#.*$`)
)

func parseNginx(conf string) nginxConf {
	conf = nginxComment.ReplaceAllString(conf, "")
	c := nginxConf{upstreams: map[string][]string{}}
	for _, m := range nginxUpstream.FindAllStringSubmatch(conf, -1) {
		for _, s := range nginxServer.FindAllStringSubmatch(m[2], -1) {
			c.upstreams[m[1]] = append(c.upstreams[m[1]], s[1])
		}
	}
	if m := nginxProxyPass.FindStringSubmatch(conf); m != nil {
		c.proxyPass = m[1]
	}
	if m := nginxListen.FindStringSubmatch(conf); m != nil {
		c.listen = m[1]
	}
	return c
}

// dockerfile is the instructions of the Dockerfile, continuation lines
// joined, comments left out.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		if s := strings.TrimSpace(cur + line); s != "" {
			out = append(out, s)
		}
		cur = ""
	}
	return out
}

// instruction returns the arguments of the last instruction named; "" if
// there is none.
func instruction(lines []string, name string) string {
	arg := ""
	for _, l := range lines {
		if n, rest, _ := strings.Cut(l, " "); strings.EqualFold(n, name) {
			arg = strings.TrimSpace(rest)
		}
	}
	return arg
}

// dockerBuildCommand is the go build command the Dockerfile runs.
func dockerBuildCommand(t *testing.T) string {
	t.Helper()
	for _, l := range dockerfile(t) {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			return strings.TrimPrefix(l, "RUN ")
		}
	}
	t.Fatal("the Dockerfile runs no go build")
	return ""
}

// TestDockerfile: what the image promises, checked against what taxiid
// does: a static build CI runs too, a health check without a shell, the
// port it listens on exposed, its store on the volume, a user without
// privileges, labels naming version and source.
func TestDockerfile(t *testing.T) {
	lines := dockerfile(t)
	build := dockerBuildCommand(t)
	for _, want := range []string{"CGO_ENABLED=0 ", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "-X main.buildDate=${BUILD_DATE}", "./cmd/taxiid"} {
		if !strings.Contains(build, want) {
			t.Errorf("build command %q lacks %q", build, want)
		}
	}
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(ci), "\n"), build) {
		t.Errorf(".ci/run does not run the Dockerfile's build command:\n%s", build)
	}
	if !strings.Contains(string(ci), "\ngo test ./...\n") {
		t.Error(".ci/run does not run go test ./...")
	}

	var health []string
	hc := instruction(lines, "HEALTHCHECK")
	_, exec, _ := strings.Cut(hc, "CMD ")
	if err := json.Unmarshal([]byte(exec), &health); err != nil || !slices.Equal(health, []string{"/taxiid", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %q; want the exec form CMD [\"/taxiid\", \"healthcheck\"] (no shell in the image)", hc)
	}

	env := map[string]string{}
	for _, kv := range strings.Fields(instruction(lines, "ENV")) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		if !slices.Contains(environment(), k) {
			t.Errorf("ENV %s is not a variable taxiid reads", k)
		}
	}
	_, port, err := net.SplitHostPort(env["TAXIID_LISTEN"])
	if err != nil {
		t.Errorf("ENV TAXIID_LISTEN=%q: %v", env["TAXIID_LISTEN"], err)
	}
	if got := instruction(lines, "EXPOSE"); got != port {
		t.Errorf("EXPOSE %s; taxiid listens on port %s", got, port)
	}
	if got := instruction(lines, "VOLUME"); got != env["TAXIID_DATA"] || got == "" {
		t.Errorf("VOLUME %q; the store is in TAXIID_DATA=%q", got, env["TAXIID_DATA"])
	}
	if got := instruction(lines, "USER"); got == "" || strings.HasPrefix(got, "0") || strings.HasPrefix(got, "root") {
		t.Errorf("USER %q; want a user without privileges", got)
	}
	if !strings.Contains(instruction(lines, "FROM"), "distroless/static") {
		t.Errorf("runtime image %q; want a minimal static one", instruction(lines, "FROM"))
	}
	labels := instruction(lines, "LABEL")
	for _, want := range []string{`org.opencontainers.image.version="${VERSION}"`, `org.opencontainers.image.source="${SOURCE}"`} {
		if !strings.Contains(labels, want) {
			t.Errorf("LABEL %q lacks %s", labels, want)
		}
	}
}

// What the tests' binary is stamped with, through the Dockerfile's linker
// flags (see TestMain).
var imageBuildArgs = map[string]string{"VERSION": "v1.2.3", "COMMIT": "0123456789abcdef", "BUILD_DATE": "2026-02-03T04:05:06Z"}

// imageLinkerFlags returns the -ldflags of the Dockerfile's go build, the
// build arguments replaced by imageBuildArgs as docker build replaces them.
func imageLinkerFlags() (string, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`RUN .*go build .*-ldflags="([^"]*)"`).FindStringSubmatch(string(b))
	if m == nil {
		return "", errors.New("the Dockerfile's go build has no -ldflags")
	}
	return os.Expand(m[1], func(name string) string { return imageBuildArgs[name] }), nil
}

// TestImageBuildStampsVersion: the tests' binary is linked with the
// Dockerfile's linker flags (TestMain); `taxiid version` must report what
// they set.
func TestImageBuildStampsVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	got := map[string]string{"": lines[0]}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		got[k] = strings.TrimSpace(v)
	}
	if want := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH; got["go"] != want {
		t.Errorf("go: %q; want %q", got["go"], want)
	}
	delete(got, "go")
	delete(got, "commit time") // from the toolchain when built in a checkout
	want := map[string]string{"": "taxiid " + imageBuildArgs["VERSION"], "commit": imageBuildArgs["COMMIT"], "built": imageBuildArgs["BUILD_DATE"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("taxiid version (-want +got):\n%s\n%s", diff, out)
	}
}
